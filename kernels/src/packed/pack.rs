//! Packing: copies a block of A into MR-row panels and a block of B into NR-column panels,
//! contiguous in the order the microkernel reads them, from any strides, zero-padding the
//! ragged last panel. An operand may be a signed sum of up to four blocks (Strassen's
//! `A11 + A22` etc.), which is formed here while packing, so no temporary is needed.

/// One term of a packed operand: `coef · M`, where element `(x, p)` of the block `M` is at
/// `ptr + x·xs + p·ps` (x runs along the panel width: rows of A or columns of B; p along k).
#[derive(Clone, Copy, Debug)]
pub struct Term {
    pub ptr: *const f32,
    pub xs: usize,
    pub ps: usize,
    pub coef: f32,
}

// SAFETY: a term only reads through its pointer, and the driver shares it across threads
// only while the view it came from is borrowed and unchanged.
unsafe impl Send for Term {}
// SAFETY: as above.
unsafe impl Sync for Term {}

impl Term {
    /// The same term moved by `x` along the width and `p` along k (wrapping pointer
    /// arithmetic: computing it is safe, reading through it is the caller's concern).
    #[inline]
    pub fn at(self, x: usize, p: usize) -> Term {
        Term {
            ptr: self.ptr.wrapping_add(x * self.xs + p * self.ps),
            ..self
        }
    }
}

/// Packs a `len × kc` block (`len` along the width) into panels of width `w`: panel `q`
/// holds `kc` groups of `w` floats, `out[q·w·kc + p·w + x] = Σ coef·M(q·w + x, p)`, zero
/// where `q·w + x ≥ len`.
///
/// # Safety
/// `out` has room for `len.div_ceil(w)·w·kc` floats; every term addresses valid floats
/// for `x < len`, `p < kc`.
/// `simd` allows the AVX transposing packer (the caller checked the host has AVX).
pub unsafe fn pack(out: &mut [f32], terms: &[Term], w: usize, len: usize, kc: usize, simd: bool) {
    debug_assert!(out.len() >= len.div_ceil(w) * w * kc);
    let out = out.as_mut_ptr();
    // SAFETY: the caller's contract (`simd` only where the host has AVX).
    unsafe { compiled_for(simd, || pack_panels(out, terms, w, len, kc, simd)) }
}

/// Runs the packing loops `f`, compiled with AVX enabled when `simd` (x86-64), so that
/// their line copies inline as 256-bit moves: the crate's baseline x86-64 target (SSE2)
/// turns each 48–128-byte line copy into a call to `memcpy`, which cost 5% of a one-thread
/// MLP-M training step on the Zen 5 host (`perf record`).
///
/// # Safety
/// `simd` only where the host has AVX.
#[inline(always)]
unsafe fn compiled_for(simd: bool, f: impl FnOnce()) {
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: the caller checked AVX.
        return unsafe { with_avx(f) };
    }
    let _ = simd;
    f()
}

/// Runs `f` inside a function compiled with AVX (see [`compiled_for`]).
///
/// # Safety
/// The host has AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn with_avx(f: impl FnOnce()) {
    f()
}

/// [`pack`]'s loops (see there); `out` is the buffer's start.
///
/// # Safety
/// As [`pack`].
#[inline(always)]
unsafe fn pack_panels(out: *mut f32, terms: &[Term], w: usize, len: usize, kc: usize, simd: bool) {
    for (q, x0) in (0..len).step_by(w).enumerate() {
        let width = w.min(len - x0);
        // SAFETY: the panel lies inside `out` (size checked above); sources are valid for
        // `x < len, p < kc` by the caller's contract.
        unsafe {
            let panel = out.add(q * w * kc);
            let done = transposed_lines(panel, terms, x0, w, width, kc, simd);
            let (panel_rest, x_rest, rest) = (panel.add(done), x0 + done, width - done);
            if rest > 0 {
                match terms {
                    [t] if t.coef == 1.0 => copy_panel(panel_rest, t.at(x_rest, 0), w, rest, kc),
                    _ => sum_panel(panel_rest, terms, x_rest, w, rest, kc),
                }
            }
            if width < w {
                for p in 0..kc {
                    for x in width..w {
                        *panel.add(p * w + x) = 0.0;
                    }
                }
            }
        }
    }
}

/// How many k steps (rows of B) ahead [`pack_b`] requests its source lines when asked to.
const FETCH_STEPS_AHEAD: usize = 4;

