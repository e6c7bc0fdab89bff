//! poolgrad-core: tensors, the autograd tape, ops with their gradients, nn and optimizers.
//!
//! # Model
//! A [`Graph`] records every op on a tape as it runs (forward), in creation order, which is
//! already a topological order. [`Graph::backward`] walks the tape once in reverse, without
//! recursion, visiting only the nodes between the loss and some param, and each op's
//! backward adds (`+=`) into its inputs' gradients. [`Var`] is a small `Copy` handle that
//! knows its graph and tape generation, so misuse is an error, not a wrong answer.
//! Params live beside the tape and survive [`Graph::reset`], which drops the tape after a
//! step. Each op lives in one file under `ops/`, its forward and backward side by side.
//! Matmuls (forward and both backward products, via transposed views) run through the
//! scheduler's kernel choice.
//!
//! # Memory
//! - Gradients: every intermediate gradient buffer used by backward comes from and goes
//!   back to one [`GradStore`] (`grad_store.rs`), which drives a
//!   `poolgrad_memory::GradAllocator`: chosen by `POOLGRAD_ALLOCATOR` in [`Graph::new`]
//!   (default `planner`), by name with [`Graph::with_allocator`], or set with
//!   [`Graph::set_allocator`]. Before a walk the allocator is shown the liveness of the
//!   [`BackwardPlan`] (visit order, and each gradient's first write and last read); a
//!   gradient is allocated at its first write and released right after its last read. Ops
//!   get slices lent to them. Param gradients are kept by the graph, outside the allocator
//!   (no copy; reused across steps). The first write of a gradient replaces
//!   (`Accum::Replace`), so results are bit-identical under every allocator.
//! - Activations: op outputs (and saved softmax probabilities) come from a free list keyed
//!   by length that [`Graph::reset`] refills, so a steady loop reuses its forward buffers;
//!   [`Graph::constant_from_slice`] copies inputs into such a buffer. Optimizer state is
//!   allocated once. With `planner`, a steady training step allocates nothing.
//! - Statistics: [`Graph::mem_stats`] (the allocator's `MemStats`, param gradient bytes,
//!   ActivationBytes, TempBytes of the kernels' packing buffers) and, opt-in, the live and
//!   reserved bytes at every backward step ([`Graph::set_trace_backward`]).
//! - Matmuls run through the process-wide scheduler (`poolgrad_scheduler::global()`), so
//!   calibration is shared by every graph; [`Graph::with_scheduler`] gives a graph its own.
//!
//! # Errors
//! Everything a user can get wrong returns [`CoreError`], naming the op, the shapes or
//! values, and what is accepted; a failed op leaves the graph unchanged. The opt-in anomaly
//! check ([`Graph::set_detect_anomaly`], or `POOLGRAD_DETECT_ANOMALY=1`) names the first op
//! whose output holds NaN or infinity.
//!
//! ```
//! use poolgrad_core::{Graph, Tensor, nn, optim};
//! # fn main() -> Result<(), poolgrad_core::CoreError> {
//! let mut g = Graph::new()?;
//! let mlp = nn::Mlp::new(&mut g, &[4, 8, 3], nn::Activation::Relu, 0)?;
//! let mut opt = optim::Sgd::new(0.1).momentum(0.9);
//! for _ in 0..3 {
//!     let x = g.constant(Tensor::randn(&[2, 4], 1)?);
//!     let logits = mlp.forward(&mut g, x)?;
//!     let loss = g.softmax_cross_entropy(logits, &[0, 2])?;
//!     g.backward(loss)?;
//!     opt.step(&mut g)?;
//!     g.reset();
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod backward;
mod error;
pub mod grad_store;
pub mod gradcheck;
mod graph;
pub mod nn;
mod ops;
pub mod optim;
mod parallel;
mod rng;
mod size_map;
mod tensor;

pub use error::{CoreError, Result};
pub use grad_store::{BackwardPlan, BackwardTrace, GradLife, GradOwner, GradStore};
pub use gradcheck::{GradcheckOptions, GradcheckReport, gradcheck};
pub use graph::{ANOMALY_ENV, Graph, Var};
pub use rng::Rng;
pub use tensor::{MAX_RANK, Shape, Tensor};
