//! Matrix-vector products (C with one row or one column, or a few rows sharing the matrix):
//! two SIMD loops instead of tiles.
//!
//! A tile computes at least a vector's width of columns and several rows (12×16 on
//! AVX-512), so a product with one row or column of C would be mostly padding, with one or
//! two accumulator chains waiting on FMA latency. Such a product only reads its matrix
//! once, so it is bound by memory: these loops read the matrix in place, in the direction
//! it is contiguous, with enough independent accumulators to keep loads in flight.
//! - [`dots`]: rows of the matrix contiguous along k: one dot product per output.
//! - [`axpys`]: rows of the matrix contiguous along the outputs: the output vector
//!   accumulates `x[p]·row p` over k. It also serves a few rows of C at once (several
//!   vectors `x` sharing each pass over the matrix; see `driver::summed_rows`).

use super::microkernel::{Dst, Simd};

/// Outputs summed together in [`axpys`] per vector: a 4 KiB buffer each, up to 28 KiB for
/// the seven vectors of one pass, inside the 48 KiB L1 of the Zen 5 measured (unmeasured
/// on a 32 KiB L1, where it leaves less room for the matrix rows streaming past).
const AXPY_BLOCK: usize = 1024;

/// Rows of the matrix added to [`axpys`]'s buffer per load and store of it.
const AXPY_ROWS: usize = 4;

/// Rows of the matrix read together in [`dots`], sharing each load of `x`.
const DOT_ROWS: usize = 4;

/// Vectors `x` summed-rows products of one matrix share in one pass over it when there
/// are more than [`AXPY_ONE_PASS`] (see [`axpys`]).
const AXPY_VECTORS: usize = 4;

/// Most vectors `x` served by one pass over the matrix.
///
/// Five to seven vectors in one pass ÷ a pass of four and a second pass, Zen 5, one
/// thread, alternating in one process (m×k·k×n): AVX-512 5×1024·1024×1024 1.38–1.44×,
/// 6×1024·1024×1024 1.24–1.25×, 6×2048·2048×2048 1.25–1.36×, 7×1024·1024×4096
/// 1.10–1.28×; the AVX2 path 0.95–1.37× on these and 8×2048·2048×2048. Eight in one pass
/// was mixed over two builds (8×1024·1024×1024 0.89–0.97×, 8×256·256×4096 0.82–1.03×,
/// 8×2048·2048×2048 1.02–1.32×, 8×4096·4096×1024 1.12–1.23×): its 32 broadcast `x` values
/// no longer fit in registers, so eight rows stay two passes of four.
const AXPY_ONE_PASS: usize = 7;

/// Passes over the matrix [`axpys`] makes for `count` vectors `x`.
pub fn axpy_passes(count: usize) -> usize {
    if count <= AXPY_ONE_PASS {
        1
    } else {
        count.div_ceil(AXPY_VECTORS)
    }
}

/// A matrix-vector product: `len` outputs, output `j` getting `Σ_p x[p·xs]·M(j, p)` over
/// `p < k`, with M's element `(j, p)` at `m + j·ms + p` for [`dots`] or `m + p·ms + j` for
/// [`axpys`], written to `out` (output `j` at `out.ptr + j·out.rs`).
///
/// Both compute `count` such products of the same M at once: vector `i` at
/// `x + i·x_next`, its outputs at `out.ptr + i·out_next` ([`axpys`]: a few rows of A times
/// B; [`dots`]: up to [`DOT_VECTORS`] columns of B times A, a column tail of C).
#[derive(Clone, Copy, Debug)]
pub struct MatVec {
    pub k: usize,
    pub x: *const f32,
    pub xs: usize,
    pub m: *const f32,
    pub ms: usize,
    pub len: usize,
    pub out: Dst,
    pub count: usize,
    pub x_next: usize,
    pub out_next: usize,
}

// SAFETY: read-only pointers into the operands and the destination's pointer, shared
// while the product's views are borrowed; threads write disjoint output ranges.
unsafe impl Sync for MatVec {}

/// Writes `value` (already summed) to output `j` of `out`, a tile destination one float
/// wide: output `j` at `ptr + j·rs`, set to `coef·value` when `overwrite` (never read),
/// else incremented by it.
///
/// # Safety
/// Output `j` is writable (and readable unless `overwrite`).
#[inline(always)]
unsafe fn put(out: &Dst, j: usize, value: f32) {
    // SAFETY: the caller's contract.
    unsafe {
        let y = out.ptr.add(j * out.rs);
        *y = if out.overwrite {
            out.coef * value
        } else {
            *y + out.coef * value
        };
    }
}

