//! Every kernel against the reference at cache/register block edges (31/32/33, 63/64/65,
//! 127/128/129, mixed rather than the full cube), on a few non-square shapes ≥ 300, with a
//! zero-stride (broadcast) operand, and with NaN in C under `Accum::Replace`.

mod common;

use common::{Case, Data, Lay, candidates, check_all, mixed};
use poolgrad_kernels::{Accum, MatMut, MatRef, MatmulKernel, Par};

const EDGES: [usize; 9] = [31, 32, 33, 63, 64, 65, 127, 128, 129];

/// Triples of edge sizes where each of m, n, k takes every edge value and the three vary
/// independently (a Latin-square-like walk instead of all 729 combinations).
fn edge_shapes() -> Vec<(usize, usize, usize)> {
    let e = EDGES.len();
    let mut out = Vec::new();
    for i in 0..e {
        for shift in [1, 4] {
            out.push((EDGES[i], EDGES[(i + shift) % e], EDGES[(i + 2 * shift) % e]));
        }
    }
    out
}

#[test]
fn block_edges_small_integers_exact() {
    let kernels = candidates();
    let cases: Vec<Case> = edge_shapes()
        .into_iter()
        .enumerate()
        .map(|(idx, (m, n, k))| mixed(m, n, k, idx * 11))
        .collect();
    let total = cases.len() * kernels.len();
    assert_eq!(check_all(&kernels, cases), total);
}

#[test]
fn block_edges_random_floats_parallel() {
    let kernels = candidates();
    let cases: Vec<Case> = edge_shapes()
        .into_iter()
        .enumerate()
        .map(|(idx, (m, n, k))| Case {
            data: Data::Float,
            par: Par::Rayon(2),
            ..mixed(n, k, m, idx * 13 + 5)
        })
        .collect();
    let total = cases.len() * kernels.len();
    assert_eq!(check_all(&kernels, cases), total);
}

#[test]
fn large_non_square_shapes() {
    let kernels = candidates();
    let shapes: &[(usize, usize, usize, Lay, Lay, Lay)] = &[
        (300, 301, 129, Lay::Row, Lay::Row, Lay::Row),
        (333, 64, 517, Lay::ColT, Lay::Row, Lay::RowPad),
        (65, 511, 300, Lay::RowPad, Lay::ColT, Lay::ColPad),
        (3, 700, 301, Lay::Row, Lay::RowPad, Lay::Row),
        (517, 2, 350, Lay::Strided, Lay::ColPad, Lay::ColT),
        // Wider than one NC column block (1024 columns): packed B,
        // and B read in place across blocks.
        (40, 1100, 300, Lay::Row, Lay::RowPad, Lay::Row),
        (100, 2080, 64, Lay::Row, Lay::Row, Lay::Row),
        // A rows 4 KiB apart (k = 1024): read in place by tiles shorter than L1's ways
        // (AVX2's 6 rows, with a 2-row tail), packed by the others.
        (50, 96, 1024, Lay::Row, Lay::Row, Lay::Row),
    ];
    let mut cases = Vec::new();
    for (idx, &(m, n, k, a, b, c)) in shapes.iter().enumerate() {
        for (data, accum, par) in [
            (Data::SmallInt, Accum::Replace, Par::Rayon(2)),
            (Data::SmallInt, Accum::Add, Par::Seq),
            (Data::Float, Accum::Add, Par::Rayon(2)),
        ] {
            cases.push(Case {
                m,
                n,
                k,
                a,
                b,
                c,
                accum,
                par,
                data,
                seed: idx as u64,
            });
        }
    }
    let total = cases.len() * kernels.len();
    assert_eq!(check_all(&kernels, cases), total);
}

/// Row-major outputs much narrower than a tile (an MLP's logits and their gradients) are
/// computed transposed by `packed`: across several KC slabs, on two threads, into padded
/// and strided C, with both accumulation modes.
#[test]
fn narrow_outputs() {
    let kernels = candidates();
    let shapes: &[(usize, usize, usize, Lay, Lay, Lay)] = &[
        (256, 10, 1100, Lay::Row, Lay::Row, Lay::Row),
        (1024, 10, 256, Lay::ColT, Lay::Row, Lay::RowPad),
        (2000, 7, 600, Lay::Row, Lay::RowPad, Lay::Row),
        (37, 3, 70, Lay::Strided, Lay::ColT, Lay::RowPad),
        (90, 1, 33, Lay::Row, Lay::Row, Lay::Row),
    ];
    let mut cases = Vec::new();
    for (idx, &(m, n, k, a, b, c)) in shapes.iter().enumerate() {
        for (data, accum, par) in [
            (Data::SmallInt, Accum::Replace, Par::Rayon(2)),
            (Data::SmallInt, Accum::Add, Par::Seq),
            (Data::Float, Accum::Add, Par::Rayon(2)),
        ] {
            cases.push(Case {
                m,
                n,
                k,
                a,
                b,
                c,
                accum,
                par,
                data,
                seed: 40 + idx as u64,
            });
        }
    }
    let total = cases.len() * kernels.len();
    assert_eq!(check_all(&kernels, cases), total);
}

