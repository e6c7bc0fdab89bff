//! Training an MLP classifier on a [`Dataset`]: the loop behind `poolgrad train` and the
//! report's real training run. Mini-batch softmax cross-entropy, Adam or SGD, a seeded
//! batch order, and test accuracy at the end.

use crate::data::Dataset;
use poolgrad_core::nn::{Activation, Mlp};
use poolgrad_core::optim::{Adam, Sgd};
use poolgrad_core::{CoreError, Graph};
use std::time::Instant;

/// Which optimizer updates the weights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptimizerKind {
    /// Adam with the usual betas (0.9, 0.999).
    Adam,
    /// SGD with this momentum (0 for plain SGD).
    Sgd { momentum: f32 },
}

/// Everything `poolgrad train` lets a user choose.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Hidden layer sizes (input and output sizes come from the data).
    pub hidden: Vec<usize>,
    pub epochs: usize,
    pub batch: usize,
    pub lr: f32,
    pub optimizer: OptimizerKind,
    /// Seeds the initial weights and the batch order.
    pub seed: u64,
}

impl Default for TrainConfig {
    /// The defaults that reach ≥ 98% on the digits test split (see README).
    fn default() -> Self {
        TrainConfig {
            hidden: vec![256, 128],
            epochs: 15,
            batch: 32,
            lr: 2e-3,
            optimizer: OptimizerKind::Adam,
            seed: 42,
        }
    }
}

/// One epoch's figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochStats {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub loss: f32,
    /// Seconds since training started, at the end of this epoch.
    pub elapsed_s: f64,
}

/// What a training run produced.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOutcome {
    pub epochs: Vec<EpochStats>,
    /// Fraction of the test set classified correctly.
    pub test_accuracy: f64,
    /// Training time (all epochs), seconds; evaluation not included.
    pub train_seconds: f64,
    /// Optimizer steps taken.
    pub steps: usize,
}

/// Why training could not run.
#[derive(Debug)]
pub enum TrainError {
    /// A configuration value out of range, with what is accepted.
    Config(String),
    /// The train and test sets do not match (features or classes).
    Data(String),
    /// An error from the autograd engine.
    Core(CoreError),
}

impl std::fmt::Display for TrainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrainError::Config(m) | TrainError::Data(m) => f.write_str(m),
            TrainError::Core(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TrainError {}

impl From<CoreError> for TrainError {
    fn from(e: CoreError) -> Self {
        TrainError::Core(e)
    }
}

impl TrainConfig {
    /// Checks every value, naming the bad one and what is accepted.
    ///
    /// # Errors
    /// [`TrainError::Config`].
    pub fn validate(&self) -> Result<(), TrainError> {
        if self.epochs == 0 {
            return Err(TrainError::Config(
                "epochs = 0; accepted: at least 1".into(),
            ));
        }
        if self.batch == 0 {
            return Err(TrainError::Config("batch = 0; accepted: at least 1".into()));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(TrainError::Config(format!(
                "learning rate {} refused; accepted: a finite number > 0",
                self.lr
            )));
        }
        if self.hidden.contains(&0) {
            return Err(TrainError::Config(format!(
                "hidden sizes {:?} refused; accepted: sizes >= 1",
                self.hidden
            )));
        }
        if let OptimizerKind::Sgd { momentum } = self.optimizer
            && !(0.0..1.0).contains(&momentum)
        {
            return Err(TrainError::Config(format!(
                "momentum {momentum} refused; accepted: 0 <= momentum < 1"
            )));
        }
        Ok(())
    }
}

/// A model under training: its graph, MLP and optimizer.
enum Optimizer {
    Adam(Adam),
    Sgd(Sgd),
}

impl Optimizer {
    fn step(&mut self, g: &mut Graph) -> Result<(), CoreError> {
        match self {
            Optimizer::Adam(o) => o.step(g),
            Optimizer::Sgd(o) => o.step(g),
        }
    }
}

/// Trains an MLP on `train` (features should already be standardized) and evaluates it on
/// `test`; `on_epoch` sees each epoch's figures as they come (for progress output).
///
/// # Errors
/// [`TrainError`] for a bad configuration, mismatched datasets, or an engine error.
pub fn train_mlp(
    graph: &mut Graph,
    config: &TrainConfig,
    train: &Dataset,
    test: &Dataset,
    mut on_epoch: impl FnMut(&EpochStats),
) -> Result<TrainOutcome, TrainError> {
    config.validate()?;
    if train.is_empty() || test.is_empty() {
        return Err(TrainError::Data(
            "train and test sets must both have rows".into(),
        ));
    }
    if train.n_features != test.n_features {
        return Err(TrainError::Data(format!(
            "train has {} features but test has {}",
            train.n_features, test.n_features
        )));
    }
    let n_classes = train.n_classes.max(test.n_classes);
    let mut sizes = vec![train.n_features];
    sizes.extend(&config.hidden);
    sizes.push(n_classes);
    let mlp = Mlp::new(graph, &sizes, Activation::Relu, config.seed)?;
    let mut optimizer = match config.optimizer {
        OptimizerKind::Adam => Optimizer::Adam(Adam::new(config.lr)),
        OptimizerKind::Sgd { momentum } => Optimizer::Sgd(Sgd::new(config.lr).momentum(momentum)),
    };

    let d = train.n_features;
    let mut batch_x = Vec::with_capacity(config.batch * d);
    let mut batch_y = Vec::with_capacity(config.batch);
    let mut epochs = Vec::with_capacity(config.epochs);
    let mut steps = 0;
    let start = Instant::now();
    for epoch in 1..=config.epochs {
        let order = crate::data::shuffled(train.len(), config.seed.wrapping_add(epoch as u64));
        let mut loss_sum = 0.0f64;
        let mut batches = 0usize;
        for chunk in order.chunks(config.batch) {
            batch_x.clear();
            batch_y.clear();
            for &i in chunk {
                batch_x.extend_from_slice(train.row(i));
                batch_y.push(train.labels[i]);
            }
            let x = graph.constant_from_slice(&batch_x, &[chunk.len(), d])?;
            let logits = mlp.forward(graph, x)?;
            let loss = graph.softmax_cross_entropy(logits, &batch_y)?;
            loss_sum += graph.value(loss)?.item()? as f64;
            graph.backward(loss)?;
            optimizer.step(graph)?;
            graph.reset();
            batches += 1;
            steps += 1;
        }
        let stats = EpochStats {
            epoch,
            loss: (loss_sum / batches.max(1) as f64) as f32,
            elapsed_s: start.elapsed().as_secs_f64(),
        };
        on_epoch(&stats);
        epochs.push(stats);
    }
    let train_seconds = start.elapsed().as_secs_f64();
    let test_accuracy = accuracy(graph, &mlp, test)?;
    Ok(TrainOutcome {
        epochs,
        test_accuracy,
        train_seconds,
        steps,
    })
}

/// Fraction of `data` whose arg-max logit is its label.
fn accuracy(graph: &mut Graph, mlp: &Mlp, data: &Dataset) -> Result<f64, CoreError> {
    let x = graph.constant_from_slice(&data.features, &[data.len(), data.n_features])?;
    let logits = mlp.forward(graph, x)?;
    let values = graph.value(logits)?;
    let classes = values.shape()[1];
    let correct = values
        .data()
        .chunks(classes)
        .zip(&data.labels)
        .filter(|(row, label)| {
            let best = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i);
            best == Some(**label)
        })
        .count();
    graph.reset();
    Ok(correct as f64 / data.len() as f64)
}
