//! poolgrad's training step timed the way `benches/reference/jax_step.py` times JAX's, so
//! the two can be run alternately and compared line by line: median, p10 and p90 wall time
//! of one step (forward, softmax cross-entropy, backward, SGD) over many steps after
//! warm-up, for MLP-S and MLP-M. With `--phases`, also the median and p10 of each phase
//! (forward + loss, backward, SGD + reset), to see which one a change or a second thread
//! moves. With `--compare-fusion`, the step as `Mlp::forward` records it (matmul, then
//! `bias_act`) and the unfused one (matmul, `add`, activation) alternate step by step in
//! this process, and both medians are printed with their ratio.
//!
//! ```text
//! cargo run --release -p poolgrad-benches --example step_time -- [--reps N] [--models mlp_s,mlp_m] [--phases | --compare-fusion]
//! POOLGRAD_PAR=0 taskset -c 0 cargo run --release -p poolgrad-benches --example step_time
//! ```
//! Threads follow the usual settings (`POOLGRAD_PAR`, `POOLGRAD_THREADS`); the first line
//! says which applied.

use poolgrad::prelude::*;
use poolgrad_benches::{MODELS, Phase, TrainStep};
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
    let mut phases = false;
    let mut compare_fusion = false;
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
            "--phases" => phases = true,
            "--compare-fusion" => compare_fusion = true,
            _ => {
                return Err(format!(
                    "unknown argument {a:?}; accepted: --reps N, --models a,b, --phases, \
                     --compare-fusion"
                ));
            }
        }
    }
    if phases && compare_fusion {
        return Err("--phases and --compare-fusion do not combine; accepted: one of them".into());
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
            let steps = steps_for(name);
            if compare_fusion {
                compare(name, sizes, *batch, steps)?;
                continue;
            }
            let g = Graph::new().map_err(|e| e.to_string())?;
            let mut step = TrainStep::new(g, sizes, *batch);
            for _ in 0..(steps / 10).max(10) {
                step.step();
            }
            // Per step: the whole step, then each phase (ms).
            let mut times: [Vec<f64>; 4] = Default::default();
            for _ in 0..steps {
                let t0 = Instant::now();
                let mut last = t0;
                let mut split = [0.0; 3];
                std::hint::black_box(step.step_phases(|phase| {
                    let now = Instant::now();
                    let slot = match phase {
                        Phase::Forward => 0,
                        Phase::Backward => 1,
                        Phase::Update => 2,
                    };
                    split[slot] = (now - last).as_secs_f64() * 1e3;
                    last = now;
                }));
                times[0].push(t0.elapsed().as_secs_f64() * 1e3);
                for (t, v) in times[1..].iter_mut().zip(split) {
                    t.push(v);
                }
            }
            for t in &mut times {
                t.sort_by(f64::total_cmp);
            }
            let at = |t: &[f64], q: usize| t[(t.len() * q / 10).min(t.len() - 1)];
            let all = &times[0];
            println!(
                "{name}: median {:.3} ms  (p10 {:.3}, p90 {:.3}; {steps} steps)",
                at(all, 5),
                at(all, 1),
                at(all, 9)
            );
            if phases {
                let names = ["forward+loss", "backward", "sgd+reset"];
                let parts: Vec<String> = names
                    .iter()
                    .zip(&times[1..])
                    .map(|(n, t)| format!("{n} {:.3} (p10 {:.3})", at(t, 5), at(t, 1)))
                    .collect();
                println!("  {name} phases, median ms: {}", parts.join(", "));
            }
        }
    }
    Ok(())
}

/// Fused and unfused steps of one model alternating (which goes first swaps every step);
/// prints both medians and unfused ÷ fused.
fn compare(name: &str, sizes: &[usize], batch: usize, steps: usize) -> Result<(), String> {
    let graph = || Graph::new().map_err(|e| e.to_string());
    let mut runs = [
        TrainStep::new(graph()?, sizes, batch),
        TrainStep::unfused(graph()?, sizes, batch),
    ];
    for run in &mut runs {
        for _ in 0..(steps / 10).max(10) {
            run.step();
        }
    }
    let mut times: [Vec<f64>; 2] = Default::default();
    for s in 0..steps {
        for i in [s % 2, 1 - s % 2] {
            let t0 = Instant::now();
            std::hint::black_box(runs[i].step());
            times[i].push(t0.elapsed().as_secs_f64() * 1e3);
        }
    }
    let [fused, unfused] = times.map(|mut t| {
        t.sort_by(f64::total_cmp);
        t[t.len() / 2]
    });
    println!(
        "{name}: fused (matmul, bias_act) median {fused:.3} ms, unfused (matmul, add, \
         activation) {unfused:.3} ms; unfused ÷ fused {:.3} ({steps} steps each)",
        unfused / fused
    );
    Ok(())
}
