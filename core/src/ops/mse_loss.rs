//! Mean squared error `mean((pred - target)²)`; backward `±2(pred - target)/n`.

use crate::error::{CoreError, Result};
use crate::graph::{BackCtx, Graph, Ref, Var};
use crate::ops::{Op, write};
use crate::tensor::Shape;

impl Graph {
    /// `mean((pred - target)²)` as a rank-0 tensor (accumulated in f64).
    ///
    /// # Errors
    /// [`CoreError::ShapeMismatch`] unless both have the same shape (no broadcasting, so a
    /// `[n]` vs `[n, 1]` slip is caught); [`CoreError::Rank`] for empty tensors; Var errors.
    pub fn mse_loss(&mut self, pred: Var, target: Var) -> Result<Var> {
        let rp = self.resolve("mse_loss", pred)?;
        let rt = self.resolve("mse_loss", target)?;
        let (p, t) = (self.val(rp), self.val(rt));
        if p.shape_info() != t.shape_info() {
            return Err(CoreError::ShapeMismatch {
                op: "mse_loss",
                lhs: p.shape_info().into(),
                rhs: t.shape_info().into(),
                accepted: "pred and target of the same shape",
            });
        }
        if p.numel() == 0 {
            return Err(CoreError::Rank {
                op: "mse_loss",
                shape: p.shape_info().into(),
                accepted: "at least one element",
            });
        }
        let s: f64 = p
            .data()
            .iter()
            .zip(t.data())
            .map(|(&x, &y)| {
                let d = (x - y) as f64;
                d * d
            })
            .sum();
        let n = p.numel();
        let mut out = self.pool.alloc(1);
        out[0] = (s / n as f64) as f32;
        self.push(Op::MseLoss(rp, rt), out, Shape::scalar())
    }
}

/// `dpred += 2(p - t)/n · gout`, `dtarget -= 2(p - t)/n · gout`.
pub(crate) fn backward(pred: Ref, target: Ref, gout: &[f32], ctx: &mut BackCtx<'_>) -> Result<()> {
    let (p, t) = (ctx.vals.get(pred), ctx.vals.get(target));
    let c = 2.0 * gout[0] / p.numel() as f32;
    for (x, sign) in [(pred, 1.0f32), (target, -1.0)] {
        if let Some((gx, acc)) = ctx.grads.slot(x) {
            let k = sign * c;
            write(
                gx,
                acc,
                p.data().iter().zip(t.data()).map(|(&a, &b)| k * (a - b)),
            );
        }
    }
    Ok(())
}
