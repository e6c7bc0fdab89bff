//! Scheduler behaviour with injected configs: no real environment, no real cache directory.

use poolgrad_kernels::naive::NaiveKernel;
use poolgrad_kernels::tiled::TiledKernel;
use poolgrad_kernels::{
    Accum, KernelError, Layout, MatMut, MatRef, MatmulKernel, Par, Problem, registry,
};
use poolgrad_scheduler::cache::{self, LoadOutcome};
use poolgrad_scheduler::{Effort, Mode, OnMiss, Scheduler, SchedulerConfig, Source, parse_shape};
use std::path::PathBuf;
use std::time::Duration;

/// Runs only problems with an even m (a stand-in for a kernel with shape limits); fast.
#[derive(Debug)]
struct EvenOnly;
impl MatmulKernel for EvenOnly {
    fn name(&self) -> &'static str {
        "test.even"
    }
    fn supports(&self, p: &Problem) -> bool {
        p.m.is_multiple_of(2)
    }
    fn cost_hint(&self, p: &Problem) -> f64 {
        p.flops() / 1e10
    }
    fn run(&self, a: MatRef<'_>, b: MatRef<'_>, c: MatMut<'_>, accum: Accum, par: Par) {
        TiledKernel.run(a, b, c, accum, par);
    }
}

/// Runs everything, but sleeps first: never the fastest where another kernel can run.
#[derive(Debug)]
struct Sleepy;
impl MatmulKernel for Sleepy {
    fn name(&self) -> &'static str {
        "test.sleepy"
    }
    fn supports(&self, _: &Problem) -> bool {
        true
    }
    fn cost_hint(&self, p: &Problem) -> f64 {
        p.flops() / 1e10
    }
    fn run(&self, a: MatRef<'_>, b: MatRef<'_>, c: MatMut<'_>, accum: Accum, par: Par) {
        std::thread::sleep(Duration::from_micros(300));
        NaiveKernel.run(a, b, c, accum, par);
    }
}

static EVEN: EvenOnly = EvenOnly;
static SLEEPY: Sleepy = Sleepy;
static NAIVE: NaiveKernel = NaiveKernel;
static TILED: TiledKernel = TiledKernel;

fn test_kernels() -> Vec<&'static dyn MatmulKernel> {
    vec![&EVEN, &SLEEPY]
}

/// A fresh, empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("poolgrad-sched-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A cached-mode config with a tiny budget and a cache file in a scratch directory.
fn config(name: &str, kernels: Vec<&'static dyn MatmulKernel>) -> SchedulerConfig {
    let mut c = SchedulerConfig::with_kernels(Mode::Cached, Par::Seq, kernels);
    c.cache_path = Some(scratch(name).join("tune-cache.txt"));
    c.effort = Effort {
        warmup: 1,
        max_runs: 3,
        budget: Duration::from_millis(2),
        prune_factor: 4.0,
        abort_ratio: 2.0,
    };
    c.fingerprint.cpu = "test cpu; flags=0".into();
    c
}

fn shapes() -> Vec<Problem> {
    [
        "8x8x8",
        "34x8x8",
        "33x8x8",
        "1x1x1",
        "17x5x3:crr",
        "6x9x4:rcs",
        "40x40x40",
    ]
    .iter()
    .map(|s| parse_shape(s).unwrap())
    .collect()
}

#[test]
fn the_choice_always_supports_the_shape() {
    let s = Scheduler::with_config(config("supports", test_kernels())).unwrap();
    for p in shapes() {
        let k = s.choose(&p).unwrap();
        assert!(k.supports(&p), "{} chosen for unsupported {p:?}", k.name());
        if p.m % 2 == 0 {
            assert_eq!(
                k.name(),
                "test.even",
                "the sleeper never wins where even runs"
            );
        }
    }
}

#[test]
fn a_bucketed_winner_that_cannot_run_falls_back() {
    let s = Scheduler::with_config(config("fallback", test_kernels())).unwrap();
    let even = Problem::new(34, 8, 8);
    let odd = Problem::new(33, 8, 8);
    assert_eq!(
        poolgrad_scheduler::ShapeKey::of(&even, 1),
        poolgrad_scheduler::ShapeKey::of(&odd, 1),
        "same bucket"
    );
    assert_eq!(s.calibrate(&even).unwrap().winner.name(), "test.even");
    assert_eq!(s.choose(&odd).unwrap().name(), "test.sleepy");
    assert_eq!(s.choose(&even).unwrap().name(), "test.even");
}

