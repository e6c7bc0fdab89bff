//! Every kernel (each registered one, `packed` on every host ISA, `mp` with small knobs)
//! against `naive` on every m, n, k in 0..=17, with every layout combination of A, B, C
//! (row-major, column-major via `.t()`, padded, general strides), both `Accum` modes and
//! serial/parallel; small-integer data, so results must match exactly.

mod common;

use common::{Case, Data, Lay, candidates, check_all, mixed};
use poolgrad_kernels::{Accum, Par};

/// The dimensions swept: all of 0..=17 (cheap enough even under qemu).
fn dims() -> Vec<usize> {
    (0..=17).collect()
}

#[test]
fn every_small_shape_matches_naive_exactly() {
    let kernels = candidates();
    let d = dims();
    let mut cases = Vec::new();
    for &m in &d {
        for &n in &d {
            for &k in &d {
                cases.push(mixed(m, n, k, cases.len()));
            }
        }
    }
    let total = cases.len() * kernels.len();
    let ran = check_all(&kernels, cases);
    // Built-in kernels support every problem; nothing may be skipped silently.
    assert_eq!(ran, total, "some kernel refused a small problem");
}

#[test]
fn every_layout_accum_and_par_combination() {
    let kernels = candidates();
    let shapes: &[(usize, usize, usize)] =
        &[(5, 7, 3), (17, 16, 9), (1, 13, 17), (16, 1, 8), (9, 17, 1)];
    let mut cases = Vec::new();
    for &(m, n, k) in shapes {
        for a in Lay::ALL {
            for b in Lay::ALL {
                for c in Lay::ALL {
                    for accum in [Accum::Replace, Accum::Add] {
                        for par in [Par::Seq, Par::Rayon(2)] {
                            cases.push(Case {
                                a,
                                b,
                                c,
                                accum,
                                par,
                                seed: cases.len() as u64,
                                ..Case::new(m, n, k)
                            });
                        }
                    }
                }
            }
        }
    }
    let total = cases.len() * kernels.len();
    assert_eq!(check_all(&kernels, cases), total);
}

#[test]
fn small_random_floats_within_k_epsilon() {
    let kernels = candidates();
    let d = dims();
    let mut cases = Vec::new();
    for &m in d.iter().step_by(2) {
        for &n in d.iter().skip(1).step_by(2) {
            for &k in &d {
                let idx = cases.len();
                cases.push(Case {
                    data: Data::Float,
                    ..mixed(m, n, k, idx * 7 + 3)
                });
            }
        }
    }
    let total = cases.len() * kernels.len();
    assert_eq!(check_all(&kernels, cases), total);
}

/// Small products whose A and B are read in place on one thread (row-major or padded
/// rows, n a multiple of every tile width, k within one slab): `packed`'s tile-loop-only
/// path, over every row tail of the 12-, 6- and 8-row tiles and both `Accum` modes.
#[test]
fn small_in_place_products_match_naive_exactly() {
    let kernels = candidates();
    let mut cases = Vec::new();
    for m in 1..=25 {
        for (n, k) in [(32, 1), (64, 7), (32, 33), (96, 64), (128, 100)] {
            for (a, b) in [(Lay::Row, Lay::Row), (Lay::RowPad, Lay::RowPad)] {
                for accum in [Accum::Replace, Accum::Add] {
                    cases.push(Case {
                        a,
                        b,
                        c: if m % 2 == 0 { Lay::Row } else { Lay::RowPad },
                        accum,
                        par: Par::Seq,
                        seed: cases.len() as u64,
                        ..Case::new(m, n, k)
                    });
                }
            }
        }
    }
    let total = cases.len() * kernels.len();
    assert_eq!(check_all(&kernels, cases), total);
}

