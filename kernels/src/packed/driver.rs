//! The BLIS loop nest around the microkernel, for one fused product
//! `C_d (=|+=) coef_d · (Σ A-terms)·(Σ B-terms)` on raw, already-checked operands.
//!
//! Loops, outermost first (BLIS numbering):
//! 5. `jc`: NC-wide column blocks of B and C (1024 columns, in whole NR panels);
//! 4. `pc`: KC-deep slabs of k; pack B[pc, jc] into NR-column panels (shared by threads),
//!    or leave them to loop 1 of each thread's first row panel (`fills_b`);
//! 3. `ic`: MC-tall row blocks of A (per thread); pack A[ic, pc] into MR-row panels;
//! 2. `ir`: MR-tall micro-panels of packed A (one stays resident through loop 1: in L1, or
//!    in L2 with the deep slabs of `SlabRule::APanel`);
//! 1. `jr`: NR-wide micro-panels of packed B, streamed from L2 or L3 with prefetch; one
//!    microkernel call per MR×NR tile.
//!
//! Loops 2 and 1 are in the order that measured faster on Zen 4 (A micro-panel resident,
//! about +4% at n ≥ 512 over the classic B-resident order): the broadcast operand stays,
//! the vector operand streams, as in BLIS's AVX-512 kernels with the roles of A and B
//! swapped. `blocking.rs` sizes the blocks for that order.

use super::blocking::{Blocking, cache_sizes};
use super::microkernel::{Dst, MAX_DST, Micro, RowFetch, TileFn, shifted};
use super::pack::{Term, pack, pack_b};
use super::parallel::{run_chunks, run_parts};
use super::scratch::{Slot, with_buffer};
use super::vector::{DOT_VECTORS, MatVec};

/// One destination of C: element `(i, j)` at `ptr + i·rs + j·cs`, updated with `coef·AB`,
/// overwritten (C never read) while `overwrite` holds, else accumulated.
#[derive(Clone, Copy, Debug)]
pub struct CDst {
    pub ptr: *mut f32,
    pub rs: usize,
    pub cs: usize,
    pub coef: f32,
    pub overwrite: bool,
}

/// A fused product on raw operands: `m×k` A terms (x = row), `k×n` B terms (x = column).
#[derive(Clone, Copy, Debug)]
pub struct Product<'t> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: &'t [Term],
    pub b: &'t [Term],
    pub c: &'t [CDst],
}

// SAFETY: the pointers in a product are read (A, B) or written in disjoint regions per
// thread (C, split by tiles below) while the borrowed views they came from are alive.
unsafe impl Send for Product<'_> {}
// SAFETY: as above; sharing a product shares only those pointers.
unsafe impl Sync for Product<'_> {}

/// Runs `p` with microkernel `micro`, blocks `blk` and up to `threads` threads (the
/// caller has already chosen the pool and the thread count).
///
/// # Safety
/// Every term addresses valid floats for its whole `m×k` / `k×n` block; every destination
/// addresses `m×n` distinct writable floats, disjoint from the inputs and each other, and
/// nothing else accesses them during the call; at most [`MAX_DST`] destinations.
pub unsafe fn run(micro: Micro, blk: Blocking, p: Product<'_>, threads: usize) {
    let Product { m, n, k, .. } = p;
    if m == 0 || n == 0 {
        return;
    }
    debug_assert!(p.c.len() <= MAX_DST && !p.c.is_empty());
    if k == 0 {
        // SAFETY: the destinations are writable m×n blocks (caller's contract).
        unsafe { zero_overwritten(&p) };
        return;
    }
    // Column-major C: compute Cᵀ = Bᵀ·Aᵀ instead, so the microkernel stores whole rows.
    // A B term (x = column of B) is exactly an A term of Bᵀ, and vice versa. A row-major C
    // much narrower than a tile (an MLP's 10 logits) is computed transposed too, unless its
    // tiles mask column tails and A is read in place (`narrow`): its few columns become
    // rows of one tile instead of a third of each tile's width.
    let column_major = p.c.iter().all(|d| d.cs != 1 && d.rs == 1);
    let transposed: [CDst; MAX_DST];
    let p = if column_major || narrow(&micro, &p, cache_sizes().l1d_ways) {
        transposed = std::array::from_fn(|i| {
            let d = p.c.get(i).copied().unwrap_or(p.c[0]);
            CDst {
                rs: d.cs,
                cs: d.rs,
                ..d
            }
        });
        Product {
            m: n,
            n: m,
            k,
            a: p.b,
            b: p.a,
            c: &transposed[..p.c.len()],
        }
    } else {
        p
    };
    if let Some(v) = vector_form(&p) {
        // SAFETY: as this function's contract; `vector_form` read the layout from `p`.
        unsafe { run_vector(micro, v, threads) };
        return;
    }
    let tail = tail_dot_columns(&micro, &p);
    if tail > 0 {
        // SAFETY: as this function's contract; the two parts write disjoint columns.
        unsafe {
            run_tiles(micro, blk, Product { n: p.n - tail, ..p }, threads);
            run_tail_dots(micro, &p, tail, threads);
        }
        return;
    }
    // SAFETY: as this function's contract.
    unsafe { run_tiles(micro, blk, p, threads) };
}

/// [`run`] for a row-major C that the tiles compute (not a matrix-vector product).
///
/// # Safety
/// As [`run`].
unsafe fn run_tiles(micro: Micro, blk: Blocking, p: Product<'_>, threads: usize) {
    let (mr, nr) = (micro.mr, micro.nr);
    let Product { m, n, k, .. } = p;
    if threads == 1 && small_in_place(&micro, &p, blk.kc) {
        // SAFETY: as this function's contract; `small_in_place` checked the layout.
        unsafe { run_small(micro, &p, false) };
        return;
    }
    if threads == 1 && small_packing_a(&micro, &p, blk.kc) {
        // SAFETY: as this function's contract; `small_packing_a` checked the layout.
        unsafe { run_small(micro, &p, true) };
        return;
    }
    if split_columns(n, nr, threads) {
        // SAFETY: as this function's contract; the parts write disjoint column ranges.
        unsafe { run_column_parts(micro, blk, p, threads) };
        return;
    }
    let (mc, nc) = (blk.mc, blk.nc);
    // Thread grid: rows of C split in `tm` parts, columns of each NC block in `tn`.
    let (tm, tn) = thread_grid(m, n, mr, nr, threads);
    // A row-major B is read in place instead of packed when few row panels share it
    // (packing costs about one pass over B; each row panel reading it in place costs a
    // little more than reading a packed panel) or when it is small enough to stay in L1,
    // and its k·n is modest (row strides of many KiB cost TLB misses in place). Measured
    // on the Intel Xeon host, one thread, same process, in place ÷ packed: m = 32 1.38×,
    // 64 1.18×, 96 1.07×, 128 1.07×, 64×784·784×256 1.15×, 4096×64·64×64 1.02×; 256³
    // 1.00×; 384³ 0.96×, 512³ 0.95×, 256×784·784×512 0.95×.
    let rows_per_thread = m.div_ceil(tm);
    let unit_cs = p.c.iter().all(|d| d.cs == 1);
    let fill_b = fills_b(&micro, &p, tm, unit_cs);
    let l2 = cache_sizes().l2;
    let direct_b = b_panels_in_place(&micro, p.b, n)
        && ((k * n <= DIRECT_B_MAX
            && (rows_per_thread <= DIRECT_B_MAX_PANELS * mr || k * n <= DIRECT_B_SMALL)
            && !(fill_b && tiles_pack_b_over_half_of_l2(k, n, l2)))
            || b_in_place_beside_l2(&p, rows_per_thread, mr, l2)
            || (rows_per_thread <= DIRECT_B_FEW_ROWS
                && (!p.b[0].ps.is_multiple_of(1024) || one_half_full_panel(rows_per_thread, mr))));
    // Where B is read in place, nothing packs it (`fill_b` only applies to packed B).
    let group = if fill_b && !direct_b {
        fill_b_group(k, n, grouping_l3())
    } else {
        1
    };
    let kc_max = slab_depth(blk.kc, group > 1);

    // Loop 5: column blocks of C and B.
    for jc in (0..n).step_by(nc) {
        let nc_cur = nc.min(n - jc);
        let b_panels = nc_cur.div_ceil(nr);
        // Loop 4: k slabs; the first slab applies Replace, later ones accumulate.
        // Even slabs (at KC 256, 784 = 264 + 264 + 256, not 256 + 256 + 256 + 16): a thin
        // last slab pays a tile's fixed cost for little work. 256×512·784×512: +2.9% in
        // one-process A/B.
        let kc_step = k.div_ceil(k.div_ceil(kc_max)).next_multiple_of(8);
        for (slab, pc) in (0..k).step_by(kc_step).enumerate() {
            let kc = kc_step.min(k - pc);
            let b_terms: [Term; MAX_DST] = std::array::from_fn(|i| {
                let t = p.b.get(i).copied().unwrap_or(p.b[0]);
                t.at(jc, pc)
            });
            let b_terms = &b_terms[..p.b.len()];
            if direct_b {
                // B read in place: row-major with unit column stride, in NR panels (the
                // last one narrower only where the tiles mask column tails).
                let t = b_terms[0];
                let src = BSrc {
                    ptr: t.ptr,
                    panel_step: nr,
                    bs: t.ps,
                    fill: None,
                };
                let work = |t: usize| {
                    let (ti, tj) = (t / tn, t % tn);
                    let rows = split(m, mr, tm, ti);
                    let panels = split(b_panels, 1, tn, tj);
                    // SAFETY: threads own disjoint tiles of C; B is only read; the B term
                    // covers kc×nc_cur (caller's contract) and the tiles read `cols` ≤
                    // nc_cur − j0 columns of each panel (macro_block), so every panel row
                    // is inside B.
                    unsafe {
                        macro_block(micro, mc, &p, src, rows, panels, jc, nc_cur, pc, kc, slab)
                    };
                };
                run_parts(tm * tn, tm * tn, work);
                continue;
            }
            with_buffer(Slot::B, b_panels * nr * kc, |bp| {
                let (simd, fetch) = (micro.simd_pack, packing_fetches_b(&p, cache_sizes().l3));
                if !fill_b {
                    // Pack B[pc.., jc..] as NR panels; split across threads by panel groups.
                    let per = b_panels.div_ceil(tm * tn).max(1);
                    let pack_group = |g: usize, chunk: &mut [f32]| {
                        let x0 = g * per * nr;
                        let len = (per * nr).min(nc_cur - x0);
                        let terms: [Term; MAX_DST] = std::array::from_fn(|i| {
                            let t = b_terms.get(i).copied().unwrap_or(b_terms[0]);
                            t.at(x0, 0)
                        });
                        // SAFETY: `chunk` holds the group's panels; terms cover len×kc.
                        unsafe {
                            pack_b(chunk, &terms[..b_terms.len()], (nr, len, kc), simd, fetch)
                        };
                    };
                    run_chunks(tm * tn, bp, per * nr * kc, pack_group);
                }
                let packed = bp.as_mut_ptr();
                let src = BSrc {
                    ptr: packed,
                    panel_step: nr * kc,
                    bs: nr,
                    fill: fill_b.then_some(BFill {
                        ptr: b_terms[0].ptr,
                        bs: b_terms[0].ps,
                        packed,
                        group,
                    }),
                };
                let work = |t: usize| {
                    let (ti, tj) = (t / tn, t % tn);
                    let rows = split(m, mr, tm, ti);
                    let panels = split(b_panels, 1, tn, tj);
                    // SAFETY: threads own disjoint tiles of C (rows × panels); the packed
                    // B is read-only here, or written panel by panel by the one thread
                    // that owns the panel (`fills_b`); terms are valid by the caller's
                    // contract.
                    unsafe {
                        macro_block(micro, mc, &p, src, rows, panels, jc, nc_cur, pc, kc, slab)
                    };
                };
                run_parts(tm * tn, tm * tn, work);
            });
        }
    }
}

