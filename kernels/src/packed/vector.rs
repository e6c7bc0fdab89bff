//! Matrix-vector products (C with one row or one column): two SIMD loops instead of tiles.
//!
//! A tile computes at least a vector's width of columns and several rows (12×16 on
//! AVX-512), so a product with one row or column of C would be mostly padding, with one or
//! two accumulator chains waiting on FMA latency. Such a product only reads its matrix
//! once, so it is bound by memory: these loops read the matrix in place, in the direction
//! it is contiguous, with enough independent accumulators to keep loads in flight.
//! - [`dots`]: rows of the matrix contiguous along k: one dot product per output.
//! - [`axpys`]: rows of the matrix contiguous along the outputs: the output vector
//!   accumulates `x[p]·row p` over k.

use super::microkernel::Simd;

/// Outputs summed together in [`axpys`]: a 4 KiB buffer, well inside L1.
const AXPY_BLOCK: usize = 1024;

/// Rows of the matrix added to [`axpys`]'s buffer per load and store of it.
const AXPY_ROWS: usize = 4;

/// Rows of the matrix read together in [`dots`], sharing each load of `x`.
const DOT_ROWS: usize = 4;

/// Where the outputs go: output `j` at `ptr + j·stride`, set to `coef·value` when
/// `overwrite` (never read), else incremented by it.
#[derive(Clone, Copy, Debug)]
pub struct Out {
    pub ptr: *mut f32,
    pub stride: usize,
    pub coef: f32,
    pub overwrite: bool,
}

impl Out {
    /// Writes `value` (already summed) to output `j`.
    ///
    /// # Safety
    /// Output `j` is writable (and readable unless `overwrite`).
    #[inline(always)]
    unsafe fn put(&self, j: usize, value: f32) {
        // SAFETY: the caller's contract.
        unsafe {
            let y = self.ptr.add(j * self.stride);
            *y = if self.overwrite {
                self.coef * value
            } else {
                *y + self.coef * value
            };
        }
    }
}

/// Output `j < len` gets `Σ_p x[p]·M[j·ms + p]` over `p < k`: dot products of `len` rows
/// of M (each `k` contiguous floats, `ms` apart) with the contiguous `x`.
///
/// Four rows at a time, two vectors of each, share every load of `x`: eight independent
/// FMA chains, ten loads per eight FMAs.
///
/// # Safety
/// `S`'s ISA is available; `x` holds `k` floats, M `len` rows of `k` floats `ms` apart;
/// the `len` outputs are writable, disjoint from M and `x`.
#[inline(always)]
pub unsafe fn dots<S: Simd>(
    k: usize,
    x: *const f32,
    m: *const f32,
    ms: usize,
    len: usize,
    out: Out,
) {
    let l = S::LANES;
    let whole = k / (2 * l) * (2 * l);
    // SAFETY: every read below is at p < k of row j < len; writes go to outputs j < len.
    unsafe {
        let mut j = 0;
        while j + DOT_ROWS <= len {
            let rows: [*const f32; DOT_ROWS] = std::array::from_fn(|r| m.add((j + r) * ms));
            let mut acc = [[S::zero(); 2]; DOT_ROWS];
            let mut p = 0;
            while p < whole {
                let xv = [S::load(x.add(p)), S::load(x.add(p + l))];
                for (r, row) in rows.iter().enumerate() {
                    for (v, &xv) in xv.iter().enumerate() {
                        acc[r][v] = S::fma(S::load(row.add(p + v * l)), xv, acc[r][v]);
                    }
                }
                p += 2 * l;
            }
            while p < k {
                let lanes = (k - p).min(l);
                let xv = S::load_first(x.add(p), lanes);
                for (r, row) in rows.iter().enumerate() {
                    acc[r][0] = S::fma(S::load_first(row.add(p), lanes), xv, acc[r][0]);
                }
                p += lanes;
            }
            for (r, [a0, a1]) in acc.into_iter().enumerate() {
                out.put(j + r, S::sum(S::add(a0, a1)));
            }
            j += DOT_ROWS;
        }
        while j < len {
            let row = m.add(j * ms);
            let mut acc = [S::zero(); 2];
            let mut p = 0;
            while p < whole {
                for (v, a) in acc.iter_mut().enumerate() {
                    *a = S::fma(S::load(row.add(p + v * l)), S::load(x.add(p + v * l)), *a);
                }
                p += 2 * l;
            }
            while p < k {
                let lanes = (k - p).min(l);
                let prod = S::load_first(row.add(p), lanes);
                acc[0] = S::fma(prod, S::load_first(x.add(p), lanes), acc[0]);
                p += lanes;
            }
            out.put(j, S::sum(S::add(acc[0], acc[1])));
            j += 1;
        }
    }
}

