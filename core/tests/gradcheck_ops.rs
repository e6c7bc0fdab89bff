//! Every op under the gradient checker: broadcasting, reuse of a value, a diamond, deep
//! chains, and a check that the checker itself fails when it should.

use poolgrad_core::{GradcheckOptions, Graph, Result, Tensor, Var, gradcheck};

/// Values in ±[0.2, 1.2], away from relu's kink at 0 by more than the check's step.
fn away_from_zero(shape: &[usize], seed: u64) -> Tensor {
    let mut t = Tensor::uniform(shape, 0.2, 1.2, seed).unwrap();
    let signs = Tensor::uniform(shape, -1.0, 1.0, seed ^ 99).unwrap();
    for (x, s) in t.data_mut().iter_mut().zip(signs.data()) {
        if *s < 0.0 {
            *x = -*x;
        }
    }
    t
}

fn positive(shape: &[usize], seed: u64) -> Tensor {
    Tensor::uniform(shape, 0.5, 2.0, seed).unwrap()
}

/// `sum(y · c)` for a fixed random `c`: a scalar whose upstream gradient is not uniform.
fn weighted_sum(g: &mut Graph, y: Var, seed: u64) -> Result<Var> {
    let shape = g.value(y)?.shape().to_vec();
    let c = g.constant(Tensor::randn(&shape, seed)?);
    let p = g.mul(y, c)?;
    g.sum(p)
}

fn assert_passes<F>(name: &str, inputs: &[Tensor], f: F)
where
    F: FnMut(&mut Graph, &[Var]) -> Result<Var>,
{
    let report = gradcheck(inputs, f, GradcheckOptions::default()).unwrap();
    assert!(report.passed, "{name}: {report}");
    assert_eq!(
        report.checked,
        inputs.iter().map(Tensor::numel).sum::<usize>()
    );
}

#[test]
fn matmul() {
    let ins = [
        Tensor::randn(&[3, 4], 1).unwrap(),
        Tensor::randn(&[4, 5], 2).unwrap(),
    ];
    assert_passes("matmul", &ins, |g, v| {
        let y = g.matmul(v[0], v[1])?;
        weighted_sum(g, y, 3)
    });
}

#[test]
fn batched_matmul_folds_leading_dims() {
    let ins = [
        Tensor::randn(&[2, 3, 4], 30).unwrap(),
        Tensor::randn(&[4, 5], 31).unwrap(),
    ];
    assert_passes("batched matmul", &ins, |g, v| {
        let y = g.matmul(v[0], v[1])?;
        assert_eq!(g.value(y)?.shape(), &[2, 3, 5]);
        weighted_sum(g, y, 32)
    });
}

#[test]
fn matmul_of_a_value_with_its_own_transpose() {
    let ins = [Tensor::randn(&[3, 4], 4).unwrap()];
    assert_passes("x·xᵀ", &ins, |g, v| {
        let t = g.transpose(v[0])?;
        let y = g.matmul(v[0], t)?;
        weighted_sum(g, y, 5)
    });
}

#[test]
fn broadcasting_binary_ops() {
    let cases: [(&[usize], &[usize]); 6] = [
        (&[2, 3], &[2, 3]),
        (&[2, 3], &[3]),
        (&[2, 1], &[1, 3]),
        (&[], &[2, 2]),
        (&[4, 1, 3], &[2, 1]),
        (&[2, 3, 1, 2], &[3, 4, 1]),
    ];
    for (sa, sb) in cases {
        let ins = [away_from_zero(sa, 6), away_from_zero(sb, 7)];
        for op in ["add", "sub", "mul"] {
            assert_passes(&format!("{op} {sa:?} {sb:?}"), &ins, |g, v| {
                let y = match op {
                    "add" => g.add(v[0], v[1])?,
                    "sub" => g.sub(v[0], v[1])?,
                    _ => g.mul(v[0], v[1])?,
                };
                weighted_sum(g, y, 8)
            });
        }
    }
}

#[test]
fn unary_ops() {
    let x = away_from_zero(&[3, 4], 9);
    for op in ["relu", "tanh", "sigmoid", "exp"] {
        assert_passes(op, std::slice::from_ref(&x), |g, v| {
            let y = match op {
                "relu" => g.relu(v[0])?,
                "tanh" => g.tanh(v[0])?,
                "sigmoid" => g.sigmoid(v[0])?,
                _ => g.exp(v[0])?,
            };
            weighted_sum(g, y, 10)
        });
    }
    assert_passes("log", &[positive(&[3, 4], 11)], |g, v| {
        let y = g.log(v[0])?;
        weighted_sum(g, y, 12)
    });
}

#[test]
fn bias_act_with_every_activation() {
    use poolgrad_core::nn::Activation;
    // A small bias keeps y + b away from relu's kink, as `away_from_zero` keeps y.
    let ins = [
        away_from_zero(&[2, 3, 4], 13),
        Tensor::uniform(&[4], -0.05, 0.05, 14).unwrap(),
    ];
    for act in [
        Activation::Relu,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Identity,
    ] {
        assert_passes(&format!("bias_act {act:?}"), &ins, |g, v| {
            let y = g.bias_act(v[0], v[1], act)?;
            weighted_sum(g, y, 15)
        });
    }
}

