//! NEON microkernel (aarch64): 8×12 tile, 24 q-register accumulators (3 vectors per row)
//! out of 32, with room for the B vectors and the A broadcast.

#![cfg(target_arch = "aarch64")]

use super::microkernel::{Micro, Simd, col_step, tile_entries};
use super::vector::vector_entries;
use std::arch::aarch64::*;

/// NEON vectors of 4 f32.
#[derive(Clone, Copy, Debug)]
pub struct Neon;

impl Simd for Neon {
    const LANES: usize = 4;
    type V = float32x4_t;
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn zero() -> float32x4_t {
        vdupq_n_f32(0.0)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn splat(x: f32) -> float32x4_t {
        vdupq_n_f32(x)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn load(p: *const f32) -> float32x4_t {
        // SAFETY: the caller guarantees 4 readable floats at `p`.
        unsafe { vld1q_f32(p) }
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn store(p: *mut f32, v: float32x4_t) {
        // SAFETY: the caller guarantees 4 writable floats at `p`.
        unsafe { vst1q_f32(p, v) }
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn fma(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
        vfmaq_f32(c, a, b)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn mul(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        vmulq_f32(a, b)
    }
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn add(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        vaddq_f32(a, b)
    }
}

const MR: usize = 8;
const NV: usize = 3;

vector_entries!(
    #[target_feature(enable = "neon")]
    Neon
);

// Tiles for every partial row panel (1–7 of the 8 rows), as on AVX2 (see `avx2.rs`, where
// they measured 1.1–1.6× at 32³–128³): no row tail computes padding and any row count can
// read A in place. Not timed on NEON hardware (none here); tested under qemu.
tile_entries!(
    #[target_feature(enable = "neon")]
    Neon, rows MR, vectors NV, partial [1, 2, 3, 4, 5, 6, 7]);

/// The NEON microkernel. Call its `run` only where NEON was detected.
pub fn micro() -> Micro {
    Micro {
        mr: MR,
        nr: NV * 4,
        run: run_rows::<MR>,
        run_packing_b,
        run_row,
        simd_pack: false,
        partial: PARTIAL,
        col_step: col_step::<Neon>(NV),
        vector: VECTOR,
    }
}
