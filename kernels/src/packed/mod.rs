//! `packed`: BLIS-style packing of A and B panels plus a register-blocked microkernel per
//! ISA (AVX-512F, AVX2+FMA, NEON, portable), chosen once at run time.
//!
//! Rooms: `driver.rs` holds the loop nest, `pack.rs` the packing, `microkernel.rs` the
//! generic tile body, one file per ISA instantiates it, `blocking.rs` fits the block sizes
//! to the caches, `scratch.rs` keeps the per-thread packing buffers, `parallel.rs` the
//! thread policy, `vector.rs` the loops for products with one row or column of C (or a
//! few rows). The
//! fused entry [`fused`] also serves `mp` (Strassen with the operand additions done while
//! packing and the C updates in the write-back).

mod avx2;
mod avx512;
mod blocking;
mod driver;
mod microkernel;
mod neon;
mod pack;
mod parallel;
mod scalar;
mod scratch;
mod transpose;
mod vector;

pub use blocking::{Blocking, CacheSizes, SlabRule, cache_sizes};
pub use parallel::{run_chunks, run_parts};
pub use scratch::scratch_bytes;

pub(crate) use driver::{CDst, Product};
pub(crate) use pack::Term;

use crate::isa::Isa;
use crate::kernel::MatmulKernel;
use crate::problem::{Accum, Layout, Par, Problem};
use crate::settings::settings;
use crate::view::{MatMut, MatRef};
use microkernel::Micro;
use once_cell::sync::Lazy;

/// The packed kernel; by default it uses the ISA from [`settings`], or a pinned one.
#[derive(Clone, Copy, Debug, Default)]
pub struct PackedKernel {
    pinned: Option<Isa>,
}

impl PackedKernel {
    /// The registered kernel: uses the best ISA allowed by the environment.
    pub const fn new() -> PackedKernel {
        PackedKernel { pinned: None }
    }

    /// A kernel pinned to one ISA path, for tests and comparisons; `None` when this host
    /// cannot execute `isa`.
    pub fn with_isa(isa: Isa) -> Option<PackedKernel> {
        isa.host_has().then_some(PackedKernel { pinned: Some(isa) })
    }

    /// The ISA this kernel runs with.
    pub fn active_isa(&self) -> Isa {
        self.pinned
            .unwrap_or_else(|| settings().map(|s| s.isa).unwrap_or(Isa::Scalar))
    }

    /// The microkernel and block sizes this kernel runs with.
    pub(crate) fn plan(&self) -> (Micro, Blocking) {
        static DEFAULT: Lazy<(Micro, Blocking)> =
            Lazy::new(|| plan_for(PackedKernel::new().active_isa()));
        match self.pinned {
            None => *DEFAULT,
            Some(isa) => plan_for(isa),
        }
    }

    /// The block sizes this kernel runs with (for reports and `mp`'s split alignment);
    /// products with several destinations use [`Blocking::for_destinations`] of these.
    pub fn blocking(&self) -> Blocking {
        self.plan().1
    }

    /// The microkernel tile `(MR, NR)`.
    pub fn tile(&self) -> (usize, usize) {
        let (micro, _) = self.plan();
        (micro.mr, micro.nr)
    }
}

/// The microkernel for `isa` (which the host has) and its block sizes.
fn plan_for(isa: Isa) -> (Micro, Blocking) {
    debug_assert!(isa.host_has());
    let micro = match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if isa.host_has() => avx512::micro(),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 if isa.host_has() => avx2::micro(),
        #[cfg(target_arch = "aarch64")]
        Isa::Neon if isa.host_has() => neon::micro(),
        _ => scalar::micro(),
    };
    (micro, Blocking::new(micro.mr, micro.nr, cache_sizes()))
}

/// Runs one fused product with this kernel's plan and up to `par` threads.
///
/// # Safety
/// As `driver::run`: terms and destinations address valid, disjoint memory for the
/// product's shape; at most four destinations.
pub(crate) unsafe fn fused(kernel: &PackedKernel, p: Product<'_>, par: Par) {
    // Several destinations (fused Strassen products) take deeper slabs (see
    // `Blocking::for_destinations`).
    let (micro, blk) = kernel.plan();
    let blk = if p.c.len() > 1 {
        blk.for_destinations(micro.mr, micro.nr, cache_sizes(), SlabRule::host())
    } else {
        blk
    };
    let threads = parallel::threads_for(p.m, p.n, p.k, par.threads());
    // SAFETY: the ISA of `micro` was detected (plan_for); operand validity is the caller's.
    unsafe { driver::run(micro, blk, p, threads) };
}

/// The single term of a checked view of A (x = row, p = column).
pub(crate) fn a_term(a: &MatRef<'_>) -> Term {
    Term {
        ptr: a.as_slice().as_ptr(),
        xs: a.row_stride(),
        ps: a.col_stride(),
        coef: 1.0,
    }
}

/// The single term of a checked view of B (x = column, p = row).
pub(crate) fn b_term(b: &MatRef<'_>) -> Term {
    Term {
        ptr: b.as_slice().as_ptr(),
        xs: b.col_stride(),
        ps: b.row_stride(),
        coef: 1.0,
    }
}

