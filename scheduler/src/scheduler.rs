//! [`Scheduler`]: the per-key cache of choices, the lookup path, calibration on a miss and
//! persistence.

use crate::cache::{self, FileEntry, LoadOutcome};
use crate::calibrate::{Calibration, calibrate, layout_codes};
use crate::config::{Mode, OnMiss, SchedulerConfig};
use crate::key::{KeyHashBuilder, ShapeKey};
use crate::shapes::default_shapes;
use poolgrad_kernels::{
    Accum, KernelError, MatMut, MatRef, MatmulKernel, Problem, Result, check_operands,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};

/// Where a cached choice came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Timed in this process.
    Measured,
    /// Read from the cache file.
    Loaded,
    /// Borrowed from the nearest measured bucket (`POOLGRAD_TUNE_MISS=nearest`); not persisted.
    Nearest,
    /// The lowest cost hint (`POOLGRAD_AUTOTUNE=off`, or nothing measured nearby); not persisted.
    Hint,
}

/// A remembered choice for one key.
#[derive(Clone, Debug)]
pub struct Choice {
    pub kernel: &'static dyn MatmulKernel,
    pub source: Source,
    /// The winner's median seconds when measured (NaN otherwise).
    pub median_s: f64,
    /// The real shape that was measured for this bucket (the asked one otherwise).
    pub shape: (usize, usize, usize),
    /// Every timed candidate `(name, median seconds)`, fastest first.
    pub timings: Vec<(&'static str, f64)>,
}

type Map = HashMap<ShapeKey, Choice, KeyHashBuilder>;

/// Picks a kernel per problem: a forced one, else the remembered winner for the problem's
/// [`ShapeKey`], else what the mode says for a miss (see the crate docs).
///
/// Thread-safe: lookups take a shared read lock on the map; calibrations are serialised by
/// one mutex (timings taken in parallel would disturb each other) and re-check the map under
/// it, so every thread sees the first winner recorded for a key. A miss therefore blocks
/// while another thread calibrates; calling [`choose`](Scheduler::choose) from inside a
/// kernel's own rayon tasks during a calibration would wait on itself, so don't.
#[derive(Debug)]
pub struct Scheduler {
    config: SchedulerConfig,
    forced: Option<&'static dyn MatmulKernel>,
    map: RwLock<Map>,
    calibrating: Mutex<()>,
    load: LoadOutcome,
    /// Set once a failed write was reported, so it is reported once.
    write_warned: AtomicBool,
}

impl Scheduler {
    /// A scheduler configured from the environment (see [`SchedulerConfig::from_lookup`]);
    /// in `quick`/`full` mode it calibrates the default shape set before returning.
    ///
    /// # Errors
    /// An invalid `POOLGRAD_*` value, or a forced kernel name that is not registered.
    pub fn from_env() -> Result<Scheduler> {
        Scheduler::with_config(SchedulerConfig::from_env()?)
    }

