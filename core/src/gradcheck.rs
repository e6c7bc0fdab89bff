//! A gradient checker for users: compares backward's gradients with central differences.
//!
//! The forward runs in f32, so differences are formed in f64 from the f32 losses and the
//! step actually taken after rounding `x ± h` to f32; the tolerance
//! `|analytic - numeric| <= atol + rtol · max(|analytic|, |numeric|)` fits f32 noise.
//! Keep inputs away from kinks (relu at 0) by more than `h`.

use crate::error::Result;
use crate::graph::{Graph, Var};
use crate::tensor::Tensor;
use std::fmt;

/// Step and tolerances of [`gradcheck`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradcheckOptions {
    /// Finite-difference step `h`.
    pub step: f32,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
}

impl Default for GradcheckOptions {
    /// `h = 4e-3`, `atol = 1e-3`, `rtol = 1e-2`: loose enough for f32 round-off
    /// (~1e-7·|loss|/h) and truncation (~h²), tight enough to catch a wrong gradient.
    fn default() -> Self {
        GradcheckOptions {
            step: 4e-3,
            atol: 1e-3,
            rtol: 1e-2,
        }
    }
}

/// The element with the largest error relative to its tolerance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradcheckWorst {
    /// Index of the input (param) in the `inputs` slice.
    pub param: usize,
    /// Flat (row-major) index of the element.
    pub index: usize,
    /// Backward's value.
    pub analytic: f64,
    /// The central difference.
    pub numeric: f64,
    /// `|analytic - numeric| / max(|analytic|, |numeric|)` (0 when both are 0).
    pub rel_err: f64,
    /// Error divided by the allowed error: `> 1` fails.
    pub ratio: f64,
}

/// What [`gradcheck`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct GradcheckReport {
    /// Every element within tolerance.
    pub passed: bool,
    /// Elements compared.
    pub checked: usize,
    /// The worst element (`None` when there were no elements).
    pub worst: Option<GradcheckWorst>,
}

impl fmt::Display for GradcheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed { "passed" } else { "FAILED" };
        write!(f, "gradcheck {verdict} over {} elements", self.checked)?;
        if let Some(w) = self.worst {
            write!(
                f,
                "; worst: input {} element {}: analytic {:.6e} vs numeric {:.6e} (rel err {:.2e}, {:.2}× tolerance)",
                w.param, w.index, w.analytic, w.numeric, w.rel_err, w.ratio
            )?;
        }
        Ok(())
    }
}

/// Checks the gradients of `f` with respect to every tensor in `inputs`.
///
/// `f` builds a scalar loss from the inputs, given to it as params of a fresh graph; it
/// is called once for backward and twice per input element. Inputs are restored after.
///
/// # Errors
/// Whatever `f`, [`Graph::new`] or [`Graph::backward`] return (e.g. a non-scalar loss).
pub fn gradcheck<F>(inputs: &[Tensor], mut f: F, opts: GradcheckOptions) -> Result<GradcheckReport>
where
    F: FnMut(&mut Graph, &[Var]) -> Result<Var>,
{
    let mut g = Graph::new()?;
    let vars: Vec<Var> = inputs.iter().map(|t| g.param(t.clone())).collect();
    let loss = f(&mut g, &vars)?;
    g.backward(loss)?;
    let analytic: Vec<Vec<f32>> = vars
        .iter()
        .zip(inputs)
        .map(|(&v, t)| {
            g.grad(v)
                .map_or_else(|| vec![0.0; t.numel()], |d| d.data().to_vec())
        })
        .collect();
    let mut eval = |g: &mut Graph| -> Result<f64> {
        g.reset();
        let loss = f(g, &vars)?;
        Ok(g.value(loss)?.item()? as f64)
    };
    let mut report = GradcheckReport {
        passed: true,
        checked: 0,
        worst: None,
    };
    for (p, &v) in vars.iter().enumerate() {
        for (i, (&x, &a)) in inputs[p].data().iter().zip(&analytic[p]).enumerate() {
            let (xp, xm) = (x + opts.step, x - opts.step);
            g.param_value_mut(v)?.data_mut()[i] = xp;
            let lp = eval(&mut g)?;
            g.param_value_mut(v)?.data_mut()[i] = xm;
            let lm = eval(&mut g)?;
            g.param_value_mut(v)?.data_mut()[i] = x;
            let numeric = (lp - lm) / (xp as f64 - xm as f64);
            let a = a as f64;
            let err = (a - numeric).abs();
            let scale = a.abs().max(numeric.abs());
            let ratio = err / (opts.atol + opts.rtol * scale);
            report.checked += 1;
            // NaN counts as a failure and as the worst element.
            if ratio.is_nan() || ratio > 1.0 {
                report.passed = false;
            }
            if report
                .worst
                .is_none_or(|w| ratio.is_nan() || ratio > w.ratio)
            {
                report.worst = Some(GradcheckWorst {
                    param: p,
                    index: i,
                    analytic: a,
                    numeric,
                    rel_err: if scale > 0.0 { err / scale } else { 0.0 },
                    ratio,
                });
            }
        }
    }
    Ok(report)
}
