//! Every knob of the scheduler, read and validated in one place ([`SchedulerConfig::from_lookup`]).
//!
//! | variable | values | default |
//! |---|---|---|
//! | `POOLGRAD_AUTOTUNE` | `off`, `cached`, `quick`, `full` | `cached` |
//! | `POOLGRAD_FORCE_KERNEL` | a registered kernel name | none |
//! | `POOLGRAD_TUNE_CACHE` | a file path | `$XDG_CACHE_HOME/poolgrad/tune-cache.txt`, else `~/.cache/poolgrad/tune-cache.txt` |
//! | `POOLGRAD_TUNE_MISS` | `calibrate`, `nearest` | `calibrate` |

use crate::fingerprint::Fingerprint;
use poolgrad_kernels::{KernelError, MatmulKernel, Par, Result, registry, settings};
use std::path::PathBuf;
use std::time::Duration;

/// How much the scheduler measures (`POOLGRAD_AUTOTUNE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Cost hints only: no timing, the cache file is neither read nor written.
    Off,
    /// The default: use the cache file; a shape missing from it is handled on first use as
    /// [`OnMiss`] says (quick calibration, or the nearest cached bucket). Nothing at startup.
    Cached,
    /// As `cached`, and the default shape set is calibrated at startup where the file lacks it.
    Quick,
    /// Full effort: the default shape set is re-measured at startup (cached entries for
    /// it are replaced) and misses are calibrated with the larger budget.
    Full,
}

impl Mode {
    /// Accepted values of `POOLGRAD_AUTOTUNE`.
    pub const ACCEPTED: &'static str = "off|cached|quick|full";

    /// Parses a `POOLGRAD_AUTOTUNE` value (case-insensitive).
    pub fn parse(s: &str) -> Option<Mode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" => Some(Mode::Off),
            "cached" => Some(Mode::Cached),
            "quick" => Some(Mode::Quick),
            "full" => Some(Mode::Full),
            _ => None,
        }
    }

    /// The name `POOLGRAD_AUTOTUNE` uses.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Cached => "cached",
            Mode::Quick => "quick",
            Mode::Full => "full",
        }
    }
}

/// What a lookup does for a shape with no cached winner (`POOLGRAD_TUNE_MISS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnMiss {
    /// Calibrate it now (once per bucket), record and persist the winner.
    Calibrate,
    /// Answer from the nearest measured bucket with the same layouts and threads (falling
    /// back to cost hints when there is none); never times anything on the lookup path.
    Nearest,
}

impl OnMiss {
    /// Accepted values of `POOLGRAD_TUNE_MISS`.
    pub const ACCEPTED: &'static str = "calibrate|nearest";

    /// Parses a `POOLGRAD_TUNE_MISS` value (case-insensitive).
    pub fn parse(s: &str) -> Option<OnMiss> {
        match s.trim().to_ascii_lowercase().as_str() {
            "calibrate" => Some(OnMiss::Calibrate),
            "nearest" => Some(OnMiss::Nearest),
            _ => None,
        }
    }
}

/// The measuring budget of one calibration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Effort {
    /// Untimed runs before timing (the first one also pays page faults and cold caches).
    pub warmup: usize,
    /// At most this many timed runs per candidate…
    pub max_runs: usize,
    /// …and no more once the calibration (warm-up included) took this much per candidate
    /// (at least one timed run each; a warm-up run that alone fills the budget counts as
    /// that run). Candidates run interleaved, one run per round.
    pub budget: Duration,
    /// Candidates whose cost hint exceeds this multiple of the best hint are not timed.
    pub prune_factor: f64,
    /// A candidate whose faster of its first two timed runs is slower than this multiple of
    /// the best is abandoned (it cannot win); during warm-up the bar is 4× higher.
    pub abort_ratio: f64,
}

impl Effort {
    /// `quick` (also used by `cached` for misses): 1 warm-up, min(5 ms, 30 runs).
    pub fn quick() -> Effort {
        Effort {
            warmup: 1,
            max_runs: 30,
            budget: Duration::from_millis(5),
            prune_factor: 4.0,
            abort_ratio: 2.0,
        }
    }

    /// `full`: 2 warm-ups, min(30 ms, 100 runs), wider pruning.
    pub fn full() -> Effort {
        Effort {
            warmup: 2,
            max_runs: 100,
            budget: Duration::from_millis(30),
            prune_factor: 16.0,
            abort_ratio: 3.0,
        }
    }

    /// The effort a mode calibrates with.
    pub fn for_mode(mode: Mode) -> Effort {
        match mode {
            Mode::Full => Effort::full(),
            _ => Effort::quick(),
        }
    }
}