    /// A scheduler from an explicit config: resolves the forced kernel, reads the cache file
    /// (unless the mode is `off`) and, in `quick`/`full` mode, calibrates the default shapes.
    ///
    /// # Errors
    /// [`KernelError::UnknownKernel`] listing the candidates when `config.forced` names none
    /// of them; [`KernelError::InvalidSetting`] when there are no candidates.
    pub fn with_config(config: SchedulerConfig) -> Result<Scheduler> {
        if config.kernels.is_empty() {
            return Err(KernelError::InvalidSetting {
                name: "SchedulerConfig::kernels",
                value: "[]".into(),
                accepted: "at least one kernel".into(),
            });
        }
        let forced = match &config.forced {
            None => None,
            Some(name) => Some(
                config
                    .kernels
                    .iter()
                    .copied()
                    .find(|k| k.name() == name)
                    .ok_or_else(|| KernelError::UnknownKernel {
                        name: name.clone(),
                        known: config.kernels.iter().map(|k| k.name().into()).collect(),
                    })?,
            ),
        };
        let (load, entries) = match (&config.cache_path, config.mode) {
            (Some(path), mode) if mode != Mode::Off => cache::read(path, &config.fingerprint),
            _ => (LoadOutcome::Disabled, Vec::new()),
        };
        let mut map = Map::default();
        for e in entries {
            if let Some(kernel) = config
                .kernels
                .iter()
                .copied()
                .find(|k| k.name() == e.winner)
            {
                let timings = e
                    .timings
                    .iter()
                    .filter_map(|(name, t)| {
                        let k = config.kernels.iter().find(|k| k.name() == name)?;
                        Some((k.name(), *t))
                    })
                    .collect();
                map.insert(
                    e.key,
                    Choice {
                        kernel,
                        source: Source::Loaded,
                        median_s: e.median_s,
                        shape: e.shape,
                        timings,
                    },
                );
            }
        }
        let path = config
            .cache_path
            .as_ref()
            .map_or_else(|| "-".into(), |p| p.display().to_string());
        match &load {
            LoadOutcome::Corrupt(why) => {
                log::warn!(target: crate::LOG_TARGET, "autotune cache {path} is unusable ({why}); it will be replaced")
            }
            LoadOutcome::Stale { field, file, now } => log::info!(
            target: crate::LOG_TARGET,
                "autotune cache {path} was written for another {field} ({file:?}, now {now:?}); \
                 it will be replaced"
            ),
            LoadOutcome::Loaded { entries, dropped } => {
                log::info!(target: crate::LOG_TARGET, "autotune cache {path}: {entries} entries loaded, {dropped} dropped")
            }
            LoadOutcome::Missing | LoadOutcome::Disabled => {}
        }
        let scheduler = Scheduler {
            forced,
            map: RwLock::new(map),
            calibrating: Mutex::new(()),
            load,
            write_warned: AtomicBool::new(false),
            config,
        };
        if matches!(scheduler.load, LoadOutcome::Corrupt(_)) {
            scheduler.persist(); // replace it now, so it is reported once
        }
        // A forced kernel answers everything: nothing to calibrate at startup.
        match scheduler.config.mode {
            _ if scheduler.forced.is_some() => Vec::new(),
            Mode::Quick => scheduler.calibrate_many(&default_shapes(), false)?,
            Mode::Full => scheduler.calibrate_many(&default_shapes(), true)?,
            Mode::Off | Mode::Cached => Vec::new(),
        };
        Ok(scheduler)
    }

    /// The configuration this scheduler was built from.
    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    /// What reading the cache file found when this scheduler was built.
    pub fn load_outcome(&self) -> &LoadOutcome {
        &self.load
    }

    /// The kernel forced by `POOLGRAD_FORCE_KERNEL`, if any.
    pub fn forced(&self) -> Option<&'static dyn MatmulKernel> {
        self.forced
    }

