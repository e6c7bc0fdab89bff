//! relu: `max(x, 0)`; backward passes the gradient where the output is positive.

use crate::error::Result;
use crate::graph::{BackCtx, Graph, Ref, Var};
use crate::ops::{Op, write};
use crate::parallel::for_chunks;
use crate::tensor::Tensor;

impl Graph {
    /// Element-wise `max(a, 0)`.
    ///
    /// # Errors
    /// Var errors ([`crate::CoreError::ForeignVar`], [`crate::CoreError::StaleVar`]).
    pub fn relu(&mut self, a: Var) -> Result<Var> {
        self.unary("relu", a, |x| x.max(0.0), Op::Relu)
    }
}

/// `da += gout · [y > 0]` (the subgradient at 0 is 0).
pub(crate) fn backward(a: Ref, out: &Tensor, gout: &[f32], ctx: &mut BackCtx<'_>) -> Result<()> {
    if let Some((ga, acc)) = ctx.grads.slot(a) {
        let y = out.data();
        for_chunks(
            ga,
            #[inline(always)]
            |off, ga| {
                let d = gout[off..].iter().zip(&y[off..]);
                write(ga, acc, d.map(|(&go, &y)| if y > 0.0 { go } else { 0.0 }));
            },
        );
    }
    Ok(())
}
