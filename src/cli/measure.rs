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

/// Rows of `C` (m rows) at which errors are checked: all of them up to 256, else 128
/// evenly spaced ones including the first and the last (the f64 reference is the slow part).
pub fn sample_rows(m: usize) -> Vec<usize> {
    const MAX: usize = 128;
    if m <= 256 {
        return (0..m).collect();
    }
    (0..MAX).map(|i| i * (m - 1) / (MAX - 1)).collect()
}

/// Rows `rows` of `C = A·B` in f64 for row-major f32 inputs (A is m×k, B is k×n): the
/// accuracy reference, one row of n values per entry of `rows`.
pub fn reference_rows(a: &[f32], b: &[f32], rows: &[usize], n: usize, k: usize) -> Vec<f64> {
    let mut c = vec![0.0f64; rows.len() * n];
    for (out, &i) in c.chunks_mut(n.max(1)).zip(rows) {
        for p in 0..k {
            let a_ip = a[i * k + p] as f64;
            for (x, &y) in out.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                *x += a_ip * y as f64;
            }
        }
    }
    c
}

/// Errors of `c` (row-major m×n) at the sampled `rows` against their f64 `reference`.
#[derive(Clone, Copy, Debug)]
pub struct ErrorStats {
    /// Largest `|c - ref| / max(|ref|, 1)`.
    pub max_rel: f64,
    /// Largest `|c - ref|`.
    pub max_abs: f64,
}

/// Compares the sampled rows of `c` with `reference` (from [`reference_rows`]).
pub fn errors(c: &[f32], n: usize, rows: &[usize], reference: &[f64]) -> ErrorStats {
    let mut stats = ErrorStats {
        max_rel: 0.0,
        max_abs: 0.0,
    };
    for (r, &i) in reference.chunks(n.max(1)).zip(rows) {
        for (&x, &y) in c[i * n..(i + 1) * n].iter().zip(r) {
            let d = (x as f64 - y).abs();
            stats.max_abs = stats.max_abs.max(d);
            stats.max_rel = stats.max_rel.max(d / y.abs().max(1.0));
        }
    }
    stats
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

/// Reads an integer knob in `min..=max` (`default` when unset or empty), with an error
/// naming the variable, the value and what is accepted.
pub fn env_count(var: &str, default: usize, min: usize, max: usize) -> Result<usize, String> {
    match std::env::var(var) {
        Err(_) => Ok(default),
        Ok(v) if v.trim().is_empty() => Ok(default),
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(format!(
                "{var}={v:?} is not valid; accepted: an integer from {min} to {max}"
            )),
        },
    }
}

/// How the report and `poolgrad bench` time a kernel: `POOLGRAD_BENCH_WARMUP` untimed runs,
/// then up to `POOLGRAD_BENCH_TRIALS` timed runs within `budget_s` seconds.
#[derive(Clone, Copy, Debug)]
pub struct BenchKnobs {
    pub warmup: usize,
    pub trials: usize,
    /// Seconds of timed runs per measurement after which no further run starts.
    pub budget_s: f64,
}

impl BenchKnobs {
    /// Reads and validates the two variables (warm-up 0..=100, default 1; trials 1..=1000,
    /// default 5); the budget is 0.25 s per measurement.
    pub fn from_env() -> Result<BenchKnobs, String> {
        Ok(BenchKnobs {
            warmup: env_count("POOLGRAD_BENCH_WARMUP", 1, 0, 100)?,
            trials: env_count("POOLGRAD_BENCH_TRIALS", 5, 1, 1000)?,
            budget_s: 0.25,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_reference_finds_a_wrong_element() {
        let (m, n, k) = (300, 3, 2);
        let a = random_matrix(m * k, 1);
        let b = random_matrix(k * n, 2);
        let rows = sample_rows(m);
        assert_eq!((rows.len(), rows[0], rows[127]), (128, 0, 299));
        let reference = reference_rows(&a, &b, &rows, n, k);
        let mut c: Vec<f32> = (0..m * n)
            .map(|x| {
                let (i, j) = (x / n, x % n);
                (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum()
            })
            .collect();
        assert!(errors(&c, n, &rows, &reference).max_rel < 1e-6);
        c[299 * n + 1] += 0.5;
        let e = errors(&c, n, &rows, &reference);
        assert!((e.max_abs - 0.5).abs() < 1e-6, "{e:?}");
    }
}
