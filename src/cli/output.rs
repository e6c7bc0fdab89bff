//! Where the report's files go and how they are written: the output folder (`--out`, else
//! `$CARGO_TARGET_DIR/poolgrad`, else `target/poolgrad`), report.json and the SVG plots.

use crate::cli::CliResult;
use crate::cli::bench::ShapeResult;
use crate::cli::plot::{Chart, HLine, Series};
use crate::cli::train::TrainRun;
use poolgrad::kernels::Problem;
use std::path::{Path, PathBuf};

/// The default output folder: `poolgrad/` in the cargo target dir of this invocation.
pub fn default_out_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("target"), PathBuf::from);
    target.join("poolgrad")
}

/// Creates `dir` (and parents).
///
/// # Errors
/// The folder cannot be created, naming it.
pub fn prepare(dir: &Path) -> CliResult {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the output folder {}: {e}", dir.display()))?;
    Ok(())
}

/// Writes `text` to `dir/name`, returning the path.
///
/// # Errors
/// The file cannot be written, naming it.
pub fn write(dir: &Path, name: &str, text: &str) -> CliResult<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// The machine's peak for the GFLOP/s plot, and how it was obtained.
#[derive(Clone, Debug)]
pub struct Peak {
    pub gflops: f64,
    pub source: String,
}

/// How long the FMA probe runs when no peak is given (seconds, one thread).
const PROBE_SECONDS: f64 = 0.05;

impl Peak {
    /// `--peak-gflops`, else `POOLGRAD_PEAK_GFLOPS`, else measured: one thread's FMA
    /// throughput on the ISA in use (`measure_fma_peak`) × `threads`.
    ///
    /// # Errors
    /// A `POOLGRAD_PEAK_GFLOPS` that is not a finite number > 0.
    pub fn resolve(arg: Option<f64>, threads: usize) -> CliResult<Peak> {
        if let Some(g) = arg {
            return Ok(Peak {
                gflops: g,
                source: "--peak-gflops".into(),
            });
        }
        if let Some(v) = std::env::var("POOLGRAD_PEAK_GFLOPS")
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            return match v.trim().parse::<f64>() {
                Ok(g) if g.is_finite() && g > 0.0 => Ok(Peak {
                    gflops: g,
                    source: "POOLGRAD_PEAK_GFLOPS".into(),
                }),
                _ => Err(format!(
                    "POOLGRAD_PEAK_GFLOPS={v:?} is not valid; accepted: a number > 0 (GFLOP/s)"
                )
                .into()),
            };
        }
        let isa = poolgrad::kernels::settings()?.isa;
        let per_core = poolgrad::kernels::measure_fma_peak(isa, PROBE_SECONDS);
        Ok(Peak {
            gflops: per_core * threads as f64,
            source: format!(
                "measured: {per_core:.0} per core ({isa} FMA probe, one thread) × {threads} threads"
            ),
        })
    }
}

impl Peak {
    /// The source in a few words, for the chart's label.
    fn short(&self) -> String {
        match self.source.split_once(" per core") {
            Some((measured, _)) => format!("{measured}/core × threads"),
            None => self.source.clone(),
        }
    }
}

/// GFLOP/s against size, one line per kernel, over the square problems, with the peak.
pub fn gflops_chart(results: &[ShapeResult], peak: &Peak) -> Chart {
    let squares: Vec<&ShapeResult> = results
        .iter()
        .filter(|r| r.problem == Problem::new(r.problem.m, r.problem.m, r.problem.m))
        .collect();
    let mut names: Vec<&'static str> = Vec::new();
    for r in &squares {
        for k in &r.kernels {
            if !names.contains(&k.kernel) {
                names.push(k.kernel);
            }
        }
    }
    let series = names
        .iter()
        .map(|name| Series {
            label: name.to_string(),
            points: squares
                .iter()
                .filter_map(|r| r.gflops_of(name).map(|g| (r.problem.n as f64, g)))
                .collect(),
        })
        .collect();
    Chart {
        title: "matmul speed (square, row-major)".into(),
        x_label: "n (m = n = k)".into(),
        y_label: "GFLOP/s".into(),
        log_x: true,
        series,
        hlines: vec![HLine {
            label: format!("peak {:.0} GFLOP/s ({})", peak.gflops, peak.short()),
            y: peak.gflops,
        }],
    }
}

/// Training loss per epoch.
pub fn loss_chart(run: &TrainRun) -> Chart {
    Chart {
        title: format!(
            "training loss ({}, test accuracy {:.1}%)",
            run.data,
            run.outcome.test_accuracy * 100.0
        ),
        x_label: "epoch".into(),
        y_label: "mean cross-entropy".into(),
        log_x: false,
        series: vec![Series {
            label: "train loss".into(),
            points: run
                .outcome
                .epochs
                .iter()
                .map(|e| (e.epoch as f64, e.loss as f64))
                .collect(),
        }],
        hlines: Vec::new(),
    }
}
