//! A training loop of 10,000 tiny steps with `reset` between steps does not grow: the
//! tape and buffer sizes return to the same values every step, and a counting global
//! allocator sees no allocation at all in 10,000 steady steps (forward, backward,
//! optimizer). (Own test binary, because the counting allocator is process-wide.)
//!
//! The matmul kernel is pinned to `naive` (no scratch): kernels' own packing buffers are
//! theirs to account for (TempBytes); this test is about what the autograd engine does.

use poolgrad_core::{Graph, Tensor, nn, optim};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

struct Counting;

thread_local! {
    /// Only the test's own thread is counted (the harness has threads of its own).
    static COUNTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn counted() -> bool {
    COUNTED.try_with(|c| c.get()).unwrap_or(false)
}

static LIVE: AtomicIsize = AtomicIsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counted() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if counted() {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counted() {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn ten_thousand_steps_do_not_grow() {
    // SAFETY: the only test in this binary; no other thread reads the environment yet.
    unsafe { std::env::set_var("POOLGRAD_FORCE_KERNEL", "naive") };
    COUNTED.with(|c| c.set(true));
    let mut g = Graph::new().unwrap();
    let mlp = nn::Mlp::new(&mut g, &[4, 8, 3], nn::Activation::Tanh, 7).unwrap();
    let target_w = g.param(Tensor::randn(&[3], 3).unwrap());
    let mut opt = optim::Sgd::new(0.05).momentum(0.9);
    let x_data = Tensor::randn(&[5, 4], 1).unwrap().into_vec();
    let y_data = Tensor::randn(&[5, 3], 2).unwrap().into_vec();
    let labels = [0usize, 2, 1, 1, 0];

    let mut step = |g: &mut Graph| -> (usize, usize, f32) {
        let x = g.constant_from_slice(&x_data, &[5, 4]).unwrap();
        let y = g.constant_from_slice(&y_data, &[5, 3]).unwrap();
        let logits = mlp.forward(g, x).unwrap();
        let ce = g.softmax_cross_entropy(logits, &labels).unwrap();
        let scaled = g.mul(logits, target_w).unwrap();
        let mse = g.mse_loss(scaled, y).unwrap();
        let loss = g.add(ce, mse).unwrap();
        let value = g.value(loss).unwrap().item().unwrap();
        g.backward(loss).unwrap();
        opt.step(g).unwrap();
        let tape = g.tape_len();
        let act = g.activation_bytes();
        g.reset();
        (tape, act, value)
    };

    let mut first_loss = 0.0;
    for i in 0..10 {
        let (_, _, l) = step(&mut g);
        if i == 0 {
            first_loss = l;
        }
    }
    let shape = step(&mut g);
    let pooled = g.pooled_value_bytes();
    let store = g.grad_store().stats();
    let live_after_warmup = LIVE.load(Ordering::Relaxed);
    let allocs_before = ALLOCS.load(Ordering::Relaxed);
    let mut last_loss = 0.0;
    for _ in 0..10_000 {
        let (tape, act, l) = step(&mut g);
        assert_eq!(
            (tape, act),
            (shape.0, shape.1),
            "tape and activations same each step"
        );
        assert_eq!(g.tape_len(), 0);
        assert_eq!(g.pooled_value_bytes(), pooled, "value free list stable");
        let s = g.grad_store().stats();
        assert_eq!(
            (s.live_bytes, s.reserved_bytes),
            (store.live_bytes, store.reserved_bytes)
        );
        last_loss = l;
    }
    let allocs = ALLOCS.load(Ordering::Relaxed) - allocs_before;
    let growth = LIVE.load(Ordering::Relaxed) - live_after_warmup;
    assert_eq!(growth, 0, "heap grew by {growth} bytes");
    assert_eq!(
        allocs, 0,
        "a steady step allocates nothing ({allocs} allocations in 10,000 steps)"
    );
    assert_eq!(g.grad_store().stats().allocations, store.allocations);
    assert!(
        last_loss < first_loss,
        "training made progress: {first_loss} -> {last_loss}"
    );
}
