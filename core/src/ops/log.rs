//! Natural log; backward `1/x` from the saved input.

use crate::error::Result;
use crate::graph::{BackCtx, Graph, Ref, Var};
use crate::ops::{Op, write};

impl Graph {
    /// Element-wise natural logarithm (NaN below 0, -inf at 0, as IEEE says).
    ///
    /// # Errors
    /// Var errors; [`crate::CoreError::NonFinite`] for inputs `<= 0` when anomaly detection
    /// is on.
    pub fn log(&mut self, a: Var) -> Result<Var> {
        self.unary("log", a, f32::ln, Op::Log)
    }
}

/// `da += gout / x`.
pub(crate) fn backward(a: Ref, gout: &[f32], ctx: &mut BackCtx<'_>) -> Result<()> {
    let x = ctx.vals.get(a);
    if let Some((ga, acc)) = ctx.grads.slot(a) {
        write(ga, acc, gout.iter().zip(x.data()).map(|(&go, &x)| go / x));
    }
    Ok(())
}
