//! Timing and reference helpers shared by the report and the bench command.

use std::time::Instant;

/// Median and 95th percentile of a set of run times, in seconds.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub median: f64,
    pub p95: f64,
}

/// Runs `f` `warmup` times untimed, then up to `trials` times (stopping early once
/// `budget_s` seconds have been spent, after at least one run), and summarises the times.
pub fn time_runs(warmup: usize, trials: usize, budget_s: f64, mut f: impl FnMut()) -> Timing {
    for _ in 0..warmup {
        f();
    }
    let start = Instant::now();
    let mut times = Vec::with_capacity(trials);
    for _ in 0..trials.max(1) {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64());
        if start.elapsed().as_secs_f64() > budget_s {
            break;
        }
    }
    times.sort_by(f64::total_cmp);
    let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Timing {
        median: pick(0.5),
        p95: pick(0.95),
    }
}

/// `C = A·B` in f64 for row-major f32 inputs: the accuracy reference.
pub fn reference_f64(a: &[f32], b: &[f32], m: usize, n: usize, k: usize) -> Vec<f64> {
    let mut c = vec![0.0f64; m * n];
    for i in 0..m {
        let row = &mut c[i * n..(i + 1) * n];
        for p in 0..k {
            let a_ip = a[i * k + p] as f64;
            for (x, &y) in row.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                *x += a_ip * y as f64;
            }
        }
    }
    c
}

/// Largest `|c - reference| / max(|reference|, 1)` over all elements.
pub fn max_rel_error(c: &[f32], reference: &[f64]) -> f64 {
    c.iter()
        .zip(reference)
        .map(|(&x, &r)| (x as f64 - r).abs() / r.abs().max(1.0))
        .fold(0.0, f64::max)
}

/// Deterministic pseudo-random values in [-1, 1) (xorshift), for benchmarks.
pub fn random_matrix(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Reads a non-negative integer knob, with a clear error on a bad value.
pub fn env_count(var: &str, default: usize) -> Result<usize, String> {
    match std::env::var(var) {
        Err(_) => Ok(default),
        Ok(v) => v
            .trim()
            .parse::<usize>()
            .map_err(|_| format!("{var}={v:?} is not valid; accepted: a non-negative integer")),
    }
}
