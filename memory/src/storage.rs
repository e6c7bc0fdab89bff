//! Where gradient data lives, shared by every allocator: a set of blocks (`Vec<f32>`, one per
//! system allocation) and the live handles into them.
//!
//! An allocator is a *policy* over this storage: `system` puts each gradient in its own block,
//! `pool` recycles blocks by size class, `planner` binds every gradient to a planned region of
//! one arena block. Consumers (the autograd backward) read and write through checked handles:
//! a handle is valid only while its gradient is live, so a released, reissued or foreign handle
//! is an error, never a silent alias. [`GradStorage::split_mut`] hands out several disjoint
//! mutable regions at once (read `dC` while writing `dA` and `dB`) without `unsafe`.

use crate::error::{MemError, Result};
use crate::liveness::GradId;
use crate::stats::MemStats;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT_TAG: AtomicU32 = AtomicU32::new(1);

/// A handle to one live gradient buffer: `len` f32 at `offset` in block `block` of the storage
/// that issued it. Plain data (`Copy`); validity is checked on every use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GradBuf {
    tag: u32,
    block: u32,
    serial: u64,
    id: GradId,
    offset: usize,
    len: usize,
}

impl GradBuf {
    /// The gradient this buffer belongs to.
    #[inline]
    pub fn id(&self) -> GradId {
        self.id
    }

    /// Number of f32 elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a zero-element buffer.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Index of the block (system allocation) holding it.
    #[inline]
    pub fn block(&self) -> usize {
        self.block as usize
    }

    /// Element offset inside its block.
    #[inline]
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The element range `[offset, offset + len)` inside its block.
    #[inline]
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len
    }
}

/// Blocks of f32 plus the table of live gradient buffers, with the statistics they imply.
///
/// Consumers use [`check`](GradStorage::check), [`slice`](GradStorage::slice),
/// [`slice_mut`](GradStorage::slice_mut) and [`split_mut`](GradStorage::split_mut). The other
/// methods (`insert_block`, `bind`, `unbind`, `stats_mut`, …) are for allocator
/// implementations, including ones written outside this crate.
#[derive(Debug)]
pub struct GradStorage {
    owner: &'static str,
    tag: u32,
    blocks: Vec<Vec<f32>>,
    /// Live buffers bound into each block.
    bound: Vec<u32>,
    free_slots: Vec<u32>,
    /// Indexed by `GradId.0`.
    live: Vec<Option<GradBuf>>,
    live_count: usize,
    serial: u64,
    stats: MemStats,
}

impl GradStorage {
    /// Empty storage owned by the allocator named `owner` (used in error messages).
    pub fn new(owner: &'static str) -> GradStorage {
        GradStorage {
            owner,
            tag: NEXT_TAG.fetch_add(1, Ordering::Relaxed),
            blocks: Vec::new(),
            bound: Vec::new(),
            free_slots: Vec::new(),
            live: Vec::new(),
            live_count: 0,
            serial: 0,
            stats: MemStats::default(),
        }
    }

    // ----- consumer side -------------------------------------------------------------------

    /// Fails unless `buf` is the current live buffer of its gradient in this storage.
    ///
    /// # Errors
    /// [`MemError::ForeignHandle`], [`MemError::StaleHandle`] or [`MemError::NotLive`].
    #[inline]
    pub fn check(&self, buf: &GradBuf) -> Result<()> {
        match self.live.get(buf.id.0) {
            Some(Some(l)) if l == buf => Ok(()),
            _ => Err(self.invalid(buf)),
        }
    }

    /// Why `buf` failed [`GradStorage::check`] (kept out of the hot path).
    #[cold]
    #[inline(never)]
    fn invalid(&self, buf: &GradBuf) -> MemError {
        let (allocator, id) = (self.owner.to_string(), buf.id);
        if buf.tag != self.tag {
            return MemError::ForeignHandle { allocator, id };
        }
        match self.live.get(buf.id.0) {
            Some(Some(_)) => MemError::StaleHandle { allocator, id },
            _ => MemError::NotLive { allocator, id },
        }
    }

    /// The data of a live buffer.
    ///
    /// # Errors
    /// As [`GradStorage::check`].
    #[inline]
    pub fn slice(&self, buf: &GradBuf) -> Result<&[f32]> {
        self.check(buf)?;
        Ok(&self.blocks[buf.block()][buf.range()])
    }

    /// The data of a live buffer, writable.
    ///
    /// # Errors
    /// As [`GradStorage::check`].
    #[inline]
    pub fn slice_mut(&mut self, buf: &GradBuf) -> Result<&mut [f32]> {
        self.check(buf)?;
        Ok(&mut self.blocks[buf.block()][buf.range()])
    }

