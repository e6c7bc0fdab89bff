//! `poolgrad report`: every registered kernel on square sizes, checked against an f64
//! reference and timed.

use crate::cli::CliResult;
use crate::cli::host::print_host;
use crate::cli::measure::{env_count, max_rel_error, random_matrix, reference_f64, time_runs};
use clap::Args;
use poolgrad::kernels::{Accum, MatMut, MatRef, registry, settings};

/// Options of the report.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Square sizes to measure.
    #[arg(long, value_delimiter = ',', default_values_t = [32, 64, 128, 256, 512, 1024])]
    pub sizes: Vec<usize>,
}

impl Default for ReportArgs {
    fn default() -> Self {
        ReportArgs {
            sizes: vec![32, 64, 128, 256, 512, 1024],
        }
    }
}

/// Largest size at which `naive` is still timed (it needs over a second per run beyond).
const NAIVE_MAX: usize = 512;

/// Runs the report.
pub fn run(args: &ReportArgs) -> CliResult {
    let warmup = env_count("POOLGRAD_BENCH_WARMUP", 1)?;
    let trials = env_count("POOLGRAD_BENCH_TRIALS", 5)?.max(1);
    let par = settings()?.par();
    registry().check()?;
    print_host()?;
    println!();
    println!("== kernels: max relative error vs f64 reference, median time, GFLOP/s");
    println!(
        "{:<22} {:>6} {:>11} {:>10} {:>10} {:>9}",
        "kernel", "n", "max err", "median ms", "p95 ms", "GFLOP/s"
    );
    for &n in &args.sizes {
        let a = random_matrix(n * n, 1);
        let b = random_matrix(n * n, 2);
        let reference = reference_f64(&a, &b, n, n, n);
        for kernel in registry().iter() {
            if kernel.name() == "naive" && n > NAIVE_MAX {
                println!(
                    "{:<22} {:>6} {:>11}",
                    kernel.name(),
                    n,
                    "skipped (> 1 s per run)"
                );
                continue;
            }
            let mut c = vec![0.0f32; n * n];
            let av = MatRef::row_major(&a, n, n)?;
            let bv = MatRef::row_major(&b, n, n)?;
            kernel.matmul_with(
                av,
                bv,
                MatMut::row_major(&mut c, n, n)?,
                Accum::Replace,
                par,
            )?;
            let err = max_rel_error(&c, &reference);
            let t = time_runs(warmup, trials, 2.0, || {
                let cv = MatMut::row_major(&mut c, n, n).expect("checked above");
                kernel.run(av, bv, cv, Accum::Replace, par);
            });
            let gflops = 2.0 * (n as f64).powi(3) / t.median / 1e9;
            println!(
                "{:<22} {:>6} {:>11.2e} {:>10.3} {:>10.3} {:>9.1}",
                kernel.name(),
                n,
                err,
                t.median * 1e3,
                t.p95 * 1e3,
                gflops
            );
        }
    }
    Ok(())
}
