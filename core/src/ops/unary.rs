//! Shared forward of element-wise unary ops (relu, tanh, sigmoid, exp, log): each op's own
//! file supplies the function and its backward.

use crate::error::Result;
use crate::graph::Ref;
use crate::graph::{Graph, Var};
use crate::ops::Op;
use crate::parallel::for_chunks;

impl Graph {
    /// Applies `f` to every element of `a` (split across the kernels' threads when large)
    /// and records `make(a)` on the tape.
    pub(crate) fn unary(
        &mut self,
        name: &'static str,
        a: Var,
        f: impl Fn(f32) -> f32 + Sync + Send,
        make: impl FnOnce(Ref) -> Op,
    ) -> Result<Var> {
        let ra = self.resolve(name, a)?;
        let shape = self.val(ra).shape_info();
        let mut out = self.pool.alloc(shape.numel());
        let a = self.val(ra).data();
        for_chunks(
            &mut out,
            #[inline(always)]
            |off, out| {
                for (o, &x) in out.iter_mut().zip(&a[off..]) {
                    *o = f(x);
                }
            },
        );
        self.push(make(ra), out, shape)
    }
}
