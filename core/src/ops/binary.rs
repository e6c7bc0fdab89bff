//! Shared forward of the broadcasting element-wise binary ops (add, sub, mul): each op's
//! own file supplies the function and its backward.

use crate::error::Result;
use crate::graph::{Graph, Ref, Var};
use crate::ops::Op;
use crate::ops::broadcast::{broadcast_shape, map2};

impl Graph {
    /// Forward of a broadcasting element-wise binary op: checks Vars and shapes, computes
    /// `f` over the broadcast shape, records `make(a, b)`.
    pub(crate) fn binary(
        &mut self,
        name: &'static str,
        a: Var,
        b: Var,
        f: impl Fn(f32, f32) -> f32 + Sync + Send,
        make: impl FnOnce(Ref, Ref) -> Op,
    ) -> Result<Var> {
        let ra = self.resolve(name, a)?;
        let rb = self.resolve(name, b)?;
        let shape = broadcast_shape(name, self.val(ra).shape_info(), self.val(rb).shape_info())?;
        let mut out = self.pool.alloc(shape.numel());
        map2(&mut out, shape, self.val(ra), self.val(rb), f);
        self.push(make(ra, rb), out, shape)
    }
}
