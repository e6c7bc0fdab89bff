//! The anchor kernels (feature `anchors`) against the reference: odd shapes, every layout
//! of A, B and C (transposed, padded, fully strided), both `Accum` modes, serial and
//! parallel, small-integer data exact and random floats within k·ε.
#![cfg(feature = "anchors")]

#[path = "../../kernels/tests/common/mod.rs"]
mod common;

use common::{Candidate, Case, Data, Lay, check_all, mixed};
use poolgrad_kernels::{Accum, Par, registry};

fn anchors() -> Vec<Candidate> {
    let list: Vec<Candidate> = registry()
        .iter()
        .filter(|k| k.name().starts_with("anchors."))
        .map(|k| Candidate {
            label: k.name().to_string(),
            kernel: k,
        })
        .collect();
    let expected = if cfg!(feature = "openblas") { 3 } else { 2 };
    assert_eq!(list.len(), expected, "anchors registered");
    list
}

#[test]
fn registry_lists_the_anchors_and_notes_say_so() {
    let names = registry().names();
    assert!(names.contains(&"anchors.faer"), "{names:?}");
    assert!(names.contains(&"anchors.matrixmultiply"), "{names:?}");
    registry().check().unwrap();
    let notes = poolgrad_plugins::anchor_notes();
    assert!(
        notes.iter().any(|n| n.starts_with("anchors.openblas")),
        "{notes:?}"
    );
}

/// The OpenBLAS note names the core type it runs and flags an AVX-2-or-older one on an
/// AVX-512 host (the environment's `OPENBLAS_CORETYPE=Haswell`, or an unknown newer Xeon).
#[cfg(feature = "openblas")]
#[test]
fn openblas_note_names_its_core() {
    let notes = poolgrad_plugins::anchor_notes();
    let note = notes
        .iter()
        .find(|n| n.starts_with("anchors.openblas"))
        .expect("an OpenBLAS note");
    assert!(note.contains(", core "), "{note}");
    let forced = std::env::var("OPENBLAS_CORETYPE").unwrap_or_default();
    if poolgrad_kernels::Isa::Avx512.host_has() && forced.eq_ignore_ascii_case("haswell") {
        assert!(note.contains("OPENBLAS_CORETYPE=SkylakeX"), "{note}");
    }
    if forced.eq_ignore_ascii_case("skylakex") {
        assert!(!note.contains("runs well below"), "{note}");
    }
}

#[test]
fn small_shapes_match_naive_exactly() {
    let kernels = anchors();
    let mut cases = Vec::new();
    for m in [0, 1, 2, 5, 9, 17] {
        for n in [0, 1, 3, 8, 17] {
            for k in [0, 1, 4, 16, 17] {
                let idx = cases.len();
                cases.push(mixed(m, n, k, idx));
            }
        }
    }
    let total = cases.len() * kernels.len();
    assert_eq!(check_all(&kernels, cases), total);
}

#[test]
fn every_layout_both_accums_and_pars() {
    let kernels = anchors();
    let mut cases = Vec::new();
    for &(m, n, k) in &[(5, 7, 3), (17, 33, 9), (40, 8, 65)] {
        for a in Lay::ALL {
            for b in Lay::ALL {
                for c in Lay::ALL {
                    for accum in [Accum::Replace, Accum::Add] {
                        cases.push(Case {
                            a,
                            b,
                            c,
                            accum,
                            par: if (a as usize + c as usize).is_multiple_of(2) {
                                Par::Seq
                            } else {
                                Par::Rayon(2)
                            },
                            ..Case::new(m, n, k)
                        });
                    }
                }
            }
        }
    }
    let total = cases.len() * kernels.len();
    assert_eq!(check_all(&kernels, cases), total);
}

#[test]
fn larger_float_shapes_within_tolerance() {
    let kernels = anchors();
    let mut cases = Vec::new();
    for (idx, &(m, n, k)) in [(129, 127, 300), (300, 65, 257), (64, 256, 784)]
        .iter()
        .enumerate()
    {
        for par in [Par::Seq, Par::Rayon(2)] {
            let mut case = mixed(m, n, k, idx * 7 + 1);
            case.data = Data::Float;
            case.par = par;
            cases.push(case);
        }
    }
    let total = cases.len() * kernels.len();
    assert_eq!(check_all(&kernels, cases), total);
}
