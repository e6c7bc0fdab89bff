//! `poolgrad memory`: the training loop (forward + backward + SGD + reset) of an MLP under
//! each registered gradient allocator — allocations and reuses per step, peak live / peak
//! reserved gradient bytes against the lower bound, requested vs granted bytes — the
//! forward+backward step breakdown (GradReservedBytes, GradLiveBytes, ActivationBytes,
//! TempBytes), the per-step live/reserved gradient bytes of one backward, and a kernel ×
//! allocator table of step times.
//!
//! The measuring is in [`measure`] (plain structs, [`MemoryReport::to_json`]) so the full
//! report can reuse it; [`print`] writes the tables.
//!
//! Gradient figures are the allocator's: the intermediate gradients of backward. Param
//! gradients are kept by the graph under every allocator and shown apart.

use crate::cli::CliResult;
use clap::{Args, ValueEnum};
use poolgrad::core::{CoreError, Graph, Tensor, nn, optim};
use poolgrad::kernels::KernelError;
use poolgrad::scheduler::{Mode, Scheduler, SchedulerConfig};
use serde_json::{Value, json};
use std::time::Instant;

/// The models measured: MLP-S and MLP-M of the issues, softmax cross-entropy, ReLU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Model {
    /// MLP-S: 784→256→10, batch 64.
    S,
    /// MLP-M: 784→1024→1024→10, batch 256.
    M,
}

impl Model {
    /// Layer sizes, input first.
    pub fn sizes(self) -> &'static [usize] {
        match self {
            Model::S => &[784, 256, 10],
            Model::M => &[784, 1024, 1024, 10],
        }
    }

    /// Batch size.
    pub fn batch(self) -> usize {
        match self {
            Model::S => 64,
            Model::M => 256,
        }
    }

    /// `"MLP-S"` or `"MLP-M"`.
    pub fn label(self) -> &'static str {
        match self {
            Model::S => "MLP-S",
            Model::M => "MLP-M",
        }
    }

    /// `"s"` or `"m"`, as on the command line.
    pub fn key(self) -> &'static str {
        match self {
            Model::S => "s",
            Model::M => "m",
        }
    }
}

