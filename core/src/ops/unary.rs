//! Shared forward of element-wise unary ops (relu, tanh, sigmoid, exp, log): each op's own
//! file supplies the function and its backward.

use crate::error::Result;
use crate::graph::Ref;
use crate::graph::{Graph, Var};
use crate::ops::Op;

impl Graph {
    /// Applies `f` to every element of `a` and records `make(a)` on the tape.
    pub(crate) fn unary(
        &mut self,
        name: &'static str,
        a: Var,
        f: impl Fn(f32) -> f32,
        make: impl FnOnce(Ref) -> Op,
    ) -> Result<Var> {
        let ra = self.resolve(name, a)?;
        let shape = self.val(ra).shape_info();
        let mut out = self.pool.alloc(shape.numel());
        for (o, &x) in out.iter_mut().zip(self.val(ra).data()) {
            *o = f(x);
        }
        self.push(make(ra), out, shape)
    }
}