/// Whether A (`rows` rows of the terms `a`) is broadcast in place instead of packed: one
/// plain term with unit k stride, every row panel covered exactly by a tile (no reads past
/// the last row), k modest, and a row stride that is not a multiple of 4 KiB unless the
/// tile has fewer rows than L1 has ways (`l1d_ways`; rows 4 KiB apart share one L1 set:
/// 12 of them overflow an 8- or 12-way set beside the streaming B panel, AVX2's 6 fit in 8
/// ways). Measured on Zen 4, one thread: 32³ 72 -> 92 GFLOP/s, 64³ 95 -> 107, 256³ 112 ->
/// 115, 4096×64·64×64 99 -> 109, 64×784·784×256 111 -> 116; 1024³ 107 -> 99 with 12-row
/// tiles and no stride rule. AVX2's 6-row tile on Zen 1 (8-way L1),
/// 4 KiB strides in place ÷ packed, alternating in one process: one thread 0.97–1.02×
/// (1024³, 256×1024·1024, 512×1024·1024, 1024×1024·256), two threads 1.02–1.09× (each
/// column part packs all of A: 256×1024·1024 1.02×, 1024³ 1.02×, 1024×256·1024 1.09×). A row
/// stride of 0 (a broadcast A) is refused for soundness: it would reach the microkernel as
/// its "packed panel" signal and read past A.
///
/// Rows 4 KiB apart are read in place by any tile when each A micro-panel meets at most
/// [`A_4K_MAX_PANELS`] B panels (`b_panels`): packing A then costs more than the set
/// conflicts. Zen 5 (12-row tiles, 12-way L1), one thread, in place ÷ packed, k = 1024, A
/// 1024 rows: C 64 columns wide 1.16×, 128 1.13×, 256 1.07×, 512 1.05–1.08×; 64 and 256
/// rows at 64 columns 1.17× and 1.16×; at 1024 columns 0.91–1.01× (so not there).
fn a_in_place(
    micro: &Micro,
    a: &[Term],
    rows: usize,
    k: usize,
    b_panels: usize,
    l1d_ways: usize,
) -> bool {
    let [a] = a else {
        return false;
    };
    let tail = rows % micro.mr;
    a.coef == 1.0
        && a.ps == 1
        && k <= DIRECT_A_MAX_K
        && a.xs != 0
        && (micro.mr < l1d_ways || !a.xs.is_multiple_of(1024) || b_panels <= A_4K_MAX_PANELS)
        && (tail == 0 || micro.for_rows(tail).0 == tail)
}

/// Whether B (the terms `b`, `n` columns) can be read in place as NR-column panels: one
/// plain row-major term, and whole panels unless the tiles mask column tails (a narrower
/// last panel is then read only as far as its columns go).
fn b_panels_in_place(micro: &Micro, b: &[Term], n: usize) -> bool {
    matches!(b, [b] if b.coef == 1.0 && b.xs == 1)
        && (n.is_multiple_of(micro.nr) || micro.column_tails())
}

/// Deepest product that [`run_small`] runs whatever its rows ([`shallow`]).
const SHALLOW_K_MAX: usize = 64;

/// Whether `p` is shallow (k at most [`SHALLOW_K_MAX`]) with a B of at most a quarter of
/// L2 (`l2` bytes): [`run_small`] then takes it whatever its rows, as each row panel is
/// too little work (1536 FMAs per 12×32 tile at k = 64) to carry the general path's
/// blocks, buffers and per-row-panel set-up, and B stays in cache without blocking.
/// Measured on Zen 5, one thread, run_small ÷ the general path, alternating in one
/// process (m×k·k×n, 201 rounds): 1024×64·64×64 1.06×, 4096×64·64×64 1.08×,
/// 2048×64·64×128 1.03×, 4096×64·64×256 1.01×, 1000×64·64×100 1.04×, 4096×32·32×64 1.11×;
/// with 64 MiB written between products (A and C out of cache) 4096×64·64×64 1.15×,
/// 1024×64·64×64 1.18×. Deeper products gained nothing or lost (4096×128·128×128 and
/// 4096×256·256×256 0.99×).
fn shallow(p: &Product<'_>, l2: usize) -> bool {
    p.k <= SHALLOW_K_MAX && p.k * p.n * std::mem::size_of::<f32>() <= l2 / 4
}

/// Largest `m·n·k` run by [`run_small`].
const SMALL_MAX: usize = 128 * 128 * 128;

/// Whether `p` is a small (at most [`SMALL_MAX`]) or [`shallow`] plain product that
/// [`run_small`] computes: one term per operand and one destination, A and B read in place
/// as in [`macro_block`] (A with unit k stride and rows covered exactly by tiles, B
/// row-major in panels), C row-major, one slab.
fn small_in_place(micro: &Micro, p: &Product<'_>, kc_max: usize) -> bool {
    (p.m.saturating_mul(p.n).saturating_mul(p.k) <= SMALL_MAX || shallow(p, cache_sizes().l2))
        && p.k <= kc_max
        && a_in_place(
            micro,
            p.a,
            p.m,
            p.k,
            p.n.div_ceil(micro.nr),
            cache_sizes().l1d_ways,
        )
        && b_panels_in_place(micro, p.b, p.n)
        && matches!(p.c, [c] if c.cs == 1)
}

/// Whether `p` is small (at most [`SMALL_MAX`]) or [`shallow`] with an A that is not read
/// in place, so that [`run_small`] packs all of A at once and runs as for an A in place:
/// one slab, one term per operand and one destination, B row-major in panels, C
/// row-major, a tile for the exact rows of a partial last row panel, and an A of at most
/// the size of L2 (its packed copy is a scratch buffer the thread keeps; a larger A is
/// packed a block at a time by the general path). Measured on Zen 5,
/// one thread, A column-major, ÷ the general path, alternating in one process (m×k·k×n,
/// 301 rounds): 32³ 1.27×, 64³ 1.12×, 100³ 1.06×, 128³ 1.04×, 784×64·64×256 (MLP-S's
/// weight gradient Xᵀ·dH) 1.02×, 256×64·64×256 1.03×, 4096×64·64×64 1.07×,
/// 1024×64·64×256 1.01×; C column-major at 96³ (computed transposed) 1.01×.
fn small_packing_a(micro: &Micro, p: &Product<'_>, kc_max: usize) -> bool {
    let tail = p.m % micro.mr;
    let l2 = cache_sizes().l2;
    let a_bytes =
        p.m.saturating_mul(p.k)
            .saturating_mul(std::mem::size_of::<f32>());
    (p.m.saturating_mul(p.n).saturating_mul(p.k) <= SMALL_MAX || shallow(p, l2))
        && a_bytes <= l2
        && p.k <= kc_max
        && matches!(p.a, [_])
        && b_panels_in_place(micro, p.b, p.n)
        && matches!(p.c, [c] if c.cs == 1)
        && (tail == 0 || micro.for_rows(tail).0 == tail)
}

/// Loops 2 and 1 alone, over operands read in place: the blocking, buffers and thread
/// machinery of [`run`] cost about a quarter of a 32³ product (`perf record`, Zen 5).
/// Against the general path, one thread, alternating in one process (Zen 5, two runs):
/// 32³ 1.15–1.26×, 48×64·32 1.07–1.12×, 64³ 1.03–1.06×, 96³ 1.01–1.03×, 128³ 1.02×.
/// Row panels of operands large enough to be out of cache prefetch as the general path's
/// do ([`row_fetch`]). With `packed_a` ([`small_packing_a`]) all of A is packed first, in
/// one buffer of MR-row panels.
///
/// # Safety
/// As [`run`]; `p` passed [`small_in_place`], or [`small_packing_a`] with `packed_a`.
unsafe fn run_small(micro: Micro, p: &Product<'_>, packed_a: bool) {
    if !packed_a {
        // SAFETY: as this function's contract, A read in place.
        return unsafe { small_row_panels(micro, p, None) };
    }
    let len = p.m.div_ceil(micro.mr) * micro.mr * p.k;
    with_buffer(Slot::A, len, |ap| {
        // SAFETY: `ap` holds the panels of all m rows; the term covers m×k.
        unsafe { pack(ap, p.a, micro.mr, p.m, p.k, micro.simd_pack) };
        // SAFETY: as this function's contract, with A packed in `ap`.
        unsafe { small_row_panels(micro, p, Some(ap)) };
    });
}

/// Loops 2 and 1 of [`run_small`]: A read in place, or from `packed` (all of A's MR-row
/// panels).
///
/// # Safety
/// As [`run_small`].
unsafe fn small_row_panels(micro: Micro, p: &Product<'_>, packed: Option<&[f32]>) {
    let (a, b, c) = (p.a[0], p.b[0], p.c[0]);
    let mr = micro.mr;
    let fetch = row_fetch(p, packed.is_none(), cache_sizes().l2);
    let whole_rows = micro.column_tails() || p.n.is_multiple_of(micro.nr);
    for i0 in (0..p.m).step_by(mr) {
        let rows = (p.m - i0).min(mr);
        // Row panel i0 / mr: its MR-row packed panel, or rows i0.. of A in place.
        let (a_rows, ars) = match packed {
            Some(ap) => (ap[i0 * p.k..].as_ptr(), 0),
            None => (a.ptr.wrapping_add(i0 * a.xs), a.xs),
        };
        // Rows i0.. of C, from its first column.
        let row = Dst {
            ptr: c.ptr.wrapping_add(i0 * c.rs),
            rs: c.rs,
            coef: c.coef,
            overwrite: c.overwrite,
        };
        // A full row panel whose operands are worth prefetching runs as one row of
        // tiles (`RowFetch`); the others tile by tile, which costs less for a single
        // tile (32³ measured 5% slower, 64³ 2%, as rows of tiles).
        if rows == mr && whole_rows && (fetch.next_a || fetch.overwritten_c) {
            let d = [row];
            // SAFETY: a full row panel: rows i0..i0 + MR of A (packed or in place) and
            // C, every column; B in place in NR panels (the last narrower only where
            // the tiles mask column tails).
            unsafe { (micro.run_row)(p.k, a_rows, ars, b.ptr, micro.nr, b.ps, &d, p.n, fetch) };
            continue;
        }
        let (tile_rows, tile_fn) = micro.for_rows(rows);
        // A taller tile would write past C's last row (and read past A's in place).
        debug_assert_eq!(tile_rows, rows, "run_small takes exact row tails only");
        for j0 in (0..p.n).step_by(micro.nr) {
            // The last panel is narrower only where the tiles mask column tails
            // (`b_panels_in_place`).
            let cols = (p.n - j0).min(micro.nr);
            let d = [Dst {
                ptr: row.ptr.wrapping_add(j0),
                ..row
            }];
            // SAFETY: the tile covers rows i0.. (exactly) and columns j0..j0 + cols of
            // C, inside it; A rows i0.. and B columns j0.. hold k steps (the caller's
            // contract, or the packed panels).
            unsafe { tile_fn(p.k, a_rows, ars, b.ptr.wrapping_add(j0), b.ps, &d, cols) };
        }
    }
}

/// A product with one row or one column of C (or a few rows, [`summed_rows`]), as one
/// loop of `vector.rs`: dot products (`dot`) or summed rows.
#[derive(Clone, Copy)]
struct VectorProduct {
    dot: bool,
    mv: MatVec,
}

/// `p` as a matrix-vector product, where C has one row or one column, each operand one
/// term, C one destination, and the matrix operand is contiguous along k (one dot product
/// per output) or along the outputs (`x[p]`-weighted rows summed); or as summed rows for
/// two to eight rows of C ([`summed_rows`]); `None` otherwise.
///
/// Against the tiles, which compute at least a vector's width of outputs and several rows
/// and reach one or two accumulator chains here (Zen 5, one thread, same process): see
/// PERFORMANCE.md.
fn vector_form(p: &Product<'_>) -> Option<VectorProduct> {
    let ([a], [b], [c]) = (p.a, p.b, p.c) else {
        return None;
    };
    let coef = a.coef * b.coef * c.coef;
    if summed_rows(p.m, p.n, p.k, b) {
        // A few rows of C at once, each summing rows of B weighted by its row of A.
        return Some(VectorProduct {
            dot: false,
            mv: MatVec {
                k: p.k,
                x: a.ptr,
                xs: a.ps,
                m: b.ptr,
                ms: b.ps,
                len: p.n,
                out: Dst {
                    ptr: c.ptr,
                    rs: c.cs,
                    coef,
                    overwrite: c.overwrite,
                },
                count: p.m,
                x_next: a.xs,
                out_next: c.rs,
            },
        });
    }
    // (x, xs, matrix, its stride between outputs, its stride along k, outputs, C stride)
    let (x, xs, mat, out_stride, k_stride, len, cs) = if p.m == 1 {
        (a.ptr, a.ps, b.ptr, b.xs, b.ps, p.n, c.cs)
    } else if p.n == 1 {
        (b.ptr, b.ps, a.ptr, a.xs, a.ps, p.m, c.rs)
    } else {
        return None;
    };
    // One output is always a dot product; otherwise the contiguous direction decides.
    let dot = if k_stride == 1 && (len == 1 || out_stride != 1) {
        true
    } else if out_stride == 1 {
        false
    } else {
        return None;
    };
    Some(VectorProduct {
        dot,
        mv: MatVec {
            k: p.k,
            x,
            xs,
            m: mat,
            ms: if dot { out_stride } else { k_stride },
            len,
            out: Dst {
                ptr: c.ptr,
                rs: cs,
                coef,
                overwrite: c.overwrite,
            },
            count: 1,
            x_next: 0,
            out_next: 0,
        },
    })
}