/// [`pack`] for terms contiguous along the width (`xs = 1`), k step by k step across all
/// panels: each source line is read once, front to back, instead of one panel-width
/// piece per line per panel (lines of a wide B are pages apart). With `FETCH`, each step
/// also requests the lines of the step [`FETCH_STEPS_AHEAD`] further on.
///
/// # Safety
/// As [`pack`].
#[inline(always)]
unsafe fn pack_by_steps<const FETCH: bool>(
    out: *mut f32,
    terms: &[Term],
    w: usize,
    len: usize,
    kc: usize,
) {
    let panels = len.div_ceil(w);
    let tail = len - (panels - 1) * w;
    for p in 0..kc {
        for q in 0..panels {
            let width = if q + 1 == panels { tail } else { w };
            // SAFETY: step p of panel q lies inside `out`; sources hold x < len, p < kc.
            unsafe {
                let d = out.add(q * w * kc + p * w);
                let x0 = q * w;
                if FETCH {
                    for t in terms {
                        let ahead = t.ptr.wrapping_add(x0 + (p + FETCH_STEPS_AHEAD) * t.ps);
                        for x in (0..width).step_by(16) {
                            prefetch_line(ahead.wrapping_add(x));
                        }
                    }
                }
                match terms {
                    [t] if t.coef == 1.0 => copy_line(t.ptr.add(x0 + p * t.ps), d, width),
                    [t0, t1] => {
                        let (s0, s1) = (t0.ptr.add(x0 + p * t0.ps), t1.ptr.add(x0 + p * t1.ps));
                        for x in 0..width {
                            *d.add(x) = t0.coef * *s0.add(x) + t1.coef * *s1.add(x);
                        }
                    }
                    _ => {
                        for x in 0..width {
                            *d.add(x) = terms
                                .iter()
                                .map(|t| t.coef * *t.ptr.add(x0 + x + p * t.ps))
                                .sum::<f32>();
                        }
                    }
                }
                for x in width..w {
                    *d.add(x) = 0.0;
                }
            }
        }
    }
}

