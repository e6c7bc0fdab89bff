//! `tiled`: cache blocking in safe Rust, the step between `naive` and `packed`.
//!
//! C is walked in `TILE_M×TILE_N` tiles and k in `TILE_K` slabs so the A rows and B slab a
//! tile needs stay in L1/L2; inside a tile, one row of C is updated by an axpy over a
//! contiguous row of B when B is row-major, which the compiler vectorises.

use crate::kernel::MatmulKernel;
use crate::problem::{Accum, Par, Problem};
use crate::view::{MatMut, MatRef};

const TILE_M: usize = 32;
const TILE_N: usize = 256;
const TILE_K: usize = 128;

/// Cache-blocked matmul without explicit SIMD or packing.
#[derive(Clone, Copy, Debug, Default)]
pub struct TiledKernel;

impl MatmulKernel for TiledKernel {
    fn name(&self) -> &'static str {
        "tiled"
    }
    fn description(&self) -> &'static str {
        "cache-blocked loops (32x256x128 tiles), safe Rust, auto-vectorised"
    }
    fn supports(&self, _problem: &Problem) -> bool {
        true
    }
    fn cost_hint(&self, p: &Problem) -> f64 {
        p.flops() / 8e9 + 1e-7
    }
    fn run(&self, a: MatRef<'_>, b: MatRef<'_>, mut c: MatMut<'_>, accum: Accum, _par: Par) {
        let (m, n, k) = (c.rows(), c.cols(), a.cols());
        if accum == Accum::Replace {
            for i in 0..m {
                for j in 0..n {
                    *c.at_mut(i, j) = 0.0;
                }
            }
        }
        let mut row = [0.0f32; TILE_N];
        let mut b_slab = vec![0.0f32; TILE_K * TILE_N];
        for j0 in (0..n).step_by(TILE_N) {
            let nb = TILE_N.min(n - j0);
            for p0 in (0..k).step_by(TILE_K) {
                let kb = TILE_K.min(k - p0);
                // Copy the B slab row-major so the inner loop is contiguous whatever B's layout.
                for p in 0..kb {
                    for j in 0..nb {
                        b_slab[p * TILE_N + j] = b.at(p0 + p, j0 + j);
                    }
                }
                for i0 in (0..m).step_by(TILE_M) {
                    for i in i0..m.min(i0 + TILE_M) {
                        let acc = &mut row[..nb];
                        acc.fill(0.0);
                        for p in 0..kb {
                            let a_ip = a.at(i, p0 + p);
                            let b_row = &b_slab[p * TILE_N..p * TILE_N + nb];
                            for (x, &y) in acc.iter_mut().zip(b_row) {
                                *x += a_ip * y;
                            }
                        }
                        for (j, &x) in acc.iter().enumerate() {
                            *c.at_mut(i, j0 + j) += x;
                        }
                    }
                }
            }
        }
    }
}

crate::register_kernel!(TiledKernel);
