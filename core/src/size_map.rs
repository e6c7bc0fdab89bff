//! Free lists of `Vec<f32>` keyed by exact length: direct-indexed for small lengths (the
//! per-node cost of tapes of tiny ops is dominated by this lookup), hashed with a cheap
//! multiplicative hash above that.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Lengths below this use a direct-indexed list.
const SMALL: usize = 64;

/// Multiplicative (Fibonacci) hashing of one `usize`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SizeHasher(u64);

impl Hasher for SizeHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64 ^ self.0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Buffers waiting for reuse, by exact length.
#[derive(Debug, Default)]
pub(crate) struct FreeLists {
    small: Vec<Vec<Vec<f32>>>,
    large: HashMap<usize, Vec<Vec<f32>>, BuildHasherDefault<SizeHasher>>,
}

impl FreeLists {
    /// A free buffer of exactly `len` elements, if there is one.
    #[inline]
    pub(crate) fn pop(&mut self, len: usize) -> Option<Vec<f32>> {
        if len < SMALL {
            self.small.get_mut(len)?.pop()
        } else {
            self.large.get_mut(&len)?.pop()
        }
    }

    /// Keeps `buf` for a later [`FreeLists::pop`] of its length.
    #[inline]
    pub(crate) fn push(&mut self, buf: Vec<f32>) {
        let len = buf.len();
        if len < SMALL {
            if self.small.is_empty() {
                self.small.resize_with(SMALL, Vec::new);
            }
            self.small[len].push(buf);
        } else {
            self.large.entry(len).or_default().push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_only_exact_lengths() {
        let mut f = FreeLists::default();
        assert!(f.pop(3).is_none());
        f.push(vec![1.0; 3]);
        f.push(vec![2.0; 100]);
        assert!(f.pop(4).is_none() && f.pop(99).is_none());
        assert_eq!(f.pop(3), Some(vec![1.0; 3]));
        assert_eq!(f.pop(100), Some(vec![2.0; 100]));
        assert!(f.pop(3).is_none());
    }
}