/// Most vectors `x` [`dots`] takes at once.
pub const DOT_VECTORS: usize = 4;

/// Rows of M read together when [`dots`] serves four vectors: twelve accumulators (with
/// [`DOT_ROWS`], sixteen measured 0.77× the tiles they replace at 100³, twelve 1.09×; see
/// `driver::tail_dot_columns`).
const DOT_ROWS_OF_FOUR: usize = 3;

/// `v` as dot products of `len` rows of M (each `k` contiguous floats, `ms` apart) with
/// the contiguous `x` (`xs = 1`): four rows at a time ([`dot_rows`]), the last few one by
/// one; with two to [`DOT_VECTORS`] vectors `x`, each row with all of them at once
/// ([`dot_tile`]).
///
/// # Safety
/// `S`'s ISA is available; each `x` holds `k` contiguous floats, M `len` rows of `k`
/// floats `ms` apart; the `count × len` outputs are writable, disjoint from each other, M
/// and the `x`.
#[inline(always)]
pub unsafe fn dots<S: Simd>(v: &MatVec) {
    debug_assert_eq!(v.xs, 1);
    // SAFETY: the caller's contract.
    unsafe {
        match v.count {
            1 => dots_one::<S>(v),
            2 => dots_many::<S, DOT_ROWS, 2>(v),
            3 => dots_many::<S, DOT_ROWS, 3>(v),
            _ => dots_many::<S, DOT_ROWS_OF_FOUR, DOT_VECTORS>(v),
        }
    }
}

/// [`dots`] for one vector `x`.
///
/// # Safety
/// As [`dots`], with `count = 1`.
#[inline(always)]
unsafe fn dots_one<S: Simd>(v: &MatVec) {
    let &MatVec {
        k,
        x,
        m,
        ms,
        len,
        out,
        ..
    } = v;
    // SAFETY: rows j < len of M and outputs j < len, as the caller guarantees.
    unsafe {
        let mut j = 0;
        while j + DOT_ROWS <= len {
            let sums = dot_rows::<S, DOT_ROWS>(k, x, std::array::from_fn(|r| m.add((j + r) * ms)));
            for (r, s) in sums.into_iter().enumerate() {
                put(&out, j + r, s);
            }
            j += DOT_ROWS;
        }
        while j < len {
            let [s] = dot_rows::<S, 1>(k, x, [m.add(j * ms)]);
            put(&out, j, s);
            j += 1;
        }
    }
}

/// [`dots`] for `T` vectors `x`: `R` rows of M at a time, each row's vectors loaded once
/// for all `T`.
///
/// # Safety
/// As [`dots`], with `count = T`.
#[inline(always)]
unsafe fn dots_many<S: Simd, const R: usize, const T: usize>(v: &MatVec) {
    debug_assert_eq!(v.count, T);
    let xs: [*const f32; T] = std::array::from_fn(|i| v.x.wrapping_add(i * v.x_next));
    let outs: [Dst; T] = std::array::from_fn(|i| Dst {
        ptr: v.out.ptr.wrapping_add(i * v.out_next),
        ..v.out
    });
    // SAFETY: rows j < len of M, the T vectors and their outputs, as the caller guarantees.
    unsafe {
        let mut j = 0;
        while j + R <= v.len {
            let rows = std::array::from_fn(|r| v.m.add((j + r) * v.ms));
            let sums = dot_tile::<S, R, T>(v.k, xs, rows);
            for (r, row) in sums.into_iter().enumerate() {
                for (out, s) in outs.iter().zip(row) {
                    put(out, j + r, s);
                }
            }
            j += R;
        }
        while j < v.len {
            let [row] = dot_tile::<S, 1, T>(v.k, xs, [v.m.add(j * v.ms)]);
            for (out, s) in outs.iter().zip(row) {
                put(out, j, s);
            }
            j += 1;
        }
    }
}

/// The dot products of `R` rows with each of `T` vectors `x` (all `k` contiguous floats):
/// one vector of each per step, so each row load serves `T` FMAs and each `x` load `R`
/// (`R·T` independent FMA chains); a partial last vector is masked.
///
/// # Safety
/// `S`'s ISA is available; every `x` and every row hold `k` floats.
#[inline(always)]
unsafe fn dot_tile<S: Simd, const R: usize, const T: usize>(
    k: usize,
    xs: [*const f32; T],
    rows: [*const f32; R],
) -> [[f32; T]; R] {
    let l = S::LANES;
    // SAFETY: every read is at p < k of an `x` or a row.
    unsafe {
        let mut acc = [[S::zero(); T]; R];
        let mut p = 0;
        while p < k {
            let lanes = (k - p).min(l);
            let load = |ptr: *const f32| {
                if lanes == l {
                    S::load(ptr.add(p))
                } else {
                    S::load_first(ptr.add(p), lanes)
                }
            };
            let xv = xs.map(load);
            for (row, a) in rows.iter().zip(acc.iter_mut()) {
                let rv = load(*row);
                for (a, &xv) in a.iter_mut().zip(&xv) {
                    *a = S::fma(rv, xv, *a);
                }
            }
            p += lanes;
        }
        acc.map(|a| a.map(|v| S::sum(v)))
    }
}

