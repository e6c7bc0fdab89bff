//! Counts heap allocations (a counting global allocator) over whole simulated backward steps
//! of MLP-M: with `planner` a steady step makes none — liveness building, plan lookup,
//! allocate, split_mut, release and end_step included. `pool` and `system` are reported.
//!
//! This test binary holds the only `unsafe` of the crate's tests: a `GlobalAlloc` must be
//! an `unsafe impl`.

mod common;

use common::{Tape, lean_step as step};
use poolgrad_memory::{BUILTIN_ORDER, LivenessBuilder, create};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static COUNT: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static ON: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if ON.with(Cell::get) {
        COUNT.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds `GlobalAlloc`'s
// contract; the counter only reads a const-initialised thread-local and an atomic.
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
fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = COUNT.load(Ordering::Relaxed);
    ON.with(|on| on.set(true));
    f();
    ON.with(|on| on.set(false));
    COUNT.load(Ordering::Relaxed) - before
}

#[test]
fn planner_steady_backward_makes_no_heap_allocation() {
    let tape = Tape::mlp(&[784, 1024, 1024, 10], 256);
    let has = tape.has_grad();
    let mut report = Vec::new();
    for name in BUILTIN_ORDER {
        let mut alloc = create(name).unwrap();
        let mut builder = LivenessBuilder::new();
        let mut bufs = vec![None; tape.nodes.len()];
        let mut grads: Vec<Vec<f32>> = tape.nodes.iter().map(|n| vec![0.0; n.numel]).collect();
        let counts: Vec<u64> = (0..4)
            .map(|_| {
                allocations_in(|| {
                    step(
                        alloc.as_mut(),
                        &tape,
                        &has,
                        &mut builder,
                        &mut bufs,
                        &mut grads,
                    )
                })
            })
            .collect();
        report.push(format!("{name}: heap allocations per step {counts:?}"));
        match name {
            "planner" | "pool" => assert_eq!(&counts[2..], &[0, 0], "{name}: {counts:?}"),
            // One heap allocation per gradient, exactly what MemStats counts.
            _ => assert_eq!(counts[2], tape.liveness().len() as u64, "{counts:?}"),
        }
    }
    println!("MLP-M simulated backward:\n  {}", report.join("\n  "));
}
