//! The report's correctness section: every kernel against an f64 reference per size, and
//! mp's error against the Strassen error bound.
//!
//! Per kernel: `max |c − ref| / max(|ref|, 1)` on sampled rows, checked against a
//! tolerance of `2·k·ε` (ε = 2⁻²³, f32 machine epsilon). For mp, with one Strassen level
//! forced (its defaults split only from n = 2048), the norm-wise error
//! `max |c − ref| / (max|A| · max|B|)` is checked against Higham's bound for Strassen with L
//! levels over a classical base of size n₀ = n / 2^L (Accuracy and Stability of Numerical
//! Algorithms, 2nd ed., §23.2.2): `(12^L · (n₀² + 5·n₀) − 5·n) · u`, u = 2⁻²⁴ (L = 0 gives
//! the classical `n²·u`).

use crate::cli::CliResult;
use crate::cli::measure::{ErrorStats, errors, random_matrix, reference_rows, sample_rows};
use crate::cli::progress::Progress;
use poolgrad::kernels::mp::StrassenKernel;
use poolgrad::kernels::{Accum, MatMut, MatRef, MatmulKernel, MpSettings, Par, registry};
use serde_json::{Value, json};

/// f32 machine epsilon (2⁻²³).
const EPS: f64 = f32::EPSILON as f64;
/// f32 unit roundoff (2⁻²⁴).
const UNIT: f64 = EPS / 2.0;
/// `naive` is checked up to this size (a run at 1024 takes seconds).
const NAIVE_MAX: usize = 512;

/// One kernel at one size.
#[derive(Clone, Debug)]
pub struct KernelCheck {
    pub kernel: &'static str,
    pub n: usize,
    /// `Err(reason)` when it was not run.
    pub error: Result<ErrorStats, String>,
    pub tolerance: f64,
}

/// mp (one level forced) at one size, against the bound.
#[derive(Clone, Debug)]
pub struct BoundCheck {
    pub n: usize,
    pub levels: usize,
    pub normwise_error: f64,
    pub bound: f64,
}

/// The whole section.
#[derive(Clone, Debug)]
pub struct Correctness {
    pub rows: Vec<KernelCheck>,
    pub mp: Vec<BoundCheck>,
}

/// Higham's norm-wise bound for `levels` Strassen levels on an n×n×n product (see the
/// module docs), as a multiple of `max|A|·max|B|`.
pub fn strassen_bound(n: usize, levels: usize) -> f64 {
    let n = n as f64;
    let n0 = n / 2f64.powi(levels as i32);
    (12f64.powi(levels as i32) * (n0 * n0 + 5.0 * n0) - 5.0 * n) * UNIT
}

fn square(n: usize) -> (Vec<f32>, Vec<f32>, Vec<usize>, Vec<f64>) {
    let a = random_matrix(n * n, 11);
    let b = random_matrix(n * n, 12);
    let rows = sample_rows(n);
    let reference = reference_rows(&a, &b, &rows, n, n);
    (a, b, rows, reference)
}

fn product(
    kernel: &dyn MatmulKernel,
    a: &[f32],
    b: &[f32],
    n: usize,
    par: Par,
) -> CliResult<Vec<f32>> {
    let mut c = vec![f32::NAN; n * n];
    kernel.matmul_with(
        MatRef::row_major(a, n, n)?,
        MatRef::row_major(b, n, n)?,
        MatMut::row_major(&mut c, n, n)?,
        Accum::Replace,
        par,
    )?;
    Ok(c)
}

/// Checks every registered kernel at `sizes`, and mp with a forced level at `mp_sizes`.
///
/// # Errors
/// A kernel error (a registered kernel refusing a plain row-major product).
pub fn run(sizes: &[usize], mp_sizes: &[usize], par: Par) -> CliResult<Correctness> {
    let progress = Progress::new("correctness", sizes.len() + mp_sizes.len());
    let mut rows = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        progress.step(i, &format!("n = {n}"));
        let (a, b, sample, reference) = square(n);
        for kernel in registry().iter() {
            let error = if kernel.name() == "naive" && n > NAIVE_MAX {
                Err(format!("skipped above n = {NAIVE_MAX} (seconds a run)"))
            } else if !kernel.supports(&poolgrad::kernels::Problem::new(n, n, n)) {
                Err("unsupported".into())
            } else {
                let c = product(kernel, &a, &b, n, par)?;
                Ok(errors(&c, n, &sample, &reference))
            };
            rows.push(KernelCheck {
                kernel: kernel.name(),
                n,
                error,
                tolerance: 2.0 * n as f64 * EPS,
            });
        }
    }
    // Split from n = 32 in blocks of 16, so the quadrants stay ≥ 16 at every size.
    let forced = StrassenKernel::with_settings(MpSettings {
        recurse_min: 32,
        base_threshold: 16,
        packed_block: 16,
        ..MpSettings::default()
    });
    let mut mp = Vec::new();
    for (i, &n) in mp_sizes.iter().enumerate() {
        progress.step(sizes.len() + i, &format!("mp bound, n = {n}"));
        let (a, b, sample, reference) = square(n);
        let c = product(&forced, &a, &b, n, par)?;
        let e = errors(&c, n, &sample, &reference);
        let norm = |x: &[f32]| x.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
        let levels = forced.levels(n, n, n);
        mp.push(BoundCheck {
            n,
            levels,
            normwise_error: e.max_abs / (norm(&a) * norm(&b)),
            bound: strassen_bound(n, levels),
        });
    }
    Ok(Correctness { rows, mp })
}