    /// Several live buffers at once, all writable, in the order given: e.g.
    /// `let [dc, da, db] = storage.split_mut([&dc, &da, &db])?` reads `dC` while accumulating
    /// into `dA` and `dB`. Allocates nothing.
    ///
    /// # Errors
    /// As [`GradStorage::check`] for each handle; [`MemError::Overlap`] when two handles share
    /// memory (e.g. the same gradient given twice, as in `x + x`: accumulate in two calls).
    pub fn split_mut<const N: usize>(&mut self, bufs: [&GradBuf; N]) -> Result<[&mut [f32]; N]> {
        for b in bufs {
            self.check(b)?;
        }
        // Fast paths (a backward step's usual case), none empty: all in one block (the
        // planner's arena) and disjoint, or each in its own block (the system allocator's).
        // Overlaps, mixed cases and empty buffers take the general walk below, which names
        // an overlapping pair in address order. (The one-block path checks disjointness
        // before `get_disjoint_mut` does again: falling through on its error would need a
        // borrow of `self.blocks` returned on one branch only, which the borrow checker
        // refuses.)
        let pairs = || (0..N).flat_map(|i| (i + 1..N).map(move |j| (bufs[i], bufs[j])));
        if N > 0 && bufs.iter().all(|b| !b.is_empty()) {
            let disjoint = |x: &GradBuf, y: &GradBuf| {
                x.offset >= y.offset + y.len || y.offset >= x.offset + x.len
            };
            if bufs.iter().all(|b| b.block == bufs[0].block) && pairs().all(|(x, y)| disjoint(x, y))
            {
                let ranges = bufs.map(GradBuf::range);
                return self.blocks[bufs[0].block()]
                    .get_disjoint_mut(ranges)
                    .map_err(|_| MemError::Overlap {
                        a: bufs[0].id,
                        b: bufs[N - 1].id,
                    });
            }
            if pairs().all(|(x, y)| x.block != y.block) {
                let blocks = self.blocks.get_disjoint_mut(bufs.map(GradBuf::block));
                let blocks = blocks.map_err(|_| MemError::Overlap {
                    a: bufs[0].id,
                    b: bufs[N - 1].id,
                })?;
                let mut carved = bufs.iter();
                return Ok(blocks.map(|data| {
                    let b = carved.next().expect("one handle per block");
                    &mut data[b.range()]
                }));
            }
        }
        // Insertion sort by address: N is 2 or 3 in a backward step.
        let mut order: [usize; N] = std::array::from_fn(|i| i);
        let key = |i: usize| (bufs[i].block, bufs[i].offset);
        for i in 1..N {
            let mut j = i;
            while j > 0 && key(order[j - 1]) > key(order[j]) {
                order.swap(j - 1, j);
                j -= 1;
            }
        }
        // Disjointness of the non-empty buffers, by a sweep over each block.
        let mut reach: Option<(u32, usize, GradId)> = None; // (block, furthest end, its owner)
        for &i in &order {
            let b = bufs[i];
            if b.is_empty() {
                continue;
            }
            if let Some((block, end, owner)) = reach
                && block == b.block
                && b.offset < end
            {
                return Err(MemError::Overlap { a: owner, b: b.id });
            }
            let end = b.offset + b.len;
            match reach {
                Some((block, e, _)) if block == b.block && e >= end => {}
                _ => reach = Some((b.block, end, b.id)),
            }
        }
        // Carve the regions out in address order.
        let mut out: [Option<&mut [f32]>; N] = std::array::from_fn(|_| None);
        let mut rest_blocks: &mut [Vec<f32>] = &mut self.blocks[..];
        let mut rest_base = 0usize; // block index of rest_blocks[0]
        let mut cur: &mut [f32] = &mut [];
        let mut cur_block = usize::MAX;
        let mut cur_base = 0usize; // element offset of cur[0] in its block
        for &i in &order {
            let b = bufs[i];
            if b.is_empty() {
                out[i] = Some(&mut []);
                continue;
            }
            if b.block() != cur_block {
                let blocks = std::mem::take(&mut rest_blocks);
                let (_, tail) = blocks.split_at_mut(b.block() - rest_base);
                let (first, tail) = tail.split_first_mut().expect("checked handle");
                rest_blocks = tail;
                rest_base = b.block() + 1;
                cur = first.as_mut_slice();
                cur_block = b.block();
                cur_base = 0;
            }
            let region = std::mem::take(&mut cur);
            let (_, tail) = region.split_at_mut(b.offset - cur_base);
            let (mine, tail) = tail.split_at_mut(b.len);
            out[i] = Some(mine);
            cur = tail;
            cur_base = b.offset + b.len;
        }
        Ok(out.map(|s| s.expect("every handle carved")))
    }