/// The single destination of a checked view of C.
pub(crate) fn c_dst(c: &mut MatMut<'_>, accum: Accum) -> CDst {
    CDst {
        rs: c.row_stride(),
        cs: c.col_stride(),
        ptr: c.as_mut_slice().as_mut_ptr(),
        coef: 1.0,
        overwrite: accum == Accum::Replace,
    }
}

impl MatmulKernel for PackedKernel {
    fn name(&self) -> &'static str {
        "packed"
    }
    fn description(&self) -> &'static str {
        "BLIS-style packed panels + register-blocked SIMD microkernel, rayon above a threshold"
    }
    fn isa(&self) -> &'static str {
        self.active_isa().name()
    }
    fn supports(&self, _problem: &Problem) -> bool {
        true
    }
    fn cost_hint(&self, p: &Problem) -> f64 {
        let (micro, blk) = self.plan();
        // Peak multiply-add rate per core for the ISA (one thread), derated for tile waste.
        let peak = match self.active_isa() {
            Isa::Avx512 => 250e9,
            Isa::Avx2 => 120e9,
            Isa::Neon => 60e9,
            Isa::Scalar => 16e9,
        };
        let (compute, packed) = if p.m == 1 || p.n == 1 {
            // Matrix-vector loops (`vector.rs`): bound by reading the matrix once, about a
            // fifth of the tile rate (40–55 GFLOP/s at 256–1024 on Zen 5), nothing packed.
            (p.flops() / (peak * 0.2), 0.0)
        } else if let Some(passes) = summed_row_passes(p) {
            // A few rows as summed rows (`driver::summed_rows`): each pass reads B once, as a
            // matrix-vector product does, plus the FMAs at the tile rate. Zen 5, k = n =
            // 1024: 2, 4, 5 and 8 rows measured 50, 72, 84 and 140 µs; this gives 59, 76,
            // 84 and 151.
            let pass = 2.0 * (p.k * p.n) as f64 / (peak * 0.2);
            (passes as f64 * pass + p.flops() / peak, 0.0)
        } else {
            let rows_fill = p.m as f64 / micro.padded_rows(p.m).max(1) as f64;
            let cols_fill = p.n as f64 / micro.padded_cols(p.n).max(1) as f64;
            let eff = rows_fill * cols_fill;
            // Packing: A once per NC block, B once; about 1 ns per packed float.
            let packed = (p.m * p.k * p.n.div_ceil(blk.nc) + p.k * p.n) as f64 * 1e-9 * 0.5;
            (p.flops() / (peak * eff.max(0.05)), packed)
        };
        let threads = settings().map(|s| s.par().threads()).unwrap_or(1);
        let threads = parallel::threads_for(p.m, p.n, p.k, threads) as f64;
        (compute + packed) / (threads * 0.95).max(1.0) + 3e-7
    }
    fn run(&self, a: MatRef<'_>, b: MatRef<'_>, mut c: MatMut<'_>, accum: Accum, par: Par) {
        let (at, bt) = ([a_term(&a)], [b_term(&b)]);
        let ct = [c_dst(&mut c, accum)];
        let p = Product {
            m: c.rows(),
            n: c.cols(),
            k: a.cols(),
            a: &at,
            b: &bt,
            c: &ct,
        };
        // SAFETY: the views were checked when built (every addressed element in bounds, C
        // injective) and `run`'s contract says C shares no memory with A or B; `c` stays
        // mutably borrowed for the call.
        unsafe { fused(self, p, par) };
    }
}

/// Passes over B the summed-rows path makes for `p` (B and C row-major, taking a
/// contiguous B's row stride, as [`Problem`] gives only layouts), or `None` where `p` runs
/// as tiles.
fn summed_row_passes(p: &Problem) -> Option<usize> {
    let b = pack::Term {
        ptr: std::ptr::null(),
        xs: 1,
        ps: p.n,
        coef: 1.0,
    };
    (p.b == Layout::RowMajor && p.c == Layout::RowMajor && driver::summed_rows(p.m, p.n, p.k, &b))
        .then(|| vector::axpy_passes(p.m))
}

crate::register_kernel!(PackedKernel::new());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_rows_against_4_kib_b_rows_are_hinted_as_passes_over_b() {
        let kernel = PackedKernel::new();
        let hint = |m, n, k| kernel.cost_hint(&Problem::new(m, n, k));
        // Summed rows read B once per pass: two rows cost well under twice one row (the
        // tile model with its B packing made it 6.8×); seven rows take one pass, eight two.
        let one = hint(1, 1024, 1024);
        assert!(
            hint(2, 1024, 1024) < 2.0 * one,
            "{} vs {one}",
            hint(2, 1024, 1024)
        );
        assert_eq!(summed_row_passes(&Problem::new(7, 1024, 1024)), Some(1));
        assert_eq!(summed_row_passes(&Problem::new(8, 1024, 1024)), Some(2));
        // Tiles elsewhere: B rows not 4 KiB apart beyond two rows, a column-major B or C.
        assert_eq!(summed_row_passes(&Problem::new(4, 1000, 1000)), None);
        let b_cols = Problem {
            b: Layout::ColMajor,
            ..Problem::new(2, 1024, 1024)
        };
        assert_eq!(summed_row_passes(&b_cols), None);
        let c_cols = Problem {
            c: Layout::ColMajor,
            ..Problem::new(2, 1024, 1024)
        };
        assert_eq!(summed_row_passes(&c_cols), None);
    }
}