/// The dot products of `R` rows (each `k` contiguous floats) with the contiguous `x`: two
/// vectors of each row per step share each load of `x` (for four rows, eight independent
/// FMA chains and ten loads per eight FMAs); a partial last vector is masked.
///
/// # Safety
/// `S`'s ISA is available; `x` and every row hold `k` floats.
#[inline(always)]
unsafe fn dot_rows<S: Simd, const R: usize>(
    k: usize,
    x: *const f32,
    rows: [*const f32; R],
) -> [f32; R] {
    let l = S::LANES;
    let whole = k / (2 * l) * (2 * l);
    // SAFETY: every read is at p < k of `x` or a row.
    unsafe {
        let mut acc = [[S::zero(); 2]; R];
        let mut p = 0;
        while p < whole {
            let xv = [S::load(x.add(p)), S::load(x.add(p + l))];
            for (row, a) in rows.iter().zip(acc.iter_mut()) {
                for (v, &xv) in xv.iter().enumerate() {
                    a[v] = S::fma(S::load(row.add(p + v * l)), xv, a[v]);
                }
            }
            p += 2 * l;
        }
        while p < k {
            let lanes = (k - p).min(l);
            let xv = S::load_first(x.add(p), lanes);
            for (row, a) in rows.iter().zip(acc.iter_mut()) {
                a[0] = S::fma(S::load_first(row.add(p), lanes), xv, a[0]);
            }
            p += lanes;
        }
        acc.map(|[a0, a1]| S::sum(S::add(a0, a1)))
    }
}

/// `v` as `x[p]` times row `p` of M (each `len` contiguous floats, `ms` apart), summed over
/// k, for each of the `count` vectors `x`: up to [`AXPY_ONE_PASS`] of them in one pass over
/// M, more in passes of [`AXPY_VECTORS`] ([`axpy_rows`]).
///
/// # Safety
/// `S`'s ISA is available; each `x` holds `k` floats `xs` apart, M `k` rows of `len`
/// floats `ms` apart; the `count × len` outputs are writable, disjoint from each other, M
/// and the `x`.
#[inline(always)]
pub unsafe fn axpys<S: Simd>(v: &MatVec) {
    // One summing buffer for every group size, uninitialized: each block zeroes what it
    // uses (a buffer per size in each inlined variant made the frame 112 KiB, and zeroing
    // all of it would cost more than a small product).
    let mut sums = std::mem::MaybeUninit::<[f32; AXPY_ONE_PASS * AXPY_BLOCK]>::uninit();
    let sums = sums.as_mut_ptr().cast::<f32>();
    let mut i = 0;
    while i < v.count {
        let group = MatVec {
            x: v.x.wrapping_add(i * v.x_next),
            out: Dst {
                ptr: v.out.ptr.wrapping_add(i * v.out_next),
                ..v.out
            },
            count: match v.count - i {
                left if axpy_passes(left) == 1 => left,
                _ => AXPY_VECTORS,
            },
            ..*v
        };
        // SAFETY: the caller's contract, for vectors i.. of it.
        unsafe {
            match group.count {
                1 => axpy_rows::<S, 1>(&group, sums),
                2 => axpy_rows::<S, 2>(&group, sums),
                3 => axpy_rows::<S, 3>(&group, sums),
                4 => axpy_rows::<S, 4>(&group, sums),
                5 => axpy_rows::<S, 5>(&group, sums),
                6 => axpy_rows::<S, 6>(&group, sums),
                _ => axpy_rows::<S, AXPY_ONE_PASS>(&group, sums),
            }
        }
        i += group.count;
    }
}

