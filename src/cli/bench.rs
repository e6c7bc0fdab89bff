//! `poolgrad bench`: times kernels on square sizes and `MxNxK[:abc]` shapes (median, p95,
//! GFLOP/s, ratio to the fastest, the scheduler's pick); also the report's benchmark section.

use crate::cli::CliResult;
use crate::cli::host::HostInfo;
use crate::cli::measure::{BenchKnobs, Timing, random_matrix, time_runs};
use crate::cli::progress::Progress;
use clap::Args;
use poolgrad::kernels::{Accum, Layout, MatMut, MatRef, MatmulKernel, Par, Problem, registry};
use poolgrad::scheduler::{format_shape, parse_shape};
use serde_json::{Value, json};

/// Square sizes the report benchmarks.
pub const REPORT_SIZES: [usize; 6] = [32, 64, 128, 256, 512, 1024];

/// The MLP products the report benchmarks: layer 784→256 at batch 64 (forward, weight
/// gradient, input gradient) and the forward products of 784→512 and 1024→1024 at batch 256.
pub const MLP_SHAPES: [&str; 5] = [
    "64x256x784",
    "784x256x64:crr",
    "64x784x256:rcr",
    "256x512x784",
    "256x1024x1024",
];

/// `naive` is not timed above this many flops unless asked for by name (over 0.3 s a run).
const NAIVE_MAX_FLOPS: f64 = 2.0 * 512.0 * 512.0 * 512.0;

/// Options of `poolgrad bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Square sizes, e.g. 64,128 (1..=8192).
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u32).range(1..=8192))]
    pub sizes: Vec<u32>,
    /// Shapes MxNxK or MxNxK:abc (layouts r, c, s for a, b, c), e.g. 64x256x784,784x256x64:crr.
    #[arg(long, value_delimiter = ',', value_parser = parse_shape)]
    pub shapes: Vec<Problem>,
    /// Kernels to time, e.g. packed,mp (default: every registered kernel; naive is skipped
    /// on big shapes unless named here).
    #[arg(long, value_delimiter = ',')]
    pub kernels: Vec<String>,
    /// Threads kernels may use (1 = serial; default: POOLGRAD_PAR / POOLGRAD_THREADS).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
    /// Print JSON instead of tables (progress still goes to stderr).
    #[arg(long)]
    pub json: bool,
}

/// One kernel's figures on one shape.
#[derive(Clone, Debug)]
pub struct KernelResult {
    pub kernel: &'static str,
    /// `Err(reason)` when the kernel was not timed.
    pub timing: Result<Timing, String>,
}

/// Every kernel's figures on one shape, the fastest and the scheduler's pick.
#[derive(Clone, Debug)]
pub struct ShapeResult {
    pub problem: Problem,
    pub kernels: Vec<KernelResult>,
    /// `Err(reason)` when the scheduler could not choose.
    pub pick: Result<&'static str, String>,
}

impl ShapeResult {
    fn gflops(&self, t: &Timing) -> f64 {
        self.problem.flops() / t.median / 1e9
    }

    /// The timed kernel with the lowest median, and that median.
    pub fn fastest(&self) -> Option<(&'static str, f64)> {
        self.kernels
            .iter()
            .filter_map(|k| k.timing.as_ref().ok().map(|t| (k.kernel, t.median)))
            .min_by(|x, y| x.1.total_cmp(&y.1))
    }

    /// GFLOP/s of `kernel` here, when it was timed.
    pub fn gflops_of(&self, kernel: &str) -> Option<f64> {
        self.kernels
            .iter()
            .find(|k| k.kernel == kernel)
            .and_then(|k| k.timing.as_ref().ok())
            .map(|t| self.gflops(t))
    }

    /// The JSON object of one shape.
    pub fn to_json(&self) -> Value {
        let best = self.fastest().map(|b| b.1);
        json!({
            "shape": format_shape(&self.problem),
            "m": self.problem.m,
            "n": self.problem.n,
            "k": self.problem.k,
            "flops": self.problem.flops(),
            "fastest": self.fastest().map(|b| b.0),
            "scheduler_pick": self.pick.as_ref().ok(),
            "kernels": self.kernels.iter().map(|k| match &k.timing {
                Ok(t) => json!({
                    "kernel": k.kernel,
                    "median_ms": t.median * 1e3,
                    "p95_ms": t.p95 * 1e3,
                    "gflops": self.gflops(t),
                    "ratio_to_best": best.map(|b| t.median / b),
                }),
                Err(why) => json!({ "kernel": k.kernel, "skipped": why }),
            }).collect::<Vec<_>>(),
        })
    }
}

