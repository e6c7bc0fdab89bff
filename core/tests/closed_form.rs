//! Gradients against closed forms, and the tape semantics around them (replacement across
//! backward calls, unreached params, release of intermediate gradients).

use poolgrad_core::{GradOwner, Graph, Tensor};

fn t(v: &[f32], s: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), s).unwrap()
}

#[test]
fn square_sum_gives_twice_x() {
    let mut g = Graph::new().unwrap();
    let x = g.param(t(&[1.0, -2.0, 3.5], &[3]));
    let sq = g.mul(x, x).unwrap();
    let loss = g.sum(sq).unwrap();
    g.backward(loss).unwrap();
    assert_eq!(g.grad(x).unwrap().data(), &[2.0, -4.0, 7.0]);
    assert_eq!(g.value(loss).unwrap().item().unwrap(), 1.0 + 4.0 + 12.25);
}

#[test]
fn matmul_sum_gradients_are_row_and_column_sums() {
    // loss = sum(A·B): dA[i,k] = Σ_j B[k,j], dB[k,j] = Σ_i A[i,k].
    let mut g = Graph::new().unwrap();
    let a = g.param(t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]));
    let b = g.param(t(&[1.0, -1.0, 2.0, 0.5, 0.0, 3.0], &[3, 2]));
    let y = g.matmul(a, b).unwrap();
    assert_eq!(g.value(y).unwrap().data(), &[5.0, 9.0, 14.0, 16.5]);
    let loss = g.sum(y).unwrap();
    g.backward(loss).unwrap();
    assert_eq!(g.grad(a).unwrap().data(), &[0.0, 2.5, 3.0, 0.0, 2.5, 3.0]);
    assert_eq!(g.grad(b).unwrap().data(), &[5.0, 5.0, 7.0, 7.0, 9.0, 9.0]);
}

#[test]
fn params_given_in_reverse_creation_order_get_their_own_gradients() {
    // loss = sum(B·A) with B created after A, and sum(b ⊙ a): each param's gradient lands
    // in its own tensor whichever of the op's inputs comes first.
    let mut g = Graph::new().unwrap();
    let a = g.param(t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]));
    let b = g.param(t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]));
    let y = g.matmul(b, a).unwrap();
    let loss = g.sum(y).unwrap();
    g.backward(loss).unwrap();
    // d/dB[i,k] = Σ_j A[k,j]; d/dA[k,j] = Σ_i B[i,k].
    assert_eq!(g.grad(b).unwrap().data(), &[3.0, 7.0, 11.0, 3.0, 7.0, 11.0]);
    assert_eq!(g.grad(a).unwrap().data(), &[5.0, 5.0, 7.0, 7.0, 9.0, 9.0]);
    g.reset();
    let u = g.param(t(&[1.0, 2.0], &[2]));
    let v = g.param(t(&[5.0, 7.0], &[2]));
    let prod = g.mul(v, u).unwrap();
    let loss = g.sum(prod).unwrap();
    g.backward(loss).unwrap();
    assert_eq!(g.grad(v).unwrap().data(), &[1.0, 2.0]);
    assert_eq!(g.grad(u).unwrap().data(), &[5.0, 7.0]);
}

#[test]
fn bias_gradient_sums_over_the_batch() {
    let mut g = Graph::new().unwrap();
    let x = g.constant(Tensor::ones(&[4, 3]).unwrap());
    let b = g.param(t(&[0.1, 0.2, 0.3], &[3]));
    let col = g.param(t(&[1.0, 2.0, 3.0, 4.0], &[4, 1]));
    let y = g.add(x, b).unwrap();
    let y = g.mul(y, col).unwrap();
    let loss = g.sum(y).unwrap();
    g.backward(loss).unwrap();
    assert_eq!(g.grad(b).unwrap().data(), &[10.0, 10.0, 10.0]);
    let want: Vec<f32> = [1.0f32, 1.0, 1.0, 1.0].iter().map(|_| 3.0 + 0.6).collect();
    for (a, w) in g.grad(col).unwrap().data().iter().zip(&want) {
        assert!((a - w).abs() < 1e-6);
    }
}

