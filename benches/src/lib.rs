//! Shared helpers for poolgrad's criterion benches (see `benches/benches/`).
#![forbid(unsafe_code)]

use poolgrad::core::Result;
use poolgrad::prelude::*;

/// The benchmarked models: name, layer sizes, batch (MLP-S and MLP-M of issues 4 and 5).
pub const MODELS: [(&str, &[usize], usize); 2] = [
    ("mlp_s", &[784, 256, 10], 64),
    ("mlp_m", &[784, 1024, 1024, 10], 256),
];

/// The phases of a [`TrainStep`], in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Input, forward pass and loss.
    Forward,
    /// `Graph::backward`.
    Backward,
    /// The SGD update and the graph's reset.
    Update,
}

/// One MLP training step on a fixed batch: forward, softmax cross-entropy, backward, SGD,
/// then `reset` — the step the `autograd` and `alloc` benches time.
#[derive(Debug)]
pub struct TrainStep {
    /// The graph (its allocator and statistics are what the `alloc` bench reports).
    pub g: Graph,
    mlp: Mlp,
    x: Vec<f32>,
    labels: Vec<usize>,
    batch: usize,
    opt: Sgd,
    /// Layers as `Mlp::forward` runs them (matmul, then `bias_act`); `false`: matmul, `add`
    /// and the activation as three ops ([`TrainStep::unfused`]).
    fused: bool,
}

impl TrainStep {
    /// An MLP of `sizes` (ReLU) in `g`, with a seeded batch of `batch` rows.
    pub fn new(mut g: Graph, sizes: &[usize], batch: usize) -> TrainStep {
        let mlp = Mlp::new(&mut g, sizes, Activation::Relu, 42).expect("sizes are valid");
        let x = Tensor::randn(&[batch, sizes[0]], 7)
            .expect("shape")
            .into_vec();
        let classes = *sizes.last().expect("sizes");
        let labels = (0..batch).map(|i| (i * 7 + 3) % classes).collect();
        TrainStep {
            g,
            mlp,
            x,
            labels,
            batch,
            opt: Sgd::new(0.01),
            fused: true,
        }
    }

    /// The same step with each layer's bias and activation recorded as separate `add` and
    /// activation ops instead of one `bias_act`: the tape before that fusion, to measure
    /// what it gains (`step_time --compare-fusion`). Values and gradients are identical.
    pub fn unfused(g: Graph, sizes: &[usize], batch: usize) -> TrainStep {
        TrainStep {
            fused: false,
            ..TrainStep::new(g, sizes, batch)
        }
    }

    /// Runs one step; returns the loss.
    pub fn step(&mut self) -> f32 {
        self.step_phases(|_| {})
    }

    /// Runs one step like [`TrainStep::step`], calling `mark(phase)` as each phase ends:
    /// [`Phase::Forward`] (input, forward and loss), [`Phase::Backward`], [`Phase::Update`]
    /// (the SGD step and the graph's reset), so a caller can time each one.
    pub fn step_phases(&mut self, mut mark: impl FnMut(Phase)) -> f32 {
        let g = &mut self.g;
        let inputs = self.mlp.layers[0].in_features;
        let x = g
            .constant_from_slice(&self.x, &[self.batch, inputs])
            .expect("shape");
        let logits = if self.fused {
            self.mlp.forward(g, x).expect("forward")
        } else {
            unfused_forward(g, &self.mlp, x).expect("forward")
        };
        let loss = g.softmax_cross_entropy(logits, &self.labels).expect("loss");
        let value = g.value(loss).expect("loss").data()[0];
        mark(Phase::Forward);
        g.backward(loss).expect("backward");
        mark(Phase::Backward);
        self.opt.step(g).expect("sgd");
        g.reset();
        mark(Phase::Update);
        value
    }
}

/// `Mlp::forward` with each layer's bias and activation as separate ops.
fn unfused_forward(g: &mut Graph, mlp: &Mlp, x: Var) -> Result<Var> {
    let mut h = x;
    for (i, layer) in mlp.layers.iter().enumerate() {
        let y = g.matmul(h, layer.weight)?;
        h = g.add(y, layer.bias)?;
        if i + 1 < mlp.layers.len() {
            h = mlp.activation.apply(g, h)?;
        }
    }
    Ok(h)
}

