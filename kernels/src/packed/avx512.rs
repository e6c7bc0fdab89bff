//! AVX-512F microkernel (x86_64): 12×32 tile, 24 zmm accumulators (2 vectors per row), so
//! 24 independent FMAs per k step hide the FMA latency on two 512-bit pipes.

#![cfg(target_arch = "x86_64")]

use super::microkernel::{Micro, Simd, col_step, tile_entries};
use super::vector::vector_entries;
use std::arch::x86_64::*;

/// AVX-512F vectors of 16 f32.
#[derive(Clone, Copy, Debug)]
pub struct Avx512;

impl Simd for Avx512 {
    const LANES: usize = 16;
    type V = __m512;
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn zero() -> __m512 {
        _mm512_setzero_ps()
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn splat(x: f32) -> __m512 {
        _mm512_set1_ps(x)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load(p: *const f32) -> __m512 {
        // SAFETY: the caller guarantees 16 readable floats at `p`.
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn store(p: *mut f32, v: __m512) {
        // SAFETY: the caller guarantees 16 writable floats at `p`.
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn fma(a: __m512, b: __m512, c: __m512) -> __m512 {
        _mm512_fmadd_ps(a, b, c)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn mul(a: __m512, b: __m512) -> __m512 {
        _mm512_mul_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn add(a: __m512, b: __m512) -> __m512 {
        _mm512_add_ps(a, b)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn sum(v: __m512) -> f32 {
        _mm512_reduce_add_ps(v)
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn prefetch(p: *const f32) {
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    const MASKED_TAILS: bool = true;
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load_first(p: *const f32, lanes: usize) -> __m512 {
        // SAFETY: the caller guarantees `lanes` readable floats at `p`; the masked-off
        // lanes are not accessed (masked loads suppress their faults).
        unsafe { _mm512_maskz_loadu_ps(first_lanes(lanes), p) }
    }
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn store_first(p: *mut f32, v: __m512, lanes: usize) {
        // SAFETY: the caller guarantees `lanes` writable floats at `p`; the masked-off
        // lanes are not written.
        unsafe { _mm512_mask_storeu_ps(p, first_lanes(lanes), v) }
    }
}

/// The mask of the first `lanes` (1..=16) lanes.
#[inline(always)]
fn first_lanes(lanes: usize) -> __mmask16 {
    debug_assert!((1..=16).contains(&lanes));
    ((1u32 << lanes) - 1) as __mmask16
}

/// Tile rows (broadcast from packed A).
pub const MR: usize = 12;
/// Tile vectors per row (loaded from packed B); NR = 16·NV.
pub const NV: usize = 2;

vector_entries!(
    #[target_feature(enable = "avx512f")]
    Avx512
);

// Tiles for every partial row panel (1–11 of the 12 rows), as on AVX2: no row tail
// computes padding, and any row count reads A in place and takes the small path. Against
// tails of 4 or 8 rows only (Zen 5, one thread, alternating processes): 30³ 2.2×, 50³
// 1.36×, 62³ 1.40×, 70³ 1.40×, 110³ 1.17×; 200×200·200×50 and 1000×100·100×100 unchanged.
tile_entries!(
    #[target_feature(enable = "avx512f")]
    Avx512, rows MR, vectors NV, partial [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);

/// The AVX-512F microkernel. Call its `run` only where AVX-512F was detected.
pub fn micro() -> Micro {
    Micro {
        mr: MR,
        nr: NV * 16,
        run: run_rows::<MR>,
        run_packing_b,
        run_row,
        simd_pack: super::transpose::available(),
        partial: PARTIAL,
        col_step: col_step::<Avx512>(NV),
        vector: VECTOR,
    }
}