/// Most rows of C computed as summed rows of B ([`summed_rows`]).
const SUMMED_ROWS_MAX: usize = 8;

/// Fewest columns of C, and (from three rows up) the smallest k, computed as summed rows.
const SUMMED_ROWS_MIN: usize = 256;

/// Most columns past a whole number of vectors that [`tail_dot_columns`] takes as dots.
const TAIL_DOTS_MAX: usize = DOT_VECTORS;

/// Fewest elements of A (m·k) for which a column tail is computed as dots: below it the
/// copy of B's columns and the separate pass cost more than the masked tiles waste
/// (20×20·20×20 0.81×, 36×36·36×36 0.96×; 64×64·64×36 and 36×100·100×36 gain).
const TAIL_DOTS_MIN_A: usize = 2048;

/// How many last columns of C (0 for none) are computed as dot products of A's rows with
/// B's columns ([`run_tail_dots`]) rather than by the tiles: the 1 to [`TAIL_DOTS_MAX`]
/// columns past a whole number of vectors where the tiles mask column tails, with one
/// term and destination each, A's rows contiguous along k and at least
/// [`TAIL_DOTS_MIN_A`] elements of A. A tile computes such a tail as a whole vector (12×16
/// on AVX-512 for 1–4 columns) in the time of sixteen columns: 100×100·100×100 took as
/// long as 100×100·100×112, its 4-column tail 18% of the product.
///
/// Measured on Zen 5, one thread, dots ÷ tiles for the tail, in one process (m×k·k×n,
/// 301 rounds, alternating): 100×100·100×100 1.09×, ×97 1.13×, ×98 1.12×, ×99 1.10×,
/// 200×100·100×100 1.08×, 100×400·400×100 1.12×, 1000×100·100×100 1.08×,
/// 500×500·500×100 1.11×, 64×64·64×68 1.08×, 100×100·100×20 1.09×, 64×64·64×36 1.13×,
/// 4096×64·64×68 1.10×, 100×32·32×100 1.02×; two threads 1000×1000·1000×100 1.11×,
/// 2000×200·200×100 1.09×. Four columns read three rows of A at a time, not four:
/// sixteen accumulators measured 0.77× the tiles at 100³, twelve 1.09×.
fn tail_dot_columns(micro: &Micro, p: &Product<'_>) -> usize {
    let tail = p.n % micro.col_step;
    let one_each = p.a.len() == 1 && p.b.len() == 1 && p.c.len() == 1;
    if micro.column_tails()
        && p.n > tail
        && tail <= TAIL_DOTS_MAX
        && one_each
        && p.a[0].ps == 1
        && p.m * p.k >= TAIL_DOTS_MIN_A
    {
        tail
    } else {
        0
    }
}

/// Computes the last `tail` columns of C as dot products ([`tail_dot_columns`]): B's
/// columns copied contiguous, then each row of A read once for all of them.
///
/// # Safety
/// As [`run`], for a product `tail_dot_columns` chose.
unsafe fn run_tail_dots(micro: Micro, p: &Product<'_>, tail: usize, threads: usize) {
    let ([a], [b], [c]) = (p.a, p.b, p.c) else {
        unreachable!("tail_dot_columns takes one term and destination each")
    };
    let (j0, k) = (p.n - tail, p.k);
    with_buffer(Slot::B, tail * k, |cols| {
        for (j, col) in cols.chunks_exact_mut(k).enumerate() {
            for (q, e) in col.iter_mut().enumerate() {
                // SAFETY: B holds k×n floats (caller's contract); j0 + j < n, q < k.
                *e = unsafe { *b.ptr.add((j0 + j) * b.xs + q * b.ps) };
            }
        }
        let mv = MatVec {
            k,
            x: cols.as_ptr(),
            xs: 1,
            m: a.ptr,
            ms: a.xs,
            len: p.m,
            out: Dst {
                ptr: c.ptr.wrapping_add(j0 * c.cs),
                rs: c.rs,
                coef: a.coef * b.coef * c.coef,
                overwrite: c.overwrite,
            },
            count: tail,
            x_next: k,
            out_next: c.cs,
        };
        // SAFETY: A's m rows of k contiguous floats (ps = 1), the copied columns, and the
        // last `tail` columns of C, which the tiles did not write.
        unsafe { run_vector(micro, VectorProduct { dot: true, mv }, threads) };
    });
}

/// Whether a product with `m` (2 to [`SUMMED_ROWS_MAX`]) rows of C runs as summed rows of
/// B (`vector.rs`, `axpys`: one pass over B serves up to seven rows of C, eight take two)
/// rather than as tiles: B row-major, at least [`SUMMED_ROWS_MIN`] columns, and either at most two rows
/// or B's rows a multiple of 4 KiB apart with k at least [`SUMMED_ROWS_MIN`]. Tiles read
/// B down its columns, which at such strides map to a few L1 sets and a new page every
/// step, so B is packed first, a pass over all of B for a few rows of work; summed rows
/// read B once, row by row. Where B's rows are not 4 KiB apart, tiles with 3–8 rows read
/// it in place well and win.
///
/// Measured on Zen 5, one thread, summed rows ÷ tiles, alternating in one process
/// (m×k·k×n): two rows 2×1024·1024×1024 3.7×, 2×4096·4096×4096 3.7×, 2×512·512×2048 3.9×,
/// 2×64·64×1024 2.0×, 2×1000·1000×1000 1.16×, 2×256·256×256 1.10×, 2×16·16×4096 1.08×;
/// rows 4 KiB apart 3×1024·1024×1024 2.6×, 4×1024·1024×1024 2.7×, 4×256·256×2048 2.6×,
/// 3×256·256×1024 1.8×, 6×2048·2048×2048 1.5×, 4×4096·4096×1024 1.6×, 8×1024·1024×1024
/// 1.2×, 8×256·256×4096 1.2×, 5×300·300×1024 1.2×, 7×1024·1024×4096 1.08×,
/// 8×2048·2048×2048 0.96×. Left to tiles: 2×64·64×64 0.56×, 2×1024·1024×32 0.52×,
/// 2×128·128×128 1.02×, 8×64·64×1024 0.77×; other strides 4×1000·1000×1000 0.81×,
/// 4×256·256×256 0.90×, 6×512·512×512 0.88×, 8×512·512×512 0.79×, 8×256·256×256 0.59×
/// (but 3×512·512×512 1.27×). These were measured with passes of four rows; five to seven
/// rows in one pass gained 1.10–1.44× more (see `AXPY_ONE_PASS` in `vector.rs`).
pub(super) fn summed_rows(m: usize, n: usize, k: usize, b: &Term) -> bool {
    (2..=SUMMED_ROWS_MAX).contains(&m)
        && n >= SUMMED_ROWS_MIN
        && b.xs == 1
        && (m <= 2 || (b.ps.is_multiple_of(1024) && k >= SUMMED_ROWS_MIN))
}

/// Outputs per thread below which a matrix-vector product stays on one thread.
const VECTOR_PART_MIN: usize = 256;

/// Runs `v` with `micro`'s matrix-vector loops, its outputs split across up to `threads`
/// threads.
///
/// # Safety
/// As [`run`], for the product `v` came from.
unsafe fn run_vector(micro: Micro, v: VectorProduct, threads: usize) {
    let VectorProduct { dot, mv } = v;
    let parts = threads.min(mv.len / VECTOR_PART_MIN).max(1);
    // Borrow the product whole: its raw-pointer fields alone are not Sync, it is.
    let whole = &mv;
    run_parts(parts, parts, |t| {
        let mv = whole;
        let (j0, j1) = split(mv.len, 64, parts, t);
        if j0 >= j1 {
            return;
        }
        // This part's outputs j0..j1: rows j0.. of a dot product's matrix, columns j0.. of
        // a summed-rows one.
        let part = MatVec {
            m: mv.m.wrapping_add(if dot { j0 * mv.ms } else { j0 }),
            len: j1 - j0,
            out: Dst {
                ptr: mv.out.ptr.wrapping_add(j0 * mv.out.rs),
                ..mv.out
            },
            ..*mv
        };
        if !dot {
            // SAFETY: M has k rows of the outputs' columns, x k floats (caller); this part
            // owns outputs j0..j1.
            unsafe { (micro.vector.axpys)(&part) };
        } else if part.xs == 1 {
            // SAFETY: as above, M rows j0..j1 of k contiguous floats.
            unsafe { (micro.vector.dots)(&part) };
        } else {
            // The dot loop reads x contiguously: copy a strided x first.
            with_buffer(Slot::B, part.k, |x| {
                for (p, e) in x.iter_mut().enumerate() {
                    // SAFETY: x holds k floats xs apart (caller).
                    *e = unsafe { *part.x.add(p * part.xs) };
                }
                let part = MatVec {
                    x: x.as_ptr(),
                    xs: 1,
                    ..part
                };
                // SAFETY: as above, with x contiguous in the buffer.
                unsafe { (micro.vector.dots)(&part) };
            });
        }
    });
}

/// Whether `threads` threads split C into column ranges that each run the one-thread
/// algorithm (own B packing, no barrier between threads until the end) rather than
/// sharing packed B blocks on a thread grid. Each part must be at least four tiles wide
/// and `64·threads` columns, since every part packs all of A: duplicated A packing costs
/// about `8·threads / n` of the product, so wide parts keep it to a few percent while
/// larger thread counts keep the shared grid. Measured on two threads (Intel Xeon host,
/// one process, wall clock, split ÷ shared grid): 256×1024·1024 1.09–1.10×, 256×784·784×512
/// 1.12×, 256×1024·784 1.10×, 384³ 1.06×, 512³ 1.03×, 1024³ 1.03–1.05×, 2048³ 1.10×,
/// 1024×256·256×1024 (Aᵀ·B) 0.97–1.06×, 256³ 1.00×: without shared blocks a thread
/// neither waits for the other's packing at every k slab nor reads half of B from the
/// other core's L2.
fn split_columns(n: usize, nr: usize, threads: usize) -> bool {
    threads > 1 && n / threads >= (4 * nr).max(64 * threads)
}

/// Runs `p` as `threads` independent one-thread products on near-equal column ranges of
/// C and B (cut at whole NR panels), in parallel.
///
/// # Safety
/// As [`run`]; the column ranges are disjoint, so the parts write disjoint parts of C.
unsafe fn run_column_parts(micro: Micro, blk: Blocking, p: Product<'_>, threads: usize) {
    // Borrow the product whole: its fields alone (slices of raw-pointer structs) are not
    // Sync, the product is.
    let whole = &p;
    run_parts(threads, threads, |t| {
        let p = whole;
        let (j0, j1) = split(p.n, micro.nr, threads, t);
        if j0 >= j1 {
            return;
        }
        let b: [Term; MAX_DST] = std::array::from_fn(|i| {
            let t = p.b.get(i).copied().unwrap_or(p.b[0]);
            t.at(j0, 0)
        });
        let c: [CDst; MAX_DST] = std::array::from_fn(|i| {
            let d = p.c.get(i).copied().unwrap_or(p.c[0]);
            CDst {
                ptr: d.ptr.wrapping_add(j0 * d.cs),
                ..d
            }
        });
        let part = Product {
            n: j1 - j0,
            b: &b[..p.b.len()],
            c: &c[..p.c.len()],
            ..*p
        };
        // SAFETY: the part's B terms and destinations are the caller's, moved to column
        // j0 < n; each part owns columns j0..j1 of every destination.
        unsafe { run(micro, blk, part, 1) };
    });
}

