//! Optimizers: [`Sgd`] (with optional momentum) and [`Adam`]. Each `step` updates every
//! param of the graph that has a gradient from the last backward, in place.

use crate::error::{CoreError, Result};
use crate::graph::Graph;
use crate::parallel::for_chunks;

fn check_lr(op: &'static str, lr: f32) -> Result<()> {
    if lr.is_finite() && lr >= 0.0 {
        Ok(())
    } else {
        Err(CoreError::InvalidArgument {
            op,
            detail: format!("learning rate {lr} refused; accepted: finite and >= 0"),
        })
    }
}

/// Keeps one state buffer per param, sized like the param (grown when params are added).
fn sync_state(state: &mut Vec<Vec<f32>>, g: &mut Graph) {
    let sizes = g.params_and_grads_mut().map(|(p, _)| p.numel());
    for (i, n) in sizes.enumerate() {
        if i >= state.len() {
            state.push(vec![0.0; n]);
        } else if state[i].len() != n {
            state[i] = vec![0.0; n];
        }
    }
}

/// Stochastic gradient descent: `v = μ·v + g; p -= lr·v` (plain `p -= lr·g` when μ = 0;
/// that plain update of a large param is split across the kernels' threads).
#[derive(Debug, Clone)]
pub struct Sgd {
    lr: f32,
    momentum: f32,
    velocity: Vec<Vec<f32>>,
}

impl Sgd {
    /// SGD with learning rate `lr` and no momentum.
    pub fn new(lr: f32) -> Sgd {
        Sgd {
            lr,
            momentum: 0.0,
            velocity: Vec::new(),
        }
    }

    /// Sets the momentum factor μ (0 disables it).
    pub fn momentum(mut self, momentum: f32) -> Sgd {
        self.momentum = momentum;
        self
    }

    /// One update of every param that has a gradient.
    ///
    /// # Errors
    /// [`CoreError::InvalidArgument`] for a negative or non-finite lr, or momentum outside
    /// `[0, 1)`.
    pub fn step(&mut self, g: &mut Graph) -> Result<()> {
        check_lr("Sgd::step", self.lr)?;
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(CoreError::InvalidArgument {
                op: "Sgd::step",
                detail: format!("momentum {} refused; accepted: 0 <= m < 1", self.momentum),
            });
        }
        let (lr, mu) = (self.lr, self.momentum);
        if mu == 0.0 {
            for (p, grad) in g.params_and_grads_mut() {
                if let Some(grad) = grad {
                    let grad = grad.data();
                    for_chunks(
                        p.data_mut(),
                        #[inline(always)]
                        |off, p| {
                            for (p, &d) in p.iter_mut().zip(&grad[off..]) {
                                *p -= lr * d;
                            }
                        },
                    );
                }
            }
            return Ok(());
        }
        sync_state(&mut self.velocity, g);
        for ((p, grad), v) in g.params_and_grads_mut().zip(&mut self.velocity) {
            if let Some(grad) = grad {
                for ((p, &d), v) in p.data_mut().iter_mut().zip(grad.data()).zip(v.iter_mut()) {
                    *v = mu * *v + d;
                    *p -= lr * *v;
                }
            }
        }
        Ok(())
    }
}

/// Adam (Kingma & Ba 2015) with bias correction; defaults β1 = 0.9, β2 = 0.999, ε = 1e-8.
///
/// Uses the paper's efficient form `p -= lr·sqrt(1-β2ᵗ)/(1-β1ᵗ) · m / (sqrt(v) + ε)`: one
/// scalar per step instead of two per element; it differs from PyTorch's only in where ε
/// enters (ε·sqrt(1-β2ᵗ)), which matters only when `sqrt(v)` is near ε.
#[derive(Debug, Clone)]
pub struct Adam {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    t: i32,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
}

impl Adam {
    /// Adam with learning rate `lr` and the default betas and epsilon.
    pub fn new(lr: f32) -> Adam {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }

    /// Sets β1 and β2.
    pub fn betas(mut self, beta1: f32, beta2: f32) -> Adam {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// Sets ε.
    pub fn eps(mut self, eps: f32) -> Adam {
        self.eps = eps;
        self
    }

    /// One update of every param that has a gradient.
    ///
    /// # Errors
    /// [`CoreError::InvalidArgument`] for a bad lr, betas outside `[0, 1)` or ε <= 0.
    pub fn step(&mut self, g: &mut Graph) -> Result<()> {
        check_lr("Adam::step", self.lr)?;
        let ok =
            (0.0..1.0).contains(&self.beta1) && (0.0..1.0).contains(&self.beta2) && self.eps > 0.0;
        if !ok {
            return Err(CoreError::InvalidArgument {
                op: "Adam::step",
                detail: format!(
                    "betas ({}, {}) / eps {} refused; accepted: 0 <= beta < 1, eps > 0",
                    self.beta1, self.beta2, self.eps
                ),
            });
        }
        sync_state(&mut self.m, g);
        sync_state(&mut self.v, g);
        self.t = self.t.saturating_add(1);
        let (b1, b2, eps) = (self.beta1, self.beta2, self.eps);
        let step = self.lr * (1.0 - b2.powi(self.t)).sqrt() / (1.0 - b1.powi(self.t));
        for (((p, grad), m), v) in g.params_and_grads_mut().zip(&mut self.m).zip(&mut self.v) {
            let Some(grad) = grad else { continue };
            for (((p, &d), m), v) in p
                .data_mut()
                .iter_mut()
                .zip(grad.data())
                .zip(m.iter_mut())
                .zip(v.iter_mut())
            {
                *m = b1 * *m + (1.0 - b1) * d;
                *v = b2 * *v + (1.0 - b2) * d * d;
                *p -= step * *m / (v.sqrt() + eps);
            }
        }
        Ok(())
    }
}
