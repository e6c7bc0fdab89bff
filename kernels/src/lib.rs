//! poolgrad-kernels: matrix views, the [`MatmulKernel`] plugin trait, the kernel registry,
//! and the built-in kernels (`naive`, `tiled`, `packed`, `mp`).
//!
//! Conventions: `C (m×n) = A (m×k) · B (k×n)`; operands are [`MatRef`]/[`MatMut`] views
//! (slice + rows, cols, row stride, column stride) checked once when built, so kernels index
//! without further checks; a transposed operand is a view with swapped strides. Every
//! `POOLGRAD_*` knob is parsed in [`settings`]. `unsafe` lives only in the SIMD
//! microkernels, the packing routines and the wide element-wise wrapper (`wide.rs`), each
//! block with its `SAFETY:` line.

mod error;
mod isa;
mod kernel;
mod problem;
mod registry;
mod settings;
mod view;
mod wide;

pub mod mp;
pub mod naive;
pub mod packed;
pub mod peak;
pub mod tiled;

pub use error::{KernelError, Result};
pub use isa::Isa;
pub use kernel::{MatmulKernel, check_operands};
pub use packed::{run_chunks, run_parts, scratch_bytes};
pub use peak::measure_fma_peak;
pub use problem::{Accum, Layout, Par, Problem};
pub use registry::{BUILTIN_ORDER, KernelEntry, Registry, registry};
pub use settings::{MpSettings, Settings, settings};
pub use view::{MatMut, MatRef};
pub use wide::with_wide_vectors;

#[doc(hidden)]
pub use inventory;
