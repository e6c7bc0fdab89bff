//! `anchors.openblas`: the system OpenBLAS's `cblas_sgemm` (feature `openblas`; links
//! `libopenblas`, so the build needs `libopenblas-dev` or equivalent).
//!
//! OpenBLAS reads its core type from `OPENBLAS_CORETYPE`; unset it when measuring (a
//! forced `Haswell` runs the AVX2 kernels at about half the AVX-512 rate).

use super::{ASSUMED_RATE, row_major_copy, row_major_ld, trivial};
use poolgrad_kernels::{Accum, MatMut, MatRef, MatmulKernel, Par, Problem};
use std::ffi::c_int;

const CBLAS_ROW_MAJOR: c_int = 101;
const CBLAS_NO_TRANS: c_int = 111;
const CBLAS_TRANS: c_int = 112;

#[link(name = "openblas")]
unsafe extern "C" {
    fn cblas_sgemm(
        order: c_int,
        trans_a: c_int,
        trans_b: c_int,
        m: c_int,
        n: c_int,
        k: c_int,
        alpha: f32,
        a: *const f32,
        lda: c_int,
        b: *const f32,
        ldb: c_int,
        beta: f32,
        c: *mut f32,
        ldc: c_int,
    );
    fn openblas_set_num_threads(n: c_int);
    fn openblas_get_corename() -> *const std::ffi::c_char;
}

/// The core type OpenBLAS picked for its kernels, with a warning when that wastes this
/// host's vector width: a forced `Haswell` runs AVX2 kernels on an AVX-512 host, and
/// OpenBLAS 0.3.21 takes newer Xeons it does not know for `Prescott` (SSE3, about a tenth of
/// the rate). `OPENBLAS_CORETYPE=SkylakeX` selects its AVX-512 kernels.
pub fn core_note() -> String {
    // SAFETY: OpenBLAS returns a pointer to a static NUL-terminated string.
    let name = unsafe { std::ffi::CStr::from_ptr(openblas_get_corename()) };
    let name = name.to_string_lossy().into_owned();
    let avx512 = poolgrad_kernels::Isa::Avx512.host_has();
    let weak = [
        "prescott",
        "core2",
        "nehalem",
        "sandybridge",
        "haswell",
        "zen",
    ];
    if avx512 && weak.contains(&name.to_ascii_lowercase().as_str()) {
        format!(
            "core {name} (this host has AVX-512: that kernel set runs well below it; \
             set OPENBLAS_CORETYPE=SkylakeX or Cooperlake)"
        )
    } else {
        format!("core {name}")
    }
}

/// Calls OpenBLAS's `cblas_sgemm`; see the module documentation.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenblasAnchor;

/// A row-major operand as cblas wants it: (transpose flag, leading dimension), or `None`
/// when neither stride is unit (the caller copies).
fn operand(a: &MatRef<'_>) -> Option<(c_int, usize)> {
    let (r, c) = (a.rows(), a.cols());
    if let Some(ld) = row_major_ld(r, c, a.row_stride(), a.col_stride()) {
        return Some((CBLAS_NO_TRANS, ld));
    }
    row_major_ld(c, r, a.col_stride(), a.row_stride()).map(|ld| (CBLAS_TRANS, ld))
}

fn int(x: usize) -> c_int {
    c_int::try_from(x).expect("dimension or stride fits cblas's int")
}

/// `C (row-major, leading dimension ldc) = A·B` or `+=`, with A and B as they come.
fn sgemm_row_major(a: MatRef<'_>, b: MatRef<'_>, c: &mut [f32], ldc: usize, beta: f32) {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    let (a_copy, b_copy);
    let (ta, lda, ap) = match operand(&a) {
        Some((t, ld)) => (t, ld, a.as_slice().as_ptr()),
        None => {
            a_copy = row_major_copy(&a);
            (CBLAS_NO_TRANS, k, a_copy.as_ptr())
        }
    };
    let (tb, ldb, bp) = match operand(&b) {
        Some((t, ld)) => (t, ld, b.as_slice().as_ptr()),
        None => {
            b_copy = row_major_copy(&b);
            (CBLAS_NO_TRANS, n, b_copy.as_ptr())
        }
    };
    debug_assert!(m == 0 || n == 0 || (m - 1) * ldc + n <= c.len());
    // SAFETY: A and B point at checked views (or at contiguous copies that live until the
    // call returns) whose (trans, ld) describe exactly the addressed elements; C holds m rows
    // of n elements ldc apart inside `c` (checked view, or our buffer) and shares no memory
    // with A or B; with beta = 0 OpenBLAS overwrites C without reading it.
    unsafe {
        cblas_sgemm(
            CBLAS_ROW_MAJOR,
            ta,
            tb,
            int(m),
            int(n),
            int(k),
            1.0,
            ap,
            int(lda),
            bp,
            int(ldb),
            beta,
            c.as_mut_ptr(),
            int(ldc),
        );
    }
}

impl MatmulKernel for OpenblasAnchor {
    fn name(&self) -> &'static str {
        "anchors.openblas"
    }
    fn description(&self) -> &'static str {
        "anchor: system OpenBLAS cblas_sgemm (threads set per call)"
    }
    fn isa(&self) -> &'static str {
        "openblas"
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
        // SAFETY: plain FFI call that sets OpenBLAS's global thread count.
        unsafe { openblas_set_num_threads(int(par.threads())) };
        let beta = if accum == Accum::Add { 1.0 } else { 0.0 };
        let (m, n) = (c.rows(), c.cols());
        let (rs, cs) = (c.row_stride(), c.col_stride());
        if let Some(ldc) = row_major_ld(m, n, rs, cs) {
            sgemm_row_major(a, b, c.as_mut_slice(), ldc, beta);
        } else if let Some(ldc) = row_major_ld(n, m, cs, rs) {
            // Column-major C: compute Cᵀ = Bᵀ·Aᵀ, which is row-major.
            sgemm_row_major(b.t(), a.t(), c.as_mut_slice(), ldc, beta);
        } else {
            let mut tmp = if accum == Accum::Add {
                row_major_copy(&c.as_ref())
            } else {
                vec![0.0; m * n]
            };
            sgemm_row_major(a, b, &mut tmp, n, beta);
            for i in 0..m {
                for j in 0..n {
                    *c.at_mut(i, j) = tmp[i * n + j];
                }
            }
        }
    }
}

poolgrad_kernels::register_kernel!(OpenblasAnchor);
