//! One Strassen step on fused operands, recursively, in the "Strassen reloaded" form
//! (Huang, Smith, Henry, van de Geijn, SC'16): each of the seven products packs its operand
//! sums (`A11 + A22`, …) straight into the packed panels and writes its result into every
//! C quadrant that needs it from the microkernel, so no temporary matrix exists.
//!
//! A level-L sub-problem carries up to 2^L signed terms per operand and 2^L destinations;
//! the packed driver takes up to four, so at most two levels fuse.

use crate::packed::{CDst, PackedKernel, Product, Term, fused};
use crate::problem::Par;

/// Most terms the packed driver accepts per operand and destinations per product.
const MAX_TERMS: usize = 4;

/// Strassen levels applied at most. Two fused levels (four terms per operand, four C
/// destinations) measured slower than one here (0.95× packed at n = 4096 against 1.04×):
/// the extra packing reads and C traffic cost more than the 7/8 saves.
pub const MAX_LEVELS: usize = 1;

/// The split point of a dimension: half of it, rounded down to a multiple of `block`.
pub fn half(d: usize, block: usize) -> usize {
    d / 2 / block.max(1) * block.max(1)
}

/// Quadrant of a 2×2 split: (row half, column half).
type Quad = (usize, usize);

/// The seven products: A terms, B terms and C updates, each as (quadrant, sign).
#[allow(clippy::type_complexity)]
const PRODUCTS: [(&[(Quad, f32)], &[(Quad, f32)], &[(Quad, f32)]); 7] = [
    // M1 = (A11 + A22)(B11 + B22); C11 += M1, C22 += M1
    (
        &[((0, 0), 1.0), ((1, 1), 1.0)],
        &[((0, 0), 1.0), ((1, 1), 1.0)],
        &[((0, 0), 1.0), ((1, 1), 1.0)],
    ),
    // M2 = (A21 + A22) B11; C21 += M2, C22 -= M2
    (
        &[((1, 0), 1.0), ((1, 1), 1.0)],
        &[((0, 0), 1.0)],
        &[((1, 0), 1.0), ((1, 1), -1.0)],
    ),
    // M3 = A11 (B12 - B22); C12 += M3, C22 += M3
    (
        &[((0, 0), 1.0)],
        &[((0, 1), 1.0), ((1, 1), -1.0)],
        &[((0, 1), 1.0), ((1, 1), 1.0)],
    ),
    // M4 = A22 (B21 - B11); C11 += M4, C21 += M4
    (
        &[((1, 1), 1.0)],
        &[((1, 0), 1.0), ((0, 0), -1.0)],
        &[((0, 0), 1.0), ((1, 0), 1.0)],
    ),
    // M5 = (A11 + A12) B22; C11 -= M5, C12 += M5
    (
        &[((0, 0), 1.0), ((0, 1), 1.0)],
        &[((1, 1), 1.0)],
        &[((0, 0), -1.0), ((0, 1), 1.0)],
    ),
    // M6 = (A21 - A11)(B11 + B12); C22 += M6
    (
        &[((1, 0), 1.0), ((0, 0), -1.0)],
        &[((0, 0), 1.0), ((0, 1), 1.0)],
        &[((1, 1), 1.0)],
    ),
    // M7 = (A12 - A22)(B21 + B22); C11 += M7
    (
        &[((0, 1), 1.0), ((1, 1), -1.0)],
        &[((1, 0), 1.0), ((1, 1), 1.0)],
        &[((0, 0), 1.0)],
    ),
];

/// How the recursion splits.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Strassen levels still to apply.
    pub levels: usize,
    /// Split only while every half would be at least this big.
    pub base: usize,
    /// Split points are multiples of this.
    pub block: usize,
    pub par: Par,
}

