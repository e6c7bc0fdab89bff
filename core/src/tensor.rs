//! [`Tensor`] (owned, contiguous, row-major f32) and its inline [`Shape`].

use crate::error::{CoreError, Result};
use crate::rng::Rng;
use std::fmt;

/// Largest rank a [`Shape`] holds (kept inline, so shapes never allocate).
pub const MAX_RANK: usize = 6;

/// Dimensions of a tensor, stored inline (`Copy`, no heap). Rank 0 is a scalar.
#[derive(Clone, Copy, Eq)]
pub struct Shape {
    dims: [usize; MAX_RANK],
    rank: u8,
}

impl Shape {
    /// A shape from its dims.
    ///
    /// # Errors
    /// [`CoreError::BadShape`] for more than [`MAX_RANK`] dims or an element count
    /// overflowing `usize`.
    pub fn new(dims: &[usize]) -> Result<Shape> {
        Self::checked("Shape::new", dims)
    }

    pub(crate) fn checked(op: &'static str, dims: &[usize]) -> Result<Shape> {
        if dims.len() > MAX_RANK {
            return Err(CoreError::BadShape {
                op,
                dims: dims.to_vec(),
                reason: "rank above MAX_RANK (6)",
            });
        }
        if dims
            .iter()
            .try_fold(1usize, |p, &d| p.checked_mul(d))
            .is_none()
        {
            return Err(CoreError::BadShape {
                op,
                dims: dims.to_vec(),
                reason: "element count overflows usize",
            });
        }
        let mut s = Shape {
            dims: [0; MAX_RANK],
            rank: dims.len() as u8,
        };
        s.dims[..dims.len()].copy_from_slice(dims);
        Ok(s)
    }

    /// The rank-0 (scalar) shape.
    pub const fn scalar() -> Shape {
        Shape {
            dims: [0; MAX_RANK],
            rank: 0,
        }
    }

    /// A rank-2 shape (never fails: two dims fit, and callers derive them from real buffers).
    pub(crate) fn d2(m: usize, n: usize) -> Shape {
        let mut s = Shape::scalar();
        s.rank = 2;
        s.dims[0] = m;
        s.dims[1] = n;
        s
    }

    /// The dims, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.dims[..self.rank as usize]
    }

    /// Number of dims.
    pub fn rank(&self) -> usize {
        self.rank as usize
    }

    /// Number of elements (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.dims().iter().product()
    }
}

impl From<Shape> for Vec<usize> {
    fn from(s: Shape) -> Vec<usize> {
        s.dims().to_vec()
    }
}

impl std::hash::Hash for Shape {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.dims().hash(h);
    }
}

impl PartialEq for Shape {
    /// Compares only the used dims, in a plain loop (hot in every binary op; the derived
    /// version calls `memcmp` on the whole array).
    fn eq(&self, other: &Shape) -> bool {
        if self.rank != other.rank {
            return false;
        }
        let r = self.rank as usize;
        let mut i = 0;
        while i < r {
            if self.dims[i] != other.dims[i] {
                return false;
            }
            i += 1;
        }
        true
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.dims())
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.dims())
    }
}

/// An owned, contiguous, row-major f32 array with a shape of rank 0..=[`MAX_RANK`].
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    data: Vec<f32>,
    shape: Shape,
}

impl Tensor {
    /// Wraps `data` (row-major) with `shape`.
    ///
    /// # Errors
    /// [`CoreError::DataLength`] when `data.len()` is not the product of `shape`;
    /// [`CoreError::BadShape`] for a rank above [`MAX_RANK`].
    pub fn from_vec(data: Vec<f32>, shape: &[usize]) -> Result<Tensor> {
        let s = Shape::checked("Tensor::from_vec", shape)?;
        if s.numel() != data.len() {
            return Err(CoreError::DataLength {
                op: "Tensor::from_vec",
                shape: shape.to_vec(),
                expected: s.numel(),
                got: data.len(),
            });
        }
        Ok(Tensor { data, shape: s })
    }

    /// Takes the buffer out, leaving the tensor empty (its shape no longer matches: only
    /// for a tensor about to be dropped).
    pub(crate) fn take_data(&mut self) -> Vec<f32> {
        std::mem::take(&mut self.data)
    }

    /// Internal constructor for buffers whose length is already right.
    pub(crate) fn from_parts(data: Vec<f32>, shape: Shape) -> Tensor {
        debug_assert_eq!(data.len(), shape.numel());
        Tensor { data, shape }
    }

    /// A tensor filled with `value`.
    ///
    /// # Errors
    /// [`CoreError::BadShape`] for a rank above [`MAX_RANK`].
    pub fn full(shape: &[usize], value: f32) -> Result<Tensor> {
        let s = Shape::checked("Tensor::full", shape)?;
        Ok(Tensor {
            data: vec![value; s.numel()],
            shape: s,
        })
    }

