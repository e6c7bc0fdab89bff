//! `anchors.matrixmultiply`: bluss's `matrixmultiply::sgemm`, which takes any strides.

use super::{ASSUMED_RATE, trivial};
use poolgrad_kernels::{Accum, MatMut, MatRef, MatmulKernel, Par, Problem};

/// Calls `matrixmultiply::sgemm` on one thread (the crate's `threading` feature is off, so
/// `Par` is ignored and two-thread tables show its one-thread rate).
#[derive(Clone, Copy, Debug, Default)]
pub struct MatrixmultiplyAnchor;

/// A stride as `sgemm` wants it; a checked view's strides address inside one slice, so
/// they fit in `isize`.
fn stride(s: usize) -> isize {
    isize::try_from(s).expect("a checked view's stride fits in isize")
}

impl MatmulKernel for MatrixmultiplyAnchor {
    fn name(&self) -> &'static str {
        "anchors.matrixmultiply"
    }
    fn description(&self) -> &'static str {
        "anchor: matrixmultiply 0.3 sgemm (any strides; serial)"
    }
    fn isa(&self) -> &'static str {
        "matrixmultiply"
    }
    fn supports(&self, _problem: &Problem) -> bool {
        true
    }
    fn cost_hint(&self, p: &Problem) -> f64 {
        p.flops() / (0.8 * ASSUMED_RATE) + 2e-6
    }
    fn run(&self, a: MatRef<'_>, b: MatRef<'_>, mut c: MatMut<'_>, accum: Accum, _par: Par) {
        let (m, k, n) = (a.rows(), a.cols(), b.cols());
        if trivial(k, &mut c, accum) {
            return;
        }
        let beta = if accum == Accum::Add { 1.0 } else { 0.0 };
        let (rsc, csc) = (stride(c.row_stride()), stride(c.col_stride()));
        let cp = c.as_mut_slice().as_mut_ptr();
        // SAFETY: every view was checked when built (each addressed element lies in its
        // slice), C's view is injective (no two elements alias, as sgemm requires) and shares
        // no memory with A or B (`run`'s contract); m, k, n are the views' shapes; with
        // beta = 0 sgemm does not read C, so Replace never reads it.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.as_slice().as_ptr(),
                stride(a.row_stride()),
                stride(a.col_stride()),
                b.as_slice().as_ptr(),
                stride(b.row_stride()),
                stride(b.col_stride()),
                beta,
                cp,
                rsc,
                csc,
            );
        }
    }
}

poolgrad_kernels::register_kernel!(MatrixmultiplyAnchor);
