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
    #[inline]
    pub fn clear(&mut self) {
        self.lives.clear();
    }

    /// Adds one record.
    ///
    /// # Errors
    /// [`MemError::InvalidLiveness`] when a temporary's `last_use < first_def`.
    #[inline]
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

/// The last liveness an allocator saw and its lower bound, so an unchanged tape costs one
/// comparison and no allocation.
#[derive(Clone, Debug, Default)]
pub(crate) struct LivenessCache {
    last: Option<LivenessInfo>,
    lower_bound_bytes: usize,
}

impl LivenessCache {
    /// Validates and remembers `info` unless it equals the last one; returns its lower bound.
    pub(crate) fn update(&mut self, info: &LivenessInfo) -> Result<usize> {
        if self.last.as_ref() != Some(info) {
            info.validate()?;
            self.lower_bound_bytes = info.lower_bound_bytes();
            match &mut self.last {
                Some(last) => last.clone_from(info),
                None => self.last = Some(info.clone()),
            }
        }
        Ok(self.lower_bound_bytes)
    }
}

/// Builds a [`LivenessInfo`] from a dry run of the backward order, so the autograd engine
/// only says what each step does: which gradients it reads (`use_at`) and which it
/// accumulates into (`def`). Reused across steps (`clear`), it allocates nothing once warm.
///
/// ```
/// use poolgrad_memory::{GradId, LivenessBuilder};
/// // y = x·w (id 2), loss = sum(y) (id 3); w (id 1) is a param, x (id 0) a constant.
/// let mut b = LivenessBuilder::new();
/// b.def(GradId(3), 1, 0);          // step 0: seed d(loss)
/// b.use_at(GradId(3), 0);          // step 0: sum's backward reads d(loss) ...
/// b.def(GradId(2), 6, 0);          // ... and writes dy
/// b.use_at(GradId(2), 1);          // step 1: matmul's backward reads dy ...
/// b.def(GradId(1), 12, 1);         // ... and writes dw
/// b.keep(GradId(1));               // dw is a param gradient
/// let info = b.finish().unwrap();
/// assert_eq!(info.len(), 3);
/// ```
#[derive(Clone, Debug, Default)]
pub struct LivenessBuilder {
    /// Position in `info` by `GradId.0` (`usize::MAX` when absent).
    index: Vec<usize>,
    info: LivenessInfo,
}

impl LivenessBuilder {
    /// An empty builder.
    pub fn new() -> LivenessBuilder {
        LivenessBuilder::default()
    }

    /// Forgets everything, keeping capacity.
    #[inline]
    pub fn clear(&mut self) {
        for l in &self.info.lives {
            self.index[l.id.0] = usize::MAX;
        }
        self.info.clear();
    }

    fn slot(&mut self, id: GradId, numel: usize, step: usize) -> &mut GradLife {
        if self.index.len() <= id.0 {
            self.index.resize(id.0 + 1, usize::MAX);
        }
        if self.index[id.0] == usize::MAX {
            self.index[id.0] = self.info.lives.len();
            self.info
                .lives
                .push(GradLife::temp(id.0, numel, step, step));
        }
        &mut self.info.lives[self.index[id.0]]
    }

    /// Step `step` writes (or accumulates into) gradient `id` of `numel` elements; the first
    /// such step is its `first_def`.
    pub fn def(&mut self, id: GradId, numel: usize, step: usize) {
        let l = self.slot(id, numel, step);
        debug_assert_eq!(l.numel, numel, "gradient {id} defined with two sizes");
        l.first_def = l.first_def.min(step);
        l.last_use = l.last_use.max(step);
    }

    /// Step `step` reads gradient `id`; the last such step is its `last_use`.
    pub fn use_at(&mut self, id: GradId, step: usize) {
        if let Some(&pos) = self.index.get(id.0).filter(|&&p| p != usize::MAX) {
            let l = &mut self.info.lives[pos];
            l.last_use = l.last_use.max(step);
        } else {
            debug_assert!(false, "gradient {id} used before any def");
        }
    }

    /// Marks gradient `id` as kept (a param's): live until released after backward.
    pub fn keep(&mut self, id: GradId) {
        if let Some(&pos) = self.index.get(id.0).filter(|&&p| p != usize::MAX) {
            self.info.lives[pos].kept = true;
        } else {
            debug_assert!(false, "gradient {id} kept before any def");
        }
    }

    /// The liveness built so far.
    ///
    /// # Errors
    /// None today (the builder keeps intervals well-formed); reserved for future checks.
    pub fn finish(&self) -> Result<&LivenessInfo> {
        Ok(&self.info)
    }
}
