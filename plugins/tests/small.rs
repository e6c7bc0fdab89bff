//! `plugins.small` against the reference through the kernels crate's shape matrix (the
//! same helpers, included by path): every m, n, k in 0..=17, block edges, skinny shapes
//! ≥ 300, every layout of A and C (B row-major or padded: what the kernel supports),
//! both `Accum` modes, serial and parallel.

#[path = "../../kernels/tests/common/mod.rs"]
mod common;

use common::{Candidate, Case, Data, Lay, check_all, mixed};
use poolgrad_kernels::{Accum, Isa, Par, registry};
use poolgrad_plugins::small::SmallKernel;

/// Only the plugin kernels (the built-ins are tested in their own crate), plus
/// `plugins.small` pinned to every ISA path this host has.
fn plugins() -> Vec<Candidate> {
    let mut list: Vec<Candidate> = registry()
        .iter()
        .filter(|k| k.name().starts_with("plugins."))
        .map(|k| Candidate {
            label: k.name().to_string(),
            kernel: k,
        })
        .collect();
    assert!(!list.is_empty());
    for isa in Isa::host_levels() {
        let kernel = SmallKernel::with_isa(isa).expect("the host has it");
        list.push(Candidate {
            label: format!("plugins.small[{isa}]"),
            kernel: Box::leak(Box::new(kernel)),
        });
    }
    list
}

/// B layouts the kernel supports (unit column stride).
const B_LAYS: [Lay; 2] = [Lay::Row, Lay::RowPad];

fn with_supported_b(mut case: Case, idx: usize) -> Case {
    case.b = B_LAYS[idx % 2];
    case
}

#[test]
fn every_small_shape_matches_naive_exactly() {
    let kernels = plugins();
    let dims: Vec<usize> = (0..=17).collect();
    let mut cases = Vec::new();
    for &m in &dims {
        for &n in &dims {
            for &k in &dims {
                let idx = cases.len();
                cases.push(with_supported_b(mixed(m, n, k, idx), idx / 3));
            }
        }
    }
    let total = cases.len() * kernels.len();
    assert_eq!(
        check_all(&kernels, cases),
        total,
        "small shapes are all supported"
    );
}

#[test]
fn every_layout_of_a_and_c_with_both_accums_and_pars() {
    let kernels = plugins();
    let mut cases = Vec::new();
    for &(m, n, k) in &[(5, 7, 3), (17, 32, 9), (9, 1, 17), (1, 40, 16), (40, 8, 33)] {
        for a in Lay::ALL {
            for (bi, b) in B_LAYS.into_iter().enumerate() {
                for c in Lay::ALL {
                    for accum in [Accum::Replace, Accum::Add] {
                        for par in [Par::Seq, Par::Rayon(2)] {
                            cases.push(Case {
                                a,
                                b,
                                c,
                                accum,
                                par,
                                seed: bi as u64,
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
fn block_edges_and_skinny_large_shapes() {
    let kernels = plugins();
    let shapes = [
        (31, 32, 32),
        (31, 8, 64),
        (4, 63, 65),
        (3, 129, 127),
        (129, 7, 128),
        (1, 128, 129),
        (3, 700, 301),
        (517, 5, 350),
        (2, 333, 300),
        (4, 1024, 600),
        (600, 8, 1024),
    ];
    let mut cases = Vec::new();
    for (idx, &(m, n, k)) in shapes.iter().enumerate() {
        for data in [Data::SmallInt, Data::Float] {
            let mut case = with_supported_b(mixed(m, n, k, idx * 17 + 2), idx);
            case.data = data;
            case.par = Par::Rayon(2);
            cases.push(case);
            let mut serial = with_supported_b(mixed(m, n, k, idx * 17 + 9), idx + 1);
            serial.data = data;
            serial.par = Par::Seq;
            cases.push(serial);
        }
    }
    let total = cases.len() * kernels.len();
    assert_eq!(check_all(&kernels, cases), total);
}

#[test]
fn unsupported_layout_is_refused_not_miscomputed() {
    let k = registry().get("plugins.small").unwrap();
    let a = vec![1.0f32; 8 * 8];
    let mut c = vec![f32::NAN; 64];
    let err = k
        .matmul_with(
            poolgrad_kernels::MatRef::row_major(&a, 8, 8).unwrap(),
            poolgrad_kernels::MatRef::row_major(&a, 8, 8).unwrap().t(),
            poolgrad_kernels::MatMut::row_major(&mut c, 8, 8).unwrap(),
            Accum::Replace,
            Par::Seq,
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("`plugins.small` cannot run"),
        "{err}"
    );
    assert!(c.iter().all(|x| x.is_nan()));
}

/// Large enough to run on two threads: C split by rows (row-major C) and by columns
/// (column-major C, whose rows interleave), exact on small integers.
#[test]
fn parallel_splits_by_rows_and_by_columns() {
    let kernels = plugins();
    let mut cases = Vec::new();
    for (m, n, k, c) in [
        (600, 8, 1024, Lay::Row),
        (2, 2000, 600, Lay::ColT),
        (3, 1500, 900, Lay::ColPad),
    ] {
        for accum in [Accum::Replace, Accum::Add] {
            cases.push(Case {
                c,
                accum,
                par: Par::Rayon(2),
                a: Lay::RowPad,
                ..Case::new(m, n, k)
            });
        }
    }
    let total = cases.len() * kernels.len();
    assert_eq!(check_all(&kernels, cases), total);
}
