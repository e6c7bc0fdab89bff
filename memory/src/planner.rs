//! `planner`: liveness analysis before backward, then a static plan of offsets into one arena.
//!
//! Placement is greedy best-fit (Pisarchyk & Lee 2020, "Efficient Memory Management for Deep
//! Neural Net Inference"): buffers are placed one by one in a given order, each into the
//! smallest gap between already-placed buffers whose lifetimes overlap its own, or on top.
//! Like XLA's heap simulator, several orders are tried (by size, by lifetime length, by
//! start, by size × lifetime) and the smallest arena wins.
//!
//! The plan is reused while the `LivenessInfo` (the tape's shape signature) is unchanged, so
//! a steady loop allocates nothing after its first step. A `plan` call with a different
//! signature re-plans (logged at info level) and grows the arena only when the new plan needs
//! more. An `allocate` the plan does not cover is an error, and so is one whose region would
//! overlap a live buffer (the caller broke the lifetimes it announced): never a silent alias.

use crate::allocator::GradAllocator;
use crate::error::{MemError, Result};
use crate::liveness::{GradId, GradLife, LivenessInfo};
use crate::storage::{GradBuf, GradStorage};

const F32: usize = std::mem::size_of::<f32>();

/// Offsets of buffers of at least this many elements are multiples of it (64 bytes: a cache
/// line, relative to the arena start).
pub const ALIGN_ELEMS: usize = 16;

/// Alignment of smaller buffers (16 bytes).
pub const SMALL_ALIGN_ELEMS: usize = 4;

/// Placement orders tried, by name.
pub const ORDERS: [&str; 4] = ["size", "lifetime", "start", "area"];

/// Above this many gradients only the `size` order is tried (placement is quadratic).
const ALL_ORDERS_MAX: usize = 4096;

/// A static placement: for each gradient of a `LivenessInfo`, an element offset in one arena.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// `(id, offset, numel)` in the order of the liveness records.
    pub placements: Vec<(GradId, usize, usize)>,
    /// Arena length in elements: the largest `offset + padded numel`.
    pub arena_len: usize,
    /// The order that produced this plan (one of [`ORDERS`]).
    pub order: &'static str,
    /// Lower bound of the liveness, in bytes.
    pub lower_bound_bytes: usize,
}

impl Plan {
    /// Arena size in bytes.
    pub fn arena_bytes(&self) -> usize {
        self.arena_len * F32
    }

    /// `arena_bytes / lower_bound_bytes` (1.0 for an empty plan).
    pub fn ratio(&self) -> f64 {
        if self.lower_bound_bytes == 0 {
            1.0
        } else {
            self.arena_bytes() as f64 / self.lower_bound_bytes as f64
        }
    }
}

/// Alignment (in elements) of a buffer of `numel`: a cache line for all but tiny buffers,
/// which get 16 bytes so that a scalar gradient does not cost 64.
pub fn align_of(numel: usize) -> usize {
    if numel >= ALIGN_ELEMS {
        ALIGN_ELEMS
    } else {
        SMALL_ALIGN_ELEMS
    }
}

/// The span a buffer occupies in the arena: `numel` rounded up to its alignment.
pub fn padded(numel: usize) -> usize {
    numel.next_multiple_of(align_of(numel))
}

fn lifetime(l: &GradLife, horizon: usize) -> usize {
    l.end().min(horizon) - l.first_def + 1
}

/// Places the records in `order` greedily; returns offsets (by record index) and arena length.
fn place(lives: &[GradLife], order: &[usize]) -> (Vec<usize>, usize) {
    let mut offsets = vec![0usize; lives.len()];
    // Placed record indices, sorted by offset.
    let mut placed: Vec<usize> = Vec::with_capacity(lives.len());
    let mut arena = 0usize;
    for &i in order {
        let size = padded(lives[i].numel);
        if size == 0 {
            continue;
        }
        let align = align_of(lives[i].numel);
        // End of the conflicting buffers seen so far, in offset order; best = (gap, offset).
        let (mut top, mut best): (usize, Option<(usize, usize)>) = (0, None);
        for &j in &placed {
            if !lives[i].overlaps_in_time(&lives[j]) {
                continue;
            }
            let start = offsets[j];
            let at = top.next_multiple_of(align);
            if start >= at + size {
                let gap = start - top;
                if best.is_none_or(|(g, _)| gap < g) {
                    best = Some((gap, at));
                }
            }
            top = top.max(start + padded(lives[j].numel));
        }
        let off = best.map_or(top.next_multiple_of(align), |(_, o)| o);
        offsets[i] = off;
        arena = arena.max(off + size);
        let pos = placed.partition_point(|&j| offsets[j] <= off);
        placed.insert(pos, i);
    }
    (offsets, arena)
}