/// Whether a row-major `p` wastes so much of each tile on columns past `n` that
/// computing `Cᵀ = Bᵀ·Aᵀ` does at most 3/4 of the padded work (e.g. `n = 10` on the
/// 12×32 AVX-512 tile: 256×32 padded vs 12×256 transposed). Transposed, C is written
/// through the strided edge path, which costs little next to the k loop.
///
/// Where tiles mask column tails and A is read in place, the narrow product stays as it
/// is: transposed, A (then B) would be packed and C written through the edge path. Zen 5,
/// one thread, `n = 10`, A row-major, as is ÷ transposed: 64×256·256×10 1.48×,
/// 256×64·64×10 1.68×, 64×1000·1000×10 1.78×, 1024×128·128×10 1.43×; rows 4 KiB apart
/// (read in place since they meet one B panel, `A_4K_MAX_PANELS`): 64×1024·1024×10
/// 1.38×, 256×1024·1024×10 1.15×. With A column-major (a weight gradient `Xᵀ·dY`,
/// 256×64·64×10) A is packed either way and transposing measured 1.30× faster.
fn narrow(micro: &Micro, p: &Product<'_>, l1d_ways: usize) -> bool {
    let padded =
        |rows: usize, cols: usize| micro.padded_rows(rows) * cols.div_ceil(micro.nr) * micro.nr;
    p.n < micro.nr
        && p.c.iter().all(|d| d.cs == 1)
        && 4 * padded(p.n, p.m) <= 3 * padded(p.m, p.n)
        && !(micro.column_tails()
            && a_in_place(micro, p.a, p.m, p.k, p.n.div_ceil(micro.nr), l1d_ways))
}

/// Whether `rows` fill one row panel of `mr` at least half: B with rows 4 KiB apart is then
/// read in place too (see [`DIRECT_B_FEW_ROWS`]), since the one panel reads it once. Zen 5,
/// one thread, alternating processes, in place ÷ packed, k = n = 1024 unless given:
/// AVX-512 tile, 8 rows 1.10–1.14×, 10 rows 1.17×, 12 rows 1.68–1.82×, 12×1024·1024×2048
/// 1.44–1.92×, 8×2048·2048×2048 1.80–1.95×, 8×1024·1024×4096 1.72–1.79×; AVX2 tile, 4 rows
/// 1.32×, 6 rows 1.43×, 6×2048·2048×2048 1.62×. Thinner or taller: 4 rows 0.87–0.98×, 5
/// rows 1.00×, 6 rows 1.05× (AVX-512); 12 rows on the 6-row AVX2 tile (two panels) 0.79×.
fn one_half_full_panel(rows: usize, mr: usize) -> bool {
    rows <= mr && 2 * rows > mr
}

/// Largest `k·n` for which a row-major B is read in place rather than packed.
const DIRECT_B_MAX: usize = 512 * 1024;

/// Most row panels per thread that read a B of more than [`DIRECT_B_SMALL`] floats in
/// place (beyond this many, packing B once pays for itself).
const DIRECT_B_MAX_PANELS: usize = 16;

/// A B of at most this many floats (16 KiB, well inside L1) is always read in place.
const DIRECT_B_SMALL: usize = 4 * 1024;

/// Whether a B that the first row panel's tiles can pack ([`fills_b`]) is packed so rather
/// than read in place by the row-panel rule ([`DIRECT_B_MAX_PANELS`]): where it takes more
/// than half of L2 (`l2` bytes). Read in place, such a B's panels (rows ≥ 1 KiB apart, each
/// panel line in a few L1 sets) stream from L2 for every row panel; packed by the first
/// one, the later ones read them contiguous. Measured on Zen 5, one thread, packed by the
/// tiles ÷ in place, alternating in one process (m×k·k×n, 401 rounds): 64×784·784×256
/// (MLP-S's first layer) 1.05×, 48 and 96 rows 1.02–1.03×, 64×784·784×384 1.06×,
/// 64×784·784×512 1.20×, 40 and 100 rows 1.16–1.20×, 64×1024·1024×256 1.08×,
/// 100×500·500×1000 1.08×; two threads 64×784·784×256 1.06×, ×512 1.02×. At or under half
/// of L2 it was even (64×512·512×256 1.01×, 64×600·600×256 1.00×, 64×784·784×128 1.00×);
/// with a packing pass instead of the tiles (150 rows) in place stays ahead (0.96×), and
/// 120×784·784×256 gained 1.10× in the same runs.
fn tiles_pack_b_over_half_of_l2(k: usize, n: usize, l2: usize) -> bool {
    k * n * std::mem::size_of::<f32>() > l2 / 2
}

/// Most row panels per thread that read B in place under [`b_in_place_beside_l2`].
const DIRECT_B_L2_PANELS: usize = 32;

/// Whether B is read in place by more row panels than [`DIRECT_B_MAX_PANELS`], up to
/// [`DIRECT_B_L2_PANELS`]: where it takes at most half of L2 (`l2` bytes) and its rows are
/// not a multiple of 2 KiB apart. Such a B stays in L2 for every row panel, so its
/// packing pass (7.5% of 256³, `perf record`) costs more than reading it in place; with
/// rows 2 or 4 KiB apart, their panel lines crowd a few L1 sets.
/// Measured on Zen 5, in place ÷ packed, alternating in one process (m×k·k×n, 201–401
/// rounds): one thread 256³ 1.03× (0.99–1.04× over four runs), 320³ 1.02–1.03×,
/// 200×256·256×256 1.05×, 300×256·256×256 1.02×, 256×256·256×200 1.03×,
/// 256×256·256×128 1.04×, 384×256·256×256 1.00×; two threads 256³ 1.04×,
/// 384×256·256×256 1.02×. Left packed: rows 4 KiB apart (256×128·128×1024 0.85×,
/// 300×64·64×1024 0.84×) or 2 KiB apart (256×256·256×512 0.96–1.02×), and a larger B
/// (384³ 0.98–1.02×, 448³ 0.95×, 512³ 0.84×, 256×1024·1024×256 0.90×).
fn b_in_place_beside_l2(p: &Product<'_>, rows_per_thread: usize, mr: usize, l2: usize) -> bool {
    rows_per_thread <= DIRECT_B_L2_PANELS * mr
        && p.k * p.n * std::mem::size_of::<f32>() <= l2 / 2
        && !p.b[0].ps.is_multiple_of(512)
}

/// Rows per thread up to which B is read in place whatever its size, unless its rows are a
/// multiple of 4 KiB apart (then only for one row panel, [`one_half_full_panel`]): packing
/// costs a pass over B that so few rows cannot repay.
/// Zen 5, one thread, in place ÷ packed (alternating processes), AVX-512 tile:
/// 8×1000·1000×1000 2.6×, 16×768·768×768 1.51×, 32×768·768×768 1.33×,
/// 32×1000·1000×1000 1.38×, 32×1536·1536×1536 1.65×, 32×512·512×1536 1.31×,
/// 24×3000·3000×3000 1.14×, 32×4096·4096×768 1.02×; AVX2 tile: 8×1000·1000×1000 1.75×,
/// 16×768·768×768 1.65×, 32×768·768×768 1.27×, 32×1000·1000×1000 1.37×. Slower with more
/// rows (36, 48, 64 rows at 768³: 0.97×, 0.93×, 0.85×) and with rows 4 KiB apart, whose
/// panel lines all fall in one L1 set (32×1024·1024×1024 0.83×, 48×1024·1024×1024 0.67×,
/// 32×768·768×3072 0.86×).
const DIRECT_B_FEW_ROWS: usize = 32;

/// Most B panels an A micro-panel with rows 4 KiB apart meets and is still read in place
/// by a tile with as many rows as L1 has ways (see [`a_in_place`]).
const A_4K_MAX_PANELS: usize = 16;

/// Largest k for which a row-major A is read in place rather than packed.
const DIRECT_A_MAX_K: usize = 1024;

/// Where the microkernel reads B panels: panel `q` starts at `ptr + q·panel_step` and its
/// k steps are `bs` floats apart (packed: `NR·kc` and `NR`; in place: `NR` and B's row
/// stride).
#[derive(Clone, Copy)]
struct BSrc {
    ptr: *const f32,
    panel_step: usize,
    bs: usize,
    /// Set where the packed panels are not written yet: the first row panel's tiles read
    /// B here in place and write the panels at `ptr` (see [`fills_b`]).
    fill: Option<BFill>,
}

/// B of the current block in place (row-major, `NR`-column panel `q` at `ptr + q·NR`,
/// rows `bs` apart), read by the tiles that write the packed panels at `packed`, which
/// fetch B for `group` panels at a time (see [`fill_b_group`]).
#[derive(Clone, Copy)]
struct BFill {
    ptr: *const f32,
    bs: usize,
    packed: *mut f32,
    group: usize,
}

/// Panels per group of [`fill_b_group`].
const FILL_B_GROUP: usize = 4;

/// Deepest KC slab where the B-packing tiles fetch B in groups ([`fill_b_group`]): with B
/// that large, a 256-deep block of packed B (1 MiB at NC 1024) stays in L2 for the later
/// row panels and the group's lines ahead (a quarter of that), where a 1024-deep one goes
/// to L3. Measured on Zen 5, one thread, KC 256 ÷ the deep-slab rule's 1024, in one process
/// (m×n×k, 21 rounds, both orders): 13×2048×2048 1.04–1.06×, 16×4096×1024 1.06–1.10×,
/// 24×2048×2048 1.05–1.10×, 48×2048×4096 1.03–1.09×, 48×4096×4096 1.04–1.05×,
/// 120×2048×2048 1.02–1.03× (512 gained less, 128 lost; groups of 8 at KC 256 were within
/// ±4% of 4). Against a 4 MiB B (no groups) KC 256 was mixed, 0.95–1.07× (13 rows gain,
/// 64–120 rows lose), so it stays with the groups.
const GROUPED_KC: usize = 256;

/// The L3 size [`fill_b_group`] compares B with: the host's; in this crate's unit tests, a
/// smaller one where a test sets it, so that small products take the grouped path.
fn grouping_l3() -> usize {
    #[cfg(test)]
    if let l3 @ 1.. = tests::L3_FOR_GROUPING.load(std::sync::atomic::Ordering::Relaxed) {
        return l3;
    }
    cache_sizes().l3
}

/// The deepest KC slab of a product: the blocking's, or at most [`GROUPED_KC`] where the
/// B-packing tiles fetch B in groups (`grouped`).
fn slab_depth(kc: usize, grouped: bool) -> usize {
    if grouped { kc.min(GROUPED_KC) } else { kc }
}

/// How many B panels the B-packing tiles ([`fills_b`]) fetch B for together: where B is
/// at least a quarter of L3 (`l3`, see [`grouping_l3`]), the first tile of each [`FILL_B_GROUP`] panels prefetches,
/// with its own lines, those of the next three panels in the same B row
/// ([`prefetch_ahead`]), so B is read 4·NR contiguous floats per row instead of NR (on
/// AVX-512 512 bytes instead of 128), rows pages apart, which neither the hardware
/// prefetchers nor DRAM serve well
/// (the tiles that pack B ran 4.3× slower per FMA than the rest at 48×4096·4096×4096,
/// `perf record`). Measured on Zen 5, one thread, grouped ÷ not, in one process (m×n×k,
/// 21 rounds): 24×2048×2048 1.15×, 24×4096×1024 1.16×, 48×2048×4096 1.14×,
/// 48×4096×4096 1.06×, 120×2048×2048 1.05×; groups of 2 and 8 gained less. Against a
/// B of 4 MiB, which stays in L3 between products, it was 0.97–1.03× (12×512×512 0.97×,
/// 16 and 32 rows at 1024² 0.98–0.99×, 64 and 100 rows at 1000²–1024² 1.02–1.03×), hence
/// the threshold; a deeper prefetch (16–1024 steps instead of 8) did not help either.
fn fill_b_group(k: usize, n: usize, l3: usize) -> usize {
    if k * n * std::mem::size_of::<f32>() >= l3 / 4 {
        FILL_B_GROUP
    } else {
        1
    }
}