#[test]
fn matmul_computes_the_product() {
    let s = Scheduler::with_config(config("matmul", test_kernels())).unwrap();
    let a = [1.0, 2.0, 3.0, 4.0];
    let b = [5.0, 6.0, 7.0, 8.0];
    let mut c = [f32::NAN; 4];
    let (av, bv) = (
        MatRef::row_major(&a, 2, 2).unwrap(),
        MatRef::row_major(&b, 2, 2).unwrap(),
    );
    s.matmul(
        av,
        bv,
        MatMut::row_major(&mut c, 2, 2).unwrap(),
        Accum::Replace,
    )
    .unwrap();
    assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
    let mut wrong = [0.0; 6];
    let err = s
        .matmul(
            av,
            bv,
            MatMut::row_major(&mut wrong, 3, 2).unwrap(),
            Accum::Add,
        )
        .unwrap_err();
    assert!(matches!(err, KernelError::DimMismatch { .. }), "{err}");
}

#[test]
fn a_forced_kernel_is_honoured() {
    let mut c = config("forced", test_kernels());
    c.forced = Some("test.sleepy".into());
    let s = Scheduler::with_config(c).unwrap();
    for p in shapes() {
        assert_eq!(s.choose(&p).unwrap().name(), "test.sleepy");
    }
    assert!(s.entries().is_empty(), "nothing calibrated when forced");

    let mut c = config("forced-even", test_kernels());
    c.forced = Some("test.even".into());
    let s = Scheduler::with_config(c).unwrap();
    let err = s.choose(&Problem::new(3, 3, 3)).unwrap_err();
    assert!(err.to_string().contains("POOLGRAD_FORCE_KERNEL"), "{err}");

    let mut c = config("forced-unknown", test_kernels());
    c.forced = Some("nope".into());
    let err = Scheduler::with_config(c).unwrap_err().to_string();
    assert!(
        err.contains("nope") && err.contains("test.even") && err.contains("test.sleepy"),
        "{err}"
    );
}

