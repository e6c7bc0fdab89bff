//! transpose of a matrix (copying); backward transposes the gradient back.

use crate::error::{CoreError, Result};
use crate::graph::{BackCtx, Graph, Ref, Var};
use crate::ops::Op;
use crate::tensor::Shape;
use poolgrad_kernels::Accum;

/// `dst[j*m + i] += src[i*n + j]` for an `m×n` row-major `src` (or `=` when `add` is false).
fn transpose_into(dst: &mut [f32], src: &[f32], m: usize, n: usize, add: bool) {
    // Blocks of 32×32 keep both sides in cache for large matrices.
    const B: usize = 32;
    for i0 in (0..m).step_by(B) {
        for j0 in (0..n).step_by(B) {
            for i in i0..(i0 + B).min(m) {
                for j in j0..(j0 + B).min(n) {
                    let v = src[i * n + j];
                    let d = &mut dst[j * m + i];
                    *d = if add { *d + v } else { v };
                }
            }
        }
    }
}

impl Graph {
    /// The transpose of a rank-2 tensor: `[m, n]` → `[n, m]`.
    ///
    /// # Errors
    /// [`CoreError::Rank`] unless `a` has rank 2; Var errors.
    pub fn transpose(&mut self, a: Var) -> Result<Var> {
        let ra = self.resolve("transpose", a)?;
        let x = self.val(ra);
        let &[m, n] = x.shape() else {
            return Err(CoreError::Rank {
                op: "transpose",
                shape: x.shape_info().into(),
                accepted: "rank 2 [m, n]",
            });
        };
        let mut out = self.pool.alloc(m * n);
        transpose_into(&mut out, self.val(ra).data(), m, n, false);
        self.push(Op::Transpose(ra), out, Shape::d2(n, m))
    }
}

/// `da += goutᵀ` (gout is `[n, m]`).
pub(crate) fn backward(a: Ref, gout: &[f32], ctx: &mut BackCtx<'_>) -> Result<()> {
    let (m, n) = {
        let s = ctx.vals.get(a).shape();
        (s[0], s[1])
    };
    if let Some((ga, acc)) = ctx.grads.slot(a) {
        transpose_into(ga, gout, n, m, acc == Accum::Add);
    }
    Ok(())
}
