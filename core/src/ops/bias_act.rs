//! bias_act: `act(y + b)` for `y: [..., n]` and a bias `b: [n]`, the element-wise end of a
//! linear layer, as one pass and one tape node instead of two of each (`add`, then the
//! activation). Backward forms `gout · act'(out)` from the saved output and writes it
//! straight into `y`'s gradient, then sums it over the rows into `b`'s.

use crate::error::{CoreError, Result};
use crate::graph::{BackCtx, Graph, Ref, Var};
use crate::nn::Activation;
use crate::ops::sigmoid::sigmoid;
use crate::ops::{Op, write};
use crate::parallel::for_chunks;
use crate::tensor::Tensor;
use poolgrad_kernels::{Accum, with_wide_vectors};

const ACCEPTED: &str = "y [..., n] (rank >= 1) and a bias [n] of y's last dim";

impl Graph {
    /// `act(y + b)`, the bias `b: [n]` added to every row of `y: [..., n]`: what
    /// `g.add(y, b)` followed by the activation computes, bit for bit, in one pass over `y`
    /// and one node ([`crate::nn::Linear::forward_act`] uses it).
    ///
    /// # Errors
    /// [`CoreError::ShapeMismatch`] unless `b` is `[n]` for `y`'s last dim `n`; Var errors.
    pub fn bias_act(&mut self, y: Var, b: Var, act: Activation) -> Result<Var> {
        let ry = self.resolve("bias_act", y)?;
        let rb = self.resolve("bias_act", b)?;
        let (ys, bs) = (self.val(ry).shape_info(), self.val(rb).shape_info());
        let n = ys.dims().last().copied();
        if bs.dims().len() != 1 || n != Some(bs.numel()) {
            return Err(CoreError::ShapeMismatch {
                op: "bias_act",
                lhs: ys.into(),
                rhs: bs.into(),
                accepted: ACCEPTED,
            });
        }
        let mut out = self.pool.alloc(ys.numel());
        let (yd, bd) = (self.val(ry).data(), self.val(rb).data());
        match act {
            Activation::Relu => add_rows(&mut out, yd, bd, |x| x.max(0.0)),
            Activation::Tanh => add_rows(&mut out, yd, bd, f32::tanh),
            Activation::Sigmoid => add_rows(&mut out, yd, bd, sigmoid),
            Activation::Identity => add_rows(&mut out, yd, bd, |x| x),
        }
        self.push(Op::BiasAct(ry, rb, act), out, ys)
    }
}

/// `out = f(y + b)` with `b` repeated along every row (`b.len()` columns), split across
/// threads by [`for_chunks`] (whose chunks need not start at a row).
#[inline(always)]
fn add_rows(out: &mut [f32], y: &[f32], b: &[f32], f: impl Fn(f32) -> f32 + Sync + Send) {
    let n = b.len();
    if out.is_empty() {
        return;
    }
    for_chunks(
        out,
        #[inline(always)]
        |off, out| {
            let (mut j, mut done) = (off % n, 0);
            while done < out.len() {
                let len = (n - j).min(out.len() - done);
                let (o, x) = (&mut out[done..done + len], &y[off + done..off + done + len]);
                for ((o, &x), &b) in o.iter_mut().zip(x).zip(&b[j..j + len]) {
                    *o = f(x + b);
                }
                done += len;
                j = 0;
            }
        },
    );
}

/// `dy += gout · act'(out)`, `db += Σ_rows gout · act'(out)`, the derivative read from the
/// saved output (ReLU: `out > 0`, tanh: `1 - out²`, sigmoid: `out (1 - out)`), each
/// computed as the activation's own backward computes it.
pub(crate) fn backward(
    y: Ref,
    b: Ref,
    act: Activation,
    out: &Tensor,
    gout: &[f32],
    ctx: &mut BackCtx<'_>,
) -> Result<()> {
    match act {
        Activation::Relu => grads(y, b, out, gout, ctx, |g, o| if o > 0.0 { g } else { 0.0 }),
        Activation::Tanh => grads(y, b, out, gout, ctx, |g, o| g * (1.0 - o * o)),
        Activation::Sigmoid => grads(y, b, out, gout, ctx, |g, o| g * o * (1.0 - o)),
        Activation::Identity => grads(y, b, out, gout, ctx, |g, _| g),
    }
    Ok(())
}

/// [`backward`] for `d(gout, out)`, the gradient before the activation.
#[inline(always)]
fn grads(
    y: Ref,
    b: Ref,
    out: &Tensor,
    gout: &[f32],
    ctx: &mut BackCtx<'_>,
    d: impl Fn(f32, f32) -> f32 + Sync + Send + Copy,
) {
    let o = out.data();
    if let Some((gy, acc)) = ctx.grads.slot(y) {
        for_chunks(
            gy,
            #[inline(always)]
            |off, gy| {
                let pairs = gout[off..].iter().zip(&o[off..]);
                write(gy, acc, pairs.map(|(&g, &o)| d(g, o)));
            },
        );
    }
    if let Some((gb, acc)) = ctx.grads.slot(b) {
        if acc == Accum::Replace {
            gb.fill(0.0);
        }
        let n = gb.len();
        if n == 0 {
            return;
        }
        with_wide_vectors(
            gout.len(),
            #[inline(always)]
            || {
                for (g, o) in gout.chunks_exact(n).zip(o.chunks_exact(n)) {
                    for ((s, &g), &o) in gb.iter_mut().zip(g).zip(o) {
                        *s += d(g, o);
                    }
                }
            },
        );
    }
}
