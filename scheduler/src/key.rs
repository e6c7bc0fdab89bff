//! The cache key: a problem's shape bucket, operand layouts and thread count, plus the cheap
//! hasher the lookup path uses.

use poolgrad_kernels::{Layout, Problem};
use std::hash::{BuildHasherDefault, Hasher};

/// What the scheduler remembers a winner for.
///
/// `m`, `n`, `k` are bucketed with [`bucket`]: exact up to 16, then rounded up to the next
/// value of the form `q·2^e` with `q ∈ {4, 5, 6, 7}` (four buckets per octave, so a bucket
/// spans at most +25 %). Powers of two and the shapes poolgrad uses (10, 64, 256, 1024)
/// are their own buckets; 784 falls in the 896 bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShapeKey {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: Layout,
    pub b: Layout,
    pub c: Layout,
    /// Threads the kernels may use (`Par::threads`).
    pub threads: usize,
}

impl ShapeKey {
    /// The key of `problem` when run with `threads` threads.
    #[inline]
    pub fn of(problem: &Problem, threads: usize) -> ShapeKey {
        ShapeKey {
            m: bucket(problem.m),
            n: bucket(problem.n),
            k: bucket(problem.k),
            a: problem.a,
            b: problem.b,
            c: problem.c,
            threads,
        }
    }

    /// The three layout codes, e.g. `rcr` for `A·Bᵀ` on row-major storage.
    pub fn layouts(&self) -> String {
        [self.a.code(), self.b.code(), self.c.code()]
            .iter()
            .collect()
    }

    /// How far apart two keys' shapes are: the sum of |log2| ratios of m, n and k, or
    /// `None` when layouts or threads differ (such entries never stand in for each other).
    pub fn distance(&self, other: &ShapeKey) -> Option<f64> {
        if (self.a, self.b, self.c, self.threads) != (other.a, other.b, other.c, other.threads) {
            return None;
        }
        let d = |x: usize, y: usize| ((x.max(1) as f64) / (y.max(1) as f64)).log2().abs();
        Some(d(self.m, other.m) + d(self.n, other.n) + d(self.k, other.k))
    }
}

/// The bucket of one dimension (see [`ShapeKey`]).
#[inline]
pub fn bucket(d: usize) -> usize {
    if d <= 16 {
        return d;
    }
    // d >= 17, so log2 >= 4 and the step 2^(log2-2) is at least 4; round up to a
    // multiple of the step with a mask (no division on the lookup path).
    let mask = (1usize << (d.ilog2() - 2)) - 1;
    d.saturating_add(mask) & !mask
}

/// A multiply-rotate hasher (FxHash-style): the key is a handful of small integers, so
/// SipHash's DoS resistance buys nothing and costs a large share of the lookup.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(SEED);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The `BuildHasher` of the scheduler's map.
pub type KeyHashBuilder = BuildHasherDefault<KeyHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_exact_small_and_geometric_above() {
        for d in 0..=16 {
            assert_eq!(bucket(d), d);
        }
        assert_eq!(bucket(17), 20);
        assert_eq!(bucket(20), 20);
        assert_eq!(bucket(21), 24);
        assert_eq!(bucket(784), 896);
        assert_eq!(bucket(1000), 1024);
        for e in 4..20 {
            assert_eq!(bucket(1 << e), 1 << e);
        }
        for d in 17..5000 {
            let b = bucket(d);
            assert!(b >= d && (b as f64) <= d as f64 * 1.25 + 1.0, "{d} -> {b}");
            assert_eq!(bucket(b), b, "buckets are fixed points");
        }
    }
}
