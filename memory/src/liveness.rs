//! What the planner needs to know about a backward pass: for each gradient its size and the
//! interval of backward steps during which it must hold its value.
//!
//! Steps are numbered in the order backward runs (0 = the first node processed, usually the
//! loss). Intervals are inclusive: a gradient written at step `first_def` and last read at step
//! `last_use` is live at both, so the step that reads `dC` and writes `dA` sees both live and
//! they never share memory. A *kept* gradient (a param's) stays live from `first_def` to the end
//! of the pass and beyond, until the caller releases it.

use crate::error::{MemError, Result};
use std::fmt;

/// Identifies one gradient: in poolgrad-core, the tape index of the value it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GradId(pub usize);

impl fmt::Display for GradId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The size and lifetime of one gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GradLife {
    pub id: GradId,
    /// Number of f32 elements.
    pub numel: usize,
    /// The backward step that first writes it (allocation happens at or before this step).
    pub first_def: usize,
    /// The backward step that last reads it (release happens after this step). Ignored when
    /// `kept`.
    pub last_use: usize,
    /// Param (leaf) gradient: live until the caller releases it after backward.
    pub kept: bool,
}

impl GradLife {
    /// A temporary gradient live over `[first_def, last_use]`.
    pub fn temp(id: usize, numel: usize, first_def: usize, last_use: usize) -> GradLife {
        GradLife {
            id: GradId(id),
            numel,
            first_def,
            last_use,
            kept: false,
        }
    }

    /// A kept (param) gradient, live from `first_def` to the end.
    pub fn kept(id: usize, numel: usize, first_def: usize) -> GradLife {
        GradLife {
            id: GradId(id),
            numel,
            first_def,
            last_use: first_def,
            kept: true,
        }
    }

    /// The last step it is live at (`usize::MAX` when kept).
    pub fn end(&self) -> usize {
        if self.kept { usize::MAX } else { self.last_use }
    }

    /// Bytes of its data.
    pub fn bytes(&self) -> usize {
        self.numel * std::mem::size_of::<f32>()
    }

    /// Whether two gradients are live at a common step (and so must not share memory).
    pub fn overlaps_in_time(&self, other: &GradLife) -> bool {
        self.first_def <= other.end() && other.first_def <= self.end()
    }
}

/// The liveness of every gradient of one backward pass: the tape's shape signature as far as
/// memory is concerned. Two passes with equal `LivenessInfo` can share one plan.
///
/// Reuse one value across steps (`clear` then `push`) so that building it allocates nothing
/// in a steady loop.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LivenessInfo {
    lives: Vec<GradLife>,
}

impl LivenessInfo {
    /// An empty liveness set.
    pub fn new() -> LivenessInfo {
        LivenessInfo::default()
    }

    /// Builds a liveness set from records, checking each.
    ///
    /// # Errors
    /// As [`LivenessInfo::push`], and [`MemError::InvalidLiveness`] for a repeated id.
    pub fn from_lives(lives: impl IntoIterator<Item = GradLife>) -> Result<LivenessInfo> {
        let mut info = LivenessInfo::new();
        for life in lives {
            info.push(life)?;
        }
        info.validate()?;
        Ok(info)
    }

    /// Forgets every record, keeping the capacity.
    pub fn clear(&mut self) {
        self.lives.clear();
    }

    /// Adds one record.
    ///
    /// # Errors
    /// [`MemError::InvalidLiveness`] when a temporary's `last_use < first_def`.
    pub fn push(&mut self, life: GradLife) -> Result<()> {
        if !life.kept && life.last_use < life.first_def {
            return Err(MemError::InvalidLiveness {
                id: life.id,
                reason: format!(
                    "last_use {} is before first_def {}",
                    life.last_use, life.first_def
                ),
            });
        }
        self.lives.push(life);
        Ok(())
    }

    /// Checks that no id appears twice (`push` does not, to stay cheap).
    ///
    /// # Errors
    /// [`MemError::InvalidLiveness`] naming the repeated id.
    pub fn validate(&self) -> Result<()> {
        let mut ids: Vec<GradId> = self.lives.iter().map(|l| l.id).collect();
        ids.sort_unstable();
        match ids.windows(2).find(|w| w[0] == w[1]) {
            Some(w) => Err(MemError::InvalidLiveness {
                id: w[0],
                reason: "listed more than once".to_string(),
            }),
            None => Ok(()),
        }
    }

    /// The records, in the order they were pushed.
    pub fn lives(&self) -> &[GradLife] {
        &self.lives
    }

    /// Number of gradients.
    pub fn len(&self) -> usize {
        self.lives.len()
    }

    /// True when there are no gradients.
    pub fn is_empty(&self) -> bool {
        self.lives.is_empty()
    }

    /// The record of `id`, if listed.
    pub fn get(&self, id: GradId) -> Option<&GradLife> {
        self.lives.iter().find(|l| l.id == id)
    }

    /// Sum of every gradient's bytes (what a no-reuse allocator would need at worst).
    pub fn total_bytes(&self) -> usize {
        self.lives.iter().map(GradLife::bytes).sum()
    }

    /// See [`lower_bound_bytes`].
    pub fn lower_bound_bytes(&self) -> usize {
        lower_bound_bytes(self)
    }
}

/// The largest total of simultaneously live gradient bytes over the backward order: no
/// allocator that keeps every gradient intact while live can reserve less.
///
/// A sweep over interval starts and ends, `O(n log n)`.
pub fn lower_bound_bytes(info: &LivenessInfo) -> usize {
    // (step, delta): a gradient enters at first_def and leaves at end + 1.
    let mut events: Vec<(usize, isize)> = Vec::with_capacity(2 * info.len());
    for l in info.lives() {
        events.push((l.first_def, l.bytes() as isize));
        if !l.kept && l.last_use < usize::MAX {
            events.push((l.last_use + 1, -(l.bytes() as isize)));
        }
    }
    // At one step, leavings are applied before arrivals.
    events.sort_unstable();
    let (mut live, mut peak) = (0isize, 0isize);
    for (_, delta) in events {
        live += delta;
        peak = peak.max(live);
    }
    peak as usize
}