    /// All zeros. # Errors: as [`Tensor::full`].
    pub fn zeros(shape: &[usize]) -> Result<Tensor> {
        Self::full(shape, 0.0)
    }

    /// All ones. # Errors: as [`Tensor::full`].
    pub fn ones(shape: &[usize]) -> Result<Tensor> {
        Self::full(shape, 1.0)
    }

    /// A rank-0 tensor holding `value`.
    pub fn scalar(value: f32) -> Tensor {
        Tensor {
            data: vec![value],
            shape: Shape::scalar(),
        }
    }

    /// Standard normal samples, reproducible from `seed`.
    ///
    /// # Errors
    /// As [`Tensor::full`].
    pub fn randn(shape: &[usize], seed: u64) -> Result<Tensor> {
        let mut t = Self::full(shape, 0.0)?;
        let mut rng = Rng::new(seed);
        for pair in t.data.chunks_mut(2) {
            let (x, y) = rng.normal_pair();
            pair[0] = x;
            if let Some(second) = pair.get_mut(1) {
                *second = y;
            }
        }
        Ok(t)
    }

    /// Uniform samples in `[lo, hi)`, reproducible from `seed`.
    ///
    /// # Errors
    /// As [`Tensor::full`]; [`CoreError::InvalidArgument`] unless `lo <= hi`, both finite.
    pub fn uniform(shape: &[usize], lo: f32, hi: f32, seed: u64) -> Result<Tensor> {
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(CoreError::InvalidArgument {
                op: "Tensor::uniform",
                detail: format!("bounds [{lo}, {hi}) refused; accepted: finite lo <= hi"),
            });
        }
        let mut t = Self::full(shape, 0.0)?;
        let mut rng = Rng::new(seed);
        for x in &mut t.data {
            *x = rng.uniform(lo, hi);
        }
        Ok(t)
    }

    /// The same data under another shape with the same element count.
    ///
    /// # Errors
    /// [`CoreError::DataLength`] when the counts differ.
    pub fn reshape(self, shape: &[usize]) -> Result<Tensor> {
        let s = Shape::checked("Tensor::reshape", shape)?;
        if s.numel() != self.data.len() {
            return Err(CoreError::DataLength {
                op: "Tensor::reshape",
                shape: shape.to_vec(),
                expected: s.numel(),
                got: self.data.len(),
            });
        }
        Ok(Tensor {
            data: self.data,
            shape: s,
        })
    }

    /// The dims, outermost first.
    pub fn shape(&self) -> &[usize] {
        self.shape.dims()
    }

    /// The inline shape value.
    pub fn shape_info(&self) -> Shape {
        self.shape
    }

    /// Number of dims.
    pub fn rank(&self) -> usize {
        self.shape.rank()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The elements, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The elements, row-major, writable (the shape stays fixed).
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// The single element of a one-element tensor.
    ///
    /// # Errors
    /// [`CoreError::NotScalar`] when `numel() != 1`.
    pub fn item(&self) -> Result<f32> {
        if self.data.len() == 1 {
            Ok(self.data[0])
        } else {
            Err(CoreError::NotScalar {
                op: "Tensor::item",
                shape: self.shape.into(),
            })
        }
    }

    /// Gives up the buffer.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_vec_checks_length_and_rank() {
        let t = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
        assert_eq!(t.shape(), &[2, 3]);
        assert_eq!(t.numel(), 6);
        let e = Tensor::from_vec(vec![1.0; 5], &[2, 3]).unwrap_err();
        assert!(matches!(
            e,
            CoreError::DataLength {
                expected: 6,
                got: 5,
                ..
            }
        ));
        assert!(e.to_string().contains("[2, 3]"), "{e}");
        assert!(Tensor::zeros(&[1; 7]).is_err());
        assert!(Tensor::zeros(&[usize::MAX, 2]).is_err());
        assert_eq!(Tensor::scalar(3.0).item().unwrap(), 3.0);
        assert_eq!(Tensor::from_vec(vec![], &[0, 3]).unwrap().numel(), 0);
    }

    #[test]
    fn seeded_inits_repeat() {
        let a = Tensor::randn(&[3, 5], 9).unwrap();
        assert_eq!(a, Tensor::randn(&[3, 5], 9).unwrap());
        assert_ne!(a, Tensor::randn(&[3, 5], 10).unwrap());
        let u = Tensor::uniform(&[1000], -2.0, 3.0, 1).unwrap();
        assert!(u.data().iter().all(|&x| (-2.0..3.0).contains(&x)));
        assert!(Tensor::uniform(&[2], 1.0, 0.0, 1).is_err());
    }
}