/// Requests the cache line holding `p` (no effect where the ISA has no prefetch here).
#[inline(always)]
fn prefetch_line(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, whatever the address.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Copies `width` floats from `src` to `dst`: the microkernels' panel widths as fixed-size
/// copies, which compile to a few vector moves inline (see [`compiled_for`]).
///
/// # Safety
/// `src` is readable and `dst` writable for `width` floats; they do not overlap.
#[inline(always)]
unsafe fn copy_line(src: *const f32, dst: *mut f32, width: usize) {
    /// One fixed-size copy of `N` floats.
    #[inline(always)]
    unsafe fn fixed<const N: usize>(src: *const f32, dst: *mut f32) {
        // SAFETY: `copy_line`'s contract with `width = N`.
        unsafe {
            dst.cast::<[f32; N]>()
                .write_unaligned(src.cast::<[f32; N]>().read_unaligned())
        }
    }
    // SAFETY: the caller's contract, for `width` floats in every arm.
    unsafe {
        match width {
            32 => fixed::<32>(src, dst),
            16 => fixed::<16>(src, dst),
            12 => fixed::<12>(src, dst),
            8 => fixed::<8>(src, dst),
            6 => fixed::<6>(src, dst),
            _ => std::ptr::copy_nonoverlapping(src, dst, width),
        }
    }
}

/// [`pack`] for a block of B (`w` = NR): rows of B contiguous along the width are packed
/// k step by k step ([`pack_by_steps`]), other layouts panel by panel. Measured on Zen 4,
/// one thread, in one process against panel-by-panel: 256×1024·1024 (m×k·k×n) +5.7%,
/// 256×784·784×1024 +5%, 512×1024·1024 +3%, 1024³ +1.4%, mp at 2048 +1.8%. For A blocks
/// (`w` = MR, a column-major A) it measured 1–2% slower, so A keeps [`pack`].
///
/// With `fetch` (B from memory rather than cache, see `driver::packing_fetches_b`), each
/// step requests the source lines of the step four rows on: every row of a block is a new
/// page (or two terms' rows are, for `mp`'s sums), where the hardware prefetchers start over.
///
/// # Safety
/// As [`pack`].
pub unsafe fn pack_b(
    out: &mut [f32],
    terms: &[Term],
    (w, len, kc): (usize, usize, usize),
    simd: bool,
    fetch: bool,
) {
    if !terms.iter().all(|t| t.xs == 1) {
        // SAFETY: the caller's contract.
        return unsafe { pack(out, terms, w, len, kc, simd) };
    }
    assert!(
        out.len() >= len.div_ceil(w) * w * kc,
        "packing buffer too small"
    );
    let out = out.as_mut_ptr();
    // SAFETY: `out` holds every panel (checked above); terms and `simd` per the caller's
    // contract.
    // (One closure per variant, each inlined into the AVX function: a closure holding both
    // was compiled apart, without AVX, its line copies calls to `memcpy`.)
    unsafe {
        if fetch {
            compiled_for(
                simd,
                #[inline(always)]
                || pack_by_steps::<true>(out, terms, w, len, kc),
            )
        } else {
            compiled_for(
                simd,
                #[inline(always)]
                || pack_by_steps::<false>(out, terms, w, len, kc),
            )
        }
    };
}

/// Packs the leading lines of a panel with the AVX transposing packer when every term is
/// contiguous along k; returns how many lines it packed (0 when it does not apply).
///
/// # Safety
/// As [`pack`], for one panel; `simd` only when the host has AVX.
#[inline(always)]
#[allow(unused_variables)]
unsafe fn transposed_lines(
    panel: *mut f32,
    terms: &[Term],
    x0: usize,
    w: usize,
    width: usize,
    kc: usize,
    simd: bool,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    if simd
        && kc >= 8
        && width >= 4
        && terms.len() <= 4
        && terms.iter().all(|t| t.ps == 1 && t.xs != 1)
    {
        let moved: [Term; 4] = std::array::from_fn(|i| terms.get(i).unwrap_or(&terms[0]).at(x0, 0));
        // SAFETY: the caller checked AVX (`simd`); panel and terms per `pack`'s contract.
        return unsafe { super::transpose::pack_lines(panel, &moved[..terms.len()], w, width, kc) };
    }
    0
}

/// One plain term: picks the loop order that reads the source contiguously.
///
/// # Safety
/// As [`pack`], for one panel.
#[inline(always)]
unsafe fn copy_panel(panel: *mut f32, t: Term, w: usize, width: usize, kc: usize) {
    // SAFETY: indices stay below `width` and `kc`, inside source and panel.
    unsafe {
        if t.xs == 1 {
            // Contiguous along the width: one short line copy per k step.
            for p in 0..kc {
                copy_line(t.ptr.add(p * t.ps), panel.add(p * w), width);
            }
        } else if t.ps == 1 {
            // Contiguous along k: walk each source line, scatter with stride w.
            for x in 0..width {
                let src = t.ptr.add(x * t.xs);
                for p in 0..kc {
                    *panel.add(p * w + x) = *src.add(p);
                }
            }
        } else {
            for p in 0..kc {
                for x in 0..width {
                    *panel.add(p * w + x) = *t.ptr.add(x * t.xs + p * t.ps);
                }
            }
        }
    }
}

/// A signed sum of terms (fused Strassen operand additions).
///
/// # Safety
/// As [`pack`], for one panel.
#[inline(always)]
unsafe fn sum_panel(panel: *mut f32, terms: &[Term], x0: usize, w: usize, width: usize, kc: usize) {
    // SAFETY: indices stay below `width` and `kc`, inside sources and panel.
    unsafe {
        // Two terms contiguous along the width (Strassen's B sums): one fused pass.
        if let [t0, t1] = terms
            && t0.xs == 1
            && t1.xs == 1
        {
            let (t0, t1) = (t0.at(x0, 0), t1.at(x0, 0));
            for p in 0..kc {
                let (s0, s1) = (t0.ptr.add(p * t0.ps), t1.ptr.add(p * t1.ps));
                let d = panel.add(p * w);
                for x in 0..width {
                    *d.add(x) = t0.coef * *s0.add(x) + t1.coef * *s1.add(x);
                }
            }
            return;
        }
        for (n, t) in terms.iter().enumerate() {
            let t = t.at(x0, 0);
            let c = t.coef;
            if t.ps == 1 {
                for x in 0..width {
                    let src = t.ptr.add(x * t.xs);
                    for p in 0..kc {
                        let d = panel.add(p * w + x);
                        *d = if n == 0 {
                            c * *src.add(p)
                        } else {
                            *d + c * *src.add(p)
                        };
                    }
                }
            } else {
                for p in 0..kc {
                    let src = t.ptr.add(p * t.ps);
                    let d = panel.add(p * w);
                    for x in 0..width {
                        let v = c * *src.add(x * t.xs);
                        *d.add(x) = if n == 0 { v } else { *d.add(x) + v };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_panels_with_padding_and_sums() {
        // 5×3 row-major block, width 2 panels: 3 panels, the last padded.
        let m: Vec<f32> = (0..15).map(|v| v as f32).collect();
        let t = Term {
            ptr: m.as_ptr(),
            xs: 3,
            ps: 1,
            coef: 1.0,
        };
        let mut out = vec![f32::NAN; 3 * 2 * 3];
        // SAFETY: `m` holds the 5×3 block; `out` holds 3 panels of 2×3.
        unsafe { pack(&mut out, &[t], 2, 5, 3, false) };
        assert_eq!(&out[..6], &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert_eq!(&out[12..], &[12.0, 0.0, 13.0, 0.0, 14.0, 0.0]);
        let neg = Term { coef: -2.0, ..t };
        // SAFETY: as above.
        unsafe { pack(&mut out, &[t, neg], 2, 5, 3, false) };
        assert_eq!(&out[..6], &[0.0, -3.0, -1.0, -4.0, -2.0, -5.0]);
    }
}
#[cfg(test)]
mod by_steps_tests {
    use super::*;

    /// `pack_b`'s step-by-step order packs exactly what the panel-by-panel order packs, for
    /// one plain term, scaled and summed terms, and a ragged last panel, with and without
    /// requesting source lines ahead (whose addresses run past the block).
    #[test]
    fn pack_b_matches_pack() {
        let (rows, ld) = (37, 83);
        let m: Vec<f32> = (0..rows * ld)
            .map(|v| ((v * 31) % 101) as f32 - 50.0)
            .collect();
        let t = |off: usize, coef: f32| Term {
            ptr: m[off..].as_ptr(),
            xs: 1,
            ps: ld,
            coef,
        };
        let sets: [&[Term]; 4] = [
            &[t(0, 1.0)],
            &[t(3, -2.0)],
            &[t(0, 1.0), t(5, -1.0)],
            &[t(0, 1.0), t(1, 0.5), t(2, -1.0)],
        ];
        for (terms, fetch) in sets.into_iter().flat_map(|t| [(t, false), (t, true)]) {
            for (w, len) in [(32usize, 64usize), (32, 70), (16, 5), (12, 77)] {
                let size = len.div_ceil(w) * w * rows;
                let (mut a, mut b) = (vec![f32::NAN; size], vec![f32::NAN; size]);
                // SAFETY: every term reads `len` floats of each of `rows` lines `ld` apart,
                // inside `m` (offset ≤ 5, len ≤ 77 < ld - 5).
                unsafe {
                    pack(&mut a, terms, w, len, rows, false);
                    pack_b(&mut b, terms, (w, len, rows), false, fetch);
                }
                assert_eq!(a, b, "terms {} w {w} len {len}", terms.len());
            }
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod simd_tests {
    use super::*;

    #[test]
    fn transposing_packer_matches_scalar() {
        if !crate::packed::transpose::available() {
            return;
        }
        let (rows, cols, ld) = (29, 45, 47);
        let m: Vec<f32> = (0..rows * ld).map(|v| (v % 97) as f32).collect();
        let t = Term {
            ptr: m.as_ptr(),
            xs: ld,
            ps: 1,
            coef: 1.0,
        };
        let t2 = Term {
            ptr: m[1..].as_ptr(),
            coef: -1.0,
            ..t
        };
        for w in [4, 6, 8, 12, 14, 16] {
            for terms in [&[t][..], &[t, t2][..]] {
                let size = rows.div_ceil(w) * w * (cols - 1);
                let (mut a, mut b) = (vec![f32::NAN; size], vec![f32::NAN; size]);
                // SAFETY: `m` holds rows×(cols-1) elements at stride ld for both terms.
                unsafe {
                    pack(&mut a, terms, w, rows, cols - 1, false);
                    pack(&mut b, terms, w, rows, cols - 1, true);
                }
                assert_eq!(a, b, "w={w} terms={}", terms.len());
            }
        }
    }
}