/// Plans offsets for `info`, keeping the smallest arena over [`ORDERS`].
///
/// # Errors
/// [`MemError::InvalidLiveness`] for a repeated id.
pub fn plan_offsets(info: &LivenessInfo) -> Result<Plan> {
    info.validate()?;
    let lives = info.lives();
    let horizon = lives
        .iter()
        .map(|l| l.first_def.max(l.last_use))
        .max()
        .unwrap_or(0)
        + 1;
    let by_size = |i: &usize| (std::cmp::Reverse(lives[*i].numel), lives[*i].first_def);
    let by_life = |i: &usize| {
        let l = &lives[*i];
        (
            std::cmp::Reverse(lifetime(l, horizon)),
            std::cmp::Reverse(l.numel),
        )
    };
    let by_start = |i: &usize| (lives[*i].first_def, std::cmp::Reverse(lives[*i].numel));
    let by_area = |i: &usize| {
        let l = &lives[*i];
        std::cmp::Reverse(l.numel as u128 * lifetime(l, horizon) as u128)
    };
    let mut best: Option<(Vec<usize>, usize, &'static str)> = None;
    let tries = if lives.len() > ALL_ORDERS_MAX {
        1
    } else {
        ORDERS.len()
    };
    for (k, name) in ORDERS.iter().enumerate().take(tries) {
        let mut order: Vec<usize> = (0..lives.len()).collect();
        match k {
            0 => order.sort_by_key(by_size),
            1 => order.sort_by_key(by_life),
            2 => order.sort_by_key(by_start),
            _ => order.sort_by_key(by_area),
        }
        let (offsets, arena) = place(lives, &order);
        if best.as_ref().is_none_or(|(_, a, _)| arena < *a) {
            best = Some((offsets, arena, name));
        }
    }
    let (offsets, arena_len, order) = best.unwrap_or((Vec::new(), 0, ORDERS[0]));
    Ok(Plan {
        placements: lives
            .iter()
            .zip(&offsets)
            .map(|(l, &o)| (l.id, o, l.numel))
            .collect(),
        arena_len,
        order,
        lower_bound_bytes: info.lower_bound_bytes(),
    })
}

/// Serves every gradient from its planned region of one arena.
#[derive(Debug)]
pub struct PlannerAllocator {
    storage: GradStorage,
    arena: Option<usize>,
    signature: Option<LivenessInfo>,
    plan: Option<Plan>,
    /// `(offset, numel)` by `GradId.0`.
    slots: Vec<Option<(usize, usize)>>,
    /// Live regions `(id, offset, len)`, to catch callers that break the announced lifetimes.
    live_regions: Vec<(GradId, usize, usize)>,
    replans: u64,
}

impl PlannerAllocator {
    /// A new planner with no plan and no arena.
    pub fn new() -> PlannerAllocator {
        PlannerAllocator {
            storage: GradStorage::new("planner"),
            arena: None,
            signature: None,
            plan: None,
            slots: Vec::new(),
            live_regions: Vec::new(),
            replans: 0,
        }
    }

    /// The current plan, if any.
    pub fn current_plan(&self) -> Option<&Plan> {
        self.plan.as_ref()
    }

    /// How many times a plan was built (1 in a steady loop).
    pub fn plans_built(&self) -> u64 {
        self.replans
    }

    /// Arena length in elements (0 before the first plan).
    pub fn arena_len(&self) -> usize {
        self.arena.map_or(0, |b| self.storage.block_len(b))
    }
}

impl Default for PlannerAllocator {
    fn default() -> Self {
        PlannerAllocator::new()
    }
}

impl GradAllocator for PlannerAllocator {
    fn name(&self) -> &'static str {
        "planner"
    }

    fn storage(&self) -> &GradStorage {
        &self.storage
    }

    fn storage_mut(&mut self) -> &mut GradStorage {
        &mut self.storage
    }

    fn plan(&mut self, liveness: &LivenessInfo) -> Result<()> {
        if self.storage.live_count() > 0 {
            return Err(MemError::PlanWhileLive {
                allocator: "planner".to_string(),
                live: self.storage.live_count(),
            });
        }
        if self.signature.as_ref() == Some(liveness) {
            return Ok(());
        }
        let plan = plan_offsets(liveness)?;
        match &self.signature {
            None => log::info!(
                "planner: planned {} gradients into {} bytes (lower bound {} bytes, ratio {:.3}, order '{}')",
                liveness.len(),
                plan.arena_bytes(),
                plan.lower_bound_bytes,
                plan.ratio(),
                plan.order
            ),
            Some(old) => log::info!(
                "planner: tape signature changed ({} -> {} gradients), re-planned into {} bytes (lower bound {} bytes, ratio {:.3}, order '{}')",
                old.len(),
                liveness.len(),
                plan.arena_bytes(),
                plan.lower_bound_bytes,
                plan.ratio(),
                plan.order
            ),
        }
        // Grow the arena only when the new plan needs more.
        let have = self.arena_len();
        let arena = match self.arena {
            Some(block) => block,
            None => *self.arena.insert(self.storage.insert_block(Vec::new())),
        };
        if plan.arena_len > have {
            self.storage
                .replace_block(arena, vec![0.0f32; plan.arena_len]);
            let stats = self.storage.stats_mut();
            stats.sub_reserved(have * F32);
            stats.add_reserved(plan.arena_len * F32);
        }
        self.slots.clear();
        for &(id, offset, numel) in &plan.placements {
            if self.slots.len() <= id.0 {
                self.slots.resize(id.0 + 1, None);
            }
            self.slots[id.0] = Some((offset, numel));
        }
        self.storage.stats_mut().lower_bound_bytes = plan.lower_bound_bytes;
        match &mut self.signature {
            Some(sig) => sig.clone_from(liveness),
            None => self.signature = Some(liveness.clone()),
        }
        self.plan = Some(plan);
        self.replans += 1;
        Ok(())
    }

    fn allocate(&mut self, id: GradId, numel: usize) -> Result<GradBuf> {
        self.serve(id, numel, true)
    }

    fn allocate_for_overwrite(&mut self, id: GradId, numel: usize) -> Result<GradBuf> {
        self.serve(id, numel, false)
    }

    fn release(&mut self, buf: GradBuf) -> Result<()> {
        self.storage.unbind(&buf)?;
        if let Some(pos) = self.live_regions.iter().position(|r| r.0 == buf.id()) {
            self.live_regions.swap_remove(pos);
        }
        Ok(())
    }
}

