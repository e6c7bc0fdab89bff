//! Heap allocations per whole training step (forward, backward, optimizer, reset) of MLP-S
//! (784→256→10, ReLU, batch 64, softmax cross-entropy) under each built-in allocator,
//! counted by a counting global allocator: with `planner` (and `pool`) a steady step makes
//! none, with SGD + momentum and with Adam; with `system` every step makes exactly one per
//! intermediate gradient, as its `MemStats` say.
//!
//! The real `packed` kernel runs (forced, serial: `POOLGRAD_PAR=0`, so no helper task is
//! spawned); its packing buffers are per thread and reused. Own test binary: the counting
//! allocator is process-wide, and the environment is set before any graph exists.

use poolgrad_core::{Graph, Tensor, nn, optim};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static COUNT: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Only the test's own thread is counted (the harness has threads of its own).
    static ON: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if ON.try_with(Cell::get).unwrap_or(false) {
        COUNT.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds `GlobalAlloc`'s
// contract; counting only reads a const-initialised thread-local and bumps an atomic,
// neither of which allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same layout contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same layout contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap allocations made by `f` on this thread.
fn allocations_in<T>(f: impl FnOnce() -> T) -> (u64, T) {
    let before = COUNT.load(Ordering::Relaxed);
    ON.with(|on| on.set(true));
    let out = f();
    ON.with(|on| on.set(false));
    (COUNT.load(Ordering::Relaxed) - before, out)
}

enum Opt {
    Sgd(optim::Sgd),
    Adam(optim::Adam),
}

/// Per-step heap allocations of `steps` training steps, and per-step allocator
/// allocations (`MemStats::allocations` deltas).
fn run(allocator: &str, mut opt: Opt, steps: usize) -> (Vec<u64>, Vec<u64>) {
    let mut g = Graph::with_allocator(allocator).unwrap();
    let mlp = nn::Mlp::new(&mut g, &[784, 256, 10], nn::Activation::Relu, 1).unwrap();
    let x = Tensor::randn(&[64, 784], 2).unwrap().into_vec();
    let labels: Vec<usize> = (0..64).map(|i| (i * 7 + 3) % 10).collect();
    let (mut heap, mut grad) = (Vec::new(), Vec::new());
    let mut losses = Vec::new();
    for _ in 0..steps {
        let before = g.mem_stats().grad.allocations;
        let (n, loss) = allocations_in(|| {
            let xv = g.constant_from_slice(&x, &[64, 784]).unwrap();
            let logits = mlp.forward(&mut g, xv).unwrap();
            let loss = g.softmax_cross_entropy(logits, &labels).unwrap();
            let value = g.value(loss).unwrap().data()[0];
            g.backward(loss).unwrap();
            match &mut opt {
                Opt::Sgd(o) => o.step(&mut g).unwrap(),
                Opt::Adam(o) => o.step(&mut g).unwrap(),
            }
            g.reset();
            value
        });
        heap.push(n);
        grad.push(g.mem_stats().grad.allocations - before);
        losses.push(loss);
    }
    assert!(
        losses.last() < losses.first(),
        "{allocator}: training makes progress {losses:?}"
    );
    (heap, grad)
}

#[test]
fn steady_training_steps_allocate_nothing_with_planner() {
    // SAFETY: the only test in this binary, before any graph or kernel reads the environment.
    unsafe {
        std::env::set_var("POOLGRAD_FORCE_KERNEL", "packed");
        std::env::set_var("POOLGRAD_PAR", "0");
        std::env::set_var("POOLGRAD_AUTOTUNE", "off");
    }
    const STEPS: usize = 6;
    let mut report = Vec::new();
    for allocator in ["system", "pool", "planner"] {
        for (name, opt) in [
            (
                "sgd+momentum",
                Opt::Sgd(optim::Sgd::new(0.05).momentum(0.9)),
            ),
            ("adam", Opt::Adam(optim::Adam::new(0.001))),
        ] {
            let (heap, grad) = run(allocator, opt, STEPS);
            report.push(format!(
                "{allocator:<8} {name:<13} heap allocations per step {heap:?} (allocator's: {grad:?})"
            ));
            let steady = &heap[2..];
            match allocator {
                "planner" | "pool" => {
                    assert!(
                        steady.iter().all(|&n| n == 0),
                        "{allocator} {name}: {heap:?}"
                    );
                    assert!(grad[2..].iter().all(|&n| n == 0), "{grad:?}");
                }
                _ => {
                    // Nothing but the allocator's own calls, one per intermediate gradient.
                    assert!(steady.iter().all(|&n| n > 0), "{heap:?}");
                    assert_eq!(steady, &grad[2..], "system: heap = MemStats allocations");
                }
            }
        }
    }
    println!("MLP-S training step (forward + backward + optimizer + reset), packed serial:");
    for line in report {
        println!("  {line}");
    }
}