/// The panels to its right that the B-packing tile of a thread's `rel`-th panel, with
/// `left` more after it, prefetches B for: the rest of its group from a group's first
/// tile, none from the others (their lines are on their way).
fn prefetch_ahead(rel: usize, left: usize, group: usize) -> usize {
    if rel.is_multiple_of(group) {
        (group - 1).min(left)
    } else {
        0
    }
}

/// Whether the B packing pass requests B's source lines a few rows ahead ([`pack_b`]'s
/// `fetch`): where B comes from memory rather than cache, because it is a sum of terms
/// (`mp`'s quadrant sums, whose operands outgrow L3 where `mp` pays) or takes at least
/// half of L3 (`l3` bytes) itself. Each row of a packed block starts a new page, where the
/// hardware prefetchers start over. Measured on Zen 5, with ÷ without, alternating in one
/// process (5–31 rounds): one thread mp 2048³ 1.03–1.04×, 3072³ 1.03×, 4096³ 0.99–1.04×,
/// packed 2048³ 1.02×, 3072³ 1.01×, 4096³ 0.99×; two threads mp 2048³ 1.03×, packed 2048³
/// 1.01×. With B in L3 it only costs (256×1024·1024×1024 0.99×, 1024³ 1.00×, mp 1024³
/// 1.00×).
fn packing_fetches_b(p: &Product<'_>, l3: usize) -> bool {
    p.b.len() > 1 || p.k * p.n * std::mem::size_of::<f32>() >= l3 / 2
}

/// Most row panels per thread for which B is packed by the first row panel's tiles
/// ([`fills_b`]).
const FILL_B_MAX_PANELS: usize = 10;

/// Whether B is packed by the tiles of each thread's first row panel as they read it in
/// place ([`Micro::run_packing_b`]) instead of in a pass of its own before them: one plain
/// row-major B term (read in place as NR panels, see [`b_panels_in_place`]), row-major C,
/// threads that split columns only (`tm = 1`: each thread packs and reads its own panels,
/// so no thread waits on another's packing; it is also what makes the writes sound:
/// with tm > 1, threads sharing a B panel would write it at once), and a first row panel
/// that is a full tile (the fused entry is the full tile only), and at most
/// [`FILL_B_MAX_PANELS`] row panels per thread. Packing is a pass over memory; fused into
/// the tiles it is two vector stores per k step beside 24 FMAs, and the panels are hot in
/// L2 when the next row panel reads them. With few row panels the pass is a large share of
/// the product; with many, the first panel's slow reads (below) cost as much as the pass
/// saved, or more on AVX2.
///
/// Measured on Zen 5, one thread, fused ÷ a packing pass, alternating in one process
/// (m×k·k×n): 24×2048·2048×4096 1.23×, 48×4096·4096×4096 1.20×, 36×1024·1024×1024 1.19×,
/// 64×1024·1024×1024 1.08×, 100×1000·1000×1000 1.09×, 200×500·500×2000 1.06×,
/// 128×2048·2048×2048 1.05×, 256³ 1.03×; 256×1024·1024×1024, 512×1024·1024×1024, 1024³,
/// 2048³ and many rows against a small B (1000×100·100×1000, 4096×256·256×256)
/// 0.98–1.01×; two threads 512³–2048³ 0.99–1.02×. Against the build before it
/// (`kernel_cputime`, three runs each), k = n = 1024: 13 rows 91 → 111–115 GFLOP/s, 16 rows
/// 109–113 → 140–144, 32 rows 154–165 → 177–183. The first row panel reads B at B's own
/// row stride (4 KiB and more in the big shapes), which is why those gain nothing: what
/// the pass cost, that panel's slower reads now cost. The AVX2 6×16 tile (one B line per k
/// step, half the FMAs per step to hide the reads behind) on the same host: 16 and 32
/// rows 1.06–1.07×, 256³ 1.05×, 24×2048·2048×4096 1.02×, 100×1000·1000×1000 and
/// 200×500·500×2000 1.00×, but 64×1024·1024×1024 0.96×, 256×1024·1024×1024 0.97×,
/// 256×784·784×1024 0.94×, 512×1024·1024×1024 0.97×, 1024³ 0.98×, 256×1000·1000×1000
/// 0.97×; hence the limit of 10 row panels (AVX-512 up to 120 rows, AVX2 up to 60), which
/// leaves the pass to the neutral-to-slower shapes of both and gives up AVX-512's 1.03–1.06×
/// at 128–256 rows.
fn fills_b(micro: &Micro, p: &Product<'_>, tm: usize, unit_cs: bool) -> bool {
    tm == 1
        && unit_cs
        && p.m >= micro.mr
        && p.m.div_ceil(micro.mr) <= FILL_B_MAX_PANELS
        && b_panels_in_place(micro, p.b, p.n)
}

// SAFETY: pointers into B (only read) and the packed buffer (read, or written panel by
// panel by the one thread that owns the panel, see `fills_b`), shared while they are
// borrowed.
unsafe impl Send for BSrc {}
// SAFETY: as above.
unsafe impl Sync for BSrc {}

/// Loops 3, 2, 1 for one thread: rows `rows` of C, B panels `panels` of the current block.
///
/// # Safety
/// As [`run`]; `src` addresses the B block of slab (`pc`, `kc`) and column block `jc`.
#[allow(clippy::too_many_arguments)]
unsafe fn macro_block(
    micro: Micro,
    mc: usize,
    p: &Product<'_>,
    src: BSrc,
    rows: (usize, usize),
    panels: (usize, usize),
    jc: usize,
    nc_cur: usize,
    pc: usize,
    kc: usize,
    slab: usize,
) {
    let mr = micro.mr;
    if rows.0 >= rows.1 || panels.0 >= panels.1 {
        return;
    }
    let unit_cs = p.c.iter().all(|d| d.cs == 1);
    debug_assert!(src.fill.is_none() || (unit_cs && rows.1 - rows.0 >= mr));
    let direct_a = a_in_place(
        &micro,
        p.a,
        rows.1 - rows.0,
        p.k,
        panels.1 - panels.0,
        cache_sizes().l1d_ways,
    );
    // Even row blocks (whole MR panels) rather than full MC blocks and a sliver.
    let span = rows.1 - rows.0;
    let mc = span.div_ceil(span.div_ceil(mc)).div_ceil(mr) * mr;
    // Loop 3: MC row blocks of this thread's rows.
    for ic in (rows.0..rows.1).step_by(mc) {
        let mc_cur = mc.min(rows.1 - ic);
        let a_panels = mc_cur.div_ceil(mr);
        let a_len = if direct_a { 0 } else { a_panels * mr * kc };
        with_buffer(Slot::A, a_len, |ap| {
            let terms: [Term; MAX_DST] = std::array::from_fn(|i| {
                let t = p.a.get(i).copied().unwrap_or(p.a[0]);
                t.at(ic, pc)
            });
            if !direct_a {
                // SAFETY: `ap` holds the panels; the terms cover mc_cur×kc.
                unsafe { pack(ap, &terms[..p.a.len()], mr, mc_cur, kc, micro.simd_pack) };
            }
            let block = Block {
                micro,
                p,
                src,
                panels,
                jc,
                nc_cur,
                kc,
                slab,
                fetch: row_fetch(p, direct_a, cache_sizes().l2),
            };
            // A last, partial row panel runs interleaved with the first one where that one
            // packs B: each of its tiles right after the first panel's tile for the same
            // columns, while that B panel is in L2, instead of in a pass of its own over
            // the whole packed block from L3 (`interleaves_last`).
            let fill_here = src.fill.filter(|_| ic == rows.0);
            let last_too = fill_here.is_some() && interleaves_last(mr, mc_cur);
            let row_panel = |r: usize| {
                let i0 = r * mr;
                // In place: row i0 of this block, rows `xs` apart; packed: panel r.
                let a = if direct_a {
                    (terms[0].at(i0, 0).ptr, terms[0].xs)
                } else {
                    (ap[r * mr * kc..].as_ptr(), 0)
                };
                // The thread's first row panel packs B as it reads it (`fills_b`).
                let fill = fill_here.filter(|_| r == 0);
                RowPanel::new(&block, a, ic + i0, mr.min(mc_cur - i0), fill, unit_cs)
            };
            // Loop 2: MR micro-panels of packed A (each stays resident through loop 1).
            for r in 0..a_panels {
                if last_too && r + 1 == a_panels {
                    continue;
                }
                let this = row_panel(r);
                let last = (last_too && r == 0).then(|| row_panel(a_panels - 1));
                // A full row panel that reads packed or in-place B runs its tiles in one
                // call; what it leaves (tiles the ISA cannot run narrow, or every tile of a
                // row panel that packs B or is interleaved) runs tile by tile.
                let first_left = if last.is_none() {
                    // SAFETY: the caller's contract for this block; B is packed or read in
                    // place, `whole_row` runs nothing for a row panel that packs B, and the
                    // thread's first row panel has packed every panel of the later ones.
                    unsafe { this.whole_row(&block) }
                } else {
                    panels.0
                };
                // Loop 1: NR micro-panels of packed B, streamed from L2 or L3.
                for q in first_left..panels.1 {
                    // SAFETY: the caller's contract for this block; each row panel's tile
                    // for panel q runs after the first row panel's (which packs it).
                    unsafe {
                        this.tile(&block, q);
                        if let Some(last) = &last {
                            last.tile(&block, q);
                        }
                    }
                }
            }
        });
    }
}

/// The prefetches rows of tiles issue ([`RowFetch`]): the next row panel's A where A is
/// read in place and C's lines before they are overwritten, each where that operand takes
/// at least a quarter of L2 (`l2` bytes), so it may well not be in cache; a smaller one
/// usually is, and the requests then only cost (128³ and 64×784·784×256 lost 1–1.5%).
///
/// Measured on Zen 5, one thread, with ÷ without, alternating in one process (m×k·k×n,
/// 101–201 rounds), operands in cache (the same product repeated) / out of cache (64 MiB
/// written between products): 4096×64·64×64 1.00× / 1.50–1.59×, 1024×256·256×64 1.01× /
/// 1.48×, 4096×256·256×256 1.07× / 1.14×, 256³ 1.00× / 1.12×, 512³ 1.00× / 1.01×; with 16
/// MiB written between (partly in L3) 4096×64·64×64 1.02×. Only C (A packed):
/// 784×64·64×256 (Aᵀ) 1.00× / 1.01×, 1024³ 1.00× / 1.00×. Fetching A into L2 instead of L1
/// gained less than half as much; fetching C alone, 1.02× out of cache.
fn row_fetch(p: &Product<'_>, direct_a: bool, l2: usize) -> RowFetch {
    let large = |floats: usize| floats * std::mem::size_of::<f32>() >= l2 / 4;
    RowFetch {
        next_a: direct_a && large(p.m * p.k),
        overwritten_c: large(p.m * p.n),
    }
}

/// Whether the last row panel of a block of `rows` rows runs interleaved with the first
/// one, which packs B (see `macro_block`): where it is partial and not the first. Measured
/// on Zen 5, one thread, interleaved ÷ after, in one process (m×n×k, 41 rounds):
/// 13×1024×1024 1.06×, 14×1024×1024 1.07×, 16×1024×1024 1.05×, 13×2048×2048 1.05×,
/// 16×4096×1024 1.05×, 49 and 52 rows at 1024² 1.02×; with two or more full panels before
/// the partial one (18–37 rows), or a B that fits L2 (13×512×512), 0.99–1.01×.
fn interleaves_last(mr: usize, rows: usize) -> bool {
    rows > mr && !rows.is_multiple_of(mr)
}

/// What the tiles of one block (slab `pc`, column block `jc`) share: see [`macro_block`].
struct Block<'a> {
    micro: Micro,
    p: &'a Product<'a>,
    src: BSrc,
    panels: (usize, usize),
    jc: usize,
    nc_cur: usize,
    kc: usize,
    slab: usize,
    fetch: RowFetch,
}