#[test]
fn env_values_are_validated_in_one_place() {
    let lookup = |pairs: &'static [(&'static str, &'static str)]| {
        move |var: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| v.to_string())
        }
    };
    let c = SchedulerConfig::from_lookup(lookup(&[])).unwrap();
    assert_eq!(
        (c.mode, c.on_miss, c.forced.clone()),
        (Mode::Cached, OnMiss::Calibrate, None)
    );

    let c = SchedulerConfig::from_lookup(lookup(&[
        ("POOLGRAD_AUTOTUNE", "Quick"),
        ("POOLGRAD_TUNE_MISS", "nearest"),
        ("POOLGRAD_FORCE_KERNEL", " tiled "),
        ("POOLGRAD_TUNE_CACHE", "/tmp/x/wisdom.txt"),
    ]))
    .unwrap();
    assert_eq!((c.mode, c.on_miss), (Mode::Quick, OnMiss::Nearest));
    assert_eq!(c.forced.as_deref(), Some("tiled"));
    assert_eq!(c.cache_path, Some(PathBuf::from("/tmp/x/wisdom.txt")));

    let c = SchedulerConfig::from_lookup(lookup(&[("XDG_CACHE_HOME", "/xdg"), ("HOME", "/h")]));
    assert_eq!(
        c.unwrap().cache_path,
        Some(PathBuf::from("/xdg/poolgrad/tune-cache.txt"))
    );
    let c = SchedulerConfig::from_lookup(lookup(&[("HOME", "/h")]));
    assert_eq!(
        c.unwrap().cache_path,
        Some(PathBuf::from("/h/.cache/poolgrad/tune-cache.txt"))
    );

    let err = SchedulerConfig::from_lookup(lookup(&[("POOLGRAD_AUTOTUNE", "fast")]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("POOLGRAD_AUTOTUNE")
            && err.contains("fast")
            && err.contains("off|cached|quick|full"),
        "{err}"
    );
    let err = SchedulerConfig::from_lookup(lookup(&[("POOLGRAD_TUNE_MISS", "guess")]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("POOLGRAD_TUNE_MISS") && err.contains("calibrate|nearest"),
        "{err}"
    );

    let c = SchedulerConfig::from_lookup(lookup(&[("POOLGRAD_FORCE_KERNEL", "bogus")])).unwrap();
    let err = Scheduler::with_config(c).unwrap_err().to_string();
    for name in registry().names() {
        assert!(err.contains(name), "{err} lists {name}");
    }
}

#[test]
fn the_cache_round_trips() {
    let c = config("roundtrip", test_kernels());
    let path = c.cache_path.clone().unwrap();
    let first = Scheduler::with_config(c.clone()).unwrap();
    assert_eq!(first.load_outcome(), &LoadOutcome::Missing);
    let picks: Vec<_> = shapes()
        .iter()
        .map(|p| first.choose(p).unwrap().name())
        .collect();
    assert!(path.is_file());
    let measured = first.entries();

    let second = Scheduler::with_config(c).unwrap();
    assert!(
        matches!(second.load_outcome(), LoadOutcome::Loaded { entries, dropped: 0 } if *entries == measured.len()),
        "{:?}",
        second.load_outcome()
    );
    for (key, choice) in &measured {
        let loaded = second
            .entries()
            .into_iter()
            .find(|(k, _)| k == key)
            .unwrap()
            .1;
        assert_eq!(loaded.source, Source::Loaded);
        assert_eq!(loaded.kernel.name(), choice.kernel.name());
        assert_eq!(loaded.shape, choice.shape);
        assert_eq!(loaded.timings.len(), choice.timings.len());
    }
    let again: Vec<_> = shapes()
        .iter()
        .map(|p| second.choose(p).unwrap().name())
        .collect();
    assert_eq!(picks, again);
    assert!(
        second
            .entries()
            .iter()
            .all(|(_, c)| c.source == Source::Loaded),
        "nothing re-measured"
    );
}

/// Writes a cache with one scheduler, then reads it with `change` applied to the config.
fn reload_with(name: &str, change: impl FnOnce(&mut SchedulerConfig)) -> (LoadOutcome, PathBuf) {
    let c = config(name, vec![&EVEN, &SLEEPY, &TILED]);
    let s = Scheduler::with_config(c.clone()).unwrap();
    s.choose(&Problem::new(8, 8, 8)).unwrap();
    let mut changed = c;
    changed.fingerprint = poolgrad_scheduler::Fingerprint {
        cpu: "test cpu; flags=0".into(),
        ..changed.fingerprint
    };
    change(&mut changed);
    let path = changed.cache_path.clone().unwrap();
    let s = Scheduler::with_config(changed).unwrap();
    assert!(s.entries().is_empty(), "nothing loaded from a stale file");
    // The next calibration replaces the stale file with one for the new fingerprint.
    s.choose(&Problem::new(8, 8, 8)).unwrap();
    let (again, _) = cache::read(&path, &s.config().fingerprint);
    assert!(
        matches!(again, LoadOutcome::Loaded { entries: 1, .. }),
        "{again:?}"
    );
    (s.load_outcome().clone(), path)
}

#[test]
fn a_changed_kernel_set_cpu_version_or_thread_count_invalidates() {
    let (outcome, _) = reload_with("kernels", |c| {
        c.kernels = vec![&EVEN, &SLEEPY];
        c.fingerprint.kernels = vec!["test.even".into(), "test.sleepy".into()];
    });
    assert!(
        matches!(
            outcome,
            LoadOutcome::Stale {
                field: "kernels",
                ..
            }
        ),
        "{outcome:?}"
    );
    let (outcome, _) = reload_with("cpu", |c| c.fingerprint.cpu = "other cpu; flags=1".into());
    assert!(
        matches!(outcome, LoadOutcome::Stale { field: "cpu", .. }),
        "{outcome:?}"
    );
    let (outcome, _) = reload_with("version", |c| c.fingerprint.version = "0.0.1".into());
    assert!(
        matches!(
            outcome,
            LoadOutcome::Stale {
                field: "version",
                ..
            }
        ),
        "{outcome:?}"
    );
    let (outcome, _) = reload_with("isa", |c| c.fingerprint.isa = "fancy".into());
    assert!(
        matches!(outcome, LoadOutcome::Stale { field: "isa", .. }),
        "{outcome:?}"
    );
    let (outcome, _) = reload_with("threads", |c| {
        c.par = Par::Rayon(3);
        c.fingerprint.threads = 3;
    });
    assert!(
        matches!(
            outcome,
            LoadOutcome::Stale {
                field: "threads",
                ..
            }
        ),
        "{outcome:?}"
    );
}

#[test]
fn an_entry_for_an_unregistered_kernel_is_dropped() {
    let c = config("dropped", test_kernels());
    let path = c.cache_path.clone().unwrap();
    let key = poolgrad_scheduler::ShapeKey::of(&Problem::new(8, 8, 8), 1);
    let entry = |winner: &str, m| cache::FileEntry {
        key: poolgrad_scheduler::ShapeKey { m, ..key },
        winner: winner.into(),
        median_s: 1e-6,
        shape: (m, 8, 8),
        timings: vec![],
    };
    // A header naming the current kernels, but an entry naming a removed one.
    let text = cache::render(
        &c.fingerprint,
        &[entry("test.gone", 8), entry("test.sleepy", 4)],
    );
    std::fs::write(&path, text).unwrap();
    let s = Scheduler::with_config(c).unwrap();
    assert_eq!(
        s.load_outcome(),
        &LoadOutcome::Loaded {
            entries: 1,
            dropped: 1
        }
    );
    assert_eq!(
        s.choose(&Problem::new(4, 8, 8)).unwrap().name(),
        "test.sleepy",
        "loaded, not re-measured"
    );
    assert_eq!(
        s.choose(&Problem::new(8, 8, 8)).unwrap().name(),
        "test.even"
    );
}

#[test]
fn a_corrupt_truncated_or_foreign_file_is_replaced() {
    let base = config("corrupt-base", test_kernels());
    let good = cache::render(&base.fingerprint, &[]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"\x00\xff\xfe not text".to_vec()),
        ("foreign", b"[wisdom]\nfftw 3.3\n".to_vec()),
        ("empty", Vec::new()),
        ("truncated", good.as_bytes()[..good.len() - 4].to_vec()),
        (
            "bad-entry",
            good.replace("end 0", "entry 1 2\nend 1").into_bytes(),
        ),
        ("trailing", format!("{good}entry\n").into_bytes()),
    ];
    for (name, bytes) in cases {
        let c = config(&format!("corrupt-{name}"), test_kernels());
        let path = c.cache_path.clone().unwrap();
        std::fs::write(&path, bytes).unwrap();
        let s = Scheduler::with_config(c).unwrap();
        assert!(
            matches!(s.load_outcome(), LoadOutcome::Corrupt(_)),
            "{name}: {:?}",
            s.load_outcome()
        );
        let (now, _) = cache::read(&path, &s.config().fingerprint);
        assert_eq!(
            now,
            LoadOutcome::Loaded {
                entries: 0,
                dropped: 0
            },
            "{name}: replaced at once"
        );
        assert_eq!(
            s.choose(&Problem::new(8, 8, 8)).unwrap().name(),
            "test.even"
        );
    }
    // A directory where the file should be: reported, never a crash; choices stay in memory.
    let c = config("corrupt-dir", test_kernels());
    std::fs::create_dir_all(c.cache_path.as_ref().unwrap()).unwrap();
    let s = Scheduler::with_config(c).unwrap();
    assert!(matches!(s.load_outcome(), LoadOutcome::Corrupt(_)));
    assert_eq!(
        s.choose(&Problem::new(8, 8, 8)).unwrap().name(),
        "test.even"
    );
}

