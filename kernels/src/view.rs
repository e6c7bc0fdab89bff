//! Strided matrix views, checked once when built.
//!
//! A view is a slice plus `rows, cols, row_stride, col_stride`: element `(i, j)` lives at
//! `i * row_stride + j * col_stride`. Row-major is `(cols, 1)`, column-major `(1, rows)`;
//! a transposed operand is the same slice with swapped dims and strides ([`MatRef::t`]), so
//! backward's `dA += dC·Bᵀ` needs no copy. Construction proves every addressed index is in
//! bounds, so kernels may index without further checks.
//!
//! A [`MatMut`] borrows its slice mutably, so the borrow checker already forbids it to
//! share memory with a [`MatRef`] built from the same buffer:
//!
//! ```compile_fail
//! use poolgrad_kernels::{MatMut, MatRef};
//! let mut buf = vec![0.0f32; 4];
//! let a = MatRef::new(&buf, 2, 2, 2, 1).unwrap();
//! let c = MatMut::new(&mut buf, 2, 2, 2, 1).unwrap(); // error: `buf` is already borrowed
//! drop(a);
//! ```

use crate::error::{KernelError, Result};

/// Smallest slice length a `rows×cols` view with these strides needs.
fn required_len(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    (rows - 1)
        .checked_mul(row_stride)?
        .checked_add((cols - 1).checked_mul(col_stride)?)?
        .checked_add(1)
}

/// An immutable, bounds-checked, strided view of an f32 matrix.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// Builds a view of `data`; element `(i, j)` is `data[i*row_stride + j*col_stride]`.
    ///
    /// # Errors
    /// [`KernelError::OutOfBounds`] when some addressed element lies outside `data`.
    pub fn new(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self> {
        match required_len(rows, cols, row_stride, col_stride) {
            Some(need) if need <= data.len() => Ok(Self {
                data,
                rows,
                cols,
                row_stride,
                col_stride,
            }),
            _ => Err(KernelError::OutOfBounds {
                view: "MatRef",
                rows,
                cols,
                row_stride,
                col_stride,
                len: data.len(),
            }),
        }
    }

    /// A contiguous row-major view (`row_stride = cols`, `col_stride = 1`).
    ///
    /// # Errors
    /// [`KernelError::OutOfBounds`] when `data` is shorter than `rows*cols`.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Result<Self> {
        Self::new(data, rows, cols, cols, 1)
    }

    /// The transposed view: same memory, swapped dims and strides.
    pub fn t(&self) -> MatRef<'a> {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Distance between consecutive rows, in elements.
    pub fn row_stride(&self) -> usize {
        self.row_stride
    }
    /// Distance between consecutive columns, in elements.
    pub fn col_stride(&self) -> usize {
        self.col_stride
    }
    /// The whole underlying slice (the view addresses a subset of it).
    pub fn as_slice(&self) -> &'a [f32] {
        self.data
    }
    /// Element `(i, j)`; panics only when `(i, j)` is outside the view's shape.
    #[inline(always)]
    pub fn at(&self, i: usize, j: usize) -> f32 {
        debug_assert!(i < self.rows && j < self.cols);
        self.data[i * self.row_stride + j * self.col_stride]
    }
    /// The sub-view of rows `r0..r0+rows` and columns `c0..c0+cols`.
    ///
    /// # Errors
    /// [`KernelError::OutOfBounds`] when the block leaves the view.
    pub fn block(&self, r0: usize, c0: usize, rows: usize, cols: usize) -> Result<MatRef<'a>> {
        let fits = |start: usize, len: usize, limit: usize| {
            start.checked_add(len).is_some_and(|end| end <= limit)
        };
        if !fits(r0, rows, self.rows) || !fits(c0, cols, self.cols) {
            return Err(self.block_error(rows, cols));
        }
        let start = if rows == 0 || cols == 0 {
            0
        } else {
            r0 * self.row_stride + c0 * self.col_stride
        };
        MatRef::new(
            &self.data[start..],
            rows,
            cols,
            self.row_stride,
            self.col_stride,
        )
    }

    fn block_error(&self, rows: usize, cols: usize) -> KernelError {
        KernelError::OutOfBounds {
            view: "MatRef",
            rows,
            cols,
            row_stride: self.row_stride,
            col_stride: self.col_stride,
            len: self.data.len(),
        }
    }

    /// Address range `[start, end)` of the elements this view can touch.
    pub(crate) fn addr_range(&self) -> (usize, usize) {
        let need =
            required_len(self.rows, self.cols, self.row_stride, self.col_stride).unwrap_or(0);
        let start = self.data.as_ptr() as usize;
        (start, start + need * std::mem::size_of::<f32>())
    }
}

