//! tanh; backward uses the saved output: `1 - y²`.

use crate::error::Result;
use crate::graph::{BackCtx, Graph, Ref, Var};
use crate::ops::{Op, write};
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
    if let Some((ga, acc)) = ctx.grads.slot(a) {
        let d = gout.iter().zip(out.data());
        write(ga, acc, d.map(|(&go, &y)| go * (1.0 - y * y)));
    }
    Ok(())
}
