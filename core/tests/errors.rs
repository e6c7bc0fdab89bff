//! Every documented bad input returns a `CoreError` naming the op and the shapes or
//! values, never panics, and leaves the graph usable.

use poolgrad_core::{CoreError, Graph, Tensor, nn, optim};

fn t(s: &[usize]) -> Tensor {
    Tensor::ones(s).unwrap()
}

/// After an error the graph must still run a full forward/backward.
fn assert_usable(g: &mut Graph) {
    let before = g.tape_len();
    let w = g.param(Tensor::from_vec(vec![2.0, 3.0], &[2]).unwrap());
    let y = g.mul(w, w).unwrap();
    let l = g.sum(y).unwrap();
    g.backward(l).unwrap();
    assert_eq!(g.grad(w).unwrap().data(), &[4.0, 6.0]);
    assert_eq!(g.tape_len(), before + 2);
}

fn says(e: &CoreError, parts: &[&str]) {
    let msg = e.to_string();
    for p in parts {
        assert!(msg.contains(p), "{msg:?} should mention {p:?}");
    }
}

#[test]
fn data_length_and_rank() {
    let e = Tensor::from_vec(vec![0.0; 5], &[2, 3]).unwrap_err();
    says(&e, &["Tensor::from_vec", "[2, 3]", "6", "5"]);
    let e = Tensor::zeros(&[1, 1, 1, 1, 1, 1, 1]).unwrap_err();
    says(&e, &["rank"]);
    let mut g = Graph::new().unwrap();
    let e = g.constant_from_slice(&[1.0; 3], &[2, 2]).unwrap_err();
    says(&e, &["constant_from_slice", "[2, 2]", "4", "3"]);
    assert_usable(&mut g);
}

#[test]
fn shape_mismatches_in_every_shaped_op() {
    let mut g = Graph::new().unwrap();
    let a = g.constant(t(&[2, 3]));
    let b = g.constant(t(&[4, 5]));
    let v = g.constant(t(&[3]));
    let e = g.matmul(a, a).unwrap_err();
    says(&e, &["matmul", "[2, 3]", "inner dims"]);
    let e = g.matmul(a, v).unwrap_err();
    says(&e, &["matmul", "[3]", "[k, n]"]);
    let e = g.matmul(v, a).unwrap_err();
    says(&e, &["matmul", "[3]", "[..., m, k]"]);
    let batched = g.constant(t(&[2, 2, 3]));
    let e = g.matmul(a, batched).unwrap_err();
    says(&e, &["matmul", "[2, 2, 3]"]);
    for (op, e) in [
        ("add", g.add(a, b).unwrap_err()),
        ("sub", g.sub(a, b).unwrap_err()),
        ("mul", g.mul(b, a).unwrap_err()),
    ] {
        assert!(matches!(e, CoreError::Broadcast { .. }), "{e}");
        says(&e, &[op, "[2, 3]", "[4, 5]", "broadcast"]);
    }
    let wide = g.constant(t(&[2]));
    let row = g.constant(t(&[1, 3]));
    let scalar = g.constant(Tensor::from_vec(vec![1.0], &[]).unwrap());
    for (y, bias, shapes) in [
        (a, wide, ["[2, 3]", "[2]"]),
        (a, row, ["[2, 3]", "[1, 3]"]),
        (scalar, v, ["[]", "[3]"]),
    ] {
        let e = g.bias_act(y, bias, nn::Activation::Relu).unwrap_err();
        assert!(matches!(e, CoreError::ShapeMismatch { .. }), "{e}");
        says(&e, &["bias_act", shapes[0], shapes[1], "bias [n]"]);
    }
    let e = g.mse_loss(a, v).unwrap_err();
    says(&e, &["mse_loss", "[2, 3]", "[3]", "same shape"]);
    let e = g.transpose(v).unwrap_err();
    says(&e, &["transpose", "[3]", "rank 2"]);
    let e = g.softmax_cross_entropy(v, &[0]).unwrap_err();
    says(&e, &["softmax_cross_entropy", "[3]", "rank 2"]);
    let empty = g.constant(Tensor::zeros(&[0]).unwrap());
    says(&g.mean(empty).unwrap_err(), &["mean", "[0]"]);
    let tape = g.tape_len();
    assert_usable(&mut g);
    assert_eq!(g.tape_len(), tape + 2, "failed ops added no nodes");
}

