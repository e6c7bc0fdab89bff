//! The register-blocked microkernel, written once over a small SIMD abstraction and
//! instantiated per ISA (see `avx512.rs`, `avx2.rs`, `neon.rs`, `scalar.rs`).
//!
//! One call computes an MR×NR tile `AB = Ã·B̃` over `kc` steps from packed panels (Ã:
//! `kc` groups of MR floats, B̃: `kc` groups of NR floats) in MR·NV vector accumulators,
//! then writes it to up to [`MAX_DST`] destinations: `C_d = coef_d·AB` (overwrite) or
//! `C_d += coef_d·AB`. Several destinations serve the fused Strassen updates.
//!
//! Where the ISA has masked loads and stores ([`Simd::MASKED_TAILS`]), a tile narrower
//! than NR (the last column panel of an `n` that is not a multiple of NR) computes only
//! the vectors it needs and masks the last one, reading B and writing C in place.

/// Most C destinations one microkernel call updates (Strassen, two levels fused).
pub const MAX_DST: usize = 4;

/// One C destination of a tile: row-major rows of NR contiguous floats (the tile's width
/// where it is narrower), `rs` apart.
#[derive(Clone, Copy, Debug)]
pub struct Dst {
    pub ptr: *mut f32,
    pub rs: usize,
    pub coef: f32,
    /// Store `coef·AB` without reading C (Replace on the first KC slab).
    pub overwrite: bool,
}

impl Dst {
    /// The unused entries of a fixed array of destinations (no tile writes them).
    pub const UNUSED: Dst = Dst {
        ptr: std::ptr::null_mut(),
        rs: 0,
        coef: 0.0,
        overwrite: false,
    };
}

/// The destinations `dst` (at most [`MAX_DST`]) moved `cols` columns right: the tiles'
/// destinations along a row panel, in the first `dst.len()` entries (wrapping pointer
/// arithmetic: computing them is safe, writing through them is the caller's concern).
#[inline(always)]
pub fn shifted(dst: &[Dst], cols: usize) -> [Dst; MAX_DST] {
    let mut d = [Dst::UNUSED; MAX_DST];
    for (o, r) in d.iter_mut().zip(dst) {
        *o = Dst {
            ptr: r.ptr.wrapping_add(cols),
            ..*r
        };
    }
    d
}

