//! Element-wise loops compiled for the host's wide vectors.
//!
//! The crate's x86-64 baseline is SSE2, so a plain loop over `f32`s (relu, the SGD update,
//! a bias add) compiles to 4-wide operations. [`with_wide_vectors`] runs a closure inside a
//! function compiled with AVX2 where the host has it, so the loops it inlines use 8-wide
//! ones: on the Zen 5 host the one-thread MLP-S step spent 10% of its time in such loops,
//! on data that sits in L1 or L2 where the vector width, not memory, bounds them.

/// Fewest elements for which [`with_wide_vectors`] looks up the ISA: below this, the lookup
/// costs more than the loop saves (a one-element op in a long tape of tiny ones).
#[cfg(target_arch = "x86_64")]
const WIDE_MIN_ELEMS: usize = 64;

/// Runs `f`, a loop over `len` elements, compiled with AVX2 where the host has it and the
/// ISA setting (`POOLGRAD_ISA`) allows it; otherwise (other architectures, small `len`, an
/// invalid environment) runs it as compiled. Results are the same either way: the same
/// operations on each element, in the same order (Rust never fuses a multiply and an add
/// on its own, and vectorising a loop does not reorder a float reduction).
#[inline(always)]
pub fn with_wide_vectors<R>(len: usize, f: impl FnOnce() -> R) -> R {
    // One fall-through call of `f`: a second (an early return for short loops) measured
    // 3% more instructions per tiny autograd node, the loop inlined once more.
    #[cfg(target_arch = "x86_64")]
    if len >= WIDE_MIN_ELEMS
        && crate::settings().is_ok_and(|s| matches!(s.isa, crate::Isa::Avx2 | crate::Isa::Avx512))
        && is_x86_feature_detected!("avx2")
    {
        // SAFETY: AVX2 was detected on this host just above.
        return unsafe { with_avx2(f) };
    }
    let _ = len;
    f()
}

/// Runs `f` inside a function compiled with AVX2 (see [`with_wide_vectors`]).
///
/// # Safety
/// The host has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wide path computes exactly what the plain loop computes, on lengths around the
    /// vector widths and the lookup threshold.
    #[test]
    fn wide_loops_match_plain_loops_bit_for_bit() {
        for len in [0, 1, 7, 63, 64, 65, 1000, 4099] {
            let x: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
            let y: Vec<f32> = (0..len).map(|i| (i as f32 * 0.11).cos()).collect();
            let step = |out: &mut [f32]| {
                for ((o, &a), &b) in out.iter_mut().zip(&x).zip(&y) {
                    *o = (a - 0.01 * b).max(0.0) + a * b;
                }
            };
            let mut plain = vec![0.0f32; len];
            step(&mut plain);
            let mut wide = vec![0.0f32; len];
            with_wide_vectors(len, || step(&mut wide));
            assert_eq!(
                plain.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                wide.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "len {len}"
            );
        }
    }
}
