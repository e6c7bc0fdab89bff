//! `system`: the baseline. Every gradient gets a fresh allocation, freed at its release.

use crate::allocator::GradAllocator;
use crate::error::{MemError, Result};
use crate::liveness::{GradId, LivenessCache, LivenessInfo};
use crate::storage::{GradBuf, GradStorage};

const F32: usize = std::mem::size_of::<f32>();

/// A fresh `Vec<f32>` per gradient, dropped when the gradient is released.
#[derive(Debug)]
pub struct SystemAllocator {
    storage: GradStorage,
    liveness: LivenessCache,
}

impl SystemAllocator {
    /// A new, empty allocator.
    pub fn new() -> SystemAllocator {
        SystemAllocator {
            storage: GradStorage::new("system"),
            liveness: LivenessCache::default(),
        }
    }
}

impl Default for SystemAllocator {
    fn default() -> Self {
        SystemAllocator::new()
    }
}

impl GradAllocator for SystemAllocator {
    fn name(&self) -> &'static str {
        "system"
    }

    fn storage(&self) -> &GradStorage {
        &self.storage
    }

    fn storage_mut(&mut self) -> &mut GradStorage {
        &mut self.storage
    }

    fn plan(&mut self, liveness: &LivenessInfo) -> Result<()> {
        self.storage.stats_mut().lower_bound_bytes = self.liveness.update(liveness)?;
        Ok(())
    }

    fn allocate(&mut self, id: GradId, numel: usize) -> Result<GradBuf> {
        if self.storage.is_live(id) {
            return Err(MemError::AlreadyLive {
                allocator: "system".to_string(),
                id,
            });
        }
        let block = self.storage.insert_block(vec![0.0; numel]);
        self.storage.stats_mut().add_reserved(numel * F32);
        self.storage.bind(id, block, 0, numel, numel, false)
    }

    fn release(&mut self, buf: GradBuf) -> Result<()> {
        self.storage.unbind(&buf)?;
        let data = self.storage.take_block(buf.block()).unwrap_or_default();
        self.storage.stats_mut().sub_reserved(data.len() * F32);
        drop(data);
        Ok(())
    }
}
