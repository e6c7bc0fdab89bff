//! AVX transposing packer for the common hard case: a panel whose source is contiguous
//! along k (row-major A, column-major B), where the scalar copy does one strided store per
//! float. Eight source lines × eight k steps are loaded, transposed in registers and stored
//! as eight contiguous runs; a four-line group uses 128-bit transposes. Signed sums of
//! several such terms (fused Strassen operands) are added in registers.

#![cfg(target_arch = "x86_64")]

use super::pack::Term;
use std::arch::x86_64::*;

/// True when the transposing packer can run on this host.
pub fn available() -> bool {
    is_x86_feature_detected!("avx")
}

/// Packs one panel (`width ≤ w` lines, `kc` steps) from terms that all have `ps == 1`;
/// returns how many leading lines it packed (a multiple of 4; the caller packs the rest).
///
/// # Safety
/// AVX is available (see [`available`]); `panel` holds `kc·w` floats; each term (already
/// moved to the panel's first line) addresses `width` lines of `kc` valid floats.
#[target_feature(enable = "avx")]
pub unsafe fn pack_lines(
    panel: *mut f32,
    terms: &[Term],
    w: usize,
    width: usize,
    kc: usize,
) -> usize {
    let k8 = kc / 8 * 8;
    let mut x0 = 0;
    // SAFETY: lines x0..x0+8 (or +4) are < width and steps p..p+8 are < kc, so loads stay
    // inside each term's block; stores go to panel[(p+j)·w + x0 ..+8] with x0+8 ≤ w.
    unsafe {
        while x0 + 8 <= width {
            for p in (0..k8).step_by(8) {
                let mut cols = [_mm256_setzero_ps(); 8];
                for (n, t) in terms.iter().enumerate() {
                    let src = t.ptr.add(x0 * t.xs + p);
                    let mut r = [_mm256_setzero_ps(); 8];
                    for (i, v) in r.iter_mut().enumerate() {
                        *v = _mm256_loadu_ps(src.add(i * t.xs));
                    }
                    let tr = transpose8(r);
                    let c = _mm256_set1_ps(t.coef);
                    for j in 0..8 {
                        cols[j] = if n == 0 && t.coef == 1.0 {
                            tr[j]
                        } else {
                            _mm256_add_ps(cols[j], _mm256_mul_ps(c, tr[j]))
                        };
                    }
                }
                for (j, col) in cols.iter().enumerate() {
                    _mm256_storeu_ps(panel.add((p + j) * w + x0), *col);
                }
            }
            x0 += 8;
        }
        while x0 + 4 <= width {
            for p in (0..k8).step_by(4) {
                let mut cols = [_mm_setzero_ps(); 4];
                for (n, t) in terms.iter().enumerate() {
                    let src = t.ptr.add(x0 * t.xs + p);
                    let mut r = [_mm_setzero_ps(); 4];
                    for (i, v) in r.iter_mut().enumerate() {
                        *v = _mm_loadu_ps(src.add(i * t.xs));
                    }
                    let tr = transpose4(r);
                    let c = _mm_set1_ps(t.coef);
                    for j in 0..4 {
                        cols[j] = if n == 0 && t.coef == 1.0 {
                            tr[j]
                        } else {
                            _mm_add_ps(cols[j], _mm_mul_ps(c, tr[j]))
                        };
                    }
                }
                for (j, col) in cols.iter().enumerate() {
                    _mm_storeu_ps(panel.add((p + j) * w + x0), *col);
                }
            }
            x0 += 4;
        }
        // The k tail (kc % 8 steps) of the lines done above, scalar.
        for p in k8..kc {
            for x in 0..x0 {
                let mut v = 0.0;
                for t in terms {
                    v += t.coef * *t.ptr.add(x * t.xs + p);
                }
                *panel.add(p * w + x) = v;
            }
        }
    }
    x0
}

/// 8×8 transpose: `out[j][i] = r[i][j]`.
#[inline]
#[target_feature(enable = "avx")]
fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    [
        _mm256_permute2f128_ps::<0x20>(s0, s4),
        _mm256_permute2f128_ps::<0x20>(s1, s5),
        _mm256_permute2f128_ps::<0x20>(s2, s6),
        _mm256_permute2f128_ps::<0x20>(s3, s7),
        _mm256_permute2f128_ps::<0x31>(s0, s4),
        _mm256_permute2f128_ps::<0x31>(s1, s5),
        _mm256_permute2f128_ps::<0x31>(s2, s6),
        _mm256_permute2f128_ps::<0x31>(s3, s7),
    ]
}

/// 4×4 transpose: `out[j][i] = r[i][j]`.
#[inline]
#[target_feature(enable = "avx")]
fn transpose4(r: [__m128; 4]) -> [__m128; 4] {
    let t0 = _mm_unpacklo_ps(r[0], r[1]);
    let t1 = _mm_unpackhi_ps(r[0], r[1]);
    let t2 = _mm_unpacklo_ps(r[2], r[3]);
    let t3 = _mm_unpackhi_ps(r[2], r[3]);
    [
        _mm_movelh_ps(t0, t2),
        _mm_movehl_ps(t2, t0),
        _mm_movelh_ps(t1, t3),
        _mm_movehl_ps(t3, t1),
    ]
}
