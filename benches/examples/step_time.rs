//! poolgrad's training step timed the way `benches/reference/jax_step.py` times JAX's, so
//! the two can be run alternately and compared line by line: median, p10 and p90 wall time
//! of one step (forward, softmax cross-entropy, backward, SGD) over many steps after
//! warm-up, for MLP-S and MLP-M.
//!
//! ```text
//! cargo run --release -p poolgrad-benches --example step_time -- [--reps N] [--models mlp_s,mlp_m]
//! POOLGRAD_PAR=0 taskset -c 0 cargo run --release -p poolgrad-benches --example step_time
//! ```
//! Threads follow the usual settings (`POOLGRAD_PAR`, `POOLGRAD_THREADS`); the first line
//! says which applied.

use poolgrad::prelude::*;
use poolgrad_benches::{MODELS, TrainStep};
use std::process::ExitCode;
use std::time::Instant;

/// Steps timed per model (as in jax_step.py), after a tenth as many warm-up steps.
fn steps_for(model: &str) -> usize {
    if model == "mlp_s" { 2000 } else { 200 }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("step_time: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    poolgrad::link_plugins();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut reps = 1;
    let mut wanted: Vec<String> = MODELS.iter().map(|m| m.0.to_string()).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = |v: Option<&String>| v.cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--reps" => {
                let v = value(it.next())?;
                reps = v
                    .parse()
                    .ok()
                    .filter(|&r| r >= 1)
                    .ok_or(format!("--reps {v:?} refused; accepted: an integer >= 1"))?;
            }
            "--models" => wanted = value(it.next())?.split(',').map(str::to_string).collect(),
            _ => {
                return Err(format!(
                    "unknown argument {a:?}; accepted: --reps N, --models a,b"
                ));
            }
        }
    }
    let known: Vec<&str> = MODELS.iter().map(|m| m.0).collect();
    if let Some(bad) = wanted.iter().find(|w| !known.contains(&w.as_str())) {
        return Err(format!(
            "unknown model {bad:?}; accepted: {}",
            known.join(", ")
        ));
    }
    let s = poolgrad::kernels::settings().map_err(|e| e.to_string())?;
    println!(
        "poolgrad step_time: isa {}, kernel threads {}",
        s.isa,
        if s.parallel { s.threads } else { 1 }
    );
    for _ in 0..reps {
        for (name, sizes, batch) in MODELS.iter().filter(|m| wanted.iter().any(|w| w == m.0)) {
            let g = Graph::new().map_err(|e| e.to_string())?;
            let mut step = TrainStep::new(g, sizes, *batch);
            let steps = steps_for(name);
            for _ in 0..(steps / 10).max(10) {
                step.step();
            }
            let mut times: Vec<f64> = (0..steps)
                .map(|_| {
                    let t0 = Instant::now();
                    std::hint::black_box(step.step());
                    t0.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            times.sort_by(f64::total_cmp);
            let at = |q: usize| times[(times.len() * q / 10).min(times.len() - 1)];
            println!(
                "{name}: median {:.3} ms  (p10 {:.3}, p90 {:.3}; {steps} steps)",
                at(5),
                at(1),
                at(9)
            );
        }
    }
    Ok(())
}
