//! `poolgrad train`: an MLP classifier on the bundled digits data (or a user's CSV), with
//! loss per epoch, test accuracy and time; also the report's training section.

use crate::cli::CliResult;
use crate::cli::progress::Progress;
use clap::{Args, ValueEnum};
use poolgrad::data::{CsvFormat, Dataset, digits, load_csv};
use poolgrad::prelude::Graph;
use poolgrad::train::{OptimizerKind, TrainConfig, TrainOutcome, train_mlp};
use serde_json::{Value, json};
use std::path::PathBuf;

/// Seed of the train/test split: fixed, so every `--seed` is tested on the same rows.
pub const SPLIT_SEED: u64 = 2024;

/// Which optimizer `--optimizer` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OptimizerArg {
    Adam,
    Sgd,
}

/// Options of `poolgrad train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Hidden layer sizes, comma-separated (input and output sizes come from the data).
    #[arg(long, value_delimiter = ',', num_args = 1.., value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub hidden: Option<Vec<u32>>,
    /// Passes over the training set (1..=10000).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub epochs: Option<u32>,
    /// Rows per mini-batch (1..=65536).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub batch: Option<u32>,
    /// Learning rate (a finite number > 0).
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f32>,
    /// The optimizer.
    #[arg(long, value_enum, default_value_t = OptimizerArg::Adam)]
    pub optimizer: OptimizerArg,
    /// SGD momentum in [0, 1) (only with --optimizer sgd; default 0.9).
    #[arg(long, allow_negative_numbers = true)]
    pub momentum: Option<f32>,
    /// Gradient allocator (a registered name, e.g. system, pool, planner); default:
    /// POOLGRAD_ALLOCATOR, else the registry's default.
    #[arg(long)]
    pub allocator: Option<String>,
    /// Seed of the initial weights and the batch order.
    #[arg(long)]
    pub seed: Option<u64>,
    /// A CSV of `features…, label` rows to train on instead of the digits data.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Share of the rows held out for testing, in (0, 1).
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Print JSON instead of tables (progress still goes to stderr).
    #[arg(long)]
    pub json: bool,
}

/// A finished training run with what it ran on.
#[derive(Debug)]
pub struct TrainRun {
    pub config: TrainConfig,
    /// `digits` or the CSV's path.
    pub data: String,
    pub allocator: &'static str,
    pub train_rows: usize,
    pub test_rows: usize,
    pub test_fraction: f64,
    pub outcome: TrainOutcome,
}

impl TrainArgs {
    /// The configuration these options ask for, on top of [`TrainConfig::default`].
    ///
    /// # Errors
    /// A momentum without SGD, or any value [`TrainConfig::validate`] refuses.
    pub fn config(&self) -> CliResult<TrainConfig> {
        let mut config = TrainConfig::default();
        if let Some(hidden) = &self.hidden {
            config.hidden = hidden.iter().map(|&h| h as usize).collect();
        }
        if let Some(e) = self.epochs {
            config.epochs = e as usize;
        }
        if let Some(b) = self.batch {
            config.batch = b as usize;
        }
        if let Some(lr) = self.lr {
            config.lr = lr;
        }
        if let Some(seed) = self.seed {
            config.seed = seed;
        }
        config.optimizer = match (self.optimizer, self.momentum) {
            (OptimizerArg::Adam, Some(_)) => {
                return Err("--momentum applies to --optimizer sgd only".into());
            }
            (OptimizerArg::Adam, None) => OptimizerKind::Adam,
            (OptimizerArg::Sgd, m) => OptimizerKind::Sgd {
                momentum: m.unwrap_or(0.9),
            },
        };
        config.validate()?;
        Ok(config)
    }
}

/// Resolves `--allocator` (else `POOLGRAD_ALLOCATOR`, else the default) to a registered name.
///
/// # Errors
/// An unknown name, with the registered ones.
pub fn allocator_name(requested: Option<&str>) -> CliResult<&'static str> {
    Ok(match requested {
        Some(name) => poolgrad::memory::registry().get(name.trim())?.name(),
        None => poolgrad::memory::allocator_name_from_lookup(|k| std::env::var(k).ok())?,
    })
}

/// The graph a training run builds its model in.
///
/// Built with the named gradient allocator (already validated against the registry).
fn graph_for(allocator: &'static str) -> CliResult<Graph> {
    Ok(Graph::with_allocator(allocator)?)
}