/// A view of `data` with `rows × cols` and `layout` (strided: every other element of
/// every other row), and the length its slice needs.
fn layout_dims(rows: usize, cols: usize, layout: Layout) -> (usize, usize, usize) {
    match layout {
        Layout::RowMajor => (rows * cols, cols, 1),
        Layout::ColMajor => (rows * cols, 1, rows),
        Layout::Strided => (4 * rows * cols, 4 * cols, 2),
    }
}

/// Times `kernel` on `p` with freshly made operands of the problem's layouts.
fn time_kernel(
    kernel: &dyn MatmulKernel,
    p: &Problem,
    par: Par,
    knobs: &BenchKnobs,
) -> CliResult<Timing> {
    let (la, rsa, csa) = layout_dims(p.m, p.k, p.a);
    let (lb, rsb, csb) = layout_dims(p.k, p.n, p.b);
    let (lc, rsc, csc) = layout_dims(p.m, p.n, p.c);
    let a = random_matrix(la, 1);
    let b = random_matrix(lb, 2);
    let mut c = vec![0.0f32; lc];
    let av = MatRef::new(&a, p.m, p.k, rsa, csa)?;
    let bv = MatRef::new(&b, p.k, p.n, rsb, csb)?;
    // The first call checks the operands; the timed ones call `run` directly.
    kernel.matmul_with(
        av,
        bv,
        MatMut::new(&mut c, p.m, p.n, rsc, csc)?,
        Accum::Replace,
        par,
    )?;
    Ok(time_runs(
        knobs.warmup,
        knobs.trials,
        knobs.budget_s,
        || {
            let cv = MatMut::new(&mut c, p.m, p.n, rsc, csc).expect("checked above");
            kernel.run(av, bv, cv, Accum::Replace, par);
        },
    ))
}

