//! Portable microkernel: 4×16 tile over 8-float arrays, which the compiler vectorises with
//! whatever the baseline target offers (SSE2 on x86_64).

use super::microkernel::{Micro, Simd, col_step, tile_entries};
use super::vector::vector_entries;

/// Plain arrays of 8 f32.
#[derive(Clone, Copy, Debug)]
pub struct Portable;

impl Simd for Portable {
    const LANES: usize = 8;
    type V = [f32; 8];
    #[inline(always)]
    unsafe fn zero() -> [f32; 8] {
        [0.0; 8]
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> [f32; 8] {
        [x; 8]
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> [f32; 8] {
        // SAFETY: the caller guarantees 8 readable floats at `p`.
        unsafe { p.cast::<[f32; 8]>().read_unaligned() }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: [f32; 8]) {
        // SAFETY: the caller guarantees 8 writable floats at `p`.
        unsafe { p.cast::<[f32; 8]>().write_unaligned(v) }
    }
    #[inline(always)]
    unsafe fn fma(a: [f32; 8], b: [f32; 8], c: [f32; 8]) -> [f32; 8] {
        // Separate multiply and add: `mul_add` without hardware FMA is a slow libm call.
        std::array::from_fn(|l| a[l] * b[l] + c[l])
    }
    #[inline(always)]
    unsafe fn mul(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|l| a[l] * b[l])
    }
    #[inline(always)]
    unsafe fn add(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|l| a[l] + b[l])
    }
}

const MR: usize = 4;
const NV: usize = 2;

tile_entries!(Portable, rows MR, vectors NV, partial []);

vector_entries!(Portable);

/// The portable microkernel; runs on every host.
pub fn micro() -> Micro {
    Micro {
        mr: MR,
        nr: NV * 8,
        run: run_rows::<MR>,
        run_packing_b,
        run_row,
        simd_pack: false,
        partial: PARTIAL,
        col_step: col_step::<Portable>(NV),
        vector: VECTOR,
    }
}
