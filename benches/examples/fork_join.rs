//! The cost of one fork/join of `poolgrad_kernels::run_parts`, the mechanism under every
//! parallel product and element-wise pass: two parts of a fixed amount of busy work, with
//! or without an idle gap before each call (a gap lets helpers fall asleep). Prints the
//! median and p90 wall time of a call against the ideal (one part's work), and how late
//! the second part started on average.
//!
//! ```text
//! cargo run --release -p poolgrad-benches --example fork_join -- [--calls N]
//! ```

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Busy-waits for `d` (the parts' work, and the gap between calls).
fn busy(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let calls = match args.as_slice() {
        [] => 400,
        [flag, v] if flag == "--calls" => match v.parse::<usize>() {
            Ok(n) if n >= 10 => n,
            _ => {
                eprintln!("fork_join: --calls {v:?} refused; accepted: an integer >= 10");
                return ExitCode::FAILURE;
            }
        },
        _ => {
            eprintln!("fork_join: unknown arguments {args:?}; accepted: --calls N");
            return ExitCode::FAILURE;
        }
    };
    println!("two parts per call, {calls} calls per row (wall µs)");
    for work_us in [0u64, 20, 50, 100] {
        for gap_us in [0u64, 100] {
            let (work, gap) = (
                Duration::from_micros(work_us),
                Duration::from_micros(gap_us),
            );
            let late_ns = AtomicU64::new(0);
            let mut times: Vec<f64> = (0..calls)
                .map(|_| {
                    busy(gap);
                    let t0 = Instant::now();
                    poolgrad::kernels::run_parts(2, 2, |i| {
                        if i == 1 {
                            late_ns.fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
                        }
                        busy(work);
                    });
                    t0.elapsed().as_secs_f64() * 1e6
                })
                .collect();
            times.sort_by(f64::total_cmp);
            println!(
                "parts {work_us:>3} µs, gap {gap_us:>3} µs: median {:6.1}  p90 {:6.1}  (ideal {work_us}); second part started {:.1} µs late on average",
                times[calls / 2],
                times[calls * 9 / 10],
                late_ns.load(Ordering::Relaxed) as f64 / calls as f64 / 1e3
            );
        }
    }
    ExitCode::SUCCESS
}
