//! `mp`'s rounding error against an f64 reference at 256..2048, next to `packed`'s on the
//! same inputs. Strassen-form recursion trades accuracy for speed; this holds the trade to
//! a bound: relative error ≤ k·ε, and within 10× of the classical kernels' error (the
//! larger of `packed`'s blocked sums and `naive`'s sequential ones, on the same inputs).
//!
//! To stay cheap, the f64 reference is computed for a sample of rows (every row block of
//! C is hit, since Strassen's error differs between quadrants), not the whole product.

mod common;

use common::{Rng, quick, small_mp_knobs};
use poolgrad_kernels::mp::StrassenKernel;
use poolgrad_kernels::naive::NaiveKernel;
use poolgrad_kernels::packed::PackedKernel;
use poolgrad_kernels::{Accum, MatMut, MatRef, MatmulKernel, MpSettings, Par};

/// Rows of C checked against f64: 48 rows spread over all of 0..n.
fn sample_rows(n: usize) -> Vec<usize> {
    let count = 48.min(n);
    (0..count)
        .map(|s| (s * n) / count + (s * 7) % (n / count).max(1))
        .collect()
}

/// Largest `|c_ij - ref_ij|` over the sampled rows, divided by the largest
/// `Σ_p |a_ip||b_pj|` (the normwise relative error of Strassen-type bounds).
fn sampled_error(a: &[f32], b: &[f32], c: &[f32], n: usize, rows: &[usize]) -> f64 {
    let (mut worst, mut scale) = (0.0f64, 0.0f64);
    let mut exact = vec![0.0f64; n];
    let mut abs = vec![0.0f64; n];
    for &i in rows {
        exact.fill(0.0);
        abs.fill(0.0);
        for p in 0..n {
            let a_ip = a[i * n + p] as f64;
            for j in 0..n {
                let x = a_ip * b[p * n + j] as f64;
                exact[j] += x;
                abs[j] += x.abs();
            }
        }
        for j in 0..n {
            worst = worst.max((c[i * n + j] as f64 - exact[j]).abs());
            scale = scale.max(abs[j]);
        }
    }
    worst / scale
}

/// `naive`'s result on the sampled rows only, scattered into a NaN-filled `n×n` buffer.
fn naive_rows(a: &[f32], b: &[f32], n: usize, rows: &[usize]) -> Vec<f32> {
    let mut c = vec![f32::NAN; n * n];
    for &i in rows {
        NaiveKernel
            .matmul_with(
                MatRef::row_major(&a[i * n..(i + 1) * n], 1, n).unwrap(),
                MatRef::row_major(b, n, n).unwrap(),
                MatMut::row_major(&mut c[i * n..(i + 1) * n], 1, n).unwrap(),
                Accum::Replace,
                Par::Seq,
            )
            .unwrap();
    }
    c
}

fn run(kernel: &dyn MatmulKernel, a: &[f32], b: &[f32], n: usize) -> Vec<f32> {
    let mut c = vec![f32::NAN; n * n];
    kernel
        .matmul_with(
            MatRef::row_major(a, n, n).unwrap(),
            MatRef::row_major(b, n, n).unwrap(),
            MatMut::row_major(&mut c, n, n).unwrap(),
            Accum::Replace,
            Par::Rayon(2),
        )
        .unwrap();
    c
}

#[test]
fn mp_error_against_f64_is_bounded() {
    let sizes: &[usize] = if quick() {
        &[256, 512]
    } else {
        &[256, 512, 1024, 2048]
    };
    let packed = PackedKernel::new();
    // The registered knobs (recursion only from 1536 up), middle knobs (2-4 levels at these
    // sizes) and the small test knobs (deep recursion; only where it stays cheap).
    let middle = MpSettings {
        max_size: 1 << 20,
        base_threshold: 128,
        recurse_min: 256,
        packed_block: 64,
    };
    let variants: Vec<(&str, StrassenKernel, usize)> = vec![
        (
            "mp[default]",
            StrassenKernel::with_settings(MpSettings::default()),
            usize::MAX,
        ),
        (
            "mp[base 128]",
            StrassenKernel::with_settings(middle),
            usize::MAX,
        ),
        (
            "mp[base 16]",
            StrassenKernel::with_settings(small_mp_knobs()),
            512,
        ),
    ];
    let eps = f32::EPSILON as f64;
    let mut failures = Vec::new();
    for &n in sizes {
        let mut rng = Rng::new(n as u64);
        let a: Vec<f32> = (0..n * n).map(|_| rng.unit()).collect();
        let b: Vec<f32> = (0..n * n).map(|_| rng.unit()).collect();
        let rows = sample_rows(n);
        let packed_err = sampled_error(&a, &b, &run(&packed, &a, &b, n), n, &rows);
        let naive_err = sampled_error(&a, &b, &naive_rows(&a, &b, n, &rows), n, &rows);
        let classical = packed_err.max(naive_err);
        println!(
            "n={n:5}  packed rel err {packed_err:.3e}, naive {naive_err:.3e}  (k·ε = {:.3e})",
            n as f64 * eps
        );
        for (label, mp, max_n) in &variants {
            if n > *max_n {
                continue;
            }
            let err = sampled_error(&a, &b, &run(mp, &a, &b, n), n, &rows);
            println!(
                "n={n:5}  {label:12} rel err {err:.3e}  ({:.1}x classical)",
                err / classical
            );
            if err.is_nan() || err > n as f64 * eps {
                failures.push(format!("{label} n={n}: rel err {err:.3e} > k·ε"));
            }
            if err.is_nan() || err > 10.0 * classical {
                failures.push(format!(
                    "{label} n={n}: rel err {err:.3e} > 10x classical {classical:.3e}"
                ));
            }
        }
        assert!(
            classical <= n as f64 * eps,
            "classical n={n}: {classical:.3e}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
