//! Gradient memory during backward: every intermediate gradient buffer is obtained from and
//! released to one [`GradStore`], which drives a `poolgrad_memory::GradAllocator`
//! (`system`, `pool`, `planner`, or one registered from outside) through the memory crate's
//! protocol. Before backward starts the store is shown the [`BackwardPlan`] (the lifetime of
//! every gradient), so the allocator can plan.
//!
//! # Protocol, as `Graph::backward` drives it
//! 1. [`GradStore::begin`]: [`BackwardPlan::fill_temp_liveness`] writes the intermediate
//!    gradients' lifetimes into a reused `LivenessInfo` (`first_def = first_step`,
//!    `last_use = last_step`, ids from [`BackwardPlan::grad_id`]), then `alloc.plan(&info)`
//!    and `alloc.begin_step()`. A planner re-plans only when the liveness changed.
//! 2. In `Graph::walk`, at each step: [`GradStore::take`] (`alloc.allocate_for_overwrite`:
//!    no memset, since the first write replaces) for each input
//!    gradient first written at this step; [`GradStore::lend`] (`split_mut`) lends the
//!    output gradient and the inputs' gradient slices to the op at once (ops see only
//!    slices); after the op, [`GradStore::give_back`] (`alloc.release`) the node's own
//!    gradient: this step was its last use.
//! 3. [`GradStore::end`]: `alloc.end_step()` (also after a failed walk, once the graph has
//!    given back what was live).
//!
//! # Param gradients
//! Param (leaf) gradients are *not* in the allocator: the graph keeps one persistent tensor
//! per param, written in place by backward (first write `Accum::Replace`, then `Add`) and
//! read by `Graph::grad` and the optimizers. This costs no copy and no per-step allocation;
//! the bytes are the same under every allocator and are reported apart
//! (`RuntimeMemStats::param_grad_bytes`). So the allocator's `MemStats` (its lower bound
//! included) describe the intermediate gradients only, which is where allocators differ.
//! [`BackwardPlan::fill_liveness`] still gives the whole picture (params `kept`) and
//! [`BackwardPlan::lower_bound_bytes`] its bound.
//!
//! Buffers are handed out with unspecified contents as far as ops are concerned: the first
//! write of each gradient in a backward overwrites it (`Accum::Replace`), later writes add
//! (`Accum::Add`), so results do not depend on the allocator (bit-identical across them).
//! Debug builds fill every handed-out buffer with NaN, so an op that reads before writing
//! fails the tests.

use poolgrad_memory::{GradAllocator, GradBuf, GradId, LivenessInfo, MemError, MemStats};

/// Whose gradient a [`GradLife`] describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GradOwner {
    /// The gradient of the graph's param number `i` (kept after backward).
    Param(u32),
    /// The gradient of tape node `i` (freed at its last use).
    Node(u32),
}

/// Lifetime of one gradient buffer over the backward walk. Steps count the nodes backward
/// visits, in visiting order: step 0 is the loss node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GradLife {
    /// Whose gradient.
    pub owner: GradOwner,
    /// Elements (f32) of the buffer.
    pub numel: usize,
    /// Step at which it is first written (taken from the store).
    pub first_step: u32,
    /// Step after which it is given back; `u32::MAX` for param gradients (kept).
    pub last_step: u32,
}

/// What backward will do, computed before it starts: the visit order and every gradient's
/// lifetime, in order of `first_step`.
#[derive(Clone, Debug, Default)]
pub struct BackwardPlan {
    /// Tape indices of the nodes backward visits, in order (descending index).
    pub order: Vec<u32>,
    /// One entry per gradient buffer, sorted by `first_step`.
    pub lives: Vec<GradLife>,
    /// Nodes on the tape when the plan was made (params' ids start here).
    pub tape_len: usize,
}

