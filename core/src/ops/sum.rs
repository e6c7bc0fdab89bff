//! sum of all elements (a scalar); backward broadcasts the scalar gradient back.

use crate::error::Result;
use crate::graph::{BackCtx, Graph, Ref, Var};
use crate::ops::{Op, write};
use crate::tensor::Shape;

impl Graph {
    /// The sum of every element of `a`, as a rank-0 tensor (accumulated in f64).
    ///
    /// # Errors
    /// Var errors.
    pub fn sum(&mut self, a: Var) -> Result<Var> {
        let ra = self.resolve("sum", a)?;
        let s: f64 = self.val(ra).data().iter().map(|&x| x as f64).sum();
        let mut out = self.pool.alloc(1);
        out[0] = s as f32;
        self.push(Op::Sum(ra), out, Shape::scalar())
    }
}

/// `da += gout` on every element.
pub(crate) fn backward(a: Ref, gout: &[f32], ctx: &mut BackCtx<'_>) -> Result<()> {
    let go = gout[0];
    if let Some((ga, acc)) = ctx.grads.slot(a) {
        let n = ga.len();
        write(ga, acc, std::iter::repeat_n(go, n));
    }
    Ok(())
}
