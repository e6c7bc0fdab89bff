//! Thread policy: how many threads a product gets (serial below a work threshold), and how
//! its parts run: on the calling thread plus a lazily built pool of helper threads.

use once_cell::sync::Lazy;
use rayon::{ThreadPool, ThreadPoolBuilder};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Work per thread: a product gets at most `m·n·k / PAR_WORK_PER_THREAD` threads, so
/// below `2·PAR_WORK_PER_THREAD` (≈ 128³) it stays on the calling thread. With the spinning
/// join and warm helpers of [`run_parts`], two threads measured 1.31–1.69× at 128³,
/// 1.44–1.57× at 144³, 1.02–1.66× at 64×256·128 on the Zen 5 host (three runs); at 96³
/// (0.88 Mi) 0.98–1.48× and at 64³ about 1.1×, so those stay serial.
const PAR_WORK_PER_THREAD: usize = 1 << 20;

/// Threads to use for an `m×n×k` product when `allowed` are available.
pub fn threads_for(m: usize, n: usize, k: usize, allowed: usize) -> usize {
    let work = m.saturating_mul(n).saturating_mul(k);
    if allowed <= 1 || work < 2 * PAR_WORK_PER_THREAD {
        1
    } else {
        allowed.min(work / PAR_WORK_PER_THREAD).max(1)
    }
}

/// Helper pools by size, built on first use and kept for the process.
static POOLS: Lazy<Mutex<Vec<(usize, &'static ThreadPool)>>> = Lazy::new(Mutex::default);

/// A pool of `size` helper threads, or `None` (with a warning) where one cannot be built.
fn helpers(size: usize) -> Option<&'static ThreadPool> {
    let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&(_, pool)) = pools.iter().find(|(n, _)| *n == size) {
        return Some(pool);
    }
    match ThreadPoolBuilder::new()
        .num_threads(size)
        .thread_name(move |i| format!("poolgrad-helper-{i}-of-{size}"))
        .build()
    {
        Ok(pool) => {
            let pool: &'static ThreadPool = Box::leak(Box::new(pool));
            pools.push((size, pool));
            Some(pool)
        }
        Err(e) => {
            log::warn!("cannot build a pool of {size} helper threads ({e}); running serially");
            None
        }
    }
}

/// Runs `f(0)`, …, `f(parts − 1)` on `threads` threads: the calling thread and
/// `threads − 1` helpers, each part claimed once from a shared counter.
///
/// The caller starts on the first part at once and keeps claiming; a helper joins when it
/// wakes, so a late helper takes fewer parts instead of delaying them. A rayon parallel
/// iterator called from outside its pool instead hands every part to the pool's workers
/// and puts the caller to sleep until they finish (a third thread on two cores, and the
/// caller's wake-up on the critical path: 7–36 µs per fork/join measured on the two-vCPU
/// Xeon host of PERFORMANCE.md). When its parts run out the caller spins (up to
/// [`JOIN_SPIN`]) until the helpers finish instead of sleeping in the scope's wait, whose
/// wake-up would again be on the critical path: on the two-vCPU Zen 5 host, two parts of
/// 50 µs each back to back took 94 µs (median) with the caller asleep and 51 µs spinning;
/// 20 µs parts 42 → 21 µs. After the call, each helper stays awake (up to [`KEEP_WARM`],
/// yielding) until the next call starts: with 100 µs between calls, the helper started
/// its part 29–45 µs late when asleep and about 1 µs late kept warm, so two 50 µs parts
/// took 83 → 51 µs (`benches/examples/fork_join.rs` prints these figures).
///
/// Spinning costs the helper's core up to [`KEEP_WARM`] of CPU after each parallel call,
/// and both waits yield their core after 50 µs so that a busy machine's other threads
/// still run.
pub fn run_parts(threads: usize, parts: usize, f: impl Fn(usize) + Sync) {
    let pool = if threads > 1 && parts > 1 {
        helpers(threads.min(parts) - 1)
    } else {
        None
    };
    let Some(pool) = pool else {
        (0..parts).for_each(f);
        return;
    };
    let next = AtomicUsize::new(0);
    let helpers_done = AtomicUsize::new(0);
    let claim = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= parts {
                break;
            }
            f(i);
        }
    };
    let spawned = threads.min(parts) - 1;
    // Called from one of the pool's own threads (a part that forks again), the helper jobs
    // may sit in this thread's own queue until the scope's wait runs them: no spinning for
    // them, and no keep-warm jobs behind them.
    let nested = pool.current_thread_index().is_some();
    // Ends the helpers' keep-warm spins (below) so they take this call's parts at once.
    let epoch = FORK_EPOCH.fetch_add(1, Ordering::AcqRel) + 1;
    pool.in_place_scope(|s| {
        for _ in 0..spawned {
            s.spawn(|_| {
                claim();
                helpers_done.fetch_add(1, Ordering::Release);
            });
        }
        claim();
        // Spin for the helpers rather than sleep in the scope's wait (see above).
        let start = Instant::now();
        while !nested
            && helpers_done.load(Ordering::Acquire) < spawned
            && start.elapsed() < JOIN_SPIN
        {
            relax(start);
        }
    });
    // Keep the helpers awake a little for the next call: a sleeping helper takes 30–45 µs
    // to wake on the Zen 5 host, the whole of a small product's second half.
    if !nested {
        for _ in 0..spawned {
            pool.spawn(move || keep_warm(epoch));
        }
    }
}

/// Counts [`run_parts`] calls: a helper spinning in [`keep_warm`] stops when it changes.
static FORK_EPOCH: AtomicUsize = AtomicUsize::new(0);

