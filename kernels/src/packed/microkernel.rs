//! The register-blocked microkernel, written once over a small SIMD abstraction and
//! instantiated per ISA (see `avx512.rs`, `avx2.rs`, `neon.rs`, `scalar.rs`).
//!
//! One call computes an MR×NR tile `AB = Ã·B̃` over `kc` steps from packed panels (Ã:
//! `kc` groups of MR floats, B̃: `kc` groups of NR floats) in MR·NV vector accumulators,
//! then writes it to up to [`MAX_DST`] destinations: `C_d = coef_d·AB` (overwrite) or
//! `C_d += coef_d·AB`. Several destinations serve the fused Strassen updates.

/// Most C destinations one microkernel call updates (Strassen, two levels fused).
pub const MAX_DST: usize = 4;

/// One C destination of a tile: row-major rows of NR contiguous floats, `rs` apart.
#[derive(Clone, Copy, Debug)]
pub struct Dst {
    pub ptr: *mut f32,
    pub rs: usize,
    pub coef: f32,
    /// Store `coef·AB` without reading C (Replace on the first KC slab).
    pub overwrite: bool,
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
    /// Hints that the cache line at `p` is needed soon (may be a no-op).
    ///
    /// # Safety
    /// The ISA is available (the address need not be valid).
    unsafe fn prefetch(_p: *const f32) {}
}

/// How many k steps ahead the packed B panel is prefetched.
const PREFETCH_STEPS: usize = 8;

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
/// # Safety
/// `S`'s ISA is available; `a` holds `kc·AS` floats (packed) or MR rows of `kc` floats
/// `ars` apart (in place); B and the destinations as above.
#[inline(always)]
pub unsafe fn tile_rows<S: Simd, const MR: usize, const NV: usize, const AS: usize>(
    kc: usize,
    a: *const f32,
    ars: usize,
    b: *const f32,
    bs: usize,
    dst: &[Dst],
) {
    let nr = NV * S::LANES;
    // SAFETY: reads stay inside the packed panels (`p < kc`), writes inside
    // the destination tiles, as the caller guarantees.
    unsafe {
        let mut acc = [[S::zero(); NV]; MR];
        // Prefetch every line of each accumulated destination tile now, so the write-back
        // after the k loop does not wait on memory. Overwritten tiles are not read, and a
        // read prefetch only adds a request before the store claims the line (Xeon host,
        // one thread, same process: 4096×64·64×64 +6%, 32³ and 64³ +2%, n ≥ 512 ±0.5%).
        for d in dst.iter().filter(|d| !d.overwrite) {
            for i in 0..MR {
                for j in (0..nr).step_by(16) {
                    S::prefetch(d.ptr.add(i * d.rs + j));
                }
            }
        }
        if ars == 0 {
            k_loop::<S, MR, NV, false>(&mut acc, kc, a, 0, AS, b, bs);
        } else {
            k_loop::<S, MR, NV, true>(&mut acc, kc, a, ars, 1, b, bs);
        }
        for d in dst {
            let coef = S::splat(d.coef);
            for (i, row) in acc.iter().enumerate() {
                let c = d.ptr.add(i * d.rs);
                for (v, &x) in row.iter().enumerate() {
                    let cv = c.add(v * S::LANES);
                    if d.overwrite {
                        S::store(cv, S::mul(x, coef));
                    } else {
                        S::store(cv, S::fma(x, coef, S::load(cv)));
                    }
                }
            }
        }
    }
}

/// The k loop of a tile: accumulates `kc` rank-1 updates into `acc`. A rows are `ars`
/// apart when `DIRECT` (else 1), A steps `aks` apart; B steps `bs` apart.
///
/// # Safety
/// As [`tile_rows`].
#[inline(always)]
unsafe fn k_loop<S: Simd, const MR: usize, const NV: usize, const DIRECT: bool>(
    acc: &mut [[S::V; NV]; MR],
    kc: usize,
    mut a: *const f32,
    ars: usize,
    aks: usize,
    mut b: *const f32,
    bs: usize,
) {
    // SAFETY: reads stay inside A's rows / panel and B's k steps (`p < kc`), as the
    // caller guarantees; prefetch addresses need not be valid.
    unsafe {
        for _ in 0..kc {
            let mut bv = [S::zero(); NV];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = S::load(b.add(v * S::LANES));
            }
            for v in 0..NV {
                S::prefetch(b.wrapping_add(PREFETCH_STEPS * bs + v * S::LANES));
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = if DIRECT { a.add(i * ars) } else { a.add(i) };
                let av = S::splat(*ai);
                for v in 0..NV {
                    row[v] = S::fma(av, bv[v], row[v]);
                }
            }
            a = a.wrapping_add(aks);
            b = b.wrapping_add(bs);
        }
    }
}

/// A microkernel entry point: `(kc, A, A row stride (0: packed panel), B panel, B step
/// stride, destinations)`.
pub type TileFn = unsafe fn(usize, *const f32, usize, *const f32, usize, &[Dst]);

/// Defines one ISA's tile entry points, so each ISA file states only what differs (vector
/// type, target features, tile shape, which partial tiles it has):
/// - `run_rows::<R>`: [`tile_rows`] for the first `R` of the `$mr` rows, compiled with
///   `$features` (`run_rows::<$mr>` is the full tile);
/// - `PARTIAL`: the entries for the last, partial row panel, as `(rows, entry)` shortest
///   first (see [`Micro::partial`]).
macro_rules! tile_entries {
    ($simd:ty, $features:literal, rows $mr:ident, vectors $nv:ident, partial [$($r:literal),*]) => {
        /// The tile for the first `R` rows of this ISA's tile (the last, partial row
        /// panel; all of them for the full tile).
        #[target_feature(enable = $features)]
        unsafe fn run_rows<const R: usize>(
            kc: usize,
            a: *const f32,
            ars: usize,
            b: *const f32,
            bs: usize,
            dst: &[$crate::packed::microkernel::Dst],
        ) {
            // SAFETY: the target features are enabled here; the panel and destination
            // contract is the caller's.
            unsafe {
                $crate::packed::microkernel::tile_rows::<$simd, R, $nv, $mr>(
                    kc, a, ars, b, bs, dst,
                )
            }
        }

        /// Tiles for the last, partial row panel, shortest first.
        const PARTIAL: &[(usize, $crate::packed::microkernel::TileFn)] =
            &[$(($r, run_rows::<$r>)),*];
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
    /// Packing may use the AVX transposing packer (set only where AVX was detected).
    pub simd_pack: bool,
    /// Shorter tiles `(rows, entry)` over the same MR-stride A panels, fewest rows first,
    /// for the last partial row panel; empty where the ISA has none.
    pub partial: &'static [(usize, TileFn)],
}

impl Micro {
    /// The shortest tile covering `rows` (≤ MR) rows: `(rows it computes, entry)`.
    pub fn for_rows(&self, rows: usize) -> (usize, TileFn) {
        debug_assert!(rows <= self.mr);
        self.partial
            .iter()
            .copied()
            .find(|&(r, _)| r >= rows)
            .unwrap_or((self.mr, self.run))
    }

    /// Rows the tiles compute for `rows` rows of C: whole MR panels, and the last panel's
    /// tail rounded up to the shortest tile that covers it.
    pub fn padded_rows(&self, rows: usize) -> usize {
        let tail = rows % self.mr;
        rows - tail + if tail > 0 { self.for_rows(tail).0 } else { 0 }
    }
}