/// Widths that are not a multiple of any tile's (tails of one and two vectors on every ISA
/// that masks them) through each path that reads B and writes C in place: the small
/// in-place path, the general path with B in place (few row panels) and with B
/// packed (many), serial and on two threads (column halves), both `Accum` modes; plus
/// narrow outputs whose A is read in place (kept untransposed where tails are masked), and
/// tails of one to four columns past whole vectors, which masked ISAs compute as dots.
#[test]
fn column_tails_match_naive_exactly() {
    let mut cases = Vec::new();
    let shapes = [
        // Small in-place path (where a tile covers the row tail exactly).
        (13, 9, &[1usize, 5, 17, 31, 33, 47][..]),
        (24, 64, &[20, 50, 70][..]),
        // General path, B in place (150 rows: few panels).
        (150, 300, &[50, 100][..]),
        // General path, B packed (400 rows: more than B in place beside L2 serves).
        (400, 100, &[70, 100][..]),
        // General path, B in place for up to 32 row panels (a B under half of L2).
        (300, 100, &[70][..]),
        // B over half of L2 (784×300 floats), packed by the first row panel's tiles
        // rather than read in place by 48 rows.
        (48, 784, &[300][..]),
        // Narrow outputs, A in place.
        (64, 40, &[10, 3][..]),
        // Tails of 1–4 columns past whole vectors, computed as dots where tails are
        // masked: rows not a multiple of the three or four read at once, k with a
        // partial vector, and (700 rows) outputs split across two threads.
        (101, 37, &[97, 98, 99, 100, 36][..]),
        (700, 40, &[36, 20][..]),
        // Shallow products with many rows, run without blocks; 2004 rows of 64 floats
        // are large enough that their rows of tiles prefetch A and C.
        (2004, 64, &[64, 68][..]),
    ];
    for (m, k, widths) in shapes {
        for &n in widths {
            for (b, c) in [(Lay::Row, Lay::Row), (Lay::RowPad, Lay::RowPad)] {
                for accum in [Accum::Replace, Accum::Add] {
                    for par in [Par::Seq, Par::Rayon(2)] {
                        push(&mut cases, (m, n, k), (Lay::Row, b, c), accum, par);
                    }
                }
            }
        }
    }
    check_every(cases);
}

/// Products with one row or one column of C (matrix-vector products, which `packed` runs
/// as dot products or as summed rows by layout): every layout of A and B, long enough for
/// the grouped rows and a leftover row, k with whole steps and a partial vector after them,
/// more outputs than one summing block (1024), both `Accum` modes; then products big
/// enough for two threads (split outputs), with a strided vector.
#[test]
fn matrix_vector_products_match_naive_exactly() {
    let mut cases = Vec::new();
    for len in [301, 1501] {
        for k in [37, 63, 100] {
            for (m, n) in [(1, len), (len, 1)] {
                for a in Lay::ALL {
                    for b in Lay::ALL {
                        let i = cases.len();
                        let c = if i % 3 == 0 { Lay::RowPad } else { Lay::Row };
                        let accum = [Accum::Add, Accum::Replace][i % 2];
                        push(&mut cases, (m, n, k), (a, b, c), accum, Par::Seq);
                    }
                }
            }
        }
    }
    // 2100·1024 multiply-adds: two threads (from 2 Mi), 1050 outputs each; the matrix
    // row- or column-major, the vector contiguous or strided.
    for (m, n) in [(1, 2100), (2100, 1)] {
        for (matrix, vector) in [(Lay::Row, Lay::Strided), (Lay::ColT, Lay::Row)] {
            let (a, b) = if m == 1 {
                (vector, matrix)
            } else {
                (matrix, vector)
            };
            for accum in [Accum::Replace, Accum::Add] {
                push(
                    &mut cases,
                    (m, n, 1024),
                    (a, b, Lay::RowPad),
                    accum,
                    Par::Rayon(2),
                );
            }
        }
    }
    check_every(cases);
}

/// Few rows of A against a B too big for the general in-place rule (k·n above 512 Ki
/// floats): `packed` reads B in place for up to 32 rows per thread unless its rows are a
/// multiple of 4 KiB apart (n = 1024), and then only for one row panel (10 rows, with a
/// masked column tail in the padded layout).
#[test]
fn few_rows_against_a_large_b_match_naive_exactly() {
    let mut cases = Vec::new();
    for (m, n) in [(20, 700), (32, 1024), (10, 1024)] {
        for (b, accum) in [(Lay::Row, Accum::Replace), (Lay::RowPad, Accum::Add)] {
            push(
                &mut cases,
                (m, n, 800),
                (Lay::Row, b, Lay::RowPad),
                accum,
                Par::Seq,
            );
        }
    }
    check_every(cases);
}

/// Shallow products (k ≤ 64) with many rows and an A that is not read in place (column-
/// major, padded, general strides): `packed` packs all of A at once and runs without
/// blocks; 1200 rows of 64 columns are large enough for the rows of tiles to prefetch C,
/// and 1201 leave a one-row tail beside a masked column tail.
#[test]
fn shallow_products_packing_all_of_a_match_naive_exactly() {
    let mut cases = Vec::new();
    for (m, n, k) in [(1200, 64, 48), (1201, 68, 64)] {
        for (a, accum) in [
            (Lay::ColT, Accum::Replace),
            (Lay::Strided, Accum::Add),
            (Lay::ColPad, Accum::Replace),
        ] {
            push(
                &mut cases,
                (m, n, k),
                (a, Lay::Row, Lay::Row),
                accum,
                Par::Seq,
            );
        }
    }
    check_every(cases);
}

