//! The one error type of the kernels crate: every variant names what was wrong and what is
//! accepted, so a user never has to guess.

use std::fmt;

/// Result alias used throughout poolgrad-kernels.
pub type Result<T, E = KernelError> = std::result::Result<T, E>;

/// Everything a caller of the kernels crate can get wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelError {
    /// A view addresses an element outside its slice.
    OutOfBounds {
        /// `"MatRef"` or `"MatMut"`.
        view: &'static str,
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
        /// Length of the slice the view was built on.
        len: usize,
    },
    /// A mutable view whose strides map two (row, col) positions onto one element.
    SelfOverlap {
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    },
    /// The output of a matmul shares memory with one of its inputs.
    OutputOverlapsInput {
        /// `"a"` or `"b"`.
        input: &'static str,
    },
    /// `C (m×n) = A (m×k) · B (k×n)` does not hold for the given shapes.
    DimMismatch {
        /// The operation, e.g. `"matmul"` or a kernel name.
        op: String,
        a: (usize, usize),
        b: (usize, usize),
        c: (usize, usize),
    },
    /// The kernel cannot run this problem (missing CPU feature, shape limits).
    Unsupported { kernel: String, reason: String },
    /// No kernel with this name is registered.
    UnknownKernel { name: String, known: Vec<String> },
    /// Two kernels registered under one name.
    DuplicateKernel { name: String },
    /// An environment variable holds a value poolgrad does not accept.
    InvalidEnv {
        var: &'static str,
        value: String,
        accepted: String,
    },
    /// A setting given in code is out of range.
    InvalidSetting {
        name: &'static str,
        value: String,
        accepted: String,
    },
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelError::OutOfBounds {
                view,
                rows,
                cols,
                row_stride,
                col_stride,
                len,
            } => write!(
                f,
                "{view}: a {rows}x{cols} view with row stride {row_stride} and column stride \
                 {col_stride} addresses elements past the end of its slice of length {len} \
                 (it needs at least {})",
                // Checked: the strides that caused the error may overflow this sum.
                match (rows.checked_sub(1), cols.checked_sub(1)) {
                    (Some(r), Some(c)) => r
                        .checked_mul(*row_stride)
                        .and_then(|x| x.checked_add(c.checked_mul(*col_stride)?))
                        .and_then(|x| x.checked_add(1))
                        .map_or_else(|| format!("more than {}", usize::MAX), |n| n.to_string()),
                    _ => "0".to_string(),
                }
            ),
            KernelError::SelfOverlap {
                rows,
                cols,
                row_stride,
                col_stride,
            } => write!(
                f,
                "MatMut: a {rows}x{cols} view with row stride {row_stride} and column stride \
                 {col_stride} maps several positions onto one element; a mutable view needs \
                 row_stride >= cols*col_stride or col_stride >= rows*row_stride (strides > 0)"
            ),
            KernelError::OutputOverlapsInput { input } => {
                write!(
                    f,
                    "matmul: the output C overlaps input {input}; C must be its own memory"
                )
            }
            KernelError::DimMismatch { op, a, b, c } => write!(
                f,
                "{op}: shapes do not fit C = A·B: A is {}x{}, B is {}x{}, C is {}x{}; \
                 accepted: A m×k, B k×n, C m×n",
                a.0, a.1, b.0, b.1, c.0, c.1
            ),
            KernelError::Unsupported { kernel, reason } => {
                write!(f, "kernel `{kernel}` cannot run this problem: {reason}")
            }
            KernelError::UnknownKernel { name, known } => write!(
                f,
                "unknown kernel `{name}`; registered kernels: {}",
                known.join(", ")
            ),
            KernelError::DuplicateKernel { name } => write!(
                f,
                "two kernels are registered under the name `{name}`; kernel names must be unique"
            ),
            KernelError::InvalidEnv {
                var,
                value,
                accepted,
            } => {
                write!(f, "{var}={value:?} is not valid; accepted: {accepted}")
            }
            KernelError::InvalidSetting {
                name,
                value,
                accepted,
            } => {
                write!(f, "{name} = {value} is not valid; accepted: {accepted}")
            }
        }
    }
}

impl std::error::Error for KernelError {}
