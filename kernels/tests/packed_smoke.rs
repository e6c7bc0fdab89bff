//! Quick checks of `packed` and `mp` against `naive`: odd shapes, layouts, padded strides,
//! transposes, both Accum modes, serial and parallel, every ISA path the host has.

use poolgrad_kernels::mp::StrassenKernel;
use poolgrad_kernels::naive::NaiveKernel;
use poolgrad_kernels::packed::PackedKernel;
use poolgrad_kernels::{Accum, Isa, MatMut, MatRef, MatmulKernel, MpSettings, Par};

/// Small integers in -3..=3, so every kernel's sums are exact.
fn ints(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 33) % 7) as f32 - 3.0
        })
        .collect()
}

#[derive(Clone, Copy, Debug)]
enum Lay {
    Row,
    Col,
    PaddedRow,
    Transposed,
}

/// Storage for an r×c operand in layout `lay`: (data, row stride, col stride).
fn store(r: usize, c: usize, lay: Lay, seed: u64) -> (Vec<f32>, usize, usize) {
    match lay {
        Lay::Row => (ints(r * c, seed), c.max(1), 1),
        Lay::Col => (ints(r * c, seed), 1, r.max(1)),
        Lay::PaddedRow => (ints(r * (c + 3) + 5, seed), c + 3, 1),
        // A c×r row-major buffer viewed transposed.
        Lay::Transposed => (ints(r * c, seed), 1, r.max(1)),
    }
}

fn view<'a>(d: &'a [f32], r: usize, c: usize, lay: Lay, rs: usize, cs: usize) -> MatRef<'a> {
    match lay {
        Lay::Transposed => MatRef::new(d, c, r, r.max(1), 1).unwrap().t(),
        _ => MatRef::new(d, r, c, rs, cs).unwrap(),
    }
}

#[allow(clippy::too_many_arguments)]
fn check(
    kernel: &dyn MatmulKernel,
    m: usize,
    n: usize,
    k: usize,
    la: Lay,
    lb: Lay,
    lc: Lay,
    par: Par,
) {
    let (da, ars, acs) = store(m, k, la, 1 + m as u64);
    let (db, brs, bcs) = store(k, n, lb, 7 + n as u64);
    let a = view(&da, m, k, la, ars, acs);
    let b = view(&db, k, n, lb, brs, bcs);
    for accum in [Accum::Replace, Accum::Add] {
        let (mut want, rs, cs) = store(m, n, lc, 3);
        if matches!(lc, Lay::PaddedRow) {
            // Padding stays NaN; it must never be written.
            for (i, x) in want.iter_mut().enumerate() {
                if i % rs >= n || i >= m * rs {
                    *x = f32::NAN;
                }
            }
        }
        let mut got = want.clone();
        if accum == Accum::Replace {
            // Replace must not read C: every addressed element starts NaN.
            for i in 0..m {
                for j in 0..n {
                    got[i * rs + j * cs] = f32::NAN;
                }
            }
        }
        NaiveKernel.run(
            a,
            b,
            MatMut::new(&mut want, m, n, rs, cs).unwrap(),
            accum,
            Par::Seq,
        );
        kernel.run(
            a,
            b,
            MatMut::new(&mut got, m, n, rs, cs).unwrap(),
            accum,
            par,
        );
        let same = want
            .iter()
            .zip(&got)
            .all(|(x, y)| x == y || (x.is_nan() && y.is_nan()));
        assert!(
            same,
            "{} m={m} n={n} k={k} a={la:?} b={lb:?} c={lc:?} {accum:?} {par:?}",
            kernel.name()
        );
    }
}

fn kernels() -> Vec<Box<dyn MatmulKernel>> {
    let mut out: Vec<Box<dyn MatmulKernel>> = Vec::new();
    for isa in Isa::ALL {
        if let Some(k) = PackedKernel::with_isa(isa) {
            out.push(Box::new(k));
        }
    }
    out
}

#[test]
fn small_shapes_every_isa() {
    for kern in kernels() {
        for m in 0..=17 {
            for n in 0..=17 {
                for k in [0, 1, 2, 3, 7, 16, 17] {
                    check(&*kern, m, n, k, Lay::Row, Lay::Row, Lay::Row, Par::Seq);
                }
            }
        }
        for k in 0..=17 {
            check(
                &*kern,
                13,
                17,
                k,
                Lay::Col,
                Lay::Transposed,
                Lay::Row,
                Par::Seq,
            );
        }
    }
}