    // ----- policy side: for allocator implementations only ----------------------------------
    // A consumer (the autograd backward) never calls these: it goes through the allocator, whose
    // own bookkeeping (free lists, planned regions) they would bypass.

    /// The name errors are reported under.
    pub fn owner(&self) -> &'static str {
        self.owner
    }

    /// Statistics kept by this storage (live bytes here; policies add the rest).
    #[inline]
    pub fn stats(&self) -> MemStats {
        self.stats
    }

    /// Statistics, for a policy to record system allocations, reuses and its lower bound.
    #[inline]
    pub fn stats_mut(&mut self) -> &mut MemStats {
        &mut self.stats
    }

    /// Number of live buffers.
    #[inline]
    pub fn live_count(&self) -> usize {
        self.live_count
    }

    /// Ids of the live buffers, ascending.
    pub fn live_ids(&self) -> impl Iterator<Item = GradId> + '_ {
        self.live.iter().flatten().map(|b| b.id)
    }

    /// Whether `id` holds a live buffer.
    #[inline]
    pub fn is_live(&self, id: GradId) -> bool {
        matches!(self.live.get(id.0), Some(Some(_)))
    }

    /// Stores a block (moved in, no allocation counted here) and returns its index.
    pub fn insert_block(&mut self, data: Vec<f32>) -> usize {
        match self.free_slots.pop() {
            Some(slot) => {
                self.blocks[slot as usize] = data;
                slot as usize
            }
            None => {
                self.blocks.push(data);
                self.bound.push(0);
                self.blocks.len() - 1
            }
        }
    }

    /// Takes a block back out; `None` (and nothing changes) while buffers are bound into it.
    pub fn take_block(&mut self, block: usize) -> Option<Vec<f32>> {
        if block >= self.blocks.len() || self.bound[block] != 0 {
            debug_assert!(false, "take_block({block}) of a missing or bound block");
            return None;
        }
        self.free_slots.push(block as u32);
        Some(std::mem::take(&mut self.blocks[block]))
    }

    /// Length in elements of a block.
    pub fn block_len(&self, block: usize) -> usize {
        self.blocks.get(block).map_or(0, Vec::len)
    }

    /// Replaces a block's data (e.g. to grow an arena); `None` while buffers are bound into it.
    pub fn replace_block(&mut self, block: usize, data: Vec<f32>) -> Option<Vec<f32>> {
        if block >= self.blocks.len() || self.bound[block] != 0 {
            debug_assert!(false, "replace_block({block}) of a missing or bound block");
            return None;
        }
        Some(std::mem::replace(&mut self.blocks[block], data))
    }

    /// Makes `[offset, offset + len)` of `block` the live buffer of `id`, zero-filled when
    /// `zero`; records `len` as requested and `granted` elements as granted.
    ///
    /// # Errors
    /// [`MemError::AlreadyLive`] when `id` already holds a buffer.
    // Always inlined into the policies' `allocate`: handing the handle back through one more
    // call stalled on store forwarding, 8% of a tiny node's forward + backward (`tiny_ops`,
    // Zen 1).
    #[inline(always)]
    pub fn bind(
        &mut self,
        id: GradId,
        block: usize,
        offset: usize,
        len: usize,
        granted: usize,
        zero: bool,
    ) -> Result<GradBuf> {
        if self.is_live(id) {
            return Err(MemError::AlreadyLive {
                allocator: self.owner.to_string(),
                id,
            });
        }
        assert!(
            block < self.blocks.len()
                && offset
                    .checked_add(len)
                    .is_some_and(|end| end <= self.blocks[block].len()),
            "{}: bind outside block {block} (internal error)",
            self.owner
        );
        if self.live.len() <= id.0 {
            self.live.resize(id.0 + 1, None);
        }
        self.serial += 1;
        let buf = GradBuf {
            tag: self.tag,
            block: block as u32,
            serial: self.serial,
            id,
            offset,
            len,
        };
        if zero {
            self.blocks[block][buf.range()].fill(0.0);
        }
        self.live[id.0] = Some(buf);
        self.live_count += 1;
        self.bound[block] += 1;
        let f = std::mem::size_of::<f32>();
        self.stats.add_live(len * f);
        self.stats.requested_bytes += (len * f) as u64;
        self.stats.granted_bytes += (granted * f) as u64;
        Ok(buf)
    }

    /// Ends the life of a live buffer; its memory stays in its block.
    ///
    /// # Errors
    /// As [`GradStorage::check`]: a second release is [`MemError::NotLive`].
    // Always inlined into the policies' `release`, for the reason given at `bind`.
    #[inline(always)]
    pub fn unbind(&mut self, buf: &GradBuf) -> Result<()> {
        self.check(buf)?;
        self.live[buf.id.0] = None;
        self.live_count -= 1;
        self.bound[buf.block()] -= 1;
        self.stats.sub_live(buf.len * std::mem::size_of::<f32>());
        Ok(())
    }

    /// The live buffers, ascending by id.
    pub fn live_bufs(&self) -> impl Iterator<Item = GradBuf> + '_ {
        self.live.iter().flatten().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Storage with two blocks of 16 elements, each element holding its block and index.
    fn two_blocks() -> GradStorage {
        let mut s = GradStorage::new("test");
        for b in 0..2 {
            s.insert_block((0..16).map(|i| (100 * b + i) as f32).collect());
        }
        s
    }

    #[test]
    fn split_mut_carves_one_block_several_blocks_and_mixed() {
        let mut s = two_blocks();
        let x = s.bind(GradId(0), 0, 8, 4, 4, false).unwrap();
        let y = s.bind(GradId(1), 0, 0, 2, 2, false).unwrap();
        let z = s.bind(GradId(2), 1, 3, 5, 5, false).unwrap();
        let [sx, sy] = s.split_mut([&x, &y]).unwrap();
        assert_eq!(
            (&sx[..], &sy[..]),
            (&[8.0, 9.0, 10.0, 11.0][..], &[0.0, 1.0][..])
        );
        let [sz, sx] = s.split_mut([&z, &x]).unwrap();
        assert_eq!((sz[0], sz.len(), sx[0]), (103.0, 5, 8.0));
        let [sy, sz, sx] = s.split_mut([&y, &z, &x]).unwrap();
        sy[1] = -1.0;
        sz[4] = -2.0;
        sx[3] = -3.0;
        assert_eq!(s.slice(&y).unwrap(), &[0.0, -1.0]);
        assert_eq!(s.slice(&z).unwrap()[4], -2.0);
        assert_eq!(s.slice(&x).unwrap()[3], -3.0);
    }

    #[test]
    fn split_mut_names_overlapping_gradients_in_address_order() {
        let mut s = two_blocks();
        let low = s.bind(GradId(5), 0, 2, 6, 6, false).unwrap();
        let high = s.bind(GradId(3), 0, 7, 4, 4, false).unwrap();
        let other = s.bind(GradId(4), 1, 0, 4, 4, false).unwrap();
        let expected = MemError::Overlap {
            a: GradId(5),
            b: GradId(3),
        };
        assert_eq!(s.split_mut([&low, &high]).unwrap_err(), expected);
        assert_eq!(s.split_mut([&high, &low]).unwrap_err(), expected);
        assert_eq!(s.split_mut([&other, &high, &low]).unwrap_err(), expected);
        let empty = s.bind(GradId(6), 0, 4, 0, 0, false).unwrap();
        let [e, o] = s.split_mut([&empty, &other]).unwrap();
        assert_eq!((e.len(), o.len()), (0, 4));
        assert!(s.split_mut::<0>([]).is_ok());
    }

    #[test]
    fn split_mut_fast_and_general_paths_name_the_same_overlap() {
        // All in one block (fast-path shape) with two overlaps: a = [0, 10) holds both
        // b = [2, 4) and c = [5, 7); the first pair in address order is (a, b) whatever the
        // order of the handles, as the mixed-block (general) walk reports it.
        let mut s = two_blocks();
        let a = s.bind(GradId(0), 0, 0, 10, 10, false).unwrap();
        let b = s.bind(GradId(1), 0, 2, 2, 2, false).unwrap();
        let c = s.bind(GradId(2), 0, 5, 2, 2, false).unwrap();
        let expected = MemError::Overlap {
            a: GradId(0),
            b: GradId(1),
        };
        for order in [[&c, &a, &b], [&c, &b, &a], [&a, &c, &b], [&b, &c, &a]] {
            assert_eq!(s.split_mut(order).unwrap_err(), expected);
        }
        let other = s.bind(GradId(3), 1, 0, 1, 1, false).unwrap();
        assert_eq!(s.split_mut([&c, &other, &a, &b]).unwrap_err(), expected);
    }

    #[test]
    #[should_panic(expected = "bind outside block")]
    fn bind_refuses_a_range_whose_end_overflows() {
        let mut s = two_blocks();
        let _ = s.bind(GradId(0), 0, usize::MAX, 2, 2, false);
    }
}
