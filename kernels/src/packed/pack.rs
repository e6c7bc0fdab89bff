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
    /// The same term moved by `x` along the width and `p` along k.
    ///
    /// # Safety
    /// The moved pointer stays inside (or one past) the allocation of the view.
    #[inline]
    pub unsafe fn at(self, x: usize, p: usize) -> Term {
        Term {
            // SAFETY: the caller keeps the offset inside the viewed allocation.
            ptr: unsafe { self.ptr.add(x * self.xs + p * self.ps) },
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
pub unsafe fn pack(out: &mut [f32], terms: &[Term], w: usize, len: usize, kc: usize) {
    debug_assert!(out.len() >= len.div_ceil(w) * w * kc);
    let out = out.as_mut_ptr();
    for (q, x0) in (0..len).step_by(w).enumerate() {
        let width = w.min(len - x0);
        // SAFETY: the panel lies inside `out` (size checked above); sources are valid for
        // `x < len, p < kc` by the caller's contract.
        unsafe {
            let panel = out.add(q * w * kc);
            match terms {
                [t] if t.coef == 1.0 => copy_panel(panel, t.at(x0, 0), w, width, kc),
                _ => sum_panel(panel, terms, x0, w, width, kc),
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

/// One plain term: picks the loop order that reads the source contiguously.
///
/// # Safety
/// As [`pack`], for one panel.
#[inline(always)]
unsafe fn copy_panel(panel: *mut f32, t: Term, w: usize, width: usize, kc: usize) {
    // SAFETY: indices stay below `width` and `kc`, inside source and panel.
    unsafe {
        if t.xs == 1 {
            // Contiguous along the width: one short memcpy per k step.
            for p in 0..kc {
                std::ptr::copy_nonoverlapping(t.ptr.add(p * t.ps), panel.add(p * w), width);
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
        unsafe { pack(&mut out, &[t], 2, 5, 3) };
        assert_eq!(&out[..6], &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert_eq!(&out[12..], &[12.0, 0.0, 13.0, 0.0, 14.0, 0.0]);
        let neg = Term { coef: -2.0, ..t };
        // SAFETY: as above.
        unsafe { pack(&mut out, &[t, neg], 2, 5, 3) };
        assert_eq!(&out[..6], &[0.0, -3.0, -1.0, -4.0, -2.0, -5.0]);
    }
}
