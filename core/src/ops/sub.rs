//! sub with broadcasting; backward like add, negated for the right operand.

use crate::error::Result;
use crate::graph::{BackCtx, Graph, Ref, Var};
use crate::ops::Op;
use crate::ops::broadcast::accumulate;
use crate::tensor::Tensor;

impl Graph {
    /// `a - b` with NumPy broadcasting.
    ///
    /// # Errors
    /// [`crate::CoreError::Broadcast`] when the shapes do not broadcast; Var errors.
    pub fn sub(&mut self, a: Var, b: Var) -> Result<Var> {
        self.binary("sub", a, b, |x, y| x - y, Op::Sub)
    }
}

/// `da += reduce(gout)`, `db -= reduce(gout)`.
pub(crate) fn backward(
    a: Ref,
    b: Ref,
    out: &Tensor,
    gout: &[f32],
    ctx: &mut BackCtx<'_>,
) -> Result<()> {
    let os = out.shape_info();
    for (x, coef) in [(a, 1.0), (b, -1.0)] {
        let xs = ctx.vals.get(x).shape_info();
        if let Some((gx, acc)) = ctx.grads.slot(x) {
            accumulate(gx, acc, xs, os, gout, None, coef);
        }
    }
    Ok(())
}
