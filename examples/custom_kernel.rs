//! Write your own matmul kernel, register it with one macro, and see how it fares:
//! it appears in the registry, the scheduler calibrates it beside the built-ins, and a
//! small table compares them.
//!
//! ```sh
//! cargo run --release --example custom_kernel
//! ```

use poolgrad::kernels::{
    Accum, Layout, MatMut, MatRef, MatmulKernel, Par, Problem, register_kernel, registry,
};
use poolgrad::scheduler::{Effort, Mode, Scheduler, SchedulerConfig, calibrate, format_shape};
use std::error::Error;
use std::io::Write;

/// `C = A·B` one row of C at a time: for each `(i, p)`, `c[i, :] += a[i, p] · b[p, :]`.
/// The inner loop walks two contiguous rows, so the compiler vectorises it; there is no
/// packing, so it does well on small shapes and falls behind once B leaves the cache.
#[derive(Debug)]
pub struct RowAxpyKernel;

impl MatmulKernel for RowAxpyKernel {
    fn name(&self) -> &'static str {
        "example.row-axpy"
    }

    fn description(&self) -> &'static str {
        "one axpy per (row of A, element): contiguous rows of B and C, no packing"
    }

    /// Rows of B and C must be contiguous; A may have any layout.
    fn supports(&self, p: &Problem) -> bool {
        p.b == Layout::RowMajor && p.c == Layout::RowMajor
    }

    /// About 8 GFLOP/s: only the ratio to other kernels' hints matters.
    fn cost_hint(&self, p: &Problem) -> f64 {
        p.flops() / 8e9 + 1e-7
    }

    fn run(&self, a: MatRef<'_>, b: MatRef<'_>, mut c: MatMut<'_>, accum: Accum, _par: Par) {
        let (n, k) = (c.cols(), a.cols());
        let (b_stride, c_stride) = (b.row_stride(), c.row_stride());
        let b_data = b.as_slice();
        for i in 0..c.rows() {
            // The view starts at element (0, 0), and `supports` made its rows contiguous.
            let row = &mut c.as_mut_slice()[i * c_stride..i * c_stride + n];
            if accum == Accum::Replace {
                row.fill(0.0);
            }
            for p in 0..k {
                let a_ip = a.at(i, p);
                let b_row = &b_data[p * b_stride..p * b_stride + n];
                for (c_ij, &b_pj) in row.iter_mut().zip(b_row) {
                    *c_ij += a_ip * b_pj;
                }
            }
        }
    }
}

// One line makes it a plugin: the registry, the scheduler and the benches now see it.
register_kernel!(RowAxpyKernel);

/// Shapes to calibrate and compare: two squares and an MLP layer's forward product.
const SHAPES: [(usize, usize, usize); 3] = [(64, 64, 64), (256, 256, 256), (64, 256, 784)];

/// Runs the walk-through, writing to `out`.
///
/// # Errors
/// A registry, scheduler or kernel error, or a failed write.
pub fn run(out: &mut dyn Write) -> Result<(), Box<dyn Error>> {
    poolgrad::link_plugins();
    registry().check()?;

    writeln!(out, "== registry")?;
    for k in registry().iter() {
        let mark = if k.name() == RowAxpyKernel.name() {
            "  <- this example"
        } else {
            ""
        };
        writeln!(out, "{:<18} {}{mark}", k.name(), k.description())?;
    }

    // Correct first: compare with the reference kernel, including Accum::Add.
    let (m, n, k) = (37, 29, 41);
    let a: Vec<f32> = (0..m * k).map(|x| ((x * 7) % 11) as f32 - 5.0).collect();
    let b: Vec<f32> = (0..k * n).map(|x| ((x * 5) % 13) as f32 - 6.0).collect();
    let mut mine = vec![1.0f32; m * n];
    let mut reference = vec![1.0f32; m * n];
    for (kernel, c) in [
        (registry().get("naive")?, &mut reference),
        (&RowAxpyKernel as &dyn MatmulKernel, &mut mine),
    ] {
        kernel.matmul(
            MatRef::row_major(&a, m, k)?,
            MatRef::row_major(&b, k, n)?,
            MatMut::row_major(c, m, n)?,
            Accum::Add,
        )?;
    }
    writeln!(
        out,
        "\n== check: {} equals naive on {m}x{n}x{k} (C += A·B): {}",
        RowAxpyKernel.name(),
        mine == reference
    )?;
    if mine != reference {
        return Err("the example kernel disagrees with naive".into());
    }

    // Calibrate: a scheduler over every registered kernel, choices kept in memory.
    // Prune nothing on cost hints, so every supporting kernel (ours included) is timed.
    let mut config = SchedulerConfig::new(Mode::Cached)?;
    config.effort.prune_factor = f64::INFINITY;
    let scheduler = Scheduler::with_config(config)?;
    let problems: Vec<Problem> = SHAPES
        .iter()
        .map(|&(m, n, k)| Problem::new(m, n, k))
        .collect();
    writeln!(
        out,
        "\n== calibration (the scheduler times the candidates, keeps the winner)"
    )?;
    for p in &problems {
        let cal = scheduler.calibrate(p)?;
        let timed: Vec<String> = cal
            .timings
            .iter()
            .map(|t| {
                let note = if t.aborted { " (abandoned)" } else { "" };
                format!("{} {:.1} µs{note}", t.kernel, t.median_s * 1e6)
            })
            .collect();
        writeln!(
            out,
            "{:<16} winner {:<18} [{}]",
            format_shape(p),
            cal.winner.name(),
            timed.join(", ")
        )?;
    }

    // Compare: every kernel timed on every shape, nothing pruned or abandoned.
    let effort = Effort {
        warmup: 1,
        max_runs: 20,
        budget: std::time::Duration::from_millis(20),
        prune_factor: f64::INFINITY,
        abort_ratio: f64::INFINITY,
    };
    let kernels: Vec<&'static dyn MatmulKernel> = registry().iter().collect();
    let par = poolgrad::kernels::settings()?.par();
    writeln!(out, "\n== comparison: GFLOP/s (median of up to 20 runs)")?;
    write!(out, "{:<16}", "shape")?;
    for k in &kernels {
        write!(out, " {:>17}", k.name())?;
    }
    writeln!(out)?;
    for p in &problems {
        let cal = calibrate(p, &kernels, par, &effort).ok_or("no kernel supports the shape")?;
        write!(out, "{:<16}", format_shape(p))?;
        for k in &kernels {
            let cell = match cal.timings.iter().find(|t| t.kernel == k.name()) {
                Some(t) => format!("{:.1}", p.flops() / t.median_s / 1e9),
                None => "-".into(),
            };
            write!(out, " {cell:>17}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn main() {
    if let Err(e) = run(&mut std::io::stdout()) {
        eprintln!("custom_kernel: error: {e}");
        std::process::exit(1);
    }
}
