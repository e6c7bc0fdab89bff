//! Instruction sets poolgrad's SIMD kernels can use, detected once.

use std::fmt;

/// An instruction-set level, ordered from least to most capable on its architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Isa {
    /// Portable Rust, no explicit SIMD.
    Scalar,
    /// x86_64 AVX2 + FMA (256-bit).
    Avx2,
    /// x86_64 AVX-512F (512-bit).
    Avx512,
    /// aarch64 NEON (128-bit).
    Neon,
}

impl Isa {
    /// Every level, in the order `POOLGRAD_ISA` lists them.
    pub const ALL: [Isa; 4] = [Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Neon];

    /// The name used by `POOLGRAD_ISA` and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
        }
    }

    /// Parses a `POOLGRAD_ISA` value.
    pub fn parse(s: &str) -> Option<Isa> {
        Isa::ALL
            .into_iter()
            .find(|isa| isa.name() == s.trim().to_ascii_lowercase())
    }

    /// True when this host can execute this level (queried from the CPU, cached by std).
    pub fn host_has(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// Every level this host can execute, least capable first.
    pub fn host_levels() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|isa| isa.host_has()).collect()
    }

    /// The best level the host has.
    pub fn host_best() -> Isa {
        Isa::host_levels().into_iter().max().unwrap_or(Isa::Scalar)
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