impl BackwardPlan {
    /// The lower bound of gradient memory: the largest total of bytes of gradients alive at
    /// once over the walk (a buffer is alive on steps `first_step..=last_step`).
    pub fn lower_bound_bytes(&self) -> usize {
        let steps = self.order.len();
        let mut delta = vec![0isize; steps + 2];
        for life in &self.lives {
            let bytes = (life.numel * std::mem::size_of::<f32>()) as isize;
            let start = life.first_step as usize;
            let end = (life.last_step as usize).min(steps);
            delta[start] += bytes;
            delta[end + 1] -= bytes;
        }
        let (mut live, mut peak) = (0isize, 0isize);
        for d in delta {
            live += d;
            peak = peak.max(live);
        }
        peak as usize
    }

    /// The memory crate's id of a gradient: the tape index for a node, `tape_len + p` for
    /// param `p` (params live beside the tape).
    pub fn grad_id(&self, owner: GradOwner) -> GradId {
        GradId(match owner {
            GradOwner::Node(i) => i as usize,
            GradOwner::Param(p) => self.tape_len + p as usize,
        })
    }

    /// Writes the plan as the memory crate's liveness (cleared first; allocation-free once
    /// `info` has the capacity): `first_def = first_step`, `last_use = last_step`, params
    /// `kept`.
    ///
    /// # Errors
    /// The memory crate's `InvalidLiveness`, which a plan made by `Graph::backward` never
    /// triggers.
    pub fn fill_liveness(&self, info: &mut LivenessInfo) -> Result<(), MemError> {
        self.fill(info, true)
    }

    /// As [`BackwardPlan::fill_liveness`], but only the intermediate (node) gradients: what
    /// the graph's allocator serves (param gradients are kept by the graph).
    ///
    /// # Errors
    /// As [`BackwardPlan::fill_liveness`].
    pub fn fill_temp_liveness(&self, info: &mut LivenessInfo) -> Result<(), MemError> {
        self.fill(info, false)
    }

    fn fill(&self, info: &mut LivenessInfo, params: bool) -> Result<(), MemError> {
        info.clear();
        for l in &self.lives {
            let kept = l.last_step == u32::MAX;
            if kept && !params {
                continue;
            }
            info.push(poolgrad_memory::GradLife {
                id: self.grad_id(l.owner),
                numel: l.numel,
                first_def: l.first_step as usize,
                last_use: if kept { l.first_step } else { l.last_step } as usize,
                kept,
            })?;
        }
        Ok(())
    }

    /// A signature of the shapes the plan covers: equal across steps of a steady training
    /// loop, so a planner may reuse its offsets while it is unchanged.
    pub fn signature(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.order.hash(&mut h);
        for l in &self.lives {
            (l.owner, l.numel, l.first_step, l.last_step).hash(&mut h);
        }
        h.finish()
    }
}

/// Live gradient bytes and reserved bytes at each step of one backward (opt-in, see
/// [`GradStore::set_trace`]): what the report plots per allocator against the lower bound.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackwardTrace {
    /// Bytes of live intermediate gradients during each step (after the step's allocations,
    /// before its release); the maximum equals the allocator's lower bound.
    pub live_bytes: Vec<usize>,
    /// Bytes the allocator held from the system at the same points.
    pub reserved_bytes: Vec<usize>,
}

impl BackwardTrace {
    fn clear(&mut self) {
        self.live_bytes.clear();
        self.reserved_bytes.clear();
    }
}