#[test]
fn layouts_and_block_edges() {
    let lays = [Lay::Row, Lay::Col, Lay::PaddedRow, Lay::Transposed];
    for kern in kernels() {
        for s in [31, 33, 64, 65] {
            for la in lays {
                for lb in lays {
                    for lc in [Lay::Row, Lay::Col, Lay::PaddedRow] {
                        check(&*kern, s, s + 2, s - 1, la, lb, lc, Par::Seq);
                    }
                }
            }
        }
        for s in [63, 127, 128, 129] {
            check(&*kern, s, s, s, Lay::Row, Lay::Row, Lay::Row, Par::Seq);
            check(
                &*kern,
                s,
                s,
                s,
                Lay::Transposed,
                Lay::Row,
                Lay::PaddedRow,
                Par::Rayon(2),
            );
        }
    }
}

#[test]
fn large_non_square_serial_and_parallel() {
    let kern = PackedKernel::new();
    // (12, 700, 600): too few rows to split, so threads split the B panels instead.
    for (m, n, k) in [
        (301, 517, 333),
        (700, 45, 613),
        (37, 640, 1100),
        (1030, 300, 520),
        (12, 700, 600),
    ] {
        for par in [Par::Seq, Par::Rayon(2), Par::Rayon(3)] {
            check(&kern, m, n, k, Lay::Row, Lay::Row, Lay::Row, par);
        }
        check(
            &kern,
            m,
            n,
            k,
            Lay::Transposed,
            Lay::Col,
            Lay::Col,
            Par::Rayon(2),
        );
        check(
            &kern,
            m,
            n,
            k,
            Lay::PaddedRow,
            Lay::Transposed,
            Lay::PaddedRow,
            Par::Seq,
        );
    }
}

#[test]
fn mp_matches_naive() {
    let knobs = MpSettings {
        max_size: 1 << 14,
        base_threshold: 32,
        recurse_min: 64,
        packed_block: 16,
    };
    let mp = StrassenKernel::with_settings(knobs);
    assert_eq!(mp.levels(257, 255, 256), 1);
    assert_eq!(mp.levels(63, 255, 256), 0);
    assert_eq!(mp.levels(64, 64, 4200), 1);
    for (m, n, k) in [
        (64, 64, 64),
        (100, 130, 90),
        (129, 67, 200),
        (257, 255, 256),
        (300, 517, 333),
    ] {
        for la in [Lay::Row, Lay::Transposed, Lay::PaddedRow] {
            for lc in [Lay::Row, Lay::Col, Lay::PaddedRow] {
                check(&mp, m, n, k, la, Lay::Row, lc, Par::Seq);
            }
        }
        check(&mp, m, n, k, Lay::Row, Lay::Col, Lay::Row, Par::Rayon(2));
    }
    // Half of k is 2096: two KC slabs or more on every host, so the fused two-destination
    // products overwrite on the first slab and accumulate after.
    check(
        &mp,
        64,
        64,
        4200,
        Lay::Row,
        Lay::Row,
        Lay::PaddedRow,
        Par::Seq,
    );
    check(
        &StrassenKernel::new(),
        2100,
        70,
        2050,
        Lay::Row,
        Lay::Row,
        Lay::Row,
        Par::Seq,
    );
}

#[test]
fn parallel_products_from_many_callers_at_once() {
    // Several plain threads, then several workers of rayon's global pool, each running a
    // parallel product (big enough for 2 and 3 threads, split by columns) at the same time: they share the helper pool, and a caller whose
    // helper is busy runs its parts itself.
    let kern = PackedKernel::new();
    std::thread::scope(|s| {
        for t in 0..4 {
            let kern = &kern;
            s.spawn(move || {
                check(
                    kern,
                    160 + t,
                    300,
                    100,
                    Lay::Row,
                    Lay::Row,
                    Lay::Row,
                    Par::Rayon(2),
                );
            });
        }
    });
    use rayon::prelude::*;
    (0..4usize).into_par_iter().for_each(|t| {
        check(
            &kern,
            96 + t,
            700,
            100,
            Lay::Row,
            Lay::Col,
            Lay::Row,
            Par::Rayon(3),
        );
    });
}