/// A mutable, bounds-checked, strided view of an f32 matrix whose positions never alias.
#[derive(Debug)]
pub struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> MatMut<'a> {
    /// Builds a mutable view of `data`; element `(i, j)` is `data[i*row_stride + j*col_stride]`.
    ///
    /// # Errors
    /// [`KernelError::OutOfBounds`] when an addressed element lies outside `data`;
    /// [`KernelError::SelfOverlap`] when two positions map onto one element.
    pub fn new(
        data: &'a mut [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self> {
        match required_len(rows, cols, row_stride, col_stride) {
            Some(need) if need <= data.len() => {}
            _ => {
                return Err(KernelError::OutOfBounds {
                    view: "MatMut",
                    rows,
                    cols,
                    row_stride,
                    col_stride,
                    len: data.len(),
                });
            }
        }
        if !positions_are_distinct(rows, cols, row_stride, col_stride) {
            return Err(KernelError::SelfOverlap {
                rows,
                cols,
                row_stride,
                col_stride,
            });
        }
        Ok(Self {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        })
    }

    /// A contiguous row-major mutable view.
    ///
    /// # Errors
    /// [`KernelError::OutOfBounds`] when `data` is shorter than `rows*cols`.
    pub fn row_major(data: &'a mut [f32], rows: usize, cols: usize) -> Result<Self> {
        Self::new(data, rows, cols, cols, 1)
    }

    /// The transposed mutable view: same memory, swapped dims and strides.
    pub fn t(self) -> MatMut<'a> {
        MatMut {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// Reborrows this view for a shorter lifetime.
    pub fn rb(&mut self) -> MatMut<'_> {
        MatMut {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
            row_stride: self.row_stride,
            col_stride: self.col_stride,
        }
    }

    /// An immutable view of the same elements.
    pub fn as_ref(&self) -> MatRef<'_> {
        MatRef {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
            row_stride: self.row_stride,
            col_stride: self.col_stride,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Distance between consecutive rows, in elements.
    pub fn row_stride(&self) -> usize {
        self.row_stride
    }
    /// Distance between consecutive columns, in elements.
    pub fn col_stride(&self) -> usize {
        self.col_stride
    }
    /// The whole underlying slice.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        self.data
    }
    /// Element `(i, j)`.
    #[inline(always)]
    pub fn at(&self, i: usize, j: usize) -> f32 {
        debug_assert!(i < self.rows && j < self.cols);
        self.data[i * self.row_stride + j * self.col_stride]
    }
    /// Mutable element `(i, j)`.
    #[inline(always)]
    pub fn at_mut(&mut self, i: usize, j: usize) -> &mut f32 {
        debug_assert!(i < self.rows && j < self.cols);
        &mut self.data[i * self.row_stride + j * self.col_stride]
    }

    /// Splits into the rows `0..r` and `r..rows` (both still checked views).
    ///
    /// The split is only possible when rows do not interleave in memory, i.e. when
    /// `row_stride >= cols*col_stride` (row-major-like); otherwise `None`.
    pub fn split_rows(self, r: usize) -> Option<(MatMut<'a>, MatMut<'a>)> {
        if r > self.rows {
            return None;
        }
        let interleaved =
            self.cols > 1 && self.rows > 1 && self.row_stride < self.cols * self.col_stride;
        if interleaved {
            return None;
        }
        // Rows r.. start at r*row_stride; when r == rows the bottom part is empty.
        let cut = if r == self.rows {
            self.data.len()
        } else {
            r * self.row_stride
        };
        let (top, bottom) = self.data.split_at_mut(cut);
        let (rs, cs, cols) = (self.row_stride, self.col_stride, self.cols);
        let top = MatMut {
            data: top,
            rows: r,
            cols,
            row_stride: rs,
            col_stride: cs,
        };
        let bottom = MatMut {
            data: bottom,
            rows: self.rows - r,
            cols,
            row_stride: rs,
            col_stride: cs,
        };
        Some((top, bottom))
    }

    /// Splits into the columns `0..c` and `c..cols`; `None` when columns interleave.
    pub fn split_cols(self, c: usize) -> Option<(MatMut<'a>, MatMut<'a>)> {
        let (left, right) = self.t().split_rows(c)?;
        Some((left.t(), right.t()))
    }

    /// Address range `[start, end)` of the elements this view can touch.
    pub(crate) fn addr_range(&self) -> (usize, usize) {
        let need =
            required_len(self.rows, self.cols, self.row_stride, self.col_stride).unwrap_or(0);
        let start = self.data.as_ptr() as usize;
        (start, start + need * std::mem::size_of::<f32>())
    }
}

/// True when `(i, j) -> i*rs + j*cs` is injective over the shape, using the standard
/// sufficient condition that one stride steps over the whole extent of the other.
fn positions_are_distinct(rows: usize, cols: usize, rs: usize, cs: usize) -> bool {
    // An empty view addresses nothing, whatever its strides (e.g. `row_major(&mut [], 2, 0)`
    // has row stride 0).
    if rows == 0 || cols == 0 || (rows == 1 && cols == 1) {
        return true;
    }
    if rows <= 1 {
        return cs > 0;
    }
    if cols <= 1 {
        return rs > 0;
    }
    rs > 0 && cs > 0 && (rs >= cols * cs || cs >= rows * rs)
}

/// True when two address ranges intersect (empty ranges never do).
pub(crate) fn ranges_overlap(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < a.1 && b.0 < b.1 && a.0 < b.1 && b.0 < a.1
}