/// A whose rows are 4 KiB apart (k = 1024, row-major) against few B panels: `packed`
/// reads it in place even with tiles as tall as L1 has ways (the 12-row AVX-512 tile),
/// with a row tail (40 rows) and a masked column tail (300 columns), on one and two
/// threads.
#[test]
fn rows_4_kib_apart_against_few_panels_match_naive_exactly() {
    let mut cases = Vec::new();
    for (m, n) in [(40, 64), (60, 300)] {
        for (par, accum) in [(Par::Seq, Accum::Replace), (Par::Rayon(2), Accum::Add)] {
            push(
                &mut cases,
                (m, n, 1024),
                (Lay::Row, Lay::Row, Lay::RowPad),
                accum,
                par,
            );
        }
    }
    check_every(cases);
}

/// B too big to be read in place by every row panel, packed instead by the tiles of each
/// thread's first row panel as they read it in place: rows 4 KiB apart (n = 1024), two k
/// slabs (k = 1100), a masked column tail (600 columns), a last row panel of one row
/// (13 rows), two threads that split the columns, several column blocks (n > 1024, A
/// row- or column-major), and thread grids that share B's panels (three and eight
/// threads). Also where the fused packing must not run: fewer rows than a tile (5), a C
/// whose columns are not contiguous.
#[test]
fn b_packed_by_the_first_row_panel_matches_naive_exactly() {
    let mut cases = Vec::new();
    for (m, n, k, b) in [
        (100, 1024, 1100, Lay::Row),
        (13, 1024, 900, Lay::Row),
        (40, 600, 2000, Lay::Row),
    ] {
        for (par, accum) in [(Par::Seq, Accum::Replace), (Par::Rayon(2), Accum::Add)] {
            push(
                &mut cases,
                (m, n, k),
                (Lay::Row, b, Lay::RowPad),
                accum,
                par,
            );
        }
    }
    for (m, n, k, par) in [
        (24, 1024, 1100, Par::Rayon(8)),
        (13, 1024, 2000, Par::Rayon(3)),
    ] {
        push(
            &mut cases,
            (m, n, k),
            (Lay::Row, Lay::Row, Lay::Row),
            Accum::Add,
            par,
        );
    }
    for (m, n, k) in [(40, 2100, 600), (13, 2048, 1100)] {
        for (a, accum) in [(Lay::Row, Accum::Replace), (Lay::ColT, Accum::Add)] {
            push(
                &mut cases,
                (m, n, k),
                (a, Lay::Row, Lay::Row),
                accum,
                Par::Seq,
            );
        }
    }
    for (m, n, k, c) in [(5, 4096, 200, Lay::Row), (40, 1024, 1100, Lay::Strided)] {
        push(
            &mut cases,
            (m, n, k),
            (Lay::Row, Lay::Row, c),
            Accum::Add,
            Par::Seq,
        );
    }
    check_every(cases);
}

/// Two to eight rows of C computed as summed rows of B (each pass over B serving up to
/// four rows): B's rows 4 KiB apart (n = 1024, 2048) or any stride for two rows, a masked
/// column tail (300, 1500 columns), outputs past the first 1024-column summing block, k
/// with a remainder after the four-row steps, A and C with strides other than 1 on either
/// side, accumulation, and two or three threads splitting the columns.
#[test]
fn few_rows_as_summed_rows_match_naive_exactly() {
    let mut cases = Vec::new();
    for (m, n, k) in [(2, 300, 33), (3, 1024, 257), (5, 1024, 300), (8, 1024, 256)] {
        for (a, c, accum, par) in [
            (Lay::Row, Lay::RowPad, Accum::Replace, Par::Seq),
            (Lay::ColT, Lay::Row, Accum::Add, Par::Rayon(2)),
            (Lay::ColT, Lay::RowPad, Accum::Add, Par::Seq),
        ] {
            push(&mut cases, (m, n, k), (a, Lay::Row, c), accum, par);
        }
    }
    for (m, n, k) in [(2, 1500, 40), (6, 2048, 300), (7, 1024, 259)] {
        for (a, c, accum, par) in [
            (Lay::Strided, Lay::Strided, Accum::Add, Par::Seq),
            (Lay::Row, Lay::Row, Accum::Replace, Par::Rayon(3)),
            (Lay::ColPad, Lay::RowPad, Accum::Add, Par::Seq),
        ] {
            push(&mut cases, (m, n, k), (a, Lay::Row, c), accum, par);
        }
    }
    check_every(cases);
}

/// Appends one case of small-integer data (exact results), seeded by its index.
fn push(
    cases: &mut Vec<Case>,
    (m, n, k): (usize, usize, usize),
    (a, b, c): (Lay, Lay, Lay),
    accum: Accum,
    par: Par,
) {
    let seed = cases.len() as u64;
    cases.push(Case {
        a,
        b,
        c,
        accum,
        par,
        seed,
        ..Case::new(m, n, k)
    });
}

/// Checks every candidate kernel on `cases`; none may refuse one.
fn check_every(cases: Vec<Case>) {
    let kernels = candidates();
    let total = cases.len() * kernels.len();
    assert_eq!(check_all(&kernels, cases), total);
}
