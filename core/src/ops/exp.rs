//! exp; backward reuses the output: `d e^x = e^x`.

use crate::error::Result;
use crate::graph::{BackCtx, Graph, Ref, Var};
use crate::ops::{Op, write};
use crate::tensor::Tensor;

impl Graph {
    /// Element-wise `e^a`.
    ///
    /// # Errors
    /// Var errors; [`crate::CoreError::NonFinite`] on overflow when anomaly detection is on.
    pub fn exp(&mut self, a: Var) -> Result<Var> {
        self.unary("exp", a, f32::exp, Op::Exp)
    }
}

/// `da += gout · y`.
pub(crate) fn backward(a: Ref, out: &Tensor, gout: &[f32], ctx: &mut BackCtx<'_>) -> Result<()> {
    if let Some((ga, acc)) = ctx.grads.slot(a) {
        write(ga, acc, gout.iter().zip(out.data()).map(|(&go, &y)| go * y));
    }
    Ok(())
}
