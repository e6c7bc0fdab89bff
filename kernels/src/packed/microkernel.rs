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

/// The microkernel body: `MR` rows by `NV` vectors of `S::LANES` columns.
///
/// # Safety
/// `S`'s ISA is available; `a` holds `kc·MR` floats; `b` holds `kc` groups of NV·LANES
/// floats, `bs` apart (`bs = NR` for a packed panel, B's row stride when B is read in
/// place); each of `dst` addresses MR rows of NV·LANES writable floats, disjoint from `a`,
/// `b` and each other.
#[inline(always)]
pub unsafe fn tile<S: Simd, const MR: usize, const NV: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    bs: usize,
    dst: &[Dst],
) {
    // SAFETY: the caller's contract, with the panel stride equal to the tile rows.
    unsafe { tile_rows::<S, MR, NV, MR>(kc, a, b, bs, dst) }
}

/// The microkernel body for the first `R` rows of a packed A panel whose k steps are `AS`
/// floats apart (`R ≤ AS`): the full tile when `R = AS = MR`, a shorter one for the last,
/// partial row panel (no work on the padding rows).
///
/// # Safety
/// As [`tile`], with `a` holding `kc·AS` floats and each destination R rows.
#[inline(always)]
pub unsafe fn tile_rows<S: Simd, const MR: usize, const NV: usize, const AS: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    bs: usize,
    dst: &[Dst],
) {
    let nr = NV * S::LANES;
    // SAFETY: reads stay inside the packed panels (`p < kc`), writes inside
    // the destination tiles, as the caller guarantees.
    unsafe {
        let mut acc = [[S::zero(); NV]; MR];
        let (mut a, mut b) = (a, b);
        // Prefetch every line of each destination tile now, so the write-back after the
        // k loop does not wait on memory.
        for d in dst {
            for i in 0..MR {
                for j in (0..nr).step_by(16) {
                    S::prefetch(d.ptr.add(i * d.rs + j));
                }
            }
        }
        for _ in 0..kc {
            let mut bv = [S::zero(); NV];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = S::load(b.add(v * S::LANES));
            }
            for v in 0..NV {
                S::prefetch(b.wrapping_add(PREFETCH_STEPS * bs + v * S::LANES));
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let av = S::splat(*a.add(i));
                for v in 0..NV {
                    row[v] = S::fma(av, bv[v], row[v]);
                }
            }
            a = a.add(AS);
            b = b.wrapping_add(bs);
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

/// A microkernel entry point: `(kc, packed A, B panel, B step stride, destinations)`.
pub type TileFn = unsafe fn(usize, *const f32, *const f32, usize, &[Dst]);

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
        self.partial
            .iter()
            .copied()
            .find(|&(r, _)| r >= rows)
            .unwrap_or((self.mr, self.run))
    }
}