/// A zero row stride makes every row of B the same row (a broadcast view); a valid
/// `MatRef`, so every kernel must handle it.
#[test]
fn broadcast_operand_with_zero_stride() {
    let (m, n, k) = (37, 45, 33);
    let a: Vec<f32> = (0..m * k).map(|x| (x % 7) as f32 - 3.0).collect();
    let row: Vec<f32> = (0..n).map(|x| (x % 5) as f32 - 2.0).collect();
    let b_full: Vec<f32> = (0..k).flat_map(|_| row.iter().copied()).collect();
    let a_view = MatRef::row_major(&a, m, k).unwrap();
    let b_bcast = MatRef::new(&row, k, n, 0, 1).unwrap();
    let mut want = vec![0.0f32; m * n];
    poolgrad_kernels::naive::NaiveKernel
        .matmul_with(
            a_view,
            MatRef::row_major(&b_full, k, n).unwrap(),
            MatMut::row_major(&mut want, m, n).unwrap(),
            Accum::Replace,
            Par::Seq,
        )
        .unwrap();
    for cand in candidates() {
        for par in [Par::Seq, Par::Rayon(2)] {
            let mut c = vec![f32::NAN; m * n];
            cand.kernel
                .matmul_with(
                    a_view,
                    b_bcast,
                    MatMut::row_major(&mut c, m, n).unwrap(),
                    Accum::Replace,
                    par,
                )
                .unwrap();
            assert_eq!(c, want, "{} with a broadcast B ({par:?})", cand.label);
        }
    }
}

/// `Accum::Replace` must never read C: NaN (and infinities) in C before the call do not
/// reach the result, at every size class.
#[test]
fn replace_ignores_nan_and_inf_in_c() {
    let kernels = candidates();
    for &(m, n, k) in &[(1, 1, 1), (8, 8, 8), (33, 65, 17), (129, 64, 130)] {
        let a: Vec<f32> = (0..m * k).map(|x| (x % 5) as f32).collect();
        let b: Vec<f32> = (0..k * n).map(|x| (x % 3) as f32).collect();
        for cand in &kernels {
            for poison in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                let mut c = vec![poison; m * n];
                cand.kernel
                    .matmul_with(
                        MatRef::row_major(&a, m, k).unwrap(),
                        MatRef::row_major(&b, k, n).unwrap(),
                        MatMut::row_major(&mut c, m, n).unwrap(),
                        Accum::Replace,
                        Par::Rayon(2),
                    )
                    .unwrap();
                assert!(
                    c.iter().all(|x| x.is_finite()),
                    "{} read C under Replace ({m}x{n}x{k}, C was {poison})",
                    cand.label
                );
            }
        }
    }
}

/// k = 0: Replace leaves C all zero (even from NaN), Add leaves C unchanged.
#[test]
fn empty_inner_dimension() {
    for cand in candidates() {
        for &(m, n) in &[(1, 1), (7, 9), (64, 65)] {
            let mut c = vec![f32::NAN; m * n];
            cand.kernel
                .matmul_with(
                    MatRef::row_major(&[], m, 0).unwrap(),
                    MatRef::row_major(&[], 0, n).unwrap(),
                    MatMut::row_major(&mut c, m, n).unwrap(),
                    Accum::Replace,
                    Par::Seq,
                )
                .unwrap();
            assert!(c.iter().all(|&x| x == 0.0), "{} k=0 Replace", cand.label);
            let mut c: Vec<f32> = (0..m * n).map(|x| x as f32).collect();
            let before = c.clone();
            cand.kernel
                .matmul_with(
                    MatRef::row_major(&[], m, 0).unwrap(),
                    MatRef::row_major(&[], 0, n).unwrap(),
                    MatMut::row_major(&mut c, m, n).unwrap(),
                    Accum::Add,
                    Par::Seq,
                )
                .unwrap();
            assert_eq!(c, before, "{} k=0 Add", cand.label);
        }
    }
}