/// Output `j < len` gets `Σ_p x[p·xs]·M[p·ms + j]` over `p < k`: `x[p]` times row `p` of M
/// (each `len` contiguous floats, `ms` apart), summed over k.
///
/// Outputs go in blocks of [`AXPY_BLOCK`] summed in an L1-resident buffer; four rows of M
/// at a time update it, so each buffer load and store serves four FMAs while the rows
/// stream contiguously. (Blocks of a few vectors summed in registers over all of k
/// instead read M down its columns, a new page every row once rows are 4 KiB long:
/// 1.5–1.8× slower than faer's loop at 1×1024·1024×1024 and 1×4096·4096×4096.)
///
/// # Safety
/// `S`'s ISA is available; `x` holds `k` floats `xs` apart, M `k` rows of `len` floats
/// `ms` apart; the `len` outputs are writable, disjoint from M and `x`.
#[inline(always)]
pub unsafe fn axpys<S: Simd>(
    k: usize,
    x: *const f32,
    xs: usize,
    m: *const f32,
    ms: usize,
    len: usize,
    out: Out,
) {
    let l = S::LANES;
    let mut sums = [0.0f32; AXPY_BLOCK];
    // SAFETY: reads at p < k of columns < len (the last vector of a block masked to its
    // columns); the buffer holds AXPY_BLOCK floats; writes to outputs < len.
    unsafe {
        let mut j0 = 0;
        while j0 < len {
            let cols = (len - j0).min(AXPY_BLOCK);
            let vectors = cols.div_ceil(l);
            let last = cols - (vectors - 1) * l;
            let acc = sums.as_mut_ptr();
            for v in 0..vectors {
                S::store(acc.add(v * l), S::zero());
            }
            let row = |p: usize, v: usize| {
                let at = m.add(p * ms + j0 + v * l);
                if v + 1 == vectors && last < l {
                    S::load_first(at, last)
                } else {
                    S::load(at)
                }
            };
            let mut p = 0;
            while p + AXPY_ROWS <= k {
                let xp: [S::V; AXPY_ROWS] = std::array::from_fn(|r| S::splat(*x.add((p + r) * xs)));
                for v in 0..vectors {
                    let mut a = S::load(acc.add(v * l));
                    for (r, &xr) in xp.iter().enumerate() {
                        a = S::fma(xr, row(p + r, v), a);
                    }
                    S::store(acc.add(v * l), a);
                }
                p += AXPY_ROWS;
            }
            while p < k {
                let xp = S::splat(*x.add(p * xs));
                for v in 0..vectors {
                    S::store(
                        acc.add(v * l),
                        S::fma(xp, row(p, v), S::load(acc.add(v * l))),
                    );
                }
                p += 1;
            }
            for (c, &s) in sums[..cols].iter().enumerate() {
                out.put(j0 + c, s);
            }
            j0 += cols;
        }
    }
}

/// A matrix-vector entry point compiled for one ISA: `dots` (`k, x, M, ms, len, out`) and
/// `axpys` (`k, x, xs, M, ms, len, out`), as the generic functions above.
#[derive(Clone, Copy, Debug)]
pub struct VectorFns {
    pub dots: unsafe fn(usize, *const f32, *const f32, usize, usize, Out),
    pub axpys: unsafe fn(usize, *const f32, usize, *const f32, usize, usize, Out),
}

/// Defines `VECTOR`, this ISA's [`VectorFns`], its entries carrying the attributes given
/// (the ISA's `#[target_feature]`, none for the portable path).
macro_rules! vector_entries {
    ($(#[$attr:meta])* $simd:ty) => {
        $(#[$attr])*
        unsafe fn dots_entry(
            k: usize,
            x: *const f32,
            m: *const f32,
            ms: usize,
            len: usize,
            out: $crate::packed::vector::Out,
        ) {
            // SAFETY: compiled for this ISA, which the caller detected; the operand
            // contract is the caller's.
            unsafe { $crate::packed::vector::dots::<$simd>(k, x, m, ms, len, out) }
        }

        $(#[$attr])*
        unsafe fn axpys_entry(
            k: usize,
            x: *const f32,
            xs: usize,
            m: *const f32,
            ms: usize,
            len: usize,
            out: $crate::packed::vector::Out,
        ) {
            // SAFETY: as `dots_entry`.
            unsafe { $crate::packed::vector::axpys::<$simd>(k, x, xs, m, ms, len, out) }
        }

        /// This ISA's matrix-vector loops.
        const VECTOR: $crate::packed::vector::VectorFns = $crate::packed::vector::VectorFns {
            dots: dots_entry,
            axpys: axpys_entry,
        };
    };
}
pub(crate) use vector_entries;
