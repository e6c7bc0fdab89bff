//! Kernels side by side on issue 7's shape table, timed by thread CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), so time lost to other processes on a shared machine does
//! not count; medians of many short samples, kernels interleaved per shape.
//!
//! ```text
//! cargo run --release -p poolgrad-benches --features anchors --example kernel_cputime -- \
//!     [--kernels packed,mp,anchors.faer] [--shapes 32,64,4096x64x64,784x512x256t] [--threads 2]
//! ```
//! A shape is `n` (square) or `MxNxK`; a trailing `t` makes A a transposed view (Aᵀ·B with
//! A stored K×M); a suffix `:XY` gives the layouts of A and B (`r` row-major, `c`
//! column-major, i.e. a transposed view), e.g. `256x1024x1024:rc` for A·Bᵀ. With `--threads N` the kernels get `Par::Rayon(N)` and only wall time is
//! reported (the other threads' CPU time is not on the calling thread's clock). Columns:
//! GFLOP/s by thread CPU time, % of the measured one-thread FMA peak, ratio to the first
//! kernel, GFLOP/s by wall time.

use poolgrad::kernels::{Accum, MatMut, MatRef, Par, measure_fma_peak, registry, settings};
use std::time::{Duration, Instant};

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

unsafe extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

/// CPU seconds consumed by the calling thread.
fn thread_cpu() -> f64 {
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec (two 64-bit fields on x86_64/aarch64
    // Linux); the clock id is a constant the kernel knows.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.sec as f64 + ts.nsec as f64 * 1e-9
}

const ISSUE7: &str = "32,64,96,128,256,512,1024,2048,64x256x784,256x512x784,256x512x512,\
                      512x1024x1024,4096x64x64,784x512x256t";

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    poolgrad::link_plugins();
    let args: Vec<String> = std::env::args().collect();
    let kernels = arg(&args, "--kernels").unwrap_or_else(|| {
        registry()
            .names()
            .into_iter()
            .filter(|n| *n == "packed" || *n == "mp" || n.starts_with("anchors."))
            .collect::<Vec<_>>()
            .join(",")
    });
    let shapes = arg(&args, "--shapes").unwrap_or_else(|| ISSUE7.to_string());
    let threads: usize = arg(&args, "--threads").map_or(1, |t| t.parse().expect("--threads N"));
    let par = if threads > 1 {
        Par::Rayon(threads)
    } else {
        Par::Seq
    };
    let isa = settings().expect("valid POOLGRAD_* environment").isa;
    let peak = measure_fma_peak(isa, 0.5);
    println!("isa {isa}, measured one-thread FMA peak {peak:.1} GFLOP/s, threads {threads}");
    for note in poolgrad::plugins::anchor_notes() {
        println!("  {note}");
    }
    let kernels: Vec<&str> = kernels.split(',').collect();
    for shape in shapes.split(',') {
        let (dims, layouts) = shape.split_once(':').unwrap_or((shape, "rr"));
        let at = dims.ends_with('t') || layouts.starts_with('c');
        let bt = layouts.ends_with('c');
        let d: Vec<usize> = dims
            .trim_end_matches('t')
            .split('x')
            .map(|x| x.parse().expect("shape: n or MxNxK"))
            .collect();
        let (m, n, k) = match d[..] {
            [s] => (s, s, s),
            [m, n, k] => (m, n, k),
            _ => panic!("shape: n or MxNxK"),
        };
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 104_729) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let mut c = vec![0.0f32; m * n];
        let av = if at {
            MatRef::row_major(&a, k, m).expect("sized").t()
        } else {
            MatRef::row_major(&a, m, k).expect("sized")
        };
        let bv = if bt {
            MatRef::row_major(&b, n, k).expect("sized").t()
        } else {
            MatRef::row_major(&b, k, n).expect("sized")
        };
        let flops = 2.0 * (m * n * k) as f64;
        let reps = ((4e6 / flops) as usize).max(1);
        let budget = Duration::from_millis(if flops > 2e9 { 2500 } else { 500 });
        let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); kernels.len()];
        let mut wall: Vec<Vec<f64>> = vec![Vec::new(); kernels.len()];
        let resolved: Vec<_> = kernels
            .iter()
            .map(|name| registry().get(name).expect("known kernel"))
            .collect();
        // Interleave kernels so drifting load affects all of them alike.
        let end = Instant::now() + budget * kernels.len() as u32;
        while Instant::now() < end || cpu[0].len() < 5 {
            for (i, kern) in resolved.iter().enumerate() {
                let (c0, w0) = (thread_cpu(), Instant::now());
                for _ in 0..reps {
                    let cv = MatMut::row_major(&mut c, m, n).expect("sized");
                    kern.matmul_with(av, bv, cv, Accum::Replace, par)
                        .expect("checked shapes");
                }
                cpu[i].push((thread_cpu() - c0) / reps as f64);
                wall[i].push(w0.elapsed().as_secs_f64() / reps as f64);
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let rates: Vec<(f64, f64)> = (0..kernels.len())
            .map(|i| {
                (
                    flops / median(&mut cpu[i]) / 1e9,
                    flops / median(&mut wall[i]) / 1e9,
                )
            })
            .collect();
        let mut line = format!("{shape:>14}");
        if threads > 1 {
            // Other threads' CPU time is not on the calling thread's clock: wall only.
            let base = rates[0].1;
            for (name, (_, rw)) in kernels.iter().zip(&rates) {
                line += &format!(" | {name} wall {rw:.1} ({:.2}x)", rw / base);
            }
        } else {
            let base = rates[0].0;
            for (name, (rc, rw)) in kernels.iter().zip(&rates) {
                line += &format!(
                    " | {name} {rc:.1} ({:.0}% pk, {:.2}x, wall {rw:.1})",
                    100.0 * rc / peak,
                    rc / base
                );
            }
        }
        println!("{line}");
    }
}