/// `C_d (=|+=) coef_d · (Σ a)(Σ b)` for an `m×n×k` problem, by Strassen steps while the
/// plan allows and the fused packed product below that.
///
/// # Safety
/// As `packed::fused`: terms cover `m×k` / `k×n` valid floats, destinations `m×n` distinct
/// writable floats disjoint from the inputs and from each other.
pub unsafe fn multiply(
    kernel: &PackedKernel,
    plan: Plan,
    (m, n, k): (usize, usize, usize),
    a: &[Term],
    b: &[Term],
    c: &[CDst],
) {
    let (hm, hn, hk) = (
        half(m, plan.block),
        half(n, plan.block),
        half(k, plan.block),
    );
    let fits = 2 * a.len().max(b.len()).max(c.len()) <= MAX_TERMS;
    if plan.levels == 0 || !fits || hm.min(hn).min(hk) < plan.base.max(1) {
        let p = Product { m, n, k, a, b, c };
        // SAFETY: forwarded caller contract.
        unsafe { fused(kernel, p, plan.par) };
        return;
    }
    // Quadrant and peeled-edge corners (wrapping arithmetic; only non-empty blocks are read).
    let a_at = |t: &Term, i: usize, p: usize| t.at(i, p);
    let b_at = |t: &Term, p: usize, j: usize| t.at(j, p);
    let c_at = |d: &CDst, i: usize, j: usize, overwrite: bool| CDst {
        ptr: d.ptr.wrapping_add(i * d.rs + j * d.cs),
        overwrite,
        ..*d
    };

    // The 2hm × 2hn × 2hk core: seven products on quadrants. A quadrant of C is
    // overwritten (when C is) by the first product that touches it, accumulated after.
    let mut touched = [[false; 2]; 2];
    for (pa, pb, pc) in PRODUCTS {
        let mut at = Vec::with_capacity(MAX_TERMS);
        for &((qi, qj), s) in pa {
            for t in a {
                at.push(Term {
                    coef: t.coef * s,
                    ..a_at(t, qi * hm, qj * hk)
                });
            }
        }
        let mut bt = Vec::with_capacity(MAX_TERMS);
        for &((qi, qj), s) in pb {
            for t in b {
                bt.push(Term {
                    coef: t.coef * s,
                    ..b_at(t, qi * hk, qj * hn)
                });
            }
        }
        let mut ct = Vec::with_capacity(MAX_TERMS);
        for &((qi, qj), s) in pc {
            let first = !touched[qi][qj];
            touched[qi][qj] = true;
            for d in c {
                ct.push(CDst {
                    coef: d.coef * s,
                    ..c_at(d, qi * hm, qj * hn, d.overwrite && first)
                });
            }
        }
        let sub = Plan {
            levels: plan.levels - 1,
            ..plan
        };
        // SAFETY: quadrants of valid blocks, destinations disjoint quadrants.
        unsafe { multiply(kernel, sub, (hm, hn, hk), &at, &bt, &ct) };
    }

    // Peel the ragged edges with plain (fused-term) packed products.
    let (cm, cn, ck) = (2 * hm, 2 * hn, 2 * hk);
    let shift_a = |i: usize, p: usize| a.iter().map(|t| a_at(t, i, p)).collect::<Vec<_>>();
    let shift_b = |p: usize, j: usize| b.iter().map(|t| b_at(t, p, j)).collect::<Vec<_>>();
    let shift_c = |i: usize, j: usize, keep: bool| {
        c.iter()
            .map(|d| c_at(d, i, j, keep && d.overwrite))
            .collect::<Vec<_>>()
    };
    let edges = [
        // Core rows and columns, the rest of k: accumulate onto the core.
        (
            (cm, cn, k - ck),
            shift_a(0, ck),
            shift_b(ck, 0),
            shift_c(0, 0, false),
        ),
        // Rows below the core, all columns and all of k.
        (
            (m - cm, n, k),
            shift_a(cm, 0),
            shift_b(0, 0),
            shift_c(cm, 0, true),
        ),
        // Core rows, columns right of the core, all of k.
        (
            (cm, n - cn, k),
            shift_a(0, 0),
            shift_b(0, cn),
            shift_c(0, cn, true),
        ),
    ];
    for ((em, en, ek), at, bt, ct) in edges {
        if em == 0 || en == 0 || ek == 0 {
            continue;
        }
        let p = Product {
            m: em,
            n: en,
            k: ek,
            a: &at,
            b: &bt,
            c: &ct,
        };
        // SAFETY: sub-blocks of valid blocks; the three edges write disjoint parts of C
        // (the first only accumulates onto the finished core).
        unsafe { fused(kernel, p, plan.par) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packed::{a_term, b_term, c_dst};
    use crate::{Accum, MatMut, MatRef, MatmulKernel, naive::NaiveKernel};

    /// Two fused levels (four terms, four destinations) stay exact on small integers, even
    /// though the kernel applies one level by default.
    #[test]
    fn two_fused_levels_match_naive() {
        let (m, n, k) = (133, 70, 101);
        let ints = |len: usize, s: usize| {
            (0..len)
                .map(|i| ((i * 7 + s) % 5) as f32 - 2.0)
                .collect::<Vec<_>>()
        };
        let (a, b) = (ints(m * k, 1), ints(k * n, 3));
        let av = MatRef::new(&a, m, k, k, 1).unwrap();
        let bv = MatRef::new(&b, k, n, 1, k).unwrap();
        for accum in [Accum::Replace, Accum::Add] {
            let mut want = ints(m * n, 2);
            let mut got = want.clone();
            if accum == Accum::Replace {
                got.fill(f32::NAN);
            }
            NaiveKernel.run(
                av,
                bv,
                MatMut::new(&mut want, m, n, n, 1).unwrap(),
                accum,
                Par::Seq,
            );
            let mut cv = MatMut::new(&mut got, m, n, n, 1).unwrap();
            let plan = Plan {
                levels: 2,
                base: 8,
                block: 4,
                par: Par::Seq,
            };
            let (at, bt, ct) = ([a_term(&av)], [b_term(&bv)], [c_dst(&mut cv, accum)]);
            // SAFETY: terms and destination come from checked, non-overlapping views.
            unsafe { multiply(&PackedKernel::new(), plan, (m, n, k), &at, &bt, &ct) };
            assert_eq!(want, got, "{accum:?}");
        }
    }
}
