//! `poolgrad report` (the default command): the whole report of DESIGN.md, in order —
//! host, calibration, correctness, kernel benchmark, memory (hook), training — then
//! report.json and the SVG plots in the output folder. The schema is in README.md
//! ("report.json schema").

use crate::cli::CliResult;
use crate::cli::host::{HostInfo, settings_json};
use crate::cli::measure::BenchKnobs;
use crate::cli::output::{self, Peak};
use crate::cli::train::{allocator_name, run_training};
use crate::cli::{bench, calibration, correctness};
use clap::Args;
use poolgrad::kernels::{Problem, registry, settings};
use poolgrad::train::TrainConfig;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Instant;

/// The version of report.json's shape; bumped when a documented field changes.
pub const SCHEMA: &str = "poolgrad-report/1";

/// Options of the report.
#[derive(Debug, Default, Args)]
pub struct ReportArgs {
    /// Tiny sizes, one trial, few epochs: the whole pipeline in seconds (used by the tests).
    #[arg(long)]
    pub quick: bool,
    /// Output folder for report.json and the plots [default: $CARGO_TARGET_DIR/poolgrad,
    /// else target/poolgrad].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The machine's peak GFLOP/s for the plot [default: POOLGRAD_PEAK_GFLOPS, else an FMA
    /// probe: one thread's measured peak × threads].
    #[arg(long, value_parser = parse_peak)]
    pub peak_gflops: Option<f64>,
    /// Re-measure the default shapes even when the tune cache knows them.
    #[arg(long)]
    pub recalibrate: bool,
    /// Print report.json to stdout instead of the tables (progress still goes to stderr).
    #[arg(long)]
    pub json: bool,
}

fn parse_peak(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(g) if g.is_finite() && g > 0.0 => Ok(g),
        _ => Err(format!(
            "`{s}` is not a peak; accepted: a number > 0 (GFLOP/s)"
        )),
    }
}

/// Sections (5)–(7): training under each allocator, the forward+backward step breakdown,
/// and the kernel × allocator table.
///
/// HOOK for the memory engineer's `src/cli/memory.rs` (issue 5). Wire it as:
/// `let m = memory::measure(&MemoryConfig { quick, .. })?; if !json { memory::print(&m) }`,
/// return `Some(m.to_json())` (it becomes report.json's `memory` key), and add the
/// live-gradient-bytes plot (one series per allocator over backward steps, the lower bound
/// as an [`HLine`](crate::cli::plot::HLine)) to the `plots` returned here.
fn memory_sections(quick: bool, json_only: bool) -> CliResult<MemorySections> {
    let config = crate::cli::memory::MemoryConfig {
        quick,
        ..crate::cli::memory::MemoryConfig::default()
    };
    let progress = crate::cli::progress::Progress::new("memory", 1);
    progress.step(0, "training loop under each allocator");
    let report = crate::cli::memory::measure(&config)?;
    progress.finish();
    if !json_only {
        println!();
        crate::cli::memory::print(&report);
    }
    Ok(MemorySections {
        json: report.to_json(),
        plots: vec![("memory.svg", memory_chart(&report))],
    })
}

/// Live and reserved gradient bytes over the backward steps of one steady step, per
/// allocator, against the lower bound.
fn memory_chart(report: &crate::cli::memory::MemoryReport) -> crate::cli::plot::Chart {
    use crate::cli::plot::{Chart, HLine, Series};
    let kib = |trace: &[usize]| -> Vec<(f64, f64)> {
        trace
            .iter()
            .enumerate()
            .map(|(i, &b)| ((i + 1) as f64, b as f64 / 1024.0))
            .collect()
    };
    let mut series = Vec::new();
    if let Some(first) = report.allocators.first() {
        series.push(Series {
            label: "live (every allocator)".into(),
            points: kib(&first.live_trace),
        });
    }
    for run in &report.allocators {
        series.push(Series {
            label: format!("reserved: {}", run.allocator),
            points: kib(&run.reserved_trace),
        });
    }
    let lower_bound = report.allocators.first().map_or(0, |r| r.lower_bound_bytes);
    Chart {
        title: format!(
            "Gradient memory over one backward step ({})",
            report.model.label()
        ),
        x_label: "backward step".into(),
        y_label: "KiB".into(),
        log_x: false,
        series,
        hlines: vec![HLine {
            label: "lower bound".into(),
            y: lower_bound as f64 / 1024.0,
        }],
    }
}

