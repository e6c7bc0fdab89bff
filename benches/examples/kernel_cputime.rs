//! Kernels side by side on issue 7's shape table, timed by thread CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), so time lost to other processes on a shared machine does
//! not count; medians of many short samples, kernels interleaved per shape.
//!
//! ```text
//! cargo run --release -p poolgrad-benches --features anchors --example kernel_cputime -- \
//!     [--kernels packed,mp,anchors.faer] [--shapes 32,64,4096x64x64,784x512x256t] [--threads 1,2]
//! ```
//! A shape is `n` (square) or `MxNxK`; a trailing `t` makes A a transposed view (Aᵀ·B with
//! A stored K×M); a suffix `:XY` gives the layouts of A and B (`r` row-major, `c`
//! column-major, i.e. a transposed view), e.g. `256x1024x1024:rc` for A·Bᵀ. With `--threads N` the kernels get `Par::Rayon(N)` and only wall time is
//! reported (the other threads' CPU time is not on the calling thread's clock). A list
//! (`--threads 1,2`) runs every kernel at every count, interleaved, so the ratio column is
//! a paired scaling figure on a noisy machine. Columns: GFLOP/s by thread CPU time, % of
//! the measured one-thread FMA peak, ratio to the first column, GFLOP/s by wall time.

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
    assert_eq!(
        rc, 0,
        "clock_gettime(CLOCK_THREAD_CPUTIME_ID) is always available on Linux"
    );
    ts.sec as f64 + ts.nsec as f64 * 1e-9
}

const ISSUE7: &str = "32,64,96,128,256,512,1024,2048,64x256x784,256x512x784,256x512x512,\
                      512x1024x1024,4096x64x64,784x512x256t";

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

const USAGE: &str = "accepted: --kernels a,b  --shapes n|MxNxK[t][:XY],..  --threads N[,N..]";

/// A parsed shape: sizes, whether A and B are transposed views, and its label.
struct Shape {
    m: usize,
    n: usize,
    k: usize,
    at: bool,
    bt: bool,
    label: String,
}