/// Spins (up to [`KEEP_WARM`]) until another [`run_parts`] call starts after the one that
/// scheduled this, so the helper's thread is awake to take that call's parts.
fn keep_warm(epoch: usize) {
    let start = Instant::now();
    while FORK_EPOCH.load(Ordering::Acquire) == epoch && start.elapsed() < KEEP_WARM {
        relax(start);
    }
}

/// One round of a wait that began at `start`: a pause hint at first, then a yield, so that
/// on a busy machine a waiter gives its core to the thread it is waiting for.
fn relax(start: Instant) {
    if start.elapsed() < Duration::from_micros(50) {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// How long a helper stays awake after its parts for the next [`run_parts`] call.
const KEEP_WARM: Duration = Duration::from_micros(200);

/// How long the caller of [`run_parts`] spins for its helpers to finish before it sleeps.
const JOIN_SPIN: Duration = Duration::from_micros(500);

/// Runs `f(i, chunk)` over `data` cut into `chunk_len`-float chunks, as [`run_parts`] runs
/// parts: chunk `i` goes to whichever thread claims part `i`. Each chunk sits behind its
/// own lock, taken once and never contended, which hands out disjoint `&mut` slices
/// without unsafe code.
pub fn run_chunks(
    threads: usize,
    data: &mut [f32],
    chunk_len: usize,
    f: impl Fn(usize, &mut [f32]) + Sync,
) {
    if threads <= 1 {
        data.chunks_mut(chunk_len.max(1))
            .enumerate()
            .for_each(|(i, c)| f(i, c));
        return;
    }
    let chunks: Vec<Mutex<&mut [f32]>> =
        data.chunks_mut(chunk_len.max(1)).map(Mutex::new).collect();
    run_parts(threads, chunks.len(), |i| {
        let mut c = chunks[i].lock().unwrap_or_else(|e| e.into_inner());
        f(i, &mut c);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_part_runs_exactly_once() {
        for threads in 1..=4 {
            for parts in 0..=7 {
                let runs: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
                run_parts(threads, parts, |i| {
                    runs[i].fetch_add(1, Ordering::Relaxed);
                });
                assert!(
                    runs.iter().all(|r| r.load(Ordering::Relaxed) == 1),
                    "threads {threads}, parts {parts}"
                );
            }
        }
    }

    #[test]
    fn small_products_stay_serial_and_large_ones_use_what_is_allowed() {
        assert_eq!(threads_for(96, 96, 96, 2), 1);
        assert_eq!(threads_for(128, 128, 128, 2), 2);
        assert_eq!(threads_for(128, 128, 128, 16), 2);
        assert_eq!(threads_for(4096, 4096, 4096, 16), 16);
        assert_eq!(threads_for(4096, 4096, 4096, 1), 1);
        // Overflowing m·n·k saturates instead of wrapping to a small count.
        assert_eq!(threads_for(usize::MAX, 2, 2, 4), 4);
    }

    #[test]
    fn parts_outlasting_the_join_spin_still_finish_before_return() {
        // The first part to start waits until the other has started (so two threads run
        // them), then returns at once; the other outlasts JOIN_SPIN. When the caller took
        // the short one (the usual order), it stops spinning and must block until the
        // helper's long part is done.
        let (arrived, done) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let threads = Mutex::new(HashSet::new());
        run_parts(2, 2, |_| {
            threads.lock().unwrap().insert(std::thread::current().id());
            if arrived.fetch_add(1, Ordering::AcqRel) == 0 {
                let start = Instant::now();
                while arrived.load(Ordering::Acquire) < 2 {
                    assert!(start.elapsed() < Duration::from_secs(10), "no helper came");
                    std::thread::yield_now();
                }
            } else {
                std::thread::sleep(JOIN_SPIN * 4);
            }
            done.fetch_add(1, Ordering::Release);
        });
        assert_eq!(done.load(Ordering::Acquire), 2);
        assert_eq!(threads.into_inner().unwrap().len(), 2);
    }

    #[test]
    fn a_part_may_fork_again() {
        // Parts that call run_parts themselves (on a helper of the same pool, too).
        let runs: Vec<AtomicUsize> = (0..12).map(|_| AtomicUsize::new(0)).collect();
        run_parts(2, 3, |outer| {
            run_parts(2, 4, |inner| {
                runs[outer * 4 + inner].fetch_add(1, Ordering::Relaxed);
            });
        });
        assert!(runs.iter().all(|r| r.load(Ordering::Relaxed) == 1));
    }

    #[test]
    fn chunks_are_handed_out_once_with_their_index() {
        for threads in [1, 2, 3] {
            let mut data = vec![-1.0f32; 103];
            run_chunks(threads, &mut data, 16, |i, c| {
                assert!(c.len() == 16 || i == 6, "chunk {i} has {} floats", c.len());
                for x in c.iter_mut() {
                    assert_eq!(*x, -1.0, "written twice");
                    *x = i as f32;
                }
            });
            assert!(data.iter().enumerate().all(|(j, &x)| x == (j / 16) as f32));
        }
    }

    #[test]
    fn a_helper_takes_parts_while_the_caller_works() {
        // Parts that sleep leave the helper ample time to wake and claim one.
        let ids = Mutex::new(HashSet::new());
        run_parts(2, 4, |_| {
            std::thread::sleep(Duration::from_millis(30));
            ids.lock().unwrap().insert(std::thread::current().id());
        });
        let ids = ids.into_inner().unwrap();
        assert!(
            ids.contains(&std::thread::current().id()),
            "the caller ran no part"
        );
        assert_eq!(ids.len(), 2, "expected the caller and one helper");
    }
}
