//! `naive`: the triple loop. Slow, obviously right, and the reference every other kernel is
//! tested against.

use crate::kernel::MatmulKernel;
use crate::problem::{Accum, Par, Problem};
use crate::view::{MatMut, MatRef};

/// The reference kernel: one dot product per element of C, summed in k order.
#[derive(Clone, Copy, Debug, Default)]
pub struct NaiveKernel;

impl MatmulKernel for NaiveKernel {
    fn name(&self) -> &'static str {
        "naive"
    }
    fn description(&self) -> &'static str {
        "triple loop, one dot product per element; the reference"
    }
    fn supports(&self, _problem: &Problem) -> bool {
        true
    }
    fn cost_hint(&self, p: &Problem) -> f64 {
        // About 1.5 GFLOP/s once the loop is vectorised poorly by strided access.
        p.flops() / 1.5e9 + 2e-8
    }
    fn run(&self, a: MatRef<'_>, b: MatRef<'_>, mut c: MatMut<'_>, accum: Accum, _par: Par) {
        for i in 0..c.rows() {
            for j in 0..c.cols() {
                let mut sum = 0.0f32;
                for p in 0..a.cols() {
                    sum += a.at(i, p) * b.at(p, j);
                }
                let out = c.at_mut(i, j);
                *out = match accum {
                    Accum::Replace => sum,
                    Accum::Add => *out + sum,
                };
            }
        }
    }
}

crate::register_kernel!(NaiveKernel);
