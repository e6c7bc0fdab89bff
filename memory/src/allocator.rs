//! The `GradAllocator` trait: a policy that hands out and takes back gradient buffers during
//! backward, over a [`GradStorage`] that all allocators share.

use crate::error::{MemError, Result};
use crate::liveness::{GradId, LivenessInfo};
use crate::stats::MemStats;
use crate::storage::{GradBuf, GradStorage};
use std::fmt;

/// Hands out zeroed gradient buffers and takes them back, one backward pass at a time.
///
/// Protocol for one step (see the crate docs for how the autograd backward drives it):
/// `plan(&liveness)` → `begin_step()` → for each gradient `allocate` at its first write and
/// `release` after its last read (param gradients: after they have been read out) →
/// `end_step()`. Data is reached through [`GradAllocator::storage`] /
/// [`GradAllocator::storage_mut`], or the shortcuts on `dyn GradAllocator`.
pub trait GradAllocator: Send + fmt::Debug {
    /// The registered name, e.g. `"pool"`.
    fn name(&self) -> &'static str;

    /// The storage holding this allocator's buffers.
    fn storage(&self) -> &GradStorage;

    /// The storage, writable (for data access; allocator bookkeeping stays checked).
    fn storage_mut(&mut self) -> &mut GradStorage;

    /// Tells the allocator the liveness of the coming backward pass. The default records its
    /// lower bound; the planner builds (or reuses) its static plan.
    ///
    /// # Errors
    /// [`MemError::InvalidLiveness`]; planner: [`MemError::PlanWhileLive`].
    fn plan(&mut self, liveness: &LivenessInfo) -> Result<()> {
        liveness.validate()?;
        self.storage_mut().stats_mut().lower_bound_bytes = liveness.lower_bound_bytes();
        Ok(())
    }

    /// Called before backward starts.
    ///
    /// # Errors
    /// None by default.
    fn begin_step(&mut self) -> Result<()> {
        Ok(())
    }

    /// A zeroed buffer of `numel` f32 for gradient `id`.
    ///
    /// # Errors
    /// [`MemError::AlreadyLive`]; planner: [`MemError::NoPlan`], [`MemError::NotInPlan`],
    /// [`MemError::LifetimeViolation`].
    fn allocate(&mut self, id: GradId, numel: usize) -> Result<GradBuf>;

    /// As [`GradAllocator::allocate`], but the contents are unspecified (stale values of
    /// earlier gradients, never uninitialised memory): for a caller that overwrites the
    /// whole buffer before reading it, as poolgrad-core's backward does, this saves a
    /// memset. Statistics are the same. The default zeroes anyway.
    ///
    /// # Errors
    /// As [`GradAllocator::allocate`].
    fn allocate_for_overwrite(&mut self, id: GradId, numel: usize) -> Result<GradBuf> {
        self.allocate(id, numel)
    }

    /// Gives a buffer back; its handle is dead afterwards.
    ///
    /// # Errors
    /// [`MemError::NotLive`] (released twice), [`MemError::StaleHandle`],
    /// [`MemError::ForeignHandle`].
    fn release(&mut self, buf: GradBuf) -> Result<()>;

    /// Called after backward (and after the kept gradients were read and released). Every
    /// buffer must have been released.
    ///
    /// # Errors
    /// [`MemError::Leaked`] listing the gradients still live; they are released, so the
    /// allocator stays usable.
    fn end_step(&mut self) -> Result<()> {
        self.storage_mut().stats_mut().steps += 1;
        if self.storage().live_count() == 0 {
            return Ok(());
        }
        let leaked: Vec<GradBuf> = self.storage().live_bufs().collect();
        for b in &leaked {
            self.release(*b)?;
        }
        Err(MemError::Leaked {
            allocator: self.name().to_string(),
            ids: leaked.iter().map(GradBuf::id).collect(),
        })
    }

    /// What this allocator did and holds.
    fn stats(&self) -> MemStats {
        self.storage().stats()
    }

    /// Restarts the peaks from the current values (e.g. to measure one phase or one step).
    fn reset_peaks(&mut self) {
        let s = self.storage_mut().stats_mut();
        s.peak_live_bytes = s.live_bytes;
        s.peak_reserved_bytes = s.reserved_bytes;
    }

    /// The data of a live buffer. See [`GradStorage::slice`].
    ///
    /// # Errors
    /// An invalid handle (released, reissued or foreign).
    fn slice(&self, buf: &GradBuf) -> Result<&[f32]> {
        self.storage().slice(buf)
    }

    /// The data of a live buffer, writable. See [`GradStorage::slice_mut`].
    ///
    /// # Errors
    /// An invalid handle (released, reissued or foreign).
    fn slice_mut(&mut self, buf: &GradBuf) -> Result<&mut [f32]> {
        self.storage_mut().slice_mut(buf)
    }
}

impl dyn GradAllocator + '_ {
    /// Several disjoint live buffers at once, all writable. See [`GradStorage::split_mut`]
    /// (the same on a concrete allocator: `alloc.storage_mut().split_mut(..)`).
    ///
    /// # Errors
    /// An invalid handle, or two handles sharing memory.
    pub fn split_mut<const N: usize>(&mut self, bufs: [&GradBuf; N]) -> Result<[&mut [f32]; N]> {
        self.storage_mut().split_mut(bufs)
    }
}
