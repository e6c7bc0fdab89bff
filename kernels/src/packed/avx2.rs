//! AVX2+FMA microkernel (x86_64): 6×16 tile, 12 ymm accumulators (2 vectors per row),
//! leaving registers for two B vectors and the A broadcast.

#![cfg(target_arch = "x86_64")]

use super::microkernel::{Micro, Simd, col_step, tile_entries};
use super::vector::vector_entries;
use std::arch::x86_64::*;

/// AVX2 vectors of 8 f32 with FMA.
#[derive(Clone, Copy, Debug)]
pub struct Avx2;

impl Simd for Avx2 {
    const LANES: usize = 8;
    type V = __m256;
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn zero() -> __m256 {
        _mm256_setzero_ps()
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn splat(x: f32) -> __m256 {
        _mm256_set1_ps(x)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load(p: *const f32) -> __m256 {
        // SAFETY: the caller guarantees 8 readable floats at `p`.
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn store(p: *mut f32, v: __m256) {
        // SAFETY: the caller guarantees 8 writable floats at `p`.
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fma(a: __m256, b: __m256, c: __m256) -> __m256 {
        _mm256_fmadd_ps(a, b, c)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn mul(a: __m256, b: __m256) -> __m256 {
        _mm256_mul_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn add(a: __m256, b: __m256) -> __m256 {
        _mm256_add_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn sum(v: __m256) -> f32 {
        let half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let pair = _mm_add_ps(half, _mm_movehl_ps(half, half));
        _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps::<1>(pair, pair)))
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn prefetch(p: *const f32) {
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    const MASKED_TAILS: bool = true;
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load_first(p: *const f32, lanes: usize) -> __m256 {
        // SAFETY: the caller guarantees `lanes` readable floats at `p`; the masked-off
        // lanes are not accessed (masked loads suppress their faults).
        unsafe { _mm256_maskload_ps(p, first_lanes(lanes)) }
    }
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn store_first(p: *mut f32, v: __m256, lanes: usize) {
        // SAFETY: the caller guarantees `lanes` writable floats at `p`; the masked-off
        // lanes are not written.
        unsafe { _mm256_maskstore_ps(p, first_lanes(lanes), v) }
    }
}

/// The mask of the first `lanes` (1..=8) lanes: all bits set in those lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn first_lanes(lanes: usize) -> __m256i {
    debug_assert!((1..=8).contains(&lanes));
    let index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes as i32), index)
}

const MR: usize = 6;
const NV: usize = 2;

vector_entries!(
    #[target_feature(enable = "avx2,fma")]
    Avx2
);

// Tiles for every partial row panel (1–5 of the 6 rows), so no row tail computes padding
// and any row count can read A in place. Against the 6-row tile alone (A packed into
// padded panels, no in-place small path for such tails), one thread, alternating in one
// process (Zen 1 EPYC, two runs): 32³ 1.54–1.59×, 64³ 1.17–1.24×, 128³ 1.14–1.16×,
// 4096×64·64×64 1.08–1.10×, 64×256·784×256 1.06–1.13×.
tile_entries!(
    #[target_feature(enable = "avx2,fma")]
    Avx2, rows MR, vectors NV, partial [1, 2, 3, 4, 5]);

/// The AVX2+FMA microkernel. Call its `run` only where AVX2 and FMA were detected.
pub fn micro() -> Micro {
    Micro {
        mr: MR,
        nr: NV * 8,
        run: run_rows::<MR>,
        run_packing_b,
        run_row,
        simd_pack: super::transpose::available(),
        partial: PARTIAL,
        col_step: col_step::<Avx2>(NV),
        vector: VECTOR,
    }
}
