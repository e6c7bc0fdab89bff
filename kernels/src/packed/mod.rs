//! `packed`: BLIS-style packing of A and B panels plus a register-blocked microkernel per
//! ISA (AVX-512, AVX2+FMA, NEON, scalar), chosen once at run time.
//!
//! PLACEHOLDER (being replaced): currently delegates to `tiled`.

use crate::isa::Isa;
use crate::kernel::MatmulKernel;
use crate::problem::{Accum, Par, Problem};
use crate::settings::settings;
use crate::tiled::TiledKernel;
use crate::view::{MatMut, MatRef};

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
}

impl MatmulKernel for PackedKernel {
    fn name(&self) -> &'static str {
        "packed"
    }
    fn isa(&self) -> &'static str {
        self.active_isa().name()
    }
    fn supports(&self, _problem: &Problem) -> bool {
        true
    }
    fn cost_hint(&self, p: &Problem) -> f64 {
        p.flops() / 200e9 + 2e-6
    }
    fn run(&self, a: MatRef<'_>, b: MatRef<'_>, c: MatMut<'_>, accum: Accum, par: Par) {
        TiledKernel.run(a, b, c, accum, par);
    }
}

crate::register_kernel!(PackedKernel::new());