#[test]
fn concurrent_calibration_is_consistent_and_leaves_a_valid_file() {
    let c = config("concurrent", vec![&EVEN, &SLEEPY, &NAIVE, &TILED]);
    let path = c.cache_path.clone().unwrap();
    let s = Scheduler::with_config(c.clone()).unwrap();
    // A second scheduler on the same file stands in for another process.
    let other = Scheduler::with_config(c).unwrap();
    let shapes = shapes();
    let answers: Vec<Vec<(Problem, &'static str)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|t| {
                let (s, other, shapes) = (&s, &other, &shapes);
                scope.spawn(move || {
                    let who = if t == 5 { other } else { s };
                    let mut order: Vec<Problem> = shapes.clone();
                    order.rotate_left(t % shapes.len());
                    order
                        .iter()
                        .map(|p| (*p, who.choose(p).unwrap().name()))
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for p in &shapes {
        let first = s.choose(p).unwrap().name();
        for thread in &answers[..5] {
            let (_, name) = thread.iter().find(|(q, _)| q == p).unwrap();
            assert_eq!(
                *name, first,
                "every thread of one scheduler agrees on {p:?}"
            );
        }
    }
    let (outcome, entries) = cache::read(&path, &s.config().fingerprint);
    assert!(matches!(outcome, LoadOutcome::Loaded { .. }), "{outcome:?}");
    assert!(!entries.is_empty());
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary files left: {leftovers:?}"
    );
}

#[test]
fn off_mode_uses_hints_and_writes_nothing() {
    let mut c = config("off", vec![&NAIVE, &TILED]);
    c.mode = Mode::Off;
    let path = c.cache_path.clone().unwrap();
    let s = Scheduler::with_config(c).unwrap();
    assert_eq!(s.load_outcome(), &LoadOutcome::Disabled);
    let p = Problem::new(64, 64, 64);
    let by_hint = [&NAIVE as &dyn MatmulKernel, &TILED]
        .into_iter()
        .min_by(|x, y| x.cost_hint(&p).total_cmp(&y.cost_hint(&p)))
        .unwrap();
    assert_eq!(s.choose(&p).unwrap().name(), by_hint.name());
    assert_eq!(s.cached(&p).unwrap().source, Source::Hint);
    assert!(!path.exists());
}

#[test]
fn nearest_mode_borrows_a_measured_bucket() {
    let mut c = config("nearest", test_kernels());
    c.on_miss = OnMiss::Nearest;
    let s = Scheduler::with_config(c).unwrap();
    s.calibrate(&Problem::new(64, 64, 64)).unwrap();
    let near = Problem::new(100, 64, 64);
    assert_eq!(s.choose(&near).unwrap().name(), "test.even");
    assert_eq!(s.cached(&near).unwrap().source, Source::Nearest);
    // Other layouts have no measured neighbour: cost hints answer.
    let t = Problem {
        a: Layout::ColMajor,
        ..near
    };
    s.choose(&t).unwrap();
    assert_eq!(s.cached(&t).unwrap().source, Source::Hint);
    // Neither is persisted.
    let (_, entries) = cache::read(
        s.config().cache_path.as_ref().unwrap(),
        &s.config().fingerprint,
    );
    assert_eq!(entries.len(), 1);
}

#[test]
fn calibration_records_timings_and_prunes_by_hint() {
    let s = Scheduler::with_config(config("prune", vec![&EVEN, &SLEEPY, &NAIVE, &TILED])).unwrap();
    let p = Problem::new(64, 64, 64);
    let cal = s.calibrate(&p).unwrap();
    assert!(cal.winner.supports(&p));
    assert!(cal.timings.iter().all(|t| t.median_s > 0.0 && t.runs >= 1));
    // Timings are sorted fastest first; the winner is the fastest or ties with it (2%).
    assert!(
        cal.timings
            .windows(2)
            .all(|w| (w[0].aborted, w[0].median_s) <= (w[1].aborted, w[1].median_s))
    );
    assert!(
        cal.winner_median_s() <= cal.timings[0].median_s * 1.02,
        "winner ties the fastest"
    );
    // naive's hint (1.5 GFLOP/s) is far above the test kernels' (10 GFLOP/s).
    assert!(
        cal.skipped.iter().any(|(name, why)| *name == "naive"
            && matches!(why, poolgrad_scheduler::Skip::Pruned(r) if *r > 4.0)),
        "{:?}",
        cal.skipped
    );
    let sleepy = cal
        .timings
        .iter()
        .find(|t| t.kernel == "test.sleepy")
        .unwrap();
    assert!(sleepy.median_s >= 300e-6);
}

/// Computes nothing (wrong on purpose): lets startup-calibration tests run big shapes fast.
#[derive(Debug)]
struct Noop;
impl MatmulKernel for Noop {
    fn name(&self) -> &'static str {
        "test.noop"
    }
    fn supports(&self, _: &Problem) -> bool {
        true
    }
    fn cost_hint(&self, _: &Problem) -> f64 {
        1e-9
    }
    fn run(&self, _: MatRef<'_>, _: MatRef<'_>, _: MatMut<'_>, _: Accum, _: Par) {}
}
static NOOP: Noop = Noop;

#[test]
fn quick_and_full_modes_calibrate_the_default_set_at_startup() {
    let shapes = poolgrad_scheduler::default_shapes();
    let mut c = config("startup", vec![&NOOP]);
    c.mode = Mode::Cached;
    assert!(
        Scheduler::with_config(c.clone())
            .unwrap()
            .entries()
            .is_empty(),
        "cached: lazy"
    );

    c.mode = Mode::Quick;
    let quick = Scheduler::with_config(c.clone()).unwrap();
    assert_eq!(quick.entries().len(), shapes.len());
    assert!(
        quick
            .entries()
            .iter()
            .all(|(_, e)| e.source == Source::Measured)
    );
    // Quick again: everything is in the file, nothing is measured.
    let again = Scheduler::with_config(c.clone()).unwrap();
    assert!(
        again
            .entries()
            .iter()
            .all(|(_, e)| e.source == Source::Loaded)
    );
    assert_eq!(again.entries().len(), shapes.len());
    // Full re-measures the default set.
    c.mode = Mode::Full;
    c.effort.budget = Duration::from_millis(1);
    let full = Scheduler::with_config(c.clone()).unwrap();
    assert!(
        full.entries()
            .iter()
            .all(|(_, e)| e.source == Source::Measured)
    );
    // A forced kernel skips startup calibration.
    let _ = std::fs::remove_file(c.cache_path.as_ref().unwrap());
    c.forced = Some("test.noop".into());
    assert!(Scheduler::with_config(c).unwrap().entries().is_empty());
}
