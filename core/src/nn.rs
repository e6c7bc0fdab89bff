//! Layers built from graph ops: [`Linear`] and [`Mlp`]. They only hold param Vars, so they
//! stay valid across [`Graph::reset`].

use crate::error::{CoreError, Result};
use crate::graph::{Graph, Var};
use crate::tensor::Tensor;

/// `y = x · W + b` with `W: [in, out]`, `b: [out]` broadcast over the batch.
#[derive(Debug, Clone, Copy)]
pub struct Linear {
    /// Weights `[in, out]`.
    pub weight: Var,
    /// Bias `[out]`.
    pub bias: Var,
    /// Input features.
    pub in_features: usize,
    /// Output features.
    pub out_features: usize,
}

impl Linear {
    /// A layer with He-uniform weights (`±sqrt(6/in)`, suited to ReLU) and bias uniform in
    /// `±1/sqrt(in)` (as PyTorch's default), both reproducible from `seed`.
    ///
    /// # Errors
    /// [`CoreError::InvalidArgument`] when a size is 0.
    pub fn new(
        g: &mut Graph,
        in_features: usize,
        out_features: usize,
        seed: u64,
    ) -> Result<Linear> {
        if in_features == 0 || out_features == 0 {
            return Err(CoreError::InvalidArgument {
                op: "Linear::new",
                detail: format!("sizes {in_features}→{out_features} refused; accepted: both >= 1"),
            });
        }
        let w_bound = (6.0 / in_features as f32).sqrt();
        let b_bound = 1.0 / (in_features as f32).sqrt();
        let w = Tensor::uniform(&[in_features, out_features], -w_bound, w_bound, seed)?;
        let b = Tensor::uniform(&[out_features], -b_bound, b_bound, seed ^ 0xB1A5)?;
        Ok(Linear {
            weight: g.param(w),
            bias: g.param(b),
            in_features,
            out_features,
        })
    }

    /// `x · W + b` for `x: [batch, in]`.
    ///
    /// # Errors
    /// Shape errors from matmul when `x` is not `[batch, in]`; Var errors.
    pub fn forward(&self, g: &mut Graph, x: Var) -> Result<Var> {
        self.forward_act(g, x, Activation::Identity)
    }

    /// `act(x · W + b)` for `x: [batch, in]`: the product, then bias and activation fused in
    /// one op ([`Graph::bias_act`]), the same values as `forward` followed by the activation.
    ///
    /// # Errors
    /// As [`Linear::forward`].
    pub fn forward_act(&self, g: &mut Graph, x: Var, act: Activation) -> Result<Var> {
        let y = g.matmul(x, self.weight)?;
        g.bias_act(y, self.bias, act)
    }
}

/// The nonlinearity between [`Mlp`] layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// Logistic sigmoid.
    Sigmoid,
    /// None (a linear stack).
    Identity,
}

impl Activation {
    /// Applies the activation to `x`.
    ///
    /// # Errors
    /// Var errors.
    pub fn apply(self, g: &mut Graph, x: Var) -> Result<Var> {
        match self {
            Activation::Relu => g.relu(x),
            Activation::Tanh => g.tanh(x),
            Activation::Sigmoid => g.sigmoid(x),
            Activation::Identity => Ok(x),
        }
    }
}

/// A multi-layer perceptron: Linear layers with an activation between them (none after
/// the last, which gives logits).
#[derive(Debug, Clone)]
pub struct Mlp {
    /// The layers, input first.
    pub layers: Vec<Linear>,
    /// The activation between layers.
    pub activation: Activation,
}

impl Mlp {
    /// Layers `sizes[0]→sizes[1]→…`; layer `i` is seeded with `seed + i`.
    ///
    /// # Errors
    /// [`CoreError::InvalidArgument`] for fewer than two sizes or a zero size.
    pub fn new(g: &mut Graph, sizes: &[usize], activation: Activation, seed: u64) -> Result<Mlp> {
        if sizes.len() < 2 {
            return Err(CoreError::InvalidArgument {
                op: "Mlp::new",
                detail: format!("sizes {sizes:?} refused; accepted: at least [in, out]"),
            });
        }
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, w)| Linear::new(g, w[0], w[1], seed.wrapping_add(i as u64)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Mlp { layers, activation })
    }

    /// Logits for `x: [batch, sizes[0]]`: per layer a matmul and a [`Graph::bias_act`] node
    /// (the activation fused with the bias; none after the last layer).
    ///
    /// # Errors
    /// Shape errors when `x` does not fit; Var errors.
    pub fn forward(&self, g: &mut Graph, x: Var) -> Result<Var> {
        let mut h = x;
        let last = self.layers.len().saturating_sub(1);
        for (i, layer) in self.layers.iter().enumerate() {
            let act = if i < last {
                self.activation
            } else {
                Activation::Identity
            };
            h = layer.forward_act(g, h, act)?;
        }
        Ok(h)
    }
}
