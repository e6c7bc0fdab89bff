//! Operand checks of the provided `matmul`/`matmul_with` and `check_operands`: every
//! dimension mismatch and unsupported problem is an error whose text names the operation,
//! the shapes, and what is accepted; C is left untouched.

use poolgrad_kernels::mp::StrassenKernel;
use poolgrad_kernels::{
    Accum, KernelError, MatMut, MatRef, MatmulKernel, MpSettings, Par, check_operands, registry,
};

fn shapes_error(
    kernel: &dyn MatmulKernel,
    (am, ak): (usize, usize),
    (bk, bn): (usize, usize),
    (cm, cn): (usize, usize),
) -> KernelError {
    let a = vec![1.0f32; am * ak];
    let b = vec![1.0f32; bk * bn];
    let mut c = vec![f32::NAN; cm * cn];
    let err = kernel
        .matmul_with(
            MatRef::row_major(&a, am, ak).unwrap(),
            MatRef::row_major(&b, bk, bn).unwrap(),
            MatMut::row_major(&mut c, cm, cn).unwrap(),
            Accum::Replace,
            Par::Seq,
        )
        .unwrap_err();
    assert!(c.iter().all(|x| x.is_nan()), "C written despite the error");
    err
}

#[test]
fn every_dimension_mismatch_is_reported_with_all_shapes() {
    let cases = [
        ((2, 3), (4, 5), (2, 5)), // inner dimension
        ((2, 3), (3, 5), (3, 5)), // rows of C
        ((2, 3), (3, 5), (2, 4)), // cols of C
        ((0, 3), (2, 0), (0, 0)), // even when empty
    ];
    for kernel in registry().iter() {
        for (a, b, c) in cases {
            let err = shapes_error(kernel, a, b, c);
            assert_eq!(
                err,
                KernelError::DimMismatch {
                    op: kernel.name().to_string(),
                    a,
                    b,
                    c
                }
            );
            let msg = err.to_string();
            let want = format!(
                "{}: shapes do not fit C = A·B: A is {}x{}, B is {}x{}, C is {}x{}",
                kernel.name(),
                a.0,
                a.1,
                b.0,
                b.1,
                c.0,
                c.1
            );
            assert!(msg.starts_with(&want), "`{msg}`");
            assert!(msg.contains("accepted: A m×k, B k×n, C m×n"), "`{msg}`");
        }
    }
}

#[test]
fn check_operands_accepts_matching_shapes_and_names_the_op() {
    let a = vec![0.0f32; 6];
    let b = vec![0.0f32; 12];
    let mut c = vec![0.0f32; 8];
    let av = MatRef::row_major(&a, 2, 3).unwrap();
    let bv = MatRef::row_major(&b, 3, 4).unwrap();
    check_operands(
        "linear",
        &av,
        &bv,
        &MatMut::row_major(&mut c, 2, 4).unwrap(),
    )
    .unwrap();
    // Transposed operands: Aᵀ is 3x2, so Aᵀ·C fits a 3x4 output.
    let mut d = vec![0.0f32; 12];
    check_operands(
        "backward",
        &av.t(),
        &MatRef::row_major(&c, 2, 4).unwrap(),
        &MatMut::row_major(&mut d, 3, 4).unwrap(),
    )
    .unwrap();
    let err = check_operands(
        "linear",
        &bv,
        &av,
        &MatMut::row_major(&mut c, 2, 4).unwrap(),
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("linear: "), "{err}");
}

#[test]
fn unsupported_problem_names_the_kernel_and_the_shape() {
    let mp = StrassenKernel::with_settings(MpSettings {
        max_size: 8,
        ..MpSettings::default()
    });
    let err = shapes_error(&mp, (9, 4), (4, 3), (9, 3));
    assert!(matches!(err, KernelError::Unsupported { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("kernel `mp` cannot run this problem"), "{msg}");
    assert!(msg.contains("m=9 n=3 k=4"), "{msg}");
}

#[test]
fn the_provided_matmul_uses_the_environment_and_checks() {
    // No POOLGRAD_* variable is set in the test environment: settings are valid.
    let k = registry().get("packed").unwrap();
    let a = vec![2.0f32; 6];
    let mut c = vec![0.0f32; 4];
    let err = k
        .matmul(
            MatRef::row_major(&a, 2, 3).unwrap(),
            MatRef::row_major(&a, 2, 3).unwrap(),
            MatMut::row_major(&mut c, 2, 2).unwrap(),
            Accum::Replace,
        )
        .unwrap_err();
    assert!(matches!(err, KernelError::DimMismatch { .. }));
    k.matmul(
        MatRef::row_major(&a, 2, 3).unwrap(),
        MatRef::row_major(&a, 2, 3).unwrap().t(),
        MatMut::row_major(&mut c, 2, 2).unwrap(),
        Accum::Replace,
    )
    .unwrap();
    assert_eq!(c, [12.0; 4]);
}
