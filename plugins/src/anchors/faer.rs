//! `anchors.faer`: faer's matmul, through its safe slice constructors.

use super::{ASSUMED_RATE, row_major_copy, row_major_ld, trivial};
use faer::{Accum as FAccum, Par as FPar};
use poolgrad_kernels::{Accum, MatMut, MatRef, MatmulKernel, Par, Problem};

/// Calls `faer::linalg::matmul::matmul`; see the module documentation.
#[derive(Clone, Copy, Debug, Default)]
pub struct FaerAnchor;

/// `a` as a faer view: row-major or column-major with a leading dimension, else `None`.
fn faer_ref<'a>(a: &MatRef<'a>) -> Option<faer::MatRef<'a, f32>> {
    let (r, c) = (a.rows(), a.cols());
    if let Some(ld) = row_major_ld(r, c, a.row_stride(), a.col_stride()) {
        return Some(faer::MatRef::from_row_major_slice_with_stride(
            a.as_slice(),
            r,
            c,
            ld,
        ));
    }
    row_major_ld(c, r, a.col_stride(), a.row_stride())
        .map(|ld| faer::MatRef::from_column_major_slice_with_stride(a.as_slice(), r, c, ld))
}

fn faer_par(par: Par) -> FPar {
    match par {
        Par::Seq => FPar::Seq,
        Par::Rayon(n) if n <= 1 => FPar::Seq,
        Par::Rayon(n) => FPar::rayon(n),
    }
}

impl MatmulKernel for FaerAnchor {
    fn name(&self) -> &'static str {
        "anchors.faer"
    }
    fn description(&self) -> &'static str {
        "anchor: faer 0.24 matmul (its own SIMD dispatch; faer::Par::rayon(n) when parallel)"
    }
    fn isa(&self) -> &'static str {
        "faer"
    }
    fn supports(&self, _problem: &Problem) -> bool {
        true
    }
    fn cost_hint(&self, p: &Problem) -> f64 {
        p.flops() / ASSUMED_RATE + 2e-6
    }
    fn run(&self, a: MatRef<'_>, b: MatRef<'_>, mut c: MatMut<'_>, accum: Accum, par: Par) {
        if trivial(a.cols(), &mut c, accum) {
            return;
        }
        let (a_copy, b_copy);
        let av = match faer_ref(&a) {
            Some(v) => v,
            None => {
                a_copy = row_major_copy(&a);
                faer::MatRef::from_row_major_slice(&a_copy, a.rows(), a.cols())
            }
        };
        let bv = match faer_ref(&b) {
            Some(v) => v,
            None => {
                b_copy = row_major_copy(&b);
                faer::MatRef::from_row_major_slice(&b_copy, b.rows(), b.cols())
            }
        };
        let beta = match accum {
            Accum::Replace => FAccum::Replace,
            Accum::Add => FAccum::Add,
        };
        let (m, n) = (c.rows(), c.cols());
        let (rs, cs) = (c.row_stride(), c.col_stride());
        let fpar = faer_par(par);
        if let Some(ld) = row_major_ld(m, n, rs, cs) {
            // Row-major C as the transpose of a column-major view: faer 0.24.4's
            // `from_row_major_slice_with_stride_mut` builds row stride 1 and column stride
            // `row_stride` (a column-major view), which writes past the slice end (found by
            // this crate's tests: heap corruption on 5×7 row-major C).
            let cv =
                faer::MatMut::from_column_major_slice_with_stride_mut(c.as_mut_slice(), n, m, ld)
                    .transpose_mut();
            faer::linalg::matmul::matmul(cv, beta, av, bv, 1.0f32, fpar);
        } else if let Some(ld) = row_major_ld(n, m, cs, rs) {
            let cv =
                faer::MatMut::from_column_major_slice_with_stride_mut(c.as_mut_slice(), m, n, ld);
            faer::linalg::matmul::matmul(cv, beta, av, bv, 1.0f32, fpar);
        } else {
            // No unit stride in C: compute into a contiguous buffer, then scatter.
            let mut tmp = if accum == Accum::Add {
                row_major_copy(&c.as_ref())
            } else {
                vec![0.0; m * n]
            };
            let cv = faer::MatMut::from_row_major_slice_mut(&mut tmp, m, n);
            faer::linalg::matmul::matmul(cv, beta, av, bv, 1.0f32, fpar);
            for i in 0..m {
                for j in 0..n {
                    *c.at_mut(i, j) = tmp[i * n + j];
                }
            }
        }
    }
}

poolgrad_kernels::register_kernel!(FaerAnchor);
