//! `cargo bench --bench autograd`: one training step (forward + backward + SGD, then
//! `reset`) of MLP-S (784→256→10, ReLU, batch 64) and MLP-M (784→1024→1024→10, ReLU,
//! batch 256) with softmax cross-entropy, plus the per-node overhead of a tape of tiny ops.
//!
//! Run single-threaded to compare with the one-thread figures:
//! `POOLGRAD_PAR=0 RAYON_NUM_THREADS=1 cargo bench --bench autograd`.
//! The `tiny_ops` group's throughput is nodes, so criterion's time / 1000 is the per-node
//! cost (target < 200 ns).
//!
//! The same steps in JAX (jit, one thread) for a side-by-side run on the same host:
//! `benches/reference/jax_step.py` (its docstring has the command and measured figures).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use poolgrad::prelude::*;
use poolgrad_benches::{MODELS, TinyOps, TrainStep};
use std::hint::black_box;

fn training_step(c: &mut Criterion) {
    poolgrad::link_plugins();
    let mut group = c.benchmark_group("train_step");
    group.sample_size(10);
    for (name, sizes, batch) in MODELS {
        let mut s = TrainStep::new(
            Graph::new().expect("valid POOLGRAD_* environment"),
            sizes,
            batch,
        );
        group.bench_function(BenchmarkId::new(name, batch), |b| {
            s.step(); // warm the free lists (inside, so a filtered-out run skips it)
            b.iter(|| black_box(s.step()))
        });
    }
    group.finish();
}

/// The [`TinyOps`] tape (1000 element-wise ops on 1-element tensors), forward only and
/// forward + backward + reset.
fn tiny_ops(c: &mut Criterion) {
    let mut group = c.benchmark_group("tiny_ops");
    group.throughput(Throughput::Elements(TinyOps::NODES));
    let mut t = TinyOps::new().expect("valid POOLGRAD_* environment");
    group.bench_function("forward_1000_nodes", |bench| {
        bench.iter(|| black_box(t.forward().expect("tiny ops")))
    });
    group.bench_function("forward_backward_1000_nodes", |bench| {
        bench.iter(|| black_box(t.forward_backward().expect("tiny ops")))
    });
    group.finish();
}

criterion_group!(benches, training_step, tiny_ops);
criterion_main!(benches);
