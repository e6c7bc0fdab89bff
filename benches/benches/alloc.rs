//! `cargo bench --bench alloc`: one training step (forward + backward + SGD, then `reset`)
//! of MLP-S (784→256→10, ReLU, batch 64) and MLP-M (784→1024→1024→10, ReLU, batch 256) with
//! softmax cross-entropy, under each built-in gradient allocator (`system`, `pool`,
//! `planner`).
//!
//! Before criterion's timings, a summary per model and allocator goes to stderr: peak
//! reserved / lower bound of the intermediate gradients, and allocator calls into the
//! system allocator and reuses per steady step, against the targets (planner ≤ 1.05 × the
//! bound with 0 allocations per steady step, pool ≤ 1.3 ×). Compare the times with
//! `system` (target: no allocator slower).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use poolgrad::memory::BUILTIN_ORDER;
use poolgrad::prelude::*;
use poolgrad_benches::{MODELS, TrainStep};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Steady rounds of the summary per model (after 2 warm-up steps); allocators take turns
/// each round, so a busy machine slows them alike.
const SUMMARY_ROUNDS: [usize; 2] = [60, 12];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Prints the memory summary of every model and allocator to stderr, with interleaved
/// step medians (criterion runs the allocators one after the other).
fn summary() {
    eprintln!("alloc bench summary (intermediate gradients; steady steps after 2 warm-up):");
    eprintln!(
        "  {:<6} {:<8} {:>13} {:>12} {:>7} {:>11} {:>11} {:>9} {:>9}  target",
        "model",
        "alloc",
        "peak reserved",
        "lower bound",
        "ratio",
        "allocs/step",
        "reuses/step",
        "median ms",
        "vs system"
    );
    for ((name, sizes, batch), rounds) in MODELS.into_iter().zip(SUMMARY_ROUNDS) {
        let mut setups: Vec<TrainStep> = BUILTIN_ORDER
            .iter()
            .map(|a| {
                TrainStep::new(
                    Graph::with_allocator(a).expect("a built-in allocator"),
                    sizes,
                    batch,
                )
            })
            .collect();
        let mut before = Vec::new();
        for s in &mut setups {
            s.step();
            s.step();
            before.push(s.g.mem_stats().grad);
        }
        let mut times = vec![Vec::new(); setups.len()];
        for _ in 0..rounds {
            for (s, t) in setups.iter_mut().zip(&mut times) {
                let start = Instant::now();
                black_box(s.step());
                t.push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
        let medians: Vec<f64> = times.into_iter().map(median).collect();
        for (i, allocator) in BUILTIN_ORDER.iter().enumerate() {
            let after = setups[i].g.mem_stats().grad;
            let steady = rounds as f64;
            let allocs = (after.allocations - before[i].allocations) as f64 / steady;
            let reuses = (after.reuses - before[i].reuses) as f64 / steady;
            let ratio = after.reserved_over_lower_bound().unwrap_or(f64::NAN);
            let target = match *allocator {
                "planner" if ratio <= 1.05 && allocs == 0.0 => "ok (<= 1.05, 0 allocs)",
                "planner" => "MISSED (<= 1.05, 0 allocs)",
                "pool" if ratio <= 1.3 => "ok (<= 1.3)",
                "pool" => "MISSED (<= 1.3)",
                _ => "baseline",
            };
            eprintln!(
                "  {:<6} {:<8} {:>13} {:>12} {:>7.3} {:>11.1} {:>11.1} {:>9.3} {:>9.3}  {target}",
                name,
                allocator,
                after.peak_reserved_bytes,
                after.lower_bound_bytes,
                ratio,
                allocs,
                reuses,
                medians[i],
                medians[i] / medians[0]
            );
        }
    }
}

fn alloc_step(c: &mut Criterion) {
    poolgrad::link_plugins();
    summary();
    for (name, sizes, batch) in MODELS {
        let mut group = c.benchmark_group(format!("alloc_step/{name}"));
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(3));
        for allocator in BUILTIN_ORDER {
            let mut s = TrainStep::new(
                Graph::with_allocator(allocator).expect("a built-in allocator"),
                sizes,
                batch,
            );
            group.bench_function(BenchmarkId::new(allocator, batch), |b| {
                s.step(); // warm the buffers (inside, so a filtered-out run skips it)
                b.iter(|| black_box(s.step()))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, alloc_step);
criterion_main!(benches);
