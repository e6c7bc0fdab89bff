//! `cargo bench --bench kernels`: every registered kernel on square sizes, ids
//! `matmul/<kernel>/<n>`, throughput in FLOP (2·n³) so criterion prints FLOP/s.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use poolgrad::kernels::{Accum, MatMut, MatRef, registry, settings};
use std::hint::black_box;

const SIZES: [usize; 6] = [32, 64, 128, 256, 512, 1024];

fn values(len: usize, seed: u32) -> Vec<f32> {
    (0..len)
        .map(|i| {
            ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0
        })
        .collect()
}

fn matmul(c: &mut Criterion) {
    poolgrad::link_plugins();
    let par = settings().expect("valid POOLGRAD_* environment").par();
    let mut group = c.benchmark_group("matmul");
    group.sample_size(10);
    for &n in &SIZES {
        let a = values(n * n, 1);
        let b = values(n * n, 2);
        let mut out = vec![0.0f32; n * n];
        group.throughput(Throughput::Elements(2 * (n as u64).pow(3)));
        for kernel in registry().iter() {
            if kernel.name() == "naive" && n > 512 {
                continue;
            }
            group.bench_with_input(BenchmarkId::new(kernel.name(), n), &n, |bench, &n| {
                let av = MatRef::row_major(&a, n, n).expect("sized above");
                let bv = MatRef::row_major(&b, n, n).expect("sized above");
                bench.iter(|| {
                    let cv = MatMut::row_major(&mut out, n, n).expect("sized above");
                    kernel.run(black_box(av), black_box(bv), cv, Accum::Replace, par);
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, matmul);
criterion_main!(benches);