/// The tape of the `tiny_ops` bench: [`TinyOps::LAYERS`] `h = tanh(h·w + b)` layers on
/// 1-element tensors, [`TinyOps::NODES`] nodes with the loss, where per-node overhead is
/// all there is to measure.
#[derive(Debug)]
pub struct TinyOps {
    g: Graph,
    w: Var,
    b: Var,
}

impl TinyOps {
    /// Layers of the chain.
    pub const LAYERS: usize = 333;
    /// Nodes a forward records (3 per layer and the input), plus one for the loss.
    pub const NODES: u64 = 3 * Self::LAYERS as u64 + 1;

    /// The two params on a graph from the environment, warmed by one forward + backward.
    ///
    /// # Errors
    /// An invalid `POOLGRAD_*` environment, as [`Graph::new`].
    pub fn new() -> Result<TinyOps> {
        let mut g = Graph::new()?;
        let w = g.param(Tensor::from_vec(vec![0.9], &[1])?);
        let b = g.param(Tensor::from_vec(vec![0.1], &[1])?);
        let mut t = TinyOps { g, w, b };
        t.forward_backward()?;
        Ok(t)
    }

    /// Records the chain and resets the tape; returns the last value.
    ///
    /// # Errors
    /// None in practice (every shape is valid); op errors are passed on.
    pub fn forward(&mut self) -> Result<f32> {
        let h = self.chain()?;
        let out = self.g.value(h)?.data()[0];
        self.g.reset();
        Ok(out)
    }

    /// Records the chain, sums it into a loss, runs backward and resets the tape; returns
    /// `w`'s gradient.
    ///
    /// # Errors
    /// As [`TinyOps::forward`].
    pub fn forward_backward(&mut self) -> Result<f32> {
        let h = self.chain()?;
        let loss = self.g.sum(h)?;
        self.g.backward(loss)?;
        let dw = self.g.grad(self.w).map_or(0.0, |t| t.data()[0]);
        self.g.reset();
        Ok(dw)
    }

    fn chain(&mut self) -> Result<Var> {
        let g = &mut self.g;
        let mut h = g.constant_from_slice(&[0.5], &[1])?;
        for _ in 0..Self::LAYERS {
            let m = g.mul(h, self.w)?;
            let a = g.add(m, self.b)?;
            h = g.tanh(a)?;
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_marked_once_each_in_order_and_training_makes_progress() {
        let g = Graph::new().expect("valid environment");
        let mut step = TrainStep::new(g, &[8, 6, 3], 5);
        let mut seen = Vec::new();
        let first = step.step_phases(|p| seen.push(p));
        assert_eq!(seen, [Phase::Forward, Phase::Backward, Phase::Update]);
        assert!(first.is_finite() && first > 0.0);
        let last = (0..200).map(|_| step.step()).last().expect("steps");
        assert!(last < first, "loss {first} -> {last}");
    }

    /// The tape computes the chain and its gradient: compared with the same recurrence
    /// written out in plain f32 (forward, then the chain rule backwards).
    #[test]
    fn tiny_ops_matches_the_chain_written_out() {
        let mut t = TinyOps::new().unwrap();
        let (w, b) = (0.9f32, 0.1f32);
        let mut hs = vec![0.5f32];
        for _ in 0..TinyOps::LAYERS {
            let h = *hs.last().unwrap();
            hs.push((h * w + b).tanh());
        }
        let (mut dh, mut dw) = (1.0f32, 0.0f32);
        for k in (0..TinyOps::LAYERS).rev() {
            let da = dh * (1.0 - hs[k + 1] * hs[k + 1]);
            dw += da * hs[k];
            dh = da * w;
        }
        assert!((t.forward().unwrap() - hs[TinyOps::LAYERS]).abs() < 1e-6);
        let got = t.forward_backward().unwrap();
        assert!(
            (got - dw).abs() <= 1e-4 * dw.abs().max(1.0),
            "{got} vs {dw}"
        );
        assert_eq!(
            t.forward_backward().unwrap(),
            got,
            "reset leaves nothing behind"
        );
    }
}
