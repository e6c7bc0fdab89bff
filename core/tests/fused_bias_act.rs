//! `bias_act` against what it fuses: `add` of a row bias, then the activation. Values and
//! gradients must agree bit for bit, also where gradients accumulate (a value used twice),
//! and `Mlp::forward` must give the unfused composition's logits.

use poolgrad_core::nn::{Activation, Mlp};
use poolgrad_core::{Graph, Tensor, Var};

const ACTS: [Activation; 4] = [
    Activation::Relu,
    Activation::Tanh,
    Activation::Sigmoid,
    Activation::Identity,
];

/// Runs `loss = sum(c ⊙ f(y₀ + y₀ ⊙ w, b)) + sum(b ⊙ b)` on fresh params and returns the
/// output and the gradients of `y₀`, `w` and `b`: `y₀` and `b` each reach the loss twice,
/// so their gradients are accumulated (`+=`) after the first write.
fn run(
    y_shape: &[usize],
    fused: bool,
    act: Activation,
) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let n = *y_shape.last().unwrap();
    let mut g = Graph::new().unwrap();
    let y0 = g.param(Tensor::randn(y_shape, 1).unwrap());
    let w = g.param(Tensor::randn(y_shape, 2).unwrap());
    let b = g.param(Tensor::randn(&[n], 3).unwrap());
    let yw = g.mul(y0, w).unwrap();
    let y = g.add(y0, yw).unwrap();
    let out = if fused {
        g.bias_act(y, b, act).unwrap()
    } else {
        let z = g.add(y, b).unwrap();
        apply(&mut g, act, z)
    };
    let c = g.constant(Tensor::randn(y_shape, 4).unwrap());
    let weighted = g.mul(out, c).unwrap();
    let s = g.sum(weighted).unwrap();
    let bb = g.mul(b, b).unwrap();
    let sb = g.sum(bb).unwrap();
    let loss = g.add(s, sb).unwrap();
    g.backward(loss).unwrap();
    let grad = |g: &Graph, v: Var| g.grad(v).unwrap().data().to_vec();
    (
        g.value(out).unwrap().data().to_vec(),
        grad(&g, y0),
        grad(&g, w),
        grad(&g, b),
    )
}

fn apply(g: &mut Graph, act: Activation, z: Var) -> Var {
    match act {
        Activation::Relu => g.relu(z),
        Activation::Tanh => g.tanh(z),
        Activation::Sigmoid => g.sigmoid(z),
        Activation::Identity => Ok(z),
    }
    .unwrap()
}

#[test]
fn values_and_gradients_match_add_then_activation_bit_for_bit() {
    // Rows of one, a few, a batched 3-d input, and more elements than one thread's chunk
    // (the forward and the input gradient split rows across threads mid-row).
    let shapes: [&[usize]; 4] = [&[1, 5], &[7, 3], &[2, 3, 4], &[300, 333]];
    for shape in shapes {
        for act in ACTS {
            let fused = run(shape, true, act);
            let plain = run(shape, false, act);
            assert_eq!(fused.0, plain.0, "{act:?} {shape:?}: values");
            assert_eq!(fused.1, plain.1, "{act:?} {shape:?}: grad of y₀");
            assert_eq!(fused.2, plain.2, "{act:?} {shape:?}: grad of w");
            assert_eq!(fused.3, plain.3, "{act:?} {shape:?}: grad of b");
            if act == Activation::Relu {
                assert!(
                    fused.0.contains(&0.0),
                    "ReLU clipped nothing: the test is blind"
                );
            }
        }
    }
}

#[test]
fn empty_rows_give_empty_outputs_and_zero_bias_gradients() {
    let mut g = Graph::new().unwrap();
    let y = g.param(Tensor::zeros(&[0, 4]).unwrap());
    let b = g.param(Tensor::ones(&[4]).unwrap());
    let out = g.bias_act(y, b, Activation::Relu).unwrap();
    assert_eq!(g.value(out).unwrap().shape(), &[0, 4]);
    let s = g.sum(out).unwrap();
    g.backward(s).unwrap();
    assert_eq!(g.grad(b).unwrap().data(), &[0.0; 4]);
}

#[test]
fn mlp_forward_gives_the_unfused_logits() {
    for act in ACTS {
        let mut g = Graph::new().unwrap();
        let mlp = Mlp::new(&mut g, &[6, 5, 4, 3], act, 9).unwrap();
        let x = g.constant(Tensor::randn(&[8, 6], 10).unwrap());
        let fused = mlp.forward(&mut g, x).unwrap();
        let mut h = x;
        for (i, layer) in mlp.layers.iter().enumerate() {
            let y = g.matmul(h, layer.weight).unwrap();
            h = g.add(y, layer.bias).unwrap();
            if i + 1 < mlp.layers.len() {
                h = apply(&mut g, act, h);
            }
        }
        assert_eq!(
            g.value(fused).unwrap().data(),
            g.value(h).unwrap().data(),
            "{act:?}"
        );
    }
}
