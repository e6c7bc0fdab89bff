//! The measured FMA peak of one thread: independent multiply-add chains on one ISA path,
//! so reports can state "% of peak" against this host rather than a number from a data
//! sheet.
//!
//! Each path keeps enough independent accumulator chains in registers to cover the FMA
//! latency times the number of FMA pipes (24 zmm chains on AVX-512, 12 ymm on AVX2, 24 q
//! registers on NEON), runs short bursts for about `seconds`, and reports the best burst,
//! so a burst disturbed by another process does not lower the figure. On AMD Zen 4 the
//! AVX-512 figure is about that of AVX2 (512-bit FMAs are double-pumped): ≈ 117 GFLOP/s at
//! 3.7 GHz, where Zen 5 reaches ≈ 265.

use crate::isa::Isa;
use std::hint::black_box;
use std::time::Instant;

/// GFLOP/s (2 FLOP per lane per FMA) of one thread running independent FMA chains on
/// `isa`'s registers for about `seconds` (best of several bursts). Falls back to the
/// portable estimate when the host lacks `isa`; the portable path counts separate multiply
/// and add as what the compiler makes of them (an estimate, not a hardware peak).
pub fn measure_fma_peak(isa: Isa, seconds: f64) -> f64 {
    let seconds = if seconds.is_finite() {
        seconds.clamp(1e-4, 60.0)
    } else {
        0.1
    };
    let (burst, flops_per_iter): (fn(u64) -> f32, f64) = match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if isa.host_has() => (x86::burst_avx512, x86::AVX512_FLOPS),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 if isa.host_has() => (x86::burst_avx2, x86::AVX2_FLOPS),
        #[cfg(target_arch = "aarch64")]
        Isa::Neon if isa.host_has() => (arm::burst_neon, arm::NEON_FLOPS),
        _ => (burst_portable, PORTABLE_FLOPS),
    };
    // Size a burst to about a tenth of the budget (at least ~50 µs of work).
    let mut iters: u64 = 1024;
    loop {
        let t = Instant::now();
        black_box(burst(black_box(iters)));
        let dt = t.elapsed().as_secs_f64();
        if dt >= (seconds / 10.0).min(0.01) || iters >= 1 << 40 {
            break;
        }
        iters *= 2;
    }
    let start = Instant::now();
    let mut best: f64 = 0.0;
    loop {
        let t = Instant::now();
        black_box(burst(black_box(iters)));
        let dt = t.elapsed().as_secs_f64().max(1e-9);
        best = best.max(iters as f64 * flops_per_iter / dt / 1e9);
        if start.elapsed().as_secs_f64() >= seconds {
            break;
        }
    }
    best
}

const PORTABLE_CHAINS: usize = 16;
const PORTABLE_FLOPS: f64 = 2.0 * PORTABLE_CHAINS as f64;

/// Portable chains `a = a·x + y` (the compiler may vectorise across chains).
fn burst_portable(iters: u64) -> f32 {
    let mut acc = [0.0f32; PORTABLE_CHAINS];
    for (i, a) in acc.iter_mut().enumerate() {
        *a = i as f32 * 1e-3;
    }
    let (x, y) = (black_box(0.999_999f32), black_box(1e-7f32));
    for _ in 0..iters {
        for a in acc.iter_mut() {
            *a = *a * x + y;
        }
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    const CHAINS_512: usize = 24;
    const CHAINS_256: usize = 12;
    pub(super) const AVX512_FLOPS: f64 = (2 * 16 * CHAINS_512) as f64;
    pub(super) const AVX2_FLOPS: f64 = (2 * 8 * CHAINS_256) as f64;

    pub(super) fn burst_avx512(iters: u64) -> f32 {
        // SAFETY: reached only through `measure_fma_peak` after `Isa::Avx512.host_has()`.
        unsafe { chains_avx512(iters) }
    }

    pub(super) fn burst_avx2(iters: u64) -> f32 {
        // SAFETY: reached only through `measure_fma_peak` after `Isa::Avx2.host_has()`
        // (AVX2 and FMA detected).
        unsafe { chains_avx2(iters) }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn chains_avx512(iters: u64) -> f32 {
        let x = _mm512_set1_ps(0.999_999);
        let y = _mm512_set1_ps(1e-7);
        let mut acc = [_mm512_setzero_ps(); CHAINS_512];
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm512_fmadd_ps(*a, x, y);
            }
        }
        let mut sum = _mm512_setzero_ps();
        for a in acc {
            sum = _mm512_add_ps(sum, a);
        }
        _mm512_reduce_add_ps(sum)
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn chains_avx2(iters: u64) -> f32 {
        let x = _mm256_set1_ps(0.999_999);
        let y = _mm256_set1_ps(1e-7);
        let mut acc = [_mm256_setzero_ps(); CHAINS_256];
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm256_fmadd_ps(*a, x, y);
            }
        }
        let mut sum = _mm256_setzero_ps();
        for a in acc {
            sum = _mm256_add_ps(sum, a);
        }
        let mut lanes = [0.0f32; 8];
        // SAFETY: `lanes` holds 8 f32, the width of one ymm store (unaligned store).
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
        lanes.iter().sum()
    }
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use std::arch::aarch64::*;

    const CHAINS: usize = 24;
    pub(super) const NEON_FLOPS: f64 = (2 * 4 * CHAINS) as f64;

    pub(super) fn burst_neon(iters: u64) -> f32 {
        // SAFETY: reached only through `measure_fma_peak` after `Isa::Neon.host_has()`.
        unsafe { chains_neon(iters) }
    }

    #[target_feature(enable = "neon")]
    unsafe fn chains_neon(iters: u64) -> f32 {
        let x = vdupq_n_f32(0.999_999);
        let y = vdupq_n_f32(1e-7);
        let mut acc = [vdupq_n_f32(0.0); CHAINS];
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = vfmaq_f32(y, *a, x);
            }
        }
        let mut sum = vdupq_n_f32(0.0);
        for a in acc {
            sum = vaddq_f32(sum, a);
        }
        vaddvq_f32(sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_host_path_reports_a_positive_finite_rate() {
        for isa in Isa::ALL {
            let g = measure_fma_peak(isa, 0.003);
            assert!(g.is_finite() && g > 0.0, "{isa}: {g}");
        }
        // Nonsense budgets are clamped, not trusted.
        let g = measure_fma_peak(Isa::Scalar, f64::NAN);
        assert!(g.is_finite() && g > 0.0);
    }
}
