//! mul (element-wise, broadcasting); backward multiplies by the other operand and sums
//! over broadcast axes.

use crate::error::Result;
use crate::graph::{BackCtx, Graph, Ref, Var};
use crate::ops::Op;
use crate::ops::broadcast::accumulate;
use crate::tensor::Tensor;

impl Graph {
    /// Element-wise `a · b` with NumPy broadcasting.
    ///
    /// # Errors
    /// [`crate::CoreError::Broadcast`] when the shapes do not broadcast; Var errors.
    pub fn mul(&mut self, a: Var, b: Var) -> Result<Var> {
        self.binary("mul", a, b, |x, y| x * y, Op::Mul)
    }
}

/// `da += reduce(gout · b)`, `db += reduce(gout · a)`.
pub(crate) fn backward(
    a: Ref,
    b: Ref,
    out: &Tensor,
    gout: &[f32],
    ctx: &mut BackCtx<'_>,
) -> Result<()> {
    let os = out.shape_info();
    for (x, other) in [(a, b), (b, a)] {
        let xs = ctx.vals.get(x).shape_info();
        let ov = ctx.vals.get(other);
        if let Some((gx, acc)) = ctx.grads.slot(x) {
            accumulate(gx, acc, xs, os, gout, Some(ov), 1.0);
        }
    }
    Ok(())
}