/// The vector operations the microkernel needs; implemented per ISA with `#[inline]`
/// intrinsics so they inline into that ISA's `#[target_feature]` wrapper.
pub trait Simd: Copy {
    /// f32 lanes per vector.
    const LANES: usize;
    type V: Copy;
    /// # Safety
    /// The ISA is available.
    unsafe fn zero() -> Self::V;
    /// # Safety
    /// The ISA is available.
    unsafe fn splat(x: f32) -> Self::V;
    /// # Safety
    /// `p` is valid for reading `LANES` floats.
    unsafe fn load(p: *const f32) -> Self::V;
    /// # Safety
    /// `p` is valid for writing `LANES` floats.
    unsafe fn store(p: *mut f32, v: Self::V);
    /// `a·b + c`.
    ///
    /// # Safety
    /// The ISA is available.
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a·b`.
    ///
    /// # Safety
    /// The ISA is available.
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// `a + b`.
    ///
    /// # Safety
    /// The ISA is available.
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// The sum of the lanes of `v` (this default goes through memory; the x86 ISAs
    /// override it with shuffles, 2× faster matrix-vector products at k ≤ 16).
    ///
    /// # Safety
    /// The ISA is available.
    #[inline(always)]
    unsafe fn sum(v: Self::V) -> f32 {
        const { assert!(Self::LANES <= MAX_LANES) };
        let mut buf = [0.0f32; MAX_LANES];
        // SAFETY: the buffer holds the LANES floats `store` writes.
        unsafe { Self::store(buf.as_mut_ptr(), v) };
        buf[..Self::LANES].iter().sum()
    }
    /// Hints that the cache line at `p` is needed soon (may be a no-op).
    ///
    /// # Safety
    /// The ISA is available (the address need not be valid).
    unsafe fn prefetch(_p: *const f32) {}
    /// Whether [`Simd::load_first`] and [`Simd::store_first`] are single masked
    /// instructions, so that column tails are worth computing narrow (see [`tile_rows`]).
    const MASKED_TAILS: bool = false;
    /// The first `lanes` (1..=LANES) floats at `p`, the other lanes zero.
    ///
    /// # Safety
    /// The ISA is available; `1 ≤ lanes ≤ LANES`; `p` is valid for reading `lanes` floats.
    #[inline(always)]
    unsafe fn load_first(p: *const f32, lanes: usize) -> Self::V {
        const { assert!(Self::LANES <= MAX_LANES) };
        debug_assert!((1..=Self::LANES).contains(&lanes));
        let mut buf = [0.0f32; MAX_LANES];
        // SAFETY: `lanes ≤ LANES ≤ MAX_LANES` floats are readable at `p` (caller) and fit
        // the buffer, which holds the LANES floats `load` reads.
        unsafe {
            std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), lanes);
            Self::load(buf.as_ptr())
        }
    }
    /// Stores the first `lanes` (1..=LANES) lanes of `v` at `p`; the floats after them are
    /// not touched.
    ///
    /// # Safety
    /// The ISA is available; `1 ≤ lanes ≤ LANES`; `p` is valid for writing `lanes` floats.
    #[inline(always)]
    unsafe fn store_first(p: *mut f32, v: Self::V, lanes: usize) {
        const { assert!(Self::LANES <= MAX_LANES) };
        debug_assert!((1..=Self::LANES).contains(&lanes));
        let mut buf = [0.0f32; MAX_LANES];
        // SAFETY: the buffer holds the LANES floats `store` writes; `lanes` of them are
        // writable at `p` (caller).
        unsafe {
            Self::store(buf.as_mut_ptr(), v);
            std::ptr::copy_nonoverlapping(buf.as_ptr(), p, lanes);
        }
    }
}

/// [`Micro::col_step`] for a tile of `nv` vectors of `S`.
pub fn col_step<S: Simd>(nv: usize) -> usize {
    if S::MASKED_TAILS {
        S::LANES
    } else {
        nv * S::LANES
    }
}

/// Most f32 lanes of any ISA's vector (AVX-512).
const MAX_LANES: usize = 16;

/// Floats per cache line (64 bytes): the stride of the prefetches of A.
const A_LINE: usize = 16;

/// How many k steps ahead the packed B panel is prefetched.
const PREFETCH_STEPS: usize = 8;

/// k steps between two requests of destination lines in a deep tile (see [`tile`]).
const C_FETCH_EVERY: usize = 8;

/// Fewest destination lines a tile requests along its k loop rather than all at once: more
/// than a core has miss buffers for (two AVX-512 12×32 destinations); one such destination
/// (24 lines) measured the same either way.
const SPREAD_MIN_LINES: usize = 32;

/// Whether a tile with a packed A micro-panel, `kc` steps deep, requests the `lines`
/// destination lines it will read along its k loop rather than all before it: where they
/// are many ([`SPREAD_MIN_LINES`]) and the loop is long enough to request every one,
/// [`C_FETCH_EVERY`] steps apart.
pub fn spreads_destination_requests(kc: usize, lines: usize) -> bool {
    lines >= SPREAD_MIN_LINES && kc >= C_FETCH_EVERY * lines
}

/// The microkernel body: `MR` rows by `NV` vectors of `S::LANES` columns, for the first
/// `MR` rows of an A panel whose k steps are `AS` floats apart (`MR ≤ AS`): the full tile
/// when `MR = AS`, a shorter one for the last, partial row panel (no work on the padding
/// rows). `b` holds `kc` groups of NV·LANES floats, `bs` apart (`bs = NR` for a packed
/// panel, B's row stride when B is read in place); each of `dst` addresses MR rows of
/// NV·LANES writable floats, disjoint from `a`, `b` and each other.
///
/// With `ars = 0`, A is a packed panel (row `i` of step `p` at `a + p·AS + i`); otherwise A
/// is read in place from a matrix with unit k stride (row `i` of step `p` at
/// `a + i·ars + p`).
///
/// `cols` (1..=NV·LANES) is the tile's width: below NV·LANES (only where
/// [`Simd::MASKED_TAILS`]) the tile computes `⌈cols / LANES⌉` vectors, the last one
/// masked, and reads and writes only `cols` columns of B and of each destination. A 12×16
/// tail of the 12×32 AVX-512 tile is half the work of the full tile, and its 12
/// accumulators still cover the FMA latency on two pipes.
///
/// # Safety
/// `S`'s ISA is available; `a` holds `kc·AS` floats (packed) or MR rows of `kc` floats
/// `ars` apart (in place); B and the destinations as above, for `cols` columns.
#[inline(always)]
pub unsafe fn tile_rows<S: Simd, const MR: usize, const NV: usize, const AS: usize>(
    kc: usize,
    a: *const f32,
    ars: usize,
    b: *const f32,
    bs: usize,
    dst: &[Dst],
    cols: usize,
) {
    // SAFETY: as this function's contract, for the vectors each variant touches.
    unsafe { by_width::<S, MR, NV, AS, false>(kc, a, ars, b, bs, dst, cols, PackB::NONE) }
}

/// [`tile_rows`] for a full tile that reads B in place and also writes what it read to a
/// packed B panel (`kc` groups of NR = NV·LANES floats at `packed`; only the first `cols`
/// of each group), so the tiles of the next row panels read the packed copy: B is packed
/// as a by-product of the first row panel's tiles instead of in a pass of its own.
///
/// With `ahead > 0` the tile also prefetches, at each k step, the same B row's lines of
/// the `ahead` panels to its right (B in place, NR floats each), which the next tiles of
/// the row panel read: B's rows are then fetched `(1 + ahead)·NR` floats at a time
/// instead of one panel's NR per row, pages apart (see `driver::prefetch_ahead`).
///
/// # Safety
/// As [`tile_rows`] with `MR = AS`; `packed` is valid for writing `kc` groups of NR floats
/// and disjoint from A, B and the destinations.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub unsafe fn tile_packing_b<S: Simd, const MR: usize, const NV: usize>(
    kc: usize,
    a: *const f32,
    ars: usize,
    b: *const f32,
    bs: usize,
    dst: &[Dst],
    cols: usize,
    packed: *mut f32,
    ahead: usize,
) {
    let pack = PackB {
        ptr: packed,
        stride: NV * S::LANES,
        ahead,
        ..PackB::NONE
    };
    // SAFETY: as this function's contract.
    unsafe { by_width::<S, MR, NV, MR, true>(kc, a, ars, b, bs, dst, cols, pack) }
}

/// [`tile_rows`] for every tile of one full row panel, left to right across `cols` columns
/// (the last tile narrower where `cols` is not a multiple of NR = NV·LANES, only where
/// [`Simd::MASKED_TAILS`]): B panel `q` at `b + q·panel_step`, each destination's tile `q`
/// NR columns after tile `q − 1`'s. One call per row panel instead of one per tile saves
/// the call, the dispatch and the destination set-up of each tile, 2% of a 256-deep
/// product's time (`perf record`, 1024×256·256×1024).
///
/// # Safety
/// As [`tile_rows`] with `MR = AS` for each tile: the B panels hold `kc` steps of their
/// columns and the destinations MR rows of `cols` writable columns.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub unsafe fn row_tiles<S: Simd, const MR: usize, const NV: usize>(
    kc: usize,
    a: *const f32,
    ars: usize,
    b: *const f32,
    panel_step: usize,
    bs: usize,
    dst: &[Dst],
    cols: usize,
    fetch: RowFetch,
) {
    let nr = NV * S::LANES;
    debug_assert!(dst.len() <= MAX_DST && (S::MASKED_TAILS || cols.is_multiple_of(nr)));
    // Copied once; each tile then moves only the pointers (rebuilding the array per tile
    // measured 2–3% slower at 64-deep products).
    let mut d = shifted(dst, 0);
    let (mut j0, mut panel) = (0, b);
    // SAFETY: each tile's B panel and destination columns lie inside what the caller
    // guarantees (`j0 < cols`).
    unsafe {
        while j0 < cols {
            for (o, r) in d.iter_mut().zip(dst) {
                o.ptr = r.ptr.add(j0);
            }
            let width = nr.min(cols - j0);
            let next_a = if j0 == 0 && ars != 0 && fetch.next_a {
                a.wrapping_add(MR * ars)
            } else {
                std::ptr::null()
            };
            let extra = PackB {
                next_a,
                overwritten_c: fetch.overwritten_c,
                ..PackB::NONE
            };
            by_width::<S, MR, NV, MR, false>(kc, a, ars, panel, bs, &d[..dst.len()], width, extra);
            j0 += nr;
            panel = panel.wrapping_add(panel_step);
        }
    }
}

/// What a tile does beside its product: where it copies the B steps it reads (`PACK`
/// tiles only: step `p` at `ptr + p·stride`) and how many panels to its right it
/// prefetches B for; the rows of A it prefetches for the next row panel (`next_a`, null
/// for none) and whether it prefetches destination tiles it overwrites (see [`RowFetch`]).
#[derive(Clone, Copy)]
struct PackB {
    ptr: *mut f32,
    stride: usize,
    ahead: usize,
    next_a: *const f32,
    overwritten_c: bool,
}

impl PackB {
    /// No copy, no prefetch beyond the default (tiles with `PACK = false` never read the
    /// copy fields).
    const NONE: PackB = PackB {
        ptr: std::ptr::null_mut(),
        stride: 0,
        ahead: 0,
        next_a: std::ptr::null(),
        overwritten_c: false,
    };
}

/// The prefetches a row of tiles ([`row_tiles`]) issues beside its work, for operands too
/// large to be in cache still (the driver decides, `driver::row_fetch`).
#[derive(Clone, Copy, Debug, Default)]
pub struct RowFetch {
    /// The first tile, reading A in place, requests the next row panel's A rows, one line
    /// per k step, so they arrive while this row panel computes.
    pub next_a: bool,
    /// Every tile requests its destination lines before its k loop also where it
    /// overwrites them (by default only tiles that accumulate do), so the write-back after
    /// the k loop does not stall on lines that are not in cache.
    pub overwritten_c: bool,
}

/// Dispatches a tile `cols` wide to the variant with as many vectors as it needs (see
/// [`tile_rows`]).
///
/// # Safety
/// As [`tile_rows`] (and [`tile_packing_b`] when `PACK`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn by_width<S: Simd, const MR: usize, const NV: usize, const AS: usize, const PACK: bool>(
    kc: usize,
    a: *const f32,
    ars: usize,
    b: *const f32,
    bs: usize,
    dst: &[Dst],
    cols: usize,
    pack: PackB,
) {
    // Narrow tiles come in one to three vectors (every tile has two or three).
    const { assert!(!S::MASKED_TAILS || NV <= 3) };
    debug_assert!(cols >= 1 && cols <= NV * S::LANES);
    debug_assert!(S::MASKED_TAILS || cols == NV * S::LANES);
    // The lanes of the last vector (all of them when `cols` is a whole number of vectors).
    let last = cols - (cols - 1) / S::LANES * S::LANES;
    // SAFETY: as this function's contract, for the vectors each variant touches.
    unsafe {
        if !S::MASKED_TAILS || cols >= NV * S::LANES {
            tile::<S, MR, NV, AS, false, PACK>(kc, a, ars, b, bs, dst, S::LANES, pack);
        } else if cols <= S::LANES {
            tile::<S, MR, 1, AS, true, PACK>(kc, a, ars, b, bs, dst, last, pack);
        } else if NV > 2 && cols > 2 * S::LANES {
            tile::<S, MR, 3, AS, true, PACK>(kc, a, ars, b, bs, dst, last, pack);
        } else {
            tile::<S, MR, 2, AS, true, PACK>(kc, a, ars, b, bs, dst, last, pack);
        }
    }
}

/// [`tile_rows`] for `NV` vectors, the last of them masked to its first `last` lanes when
/// `TAIL`, copying B's steps to `pack` when `PACK`.
///
/// # Safety
/// As [`tile_rows`], for `NV` vectors (the last with `last` lanes when `TAIL`), and
/// [`tile_packing_b`] when `PACK`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn tile<
    S: Simd,
    const MR: usize,
    const NV: usize,
    const AS: usize,
    const TAIL: bool,
    const PACK: bool,
>(
    kc: usize,
    a: *const f32,
    ars: usize,
    b: *const f32,
    bs: usize,
    dst: &[Dst],
    last: usize,
    pack: PackB,
) {
    let nr = NV * S::LANES;
    // SAFETY: reads stay inside the packed panels (`p < kc`), writes inside
    // the destination tiles and, when `PACK`, the packed B panel, as the caller guarantees.
    unsafe {
        let mut acc = [[S::zero(); NV]; MR];
        // Request every line of each accumulated destination tile before the write-back,
        // so it does not wait on memory (Xeon host, one thread, same process: 4096×64·64×64
        // +6%, 32³ and 64³ +2%, n ≥ 512 ±0.5%). Overwritten tiles are not read; they are
        // requested only where the driver expects C out of cache (`RowFetch::overwritten_c`),
        // as a cache-resident C only pays the requests.
        let wanted = |d: &&Dst| pack.overwritten_c || !d.overwrite;
        // A deep tile with a packed A panel and several destinations spreads the requests
        // over its k loop, one line every C_FETCH_EVERY steps, instead of issuing them all
        // at once: 48 lines from memory at once (the two destinations of an `mp` product)
        // hold the miss buffers the B stream needs. Zen 5, one thread, spread ÷ at once,
        // same process (5–21 rounds): mp 2048³ 1.03×, 3072³ 1.02×, 4096³ 1.00–1.06×. One
        // destination (packed 1024³–2048³, 512×1024·1024, 256×1024·1024, the Aᵀ·B
        // 1024×256·256×1024) measured 0.99–1.01×, so it keeps its requests up front
        // ([`SPREAD_MIN_LINES`]); with A read in place the extra counters cost more than
        // they saved (256³ and 512³ 0.93×, 64×784·784×256 0.95×), so those tiles,
        // shallower ones and the variants that copy B or fetch the next A do too. The
        // cheap tests come first: the count costs a shallow tile 1–2%.
        let lines_per_dst = MR * nr.div_ceil(A_LINE);
        let spread = !PACK
            && ars == 0
            && kc >= C_FETCH_EVERY * SPREAD_MIN_LINES
            && spreads_destination_requests(kc, dst.iter().filter(wanted).count() * lines_per_dst);
        if !spread {
            for d in dst.iter().filter(wanted) {
                for i in 0..MR {
                    for j in (0..nr).step_by(A_LINE) {
                        S::prefetch(d.ptr.wrapping_add(i * d.rs + j));
                    }
                }
            }
        }
        // Tiles that prefetch ahead for the next panels, the next row panel's A, or their
        // destinations along the way are variants of their own, so the others keep a k loop
        // without that work. A's step is a constant of each variant (1 in place, AS packed).
        let steps = Steps {
            kc,
            a,
            ars,
            b,
            bs,
            last,
            pack,
            fetched: &[],
        };
        let into = &mut acc;
        match (ars == 0, PACK && pack.ahead > 0, !pack.next_a.is_null()) {
            (true, false, _) if spread => {
                let mut fetched = [Dst::UNUSED; MAX_DST];
                let mut n = 0;
                for d in dst.iter().filter(wanted) {
                    fetched[n] = *d;
                    n += 1;
                }
                let steps = Steps {
                    fetched: &fetched[..n],
                    ..steps
                };
                k_loop::<S, MR, NV, AS, false, TAIL, PACK, FETCH_C>(into, steps)
            }
            (true, true, _) => k_loop::<S, MR, NV, AS, false, TAIL, PACK, AHEAD>(into, steps),
            (true, false, _) => k_loop::<S, MR, NV, AS, false, TAIL, PACK, PLAIN>(into, steps),
            (false, true, _) => k_loop::<S, MR, NV, 1, true, TAIL, PACK, AHEAD>(into, steps),
            (false, false, true) => k_loop::<S, MR, NV, 1, true, TAIL, PACK, NEXT_A>(into, steps),
            (false, false, false) => k_loop::<S, MR, NV, 1, true, TAIL, PACK, PLAIN>(into, steps),
        }
        for d in dst {
            if d.coef == 1.0 {
                write_back::<S, MR, NV, TAIL, true>(&acc, d, last);
            } else {
                write_back::<S, MR, NV, TAIL, false>(&acc, d, last);
            }
        }
    }
}

/// Writes a tile's sums `acc` to destination `d`: `C = coef·AB` or `C += coef·AB`, the
/// last vector of each row masked to its first `last` lanes when `TAIL`. `UNIT` (coef 1,
/// every plain product) skips the multiply by the coefficient: MR·NV vector operations per
/// tile, 24 on AVX-512 beside a 64-deep tile's 1536 FMAs (1.5%, below what timings here
/// resolve: 32³–128³, 4096×64·64×64 and 64×784·784×256 unchanged within ±2%).
///
/// # Safety
/// As [`tile`], for destination `d`.
#[inline(always)]
unsafe fn write_back<
    S: Simd,
    const MR: usize,
    const NV: usize,
    const TAIL: bool,
    const UNIT: bool,
>(
    acc: &[[S::V; NV]; MR],
    d: &Dst,
    last: usize,
) {
    debug_assert!(!UNIT || d.coef == 1.0);
    // Lanes of vector `v`: all but the last vector's when `TAIL`.
    let masked = |v: usize| TAIL && v == NV - 1;
    // SAFETY: the destination's MR rows of NV vectors (the last one `last` lanes wide when
    // `TAIL`) are writable, and readable unless overwritten (caller).
    unsafe {
        let coef = S::splat(d.coef);
        for (i, row) in acc.iter().enumerate() {
            let c = d.ptr.add(i * d.rs);
            for (v, &x) in row.iter().enumerate() {
                let cv = c.add(v * S::LANES);
                let scaled = |x| if UNIT { x } else { S::mul(x, coef) };
                let out = if d.overwrite {
                    scaled(x)
                } else {
                    let old = if masked(v) {
                        S::load_first(cv, last)
                    } else {
                        S::load(cv)
                    };
                    if UNIT {
                        S::add(x, old)
                    } else {
                        S::fma(x, coef, old)
                    }
                };
                if masked(v) {
                    S::store_first(cv, out, last);
                } else {
                    S::store(cv, out);
                }
            }
        }
    }
}

/// What a k loop does beside its FMAs (the `EXTRA` of [`k_loop`]): nothing.
const PLAIN: u8 = 0;
/// Also prefetches B for `pack.ahead` panels to the right (tiles that pack B).
const AHEAD: u8 = 1;
/// Also prefetches the next row panel's A at `pack.next_a`, one line per step (A in place).
const NEXT_A: u8 = 2;
/// Also requests the lines of the destinations `fetched`, one every [`C_FETCH_EVERY`]
/// steps (deep tiles with a packed A panel).
const FETCH_C: u8 = 3;

/// The operands of one k loop: `kc` steps of A (rows `ars` apart when `DIRECT`) and B (steps `bs` apart, the last vector `last` lanes wide when `TAIL`), what the
/// tile does beside them (`pack`) and the destinations whose lines it requests (`fetched`).
struct Steps<'a> {
    kc: usize,
    a: *const f32,
    ars: usize,
    b: *const f32,
    bs: usize,
    last: usize,
    pack: PackB,
    fetched: &'a [Dst],
}

/// The k loop of a tile: accumulates `kc` rank-1 updates into `acc`, reading A in place
/// when `DIRECT` (else a packed panel), its k steps `A_STEP` floats apart, masking B's last vector when `TAIL`, copying each
/// B step to `pack` when `PACK`, and doing the `EXTRA` work ([`PLAIN`], [`AHEAD`],
/// [`NEXT_A`], [`FETCH_C`]).
///
/// # Safety
/// As [`tile`].
#[inline(always)]
unsafe fn k_loop<
    S: Simd,
    const MR: usize,
    const NV: usize,
    const A_STEP: usize,
    const DIRECT: bool,
    const TAIL: bool,
    const PACK: bool,
    const EXTRA: u8,
>(
    acc: &mut [[S::V; NV]; MR],
    steps: Steps<'_>,
) {
    let Steps {
        kc,
        mut a,
        ars,
        mut b,
        bs,
        last,
        pack,
        fetched,
    } = steps;
    let mut packed = pack.ptr;
    // The destination line requested next (`FETCH_C`): destination `c_d`, row `c_row`,
    // line `c_line` of that row; `tick` counts the k steps since the last request.
    let (mut tick, mut c_d, mut c_row, mut c_line) = (0, 0, 0, 0);
    let c_lines = (NV * S::LANES).div_ceil(A_LINE);
    // The next row panel's A (in place, rows `ars` apart), one line per k step: row
    // `pf_row`, floats `pf_at..`, until every row's kc floats are requested.
    let pf_end = if DIRECT && EXTRA == NEXT_A { kc } else { 0 };
    let (mut pf_row, mut pf_at) = (0, 0);
    // SAFETY: reads stay inside A's rows / panel and B's k steps (`p < kc`), and copies
    // inside the packed panel, as the caller guarantees; prefetch addresses need not be
    // valid.
    unsafe {
        for _ in 0..kc {
            if EXTRA == FETCH_C {
                tick += 1;
                if tick == C_FETCH_EVERY && c_d < fetched.len() {
                    tick = 0;
                    let d = &fetched[c_d];
                    S::prefetch(d.ptr.wrapping_add(c_row * d.rs + c_line * A_LINE));
                    c_line += 1;
                    if c_line == c_lines {
                        c_line = 0;
                        c_row += 1;
                        if c_row == MR {
                            c_row = 0;
                            c_d += 1;
                        }
                    }
                }
            }
            if EXTRA == NEXT_A && pf_at < pf_end {
                S::prefetch(pack.next_a.wrapping_add(pf_row * ars + pf_at));
                pf_row += 1;
                if pf_row == MR {
                    pf_row = 0;
                    pf_at += A_LINE;
                }
            }
            let mut bv = [S::zero(); NV];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = if TAIL && v == NV - 1 {
                    S::load_first(b.add(v * S::LANES), last)
                } else {
                    S::load(b.add(v * S::LANES))
                };
            }
            if PACK {
                for (v, &x) in bv.iter().enumerate() {
                    let to = packed.add(v * S::LANES);
                    if TAIL && v == NV - 1 {
                        S::store_first(to, x, last);
                    } else {
                        S::store(to, x);
                    }
                }
                packed = packed.add(pack.stride);
            }
            for v in 0..NV {
                S::prefetch(b.wrapping_add(PREFETCH_STEPS * bs + v * S::LANES));
            }
            if EXTRA == AHEAD {
                // The panels to the right: their lines of the same B row, NV·LANES floats
                // per panel (a narrower last panel only prefetches past B's row).
                for v in NV..(1 + pack.ahead) * NV {
                    S::prefetch(b.wrapping_add(PREFETCH_STEPS * bs + v * S::LANES));
                }
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = if DIRECT { a.add(i * ars) } else { a.add(i) };
                let av = S::splat(*ai);
                for v in 0..NV {
                    row[v] = S::fma(av, bv[v], row[v]);
                }
            }
            a = a.wrapping_add(A_STEP);
            b = b.wrapping_add(bs);
        }
    }
}

/// A microkernel entry point: `(kc, A, A row stride (0: packed panel), B panel, B step
/// stride, destinations, columns)`; see [`tile_rows`].
pub type TileFn = unsafe fn(usize, *const f32, usize, *const f32, usize, &[Dst], usize);

/// Every tile of a full row panel: `(kc, A, A row stride (0: packed panel), first B panel,
/// B panel step, B step stride, destinations at the panel's first column, columns,
/// prefetches)`; see [`row_tiles`].
pub type RowFn =
    unsafe fn(usize, *const f32, usize, *const f32, usize, usize, &[Dst], usize, RowFetch);

/// The full tile that also packs the B panel it reads in place: a [`TileFn`]'s arguments,
/// the packed panel to write and the panels to its right to prefetch B for; see
/// [`tile_packing_b`].
pub type PackingTileFn =
    unsafe fn(usize, *const f32, usize, *const f32, usize, &[Dst], usize, *mut f32, usize);

/// One entry point of an ISA: an `unsafe fn` carrying the ISA's attributes (its
/// `#[target_feature]`) that passes its arguments on to the generic body given, so the body
/// inlines into code compiled for that ISA ([`tile_entries`]).
macro_rules! isa_entry {
    (
        $(#[$attr:meta])*
        fn $name:ident [$($generics:tt)*] ($($arg:ident: $ty:ty),* $(,)?) => $($body:tt)*
    ) => {
        $(#[$attr])*
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name<$($generics)*>($($arg: $ty),*) {
            // SAFETY: compiled for this ISA (the attributes given), which the caller
            // detected; the panel and destination contract is the caller's.
            unsafe { $($body)*($($arg),*) }
        }
    };
}
pub(crate) use isa_entry;

/// Defines one ISA's tile entry points, so each ISA file states only what differs (vector
/// type, the attributes its entries carry (its `#[target_feature]`, none for the portable
/// tile), tile shape, which partial tiles it has):
/// - `run_rows::<R>`: [`tile_rows`] for the first `R` of the `$mr` rows, carrying the
///   attributes given (`run_rows::<$mr>` is the full tile);
/// - `PARTIAL`: the entries for the last, partial row panel, as `(rows, entry)` shortest
///   first (see [`Micro::partial`]);
/// - `run_packing_b`: the full tile packing the B panel it reads (see
///   [`Micro::run_packing_b`]);
/// - `run_row`: every tile of a full row panel (see [`Micro::run_row`]).
macro_rules! tile_entries {
    ($(#[$attr:meta])* $simd:ty, rows $mr:ident, vectors $nv:ident, partial [$($r:literal),*]) => {
        $crate::packed::microkernel::isa_entry!(
            /// The tile for the first `R` rows of this ISA's tile (the last, partial row
            /// panel; all of them for the full tile).
            $(#[$attr])*
            fn run_rows[const R: usize](
                kc: usize,
                a: *const f32,
                ars: usize,
                b: *const f32,
                bs: usize,
                dst: &[$crate::packed::microkernel::Dst],
                cols: usize,
            ) => $crate::packed::microkernel::tile_rows::<$simd, R, $nv, $mr>
        );

        $crate::packed::microkernel::isa_entry!(
            /// Every tile of a full row panel.
            $(#[$attr])*
            fn run_row[](
                kc: usize,
                a: *const f32,
                ars: usize,
                b: *const f32,
                panel_step: usize,
                bs: usize,
                dst: &[$crate::packed::microkernel::Dst],
                cols: usize,
                fetch: $crate::packed::microkernel::RowFetch,
            ) => $crate::packed::microkernel::row_tiles::<$simd, $mr, $nv>
        );

        /// Tiles for the last, partial row panel, shortest first.
        const PARTIAL: &[(usize, $crate::packed::microkernel::TileFn)] =
            &[$(($r, run_rows::<$r>)),*];

        $crate::packed::microkernel::isa_entry!(
            /// The full tile, reading B in place and packing it as it goes.
            $(#[$attr])*
            fn run_packing_b[](
                kc: usize,
                a: *const f32,
                ars: usize,
                b: *const f32,
                bs: usize,
                dst: &[$crate::packed::microkernel::Dst],
                cols: usize,
                packed: *mut f32,
                ahead: usize,
            ) => $crate::packed::microkernel::tile_packing_b::<$simd, $mr, $nv>
        );
    };
}
pub(crate) use tile_entries;

/// One ISA's microkernel: its tile shape and entry point.
#[derive(Clone, Copy, Debug)]
pub struct Micro {
    pub mr: usize,
    pub nr: usize,
    /// Runs the tile; reached only after the ISA was detected on this host.
    pub run: TileFn,
    /// Runs every tile of a full row panel (see [`row_tiles`]).
    pub run_row: RowFn,
    /// Runs the full tile reading B in place and writing it to a packed panel, for the
    /// first row panel of a block (see `driver::fills_b`).
    pub run_packing_b: PackingTileFn,
    /// Packing may use the AVX transposing packer (set only where AVX was detected).
    pub simd_pack: bool,
    /// Shorter tiles `(rows, entry)` over the same MR-stride A panels, fewest rows first,
    /// for the last partial row panel; empty where the ISA has none.
    pub partial: &'static [(usize, TileFn)],
    /// The matrix-vector loops for products with one row or column of C.
    pub vector: super::vector::VectorFns,
    /// Columns the tiles compute in: one vector where the ISA masks column tails
    /// ([`Simd::MASKED_TAILS`]: a tile may be called with any width up to NR), else NR (a
    /// narrower panel is computed whole into a buffer by the driver).
    pub col_step: usize,
}

impl Micro {
    /// The shortest tile covering `rows` (≤ MR) rows: `(rows it computes, entry)`.
    pub fn for_rows(&self, rows: usize) -> (usize, TileFn) {
        debug_assert!(rows <= self.mr);
        if rows == self.mr {
            return (self.mr, self.run);
        }
        self.partial
            .iter()
            .copied()
            .find(|&(r, _)| r >= rows)
            .unwrap_or((self.mr, self.run))
    }

    /// Whether a tile may be called for fewer than NR columns (see [`Micro::col_step`]).
    pub fn column_tails(&self) -> bool {
        self.col_step < self.nr
    }

    /// Columns the tiles compute for `cols` columns of C: whole vectors where tails are
    /// masked, whole NR panels otherwise.
    pub fn padded_cols(&self, cols: usize) -> usize {
        cols.div_ceil(self.col_step) * self.col_step
    }

    /// Rows the tiles compute for `rows` rows of C: whole MR panels, and the last panel's
    /// tail rounded up to the shortest tile that covers it.
    pub fn padded_rows(&self, rows: usize) -> usize {
        let tail = rows % self.mr;
        rows - tail + if tail > 0 { self.for_rows(tail).0 } else { 0 }
    }
}