/// What every tile of one row panel shares, worked out once per row panel rather than per
/// tile (the tile lookup and the destinations cost 2–3% of a 64-deep product's time when
/// redone per tile).
struct RowPanel {
    /// A's micro-panel: (start, row stride), row stride 0 where packed.
    a: (*const f32, usize),
    /// The panel's first row of C and its row count.
    ci: usize,
    rows: usize,
    tile_fn: TileFn,
    /// Tiles write C directly (row-major C and a tile exactly as tall as the panel).
    fast_rows: bool,
    /// Each destination at (ci, jc) (for unit column strides: read only where
    /// `fast_rows`).
    row_dst: [Dst; MAX_DST],
    /// Where this row panel packs B (the thread's first, see [`fills_b`]).
    fill: Option<BFill>,
}

impl RowPanel {
    fn new(
        block: &Block<'_>,
        a: (*const f32, usize),
        ci: usize,
        rows: usize,
        fill: Option<BFill>,
        unit_cs: bool,
    ) -> RowPanel {
        let (tile_rows, tile_fn) = block.micro.for_rows(rows);
        // In place, a taller tile would read past A's last row.
        debug_assert!(a.1 == 0 || tile_rows == rows);
        let mut row_dst = [Dst::UNUSED; MAX_DST];
        for (o, c) in row_dst.iter_mut().zip(block.p.c) {
            *o = Dst {
                // Wrapping: only the tiles' offsets from it are dereferenced.
                ptr: c.ptr.wrapping_add(ci * c.rs + block.jc),
                rs: c.rs,
                coef: c.coef,
                overwrite: c.overwrite && block.slab == 0,
            };
        }
        RowPanel {
            a,
            ci,
            rows,
            tile_fn,
            fast_rows: unit_cs && rows == tile_rows,
            row_dst,
            fill,
        }
    }

    /// Runs this row panel's tiles in one call of [`Micro::run_row`] where it can (a full
    /// row panel writing C directly, not packing B), for as many of the block's B panels
    /// as the ISA can run that way (all, where it masks column tails; else the whole ones);
    /// returns the first B panel left to run tile by tile.
    ///
    /// # Safety
    /// As [`RowPanel::tile`], for every panel it runs; B is packed or read in place.
    unsafe fn whole_row(&self, block: &Block<'_>) -> usize {
        let (micro, src) = (block.micro, block.src);
        let (first, end) = block.panels;
        if self.fill.is_some() || !self.fast_rows || self.rows != micro.mr {
            return first;
        }
        let nr = micro.nr;
        let span = (end * nr).min(block.nc_cur) - first * nr;
        let cols = if micro.column_tails() {
            span
        } else {
            span / nr * nr
        };
        if cols == 0 {
            return first;
        }
        let n_dst = block.p.c.len();
        let d = shifted(&self.row_dst[..n_dst], first * nr);
        let (a_panel, ars) = self.a;
        let b = src.ptr.wrapping_add(first * src.panel_step);
        // SAFETY: as `tile` for each panel of `first..first + ⌈cols / nr⌉`.
        unsafe {
            (micro.run_row)(
                block.kc,
                a_panel,
                ars,
                b,
                src.panel_step,
                src.bs,
                &d[..n_dst],
                cols,
                block.fetch,
            )
        };
        first + cols.div_ceil(nr)
    }

    /// Runs this row panel's tile for B panel `q` of the block.
    ///
    /// # Safety
    /// As [`macro_block`]'s; where this row panel does not pack B, panel `q` is packed
    /// already or B is read in place.
    unsafe fn tile(&self, block: &Block<'_>, q: usize) {
        let (micro, src, kc) = (block.micro, block.src, block.kc);
        let nr = micro.nr;
        let j0 = q * nr;
        let cols = nr.min(block.nc_cur - j0);
        let b_panel = src.ptr.wrapping_add(q * src.panel_step);
        let (a_panel, ars) = self.a;
        // SAFETY: the panels hold kc steps of mr / `cols` floats; destinations are inside C
        // (ci < m, jc + j0 < n) and owned by this thread. Where the tile packs B (`fill`),
        // B in place holds kc rows of `cols` floats at `f.ptr + j0`, `f.bs` apart (the B
        // term covers kc×nc_cur), and packed panel q, inside the buffer and disjoint from
        // A, B and C, belongs to this thread alone (`fills_b` requires tm = 1).
        unsafe {
            if self.fast_rows && (cols == nr || micro.column_tails()) {
                let n_dst = block.p.c.len();
                let d = shifted(&self.row_dst[..n_dst], j0);
                let d = &d[..n_dst];
                if let Some(f) = self.fill {
                    let from = f.ptr.wrapping_add(j0);
                    let to = f.packed.wrapping_add(q * src.panel_step);
                    let (first, end) = block.panels;
                    let ahead = prefetch_ahead(q - first, end - q - 1, f.group);
                    (micro.run_packing_b)(kc, a_panel, ars, from, f.bs, d, cols, to, ahead);
                } else {
                    (self.tile_fn)(kc, a_panel, ars, b_panel, src.bs, d, cols);
                }
            } else {
                debug_assert!(self.fill.is_none(), "fills_b admits fast tiles only");
                edge_tile(
                    micro,
                    self.tile_fn,
                    block.p,
                    (a_panel, ars),
                    (b_panel, src.bs),
                    kc,
                    (self.ci, block.jc + j0),
                    (self.rows, cols),
                    block.slab,
                );
            }
        }
    }
}

/// Floats in the largest microkernel tile (AVX-512 12×32 = 384).
const TILE_MAX: usize = 512;

/// A partial or strided tile: computed by `tile_fn` (which covers at least `rows` rows)
/// into a local buffer, then the valid part written.
///
/// # Safety
/// As [`macro_block`]'s microkernel call.
#[allow(clippy::too_many_arguments)]
unsafe fn edge_tile(
    micro: Micro,
    tile_fn: TileFn,
    p: &Product<'_>,
    (a_panel, ars): (*const f32, usize),
    (b_panel, bs): (*const f32, usize),
    kc: usize,
    (ci, cj): (usize, usize),
    (rows, cols): (usize, usize),
    slab: usize,
) {
    // Only ever accessed through `buf`.
    #[repr(align(64))]
    #[allow(dead_code)]
    struct Tile([f32; TILE_MAX]);
    let mut tile = std::mem::MaybeUninit::<Tile>::uninit();
    let nr = micro.nr;
    debug_assert!(micro.mr * nr <= TILE_MAX);
    let buf = tile.as_mut_ptr().cast::<f32>();
    let d = Dst {
        ptr: buf,
        rs: nr,
        coef: 1.0,
        overwrite: true,
    };
    // Where tails are masked the tile computes only the `cols` columns copied below.
    let width = if micro.column_tails() { cols } else { nr };
    // SAFETY: the buffer holds mr×nr floats; `tile_fn` computes at least `rows` rows and
    // `width ≥ cols` columns and overwrites them (overwrite = true), and only those are
    // read below; panels per the caller.
    unsafe { tile_fn(kc, a_panel, ars, b_panel, bs, &[d], width) };
    for c in p.c {
        let over = c.overwrite && slab == 0;
        for i in 0..rows {
            for j in 0..cols {
                // SAFETY: (i, j) < (mr, nr): an element the microkernel wrote.
                let v = c.coef * unsafe { *buf.add(i * nr + j) };
                // SAFETY: (ci + i, cj + j) is inside this destination's m×n block.
                unsafe {
                    let x = c.ptr.add((ci + i) * c.rs + (cj + j) * c.cs);
                    *x = if over { v } else { *x + v };
                }
            }
        }
    }
}

/// `k = 0`: overwriting destinations become zero, accumulating ones are unchanged.
///
/// # Safety
/// As [`run`].
unsafe fn zero_overwritten(p: &Product<'_>) {
    for c in p.c.iter().filter(|c| c.overwrite) {
        for i in 0..p.m {
            for j in 0..p.n {
                // SAFETY: (i, j) is inside the destination's m×n block.
                unsafe { *c.ptr.add(i * c.rs + j * c.cs) = 0.0 };
            }
        }
    }
}

/// Splits `threads` into a `tm × tn` grid over C: rows in MR units, columns in NR units,
/// favouring the dimension with more tiles.
fn thread_grid(m: usize, n: usize, mr: usize, nr: usize, threads: usize) -> (usize, usize) {
    if threads <= 1 {
        return (1, 1);
    }
    let (mt, nt) = (m.div_ceil(mr), n.div_ceil(nr));
    let mut best = (threads.min(mt).max(1), 1);
    let mut best_waste = f64::MAX;
    for tm in 1..=threads {
        if !threads.is_multiple_of(tm) {
            continue;
        }
        let tn = threads / tm;
        if tm > mt || tn > nt {
            continue;
        }
        // Load imbalance: the largest share of tiles per thread, relative to the ideal.
        let share = mt.div_ceil(tm) as f64 * nt.div_ceil(tn) as f64;
        let waste = share / (mt as f64 * nt as f64 / threads as f64);
        // Prefer splitting rows (each thread packs only its own A).
        let waste = waste + if tn > 1 { 0.05 } else { 0.0 };
        if waste < best_waste {
            best_waste = waste;
            best = (tm, tn);
        }
    }
    best
}