#[test]
fn softmax_cross_entropy_gradient_is_softmax_minus_onehot_over_batch() {
    let logits = [1.0f32, 2.0, 3.0, -1.0, 0.0, 4.0];
    let labels = [2usize, 0];
    let mut g = Graph::new().unwrap();
    let z = g.param(t(&logits, &[2, 3]));
    let loss = g.softmax_cross_entropy(z, &labels).unwrap();
    g.backward(loss).unwrap();
    let mut want_loss = 0.0f64;
    let mut want_grad = vec![0.0f64; 6];
    for r in 0..2 {
        let row: Vec<f64> = logits[r * 3..r * 3 + 3].iter().map(|&v| v as f64).collect();
        let s: f64 = row.iter().map(|v| v.exp()).sum();
        want_loss += s.ln() - row[labels[r]];
        for c in 0..3 {
            let onehot = if c == labels[r] { 1.0 } else { 0.0 };
            want_grad[r * 3 + c] = (row[c].exp() / s - onehot) / 2.0;
        }
    }
    let got = g.value(loss).unwrap().item().unwrap() as f64;
    assert!((got - want_loss / 2.0).abs() < 1e-6, "{got}");
    for (a, w) in g.grad(z).unwrap().data().iter().zip(&want_grad) {
        assert!((*a as f64 - w).abs() < 1e-6, "{a} vs {w}");
    }
    // Huge logits: stable (finite) loss, exact cancellation.
    let mut g = Graph::new().unwrap();
    let z = g.param(t(&[1000.0, 0.0, -1000.0], &[1, 3]));
    let loss = g.softmax_cross_entropy(z, &[0]).unwrap();
    assert_eq!(g.value(loss).unwrap().item().unwrap(), 0.0);
    let loss2 = g.softmax_cross_entropy(z, &[1]).unwrap();
    assert_eq!(g.value(loss2).unwrap().item().unwrap(), 1000.0);
}

#[test]
fn mse_gradient_is_two_diff_over_n() {
    let mut g = Graph::new().unwrap();
    let p = g.param(t(&[1.0, 2.0, 4.0, 0.0], &[2, 2]));
    let y = g.constant(t(&[0.0, 2.0, 1.0, 1.0], &[2, 2]));
    let loss = g.mse_loss(p, y).unwrap();
    assert_eq!(
        g.value(loss).unwrap().item().unwrap(),
        (1.0 + 0.0 + 9.0 + 1.0) / 4.0
    );
    g.backward(loss).unwrap();
    assert_eq!(g.grad(p).unwrap().data(), &[0.5, 0.0, 1.5, -0.5]);
}

#[test]
fn unary_gradients_in_closed_form() {
    let xs = [-1.5f32, -0.3, 0.4, 2.0];
    let mut g = Graph::new().unwrap();
    let x = g.param(t(&xs, &[4]));
    type Derivative = fn(f32) -> f32;
    let ops: [(&str, Derivative); 4] = [
        ("relu", |x| if x > 0.0 { 1.0 } else { 0.0 }),
        ("tanh", |x| 1.0 - x.tanh().powi(2)),
        ("sigmoid", |x| {
            let s = 1.0 / (1.0 + (-x).exp());
            s * (1.0 - s)
        }),
        ("exp", f32::exp),
    ];
    for (name, d) in ops {
        let y = match name {
            "relu" => g.relu(x),
            "tanh" => g.tanh(x),
            "sigmoid" => g.sigmoid(x),
            _ => g.exp(x),
        }
        .unwrap();
        let loss = g.sum(y).unwrap();
        g.backward(loss).unwrap();
        for (gv, &xv) in g.grad(x).unwrap().data().iter().zip(&xs) {
            assert!((gv - d(xv)).abs() < 1e-6, "{name}'({xv}) = {gv}");
        }
        g.reset();
    }
    let x2 = g.param(t(&[0.5, 2.0], &[2]));
    let y = g.log(x2).unwrap();
    let m = g.mean(y).unwrap();
    g.backward(m).unwrap();
    assert_eq!(g.grad(x2).unwrap().data(), &[1.0, 0.25]);
}

#[test]
fn backward_replaces_gradients_and_skips_unreached_params() {
    let mut g = Graph::new().unwrap();
    let a = g.param(t(&[3.0], &[1]));
    let unused = g.param(t(&[1.0], &[1]));
    let y = g.mul(a, a).unwrap();
    let loss = g.sum(y).unwrap();
    g.backward(loss).unwrap();
    g.backward(loss).unwrap();
    assert_eq!(
        g.grad(a).unwrap().data(),
        &[6.0],
        "not accumulated across calls"
    );
    assert!(g.grad(unused).is_none());
    assert!(g.grad(y).is_none(), "intermediate gradients are released");
    // Backward from a param itself.
    g.backward(unused).unwrap();
    assert_eq!(g.grad(unused).unwrap().data(), &[1.0]);
    assert!(g.grad(a).is_none());
    // Params and their gradients survive reset.
    g.backward(loss).unwrap();
    g.reset();
    assert_eq!(g.grad(a).unwrap().data(), &[6.0]);
    assert_eq!(g.value(a).unwrap().data(), &[3.0]);
    assert_eq!(g.tape_len(), 0);
}