/// Loads the data (digits, or a CSV), splits it with [`SPLIT_SEED`], standardizes both
/// sides with the training statistics, trains and evaluates; `progress` sees each epoch.
///
/// # Errors
/// Bad data (naming the line), a bad split or configuration, an engine error.
pub fn run_training(
    config: &TrainConfig,
    data: Option<&std::path::Path>,
    test_fraction: f64,
    allocator: &'static str,
    show_progress: bool,
) -> CliResult<TrainRun> {
    let (dataset, name): (Dataset, String) = match data {
        None => (digits()?, "digits".into()),
        Some(path) => (
            load_csv(path, CsvFormat::default())?,
            path.display().to_string(),
        ),
    };
    let (mut train, mut test) = dataset.split(test_fraction, SPLIT_SEED)?;
    let (mean, std) = train.feature_stats();
    train.standardize(&mean, &std);
    test.standardize(&mean, &std);
    let mut graph = graph_for(allocator)?;
    let progress = show_progress.then(|| Progress::new("training", config.epochs));
    let outcome = train_mlp(&mut graph, config, &train, &test, |e| {
        if let Some(p) = &progress {
            p.step(
                e.epoch - 1,
                &format!("epoch {} loss {:.4}", e.epoch, e.loss),
            );
        }
    })?;
    drop(progress);
    Ok(TrainRun {
        config: config.clone(),
        data: name,
        allocator,
        train_rows: train.len(),
        test_rows: test.len(),
        test_fraction,
        outcome,
    })
}

impl TrainRun {
    /// Prints the configuration, a compact loss-per-epoch table, accuracy and time.
    pub fn print(&self) {
        let c = &self.config;
        let optimizer = match c.optimizer {
            OptimizerKind::Adam => "adam".to_string(),
            OptimizerKind::Sgd { momentum } => format!("sgd (momentum {momentum})"),
        };
        println!(
            "data {} ({} train / {} test rows), hidden {:?}, {} epochs, batch {}, lr {}, {}, seed {}, allocator {}",
            self.data,
            self.train_rows,
            self.test_rows,
            c.hidden,
            c.epochs,
            c.batch,
            c.lr,
            optimizer,
            c.seed,
            self.allocator
        );
        println!("{:>6} {:>9} {:>9}", "epoch", "loss", "time s");
        let epochs = &self.outcome.epochs;
        // At most 12 lines: every epoch when few, else evenly spaced ones and the last.
        let stride = epochs.len().div_ceil(12).max(1);
        for (i, e) in epochs.iter().enumerate() {
            if i % stride == 0 || i + 1 == epochs.len() {
                println!("{:>6} {:>9.4} {:>9.3}", e.epoch, e.loss, e.elapsed_s);
            }
        }
        println!(
            "test accuracy {:.2}% ({} steps, {:.3} s of training)",
            self.outcome.test_accuracy * 100.0,
            self.outcome.steps,
            self.outcome.train_seconds
        );
    }

    /// The `training` object of the JSON outputs.
    pub fn to_json(&self) -> Value {
        let c = &self.config;
        let (optimizer, momentum) = match c.optimizer {
            OptimizerKind::Adam => ("adam", Value::Null),
            OptimizerKind::Sgd { momentum } => ("sgd", json!(momentum)),
        };
        json!({
            "data": self.data,
            "train_rows": self.train_rows,
            "test_rows": self.test_rows,
            "test_fraction": self.test_fraction,
            "config": {
                "hidden": c.hidden,
                "epochs": c.epochs,
                "batch": c.batch,
                "lr": c.lr,
                "optimizer": optimizer,
                "momentum": momentum,
                "seed": c.seed,
                "allocator": self.allocator,
            },
            "epochs": self.outcome.epochs.iter().map(|e| json!({
                "epoch": e.epoch,
                "loss": e.loss,
                "elapsed_s": e.elapsed_s,
            })).collect::<Vec<_>>(),
            "test_accuracy": self.outcome.test_accuracy,
            "train_seconds": self.outcome.train_seconds,
            "steps": self.outcome.steps,
        })
    }
}

/// Runs `poolgrad train`.
pub fn run(args: &TrainArgs) -> CliResult {
    let config = args.config()?;
    let allocator = allocator_name(args.allocator.as_deref())?;
    let run = run_training(
        &config,
        args.data.as_deref(),
        args.test_fraction,
        allocator,
        true,
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&run.to_json())?);
    } else {
        println!("== training");
        run.print();
    }
    Ok(())
}
