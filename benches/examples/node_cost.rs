//! Per-node autograd cost of the `tiny_ops` tape (see the `autograd` bench) outside
//! criterion, so that an instruction counter can run it: prints the wall time per node of
//! `--steps` forward + backward + reset steps (forward + reset only with `--forward-only`),
//! after one warm-up step.
//!
//! ```text
//! cargo build --release -p poolgrad-benches --example node_cost
//! POOLGRAD_PAR=0 target/release/examples/node_cost [--steps N] [--forward-only]
//! ```
//! Instructions per node, repeatable on a busy host: run it under
//! `valgrind --tool=callgrind` with `--steps 100` and `--steps 400`; the difference of the
//! two totals divided by 300 steps × 1000 nodes leaves start-up out.

use poolgrad_benches::TinyOps;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let mut steps = 20_000usize;
    let mut forward_only = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--forward-only" => forward_only = true,
            "--steps" => match args.next().map(|v| v.parse::<usize>()) {
                Some(Ok(n)) if n >= 1 => steps = n,
                _ => {
                    eprintln!("node_cost: --steps needs an integer >= 1");
                    return ExitCode::FAILURE;
                }
            },
            other => {
                eprintln!(
                    "node_cost: unknown argument {other:?}; accepted: --steps N, --forward-only"
                );
                return ExitCode::FAILURE;
            }
        }
    }
    let mut tape = match TinyOps::new() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("node_cost: {e}");
            return ExitCode::FAILURE;
        }
    };
    let start = Instant::now();
    for _ in 0..steps {
        let step = if forward_only {
            tape.forward()
        } else {
            tape.forward_backward()
        };
        if let Err(e) = step.map(black_box) {
            eprintln!("node_cost: {e}");
            return ExitCode::FAILURE;
        }
    }
    let per_node = start.elapsed().as_secs_f64() * 1e9 / (steps as f64 * TinyOps::NODES as f64);
    let what = if forward_only {
        "forward + reset"
    } else {
        "forward + backward + reset"
    };
    println!(
        "{per_node:.1} ns per node ({what}, {steps} steps of {} nodes)",
        TinyOps::NODES
    );
    ExitCode::SUCCESS
}
