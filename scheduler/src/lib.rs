//! poolgrad-scheduler: chooses a kernel for each matmul problem.
//!
//! **Status: minimal.** Until calibration lands (issue 3), [`Scheduler::choose`] picks the
//! supporting kernel with the lowest `cost_hint`; `POOLGRAD_FORCE_KERNEL` is honoured.

use poolgrad_kernels::{
    Accum, KernelError, MatMut, MatRef, MatmulKernel, Problem, Result, check_operands, registry,
};

/// Picks kernels for problems and runs them.
#[derive(Debug, Default)]
pub struct Scheduler {
    forced: Option<&'static dyn MatmulKernel>,
}

impl Scheduler {
    /// A scheduler configured from the environment (`POOLGRAD_FORCE_KERNEL`).
    ///
    /// # Errors
    /// [`KernelError::UnknownKernel`] when the forced name is not registered.
    pub fn from_env() -> Result<Scheduler> {
        let forced = match std::env::var("POOLGRAD_FORCE_KERNEL") {
            Ok(name) if !name.trim().is_empty() => Some(registry().get(name.trim())?),
            _ => None,
        };
        Ok(Scheduler { forced })
    }

    /// The kernel to use for `problem`.
    ///
    /// # Errors
    /// [`KernelError::Unsupported`] when a forced kernel cannot run it, or no kernel can.
    pub fn choose(&self, problem: &Problem) -> Result<&'static dyn MatmulKernel> {
        if let Some(k) = self.forced {
            return if k.supports(problem) {
                Ok(k)
            } else {
                Err(KernelError::Unsupported {
                    kernel: k.name().into(),
                    reason: format!(
                        "forced by POOLGRAD_FORCE_KERNEL but it does not support {problem:?}"
                    ),
                })
            };
        }
        registry()
            .iter()
            .filter(|k| k.supports(problem))
            .min_by(|x, y| x.cost_hint(problem).total_cmp(&y.cost_hint(problem)))
            .ok_or_else(|| KernelError::Unsupported {
                kernel: "(any)".into(),
                reason: format!("no registered kernel supports {problem:?}"),
            })
    }

    /// Checks the operands, chooses a kernel and runs it.
    ///
    /// # Errors
    /// Shape errors from [`check_operands`], or from [`Scheduler::choose`].
    pub fn matmul(&self, a: MatRef<'_>, b: MatRef<'_>, c: MatMut<'_>, accum: Accum) -> Result<()> {
        check_operands("matmul", &a, &b, &c)?;
        let kernel = self.choose(&Problem::of(&a, &b, &c))?;
        kernel.matmul(a, b, c, accum)
    }
}