fn parse_shape(shape: &str) -> Result<Shape, String> {
    let bad = || {
        format!("shape {shape:?} refused; accepted: n, MxNxK, MxNxKt or MxNxK:XY with X, Y in r, c")
    };
    let (dims, layouts) = shape.split_once(':').unwrap_or((shape, "rr"));
    if layouts.len() != 2 || !layouts.chars().all(|c| c == 'r' || c == 'c') {
        return Err(bad());
    }
    let d: Vec<usize> = dims
        .trim_end_matches('t')
        .split('x')
        .map(|x| x.parse().ok().filter(|&v| v > 0))
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    let (m, n, k) = match d[..] {
        [s] => (s, s, s),
        [m, n, k] => (m, n, k),
        _ => return Err(bad()),
    };
    Ok(Shape {
        m,
        n,
        k,
        at: dims.ends_with('t') || layouts.starts_with('c'),
        bt: layouts.ends_with('c'),
        label: shape.to_string(),
    })
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kernel_cputime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    poolgrad::link_plugins();
    let args: Vec<String> = std::env::args().skip(1).collect();
    for (i, a) in args.iter().enumerate() {
        let is_value = i % 2 == 1;
        if !is_value && !["--kernels", "--shapes", "--threads"].contains(&a.as_str()) {
            return Err(format!("unknown argument {a:?}; {USAGE}"));
        }
    }
    if args.len() % 2 == 1 {
        return Err(format!("{} needs a value; {USAGE}", args[args.len() - 1]));
    }
    let kernels = arg(&args, "--kernels").unwrap_or_else(|| {
        registry()
            .names()
            .into_iter()
            .filter(|n| *n == "packed" || *n == "mp" || n.starts_with("anchors."))
            .collect::<Vec<_>>()
            .join(",")
    });
    let shapes: Vec<Shape> = arg(&args, "--shapes")
        .unwrap_or_else(|| ISSUE7.to_string())
        .split(',')
        .map(parse_shape)
        .collect::<Result<_, _>>()?;
    let threads: Vec<usize> = arg(&args, "--threads")
        .unwrap_or_else(|| "1".into())
        .split(',')
        .map(|t| t.parse().ok().filter(|&t| t >= 1))
        .collect::<Option<_>>()
        .ok_or("--threads refused; accepted: counts >= 1, e.g. 2 or 1,2")?;
    let wall_only = threads.iter().any(|&t| t > 1);
    let isa = settings().map_err(|e| e.to_string())?.isa;
    let peak = measure_fma_peak(isa, 0.5);
    println!("isa {isa}, measured one-thread FMA peak {peak:.1} GFLOP/s, threads {threads:?}");
    for note in poolgrad::plugins::anchor_notes() {
        println!("  {note}");
    }
    // One column per (kernel, thread count).
    let mut columns = Vec::new();
    for name in kernels.split(',') {
        let kern = registry().get(name).map_err(|e| e.to_string())?;
        for &t in &threads {
            let par = if t > 1 { Par::Rayon(t) } else { Par::Seq };
            let label = if threads.len() > 1 {
                format!("{name}@{t}")
            } else {
                name.to_string()
            };
            columns.push((label, kern, par));
        }
    }
    for s in &shapes {
        let (m, n, k) = (s.m, s.n, s.k);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 104_729) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let mut c = vec![0.0f32; m * n];
        let av = if s.at {
            MatRef::row_major(&a, k, m).map_err(|e| e.to_string())?.t()
        } else {
            MatRef::row_major(&a, m, k).map_err(|e| e.to_string())?
        };
        let bv = if s.bt {
            MatRef::row_major(&b, n, k).map_err(|e| e.to_string())?.t()
        } else {
            MatRef::row_major(&b, k, n).map_err(|e| e.to_string())?
        };
        let flops = 2.0 * (m * n * k) as f64;
        let reps = ((4e6 / flops) as usize).max(1);
        let budget = Duration::from_millis(if flops > 2e9 { 2500 } else { 500 });
        let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); columns.len()];
        let mut wall: Vec<Vec<f64>> = vec![Vec::new(); columns.len()];
        // Interleave columns so drifting load affects all of them alike. Each sample is
        // preceded by one untimed call of the same kernel: a kernel that follows one with
        // narrower vectors would otherwise pay for the switch (on Intel cores, the ramp to
        // the AVX-512 frequency licence cost the first kernel ~9% at 64³ to 128³).
        let end = Instant::now() + budget * columns.len() as u32;
        while Instant::now() < end || cpu[0].len() < 5 {
            for (i, (_, kern, par)) in columns.iter().enumerate() {
                let mut call = || {
                    let cv = MatMut::row_major(&mut c, m, n).map_err(|e| e.to_string())?;
                    kern.matmul_with(av, bv, cv, Accum::Replace, *par)
                        .map_err(|e| e.to_string())
                };
                call()?;
                let (c0, w0) = (thread_cpu(), Instant::now());
                for _ in 0..reps {
                    call()?;
                }
                cpu[i].push((thread_cpu() - c0) / reps as f64);
                wall[i].push(w0.elapsed().as_secs_f64() / reps as f64);
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let rates: Vec<(f64, f64)> = (0..columns.len())
            .map(|i| {
                (
                    flops / median(&mut cpu[i]) / 1e9,
                    flops / median(&mut wall[i]) / 1e9,
                )
            })
            .collect();
        let mut line = format!("{:>14}", s.label);
        if wall_only {
            // Other threads' CPU time is not on the calling thread's clock: wall only.
            let base = rates[0].1;
            for ((name, ..), (_, rw)) in columns.iter().zip(&rates) {
                line += &format!(" | {name} wall {rw:.1} ({:.2}x)", rw / base);
            }
        } else {
            let base = rates[0].0;
            for ((name, ..), (rc, rw)) in columns.iter().zip(&rates) {
                line += &format!(
                    " | {name} {rc:.1} ({:.0}% pk, {:.2}x, wall {rw:.1})",
                    100.0 * rc / peak,
                    rc / base
                );
            }
        }
        println!("{line}");
    }
    Ok(())
}
