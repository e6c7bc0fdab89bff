//! The seam for gradient allocators (issue 5): every gradient buffer used during backward is
//! obtained from and released to one [`GradStore`], and before backward starts the store is
//! shown the [`BackwardPlan`] (the lifetime of every gradient), so an allocator can plan.
//!
//! Release rule (enforced by `Graph::backward`): the gradient of an intermediate node is
//! taken when its first consumer's backward writes to it (`first_step`), and given back right
//! after the node's own backward has consumed it (`last_step`). Param gradients are taken
//! once, when first needed, and kept by the graph across steps (`last_step == u32::MAX`).
//!
//! Buffers are handed out with unspecified contents: the first write of each gradient in a
//! backward overwrites it (`Accum::Replace`), later writes add (`Accum::Add`). Zeroed
//! buffers are fine too. Debug builds fill every handed-out buffer with NaN, so an op that
//! reads before writing fails the tests.
//!
//! Today the store is a simple exact-size free list. Gradient memory is touched in exactly
//! two places: this file, and `Graph::walk` in `graph.rs`, which before each node's backward
//! takes the node's output gradient and lends its inputs' gradient buffers to the op (the
//! `Grads` value; ops only see slices), and afterwards puts them back and gives the output
//! gradient back. Ops never allocate gradients.
//!
//! # Plugging in `poolgrad_memory::GradAllocator`
//! - Liveness: [`BackwardPlan::fill_liveness`] writes the plan as a
//!   `poolgrad_memory::LivenessInfo` (`first_def = first_step`, `last_use = last_step`,
//!   params `kept`), with ids from [`BackwardPlan::grad_id`]: the tape index for a node,
//!   `tape_len + p` for param `p`. The plan comes sorted by
//!   `first_step`; steps are the positions in [`BackwardPlan::order`] (0 = the loss).
//!   [`BackwardPlan::signature`] changes exactly when the planner must re-plan.
//! - [`GradStore::begin`] → `alloc.plan(&liveness)?; alloc.begin_step()?`;
//!   [`GradStore::end`] → `alloc.end_step()?`.
//! - In `Graph::walk`, `node_grads: Vec<Option<Vec<f32>>>` becomes `Vec<Option<GradBuf>>`
//!   (handles); `store.take(numel)` → `alloc.allocate(id, numel)?`;
//!   `store.give_back(gout)` → `alloc.release(gout)?`; the slices lent to an op come from
//!   one `alloc.split_mut([&gout, &ga, &gb])?` (an input used twice is lent once, so the
//!   handles are distinct), and `Grads`' entries hold those `&mut [f32]` instead of owned
//!   buffers.
//! - Param gradients can stay graph-owned (as now: no copy, reused across steps), or be
//!   allocated as `kept` and copied out before `end_step`, as the memory crate's docs
//!   describe; `Graph::grad` and the optimizers read them through `param_grads`.
//! - Activations (forward values and saved softmax probabilities) are recycled by the
//!   graph's value free list on `reset`; `Graph::activation_bytes` reports ActivationBytes.

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
    pub fn grad_id(&self, owner: GradOwner) -> poolgrad_memory::GradId {
        poolgrad_memory::GradId(match owner {
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
    pub fn fill_liveness(
        &self,
        info: &mut poolgrad_memory::LivenessInfo,
    ) -> Result<(), poolgrad_memory::MemError> {
        info.clear();
        for l in &self.lives {
            let kept = l.last_step == u32::MAX;
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

/// Counters of the store, for tests and reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GradStoreStats {
    /// Buffers created with a fresh heap allocation.
    pub allocations: u64,
    /// Buffers served from the free list.
    pub reuses: u64,
    /// Bytes handed out and not yet given back (param gradients stay counted).
    pub live_bytes: usize,
    /// Largest `live_bytes` seen.
    pub peak_live_bytes: usize,
    /// Bytes held in the free list.
    pub free_bytes: usize,
}

/// Hands out gradient buffers and takes them back (see the module docs).
#[derive(Debug, Default)]
pub struct GradStore {
    free: crate::size_map::FreeLists,
    stats: GradStoreStats,
}

impl GradStore {
    /// A store with an empty free list.
    pub fn new() -> GradStore {
        GradStore::default()
    }

    /// Called once before a backward walk with its plan. The default store does not plan.
    pub fn begin(&mut self, plan: &BackwardPlan) {
        debug_assert!(
            plan.lives
                .windows(2)
                .all(|w| w[0].first_step <= w[1].first_step)
        );
    }

    /// A buffer of `numel` elements with unspecified contents: backward overwrites it
    /// entirely on its first write ([`poolgrad_kernels::Accum::Replace`]), so reused
    /// buffers are not cleared.
    pub fn take(&mut self, numel: usize) -> Vec<f32> {
        let bytes = numel * std::mem::size_of::<f32>();
        let buf = match self.free.pop(numel) {
            Some(b) => {
                self.stats.reuses += 1;
                self.stats.free_bytes -= bytes;
                b
            }
            None => {
                self.stats.allocations += 1;
                vec![0.0; numel]
            }
        };
        // Debug builds poison every buffer so an op that reads before its first write, or
        // does not overwrite everything on `Accum::Replace`, shows up as NaN in tests.
        #[cfg(debug_assertions)]
        let buf = {
            let mut buf = buf;
            buf.fill(f32::NAN);
            buf
        };
        self.stats.live_bytes += bytes;
        self.stats.peak_live_bytes = self.stats.peak_live_bytes.max(self.stats.live_bytes);
        buf
    }

    /// Returns a buffer obtained from [`GradStore::take`].
    pub fn give_back(&mut self, buf: Vec<f32>) {
        let bytes = buf.len() * std::mem::size_of::<f32>();
        debug_assert!(self.stats.live_bytes >= bytes, "buffer given back twice");
        self.stats.live_bytes -= bytes;
        self.stats.free_bytes += bytes;
        self.free.push(buf);
    }

    /// Called once after a backward walk (also after one that failed).
    pub fn end(&mut self) {}

    /// The counters.
    pub fn stats(&self) -> GradStoreStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_buffers() {
        let mut s = GradStore::new();
        let mut a = s.take(4);
        a[0] = 5.0;
        let p = a.as_ptr();
        s.give_back(a);
        let b = s.take(4);
        assert_eq!(b.as_ptr(), p);
        assert_eq!(b.len(), 4);
        assert_eq!(s.stats().allocations, 1);
        assert_eq!(s.stats().reuses, 1);
        assert_eq!(s.stats().live_bytes, 16);
    }

    #[test]
    fn lower_bound_sweeps_overlaps() {
        let life = |i, numel, first_step, last_step| GradLife {
            owner: GradOwner::Node(i),
            numel,
            first_step,
            last_step,
        };
        let plan = BackwardPlan {
            order: vec![3, 2, 1],
            lives: vec![life(3, 1, 0, 0), life(2, 10, 0, 1), life(1, 100, 1, 2)],
            tape_len: 4,
        };
        assert_eq!(plan.lower_bound_bytes(), 4 * 110);
    }
}