/// Everything a [`Scheduler`](crate::Scheduler) is built from; tests fill it by hand so
/// they touch neither the real environment nor the real cache directory.
#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    /// `POOLGRAD_AUTOTUNE`.
    pub mode: Mode,
    /// `POOLGRAD_TUNE_MISS`.
    pub on_miss: OnMiss,
    /// `POOLGRAD_FORCE_KERNEL` (validated against `kernels` when the scheduler is built).
    pub forced: Option<String>,
    /// The cache file; `None` keeps choices in memory only.
    pub cache_path: Option<PathBuf>,
    /// The parallelism kernels are timed and run with (`settings().par()`).
    pub par: Par,
    /// The candidate kernels (default: the whole registry, in its order).
    pub kernels: Vec<&'static dyn MatmulKernel>,
    /// The calibration budget (default: from `mode`).
    pub effort: Effort,
    /// What the cache file's header must match (default: this host, this build).
    pub fingerprint: Fingerprint,
}

impl SchedulerConfig {
    /// A config for `mode` with the registry's kernels, the environment's parallelism, no
    /// cache file and no forced kernel.
    ///
    /// # Errors
    /// An invalid `POOLGRAD_*` kernels setting (from [`settings`]).
    pub fn new(mode: Mode) -> Result<SchedulerConfig> {
        let s = settings()?;
        Ok(SchedulerConfig::with_kernels(
            mode,
            s.par(),
            registry().iter().collect(),
        ))
    }

    /// A config for `mode` with explicit parallelism and candidates (and a fingerprint of
    /// this host for them), no cache file and no forced kernel.
    pub fn with_kernels(
        mode: Mode,
        par: Par,
        kernels: Vec<&'static dyn MatmulKernel>,
    ) -> SchedulerConfig {
        let isa = settings()
            .map(|s| s.isa.name())
            .unwrap_or("scalar")
            .to_string();
        let fingerprint = Fingerprint::host(&isa, par.threads(), &kernels);
        SchedulerConfig {
            mode,
            on_miss: OnMiss::Calibrate,
            forced: None,
            cache_path: None,
            par,
            kernels,
            effort: Effort::for_mode(mode),
            fingerprint,
        }
    }

    /// Reads the process environment.
    ///
    /// # Errors
    /// As [`SchedulerConfig::from_lookup`].
    pub fn from_env() -> Result<SchedulerConfig> {
        SchedulerConfig::from_lookup(|var| std::env::var(var).ok())
    }

    /// Parses the scheduler's variables from a lookup (the environment, or a map in tests).
    /// An empty value counts as unset.
    ///
    /// # Errors
    /// [`KernelError::InvalidEnv`] naming the variable, the value and the accepted values;
    /// errors of [`settings`].
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<SchedulerConfig> {
        let get = |var: &str| get(var).filter(|v| !v.trim().is_empty());
        let mode = match get("POOLGRAD_AUTOTUNE") {
            None => Mode::Cached,
            Some(v) => Mode::parse(&v).ok_or_else(|| KernelError::InvalidEnv {
                var: "POOLGRAD_AUTOTUNE",
                value: v,
                accepted: Mode::ACCEPTED.into(),
            })?,
        };
        let on_miss = match get("POOLGRAD_TUNE_MISS") {
            None => OnMiss::Calibrate,
            Some(v) => OnMiss::parse(&v).ok_or_else(|| KernelError::InvalidEnv {
                var: "POOLGRAD_TUNE_MISS",
                value: v,
                accepted: OnMiss::ACCEPTED.into(),
            })?,
        };
        let mut config = SchedulerConfig::new(mode)?;
        config.on_miss = on_miss;
        config.forced = get("POOLGRAD_FORCE_KERNEL").map(|v| v.trim().to_string());
        config.cache_path = match get("POOLGRAD_TUNE_CACHE") {
            Some(path) => Some(PathBuf::from(path)),
            None => default_cache_path(get("XDG_CACHE_HOME"), get("HOME")),
        };
        Ok(config)
    }
}

/// `$XDG_CACHE_HOME/poolgrad/tune-cache.txt`, else `$HOME/.cache/poolgrad/tune-cache.txt`;
/// `None` when neither is set (choices then live in memory only). A relative
/// `XDG_CACHE_HOME` is ignored, as the XDG spec asks.
pub fn default_cache_path(xdg_cache_home: Option<String>, home: Option<String>) -> Option<PathBuf> {
    let base = match xdg_cache_home.map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        _ => PathBuf::from(home?).join(".cache"),
    };
    Some(base.join("poolgrad").join("tune-cache.txt"))
}
