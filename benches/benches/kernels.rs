//! `cargo bench --bench kernels`: every registered kernel (built-ins and plugins) on
//!
//! - `matmul/<kernel>/<n>`: square row-major n = 32, 64, …, 1024;
//! - `mlp/<kernel>/<m>x<n>x<k>:<abc>`: every product of the MLPs 784→256→10 at batch 64
//!   and 784→1024→1024→10 at batch 256 (forward `X·W`, weight gradient `Xᵀ·dY` with a
//!   transposed A, input gradient `dY·Wᵀ` with a transposed B), the shapes the scheduler
//!   calibrates and the training loop runs.
//!
//! - `issue7/<kernel>/<m>x<n>x<k>:<abc>`: the shape table of issue 7 (square 32…2048, the MLP
//!   shapes 64×784·784×256, 256×784·784×512, 256×512·512×512, 512×1024·1024×1024, tall
//!   4096×64·64×64, and the backward-shaped Aᵀ·B with A 256×784, B 256×512). With
//!   `--features anchors` (and `openblas`) the anchor kernels `anchors.*` run beside
//!   poolgrad's: `cargo bench -p poolgrad-benches --features anchors --bench kernels -- issue7`.
//!
//! - `skinny/<kernel>/<m>x<n>x<k>:rrr`: small and skinny row-major problems (one or a few
//!   rows, columns or inner products), where packing costs more than it saves and
//!   `plugins.small` competes.
//!
//! Throughput is `2·m·n·k` elements, so criterion's "elem/s" reads as FLOP/s. A kernel is
//! skipped where it does not support the problem (`plugins.small` on big squares), and
//! `naive` above 2·512³ FLOP (one run takes seconds; criterion needs at least 10). The
//! parallelism is the environment's (`POOLGRAD_PAR`, `POOLGRAD_THREADS`); set
//! `POOLGRAD_PAR=0` for one-core figures. Sample counts and times are kept small so the
//! whole bench takes a few minutes on 2 cores.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use poolgrad::kernels::{Accum, MatMut, MatRef, Par, Problem, registry, settings};
use std::hint::black_box;
use std::time::Duration;

/// `naive` runs only up to this many FLOP per call.
const NAIVE_MAX: f64 = 2.0 * 512.0 * 512.0 * 512.0;

const SIZES: [usize; 6] = [32, 64, 128, 256, 512, 1024];

/// Small and skinny `(m, n, k)`.
const SKINNY: [(usize, usize, usize); 9] = [
    (8, 8, 8),
    (32, 32, 32),
    (48, 48, 48),
    (1, 1024, 1024),
    (4, 512, 512),
    (16, 1024, 256),
    (512, 8, 512),
    (1024, 1024, 4),
    (256, 256, 16),
];

/// Issue 7's table: `(m, n, k, A transposed)`; the last is `Aᵀ·B` with A 256×784.
const ISSUE7: [(usize, usize, usize, bool); 14] = [
    (32, 32, 32, false),
    (64, 64, 64, false),
    (96, 96, 96, false),
    (128, 128, 128, false),
    (256, 256, 256, false),
    (512, 512, 512, false),
    (1024, 1024, 1024, false),
    (2048, 2048, 2048, false),
    (64, 256, 784, false),
    (256, 512, 784, false),
    (256, 512, 512, false),
    (512, 1024, 1024, false),
    (4096, 64, 64, false),
    (784, 512, 256, true),
];

/// `(batch, layer widths)` of the two MLPs.
const MLPS: [(usize, &[usize]); 2] = [(64, &[784, 256, 10]), (256, &[784, 1024, 1024, 10])];

fn values(len: usize, seed: u32) -> Vec<f32> {
    (0..len)
        .map(|i| {
            ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0
        })
        .collect()
}

/// One benchmarked product: dimensions and whether A / B are transposed views.
#[derive(Clone, Copy, Debug)]
struct Shape {
    m: usize,
    n: usize,
    k: usize,
    a_t: bool,
    b_t: bool,
}

