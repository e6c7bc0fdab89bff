//! `cargo bench --bench scheduler`: the cost of a cached lookup (`Scheduler::choose` on a
//! calibrated shape; target < 100 ns), next to a forced kernel, an `off`-mode hint choice and
//! the bucket computation alone.

use criterion::{Criterion, criterion_group, criterion_main};
use poolgrad::kernels::{Layout, Problem, registry};
use poolgrad::scheduler::{Effort, Mode, Scheduler, SchedulerConfig, ShapeKey};
use std::hint::black_box;
use std::time::Duration;

/// An in-memory scheduler (no cache file) over the registry, with a tiny calibration budget.
fn scheduler(mode: Mode, forced: Option<&str>) -> Scheduler {
    let mut config = SchedulerConfig::new(mode).expect("valid POOLGRAD_* environment");
    config.forced = forced.map(str::to_string);
    config.effort = Effort {
        budget: Duration::from_millis(1),
        ..Effort::quick()
    };
    Scheduler::with_config(config).expect("registered kernels")
}

fn lookup(c: &mut Criterion) {
    poolgrad::link_plugins();
    // A backward-pass product: dW = Xᵀ·dY of the 784→256 layer at batch 64.
    let problem = Problem {
        a: Layout::ColMajor,
        ..Problem::new(784, 256, 64)
    };
    let mut group = c.benchmark_group("scheduler");
    group.sample_size(50);

    let cached = scheduler(Mode::Cached, None);
    cached.calibrate(&problem).expect("a kernel supports it");
    group.bench_function("choose/cached", |b| {
        b.iter(|| cached.choose(black_box(&problem)).expect("cached"))
    });
    let other = Problem::new(64, 256, 784); // a different bucket, also cached
    cached.calibrate(&other).expect("a kernel supports it");
    let pair = [problem, other];
    group.bench_function("choose/cached-alternating", |b| {
        let mut i = 0;
        b.iter(|| {
            i ^= 1;
            cached.choose(black_box(&pair[i])).expect("cached")
        })
    });

    let first = registry().names()[0];
    let forced = scheduler(Mode::Cached, Some(first));
    group.bench_function("choose/forced", |b| {
        b.iter(|| forced.choose(black_box(&problem)).expect("forced"))
    });

    let off = scheduler(Mode::Off, None);
    group.bench_function("choose/off-hint-memoized", |b| {
        b.iter(|| off.choose(black_box(&problem)).expect("a hint"))
    });

    group.bench_function("key", |b| {
        b.iter(|| ShapeKey::of(black_box(&problem), black_box(2)))
    });
    group.finish();
}

criterion_group!(benches, lookup);
criterion_main!(benches);
