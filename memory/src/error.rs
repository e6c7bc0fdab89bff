//! The one error type of poolgrad-memory: each variant names the allocator, the gradient
//! and what was expected, so misuse is reported instead of corrupting buffers.

use crate::liveness::GradId;
use std::fmt;

/// Result alias used throughout poolgrad-memory.
pub type Result<T, E = MemError> = std::result::Result<T, E>;

/// Everything a caller of poolgrad-memory can get wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemError {
    /// No allocator with this name is registered.
    UnknownAllocator { name: String, known: Vec<String> },
    /// Two allocators registered under one name.
    DuplicateAllocator { name: String },
    /// An environment variable holds a value poolgrad does not accept.
    InvalidEnv {
        var: &'static str,
        value: String,
        accepted: String,
    },
    /// `allocate` for a gradient that already holds a live buffer.
    AlreadyLive { allocator: String, id: GradId },
    /// The handle's gradient holds no live buffer: released twice, or never allocated.
    NotLive { allocator: String, id: GradId },
    /// The handle was issued for an earlier allocation of this gradient (already released).
    StaleHandle { allocator: String, id: GradId },
    /// The handle was issued by a different allocator (or storage).
    ForeignHandle { allocator: String, id: GradId },
    /// Two handles given to `split_mut` refer to overlapping memory (or the same gradient).
    Overlap { a: GradId, b: GradId },
    /// Buffers still live at `end_step` (never released). They have been reclaimed.
    Leaked { allocator: String, ids: Vec<GradId> },
    /// The planner was asked for a buffer before any plan was made.
    NoPlan { id: GradId, numel: usize },
    /// The planner was asked for a buffer its plan does not hold (gradient id or size differ).
    NotInPlan {
        id: GradId,
        numel: usize,
        /// Size the plan holds for this id, `None` when the id is not in the plan at all.
        planned: Option<usize>,
    },
    /// A planned region would overlap a live buffer: the caller allocated before `first_def`
    /// or released after `last_use` of its `LivenessInfo`.
    LifetimeViolation { id: GradId, live: GradId },
    /// `plan` while buffers of the previous step are still live.
    PlanWhileLive { allocator: String, live: usize },
    /// A liveness record that cannot be right.
    InvalidLiveness { id: GradId, reason: String },
}

impl fmt::Display for MemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemError::UnknownAllocator { name, known } => write!(
                f,
                "unknown allocator '{name}'; registered allocators: {}",
                known.join(", ")
            ),
            MemError::DuplicateAllocator { name } => write!(
                f,
                "allocator name '{name}' is registered more than once; names must be unique"
            ),
            MemError::InvalidEnv {
                var,
                value,
                accepted,
            } => write!(f, "{var}='{value}' is not valid; accepted: {accepted}"),
            MemError::AlreadyLive { allocator, id } => write!(
                f,
                "{allocator}: allocate for gradient {id} which already holds a live buffer"
            ),
            MemError::NotLive { allocator, id } => write!(
                f,
                "{allocator}: gradient {id} holds no live buffer (released twice, or never allocated)"
            ),
            MemError::StaleHandle { allocator, id } => write!(
                f,
                "{allocator}: stale handle for gradient {id} (its buffer was released and reissued)"
            ),
            MemError::ForeignHandle { allocator, id } => write!(
                f,
                "{allocator}: the handle for gradient {id} was issued by another allocator"
            ),
            MemError::Overlap { a, b } => write!(
                f,
                "split_mut: buffers of gradients {a} and {b} overlap (or are the same buffer)"
            ),
            MemError::Leaked { allocator, ids } => write!(
                f,
                "{allocator}: {} buffer(s) never released before end_step: gradients {}",
                ids.len(),
                ids.iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            MemError::NoPlan { id, numel } => write!(
                f,
                "planner: allocate(gradient {id}, {numel} elements) before any plan; call plan(&LivenessInfo) first"
            ),
            MemError::NotInPlan { id, numel, planned } => match planned {
                Some(p) => write!(
                    f,
                    "planner: gradient {id} asks for {numel} elements but the plan holds {p}; call plan() with this tape's liveness"
                ),
                None => write!(
                    f,
                    "planner: gradient {id} ({numel} elements) is not in the plan; call plan() with this tape's liveness"
                ),
            },
            MemError::LifetimeViolation { id, live } => write!(
                f,
                "planner: gradient {id}'s planned region overlaps live gradient {live}; allocate at first_def and release at last_use as the LivenessInfo says"
            ),
            MemError::PlanWhileLive { allocator, live } => write!(
                f,
                "{allocator}: plan() while {live} buffer(s) are still live; release them first"
            ),
            MemError::InvalidLiveness { id, reason } => {
                write!(f, "liveness of gradient {id}: {reason}")
            }
        }
    }
}

impl std::error::Error for MemError {}
