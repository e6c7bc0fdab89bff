//! Every `POOLGRAD_*` knob the kernels crate reads, parsed and validated in one place, once.

use crate::error::{KernelError, Result};
use crate::isa::Isa;
use crate::problem::Par;
use once_cell::sync::Lazy;

/// Knobs of the `mp` (Strassen-form) kernel.
///
/// mp applies one Strassen level (seven half-size products, fused into the packed
/// kernel's packing and write-back) when the problem is big enough, and plain `packed`
/// otherwise. With `h(d) = ⌊d/2 / packed_block⌋ · packed_block`, a problem `m×n×k` gets a
/// Strassen level iff `min(m, n, k) ≥ recurse_min` and `min(h(m), h(n), h(k)) ≥
/// base_threshold`; the `2h(m) × 2h(n) × 2h(k)` core is split into quadrants and the
/// ragged rest (odd sizes, remainders) is computed by ordinary packed products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MpSettings {
    /// `POOLGRAD_MP_MAX_SIZE`: mp supports (`supports()`) problems whose largest dimension
    /// is at most this; larger ones are refused. Default 16384.
    pub max_size: usize,
    /// `POOLGRAD_MP_BASE_THRESHOLD`: the smallest allowed half (quadrant) dimension: a
    /// problem is split only if every quadrant dimension `h(d)` is at least this, so the
    /// seven packed base products stay large enough to run near peak. Default 1024.
    pub base_threshold: usize,
    /// `POOLGRAD_MP_RECURSE_MIN`: a problem whose smallest dimension is below this is not
    /// split at all (mp then runs exactly packed). Default 2048: one level measured ≈ 0.94×
    /// packed at n = 1024 and ≈ 1.04× at 2048–4096.
    pub recurse_min: usize,
    /// `POOLGRAD_MP_PACKED_BLOCK`: split points are multiples of this many rows/columns, so
    /// quadrants stay aligned to the packed kernel's panels; the ragged edges are peeled.
    /// Default 64.
    pub packed_block: usize,
}

impl Default for MpSettings {
    fn default() -> Self {
        MpSettings {
            max_size: 16384,
            base_threshold: 1024,
            recurse_min: 2048,
            packed_block: 64,
        }
    }
}

/// The validated environment of the kernels crate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The best ISA kernels may use: the host's best, capped by `POOLGRAD_ISA` (element-wise
    /// passes use AVX2 when this is AVX2 or AVX-512, see `with_wide_vectors`).
    pub isa: Isa,
    /// `POOLGRAD_PAR=0|1`: whether kernels may use threads.
    pub parallel: bool,
    /// `POOLGRAD_THREADS=N`: how many threads (default: rayon's pool size).
    pub threads: usize,
    /// The mp knobs.
    pub mp: MpSettings,
}

impl Settings {
    /// The parallelism these settings allow.
    pub fn par(&self) -> Par {
        if self.parallel && self.threads > 1 {
            Par::Rayon(self.threads)
        } else {
            Par::Seq
        }
    }

    /// Parses settings from a variable lookup (the real environment, or a map in tests).
    ///
    /// # Errors
    /// [`KernelError::InvalidEnv`] naming the variable, its value and what is accepted.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings> {
        let isa = match get("POOLGRAD_ISA") {
            None => Isa::host_best(),
            Some(v) => {
                let accepted = Isa::host_levels()
                    .iter()
                    .map(|i| i.name())
                    .collect::<Vec<_>>()
                    .join("|");
                match Isa::parse(&v) {
                    Some(isa) if isa.host_has() => isa,
                    Some(_) => {
                        return Err(KernelError::InvalidEnv {
                            var: "POOLGRAD_ISA",
                            value: v,
                            accepted: format!("{accepted} (what this CPU has)"),
                        });
                    }
                    None => {
                        return Err(KernelError::InvalidEnv {
                            var: "POOLGRAD_ISA",
                            value: v,
                            accepted: format!("scalar|avx2|avx512|neon; this CPU has {accepted}"),
                        });
                    }
                }
            }
        };
        let parallel = match get("POOLGRAD_PAR").as_deref().map(str::trim) {
            None | Some("1") => true,
            Some("0") => false,
            Some(v) => {
                return Err(KernelError::InvalidEnv {
                    var: "POOLGRAD_PAR",
                    value: v.to_string(),
                    accepted: "0 (serial) or 1 (parallel)".into(),
                });
            }
        };
        let threads = match get("POOLGRAD_THREADS") {
            None => rayon::current_num_threads().max(1),
            Some(v) => parse_count("POOLGRAD_THREADS", &v, 1, 1024)?,
        };
        let d = MpSettings::default();
        let size = |var: &'static str, default: usize, min: usize| match get(var) {
            None => Ok(default),
            Some(v) => parse_count(var, &v, min, 1 << 20),
        };
        let mp = MpSettings {
            max_size: size("POOLGRAD_MP_MAX_SIZE", d.max_size, 1)?,
            base_threshold: size("POOLGRAD_MP_BASE_THRESHOLD", d.base_threshold, 16)?,
            recurse_min: size("POOLGRAD_MP_RECURSE_MIN", d.recurse_min, 32)?,
            packed_block: size("POOLGRAD_MP_PACKED_BLOCK", d.packed_block, 1)?,
        };
        Ok(Settings {
            isa,
            parallel,
            threads,
            mp,
        })
    }

    /// Reads the process environment.
    ///
    /// # Errors
    /// As [`Settings::from_lookup`].
    pub fn from_env() -> Result<Settings> {
        Settings::from_lookup(|var| std::env::var(var).ok())
    }
}

/// Parses an integer knob in `min..=max`.
fn parse_count(var: &'static str, value: &str, min: usize, max: usize) -> Result<usize> {
    match value.trim().parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(KernelError::InvalidEnv {
            var,
            value: value.to_string(),
            accepted: format!("an integer from {min} to {max}"),
        }),
    }
}

static SETTINGS: Lazy<Result<Settings>> = Lazy::new(Settings::from_env);

/// The process-wide settings, read from the environment on first use.
///
/// # Errors
/// The first invalid `POOLGRAD_*` value found (the same error on every call).
pub fn settings() -> Result<&'static Settings> {
    SETTINGS.as_ref().map_err(Clone::clone)
}