#[test]
fn plan_records_last_use_and_frees_intermediates() {
    // x -> h = x·w -> r = relu(h) -> loss = sum(r); plus a branch that reaches no param.
    let mut g = Graph::new().unwrap();
    let x = g.constant(Tensor::ones(&[2, 3]).unwrap());
    let w = g.param(Tensor::ones(&[3, 4]).unwrap());
    let side = g.exp(x).unwrap(); // no param upstream: never visited
    let h = g.matmul(x, w).unwrap();
    let r = g.relu(h).unwrap();
    let s = g.sum(r).unwrap();
    let side_sum = g.sum(side).unwrap();
    let loss = g.add(s, side_sum).unwrap();
    g.backward(loss).unwrap();
    let plan = g.last_backward_plan();
    // Nodes: x 0, side 1, h 2, r 3, s 4, side_sum 5, loss 6 (w is a param, not a node).
    // Visited: loss, s, r, h — not side, side_sum or the constant.
    assert_eq!(plan.order, vec![6, 4, 3, 2]);
    let life = |o| *plan.lives.iter().find(|l| l.owner == o).unwrap();
    let h_life = life(GradOwner::Node(2));
    assert_eq!(
        (h_life.first_step, h_life.last_step, h_life.numel),
        (2, 3, 8)
    );
    let w_life = life(GradOwner::Param(0));
    assert_eq!((w_life.first_step, w_life.last_step), (3, u32::MAX));
    assert!(
        plan.lives
            .windows(2)
            .all(|p| p[0].first_step <= p[1].first_step)
    );
    // Peak: at step 2 r's grad (8) and h's grad (8) are both live → 64 bytes; at step 3
    // h (8) and w (12) → 80 bytes.
    assert_eq!(plan.lower_bound_bytes(), 80);
    // Intermediate gradients are all released after backward; the param gradient is kept
    // by the graph, outside the allocator. The allocator saw only the intermediates: its
    // lower bound is r + h at step 2 (64 bytes), and it was reached.
    let m = g.mem_stats();
    assert_eq!(m.grad.live_bytes, 0);
    assert_eq!(m.param_grad_bytes, 12 * 4);
    assert_eq!(m.grad.lower_bound_bytes, 64);
    assert_eq!(m.grad.peak_live_bytes, 64);
    assert_eq!(g.grad(w).unwrap().data(), &[2.0; 12]);
}

#[test]
fn plan_converts_to_the_memory_crates_liveness() {
    // A small MLP step: the plan's lower bound must equal the memory crate's, and its
    // planner must accept the liveness and reserve at least the bound.
    use poolgrad_core::nn::{Activation, Mlp};
    let mut g = Graph::new().unwrap();
    let mlp = Mlp::new(&mut g, &[6, 16, 8, 3], Activation::Relu, 1).unwrap();
    let x = g.constant(Tensor::randn(&[5, 6], 2).unwrap());
    let logits = mlp.forward(&mut g, x).unwrap();
    let loss = g.softmax_cross_entropy(logits, &[0, 1, 2, 0, 1]).unwrap();
    g.backward(loss).unwrap();
    let plan = g.last_backward_plan();
    let mut info = poolgrad_memory::LivenessInfo::new();
    plan.fill_liveness(&mut info).unwrap();
    info.validate().unwrap();
    assert_eq!(info.len(), plan.lives.len());
    assert_eq!(info.lower_bound_bytes(), plan.lower_bound_bytes());
    let kept = info.lives().iter().filter(|l| l.kept).count();
    assert_eq!(kept, 6, "three weights and three biases");
    let w0 = plan.grad_id(GradOwner::Param(0));
    assert_eq!(w0.0, g.tape_len());
    let mut planner = poolgrad_memory::create("planner").unwrap();
    planner.plan(&info).unwrap();
    assert_eq!(planner.stats().lower_bound_bytes, plan.lower_bound_bytes());
}

/// Tensors above the element-wise split threshold (64 Ki elements), so the forward, the
/// relu backward and the SGD update each run in one chunk per kernel thread where the
/// environment allows threads (the default under `cargo test`): every element must still
/// match the closed form.
#[test]
fn large_elementwise_passes_match_closed_forms() {
    let (rows, cols) = (300, 301);
    let mut g = Graph::new().unwrap();
    let x = g.param(Tensor::randn(&[rows, cols], 3).unwrap());
    let b = g.param(Tensor::randn(&[cols], 4).unwrap());
    let z = g.add(x, b).unwrap();
    let y = g.relu(z).unwrap();
    let loss = g.sum(y).unwrap();
    g.backward(loss).unwrap();
    let (xv, bv) = (g.value(x).unwrap().clone(), g.value(b).unwrap().clone());
    let yv = g.value(y).unwrap().data().to_vec();
    let gx = g.grad(x).unwrap().data().to_vec();
    for (i, (&xi, (&yi, &gi))) in xv.data().iter().zip(yv.iter().zip(&gx)).enumerate() {
        let zi = xi + bv.data()[i % cols];
        assert_eq!(yi, zi.max(0.0), "relu(x + b) at {i}");
        assert_eq!(gi, if zi > 0.0 { 1.0 } else { 0.0 }, "d/dx at {i}");
    }
    let lr = 0.25;
    let mut opt = poolgrad_core::optim::Sgd::new(lr);
    opt.step(&mut g).unwrap();
    let stepped = g.value(x).unwrap().data();
    for (i, ((&before, &after), &gi)) in xv.data().iter().zip(stepped).zip(&gx).enumerate() {
        assert_eq!(after, before - lr * gi, "sgd at {i}");
    }
}
