//! `mp`: Strassen-form recursion at block granularity with `packed` as the base case.
//!
//! Split points are multiples of `packed_block`; the ragged edges of odd sizes are peeled
//! off with ordinary packed products. The operand sums and the C updates of each product
//! are fused into the packed kernel's packing and write-back (see `strassen.rs`), so one
//! level costs seven packed-style products and no temporaries.

mod strassen;

use crate::kernel::MatmulKernel;
use crate::packed::{PackedKernel, a_term, b_term, c_dst};
use crate::problem::{Accum, Par, Problem};
use crate::settings::{MpSettings, settings};
use crate::view::{MatMut, MatRef};

/// The Strassen-form kernel, with its knobs from the environment or given in code.
#[derive(Clone, Copy, Debug, Default)]
pub struct StrassenKernel {
    knobs: Option<MpSettings>,
}

impl StrassenKernel {
    /// The registered kernel: knobs from `POOLGRAD_MP_*`.
    pub const fn new() -> StrassenKernel {
        StrassenKernel { knobs: None }
    }

    /// A kernel with explicit knobs (tests, experiments).
    pub fn with_settings(knobs: MpSettings) -> StrassenKernel {
        StrassenKernel { knobs: Some(knobs) }
    }

    /// The knobs in force.
    pub fn knobs(&self) -> MpSettings {
        self.knobs
            .unwrap_or_else(|| settings().map(|s| s.mp).unwrap_or_default())
    }

    /// Strassen levels this kernel applies to an `m×n×k` problem (0: plain packed).
    pub fn levels(&self, m: usize, n: usize, k: usize) -> usize {
        let knobs = self.knobs();
        if m.min(n).min(k) < knobs.recurse_min {
            return 0;
        }
        let mut dims = [m, n, k];
        let mut levels = 0;
        while levels < strassen::MAX_LEVELS {
            let halves = dims.map(|d| strassen::half(d, knobs.packed_block));
            if halves.iter().min().copied().unwrap_or(0) < knobs.base_threshold.max(1) {
                break;
            }
            dims = halves;
            levels += 1;
        }
        levels
    }
}

impl MatmulKernel for StrassenKernel {
    fn name(&self) -> &'static str {
        "mp"
    }
    fn description(&self) -> &'static str {
        "Strassen (fused into packing and write-back) over blocks, packed as the base case"
    }
    fn isa(&self) -> &'static str {
        PackedKernel::new().active_isa().name()
    }
    fn supports(&self, p: &Problem) -> bool {
        p.m.max(p.n).max(p.k) <= self.knobs().max_size
    }
    fn cost_hint(&self, p: &Problem) -> f64 {
        let packed = PackedKernel::new().cost_hint(p);
        // A level does 7/8 of the multiplications; the fused packing and the doubled C
        // updates take back part of it: measured 1.06–1.07× packed at n = 2048 and 3072 on
        // one thread (thread CPU time), so a level costs 1/1.065 of packed. The hint must
        // stay below packed's where mp has levels, or pruning would skip it.
        let levels = self.levels(p.m, p.n, p.k) as i32;
        packed * (1.0f64 / 1.065).powi(levels) + 1e-6
    }
    fn run(&self, a: MatRef<'_>, b: MatRef<'_>, mut c: MatMut<'_>, accum: Accum, par: Par) {
        let kernel = PackedKernel::new();
        let knobs = self.knobs();
        let (m, n, k) = (c.rows(), c.cols(), a.cols());
        let (at, bt) = ([a_term(&a)], [b_term(&b)]);
        let ct = [c_dst(&mut c, accum)];
        if self.levels(m, n, k) == 0 {
            kernel.run(a, b, c, accum, par);
            return;
        }
        let plan = strassen::Plan {
            levels: self.levels(m, n, k),
            base: knobs.base_threshold,
            block: knobs.packed_block.max(1),
            par,
        };
        // SAFETY: the views were checked when built and C shares no memory with A or B
        // (`run`'s contract); `c` stays mutably borrowed for the call.
        unsafe { strassen::multiply(&kernel, plan, (m, n, k), &at, &bt, &ct) };
    }
}

crate::register_kernel!(StrassenKernel::new());