/// What [`memory_sections`] hands back: report.json's `memory` value and plots to write.
struct MemorySections {
    json: Value,
    plots: Vec<(&'static str, crate::cli::plot::Chart)>,
}

/// Runs the report.
pub fn run(args: &ReportArgs) -> CliResult {
    let start = Instant::now();
    let quiet = args.json;
    let host = HostInfo::from_env()?;
    let knobs = {
        let k = BenchKnobs::from_env()?;
        if args.quick {
            BenchKnobs {
                warmup: k.warmup.min(1),
                trials: 1,
                budget_s: 0.05,
            }
        } else {
            k
        }
    };
    let par = settings()?.par();
    let peak = Peak::resolve(args.peak_gflops, par.threads())?;
    let out_dir = args.out.clone().unwrap_or_else(output::default_out_dir);
    output::prepare(&out_dir)?;
    let allocator = allocator_name(None)?;
    if !quiet {
        host.print();
    }

    // (2) calibration
    let shapes: Vec<Problem> = poolgrad::scheduler::default_shapes()
        .into_iter()
        .filter(|p| !args.quick || p.m.max(p.n).max(p.k) <= 64)
        .collect();
    let calibration = calibration::run(&shapes, args.recalibrate)?;
    if !quiet {
        println!();
        calibration.print();
    }

    // (3) correctness
    let (sizes, mp_sizes): (&[usize], &[usize]) = if args.quick {
        (&[16, 33, 64], &[64])
    } else {
        (&bench::REPORT_SIZES, &[256, 512, 1024, 2048])
    };
    let correctness = correctness::run(sizes, mp_sizes, par)?;
    if !quiet {
        println!();
        correctness.print();
    }

    // (4) kernel benchmark
    let problems = bench::report_problems(args.quick)?;
    let kernels: Vec<_> = registry().iter().collect();
    let results = bench::measure(&problems, &kernels, par, &knobs, true)?;
    if !quiet {
        println!();
        bench::print(&results, &knobs, par.threads());
        println!("peak        {:.0} GFLOP/s ({})", peak.gflops, peak.source);
    }

    // (5)–(7) memory
    if !quiet {
        println!();
    }
    let memory = memory_sections(args.quick, quiet)?;

    // (8) training
    let config = if args.quick {
        TrainConfig {
            hidden: vec![32],
            epochs: 3,
            ..TrainConfig::default()
        }
    } else {
        TrainConfig::default()
    };
    let training = run_training(&config, None, 0.2, allocator, true)?;
    if !quiet {
        println!();
        println!("== training: MLP on the digits data");
        training.print();
    }

    // Files.
    let mut plots = vec![
        ("gflops.svg", output::gflops_chart(&results, &peak)),
        ("loss.svg", output::loss_chart(&training)),
    ];
    plots.extend(memory.plots);
    let mut written = Vec::new();
    for (name, chart) in &plots {
        written.push(output::write(&out_dir, name, &chart.to_svg())?);
    }
    let report = json!({
        "schema": SCHEMA,
        "version": env!("CARGO_PKG_VERSION"),
        "quick": args.quick,
        "host": host.to_json(),
        "settings": settings_json(&knobs)?,
        "peak": { "gflops": peak.gflops, "source": peak.source },
        "calibration": calibration.to_json(),
        "correctness": correctness.to_json(),
        "benchmark": {
            "warmup": knobs.warmup,
            "trials": knobs.trials,
            "threads": par.threads(),
            "shapes": results.iter().map(bench::ShapeResult::to_json).collect::<Vec<_>>(),
        },
        "memory": memory.json,
        "training": training.to_json(),
        "plots": plots.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
        "elapsed_s": start.elapsed().as_secs_f64(),
    });
    let text = serde_json::to_string_pretty(&report)?;
    let json_path = output::write(&out_dir, "report.json", &text)?;
    if quiet {
        println!("{text}");
    } else {
        println!();
        println!("== files ({:.1} s in all)", start.elapsed().as_secs_f64());
        println!("{}", json_path.display());
        for p in &written {
            println!("{}", p.display());
        }
    }
    if !correctness.all_ok() {
        return Err("a kernel exceeded its error tolerance or bound (marked ! above)".into());
    }
    Ok(())
}
