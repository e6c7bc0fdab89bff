//! `poolgrad autotune`: calibrate shapes now, print every kernel's timing with the winner,
//! write the cache, then check the pick against a fresh measurement of every candidate.

use crate::cli::CliResult;
use crate::cli::host::cpu_model;
use clap::Args;
use poolgrad::kernels::{MatmulKernel, Problem};
use poolgrad::scheduler::{
    Calibration, Effort, KernelTiming, Mode, Scheduler, SchedulerConfig, Skip, calibrate,
    default_shapes, format_shape, parse_shape,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Options of `poolgrad autotune`.
#[derive(Debug, Args)]
pub struct AutotuneArgs {
    /// Shapes to calibrate: MxNxK, or MxNxK:abc with layouts r (row-major), c (column-major)
    /// or s (strided) for a, b, c, e.g. 784x256x64:crr. Default: the default shape set.
    #[arg(value_parser = parse_shape)]
    pub shapes: Vec<Problem>,
    /// Calibrate with full effort (min(30 ms, 100 runs) per kernel) instead of quick.
    #[arg(long)]
    pub full: bool,
    /// Skip the quality check (the pick vs the fastest kernel in a fresh measurement).
    #[arg(long)]
    pub no_check: bool,
    /// Print JSON instead of tables (progress still goes to stderr).
    #[arg(long)]
    pub json: bool,
}

/// A pick within this factor of the fastest counts as good.
const GOOD_RATIO: f64 = 1.05;

/// One row of the quality check.
struct Check {
    pick: &'static str,
    pick_s: f64,
    best: &'static str,
    best_s: f64,
}

impl Check {
    fn ratio(&self) -> f64 {
        self.pick_s / self.best_s
    }
}

/// Runs the calibration, the tables and the check.
pub fn run(args: &AutotuneArgs) -> CliResult {
    poolgrad::kernels::registry().check()?;
    let mut config = SchedulerConfig::from_env()?;
    let env_mode = config.mode;
    if args.full || env_mode == Mode::Full {
        config.effort = Effort::full();
    }
    // Measuring is what this command is for, whatever the mode; `cached` also avoids a
    // second startup calibration of the default set.
    config.mode = Mode::Cached;
    let shapes = if args.shapes.is_empty() {
        default_shapes()
    } else {
        args.shapes.clone()
    };
    let scheduler = Scheduler::with_config(config)?;
    let effort_name = if scheduler.config().effort == Effort::full() {
        "full"
    } else {
        "quick"
    };

    let start = Instant::now();
    let calibrations = scheduler.calibrate_many_with(&shapes, true, |i, p| {
        eprintln!(
            "[{}/{}] calibrating {}",
            i + 1,
            shapes.len(),
            format_shape(p)
        );
    })?;
    let calibration_s = start.elapsed().as_secs_f64();

    let checks = if args.no_check {
        Vec::new()
    } else {
        eprintln!("checking the picks against a fresh measurement of every candidate");
        shapes
            .iter()
            .map(|p| check(&scheduler, p))
            .collect::<CliResult<Vec<_>>>()?
    };
    let good = checks.iter().filter(|c| c.ratio() <= GOOD_RATIO).count();
    let cache_path = scheduler.config().cache_path.as_ref().map_or_else(
        || "(none: set HOME or POOLGRAD_TUNE_CACHE)".into(),
        |p| p.display().to_string(),
    );

    if args.json {
        let out = json!({
            "host": {
                "cpu": cpu_model(),
                "isa": scheduler.config().fingerprint.isa,
                "threads": scheduler.config().par.threads(),
            },
            "effort": effort_name,
            "cache": {
                "path": cache_path,
                "found": format!("{:?}", scheduler.load_outcome()),
            },
            "calibration_s": calibration_s,
            "shapes": calibrations.iter().enumerate().map(|(i, cal)| {
                shape_json(&scheduler, cal, checks.get(i))
            }).collect::<Vec<_>>(),
            "quality": if checks.is_empty() { Value::Null } else { json!({
                "within_5pct": good,
                "shapes": checks.len(),
                "share": good as f64 / checks.len() as f64,
            })},
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }

    println!(
        "== autotune: {} shapes, {} effort, {} threads, isa {}",
        shapes.len(),
        effort_name,
        scheduler.config().par.threads(),
        scheduler.config().fingerprint.isa
    );
    println!(
        "cache      {cache_path} (found: {:?})",
        scheduler.load_outcome()
    );
    print_timings(&scheduler, &calibrations);
    println!(
        "calibrated {} shapes in {:.3} s (sum of per-shape calibrations {:.3} s)",
        calibrations.len(),
        calibration_s,
        calibrations
            .iter()
            .map(|c| c.elapsed)
            .sum::<Duration>()
            .as_secs_f64()
    );
    if !checks.is_empty() {
        print_quality(&shapes, &checks, good);
    }
    Ok(())
}

/// Medians in µs per kernel (columns) and shape (rows), with the winner.
fn print_timings(scheduler: &Scheduler, calibrations: &[Calibration]) {
    let names: Vec<&str> = scheduler
        .config()
        .kernels
        .iter()
        .map(|k| k.name())
        .collect();
    println!();
    println!("median µs per kernel (pruned: hint ratio; n/a: unsupported; >: abandoned)");
    print!("{:<20} {:<16}", "shape", "bucket");
    for name in &names {
        print!(" {name:>12}");
    }
    println!("  winner");
    for cal in calibrations {
        let key = poolgrad::scheduler::ShapeKey::of(&cal.problem, scheduler.config().par.threads());
        print!(
            "{:<20} {:<16}",
            format_shape(&cal.problem),
            format!("{}x{}x{}", key.m, key.n, key.k)
        );
        for name in &names {
            print!(" {:>12}", cell(cal, name));
        }
        println!("  {}", cal.winner.name());
    }
}

fn cell(cal: &Calibration, name: &str) -> String {
    if let Some(t) = cal.timings.iter().find(|t| t.kernel == name) {
        let us = t.median_s * 1e6;
        return if t.aborted {
            format!(">{us:.1}")
        } else {
            format!("{us:.1}")
        };
    }
    match cal.skipped.iter().find(|(n, _)| *n == name) {
        Some((_, Skip::Pruned(r))) => format!("pruned {r:.0}x"),
        Some((_, Skip::Unsupported)) => "n/a".into(),
        None => "-".into(),
    }
}

fn print_quality(shapes: &[Problem], checks: &[Check], good: usize) {
    println!();
    println!("quality: the scheduler's pick vs the fastest kernel, measured again");
    println!(
        "{:<20} {:<14} {:>11} {:<14} {:>11} {:>7}",
        "shape", "pick", "pick µs", "fastest", "fastest µs", "ratio"
    );
    for (p, c) in shapes.iter().zip(checks) {
        println!(
            "{:<20} {:<14} {:>11.1} {:<14} {:>11.1} {:>7.3}{}",
            format_shape(p),
            c.pick,
            c.pick_s * 1e6,
            c.best,
            c.best_s * 1e6,
            c.ratio(),
            if c.ratio() <= GOOD_RATIO {
                ""
            } else {
                "  > 5%"
            }
        );
    }
    println!(
        "pick within 5% of the fastest on {good}/{} shapes ({:.0}%)",
        checks.len(),
        100.0 * good as f64 / checks.len() as f64
    );
}

/// Times every supporting candidate that is not hopeless (hint within 64x) again, with no
/// early abandoning, and compares the scheduler's pick with the fastest.
fn check(scheduler: &Scheduler, p: &Problem) -> CliResult<Check> {
    let pick = scheduler.choose(p)?;
    let effort = Effort {
        warmup: 1,
        max_runs: 30,
        budget: Duration::from_millis(15),
        prune_factor: 64.0,
        abort_ratio: f64::INFINITY,
    };
    let par = scheduler.config().par;
    let cal = calibrate(p, &scheduler.config().kernels, par, &effort)
        .ok_or("no kernel supports this shape")?;
    let time_of = |t: &[KernelTiming], k: &dyn MatmulKernel| {
        t.iter().find(|t| t.kernel == k.name()).map(|t| t.median_s)
    };
    let pick_s = match time_of(&cal.timings, pick) {
        Some(t) => t,
        // A forced or hint-chosen pick outside the candidates: time it alone.
        None => calibrate(p, &[pick], par, &effort)
            .map(|c| c.winner_median_s())
            .ok_or("the pick does not support this shape")?,
    };
    let best = &cal.timings[0];
    Ok(Check {
        pick: pick.name(),
        pick_s,
        best: best.kernel,
        best_s: best.median_s.min(pick_s),
    })
}

fn shape_json(scheduler: &Scheduler, cal: &Calibration, check: Option<&Check>) -> Value {
    let key = poolgrad::scheduler::ShapeKey::of(&cal.problem, scheduler.config().par.threads());
    json!({
        "shape": format_shape(&cal.problem),
        "bucket": [key.m, key.n, key.k],
        "winner": cal.winner.name(),
        "calibration_s": cal.elapsed.as_secs_f64(),
        "timings": cal.timings.iter().map(|t| json!({
            "kernel": t.kernel,
            "median_s": t.median_s,
            "runs": t.runs,
            "abandoned": t.aborted,
        })).collect::<Vec<_>>(),
        "skipped": cal.skipped.iter().map(|(name, why)| json!({
            "kernel": name,
            "reason": match why {
                Skip::Unsupported => "unsupported".to_string(),
                Skip::Pruned(r) => format!("pruned: hint {r:.1}x the best"),
            },
        })).collect::<Vec<_>>(),
        "check": check.map(|c| json!({
            "pick": c.pick,
            "pick_s": c.pick_s,
            "fastest": c.best,
            "fastest_s": c.best_s,
            "ratio": c.ratio(),
        })),
    })
}
