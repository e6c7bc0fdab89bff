//! Anchor kernels: other libraries' matmuls registered as plugins, so benchmarks and the
//! report show poolgrad's kernels beside them in one process (feature `anchors`, off by
//! default; OpenBLAS also needs feature `openblas` and the system library).
//!
//! - [`faer::FaerAnchor`] (`anchors.faer`): `faer::linalg::matmul::matmul`, parallel with
//!   `faer::Par::rayon(n)` when asked;
//! - [`matrixmultiply::MatrixmultiplyAnchor`] (`anchors.matrixmultiply`): `sgemm` of the
//!   `matrixmultiply` crate, always serial (its `threading` feature is not enabled);
//! - `openblas::OpenblasAnchor` (`anchors.openblas`, feature `openblas`): `cblas_sgemm`,
//!   threads set with `openblas_set_num_threads` per call.
//!
//! Each honours strides, transposes and [`Accum`]: views with one unit stride are handed over
//! as they are; the rare fully-strided view is copied to a contiguous buffer first (timings
//! of such views then include the copy).

use poolgrad_kernels::{Accum, MatMut, MatRef};

pub mod faer;
pub mod matrixmultiply;
#[cfg(feature = "openblas")]
pub mod openblas;

/// Rough one-thread rate assumed by the anchors' `cost_hint` (FLOP/s); the scheduler only
/// uses it to order candidates before measuring them.
pub(crate) const ASSUMED_RATE: f64 = 100e9;

/// The anchors compiled into this build, and the ones skipped with the reason.
pub fn notes() -> Vec<String> {
    let mut out = vec![
        "anchors.faer: faer 0.24 (faer::linalg::matmul::matmul)".to_string(),
        "anchors.matrixmultiply: matrixmultiply 0.3 sgemm, serial".to_string(),
    ];
    #[cfg(feature = "openblas")]
    out.push(format!(
        "anchors.openblas: system OpenBLAS cblas_sgemm, {}",
        openblas::core_note()
    ));
    #[cfg(not(feature = "openblas"))]
    {
        out.push(
            "anchors.openblas: skipped (build with --features openblas; needs libopenblas-dev)"
                .to_string(),
        );
    }
    out
}

/// Handles `k = 0` (no products): Replace zeroes C, Add leaves it. Returns true when done.
pub(crate) fn trivial(k: usize, c: &mut MatMut<'_>, accum: Accum) -> bool {
    if c.rows() == 0 || c.cols() == 0 {
        return true;
    }
    if k > 0 {
        return false;
    }
    if accum == Accum::Replace {
        for i in 0..c.rows() {
            for j in 0..c.cols() {
                *c.at_mut(i, j) = 0.0;
            }
        }
    }
    true
}

/// A contiguous row-major copy of `a` (for views with no unit stride).
pub(crate) fn row_major_copy(a: &MatRef<'_>) -> Vec<f32> {
    let mut out = Vec::with_capacity(a.rows() * a.cols());
    for i in 0..a.rows() {
        for j in 0..a.cols() {
            out.push(a.at(i, j));
        }
    }
    out
}

/// True when a `rows × cols` view with these strides can be described as row-major with a
/// leading dimension (`col_stride == 1` and rows that do not overlap), ignoring strides that
/// are never applied (a single row or column).
pub(crate) fn row_major_ld(rows: usize, cols: usize, rs: usize, cs: usize) -> Option<usize> {
    let unit_cols = cs == 1 || cols <= 1;
    if !unit_cols {
        return None;
    }
    if rows <= 1 {
        return Some(cols.max(1));
    }
    (rs >= cols.max(1)).then_some(rs)
}
