//! nn layers and optimizers: shapes, init ranges, exact update rules, and that training
//! actually reduces a loss.

use poolgrad_core::nn::{Activation, Linear, Mlp};
use poolgrad_core::optim::{Adam, Sgd};
use poolgrad_core::{Graph, Tensor};

#[test]
fn linear_computes_x_w_plus_b_with_bounded_init() {
    let mut g = Graph::new().unwrap();
    let layer = Linear::new(&mut g, 50, 4, 3).unwrap();
    let w = g.value(layer.weight).unwrap().clone();
    let b = g.value(layer.bias).unwrap().clone();
    assert_eq!((w.shape(), b.shape()), (&[50usize, 4][..], &[4usize][..]));
    let bound = (6.0f32 / 50.0).sqrt();
    assert!(w.data().iter().all(|x| x.abs() <= bound));
    assert!(
        w.data().iter().any(|x| x.abs() > bound * 0.5),
        "spread over the range"
    );
    assert!(b.data().iter().all(|x| x.abs() <= 1.0 / 50f32.sqrt()));
    // Same seed, same init; another seed, another init.
    let mut g2 = Graph::new().unwrap();
    let again = Linear::new(&mut g2, 50, 4, 3).unwrap();
    assert_eq!(g2.value(again.weight).unwrap(), &w);
    let other = Linear::new(&mut g2, 50, 4, 4).unwrap();
    assert_ne!(g2.value(other.weight).unwrap(), &w);

    let xt = Tensor::randn(&[2, 50], 9).unwrap();
    let x = g.constant(xt.clone());
    let y = layer.forward(&mut g, x).unwrap();
    let y = g.value(y).unwrap();
    for i in 0..2 {
        for j in 0..4 {
            let want: f32 = (0..50)
                .map(|k| xt.data()[i * 50 + k] * w.data()[k * 4 + j])
                .sum::<f32>()
                + b.data()[j];
            assert!((y.data()[i * 4 + j] - want).abs() < 1e-4);
        }
    }
}

#[test]
fn mlp_has_its_layers_in_order() {
    let mut g = Graph::new().unwrap();
    let mlp = Mlp::new(&mut g, &[3, 5, 7, 2], Activation::Tanh, 1).unwrap();
    assert_eq!(mlp.layers.len(), 3);
    assert_eq!(g.num_params(), 6);
    let params = g.params();
    assert_eq!(params[0], mlp.layers[0].weight);
    assert_eq!(params[5], mlp.layers[2].bias);
    let x = g.constant(Tensor::ones(&[4, 3]).unwrap());
    let y = mlp.forward(&mut g, x).unwrap();
    assert_eq!(g.value(y).unwrap().shape(), &[4, 2]);
}

/// A graph with one param `p` and loss `sum(p · c)`, so d loss / d p = c exactly.
fn linear_loss(g: &mut Graph, p: poolgrad_core::Var, c: &[f32]) {
    let c = g.constant(Tensor::from_vec(c.to_vec(), &[c.len()]).unwrap());
    let y = g.mul(p, c).unwrap();
    let l = g.sum(y).unwrap();
    g.backward(l).unwrap();
    g.reset();
}

#[test]
fn sgd_and_momentum_follow_their_update_rules() {
    let mut g = Graph::new().unwrap();
    let p = g.param(Tensor::from_vec(vec![1.0, 2.0], &[2]).unwrap());
    let mut sgd = Sgd::new(0.5);
    linear_loss(&mut g, p, &[2.0, -4.0]);
    sgd.step(&mut g).unwrap();
    assert_eq!(g.value(p).unwrap().data(), &[0.0, 4.0]);

    let mut g = Graph::new().unwrap();
    let p = g.param(Tensor::from_vec(vec![0.0], &[1]).unwrap());
    let mut sgd = Sgd::new(0.1).momentum(0.5);
    linear_loss(&mut g, p, &[1.0]);
    sgd.step(&mut g).unwrap(); // v = 1, p = -0.1
    linear_loss(&mut g, p, &[1.0]);
    sgd.step(&mut g).unwrap(); // v = 1.5, p = -0.25
    assert!((g.value(p).unwrap().data()[0] + 0.25).abs() < 1e-7);
}

#[test]
fn adam_first_steps_move_by_lr_times_sign() {
    let mut g = Graph::new().unwrap();
    let p = g.param(Tensor::from_vec(vec![1.0, 1.0, 1.0], &[3]).unwrap());
    let mut adam = Adam::new(0.01);
    for _ in 0..3 {
        // With a constant gradient, bias-corrected m/sqrt(v) = sign(g).
        linear_loss(&mut g, p, &[3.0, -0.5, 0.0]);
        adam.step(&mut g).unwrap();
    }
    let v = g.value(p).unwrap().data();
    assert!((v[0] - 0.97).abs() < 1e-5, "{v:?}");
    assert!((v[1] - 1.03).abs() < 1e-5, "{v:?}");
    assert_eq!(v[2], 1.0);
}

#[test]
fn params_the_loss_does_not_reach_are_left_alone() {
    let mut g = Graph::new().unwrap();
    let p = g.param(Tensor::from_vec(vec![1.0], &[1]).unwrap());
    let q = g.param(Tensor::from_vec(vec![5.0], &[1]).unwrap());
    let mut adam = Adam::new(0.1);
    let mut sgd = Sgd::new(0.1).momentum(0.9);
    linear_loss(&mut g, p, &[1.0]);
    adam.step(&mut g).unwrap();
    sgd.step(&mut g).unwrap();
    assert_eq!(g.value(q).unwrap().data(), &[5.0]);
    assert_ne!(g.value(p).unwrap().data(), &[1.0]);
}

#[test]
fn both_optimizers_fit_a_small_regression() {
    // y = x·[1, -2, 3]ᵀ + 0.5, learned by a linear layer.
    let x = Tensor::randn(&[32, 3], 5).unwrap();
    let y: Vec<f32> = x
        .data()
        .chunks(3)
        .map(|r| r[0] - 2.0 * r[1] + 3.0 * r[2] + 0.5)
        .collect();
    for use_adam in [false, true] {
        let mut g = Graph::new().unwrap();
        let layer = Linear::new(&mut g, 3, 1, 1).unwrap();
        let mut sgd = Sgd::new(0.05).momentum(0.9);
        let mut adam = Adam::new(0.05);
        let mut last = f32::INFINITY;
        for _ in 0..400 {
            let xv = g.constant_from_slice(x.data(), &[32, 3]).unwrap();
            let yv = g.constant_from_slice(&y, &[32, 1]).unwrap();
            let pred = layer.forward(&mut g, xv).unwrap();
            let loss = g.mse_loss(pred, yv).unwrap();
            last = g.value(loss).unwrap().item().unwrap();
            g.backward(loss).unwrap();
            if use_adam {
                adam.step(&mut g)
            } else {
                sgd.step(&mut g)
            }
            .unwrap();
            g.reset();
        }
        assert!(last < 1e-3, "adam={use_adam}: final loss {last}");
        let w = g.value(layer.weight).unwrap().data().to_vec();
        assert!(
            (w[0] - 1.0).abs() < 0.05 && (w[1] + 2.0).abs() < 0.05 && (w[2] - 3.0).abs() < 0.05,
            "{w:?}"
        );
    }
}