/// The `part`-th of `parts` near-equal ranges of `0..len`, cut at multiples of `unit`.
fn split(len: usize, unit: usize, parts: usize, part: usize) -> (usize, usize) {
    let units = len.div_ceil(unit);
    let start = units * part / parts * unit;
    let end = (units * (part + 1) / parts * unit).min(len);
    (start.min(len), end)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `len` integers in −2..=2 (from seed `s`): their products and sums of up to millions
    /// of them are exact in f32, so results compare with `==`.
    fn small_ints(len: usize, s: usize) -> Vec<f32> {
        (0..len).map(|i| ((i * 7 + s) % 5) as f32 - 2.0).collect()
    }

    /// The row-major m×n product of row-major `a` (m×k) and `b` (k×n), by the definition.
    fn reference_product(a: &[f32], b: &[f32], (m, n, k): (usize, usize, usize)) -> Vec<f32> {
        let mut c = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    /// A row-major destination in `c`, rows `n` apart.
    fn out_dst(c: &mut [f32], n: usize, coef: f32, overwrite: bool) -> CDst {
        CDst {
            ptr: c.as_mut_ptr(),
            rs: n,
            cs: 1,
            coef,
            overwrite,
        }
    }

    /// An L3 size for [`grouping_l3`] to report instead of the host's (0: the host's).
    pub(super) static L3_FOR_GROUPING: std::sync::atomic::AtomicUsize =
        std::sync::atomic::AtomicUsize::new(0);

    /// The grouped path (B-packing tiles prefetching for the next panels, 256-deep slabs,
    /// the interleaved last row panel) computes exact products whatever the host's L3:
    /// with L3 taken as 64 KiB every B here groups. One and two destinations (the second
    /// accumulated with coefficient −2, as `mp`'s fused products do), one to three threads.
    #[test]
    fn grouped_b_packing_computes_exact_products() {
        L3_FOR_GROUPING.store(64 << 10, std::sync::atomic::Ordering::Relaxed);
        for (m, n, k) in [(13, 1024, 600), (40, 1024, 600), (64, 1100, 520)] {
            assert!(k * n > DIRECT_B_MAX, "B is packed, not read in place");
            assert!(fill_b_group(k, n, grouping_l3()) > 1);
            let (a, b) = (small_ints(m * k, 1), small_ints(k * n, 3));
            let want = reference_product(&a, &b, (m, n, k));
            let at = [term(k, 1)].map(|t| Term {
                ptr: a.as_ptr(),
                ..t
            });
            let bt = [term(1, n)].map(|t| Term {
                ptr: b.as_ptr(),
                ..t
            });
            for threads in 1..=3 {
                let what = format!("{m}x{n}x{k} threads {threads}");
                check_destinations((m, n, k), &at, &bt, &want, (2, threads), &what);
            }
        }
        L3_FOR_GROUPING.store(0, std::sync::atomic::Ordering::Relaxed);
    }

    /// Runs the `m×n×k` product of the terms `at` and `bt` (which cover `a`, `b` of that
    /// product) into `dests` destinations (1 or 2) on `threads` threads, the first
    /// overwritten, the second holding 1 and accumulated with coefficient −2, and checks
    /// them against `want` (the exact product) and `1 − 2·want`.
    fn check_destinations(
        (m, n, k): (usize, usize, usize),
        at: &[Term],
        bt: &[Term],
        want: &[f32],
        (dests, threads): (usize, usize),
        what: &str,
    ) {
        let (micro, blk) = crate::packed::PackedKernel::new().plan();
        let (mut c0, mut c1) = (vec![f32::NAN; m * n], vec![1.0f32; m * n]);
        let cs = [
            out_dst(&mut c0, n, 1.0, true),
            out_dst(&mut c1, n, -2.0, false),
        ];
        let p = Product {
            m,
            n,
            k,
            a: at,
            b: bt,
            c: &cs[..dests],
        };
        // SAFETY: the terms cover m×k and k×n valid floats (caller); the destinations are
        // distinct m×n buffers.
        unsafe { run(micro, blk, p, threads) };
        assert_eq!(c0, want, "{what}");
        if dests == 2 {
            let second: Vec<f32> = want.iter().map(|w| 1.0 - 2.0 * w).collect();
            assert_eq!(c1, second, "{what}");
        }
    }

    /// Deep tiles with a packed A (here column-major, so never read in place) and two
    /// destinations request their destination lines along the k loop on AVX-512
    /// (`spreads_destination_requests`; other ISAs' smaller tiles request them up front)
    /// and compute exact products: one and two destinations, the second accumulated with
    /// coefficient −2; a C under a quarter of L2 (overwritten lines not requested) and one
    /// over it (requested too); a masked column tail; one and two threads.
    #[test]
    fn deep_tiles_requesting_destinations_along_k_compute_exact_products() {
        use super::super::microkernel::spreads_destination_requests as spreads;
        let (micro, blk) = crate::packed::PackedKernel::new().plan();
        let l2 = cache_sizes().l2;
        let lines = micro.mr * micro.nr.div_ceil(16);
        assert!(!spreads(4096, 24) && spreads(1024, 48) && !spreads(256, 48));
        for (m, n, k) in [(40usize, 70usize, 800usize), (300, 260, 520)] {
            let kc = k.div_ceil(k.div_ceil(blk.kc)).next_multiple_of(8).min(k);
            if lines == 24 {
                assert!(spreads(kc, 2 * lines), "AVX-512, {m}x{n}x{k}: kc {kc}");
            }
            let (a_cm, b) = (small_ints(m * k, 5), small_ints(k * n, 6));
            // Row-major copy of the column-major A for the reference.
            let a: Vec<f32> = (0..m * k).map(|x| a_cm[(x % k) * m + x / k]).collect();
            let want = reference_product(&a, &b, (m, n, k));
            let at = [term(1, m)].map(|t| Term {
                ptr: a_cm.as_ptr(),
                ..t
            });
            let bt = [term(1, n)].map(|t| Term {
                ptr: b.as_ptr(),
                ..t
            });
            let large_c = m * n * 4 >= l2 / 4;
            for (threads, dests) in [(1, 1), (1, 2), (2, 2)] {
                let what = format!("{m}x{n}x{k}, C over L2/4 {large_c}, {dests} dst, {threads}T");
                check_destinations((m, n, k), &at, &bt, &want, (dests, threads), &what);
            }
        }
    }

    #[test]
    fn b_packing_requests_lines_ahead_only_for_sums_and_a_b_of_half_of_l3() {
        let l3 = 32 << 20;
        let (a, b) = ([term(1024, 1)], [term(1, 1024)]);
        let c = [dst(1024)];
        let plain = |k: usize, n: usize| Product {
            m: 1024,
            n,
            k,
            a: &a,
            b: &b,
            c: &c,
        };
        assert!(
            !packing_fetches_b(&plain(1024, 1024), l3),
            "4 MiB B stays in L3"
        );
        assert!(!packing_fetches_b(&plain(2047, 2048), l3));
        assert!(packing_fetches_b(&plain(2048, 2048), l3), "16 MiB B");
        let sums = [term(1, 1024), term(1, 1024)];
        let fused = Product {
            b: &sums,
            ..plain(512, 512)
        };
        assert!(packing_fetches_b(&fused, l3), "mp's sums");
    }

    #[test]
    fn splits_cover_the_range() {
        for len in [0, 1, 7, 12, 100] {
            let parts: Vec<_> = (0..3).map(|t| split(len, 4, 3, t)).collect();
            assert_eq!(parts[0].0, 0);
            assert_eq!(parts[2].1, len);
            assert!(parts.windows(2).all(|w| w[0].1 == w[1].0));
        }
    }

    #[test]
    fn b_with_4_kib_rows_is_read_in_place_by_one_half_full_row_panel() {
        assert!(one_half_full_panel(7, 12) && one_half_full_panel(12, 12));
        assert!(!one_half_full_panel(6, 12) && !one_half_full_panel(13, 12));
        assert!(one_half_full_panel(4, 6) && !one_half_full_panel(3, 6));
    }

    #[test]
    fn column_parts_only_when_each_part_is_wide() {
        assert!(!split_columns(1024, 32, 1));
        assert!(split_columns(256, 32, 2));
        assert!(!split_columns(192, 32, 2));
        assert!(split_columns(1024, 32, 4));
        assert!(!split_columns(1000, 32, 4));
        // Sixteen threads would pack all of A sixteen times: the shared grid stays.
        assert!(!split_columns(4096, 32, 16));
    }

    #[test]
    fn a_with_4_kib_rows_is_read_in_place_only_by_tiles_shorter_than_l1_ways() {
        let tile = |mr| Micro {
            mr,
            nr: 16,
            partial: &[],
            ..crate::packed::scalar::micro()
        };
        let a = |xs| {
            [Term {
                ptr: std::ptr::null(),
                xs,
                ps: 1,
                coef: 1.0,
            }]
        };
        assert!(a_in_place(&tile(6), &a(1024), 600, 512, 32, 8));
        assert!(!a_in_place(&tile(12), &a(1024), 600, 512, 32, 8));
        // The ways come from the host: 12 rows in a 12-way L1 (Zen 5) still share it with
        // the B stream; a 4-way L1 has no room for 6.
        assert!(!a_in_place(&tile(12), &a(1024), 600, 512, 32, 12));
        // ... unless it meets few B panels: packing A would cost more than the conflicts.
        assert!(a_in_place(&tile(12), &a(1024), 600, 512, 16, 12));
        assert!(!a_in_place(&tile(12), &a(1024), 600, 512, 17, 12));
        assert!(!a_in_place(&tile(6), &a(1024), 600, 512, 32, 4));
        assert!(a_in_place(&tile(6), &a(1000), 600, 512, 32, 4));
        assert!(!a_in_place(&tile(8), &a(2048), 600, 512, 32, 8));
        assert!(a_in_place(&tile(12), &a(1000), 600, 512, 32, 8));
        // Never a broadcast A, a k above the in-place limit, or a row tail without its own
        // tile (these tiles have no partial ones).
        assert!(!a_in_place(&tile(6), &a(0), 600, 512, 32, 8));
        assert!(!a_in_place(
            &tile(6),
            &a(1000),
            600,
            DIRECT_A_MAX_K + 1,
            32,
            8
        ));
        assert!(!a_in_place(&tile(6), &a(1000), 601, 512, 32, 8));
        // With partial tiles, a tail is read in place only where one covers it exactly.
        let partial = Micro {
            partial: Box::leak(Box::new([(2, tile(6).run), (4, tile(6).run)])),
            ..tile(6)
        };
        assert!(a_in_place(&partial, &a(1024), 602, 512, 32, 8));
        assert!(a_in_place(&partial, &a(1024), 604, 512, 32, 8));
        assert!(!a_in_place(&partial, &a(1024), 603, 512, 32, 8));
        assert!(!a_in_place(&partial, &a(1024), 605, 512, 32, 8));
        assert_eq!(partial.padded_rows(603), 604);
        assert_eq!(partial.padded_rows(605), 606);
    }

    /// Both slab rules, plain and fused (two destinations), with k across one and several
    /// slabs of each: exact on small integers, whichever rule this host uses itself.
    #[test]
    fn both_slab_rules_compute_exact_products() {
        use super::super::blocking::SlabRule;
        let micro = crate::packed::PackedKernel::new().plan().0;
        let (m, n) = (13, 40);
        for rule in [SlabRule::PanelPair, SlabRule::APanel] {
            let plain = Blocking::with_rule(micro.mr, micro.nr, cache_sizes(), rule);
            let fused = plain.for_destinations(micro.mr, micro.nr, cache_sizes(), rule);
            for k in [300, 1500, 2500] {
                let (a, b) = (small_ints(m * k, 1), small_ints(k * n, 3));
                let want = reference_product(&a, &b, (m, n, k));
                let at = [Term {
                    ptr: a.as_ptr(),
                    xs: k,
                    ps: 1,
                    coef: 1.0,
                }];
                let bt = [Term {
                    ptr: b.as_ptr(),
                    xs: 1,
                    ps: n,
                    coef: 1.0,
                }];
                // One destination overwritten; two: the first overwritten, the second
                // accumulated with coefficient -2 onto ones.
                let (mut c0, mut c1) = (vec![f32::NAN; m * n], vec![1.0f32; m * n]);
                for (blk, two) in [(plain, false), (fused, true)] {
                    let cs = [
                        out_dst(&mut c0, n, 1.0, true),
                        out_dst(&mut c1, n, -2.0, false),
                    ];
                    let p = Product {
                        m,
                        n,
                        k,
                        a: &at,
                        b: &bt,
                        c: &cs[..if two { 2 } else { 1 }],
                    };
                    // SAFETY: the terms cover m×k and k×n floats of `a` and `b`; the
                    // destinations are distinct m×n buffers.
                    unsafe { run(micro, blk, p, 1) };
                    assert_eq!(c0, want, "{rule:?} k {k} two {two}");
                }
                let second: Vec<f32> = want.iter().map(|w| 1.0 - 2.0 * w).collect();
                assert_eq!(c1, second, "{rule:?} k {k}");
            }
        }
    }

    /// The host's microkernel entries with the AVX-512 tile's shape: 12×32, column tails
    /// masked a vector (16) at a time, no partial-row tiles.
    fn masked_12x32() -> Micro {
        Micro {
            mr: 12,
            nr: 32,
            col_step: 16,
            partial: &[],
            ..crate::packed::PackedKernel::new().plan().0
        }
    }

    #[test]
    fn narrow_outputs_stay_untransposed_only_where_tails_are_masked_and_a_is_in_place() {
        let masked = masked_12x32();
        let whole = Micro {
            col_step: 32,
            ..masked
        };
        let (b, c) = ([term(1, 10)], [dst(10)]);
        // 60×k·k×10: A row-major (in place), column-major (packed), rows 4 KiB apart (in
        // place: one B panel).
        for (a, k, as_is) in [
            (term(256, 1), 256, true),
            (term(1, 60), 256, false),
            (term(1024, 1), 1024, true),
        ] {
            let a = [a];
            let p = Product {
                m: 60,
                n: 10,
                k,
                a: &a,
                b: &b,
                c: &c,
            };
            // A 12-way L1 (Zen 5).
            let ways = 12;
            let (xs, ps) = (a[0].xs, a[0].ps);
            assert_eq!(narrow(&masked, &p, ways), !as_is, "A strides {xs} / {ps}");
            assert!(narrow(&whole, &p, ways));
        }
    }

    /// A plain operand term at no address, for layout decisions.
    fn term(xs: usize, ps: usize) -> Term {
        Term {
            ptr: std::ptr::null(),
            xs,
            ps,
            coef: 1.0,
        }
    }

    /// A row-major overwritten destination at no address, rows `rs` apart.
    fn dst(rs: usize) -> CDst {
        CDst {
            ptr: std::ptr::null_mut(),
            rs,
            cs: 1,
            coef: 1.0,
            overwrite: true,
        }
    }

    #[test]
    fn summed_rows_take_rows_of_a_as_vectors_and_rows_of_c_as_their_outputs() {
        let (a, b) = ([term(300, 1)], [term(1, 1024)]);
        let c = [CDst { cs: 2, ..dst(3000) }];
        let p = Product {
            m: 5,
            n: 1024,
            k: 300,
            a: &a,
            b: &b,
            c: &c,
        };
        let v = vector_form(&p).expect("five rows against 4 KiB B rows are summed rows");
        assert!(!v.dot);
        let mv = v.mv;
        assert_eq!((mv.count, mv.x_next, mv.xs), (5, 300, 1));
        assert_eq!((mv.ms, mv.len, mv.k), (1024, 1024, 300));
        assert_eq!((mv.out.rs, mv.out_next), (2, 3000));
    }

    #[test]
    fn b_is_packed_by_the_tiles_only_for_split_columns_and_few_row_panels() {
        let micro = masked_12x32();
        let (a, b, c) = ([term(1024, 1)], [term(1, 1024)], [dst(1024)]);
        let p = |m| Product {
            m,
            n: 1024,
            k: 1024,
            a: &a,
            b: &b,
            c: &c,
        };
        assert!(fills_b(&micro, &p(12), 1, true));
        assert!(fills_b(&micro, &p(120), 1, true));
        // Eleven row panels; a first panel shorter than a tile; threads sharing panels;
        // a C whose columns are not contiguous.
        assert!(!fills_b(&micro, &p(121), 1, true));
        assert!(!fills_b(&micro, &p(11), 1, true));
        assert!(!fills_b(&micro, &p(64), 2, true));
        assert!(!fills_b(&micro, &p(64), 1, false));
        // A column-major B is not read in place.
        let b_cols = [term(1024, 1)];
        assert!(!fills_b(
            &micro,
            &Product {
                b: &b_cols,
                ..p(64)
            },
            1,
            true
        ));
    }

    #[test]
    fn b_packing_tiles_fetch_b_in_groups_only_where_b_outgrows_a_quarter_of_l3() {
        let l3 = 32 << 20;
        // 2048×2048 floats are 16 MiB; 1024×1024 are 4 MiB; exactly a quarter groups.
        assert_eq!(fill_b_group(2048, 2048, l3), FILL_B_GROUP);
        assert_eq!(fill_b_group(1024, 2048, l3), FILL_B_GROUP);
        assert_eq!(fill_b_group(1024, 1024, l3), 1);
        assert_eq!(fill_b_group(1024, 2048, 64 << 20), 1);
        // A group's first tile prefetches the rest of the group, never past the thread's
        // last panel; the others prefetch nothing; ungrouped tiles never do.
        let ahead: Vec<usize> = (0..10).map(|q| prefetch_ahead(q, 9 - q, 4)).collect();
        assert_eq!(ahead, [3, 0, 0, 0, 3, 0, 0, 0, 1, 0]);
        assert_eq!(prefetch_ahead(0, 1, 4), 1);
        assert!((0..10).all(|q| prefetch_ahead(q, 9 - q, 1) == 0));
        // Grouped products take shallower slabs; a shallower blocking stays as it is.
        assert_eq!(slab_depth(1024, true), 256);
        assert_eq!(slab_depth(1024, false), 1024);
        assert_eq!(slab_depth(128, true), 128);
    }

    #[test]
    fn b_under_half_of_l2_is_read_in_place_by_up_to_32_row_panels() {
        let l2 = 1 << 20;
        let (a, c) = ([term(1024, 1)], [dst(1024)]);
        // B k×n, rows n floats apart, read by `rows` rows of one thread.
        let in_place = |k: usize, n: usize, rows: usize, l2: usize| {
            let b = [term(1, n)];
            let p = Product {
                m: rows,
                n,
                k,
                a: &a,
                b: &b,
                c: &c,
            };
            b_in_place_beside_l2(&p, rows, 12, l2)
        };
        // 256×256 floats are a quarter of L2: up to 32 row panels of 12.
        assert!(in_place(256, 256, 384, l2));
        assert!(!in_place(256, 256, 385, l2));
        // Half of L2, but rows 2 KiB apart; rows 4 KiB apart.
        assert!(!in_place(256, 512, 256, l2));
        assert!(!in_place(128, 1024, 256, l2));
        // 384×384 floats are 576 KiB: over half of this L2, under half of twice it.
        assert!(!in_place(384, 384, 384, l2));
        assert!(in_place(384, 384, 384, 2 * l2));
    }

    #[test]
    fn all_of_a_is_packed_at_once_only_up_to_the_size_of_l2() {
        let micro = masked_12x32();
        let l2 = cache_sizes().l2;
        let (b, c) = ([term(1, 64)], [dst(64)]);
        // A column-major (x stride 1): m rows of k = 64, 256 bytes a row.
        let packs_all = |m: usize| {
            let a = [term(1, m)];
            let p = Product {
                m: m / 12 * 12,
                n: 64,
                k: 64,
                a: &a,
                b: &b,
                c: &c,
            };
            small_packing_a(&micro, &p, 1024)
        };
        assert!(packs_all(l2 / 256));
        assert!(!packs_all(l2 / 256 + 12));
    }

    #[test]
    fn tiles_pack_a_b_over_half_of_l2_rather_than_read_it_in_place() {
        let l2 = 1 << 20;
        // 784×256 floats are 784 KiB; 512×256 exactly half of L2.
        assert!(tiles_pack_b_over_half_of_l2(784, 256, l2));
        assert!(!tiles_pack_b_over_half_of_l2(512, 256, l2));
        assert!(!tiles_pack_b_over_half_of_l2(784, 256, 2 * l2));
    }

    #[test]
    fn shallow_products_with_a_b_of_a_quarter_of_l2_run_without_blocks() {
        let l2 = 1 << 20;
        let (a, c) = ([term(64, 1)], [dst(64)]);
        let shallow_b = |k: usize, n: usize| {
            let b = [term(1, n)];
            let p = Product {
                m: 4096,
                n,
                k,
                a: &a,
                b: &b,
                c: &c,
            };
            shallow(&p, l2)
        };
        assert!(shallow_b(64, 64));
        assert!(shallow_b(32, 2048));
        // Deeper, or a B over a quarter of L2 (64×2048 floats are 512 KiB).
        assert!(!shallow_b(65, 64));
        assert!(!shallow_b(64, 2048));
    }

    #[test]
    fn rows_of_tiles_prefetch_only_operands_of_a_quarter_of_l2_or_more() {
        let l2 = 1 << 20;
        let (a, b, c) = ([term(64, 1)], [term(1, 64)], [dst(64)]);
        let p = |m, n, k| Product {
            m,
            n,
            k,
            a: &a,
            b: &b,
            c: &c,
        };
        // 4096×64 floats are 1 MiB: both; A packed: C only.
        let big = row_fetch(&p(4096, 64, 64), true, l2);
        assert!(big.next_a && big.overwritten_c);
        let packed_a = row_fetch(&p(4096, 64, 64), false, l2);
        assert!(!packed_a.next_a && packed_a.overwritten_c);
        // 256×256 floats are exactly a quarter of L2; 128×256 are an eighth.
        let quarter = row_fetch(&p(256, 256, 256), true, l2);
        assert!(quarter.next_a && quarter.overwritten_c);
        let small = row_fetch(&p(128, 256, 256), true, l2);
        assert!(!small.next_a && !small.overwritten_c);
        // A large, C small, and the reverse.
        let wide_a = row_fetch(&p(256, 64, 1024), true, l2);
        assert!(wide_a.next_a && !wide_a.overwritten_c);
        let wide_c = row_fetch(&p(256, 1024, 64), true, l2);
        assert!(!wide_c.next_a && wide_c.overwritten_c);
    }

    #[test]
    fn column_tails_of_up_to_four_past_whole_vectors_run_as_dots() {
        let masked = masked_12x32();
        let (a, b, c) = ([term(100, 1)], [term(1, 100)], [dst(100)]);
        let p = |m, n, k| Product {
            m,
            n,
            k,
            a: &a,
            b: &b,
            c: &c,
        };
        assert_eq!(tail_dot_columns(&masked, &p(100, 100, 100)), 4);
        assert_eq!(tail_dot_columns(&masked, &p(100, 97, 100)), 1);
        assert_eq!(tail_dot_columns(&masked, &p(64, 36, 32)), 4);
        // No tail, a wider one, nothing but the tail, or too little of A.
        assert_eq!(tail_dot_columns(&masked, &p(100, 96, 100)), 0);
        assert_eq!(tail_dot_columns(&masked, &p(100, 101, 100)), 0);
        assert_eq!(tail_dot_columns(&masked, &p(100, 3, 100)), 0);
        assert_eq!(tail_dot_columns(&masked, &p(36, 36, 36)), 0);
        // A not contiguous along k; two terms; a tile that computes whole panels.
        let a_cols = [term(1, 100)];
        assert_eq!(
            tail_dot_columns(
                &masked,
                &Product {
                    a: &a_cols,
                    ..p(100, 100, 100)
                }
            ),
            0
        );
        let two = [a[0], a[0]];
        assert_eq!(
            tail_dot_columns(
                &masked,
                &Product {
                    a: &two,
                    ..p(100, 100, 100)
                }
            ),
            0
        );
        let whole = Micro {
            col_step: 32,
            ..masked
        };
        assert_eq!(tail_dot_columns(&whole, &p(100, 100, 100)), 0);
    }

    #[test]
    fn only_a_partial_last_row_panel_after_a_full_one_is_interleaved() {
        assert!(interleaves_last(12, 13));
        assert!(interleaves_last(12, 59));
        // One panel (full or partial), or whole panels only.
        assert!(!interleaves_last(12, 12));
        assert!(!interleaves_last(12, 7));
        assert!(!interleaves_last(12, 60));
    }

    #[test]
    fn one_row_or_column_of_c_runs_as_dots_or_summed_rows_by_layout() {
        let c = [dst(1)];
        let form = |m, n, a: Term, b: Term| {
            let (a, b) = ([a], [b]);
            let p = Product {
                m,
                n,
                k: 50,
                a: &a,
                b: &b,
                c: &c,
            };
            vector_form(&p).map(|v| (v.dot, v.mv.ms, v.mv.len))
        };
        // One row of C: B row-major sums its rows, B column-major takes dot products.
        assert_eq!(form(1, 70, term(50, 1), term(1, 70)), Some((false, 70, 70)));
        assert_eq!(form(1, 70, term(50, 1), term(50, 1)), Some((true, 50, 70)));
        // One column of C: A row-major takes dot products, A column-major sums its columns.
        assert_eq!(form(70, 1, term(50, 1), term(1, 1)), Some((true, 50, 70)));
        assert_eq!(form(70, 1, term(1, 70), term(1, 1)), Some((false, 70, 70)));
        // A single output is one dot product when the matrix side is contiguous along k.
        assert_eq!(form(1, 1, term(50, 1), term(1, 1)), Some((true, 1, 1)));
        // Neither direction contiguous, several rows and columns, or several terms: tiles.
        assert_eq!(form(1, 70, term(50, 1), term(2, 140)), None);
        assert_eq!(form(2, 70, term(50, 1), term(1, 70)), None);
        let (a, b) = ([term(50, 1); 2], [term(1, 70)]);
        let p = Product {
            m: 1,
            n: 70,
            k: 50,
            a: &a,
            b: &b,
            c: &c,
        };
        assert!(vector_form(&p).is_none());
    }

    #[test]
    fn few_rows_run_as_summed_rows_where_tiles_would_read_b_down_4_kib_rows() {
        let (rows_4k, rows_1000) = (term(1, 1024), term(1, 1000));
        // Two rows: any row-major B with enough columns.
        assert!(summed_rows(2, 1000, 1000, &rows_1000));
        assert!(summed_rows(2, 256, 16, &rows_1000));
        assert!(!summed_rows(2, 255, 1000, &rows_1000));
        // Three to eight rows: only B rows a multiple of 4 KiB apart, and k ≥ 256.
        assert!(summed_rows(8, 1024, 256, &rows_4k));
        assert!(!summed_rows(8, 1024, 255, &rows_4k));
        assert!(!summed_rows(4, 1000, 1000, &rows_1000));
        assert!(!summed_rows(9, 1024, 1024, &rows_4k));
        assert!(!summed_rows(1, 1024, 1024, &rows_4k));
        // Never a B contiguous along k (column-major).
        assert!(!summed_rows(2, 1024, 1024, &term(1024, 1)));
    }

    #[test]
    fn grid_uses_all_threads_when_it_can() {
        assert_eq!(thread_grid(512, 512, 12, 32, 2), (2, 1));
        assert_eq!(thread_grid(12, 512, 12, 32, 2), (1, 2));
        assert_eq!(thread_grid(100, 100, 12, 32, 1), (1, 1));
    }
}