impl Shape {
    fn id(&self) -> String {
        let code = |t: bool| if t { 'c' } else { 'r' };
        format!(
            "{}x{}x{}:{}{}r",
            self.m,
            self.n,
            self.k,
            code(self.a_t),
            code(self.b_t)
        )
    }
}

/// Forward, weight gradient and input gradient of every layer of both MLPs.
fn mlp_shapes() -> Vec<Shape> {
    let mut out = Vec::new();
    for (batch, widths) in MLPS {
        for pair in widths.windows(2) {
            let (inp, outp) = (pair[0], pair[1]);
            let layer = [
                (batch, outp, inp, false, false), // Y = X·W
                (inp, outp, batch, true, false),  // dW = Xᵀ·dY
                (batch, inp, outp, false, true),  // dX = dY·Wᵀ
            ];
            for (m, n, k, a_t, b_t) in layer {
                out.push(Shape { m, n, k, a_t, b_t });
            }
        }
    }
    out
}

/// Benchmarks every supporting kernel on one shape inside `group`.
fn bench_shape(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    shape: Shape,
    param: String,
    par: Par,
) {
    let Shape { m, n, k, a_t, b_t } = shape;
    let a = values(m * k, 1);
    let b = values(k * n, 2);
    let mut out = vec![0.0f32; m * n];
    // A transposed operand is stored as its transpose, row-major, and viewed with `.t()`.
    let av = if a_t {
        MatRef::row_major(&a, k, m).expect("sized above").t()
    } else {
        MatRef::row_major(&a, m, k).expect("sized above")
    };
    let bv = if b_t {
        MatRef::row_major(&b, n, k).expect("sized above").t()
    } else {
        MatRef::row_major(&b, k, n).expect("sized above")
    };
    let problem = Problem::of(&av, &bv, &MatMut::row_major(&mut out, m, n).expect("sized"));
    group.throughput(Throughput::Elements(2 * (m * n * k) as u64));
    for kernel in registry().iter() {
        if !kernel.supports(&problem) || (kernel.name() == "naive" && problem.flops() > NAIVE_MAX) {
            continue;
        }
        group.bench_with_input(BenchmarkId::new(kernel.name(), &param), &(), |bench, _| {
            bench.iter(|| {
                let cv = MatMut::row_major(&mut out, m, n).expect("sized above");
                kernel
                    .matmul_with(black_box(av), black_box(bv), cv, Accum::Replace, par)
                    .expect("checked shapes");
            });
        });
    }
}

fn par() -> Par {
    poolgrad::link_plugins();
    settings().expect("valid POOLGRAD_* environment").par()
}

fn matmul(c: &mut Criterion) {
    let par = par();
    let mut group = c.benchmark_group("matmul");
    for n in SIZES {
        let shape = Shape {
            m: n,
            n,
            k: n,
            a_t: false,
            b_t: false,
        };
        bench_shape(&mut group, shape, n.to_string(), par);
    }
    group.finish();
}

fn mlp(c: &mut Criterion) {
    let par = par();
    let mut group = c.benchmark_group("mlp");
    for shape in mlp_shapes() {
        bench_shape(&mut group, shape, shape.id(), par);
    }
    group.finish();
}

fn issue7(c: &mut Criterion) {
    let par = par();
    for note in poolgrad::plugins::anchor_notes() {
        eprintln!("{note}");
    }
    let mut group = c.benchmark_group("issue7");
    for (m, n, k, a_t) in ISSUE7 {
        let shape = Shape {
            m,
            n,
            k,
            a_t,
            b_t: false,
        };
        bench_shape(&mut group, shape, shape.id(), par);
    }
    group.finish();
}

fn skinny(c: &mut Criterion) {
    let par = par();
    let mut group = c.benchmark_group("skinny");
    for (m, n, k) in SKINNY {
        let shape = Shape {
            m,
            n,
            k,
            a_t: false,
            b_t: false,
        };
        bench_shape(&mut group, shape, shape.id(), par);
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1000))
}

criterion_group! {
    name = benches;
    config = config();
    targets = matmul, mlp, issue7, skinny
}
criterion_main!(benches);