/// One step's lent buffers: the output gradient and up to two input gradients.
pub type LentSlices<'a> = (&'a mut [f32], [Option<&'a mut [f32]>; 2]);

/// Hands out intermediate gradient buffers during backward through a `GradAllocator`
/// (see the module docs).
#[derive(Debug)]
pub struct GradStore {
    alloc: Box<dyn GradAllocator>,
    liveness: LivenessInfo,
    trace: Option<BackwardTrace>,
}

impl GradStore {
    /// A store over `alloc`.
    pub fn new(alloc: Box<dyn GradAllocator>) -> GradStore {
        GradStore {
            alloc,
            liveness: LivenessInfo::new(),
            trace: None,
        }
    }

    /// The allocator.
    pub fn allocator(&self) -> &dyn GradAllocator {
        self.alloc.as_ref()
    }

    /// Replaces the allocator (none of its buffers may be live: true between backwards);
    /// returns the previous one.
    pub fn set_allocator(&mut self, alloc: Box<dyn GradAllocator>) -> Box<dyn GradAllocator> {
        debug_assert_eq!(self.alloc.storage().live_count(), 0);
        std::mem::replace(&mut self.alloc, alloc)
    }

    /// The allocator's statistics.
    pub fn stats(&self) -> MemStats {
        self.alloc.stats()
    }

    /// Restarts the allocator's peaks from the current values.
    pub fn reset_peaks(&mut self) {
        self.alloc.reset_peaks();
    }

    /// Turns the per-step trace on (kept for the last backward) or off.
    pub fn set_trace(&mut self, on: bool) {
        self.trace = on.then(BackwardTrace::default);
    }

    /// The trace of the last backward, when on.
    pub fn trace(&self) -> Option<&BackwardTrace> {
        self.trace.as_ref()
    }

    /// The liveness given to the allocator by the last [`GradStore::begin`].
    pub fn liveness(&self) -> &LivenessInfo {
        &self.liveness
    }

    /// Shows the allocator the coming backward: `plan` then `begin_step`.
    ///
    /// # Errors
    /// The allocator's (a plan it refuses).
    pub fn begin(&mut self, plan: &BackwardPlan) -> Result<(), MemError> {
        debug_assert!(
            plan.lives
                .windows(2)
                .all(|w| w[0].first_step <= w[1].first_step)
        );
        if let Some(t) = &mut self.trace {
            t.clear();
        }
        plan.fill_temp_liveness(&mut self.liveness)?;
        self.alloc.plan(&self.liveness)?;
        self.alloc.begin_step()
    }

    /// The buffer of gradient `id` (`numel` elements), first written at this step.
    ///
    /// # Errors
    /// The allocator's (e.g. a planner asked for what its plan does not hold).
    #[inline]
    pub fn take(&mut self, id: GradId, numel: usize) -> Result<GradBuf, MemError> {
        // Backward overwrites every buffer before reading it, so no memset is needed.
        let buf = self.alloc.allocate_for_overwrite(id, numel)?;
        // Debug builds poison every buffer so an op that reads before its first write, or
        // does not overwrite everything on `Accum::Replace`, shows up as NaN in tests.
        #[cfg(debug_assertions)]
        self.alloc.slice_mut(&buf)?.fill(f32::NAN);
        Ok(buf)
    }

    /// The data of a live buffer.
    ///
    /// # Errors
    /// An invalid handle.
    pub fn slice(&self, buf: &GradBuf) -> Result<&[f32], MemError> {
        self.alloc.slice(buf)
    }

    /// The data of a live buffer, writable.
    ///
    /// # Errors
    /// An invalid handle.
    #[inline]
    pub fn slice_mut(&mut self, buf: &GradBuf) -> Result<&mut [f32], MemError> {
        self.alloc.slice_mut(buf)
    }

    /// Lends one step's buffers at once: the output gradient `gout` (read) and up to two
    /// distinct input gradients (written). Allocates nothing.
    ///
    /// # Errors
    /// An invalid handle, or two handles sharing memory (an allocator bug).
    #[inline]
    pub fn lend(
        &mut self,
        gout: &GradBuf,
        inputs: [Option<&GradBuf>; 2],
    ) -> Result<LentSlices<'_>, MemError> {
        let a = self.alloc.as_mut();
        Ok(match inputs {
            [None, None] => {
                let [g] = a.split_mut([gout])?;
                (g, [None, None])
            }
            [Some(x), None] => {
                let [g, x] = a.split_mut([gout, x])?;
                (g, [Some(x), None])
            }
            [None, Some(y)] => {
                let [g, y] = a.split_mut([gout, y])?;
                (g, [None, Some(y)])
            }
            [Some(x), Some(y)] => {
                let [g, x, y] = a.split_mut([gout, x, y])?;
                (g, [Some(x), Some(y)])
            }
        })
    }

    /// Records the trace point of the step just run (when the trace is on).
    #[inline]
    pub fn record_step(&mut self) {
        if let Some(t) = &mut self.trace {
            let s = self.alloc.stats();
            t.live_bytes.push(s.live_bytes);
            t.reserved_bytes.push(s.reserved_bytes);
        }
    }

    /// Gives back a buffer after its last use.
    ///
    /// # Errors
    /// An invalid handle (released twice, stale or foreign).
    #[inline]
    pub fn give_back(&mut self, buf: GradBuf) -> Result<(), MemError> {
        self.alloc.release(buf)
    }

    /// Called once after a backward walk (also after one that failed, once every live
    /// buffer was given back).
    ///
    /// # Errors
    /// `Leaked` when buffers were never given back (they are reclaimed).
    pub fn end(&mut self) -> Result<(), MemError> {
        self.alloc.end_step()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn life(i: u32, numel: usize, first_step: u32, last_step: u32) -> GradLife {
        GradLife {
            owner: GradOwner::Node(i),
            numel,
            first_step,
            last_step,
        }
    }

    #[test]
    fn lower_bound_sweeps_overlaps() {
        let plan = BackwardPlan {
            order: vec![3, 2, 1],
            lives: vec![life(3, 1, 0, 0), life(2, 10, 0, 1), life(1, 100, 1, 2)],
            tape_len: 4,
        };
        assert_eq!(plan.lower_bound_bytes(), 4 * 110);
    }

    #[test]
    fn temp_liveness_leaves_params_out() {
        let mut lives = vec![life(2, 3, 0, 0), life(1, 5, 0, 1)];
        lives.push(GradLife {
            owner: GradOwner::Param(0),
            numel: 7,
            first_step: 1,
            last_step: u32::MAX,
        });
        let plan = BackwardPlan {
            order: vec![2, 1],
            lives,
            tape_len: 3,
        };
        let mut info = LivenessInfo::new();
        plan.fill_liveness(&mut info).unwrap();
        assert_eq!(info.len(), 3);
        assert!(info.get(GradId(3)).unwrap().kept);
        plan.fill_temp_liveness(&mut info).unwrap();
        assert_eq!(info.len(), 2);
        assert!(info.lives().iter().all(|l| !l.kept));
        assert_eq!(info.lower_bound_bytes(), 4 * 8);
    }

    #[test]
    fn store_lends_disjoint_slices_and_traces() {
        let mut store = GradStore::new(poolgrad_memory::create("pool").unwrap());
        store.set_trace(true);
        let plan = BackwardPlan {
            order: vec![2, 1],
            lives: vec![life(2, 1, 0, 0), life(1, 4, 0, 1)],
            tape_len: 3,
        };
        store.begin(&plan).unwrap();
        let g = store.take(GradId(2), 1).unwrap();
        let x = store.take(GradId(1), 4).unwrap();
        store.slice_mut(&g).unwrap()[0] = 2.0;
        let (gout, [dx, none]) = store.lend(&g, [Some(&x), None]).unwrap();
        assert!(none.is_none());
        dx.unwrap().fill(gout[0]);
        store.record_step();
        store.give_back(g).unwrap();
        assert_eq!(store.slice(&x).unwrap(), &[2.0; 4]);
        store.record_step();
        store.give_back(x).unwrap();
        store.end().unwrap();
        let t = store.trace().unwrap();
        assert_eq!(t.live_bytes, vec![20, 16]);
        assert_eq!(store.stats().lower_bound_bytes, 20);
        assert!(t.reserved_bytes.iter().all(|&r| r >= 20));
    }
}