    /// The kernel to use for `problem`: the forced one; else the cached choice for its key
    /// (re-checked with `supports` on the real shape, falling back to the lowest cost hint);
    /// else, on a miss, a fresh calibration, the nearest bucket or the lowest cost hint, as
    /// configured. Cheap when cached: one read lock and one hash lookup.
    ///
    /// # Errors
    /// [`KernelError::Unsupported`] when the forced kernel, or every candidate, cannot run it.
    pub fn choose(&self, problem: &Problem) -> Result<&'static dyn MatmulKernel> {
        if let Some(kernel) = self.forced {
            return if kernel.supports(problem) {
                Ok(kernel)
            } else {
                Err(KernelError::Unsupported {
                    kernel: kernel.name().into(),
                    reason: format!(
                        "forced by POOLGRAD_FORCE_KERNEL but it does not support {}",
                        crate::format_shape(problem)
                    ),
                })
            };
        }
        let key = ShapeKey::of(problem, self.config.par.threads());
        let cached = self
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .map(|c| c.kernel);
        match cached {
            Some(kernel) if kernel.supports(problem) => Ok(kernel),
            Some(_) => self.by_hint(problem),
            None => self.on_miss(problem, key),
        }
    }

    /// Checks the operands, chooses a kernel and runs it with the configured parallelism.
    ///
    /// # Errors
    /// Shape errors from [`check_operands`], or from [`Scheduler::choose`].
    pub fn matmul(&self, a: MatRef<'_>, b: MatRef<'_>, c: MatMut<'_>, accum: Accum) -> Result<()> {
        check_operands("matmul", &a, &b, &c)?;
        let kernel = self.choose(&Problem::of(&a, &b, &c))?;
        kernel.matmul_with(a, b, c, accum, self.config.par)
    }

    /// Times the candidates on `problem` now, records the winner for its key (replacing any
    /// earlier choice) and persists the cache. Works in every mode (in `off` nothing is
    /// written).
    ///
    /// # Errors
    /// [`KernelError::Unsupported`] when no candidate supports the problem.
    pub fn calibrate(&self, problem: &Problem) -> Result<Calibration> {
        let mut out = self.calibrate_many(std::slice::from_ref(problem), true)?;
        Ok(out.remove(0))
    }

    /// Calibrates `problems` (all of them when `again`, else only keys without a choice),
    /// records the winners and persists the cache once at the end. Returns the calibrations
    /// made, in order.
    ///
    /// # Errors
    /// [`KernelError::Unsupported`] for the first problem no candidate supports.
    pub fn calibrate_many(&self, problems: &[Problem], again: bool) -> Result<Vec<Calibration>> {
        self.calibrate_many_with(problems, again, |_, _| {})
    }

    /// [`calibrate_many`](Scheduler::calibrate_many), calling `progress(index, problem)`
    /// before each problem it measures (for progress lines).
    ///
    /// # Errors
    /// As [`calibrate_many`](Scheduler::calibrate_many).
    pub fn calibrate_many_with(
        &self,
        problems: &[Problem],
        again: bool,
        mut progress: impl FnMut(usize, &Problem),
    ) -> Result<Vec<Calibration>> {
        let _serial = self.calibrating.lock().unwrap_or_else(|e| e.into_inner());
        let mut done = Vec::new();
        let mut result = Ok(());
        for (i, problem) in problems.iter().enumerate() {
            let key = ShapeKey::of(problem, self.config.par.threads());
            if !again && self.is_measured(&key) {
                continue;
            }
            progress(i, problem);
            match self.calibrate_locked(problem, key) {
                Ok(cal) => done.push(cal),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if !done.is_empty() {
            self.persist();
        }
        result.map(|()| done)
    }

    /// Every remembered choice, sorted by key.
    pub fn entries(&self) -> Vec<(ShapeKey, Choice)> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<_> = map.iter().map(|(k, c)| (*k, c.clone())).collect();
        out.sort_by_key(|(k, _)| *k);
        out
    }

    /// The remembered choice for `problem`'s key, if any (no calibration).
    pub fn cached(&self, problem: &Problem) -> Option<Choice> {
        let key = ShapeKey::of(problem, self.config.par.threads());
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned()
    }

    fn is_measured(&self, key: &ShapeKey) -> bool {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .is_some_and(|c| matches!(c.source, Source::Measured | Source::Loaded))
    }

    /// A miss: calibrate, borrow the nearest bucket, or take the lowest hint.
    fn on_miss(&self, problem: &Problem, key: ShapeKey) -> Result<&'static dyn MatmulKernel> {
        match (self.config.mode, self.config.on_miss) {
            (Mode::Off, _) => self.remember_hint(problem, key),
            (_, OnMiss::Calibrate) => {
                let _serial = self.calibrating.lock().unwrap_or_else(|e| e.into_inner());
                // Another thread may have calibrated this key while we waited: its answer
                // stands (a recorded key is never re-measured on a miss, so every thread
                // keeps getting the same kernel for the same problem).
                let cached = self
                    .map
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&key)
                    .map(|c| c.kernel);
                match cached {
                    Some(kernel) if kernel.supports(problem) => return Ok(kernel),
                    Some(_) => return self.by_hint(problem),
                    None => {}
                }
                let cal = self.calibrate_locked(problem, key)?;
                self.persist();
                Ok(cal.winner)
            }
            (_, OnMiss::Nearest) => match self.nearest(problem, &key) {
                Some(choice) => {
                    let kernel = choice.kernel;
                    self.insert_if_absent(key, choice);
                    Ok(kernel)
                }
                None => self.remember_hint(problem, key),
            },
        }
    }

    /// Calibrates and records; the caller holds `calibrating`.
    fn calibrate_locked(&self, problem: &Problem, key: ShapeKey) -> Result<Calibration> {
        let cal = calibrate(
            problem,
            &self.config.kernels,
            self.config.par,
            &self.config.effort,
        )
        .ok_or_else(|| self.unsupported(problem))?;
        log::info!(
            target: crate::LOG_TARGET,
            "autotune {}x{}x{} {} ({} threads): {} wins at {:.1} µs ({} timed, {} skipped, {:.1} ms)",
            problem.m,
            problem.n,
            problem.k,
            layout_codes(problem),
            key.threads,
            cal.winner.name(),
            cal.winner_median_s() * 1e6,
            cal.timings.len(),
            cal.skipped.len(),
            cal.elapsed.as_secs_f64() * 1e3
        );
        let choice = Choice {
            kernel: cal.winner,
            source: Source::Measured,
            median_s: cal.winner_median_s(),
            shape: (problem.m, problem.n, problem.k),
            timings: cal
                .timings
                .iter()
                .filter(|t| !t.aborted)
                .map(|t| (t.kernel, t.median_s))
                .collect(),
        };
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, choice);
        Ok(cal)
    }

    fn insert_if_absent(&self, key: ShapeKey, choice: Choice) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_insert(choice);
    }

    /// The measured choice whose key is nearest (same layouts and threads) and whose kernel
    /// supports the real shape.
    fn nearest(&self, problem: &Problem, key: &ShapeKey) -> Option<Choice> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .filter(|(_, c)| matches!(c.source, Source::Measured | Source::Loaded))
            .filter(|(_, c)| c.kernel.supports(problem))
            .filter_map(|(k, c)| Some((key.distance(k)?, k, c)))
            .min_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(y.1)))
            .map(|(_, _, c)| Choice {
                source: Source::Nearest,
                shape: (problem.m, problem.n, problem.k),
                timings: Vec::new(),
                median_s: f64::NAN,
                kernel: c.kernel,
            })
    }

    fn remember_hint(&self, problem: &Problem, key: ShapeKey) -> Result<&'static dyn MatmulKernel> {
        let kernel = self.by_hint(problem)?;
        self.insert_if_absent(
            key,
            Choice {
                kernel,
                source: Source::Hint,
                median_s: f64::NAN,
                shape: (problem.m, problem.n, problem.k),
                timings: Vec::new(),
            },
        );
        Ok(kernel)
    }

    /// The supporting candidate with the lowest cost hint.
    fn by_hint(&self, problem: &Problem) -> Result<&'static dyn MatmulKernel> {
        self.config
            .kernels
            .iter()
            .copied()
            .filter(|k| k.supports(problem))
            .min_by(|x, y| x.cost_hint(problem).total_cmp(&y.cost_hint(problem)))
            .ok_or_else(|| self.unsupported(problem))
    }

    fn unsupported(&self, problem: &Problem) -> KernelError {
        KernelError::Unsupported {
            kernel: "(any)".into(),
            reason: format!(
                "no candidate kernel ({}) supports {}",
                self.config
                    .kernels
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", "),
                crate::format_shape(problem)
            ),
        }
    }

    /// Writes measured choices to the cache file, merged with entries another process may
    /// have added meanwhile (ours win on the same key). Failures are logged once, never
    /// returned: a read-only cache directory must not stop a matmul.
    fn persist(&self) {
        let Some(path) = &self.config.cache_path else {
            return;
        };
        if self.config.mode == Mode::Off {
            return;
        }
        let fp = &self.config.fingerprint;
        let mut entries: Vec<FileEntry> = {
            let map = self.map.read().unwrap_or_else(|e| e.into_inner());
            map.iter()
                .filter(|(_, c)| matches!(c.source, Source::Measured | Source::Loaded))
                .map(|(key, c)| FileEntry {
                    key: *key,
                    winner: c.kernel.name().into(),
                    median_s: if c.median_s.is_finite() {
                        c.median_s
                    } else {
                        0.0
                    },
                    shape: c.shape,
                    timings: c.timings.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
                })
                .collect()
        };
        if let (LoadOutcome::Loaded { .. }, theirs) = cache::read(path, fp) {
            for e in theirs {
                if !entries.iter().any(|ours| ours.key == e.key) {
                    entries.push(e);
                }
            }
        }
        entries.sort_by_key(|e| e.key);
        if let Err(e) = cache::write_atomic(path, &cache::render(fp, &entries))
            && !self.write_warned.swap(true, Ordering::Relaxed)
        {
            log::warn!(
            target: crate::LOG_TARGET,
                    "cannot write the autotune cache {}: {e}; choices stay in memory",
                    path.display()
                );
        }
    }
}
