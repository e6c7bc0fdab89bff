//! Thread policy: how many threads a product gets (serial below a work threshold) and
//! which rayon pool runs it (the global one, or a lazily built pool of the asked size).

use once_cell::sync::Lazy;
use rayon::{ThreadPool, ThreadPoolBuilder};
use std::sync::Mutex;

/// Below this many multiply-adds (`m·n·k`) a product stays on the calling thread: the
/// fork/join and the split packing cost more than a second core saves (≈ 160³).
pub const PAR_MIN_WORK: usize = 160 * 160 * 160;

/// Work per extra thread: a product gets at most `m·n·k / PAR_WORK_PER_THREAD` threads.
const PAR_WORK_PER_THREAD: usize = 128 * 128 * 128;

/// Threads to use for an `m×n×k` product when `allowed` are available.
pub fn threads_for(m: usize, n: usize, k: usize, allowed: usize) -> usize {
    let work = m.saturating_mul(n).saturating_mul(k);
    if allowed <= 1 || work < PAR_MIN_WORK {
        1
    } else {
        allowed.min(work / PAR_WORK_PER_THREAD).max(1)
    }
}

/// Pools built for thread counts other than the global pool's, kept for the process.
static POOLS: Lazy<Mutex<Vec<(usize, &'static ThreadPool)>>> = Lazy::new(Mutex::default);

/// Runs `f` where rayon parallel iterators use `threads` threads: inline when the current
/// pool already has that many, otherwise inside a cached pool of that size.
pub fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    if threads <= 1 || threads == rayon::current_num_threads() {
        return f();
    }
    let pool = {
        let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
        match pools.iter().find(|(n, _)| *n == threads) {
            Some(&(_, pool)) => Some(pool),
            None => match ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(move |i| format!("poolgrad-{threads}-{i}"))
                .build()
            {
                Ok(pool) => {
                    let pool: &'static ThreadPool = Box::leak(Box::new(pool));
                    pools.push((threads, pool));
                    Some(pool)
                }
                Err(e) => {
                    log::warn!("cannot build a {threads}-thread pool ({e}); using the current one");
                    None
                }
            },
        }
    };
    match pool {
        Some(pool) => pool.install(f),
        None => f(),
    }
}
