//! poolgrad-scheduler: measures the registered matmul kernels and remembers the winner per
//! shape, in memory and in a cache file (like FFTW's wisdom).
//!
//! - **Key** ([`ShapeKey`]): m, n, k bucketed (exact up to 16, then four buckets per
//!   octave), the layout class of a, b and c, and the thread count.
//! - **Calibration** ([`calibrate()`]): candidates that `supports` the problem, pruned by
//!   `cost_hint` (more than [`Effort::prune_factor`] × the best hint is skipped), most
//!   promising first; each gets warm-up runs, then timed runs until min(budget, max runs);
//!   the median wins. A candidate whose first run is far slower than the best so far is
//!   abandoned. Timed with the environment's parallelism (`settings().par()`).
//! - **Modes** (`POOLGRAD_AUTOTUNE`, see [`Mode`]): `off` (cost hints only, no file),
//!   `cached` (default: use the file, calibrate a missing shape on first use), `quick`
//!   (also calibrate the [`default_shapes`] missing from the file at startup), `full`
//!   (re-measure the default shapes at startup with a larger budget). A miss can instead be
//!   answered from the nearest measured bucket (`POOLGRAD_TUNE_MISS=nearest`).
//!   `POOLGRAD_FORCE_KERNEL=<name>` overrides every choice.
//! - **Persistence** ([`cache`]): `POOLGRAD_TUNE_CACHE` or the user's cache directory; a
//!   header (CPU, ISA, threads, version, kernel names) invalidates the file when anything
//!   changes; atomic writes; a damaged file is logged once and replaced.
//!
//! - **Logging**: target [`LOG_TARGET`] (`RUST_LOG=poolgrad=debug`).
//!
//! Errors are [`poolgrad_kernels::KernelError`], so callers handle one error type for
//! kernels and scheduling alike.
#![forbid(unsafe_code)]

pub mod cache;
mod calibrate;
mod config;
mod fingerprint;
mod key;
mod scheduler;
mod shapes;

pub use calibrate::{Calibration, KernelTiming, Skip, calibrate, layout_codes};
pub use config::{Effort, Mode, OnMiss, SchedulerConfig, default_cache_path};
pub use fingerprint::{Fingerprint, cpu_id, cpu_id_from};
pub use key::{ShapeKey, bucket};
pub use scheduler::{Choice, Scheduler, Source};
pub use shapes::{MAX_DIM, default_shapes, format_shape, layer_products, parse_shape};

use once_cell::sync::OnceCell;

/// The `log` target of every message of this crate, so `RUST_LOG=poolgrad=debug` (or
/// `poolgrad::scheduler=debug`) shows them: info for winners and cache events, debug for
/// per-kernel timings.
pub const LOG_TARGET: &str = "poolgrad::scheduler";
use poolgrad_kernels::{KernelError, Result};

/// The process-wide scheduler, built once from the environment on first use (the autograd
/// engine's default).
///
/// # Errors
/// The error of [`Scheduler::from_env`], the same on every call.
pub fn global() -> Result<&'static Scheduler> {
    static GLOBAL: OnceCell<std::result::Result<Scheduler, KernelError>> = OnceCell::new();
    GLOBAL
        .get_or_init(Scheduler::from_env)
        .as_ref()
        .map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + std::fmt::Debug>() {}

    #[test]
    fn scheduler_is_send_sync_debug() {
        assert_send_sync::<Scheduler>();
    }
}