impl KernelCheck {
    /// Whether the error is within the tolerance (`None` when not run).
    pub fn ok(&self) -> Option<bool> {
        self.error
            .as_ref()
            .ok()
            .map(|e| e.max_rel.is_finite() && e.max_rel <= self.tolerance)
    }
}

impl Correctness {
    /// True when every run kernel is within tolerance and mp within its bound.
    pub fn all_ok(&self) -> bool {
        self.rows.iter().all(|r| r.ok() != Some(false))
            && self.mp.iter().all(|m| m.normwise_error <= m.bound)
    }

    /// Prints the per-kernel table (sizes as columns) and the mp bound table.
    pub fn print(&self) {
        println!(
            "== correctness: max |c − ref| / max(|ref|, 1) vs an f64 reference (tolerance 2·k·ε)"
        );
        println!("(n/a: the kernel does not support the size; skipped: too slow to run here)");
        let mut sizes: Vec<usize> = self.rows.iter().map(|r| r.n).collect();
        sizes.dedup();
        print!("{:<18}", "kernel");
        for n in &sizes {
            print!(" {:>10}", format!("n={n}"));
        }
        println!();
        for kernel in registry().names() {
            print!("{kernel:<18}");
            for n in &sizes {
                let cell = match self.rows.iter().find(|r| r.kernel == kernel && r.n == *n) {
                    Some(r) => match (&r.error, r.ok()) {
                        (Ok(e), Some(true)) => format!("{:.1e}", e.max_rel),
                        (Ok(e), _) => format!("{:.1e}!", e.max_rel),
                        (Err(why), _) if why == "unsupported" => "n/a".into(),
                        (Err(_), _) => "skipped".into(),
                    },
                    None => "-".into(),
                };
                print!(" {cell:>10}");
            }
            println!();
        }
        if !self.mp.is_empty() {
            println!();
            println!(
                "mp, one Strassen level forced: max|ΔC| / (max|A|·max|B|) vs Higham's bound \
                 (12^L·(n₀² + 5n₀) − 5n)·u, u = 2⁻²⁴"
            );
            println!(
                "{:>6} {:>7} {:>12} {:>12} {:>7}",
                "n", "levels", "error", "bound", "holds"
            );
            for m in &self.mp {
                println!(
                    "{:>6} {:>7} {:>12.2e} {:>12.2e} {:>7}",
                    m.n,
                    m.levels,
                    m.normwise_error,
                    m.bound,
                    if m.normwise_error <= m.bound {
                        "yes"
                    } else {
                        "NO"
                    }
                );
            }
        }
        println!(
            "all within tolerance and bound: {}",
            if self.all_ok() {
                "yes"
            } else {
                "NO (marked !)"
            }
        );
    }

    /// The `correctness` object of report.json.
    pub fn to_json(&self) -> Value {
        json!({
            "reference": "f64, on up to 128 sampled rows",
            "metric": "max |c - ref| / max(|ref|, 1)",
            "tolerance": "2 * k * eps, eps = 2^-23",
            "rows": self.rows.iter().map(|r| match &r.error {
                Ok(e) => json!({
                    "kernel": r.kernel, "n": r.n,
                    "max_rel_error": e.max_rel, "max_abs_error": e.max_abs,
                    "tolerance": r.tolerance, "ok": r.ok(),
                }),
                Err(why) => json!({ "kernel": r.kernel, "n": r.n, "skipped": why }),
            }).collect::<Vec<_>>(),
            "mp_bound": {
                "kernel": "mp with recurse_min 32, base_threshold 16, packed_block 16",
                "metric": "max |c - ref| / (max|A| * max|B|)",
                "bound": "(12^L * (n0^2 + 5 n0) - 5 n) * u, n0 = n / 2^L, u = 2^-24 (Higham, 2nd ed., 23.2.2)",
                "rows": self.mp.iter().map(|m| json!({
                    "n": m.n, "levels": m.levels, "normwise_error": m.normwise_error,
                    "bound": m.bound, "holds": m.normwise_error <= m.bound,
                })).collect::<Vec<_>>(),
            },
            "all_ok": self.all_ok(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_is_classical_at_level_zero_and_grows_with_levels() {
        assert!((strassen_bound(100, 0) - 1e4 * UNIT).abs() < 1e-12);
        // One level: 12·(n²/4 + 5n/2) − 5n = 3n² + 25n.
        assert!((strassen_bound(100, 1) - 32_500.0 * UNIT).abs() < 1e-9);
    }
}
