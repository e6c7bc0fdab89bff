//! The `MatmulKernel` plugin trait: what every kernel, built-in or plugin, implements.

use crate::error::{KernelError, Result};
use crate::problem::{Accum, Par, Problem};
use crate::settings::settings;
use crate::view::{MatMut, MatRef, ranges_overlap};

/// A matmul implementation: `C = A·B` or `C += A·B` on checked f32 views.
///
/// Implementors write [`run`](MatmulKernel::run); callers use the provided
/// [`matmul`](MatmulKernel::matmul), which checks dimensions and overlap first.
pub trait MatmulKernel: Send + Sync + 'static {
    /// A stable id, e.g. `packed` or `plugins.small`.
    fn name(&self) -> &'static str;

    /// One line saying what the kernel does, for `poolgrad kernels`.
    fn description(&self) -> &'static str {
        ""
    }

    /// The instruction set this kernel uses on this host (e.g. `avx512`, `scalar`).
    fn isa(&self) -> &'static str {
        "scalar"
    }

    /// False where the kernel cannot run (missing CPU feature, shape limits).
    fn supports(&self, problem: &Problem) -> bool;

    /// Estimated seconds for `problem`, used to prune calibration and to choose before
    /// calibration has run. Only the ratio between kernels matters.
    fn cost_hint(&self, problem: &Problem) -> f64;

    /// Computes `C = A·B` (Replace) or `C += A·B` (Add).
    ///
    /// May assume `a.rows() == c.rows()`, `a.cols() == b.rows()`, `b.cols() == c.cols()`,
    /// `supports(&Problem::of(..))`, and that C shares no memory with A or B.
    /// With `Accum::Replace` it must not read C.
    fn run(&self, a: MatRef<'_>, b: MatRef<'_>, c: MatMut<'_>, accum: Accum, par: Par);

    /// Checks the operands, then runs with the parallelism of the environment
    /// (`POOLGRAD_PAR`, `POOLGRAD_THREADS`).
    ///
    /// # Errors
    /// [`KernelError::DimMismatch`], [`KernelError::OutputOverlapsInput`],
    /// [`KernelError::Unsupported`], or an invalid environment setting.
    fn matmul(&self, a: MatRef<'_>, b: MatRef<'_>, c: MatMut<'_>, accum: Accum) -> Result<()> {
        let par = settings()?.par();
        self.matmul_with(a, b, c, accum, par)
    }

    /// [`matmul`](MatmulKernel::matmul) with explicit parallelism.
    ///
    /// # Errors
    /// As [`matmul`](MatmulKernel::matmul).
    fn matmul_with(
        &self,
        a: MatRef<'_>,
        b: MatRef<'_>,
        c: MatMut<'_>,
        accum: Accum,
        par: Par,
    ) -> Result<()> {
        check_operands(self.name(), &a, &b, &c)?;
        let problem = Problem::of(&a, &b, &c);
        if !self.supports(&problem) {
            return Err(KernelError::Unsupported {
                kernel: self.name().to_string(),
                reason: format!(
                    "m={} n={} k={} layouts a={:?} b={:?} c={:?} (see `poolgrad kernels`)",
                    problem.m, problem.n, problem.k, problem.a, problem.b, problem.c
                ),
            });
        }
        self.run(a, b, c, accum, par);
        Ok(())
    }
}

/// Checks that `C = A·B` fits the shapes and that C shares no memory with A or B.
///
/// # Errors
/// [`KernelError::DimMismatch`] or [`KernelError::OutputOverlapsInput`].
pub fn check_operands(op: &str, a: &MatRef<'_>, b: &MatRef<'_>, c: &MatMut<'_>) -> Result<()> {
    if a.cols() != b.rows() || a.rows() != c.rows() || b.cols() != c.cols() {
        return Err(KernelError::DimMismatch {
            op: op.to_string(),
            a: (a.rows(), a.cols()),
            b: (b.rows(), b.cols()),
            c: (c.rows(), c.cols()),
        });
    }
    // Safe code cannot build such views (the borrow checker forbids it); this guards views
    // built by other means, e.g. across FFI.
    let c_range = c.addr_range();
    if ranges_overlap(c_range, a.addr_range()) {
        return Err(KernelError::OutputOverlapsInput { input: "a" });
    }
    if ranges_overlap(c_range, b.addr_range()) {
        return Err(KernelError::OutputOverlapsInput { input: "b" });
    }
    Ok(())
}

impl std::fmt::Debug for dyn MatmulKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MatmulKernel({})", self.name())
    }
}
