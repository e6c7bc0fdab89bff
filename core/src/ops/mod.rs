//! The ops: one file per op, each holding its forward (a `Graph` method) and its backward
//! side by side. This module holds the [`Op`] record kept on the tape and the dispatch of
//! backward by op.

use crate::error::Result;
use crate::graph::{BackCtx, Ref, ValuePool};
use crate::nn::Activation;
use crate::tensor::Tensor;
use poolgrad_kernels::Accum;

pub(crate) mod broadcast;

mod add;
mod bias_act;
mod binary;
mod exp;
mod log;
mod matmul;
mod mean;
mod mse_loss;
mod mul;
mod relu;
mod sigmoid;
mod softmax_cross_entropy;
mod sub;
mod sum;
mod tanh;
mod transpose;
mod unary;

/// What a tape node computed: its inputs and whatever its backward needs beyond the
/// inputs' and output's values.
#[derive(Debug)]
pub(crate) enum Op {
    /// A constant (no inputs, no gradient).
    Leaf,
    Matmul(Ref, Ref),
    Add(Ref, Ref),
    /// `act(y + b)`: the input, the bias and the activation.
    BiasAct(Ref, Ref, Activation),
    Sub(Ref, Ref),
    Mul(Ref, Ref),
    Relu(Ref),
    Tanh(Ref),
    Sigmoid(Ref),
    Exp(Ref),
    Log(Ref),
    Sum(Ref),
    Mean(Ref),
    Transpose(Ref),
    MseLoss(Ref, Ref),
    /// Labels are `labels[start..start + batch]` of the graph's label arena; `probs` is the
    /// row-wise softmax saved for backward.
    SoftmaxCrossEntropy {
        logits: Ref,
        start: u32,
        probs: Vec<f32>,
    },
}

impl Op {
    /// The op's public name (as in error messages).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Leaf => "constant",
            Op::Matmul(..) => "matmul",
            Op::Add(..) => "add",
            Op::BiasAct(..) => "bias_act",
            Op::Sub(..) => "sub",
            Op::Mul(..) => "mul",
            Op::Relu(_) => "relu",
            Op::Tanh(_) => "tanh",
            Op::Sigmoid(_) => "sigmoid",
            Op::Exp(_) => "exp",
            Op::Log(_) => "log",
            Op::Sum(_) => "sum",
            Op::Mean(_) => "mean",
            Op::Transpose(_) => "transpose",
            Op::MseLoss(..) => "mse_loss",
            Op::SoftmaxCrossEntropy { .. } => "softmax_cross_entropy",
        }
    }

    /// Name used when the anomaly check trips on the gradient flowing into this op.
    pub(crate) fn backward_name(&self) -> &'static str {
        match self {
            Op::Leaf => "constant backward",
            Op::Matmul(..) => "matmul backward",
            Op::Add(..) => "add backward",
            Op::BiasAct(..) => "bias_act backward",
            Op::Sub(..) => "sub backward",
            Op::Mul(..) => "mul backward",
            Op::Relu(_) => "relu backward",
            Op::Tanh(_) => "tanh backward",
            Op::Sigmoid(_) => "sigmoid backward",
            Op::Exp(_) => "exp backward",
            Op::Log(_) => "log backward",
            Op::Sum(_) => "sum backward",
            Op::Mean(_) => "mean backward",
            Op::Transpose(_) => "transpose backward",
            Op::MseLoss(..) => "mse_loss backward",
            Op::SoftmaxCrossEntropy { .. } => "softmax_cross_entropy backward",
        }
    }

    /// The op's inputs (at most two).
    pub(crate) fn inputs(&self) -> [Option<Ref>; 2] {
        match *self {
            Op::Leaf => [None, None],
            Op::Matmul(a, b)
            | Op::Add(a, b)
            | Op::BiasAct(a, b, _)
            | Op::Sub(a, b)
            | Op::Mul(a, b)
            | Op::MseLoss(a, b) => [Some(a), Some(b)],
            Op::Relu(a)
            | Op::Tanh(a)
            | Op::Sigmoid(a)
            | Op::Exp(a)
            | Op::Log(a)
            | Op::Sum(a)
            | Op::Mean(a)
            | Op::Transpose(a) => [Some(a), None],
            Op::SoftmaxCrossEntropy { logits, .. } => [Some(logits), None],
        }
    }

    /// Bytes saved for backward beyond the node's value.
    pub(crate) fn saved_bytes(&self) -> usize {
        match self {
            Op::SoftmaxCrossEntropy { probs, .. } => probs.len() * 4,
            _ => 0,
        }
    }

    /// Returns saved buffers to the value pool.
    pub(crate) fn recycle(self, pool: &mut ValuePool) {
        if let Op::SoftmaxCrossEntropy { probs, .. } = self {
            pool.put(probs);
        }
    }
}

/// Writes `vals` into `g` element by element: `=` for [`Accum::Replace`] (first write of
/// a gradient), `+=` for [`Accum::Add`]. The branch is outside the loop so each body
/// vectorises.
#[inline(always)]
pub(crate) fn write(g: &mut [f32], accum: Accum, vals: impl Iterator<Item = f32>) {
    match accum {
        Accum::Replace => g.iter_mut().zip(vals).for_each(|(g, v)| *g = v),
        Accum::Add => g.iter_mut().zip(vals).for_each(|(g, v)| *g += v),
    }
}

/// Runs the backward of one node: adds its contribution to every input's gradient.
pub(crate) fn backward(op: &Op, out: &Tensor, gout: &[f32], ctx: &mut BackCtx<'_>) -> Result<()> {
    match *op {
        Op::Leaf => Ok(()),
        Op::Matmul(a, b) => matmul::backward(a, b, gout, ctx),
        Op::Add(a, b) => add::backward(a, b, out, gout, ctx),
        Op::BiasAct(y, b, act) => bias_act::backward(y, b, act, out, gout, ctx),
        Op::Sub(a, b) => sub::backward(a, b, out, gout, ctx),
        Op::Mul(a, b) => mul::backward(a, b, out, gout, ctx),
        Op::Relu(a) => relu::backward(a, out, gout, ctx),
        Op::Tanh(a) => tanh::backward(a, out, gout, ctx),
        Op::Sigmoid(a) => sigmoid::backward(a, out, gout, ctx),
        Op::Exp(a) => exp::backward(a, out, gout, ctx),
        Op::Log(a) => log::backward(a, gout, ctx),
        Op::Sum(a) => sum::backward(a, gout, ctx),
        Op::Mean(a) => mean::backward(a, gout, ctx),
        Op::Transpose(a) => transpose::backward(a, gout, ctx),
        Op::MseLoss(p, t) => mse_loss::backward(p, t, gout, ctx),
        Op::SoftmaxCrossEntropy {
            logits,
            start,
            ref probs,
        } => softmax_cross_entropy::backward(logits, start, probs, gout, ctx),
    }
}