#[test]
fn labels() {
    let mut g = Graph::new().unwrap();
    let z = g.param(t(&[2, 3]));
    let e = g.softmax_cross_entropy(z, &[0, 3]).unwrap_err();
    assert!(matches!(
        e,
        CoreError::LabelOutOfRange {
            row: 1,
            label: 3,
            classes: 3,
            ..
        }
    ));
    says(&e, &["softmax_cross_entropy", "label 3", "row 1", "0..3"]);
    let e = g.softmax_cross_entropy(z, &[0]).unwrap_err();
    says(&e, &["softmax_cross_entropy", "1 labels", "2 rows"]);
    assert_usable(&mut g);
}

#[test]
fn backward_from_non_scalar() {
    let mut g = Graph::new().unwrap();
    let w = g.param(t(&[2, 2]));
    let y = g.tanh(w).unwrap();
    let e = g.backward(y).unwrap_err();
    assert!(matches!(e, CoreError::NotScalar { .. }));
    says(&e, &["backward", "[2, 2]", "scalar"]);
    assert_usable(&mut g);
}

#[test]
fn vars_from_other_graphs_or_before_reset() {
    let mut g = Graph::new().unwrap();
    let mut other = Graph::new().unwrap();
    let foreign = other.param(t(&[2]));
    let w = g.param(t(&[2]));
    let e = g.add(w, foreign).unwrap_err();
    assert!(matches!(e, CoreError::ForeignVar { .. }));
    says(&e, &["add", "graph"]);
    assert!(g.value(foreign).is_err());
    assert!(g.grad(foreign).is_none());
    let old = g.relu(w).unwrap();
    g.reset();
    let e = g.relu(old).unwrap_err();
    assert!(matches!(e, CoreError::StaleVar { .. }));
    says(&e, &["relu", "reset"]);
    assert!(g.backward(old).is_err());
    // A tape index that exists again after reset is still refused (generation check).
    let _fresh = g.relu(w).unwrap();
    assert!(g.value(old).is_err());
    // Params stay valid across reset.
    assert!(g.relu(w).is_ok());
    let e = g.param_value_mut(_fresh).unwrap_err();
    says(&e, &["param_value_mut", "not a param"]);
    assert_usable(&mut g);
}

#[test]
fn anomaly_detection_names_the_first_bad_op() {
    let mut g = Graph::new().unwrap();
    let x = g.param(Tensor::from_vec(vec![1.0, -1.0], &[2]).unwrap());
    // Off: NaN flows silently.
    let y = g.log(x).unwrap();
    assert!(g.value(y).unwrap().data()[1].is_nan());
    g.set_detect_anomaly(true);
    assert!(g.detect_anomaly());
    let len = g.tape_len();
    let e = g.log(x).unwrap_err();
    assert!(matches!(e, CoreError::NonFinite { index: 1, .. }), "{e}");
    says(&e, &["log", "NaN", "element 1", "[2]"]);
    assert_eq!(g.tape_len(), len, "the bad node is not recorded");
    let big = g.param(Tensor::from_vec(vec![100.0], &[1]).unwrap());
    says(&g.exp(big).unwrap_err(), &["exp", "inf"]);
    // A NaN gradient is caught in backward too, naming the op it flows into.
    g.set_detect_anomaly(false);
    let z = g.param(Tensor::from_vec(vec![0.0], &[1]).unwrap());
    let lz = g.log(z).unwrap(); // -inf, allowed while off
    let s = g.mul(lz, lz).unwrap();
    let l = g.sum(s).unwrap();
    g.set_detect_anomaly(true);
    let e = g.backward(l).unwrap_err();
    says(&e, &["backward"]);
    assert!(g.grad(z).is_none());
    g.set_detect_anomaly(false);
    assert_usable(&mut g);
}

#[test]
fn bad_arguments_to_nn_and_optim() {
    let mut g = Graph::new().unwrap();
    says(
        &nn::Linear::new(&mut g, 0, 3, 1).unwrap_err(),
        &["Linear::new", "0"],
    );
    says(
        &nn::Mlp::new(&mut g, &[4], nn::Activation::Relu, 1).unwrap_err(),
        &["Mlp::new", "[4]"],
    );
    says(
        &optim::Sgd::new(-1.0).step(&mut g).unwrap_err(),
        &["Sgd::step", "-1"],
    );
    says(
        &optim::Sgd::new(0.1).momentum(1.5).step(&mut g).unwrap_err(),
        &["momentum 1.5"],
    );
    says(
        &optim::Adam::new(0.1)
            .betas(1.0, 0.9)
            .step(&mut g)
            .unwrap_err(),
        &["Adam::step", "betas"],
    );
    let mlp = nn::Mlp::new(&mut g, &[4, 2], nn::Activation::Relu, 1).unwrap();
    let x = g.constant(t(&[3, 5]));
    says(
        &mlp.forward(&mut g, x).unwrap_err(),
        &["matmul", "[3, 5]", "[4, 2]"],
    );
    assert_usable(&mut g);
}
