//! add with broadcasting; backward sums the gradient over each operand's broadcast axes.

use crate::error::Result;
use crate::graph::{BackCtx, Graph, Ref, Var};
use crate::ops::Op;
use crate::ops::broadcast::accumulate;
use crate::tensor::Tensor;

impl Graph {
    /// `a + b` with NumPy broadcasting (e.g. `[batch, n] + [n]` adds a bias to every row).
    ///
    /// # Errors
    /// [`crate::CoreError::Broadcast`] when the shapes do not broadcast; Var errors.
    pub fn add(&mut self, a: Var, b: Var) -> Result<Var> {
        self.binary("add", a, b, |x, y| x + y, Op::Add)
    }
}

/// `da += reduce(gout)`, `db += reduce(gout)`.
pub(crate) fn backward(
    a: Ref,
    b: Ref,
    out: &Tensor,
    gout: &[f32],
    ctx: &mut BackCtx<'_>,
) -> Result<()> {
    let os = out.shape_info();
    for x in [a, b] {
        let xs = ctx.vals.get(x).shape_info();
        if let Some((gx, acc)) = ctx.grads.slot(x) {
            accumulate(gx, acc, xs, os, gout, None, 1.0);
        }
    }
    Ok(())
}