fn parse_steps(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (2..=100_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{s}` is not a step count; accepted: an integer from 2 to 100000 (one cold step, then steady ones)"
        )),
    }
}

/// Options of `poolgrad memory`.
#[derive(Debug, Args)]
pub struct MemoryArgs {
    /// Training steps per allocator (the first is the cold one; the rest are averaged).
    #[arg(long, default_value_t = 10, value_parser = parse_steps)]
    pub steps: usize,
    /// The model: s = MLP-S (784→256→10, batch 64), m = MLP-M (784→1024→1024→10, batch 256).
    #[arg(long, value_enum, default_value_t = Model::S)]
    pub model: Model,
    /// Allocators to compare (default: every registered one).
    #[arg(long, value_delimiter = ',')]
    pub allocators: Vec<String>,
    /// Kernels of the kernel × allocator table (each forced in turn; unsupported ones are
    /// shown as "-").
    #[arg(long, value_delimiter = ',', default_values_t = ["packed".to_string(), "mp".to_string(), "tiled".to_string()])]
    pub kernels: Vec<String>,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// What to measure.
#[derive(Clone, Debug)]
pub struct MemoryConfig {
    /// The model.
    pub model: Model,
    /// Training steps per allocator (>= 2).
    pub steps: usize,
    /// Allocators (empty: every registered one).
    pub allocators: Vec<String>,
    /// Kernels of the interaction table (empty: no table).
    pub kernels: Vec<String>,
    /// Steps per cell of the interaction table (one more is run untimed first).
    pub kernel_steps: usize,
    /// A quick run (for tests and the quick report): 3 steps, 1 step per table cell.
    pub quick: bool,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            model: Model::S,
            steps: 10,
            allocators: Vec::new(),
            kernels: vec!["packed".into(), "mp".into(), "tiled".into()],
            kernel_steps: 3,
            quick: false,
        }
    }
}

/// Per-step counters of one allocator: system allocations, reuses, requested and granted
/// bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepCounts {
    /// Calls into the system allocator.
    pub allocations: f64,
    /// Buffers served without one.
    pub reuses: f64,
    /// Bytes asked for.
    pub requested_bytes: f64,
    /// Bytes granted (≥ requested when an allocator rounds).
    pub granted_bytes: f64,
}

impl StepCounts {
    fn to_json(self) -> Value {
        json!({
            "allocations": self.allocations,
            "reuses": self.reuses,
            "requested_bytes": self.requested_bytes,
            "granted_bytes": self.granted_bytes,
        })
    }
}

/// One steady forward+backward step's memory (peaks over the step, bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepBreakdown {
    /// Peak bytes the allocator held from the system (GradReservedBytes).
    pub grad_reserved_bytes: usize,
    /// Peak bytes of live intermediate gradients (GradLiveBytes).
    pub grad_live_bytes: usize,
    /// Peak bytes of forward values on the tape (ActivationBytes).
    pub activation_bytes: usize,
    /// Bytes of the kernels' packing buffers, process-wide (TempBytes).
    pub temp_bytes: usize,
    /// Bytes of param gradients, kept by the graph (the same under every allocator).
    pub param_grad_bytes: usize,
}

impl StepBreakdown {
    fn to_json(self) -> Value {
        json!({
            "grad_reserved_bytes": self.grad_reserved_bytes,
            "grad_live_bytes": self.grad_live_bytes,
            "activation_bytes": self.activation_bytes,
            "temp_bytes": self.temp_bytes,
            "param_grad_bytes": self.param_grad_bytes,
        })
    }
}

/// The training loop under one allocator.
#[derive(Clone, Debug, PartialEq)]
pub struct AllocatorRun {
    /// The allocator's registered name.
    pub allocator: String,
    /// Counters of the first (cold) step.
    pub first_step: StepCounts,
    /// Mean counters of the steady steps (all but the first).
    pub steady: StepCounts,
    /// Largest live intermediate gradient bytes over the run.
    pub peak_live_bytes: usize,
    /// Largest bytes held from the system over the run.
    pub peak_reserved_bytes: usize,
    /// The lower bound of the intermediate gradients (largest total live at once).
    pub lower_bound_bytes: usize,
    /// The lower bound counting param gradients too (the whole backward).
    pub lower_bound_with_params_bytes: usize,
    /// Median time of a steady step (forward + backward + SGD + reset), ms.
    pub step_ms: f64,
    /// One steady step's breakdown.
    pub breakdown: StepBreakdown,
    /// Live intermediate gradient bytes at each backward step of the last step.
    pub live_trace: Vec<usize>,
    /// Reserved bytes at each backward step of the last step.
    pub reserved_trace: Vec<usize>,
}

impl AllocatorRun {
    /// Peak reserved / lower bound (None when the bound is 0).
    pub fn reserved_ratio(&self) -> Option<f64> {
        ratio(self.peak_reserved_bytes, self.lower_bound_bytes)
    }

    /// Peak live / lower bound (1.0 when gradients are released at their last use).
    pub fn live_ratio(&self) -> Option<f64> {
        ratio(self.peak_live_bytes, self.lower_bound_bytes)
    }

    fn to_json(&self) -> Value {
        json!({
            "allocator": self.allocator,
            "first_step": self.first_step.to_json(),
            "steady_per_step": self.steady.to_json(),
            "peak_live_bytes": self.peak_live_bytes,
            "peak_reserved_bytes": self.peak_reserved_bytes,
            "lower_bound_bytes": self.lower_bound_bytes,
            "lower_bound_with_params_bytes": self.lower_bound_with_params_bytes,
            "reserved_over_lower_bound": self.reserved_ratio(),
            "live_over_lower_bound": self.live_ratio(),
            "step_ms": self.step_ms,
            "breakdown": self.breakdown.to_json(),
            "trace": {
                "live_bytes": self.live_trace,
                "reserved_bytes": self.reserved_trace,
            },
        })
    }
}

fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// One row of the kernel × allocator table.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelRow {
    /// The forced kernel.
    pub kernel: String,
    /// Median step time (ms) per allocator, in [`MemoryReport::allocators`] order; `None`
    /// where the kernel cannot run the model's shapes.
    pub step_ms: Vec<Option<f64>>,
}

/// Everything `poolgrad memory` measured.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryReport {
    /// The model.
    pub model: Model,
    /// Steps per allocator.
    pub steps: usize,
    /// The allocator `POOLGRAD_ALLOCATOR` selects (what `Graph::new` uses).
    pub default_allocator: String,
    /// One run per allocator.
    pub allocators: Vec<AllocatorRun>,
    /// The kernel × allocator table.
    pub interaction: Vec<KernelRow>,
}

impl MemoryReport {
    /// The report as JSON (bytes as integers, times in ms).
    pub fn to_json(&self) -> Value {
        json!({
            "model": {
                "name": self.model.label(),
                "key": self.model.key(),
                "sizes": self.model.sizes(),
                "batch": self.model.batch(),
            },
            "steps": self.steps,
            "default_allocator": self.default_allocator,
            "allocators": self.allocators.iter().map(AllocatorRun::to_json).collect::<Vec<_>>(),
            "interaction": {
                "allocators": self.allocators.iter().map(|r| r.allocator.clone()).collect::<Vec<_>>(),
                "rows": self.interaction.iter().map(|row| json!({
                    "kernel": row.kernel,
                    "step_ms": row.step_ms,
                })).collect::<Vec<_>>(),
            },
        })
    }
}

/// A model with its fixed batch and an SGD optimizer, on one graph.
struct Trainer {
    g: Graph,
    mlp: nn::Mlp,
    x: Vec<f32>,
    labels: Vec<usize>,
    model: Model,
    opt: optim::Sgd,
}

impl Trainer {
    fn new(mut g: Graph, model: Model) -> CliResult<Trainer> {
        let sizes = model.sizes();
        let mlp = nn::Mlp::new(&mut g, sizes, nn::Activation::Relu, 42)?;
        let x = Tensor::randn(&[model.batch(), sizes[0]], 7)?.into_vec();
        let classes = sizes[sizes.len() - 1];
        let labels = (0..model.batch()).map(|i| (i * 7 + 3) % classes).collect();
        Ok(Trainer {
            g,
            mlp,
            x,
            labels,
            model,
            opt: optim::Sgd::new(0.01).momentum(0.9),
        })
    }

    /// Forward and backward, leaving the tape in place (for the breakdown).
    fn forward_backward(&mut self) -> CliResult {
        let g = &mut self.g;
        let x = g.constant_from_slice(&self.x, &[self.model.batch(), self.model.sizes()[0]])?;
        let logits = self.mlp.forward(g, x)?;
        let loss = g.softmax_cross_entropy(logits, &self.labels)?;
        g.backward(loss)?;
        Ok(())
    }

    /// One whole training step; returns its time in seconds.
    fn step(&mut self) -> CliResult<f64> {
        let t = Instant::now();
        self.forward_backward()?;
        self.opt.step(&mut self.g)?;
        self.g.reset();
        Ok(t.elapsed().as_secs_f64())
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The training loop under one allocator, advanced one step at a time so that allocators
/// can take turns (fairer timings on a busy machine).
struct Lane {
    allocator: String,
    t: Trainer,
    counts: Vec<StepCounts>,
    times: Vec<f64>,
    breakdown: StepBreakdown,
    /// Peaks over every step but the last (whose own peaks make the breakdown).
    peak_live: usize,
    peak_reserved: usize,
}

impl Lane {
    fn new(model: Model, allocator: &str) -> CliResult<Lane> {
        let mut t = Trainer::new(Graph::with_allocator(allocator)?, model)?;
        t.g.set_trace_backward(true);
        Ok(Lane {
            allocator: allocator.to_string(),
            t,
            counts: Vec::new(),
            times: Vec::new(),
            breakdown: StepBreakdown::default(),
            peak_live: 0,
            peak_reserved: 0,
        })
    }

    /// One training step; the `last` one also records the breakdown.
    fn step(&mut self, last: bool) -> CliResult {
        let t = &mut self.t;
        let before = t.g.mem_stats().grad;
        let secs = if last {
            // The breakdown: peaks over one steady forward+backward, tape still in place.
            self.peak_live = before.peak_live_bytes;
            self.peak_reserved = before.peak_reserved_bytes;
            let start = Instant::now();
            t.g.reset_mem_peaks();
            t.forward_backward()?;
            let m = t.g.mem_stats();
            self.breakdown = StepBreakdown {
                grad_reserved_bytes: m.grad.peak_reserved_bytes,
                grad_live_bytes: m.grad.peak_live_bytes,
                activation_bytes: m.peak_activation_bytes,
                temp_bytes: m.peak_temp_bytes,
                param_grad_bytes: m.param_grad_bytes,
            };
            t.opt.step(&mut t.g)?;
            t.g.reset();
            start.elapsed().as_secs_f64()
        } else {
            t.step()?
        };
        let after = t.g.mem_stats().grad;
        self.counts.push(StepCounts {
            allocations: (after.allocations - before.allocations) as f64,
            reuses: (after.reuses - before.reuses) as f64,
            requested_bytes: (after.requested_bytes - before.requested_bytes) as f64,
            granted_bytes: (after.granted_bytes - before.granted_bytes) as f64,
        });
        self.times.push(secs);
        Ok(())
    }

    fn finish(self) -> AllocatorRun {
        let steady = &self.counts[1..];
        let n = steady.len() as f64;
        let mean = |f: fn(&StepCounts) -> f64| steady.iter().map(f).sum::<f64>() / n;
        let g = &self.t.g;
        let stats = g.mem_stats().grad;
        let trace = g.backward_trace().cloned().unwrap_or_default();
        AllocatorRun {
            allocator: self.allocator,
            first_step: self.counts[0],
            steady: StepCounts {
                allocations: mean(|c| c.allocations),
                reuses: mean(|c| c.reuses),
                requested_bytes: mean(|c| c.requested_bytes),
                granted_bytes: mean(|c| c.granted_bytes),
            },
            peak_live_bytes: self.peak_live.max(stats.peak_live_bytes),
            peak_reserved_bytes: self.peak_reserved.max(stats.peak_reserved_bytes),
            lower_bound_bytes: stats.lower_bound_bytes,
            lower_bound_with_params_bytes: g.last_backward_plan().lower_bound_bytes(),
            step_ms: median(self.times[1..].to_vec()) * 1e3,
            breakdown: self.breakdown,
            live_trace: trace.live_bytes,
            reserved_trace: trace.reserved_bytes,
        }
    }
}

/// Time spent at least on each row of the kernel × allocator table, seconds (none when
/// quick).
const CELL_BUDGET_S: f64 = 0.3;

/// Median step times (ms) of `model` with `kernel` forced, per allocator (taking turns);
/// `None` everywhere when the kernel cannot run the model's shapes.
fn time_row(
    model: Model,
    kernel: &str,
    allocators: &[String],
    steps: usize,
    budget_s: f64,
) -> CliResult<Vec<Option<f64>>> {
    let mut trainers = Vec::new();
    for allocator in allocators {
        let mut config = SchedulerConfig::new(Mode::Off)?;
        config.forced = Some(kernel.to_string());
        let mut g = Graph::with_scheduler(Scheduler::with_config(config)?);
        g.set_allocator(poolgrad::memory::create(allocator)?);
        let mut t = Trainer::new(g, model)?;
        if let Err(e) = t.step() {
            let unsupported = matches!(
                e.downcast_ref::<CoreError>(),
                Some(CoreError::Kernel {
                    source: KernelError::Unsupported { .. },
                    ..
                })
            );
            return if unsupported {
                Ok(vec![None; allocators.len()])
            } else {
                Err(e)
            };
        }
        trainers.push(t);
    }
    let mut times = vec![Vec::new(); trainers.len()];
    let start = Instant::now();
    let mut rounds = 0;
    while rounds < steps || (start.elapsed().as_secs_f64() < budget_s && rounds < 200) {
        for (t, v) in trainers.iter_mut().zip(&mut times) {
            v.push(t.step()?);
        }
        rounds += 1;
    }
    Ok(times.into_iter().map(|v| Some(median(v) * 1e3)).collect())
}

/// Runs the measurements of `config`.
///
/// # Errors
/// An invalid `POOLGRAD_ALLOCATOR` (or other `POOLGRAD_*` setting), an unknown allocator or
/// kernel name (listing the registered ones), or a failed step.
pub fn measure(config: &MemoryConfig) -> CliResult<MemoryReport> {
    let default_allocator =
        poolgrad::memory::allocator_name_from_lookup(|k| std::env::var(k).ok())?;
    // Also validates the other POOLGRAD_* settings a graph reads.
    drop(Graph::new()?);
    let registry = poolgrad::memory::registry();
    let allocators: Vec<String> = if config.allocators.is_empty() {
        registry.names().iter().map(|s| s.to_string()).collect()
    } else {
        for name in &config.allocators {
            registry.get(name)?;
        }
        config.allocators.clone()
    };
    for name in &config.kernels {
        poolgrad::kernels::registry().get(name)?;
    }
    let (steps, kernel_steps, budget_s) = if config.quick {
        (config.steps.min(3), 1, 0.0)
    } else {
        (config.steps, config.kernel_steps.max(1), CELL_BUDGET_S)
    };
    let steps = steps.max(2);
    let mut lanes = allocators
        .iter()
        .map(|a| Lane::new(config.model, a))
        .collect::<CliResult<Vec<_>>>()?;
    for s in 0..steps {
        for lane in &mut lanes {
            lane.step(s + 1 == steps)?;
        }
    }
    let runs: Vec<AllocatorRun> = lanes.into_iter().map(Lane::finish).collect();
    let mut interaction = Vec::new();
    for kernel in &config.kernels {
        interaction.push(KernelRow {
            kernel: kernel.clone(),
            step_ms: time_row(config.model, kernel, &allocators, kernel_steps, budget_s)?,
        });
    }
    Ok(MemoryReport {
        model: config.model,
        steps,
        default_allocator: default_allocator.to_string(),
        allocators: runs,
        interaction,
    })
}

/// `1536` → `"1.5 KiB"`.
pub fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "-".into(), |r| format!("{r:.3}"))
}

/// Prints the tables of a report.
pub fn print(r: &MemoryReport) {
    let sizes: Vec<String> = r.model.sizes().iter().map(usize::to_string).collect();
    println!(
        "== memory: training loop under each allocator — {} ({}, ReLU, batch {}, softmax CE, SGD), {} steps",
        r.model.label(),
        sizes.join("→"),
        r.model.batch(),
        r.steps
    );
    println!(
        "{:<10} {:>11} {:>11} {:>12} {:>10} {:>13} {:>11} {:>9} {:>9} {:>8}",
        "allocator",
        "allocs/step",
        "reuses/step",
        "first a / r",
        "peak live",
        "peak reserved",
        "lower bound",
        "res / LB",
        "gr / req",
        "step ms"
    );
    for a in &r.allocators {
        let marker = if a.allocator == r.default_allocator {
            "*"
        } else {
            ""
        };
        println!(
            "{:<10} {:>11.1} {:>11.1} {:>12} {:>10} {:>13} {:>11} {:>9} {:>9} {:>8.3}",
            format!("{}{marker}", a.allocator),
            a.steady.allocations,
            a.steady.reuses,
            format!(
                "{:.0} / {:.0}",
                a.first_step.allocations, a.first_step.reuses
            ),
            human_bytes(a.peak_live_bytes as f64),
            human_bytes(a.peak_reserved_bytes as f64),
            human_bytes(a.lower_bound_bytes as f64),
            fmt_ratio(a.reserved_ratio()),
            fmt_ratio(ratio(
                a.steady.granted_bytes as usize,
                a.steady.requested_bytes as usize
            )),
            a.step_ms
        );
    }
    if let Some(a) = r.allocators.first() {
        println!(
            "gradients: the intermediate ones, through the allocator (* = POOLGRAD_ALLOCATOR's \
             choice); param gradients ({}) are kept by the graph under every allocator; lower \
             bound with them: {}. allocs = calls into the system allocator; steady steps \
             averaged, the first shown apart.",
            human_bytes(a.breakdown.param_grad_bytes as f64),
            human_bytes(a.lower_bound_with_params_bytes as f64)
        );
    }
    println!();
    println!("== forward+backward step breakdown (one steady step, peaks)");
    println!(
        "{:<10} {:>16} {:>14} {:>16} {:>12} {:>15}",
        "allocator",
        "GradReservedBytes",
        "GradLiveBytes",
        "ActivationBytes",
        "TempBytes",
        "ParamGradBytes"
    );
    for a in &r.allocators {
        let b = &a.breakdown;
        println!(
            "{:<10} {:>16} {:>14} {:>16} {:>12} {:>15}",
            a.allocator,
            human_bytes(b.grad_reserved_bytes as f64),
            human_bytes(b.grad_live_bytes as f64),
            human_bytes(b.activation_bytes as f64),
            human_bytes(b.temp_bytes as f64),
            human_bytes(b.param_grad_bytes as f64)
        );
    }
    println!("TempBytes: the kernels' packing buffers, process-wide.");
    if let Some(a) = r.allocators.first() {
        println!();
        println!(
            "== live gradient bytes over the {} backward steps of the last step (KiB; lower bound {})",
            a.live_trace.len(),
            human_bytes(a.lower_bound_bytes as f64)
        );
        let kib = |v: &[usize]| {
            v.iter()
                .map(|&b| format!("{:.0}", b as f64 / 1024.0))
                .collect::<Vec<_>>()
                .join(" ")
        };
        println!("{:<18} {}", "live (all)", kib(&a.live_trace));
        for a in &r.allocators {
            println!(
                "{:<18} {}",
                format!("reserved {}", a.allocator),
                kib(&a.reserved_trace)
            );
        }
    }
    if !r.interaction.is_empty() {
        println!();
        println!("== kernel × allocator: median step ms (kernel forced)");
        print!("{:<10}", "kernel");
        for a in &r.allocators {
            print!(" {:>10}", a.allocator);
        }
        println!();
        for row in &r.interaction {
            print!("{:<10}", row.kernel);
            for ms in &row.step_ms {
                match ms {
                    Some(ms) => print!(" {ms:>10.3}"),
                    None => print!(" {:>10}", "-"),
                }
            }
            println!();
        }
    }
}

/// Runs `poolgrad memory`.
pub fn run(args: &MemoryArgs) -> CliResult {
    let config = MemoryConfig {
        model: args.model,
        steps: args.steps,
        allocators: args.allocators.clone(),
        kernels: args.kernels.clone(),
        ..MemoryConfig::default()
    };
    let report = measure(&config)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print(&report);
    }
    Ok(())
}
