//! What a kernel is asked to compute: `Accum`, `Par`, and the `Problem` description that
//! `supports`, `cost_hint` and the scheduler's key are computed from.

use crate::view::{MatMut, MatRef};

/// Whether a matmul overwrites C or adds to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Accum {
    /// `C = A·B`; C's previous contents are never read (NaN in C stays out of the result).
    Replace,
    /// `C += A·B`.
    Add,
}

/// How much parallelism a kernel may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Par {
    /// Run on the calling thread only.
    Seq,
    /// Use up to this many rayon threads (kernels stay serial below their work threshold).
    Rayon(usize),
}

impl Par {
    /// The number of threads this setting allows (at least 1).
    pub fn threads(self) -> usize {
        match self {
            Par::Seq => 1,
            Par::Rayon(n) => n.max(1),
        }
    }
}

/// Memory layout class of one operand, as the scheduler keys on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layout {
    /// Unit column stride (rows contiguous).
    RowMajor,
    /// Unit row stride (columns contiguous), e.g. a transposed row-major matrix.
    ColMajor,
    /// Neither stride is 1.
    Strided,
}

impl Layout {
    /// Classifies a view by its strides; a single column counts as row-major and a single
    /// row as column-major, since the unused stride says nothing.
    pub fn of(rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> Layout {
        if col_stride == 1 || cols <= 1 {
            Layout::RowMajor
        } else if row_stride == 1 || rows <= 1 {
            Layout::ColMajor
        } else {
            Layout::Strided
        }
    }

    /// A one-letter code: `r`, `c` or `s`.
    pub fn code(self) -> char {
        match self {
            Layout::RowMajor => 'r',
            Layout::ColMajor => 'c',
            Layout::Strided => 's',
        }
    }
}

/// The shape and layout of one `C (m×n) = A (m×k) · B (k×n)` call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Problem {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: Layout,
    pub b: Layout,
    pub c: Layout,
}

impl Problem {
    /// A problem on row-major operands.
    pub fn new(m: usize, n: usize, k: usize) -> Problem {
        Problem {
            m,
            n,
            k,
            a: Layout::RowMajor,
            b: Layout::RowMajor,
            c: Layout::RowMajor,
        }
    }

    /// The problem that these (already dimension-checked) views describe.
    pub fn of(a: &MatRef<'_>, b: &MatRef<'_>, c: &MatMut<'_>) -> Problem {
        Problem {
            m: a.rows(),
            n: b.cols(),
            k: a.cols(),
            a: Layout::of(a.rows(), a.cols(), a.row_stride(), a.col_stride()),
            b: Layout::of(b.rows(), b.cols(), b.row_stride(), b.col_stride()),
            c: Layout::of(c.rows(), c.cols(), c.row_stride(), c.col_stride()),
        }
    }

    /// Floating-point operations of the plain algorithm: `2·m·n·k`.
    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.n as f64 * self.k as f64
    }
}