/// [`axpys`] for the first `R` vectors of `v`, in one pass over M, summing in `sums`.
///
/// Outputs go in blocks of [`AXPY_BLOCK`] per vector, summed in an L1-resident buffer;
/// four rows of M at a time update it, so each buffer load and store serves four FMAs
/// while the rows stream contiguously, and each load of M serves `R` vectors. (Blocks of
/// a few vectors summed in registers over all of k instead read M down its columns, a
/// new page every row once rows are 4 KiB long: 1.5–1.8× slower than faer's loop at
/// 1×1024·1024×1024 and 1×4096·4096×4096.)
///
/// # Safety
/// As [`axpys`], for `R ≤ v.count` vectors; `sums` is valid for writing and then reading
/// `R·AXPY_BLOCK` floats (their contents on entry do not matter), disjoint from the rest.
#[inline(always)]
unsafe fn axpy_rows<S: Simd, const R: usize>(v: &MatVec, sums: *mut f32) {
    let &MatVec {
        k,
        x,
        xs,
        m,
        ms,
        len,
        out,
        x_next,
        out_next,
        ..
    } = v;
    debug_assert!(R <= v.count);
    let l = S::LANES;
    // SAFETY: reads at p < k of columns < len (the last vector of a block masked to its
    // columns) and of vectors i < R; the buffer holds R×AXPY_BLOCK floats, of which each
    // block zeroes the whole vectors it reads before summing into them; writes to outputs
    // < len of vectors i < R.
    unsafe {
        let mut j0 = 0;
        while j0 < len {
            let cols = (len - j0).min(AXPY_BLOCK);
            let vectors = cols.div_ceil(l);
            let last = cols - (vectors - 1) * l;
            let acc: [*mut f32; R] = std::array::from_fn(|i| sums.add(i * AXPY_BLOCK));
            for a in acc {
                for v in 0..vectors {
                    S::store(a.add(v * l), S::zero());
                }
            }
            let row = |p: usize, v: usize| {
                let at = m.add(p * ms + j0 + v * l);
                if v + 1 == vectors && last < l {
                    S::load_first(at, last)
                } else {
                    S::load(at)
                }
            };
            let xv = |i: usize, p: usize| S::splat(*x.add(i * x_next + p * xs));
            let mut p = 0;
            while p + AXPY_ROWS <= k {
                let xp: [[S::V; AXPY_ROWS]; R] =
                    std::array::from_fn(|i| std::array::from_fn(|r| xv(i, p + r)));
                for v in 0..vectors {
                    let rows: [S::V; AXPY_ROWS] = std::array::from_fn(|r| row(p + r, v));
                    for (a, xi) in acc.iter().zip(&xp) {
                        let mut s = S::load(a.add(v * l));
                        for (&xr, &mr) in xi.iter().zip(&rows) {
                            s = S::fma(xr, mr, s);
                        }
                        S::store(a.add(v * l), s);
                    }
                }
                p += AXPY_ROWS;
            }
            while p < k {
                let xp: [S::V; R] = std::array::from_fn(|i| xv(i, p));
                for v in 0..vectors {
                    let mr = row(p, v);
                    for (a, &xi) in acc.iter().zip(&xp) {
                        S::store(a.add(v * l), S::fma(xi, mr, S::load(a.add(v * l))));
                    }
                }
                p += 1;
            }
            for (i, &a) in acc.iter().enumerate() {
                let dst = Dst {
                    ptr: out.ptr.add(i * out_next),
                    ..out
                };
                for c in 0..cols {
                    put(&dst, j0 + c, *a.add(c));
                }
            }
            j0 += cols;
        }
    }
}

/// The matrix-vector loops compiled for one ISA ([`dots`] and [`axpys`]).
#[derive(Clone, Copy, Debug)]
pub struct VectorFns {
    pub dots: unsafe fn(&MatVec),
    pub axpys: unsafe fn(&MatVec),
}

/// Defines `VECTOR`, this ISA's [`VectorFns`], its entries carrying the attributes given
/// (the ISA's `#[target_feature]`, none for the portable path).
macro_rules! vector_entries {
    ($(#[$attr:meta])* $simd:ty) => {
        $(#[$attr])*
        unsafe fn dots_entry(v: &$crate::packed::vector::MatVec) {
            // SAFETY: compiled for this ISA, which the caller detected; the operand
            // contract is the caller's.
            unsafe { $crate::packed::vector::dots::<$simd>(v) }
        }

        $(#[$attr])*
        unsafe fn axpys_entry(v: &$crate::packed::vector::MatVec) {
            // SAFETY: as `dots_entry`.
            unsafe { $crate::packed::vector::axpys::<$simd>(v) }
        }

        /// This ISA's matrix-vector loops.
        const VECTOR: $crate::packed::vector::VectorFns = $crate::packed::vector::VectorFns {
            dots: dots_entry,
            axpys: axpys_entry,
        };
    };
}
pub(crate) use vector_entries;
