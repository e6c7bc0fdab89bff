//! poolgrad-memory: gradient allocators (`system`, `pool`, `planner`) and their statistics.
//!
//! This crate owns where gradient data lives during backward. A [`GradAllocator`] is a policy
//! over a [`GradStorage`] (blocks of `f32` plus checked handles): it hands out zeroed
//! [`GradBuf`] handles and takes them back, and reports [`MemStats`], including the lower
//! bound of the pass computed from its [`LivenessInfo`]. It knows nothing of tensors or tapes:
//! poolgrad-core depends on it, never the reverse.
//!
//! Allocators register by name like kernels ([`register_allocator!`]) and are chosen with
//! `POOLGRAD_ALLOCATOR=system|pool|planner` ([`allocator_from_env`]) or in code
//! ([`create`]).
//!
//! # Driving it from a backward pass
//!
//! Steps are numbered in backward order (0 = the first node processed). Per pass:
//! 1. Build a [`LivenessInfo`] from the tape (reuse one value: `clear` then `push`): for each
//!    gradient that backward will produce, its `numel`, `first_def` (the step of its first
//!    `+=`), `last_use` (the step that reads it to propagate further) and `kept` (param
//!    gradients, read after backward).
//! 2. `alloc.plan(&liveness)?` then `alloc.begin_step()?`.
//! 3. At each step: `allocate(id, numel)` for every gradient whose `first_def` is this step;
//!    take the slices with `split_mut([&dc, &da, &db])` (reading `dC`, accumulating into
//!    `dA`, `dB`); after the step, `release` every gradient whose `last_use` it was.
//! 4. After backward, read (or copy out) the kept gradients, `release` them, `end_step()?`.
//!
//! poolgrad-core drives it this way for intermediate gradients and keeps param gradients
//! outside the allocator (persistent tensors, reported as
//! [`RuntimeMemStats::param_grad_bytes`]), so an allocator's [`MemStats`] there describe the
//! intermediate gradients.
//!
//! ```
//! use poolgrad_memory::{create, GradAllocator, GradId, GradLife, LivenessInfo};
//! # fn main() -> Result<(), poolgrad_memory::MemError> {
//! let mut alloc = create("planner")?;
//! // loss grad (id 2) at step 0; it produces dx (id 1, kept) and dy (id 0) at step 0.
//! let live = LivenessInfo::from_lives([
//!     GradLife::temp(2, 4, 0, 0),
//!     GradLife::kept(1, 4, 0),
//!     GradLife::temp(0, 4, 0, 1),
//! ])?;
//! alloc.plan(&live)?;
//! alloc.begin_step()?;
//! let dl = alloc.allocate(GradId(2), 4)?;
//! let dx = alloc.allocate(GradId(1), 4)?;
//! let dy = alloc.allocate(GradId(0), 4)?;
//! alloc.slice_mut(&dl)?.fill(1.0);
//! let [dl_s, dx_s, dy_s] = alloc.split_mut([&dl, &dx, &dy])?;
//! for i in 0..4 {
//!     dx_s[i] += dl_s[i];
//!     dy_s[i] -= dl_s[i];
//! }
//! alloc.release(dl)?;
//! alloc.release(dy)?;
//! assert_eq!(alloc.slice(&dx)?, &[1.0; 4]);
//! alloc.release(dx)?;
//! alloc.end_step()?;
//! assert!(alloc.stats().peak_reserved_bytes >= alloc.stats().lower_bound_bytes);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod allocator;
mod error;
mod liveness;
pub mod planner;
pub mod pool;
mod registry;
mod stats;
mod storage;
mod system;

pub use allocator::GradAllocator;
pub use error::{MemError, Result};
pub use liveness::{GradId, GradLife, LivenessBuilder, LivenessInfo, lower_bound_bytes};
pub use planner::{Plan, PlannerAllocator, plan_offsets};
pub use pool::PoolAllocator;
pub use registry::{
    ALLOCATOR_ENV, AllocatorEntry, AllocatorRegistry, BUILTIN_ORDER, DEFAULT_ALLOCATOR,
    allocator_from_env, allocator_from_lookup, allocator_name_from_lookup, create, registry,
};
pub use stats::{MemStats, RuntimeMemStats};
pub use storage::{GradBuf, GradStorage};
pub use system::SystemAllocator;

#[doc(hidden)]
pub use inventory;
