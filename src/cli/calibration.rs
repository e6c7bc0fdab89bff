//! The report's calibration section: the process scheduler (`scheduler::global()`) on the
//! default shapes — which were already known (cache file hit, or measured at startup), which
//! were measured now, and the kernel chosen for each.

use crate::cli::CliResult;
use crate::cli::progress::Progress;
use poolgrad::kernels::Problem;
use poolgrad::scheduler::{Source, cache::LoadOutcome, format_shape, global};
use serde_json::{Value, json};
use std::time::Instant;

/// How a shape's choice was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Read from the cache file.
    Hit,
    /// Measured when the scheduler started (`POOLGRAD_AUTOTUNE=quick|full`).
    Startup,
    /// Not known: measured by this report.
    Miss,
    /// `POOLGRAD_FORCE_KERNEL` answers every shape.
    Forced,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Hit => "hit",
            Status::Startup => "startup",
            Status::Miss => "miss",
            Status::Forced => "forced",
        }
    }
}

/// One shape's outcome.
#[derive(Clone, Debug)]
pub struct ShapeChoice {
    pub problem: Problem,
    pub status: Status,
    pub chosen: &'static str,
    /// `(kernel, median seconds)` of every measured candidate, fastest first.
    pub timings: Vec<(&'static str, f64)>,
}

/// The whole section.
#[derive(Clone, Debug)]
pub struct CalibrationReport {
    pub mode: &'static str,
    pub cache_path: Option<String>,
    pub cache_found: String,
    pub forced: Option<&'static str>,
    pub shapes: Vec<ShapeChoice>,
    /// Seconds spent measuring now.
    pub seconds: f64,
}

fn describe(outcome: &LoadOutcome) -> String {
    match outcome {
        LoadOutcome::Disabled => "disabled".into(),
        LoadOutcome::Missing => "no file yet".into(),
        LoadOutcome::Loaded { entries, dropped } => {
            format!("loaded {entries} entries ({dropped} dropped)")
        }
        LoadOutcome::Stale { field, .. } => format!("stale ({field} changed), replaced"),
        LoadOutcome::Corrupt(why) => format!("unusable ({why}), replaced"),
    }
}

/// Calibrates the shapes the scheduler does not know yet (all of them when `again`).
///
/// # Errors
/// An invalid scheduler setting, or no kernel supporting a shape.
pub fn run(shapes: &[Problem], again: bool) -> CliResult<CalibrationReport> {
    let scheduler = global()?;
    let forced = scheduler.forced().map(|k| k.name());
    let before: Vec<Status> = shapes
        .iter()
        .map(|p| match (forced, scheduler.cached(p).map(|c| c.source)) {
            (Some(_), _) => Status::Forced,
            (_, Some(Source::Loaded)) if !again => Status::Hit,
            (_, Some(Source::Measured)) if !again => Status::Startup,
            _ => Status::Miss,
        })
        .collect();
    let start = Instant::now();
    let misses = before.iter().filter(|s| **s == Status::Miss).count();
    if forced.is_none() && misses > 0 {
        let progress = Progress::new("calibration", misses);
        let mut done = 0;
        scheduler.calibrate_many_with(shapes, again, |_, p| {
            progress.step(done, &format_shape(p));
            done += 1;
        })?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut out = Vec::with_capacity(shapes.len());
    for (p, status) in shapes.iter().zip(before) {
        let (chosen, timings) = match scheduler.cached(p) {
            Some(c) if forced.is_none() => (c.kernel.name(), c.timings),
            _ => (scheduler.choose(p)?.name(), Vec::new()),
        };
        out.push(ShapeChoice {
            problem: *p,
            status,
            chosen,
            timings,
        });
    }
    Ok(CalibrationReport {
        mode: scheduler.config().mode.name(),
        cache_path: scheduler
            .config()
            .cache_path
            .as_ref()
            .map(|p| p.display().to_string()),
        cache_found: describe(scheduler.load_outcome()),
        forced,
        shapes: out,
        seconds,
    })
}

impl CalibrationReport {
    /// Prints the section: cache state, then one row per shape.
    pub fn print(&self) {
        let measured = self
            .shapes
            .iter()
            .filter(|s| s.status == Status::Miss)
            .count();
        println!(
            "== calibration: {} shapes, {} measured now in {:.2} s (POOLGRAD_AUTOTUNE={})",
            self.shapes.len(),
            measured,
            self.seconds,
            self.mode
        );
        println!(
            "cache       {} ({})",
            self.cache_path.as_deref().unwrap_or("(none)"),
            self.cache_found
        );
        if let Some(k) = self.forced {
            println!("forced      {k} (POOLGRAD_FORCE_KERNEL): nothing measured");
        }
        println!(
            "{:<20} {:<8} {:<16} measured (median µs)",
            "shape", "cache", "chosen"
        );
        for s in &self.shapes {
            let timings: Vec<String> = s
                .timings
                .iter()
                .map(|(k, t)| format!("{k} {:.1}", t * 1e6))
                .collect();
            println!(
                "{:<20} {:<8} {:<16} {}",
                format_shape(&s.problem),
                s.status.name(),
                s.chosen,
                if timings.is_empty() {
                    "-".into()
                } else {
                    timings.join(", ")
                }
            );
        }
    }

    /// The `calibration` object of report.json.
    pub fn to_json(&self) -> Value {
        json!({
            "mode": self.mode,
            "cache_path": self.cache_path,
            "cache_found": self.cache_found,
            "forced": self.forced,
            "seconds": self.seconds,
            "shapes": self.shapes.iter().map(|s| json!({
                "shape": format_shape(&s.problem),
                "cache": s.status.name(),
                "chosen": s.chosen,
                "measured": s.timings.iter().map(|(k, t)| json!({
                    "kernel": k, "median_s": t,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }
}
