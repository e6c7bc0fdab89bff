//! `pool`: a size-class caching pool. A released buffer goes to its class's free list and
//! serves the next request of that class, so a steady loop stops calling the system allocator
//! after its first step.
//!
//! Classes: up to 16 elements one class of 16; above, four classes per power of two
//! (`5/8, 6/8, 7/8, 8/8` of the next power), so rounding wastes under 25 % — visible as
//! `granted_bytes / requested_bytes` in the stats.

use crate::allocator::GradAllocator;
use crate::error::{MemError, Result};
use crate::liveness::{GradId, LivenessCache, LivenessInfo};
use crate::storage::{GradBuf, GradStorage};

const F32: usize = std::mem::size_of::<f32>();
const MIN_CLASS: usize = 16;

/// `(class index, class length in elements)` of a request for `numel` elements.
pub fn size_class(numel: usize) -> (usize, usize) {
    if numel <= MIN_CLASS {
        return (0, MIN_CLASS);
    }
    // 2^e < numel <= 2^(e+1), e >= 4; step = 2^(e-2); length = m·step with m in 5..=8.
    let e = (usize::BITS - (numel - 1).leading_zeros() - 1) as usize;
    let step = 1usize << (e - 2);
    let m = numel.div_ceil(step);
    debug_assert!((5..=8).contains(&m));
    (1 + 4 * (e - 4) + (m - 5), m * step)
}

/// Caches released blocks by size class and reuses them.
#[derive(Debug)]
pub struct PoolAllocator {
    storage: GradStorage,
    /// Free blocks, indexed by class.
    free: Vec<Vec<Vec<f32>>>,
    liveness: LivenessCache,
}

impl PoolAllocator {
    /// A new, empty pool.
    pub fn new() -> PoolAllocator {
        PoolAllocator {
            storage: GradStorage::new("pool"),
            free: Vec::new(),
            liveness: LivenessCache::default(),
        }
    }

    /// Bytes held in free lists (reserved but not live).
    pub fn cached_bytes(&self) -> usize {
        self.free.iter().flatten().map(|b| b.len() * F32).sum()
    }

    /// A buffer from the class's free list, or a fresh block; a reused one is zeroed when
    /// `zero` (a fresh one always is).
    fn serve(&mut self, id: GradId, numel: usize, zero: bool) -> Result<GradBuf> {
        if self.storage.is_live(id) {
            return Err(MemError::AlreadyLive {
                allocator: "pool".to_string(),
                id,
            });
        }
        let (class, len) = size_class(numel);
        let cached = self.free.get_mut(class).and_then(Vec::pop);
        let (data, zero) = match cached {
            Some(data) => {
                self.storage.stats_mut().reuses += 1;
                (data, zero)
            }
            None => {
                self.storage.stats_mut().add_reserved(len * F32);
                (vec![0.0; len], false)
            }
        };
        debug_assert_eq!(data.len(), len);
        let block = self.storage.insert_block(data);
        self.storage.bind(id, block, 0, numel, len, zero)
    }

    /// Returns every cached block to the system allocator.
    pub fn trim(&mut self) {
        let freed = self.cached_bytes();
        self.free.clear();
        self.storage.stats_mut().sub_reserved(freed);
    }
}

impl Default for PoolAllocator {
    fn default() -> Self {
        PoolAllocator::new()
    }
}

impl GradAllocator for PoolAllocator {
    fn name(&self) -> &'static str {
        "pool"
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
        self.serve(id, numel, true)
    }

    fn allocate_for_overwrite(&mut self, id: GradId, numel: usize) -> Result<GradBuf> {
        self.serve(id, numel, false)
    }

    fn release(&mut self, buf: GradBuf) -> Result<()> {
        self.storage.unbind(&buf)?;
        let Some(data) = self.storage.take_block(buf.block()) else {
            return Ok(());
        };
        let (class, len) = size_class(buf.len());
        debug_assert_eq!(data.len(), len);
        if self.free.len() <= class {
            self.free.resize_with(class + 1, Vec::new);
        }
        self.free[class].push(data);
        Ok(())
    }
}
