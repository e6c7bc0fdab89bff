//! `mp`: Strassen-form recursion at block granularity with `packed` as the base case.
//!
//! PLACEHOLDER (being replaced): currently delegates to `packed`.

use crate::kernel::MatmulKernel;
use crate::packed::PackedKernel;
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
}

impl MatmulKernel for StrassenKernel {
    fn name(&self) -> &'static str {
        "mp"
    }
    fn supports(&self, p: &Problem) -> bool {
        p.m.max(p.n).max(p.k) <= self.knobs().max_size
    }
    fn cost_hint(&self, p: &Problem) -> f64 {
        p.flops() / 200e9 + 4e-6
    }
    fn run(&self, a: MatRef<'_>, b: MatRef<'_>, c: MatMut<'_>, accum: Accum, par: Par) {
        PackedKernel::new().run(a, b, c, accum, par);
    }
}

crate::register_kernel!(StrassenKernel::new());
