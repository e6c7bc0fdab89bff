//! mean of all elements (a scalar); backward spreads `gout / n` over every element.

use crate::error::{CoreError, Result};
use crate::graph::{BackCtx, Graph, Ref, Var};
use crate::ops::{Op, write};
use crate::tensor::Shape;

impl Graph {
    /// The mean of every element of `a`, as a rank-0 tensor (accumulated in f64).
    ///
    /// # Errors
    /// [`CoreError::Rank`] for an empty tensor (no mean); Var errors.
    pub fn mean(&mut self, a: Var) -> Result<Var> {
        let ra = self.resolve("mean", a)?;
        let x = self.val(ra);
        if x.numel() == 0 {
            return Err(CoreError::Rank {
                op: "mean",
                shape: x.shape_info().into(),
                accepted: "a tensor with at least one element",
            });
        }
        let s: f64 = x.data().iter().map(|&v| v as f64).sum();
        let m = (s / x.numel() as f64) as f32;
        let mut out = self.pool.alloc(1);
        out[0] = m;
        self.push(Op::Mean(ra), out, Shape::scalar())
    }
}

/// `da += gout / n`.
pub(crate) fn backward(a: Ref, gout: &[f32], ctx: &mut BackCtx<'_>) -> Result<()> {
    let n = ctx.vals.get(a).numel();
    let go = gout[0] / n as f32;
    if let Some((ga, acc)) = ctx.grads.slot(a) {
        let n = ga.len();
        write(ga, acc, std::iter::repeat_n(go, n));
    }
    Ok(())
}
