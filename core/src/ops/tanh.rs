//! tanh; backward uses the saved output: `1 - y²`.

use crate::error::Result;
use crate::graph::{BackCtx, Graph, Ref, Var};
use crate::ops::Op;
use crate::tensor::Tensor;

impl Graph {
    /// Element-wise hyperbolic tangent.
    ///
    /// # Errors
    /// Var errors.
    pub fn tanh(&mut self, a: Var) -> Result<Var> {
        self.unary("tanh", a, f32::tanh, Op::Tanh)
    }
}

/// `da += gout · (1 - y²)`.
pub(crate) fn backward(a: Ref, out: &Tensor, gout: &[f32], ctx: &mut BackCtx<'_>) -> Result<()> {
    if let Some(ga) = ctx.grads.slot(a) {
        for ((g, &go), &y) in ga.iter_mut().zip(gout).zip(out.data()) {
            *g += go * (1.0 - y * y);
        }
    }
    Ok(())
}