impl PlannerAllocator {
    /// The planned region of gradient `id`, zeroed when `zero`.
    #[inline]
    fn serve(&mut self, id: GradId, numel: usize, zero: bool) -> Result<GradBuf> {
        let Some(arena) = self.arena.filter(|_| self.plan.is_some()) else {
            return Err(MemError::NoPlan { id, numel });
        };
        let offset = match self.slots.get(id.0).copied().flatten() {
            Some((offset, planned)) if planned == numel => offset,
            Some((_, planned)) => {
                return Err(MemError::NotInPlan {
                    id,
                    numel,
                    planned: Some(planned),
                });
            }
            None => {
                return Err(MemError::NotInPlan {
                    id,
                    numel,
                    planned: None,
                });
            }
        };
        if self.storage.is_live(id) {
            return Err(MemError::AlreadyLive {
                allocator: "planner".to_string(),
                id,
            });
        }
        if numel > 0 {
            let end = offset + numel;
            if let Some(&(other, _, _)) = self
                .live_regions
                .iter()
                .find(|&&(_, o, l)| o < end && offset < o + l)
            {
                return Err(MemError::LifetimeViolation { id, live: other });
            }
        }
        let buf = self.storage.bind(id, arena, offset, numel, numel, zero)?;
        self.storage.stats_mut().reuses += 1;
        if numel > 0 {
            self.live_regions.push((id, offset, numel));
        }
        Ok(buf)
    }
}