#[test]
fn reductions_transpose_and_losses() {
    let x = Tensor::randn(&[3, 4], 13).unwrap();
    assert_passes("sum", std::slice::from_ref(&x), |g, v| {
        let y = g.tanh(v[0])?;
        g.sum(y)
    });
    assert_passes("mean", std::slice::from_ref(&x), |g, v| {
        let y = g.tanh(v[0])?;
        g.mean(y)
    });
    assert_passes("transpose", std::slice::from_ref(&x), |g, v| {
        let y = g.transpose(v[0])?;
        weighted_sum(g, y, 14)
    });
    let t = Tensor::randn(&[3, 4], 15).unwrap();
    assert_passes("mse_loss (both sides)", &[x.clone(), t], |g, v| {
        g.mse_loss(v[0], v[1])
    });
    assert_passes("softmax_cross_entropy", std::slice::from_ref(&x), |g, v| {
        g.softmax_cross_entropy(v[0], &[3, 0, 2])
    });
    let big = Tensor::from_vec(x.data().iter().map(|v| v * 3.0 + 50.0).collect(), &[3, 4]).unwrap();
    assert_passes("softmax_cross_entropy, large logits", &[big], |g, v| {
        g.softmax_cross_entropy(v[0], &[1, 1, 3])
    });
}

#[test]
fn reuse_of_a_value() {
    // y = x·x + 3x + tanh(x): x feeds three ops, and mul gets it twice.
    assert_passes("reuse", &[away_from_zero(&[2, 3], 16)], |g, v| {
        let x = v[0];
        let sq = g.mul(x, x)?;
        let three = g.constant(Tensor::scalar(3.0));
        let lin = g.mul(three, x)?;
        let t = g.tanh(x)?;
        let s = g.add(sq, lin)?;
        let y = g.add(s, t)?;
        weighted_sum(g, y, 17)
    });
}

#[test]
fn diamond() {
    // h = x·W; two branches from h meet again: loss = sum(sigmoid(h) · tanh(h)).
    let ins = [
        Tensor::randn(&[2, 3], 18).unwrap(),
        Tensor::randn(&[3, 3], 19).unwrap(),
    ];
    assert_passes("diamond", &ins, |g, v| {
        let h = g.matmul(v[0], v[1])?;
        let left = g.sigmoid(h)?;
        let right = g.tanh(h)?;
        let y = g.mul(left, right)?;
        g.sum(y)
    });
}

#[test]
fn deep_chains() {
    // 40 layers of tanh(h·w + b) sharing w and b: long chain and heavy reuse of params.
    let ins = [
        Tensor::uniform(&[3], 0.5, 1.0, 20).unwrap(),
        Tensor::uniform(&[3], 0.8, 1.1, 21).unwrap(),
        Tensor::uniform(&[3], -0.1, 0.1, 22).unwrap(),
    ];
    assert_passes("deep chain", &ins, |g, v| {
        let mut h = v[0];
        for _ in 0..40 {
            let m = g.mul(h, v[1])?;
            let a = g.add(m, v[2])?;
            h = g.tanh(a)?;
        }
        weighted_sum(g, h, 23)
    });
    // A deep MLP through matmuls.
    let mut ins = vec![Tensor::randn(&[2, 4], 24).unwrap()];
    ins.extend((0..6).map(|i| Tensor::uniform(&[4, 4], -0.8, 0.8, 25 + i).unwrap()));
    assert_passes("deep matmul chain", &ins, |g, v| {
        let mut h = v[0];
        for &w in &v[1..] {
            let m = g.matmul(h, w)?;
            h = g.tanh(m)?;
        }
        g.softmax_cross_entropy(h, &[1, 3])
    });
}

#[test]
fn checker_reports_a_failure_and_the_worst_element() {
    // With zero tolerance, round-off alone must fail, and the report must name an element.
    let strict = GradcheckOptions {
        atol: 0.0,
        rtol: 0.0,
        ..GradcheckOptions::default()
    };
    let ins = [Tensor::randn(&[2, 2], 26).unwrap()];
    let report = gradcheck(
        &ins,
        |g, v| {
            let y = g.exp(v[0])?;
            g.sum(y)
        },
        strict,
    )
    .unwrap();
    assert!(!report.passed);
    let w = report.worst.expect("worst element");
    assert!(w.param == 0 && w.index < 4 && w.ratio > 1.0);
    let x = ins[0].data()[w.index] as f64;
    assert!(
        (w.analytic - x.exp()).abs() < 1e-5,
        "analytic {}",
        w.analytic
    );
    assert!(report.to_string().contains("FAILED"), "{report}");
    // A non-scalar loss is an error, not a report.
    assert!(gradcheck(&ins, |g, v| g.exp(v[0]), GradcheckOptions::default()).is_err());
}
