//! Free lists of `Vec<f32>` keyed by length, with a cheap hash (lengths are already
//! well-spread integers; SipHash would cost more than the rest of a tiny op).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

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
pub(crate) type SizeMap = HashMap<usize, Vec<Vec<f32>>, BuildHasherDefault<SizeHasher>>;