/// Times every kernel on every problem (skipping `naive` on big ones when `skip_slow`), and
/// asks the process scheduler for its pick.
///
/// # Errors
/// A kernel error on a shape it claimed to support.
pub fn measure(
    problems: &[Problem],
    kernels: &[&'static dyn MatmulKernel],
    par: Par,
    knobs: &BenchKnobs,
    skip_slow: bool,
) -> CliResult<Vec<ShapeResult>> {
    let progress = Progress::new("benchmark", problems.len());
    let scheduler = poolgrad::scheduler::global();
    let mut out = Vec::with_capacity(problems.len());
    for (i, p) in problems.iter().enumerate() {
        progress.step(i, &format_shape(p));
        let mut results = Vec::with_capacity(kernels.len());
        for &kernel in kernels {
            let timing = if !kernel.supports(p) {
                Err("unsupported".to_string())
            } else if skip_slow && kernel.name() == "naive" && p.flops() > NAIVE_MAX_FLOPS {
                Err("skipped: over 0.3 s a run".to_string())
            } else {
                Ok(time_kernel(kernel, p, par, knobs)?)
            };
            results.push(KernelResult {
                kernel: kernel.name(),
                timing,
            });
        }
        let pick = match &scheduler {
            Ok(s) => s.choose(p).map(|k| k.name()).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        out.push(ShapeResult {
            problem: *p,
            kernels: results,
            pick,
        });
    }
    Ok(out)
}

/// Prints one row per kernel and shape, then the fastest and the pick per shape.
pub fn print(results: &[ShapeResult], knobs: &BenchKnobs, threads: usize) {
    println!(
        "== kernel benchmark: {} warm-up, up to {} trials within {} s, {} thread(s)",
        knobs.warmup, knobs.trials, knobs.budget_s, threads
    );
    println!(
        "{:<18} {:<18} {:>10} {:>10} {:>9} {:>7}",
        "shape", "kernel", "median ms", "p95 ms", "GFLOP/s", "× best"
    );
    for r in results {
        let best = r.fastest().map_or(f64::NAN, |b| b.1);
        let shape = format_shape(&r.problem);
        for (i, k) in r.kernels.iter().enumerate() {
            let label = if i == 0 { shape.as_str() } else { "" };
            match &k.timing {
                Ok(t) => println!(
                    "{label:<18} {:<18} {:>10.3} {:>10.3} {:>9.1} {:>7.2}",
                    k.kernel,
                    t.median * 1e3,
                    t.p95 * 1e3,
                    r.gflops(t),
                    t.median / best
                ),
                Err(why) => println!("{label:<18} {:<18} {why:>10}", k.kernel),
            }
        }
    }
    println!();
    println!(
        "{:<18} {:<18} {:>9} {:<18} {:>9}",
        "shape", "fastest", "GFLOP/s", "scheduler's pick", "× best"
    );
    for r in results {
        let (fastest, best) = r.fastest().unwrap_or(("-", f64::NAN));
        let (pick, ratio) = match &r.pick {
            Ok(name) => {
                let t = r
                    .kernels
                    .iter()
                    .find(|k| k.kernel == *name)
                    .and_then(|k| k.timing.as_ref().ok());
                (*name, t.map_or(f64::NAN, |t| t.median / best))
            }
            Err(_) => ("(error)", f64::NAN),
        };
        // A pick outside `--kernels` was not timed: say so rather than print NaN.
        let ratio = if ratio.is_finite() {
            format!("{ratio:.2}")
        } else {
            "not timed".to_string()
        };
        println!(
            "{:<18} {:<18} {:>9.1} {:<18} {:>9}",
            format_shape(&r.problem),
            fastest,
            r.gflops_of(fastest).unwrap_or(f64::NAN),
            pick,
            ratio
        );
    }
}

/// The problems of `--sizes` and `--shapes`, or the report's set when both are empty.
fn problems(args: &BenchArgs) -> CliResult<Vec<Problem>> {
    let mut problems: Vec<Problem> = args
        .sizes
        .iter()
        .map(|&n| Problem::new(n as usize, n as usize, n as usize))
        .collect();
    problems.extend(&args.shapes);
    if problems.is_empty() {
        problems = report_problems(false)?;
    }
    Ok(problems)
}

/// The report's benchmark set: square sizes then the MLP shapes (`quick`: tiny ones).
///
/// # Errors
/// Never for the built-in lists (they parse).
pub fn report_problems(quick: bool) -> CliResult<Vec<Problem>> {
    let (sizes, shapes): (&[usize], &[&str]) = if quick {
        (&[16, 32, 64], &["16x48x32:crr"])
    } else {
        (&REPORT_SIZES, &MLP_SHAPES)
    };
    let mut problems: Vec<Problem> = sizes.iter().map(|&n| Problem::new(n, n, n)).collect();
    for s in shapes {
        problems.push(parse_shape(s)?);
    }
    Ok(problems)
}

/// The kernels `--kernels` names (validated), or every registered one.
///
/// # Errors
/// An unknown name, listing the registered ones.
pub fn select_kernels(names: &[String]) -> CliResult<Vec<&'static dyn MatmulKernel>> {
    if names.is_empty() {
        return Ok(registry().iter().collect());
    }
    let mut out: Vec<&'static dyn MatmulKernel> = Vec::new();
    for name in names {
        let k = registry().get(name.trim())?;
        if !out.iter().any(|o| o.name() == k.name()) {
            out.push(k);
        }
    }
    Ok(out)
}

/// Runs `poolgrad bench`.
pub fn run(args: &BenchArgs) -> CliResult {
    let host = HostInfo::from_env()?;
    let knobs = BenchKnobs::from_env()?;
    let kernels = select_kernels(&args.kernels)?;
    let par = match args.threads {
        None => poolgrad::kernels::settings()?.par(),
        Some(1) => Par::Seq,
        Some(n) => Par::Rayon(n as usize),
    };
    let problems = problems(args)?;
    let results = measure(&problems, &kernels, par, &knobs, args.kernels.is_empty())?;
    if args.json {
        let out = json!({
            "host": host.to_json(),
            "settings": crate::cli::host::settings_json(&knobs)?,
            "threads": par.threads(),
            "shapes": results.iter().map(ShapeResult::to_json).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        host.print();
        println!();
        print(&results, &knobs, par.threads());
    }
    Ok(())
}
