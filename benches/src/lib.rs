//! Shared helpers for poolgrad's criterion benches (see `benches/benches/`).
#![forbid(unsafe_code)]

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
        let logits = self.mlp.forward(g, x).expect("forward");
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
}
