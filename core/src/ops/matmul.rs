//! matmul of two matrices through the scheduler; backward computes `dA += dC·Bᵀ` and
//! `dB += Aᵀ·dC` with transposed views (no copies), accumulating in the kernel.

use crate::error::{CoreError, Result};
use crate::graph::{BackCtx, Graph, Ref, Var};
use crate::ops::Op;
use crate::tensor::Shape;
use poolgrad_kernels::{Accum, KernelError, MatMut, MatRef};

/// `[d0, ..., m, k]` seen as a matrix of `d0·...·m` rows and `k` columns.
fn rows_cols(dims: &[usize]) -> (usize, usize) {
    let (&k, rows) = dims.split_last().expect("rank checked >= 2");
    (rows.iter().product(), k)
}

fn kernel_err(op: &'static str) -> impl Fn(KernelError) -> CoreError {
    move |source| CoreError::Kernel { op, source }
}

impl Graph {
    /// `a · b` for `a: [..., k]` (rank >= 2; leading dims act as one batch of rows `m`) and
    /// `b: [k, n]`, giving `[..., n]`; the kernel is the scheduler's choice for the shape.
    ///
    /// # Errors
    /// [`CoreError::Rank`] unless `a` has rank >= 2 and `b` rank 2;
    /// [`CoreError::ShapeMismatch`] when the inner dims differ; Var and kernel errors.
    pub fn matmul(&mut self, a: Var, b: Var) -> Result<Var> {
        const ACCEPTED: &str = "[m, k] · [k, n], or [..., m, k] · [k, n]";
        let ra = self.resolve("matmul", a)?;
        let rb = self.resolve("matmul", b)?;
        let (x, y) = (self.val(ra), self.val(rb));
        for (t, ok) in [(x, x.rank() >= 2), (y, y.rank() == 2)] {
            if !ok {
                return Err(CoreError::Rank {
                    op: "matmul",
                    shape: t.shape_info().into(),
                    accepted: ACCEPTED,
                });
            }
        }
        let (m, k) = rows_cols(x.shape());
        let (k2, n) = (y.shape()[0], y.shape()[1]);
        if k != k2 {
            return Err(CoreError::ShapeMismatch {
                op: "matmul",
                lhs: x.shape_info().into(),
                rhs: y.shape_info().into(),
                accepted: "[..., m, k] · [k, n] with equal inner dims k",
            });
        }
        let mut dims = [0usize; crate::tensor::MAX_RANK];
        let r = x.rank();
        dims[..r].copy_from_slice(x.shape());
        dims[r - 1] = n;
        let out_shape = Shape::new(&dims[..r])?;
        let mut out = self.pool.alloc(m * n);
        let res = (|| {
            let av = MatRef::row_major(self.val(ra).data(), m, k)?;
            let bv = MatRef::row_major(self.val(rb).data(), k, n)?;
            let cv = MatMut::row_major(&mut out, m, n)?;
            self.scheduler().matmul(av, bv, cv, Accum::Replace)
        })();
        if let Err(e) = res {
            self.pool.put(out);
            return Err(kernel_err("matmul")(e));
        }
        self.push(Op::Matmul(ra, rb), out, out_shape)
    }
}

/// `da += gout · bᵀ`, `db += aᵀ · gout` (gout is `[m, n]`, batch dims folded into `m`).
pub(crate) fn backward(a: Ref, b: Ref, gout: &[f32], ctx: &mut BackCtx<'_>) -> Result<()> {
    let (x, y) = (ctx.vals.get(a), ctx.vals.get(b));
    let (m, k) = rows_cols(x.shape());
    let n = y.shape()[1];
    let err = kernel_err("matmul backward");
    let dc = MatRef::row_major(gout, m, n).map_err(&err)?;
    let sched = ctx.scheduler;
    if let Some((ga, acc)) = ctx.grads.slot(a) {
        let bt = MatRef::row_major(y.data(), k, n).map_err(&err)?.t();
        let da = MatMut::row_major(ga, m, k).map_err(&err)?;
        sched.matmul(dc, bt, da, acc).map_err(&err)?;
    }
    if let Some((gb, acc)) = ctx.grads.slot(b) {
        let at = MatRef::row_major(x.data(), m, k).map_err(&err)?.t();
        let db = MatMut::row_major(gb, k, n).map_err(&err)?;
        sched.matmul(at, dc, db, acc).map_err(&err)?;
    }
    Ok(())
}
