//! MLP loss and gradients against independent values computed with JAX
//! (`reference/mlp_reference.py`, numbers in `reference/mlp_reference.txt`).

use poolgrad_core::{Graph, Tensor, Var};
use std::collections::HashMap;

const REFERENCE: &str = include_str!("reference/mlp_reference.txt");

fn reference() -> HashMap<String, Vec<f32>> {
    REFERENCE
        .lines()
        .map(|line| {
            let mut it = line.split_whitespace();
            let name = it.next().expect("name").to_string();
            let n: usize = it.next().expect("count").parse().expect("count");
            let v: Vec<f32> = it.map(|x| x.parse().expect("number")).collect();
            assert_eq!(v.len(), n, "{name}");
            (name, v)
        })
        .collect()
}

/// The script's `val(n, salt)`, computed the same way (f64, then rounded to f32).
fn val(n: usize, salt: i64) -> Vec<f32> {
    (0..n as i64)
        .map(|i| ((((i * 37 + salt * 11) % 23) as f64) / 11.5 - 1.0) as f32)
        .collect()
}

fn scaled(v: Vec<f32>, s: f32) -> Vec<f32> {
    v.into_iter().map(|x| x * s).collect()
}

struct Net {
    w1: Var,
    b1: Var,
    w2: Var,
    b2: Var,
}

fn net(g: &mut Graph, d: [usize; 3]) -> Net {
    let t = |v, s: &[usize]| Tensor::from_vec(v, s).unwrap();
    Net {
        w1: g.param(t(scaled(val(d[0] * d[1], 2), 0.5), &[d[0], d[1]])),
        b1: g.param(t(scaled(val(d[1], 3), 0.1), &[d[1]])),
        w2: g.param(t(scaled(val(d[1] * d[2], 4), 0.5), &[d[1], d[2]])),
        b2: g.param(t(scaled(val(d[2], 5), 0.1), &[d[2]])),
    }
}

fn assert_close(tag: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{tag}");
    for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
        let tol = 2e-6 + 1e-5 * b.abs();
        assert!((a - b).abs() <= tol, "{tag}[{i}]: ours {a:e} vs JAX {b:e}");
    }
}

fn check(g: &Graph, n: &Net, loss: Var, tag: &str, r: &HashMap<String, Vec<f32>>) {
    assert_close(
        &format!("{tag}.loss"),
        g.value(loss).unwrap().data(),
        &r[&format!("{tag}.loss")],
    );
    for (name, v) in [("w1", n.w1), ("b1", n.b1), ("w2", n.w2), ("b2", n.b2)] {
        let key = format!("{tag}.{name}");
        assert_close(&key, g.grad(v).expect("param reached").data(), &r[&key]);
    }
}

#[test]
fn relu_mlp_softmax_cross_entropy_matches_jax() {
    let r = reference();
    let mut g = Graph::new().unwrap();
    let n = net(&mut g, [6, 8, 3]);
    let x = g.constant(Tensor::from_vec(val(4 * 6, 1), &[4, 6]).unwrap());
    let h = g.matmul(x, n.w1).unwrap();
    let h = g.add(h, n.b1).unwrap();
    let h = g.relu(h).unwrap();
    let y = g.matmul(h, n.w2).unwrap();
    let y = g.add(y, n.b2).unwrap();
    let loss = g.softmax_cross_entropy(y, &[2, 0, 1, 2]).unwrap();
    g.backward(loss).unwrap();
    check(&g, &n, loss, "ce", &r);
}

#[test]
fn tanh_mlp_mse_matches_jax() {
    let r = reference();
    let mut g = Graph::new().unwrap();
    let n = net(&mut g, [5, 4, 2]);
    let x = g.constant(Tensor::from_vec(val(3 * 5, 1), &[3, 5]).unwrap());
    let target = g.constant(Tensor::from_vec(val(3 * 2, 6), &[3, 2]).unwrap());
    let h = g.matmul(x, n.w1).unwrap();
    let h = g.add(h, n.b1).unwrap();
    let h = g.tanh(h).unwrap();
    let y = g.matmul(h, n.w2).unwrap();
    let y = g.add(y, n.b2).unwrap();
    let loss = g.mse_loss(y, target).unwrap();
    g.backward(loss).unwrap();
    check(&g, &n, loss, "mse", &r);
}
