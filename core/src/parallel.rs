//! Element-wise work split across the kernels' threads: large element-wise passes (the SGD
//! update, relu, same-shape binary ops) run in one chunk per thread when the environment
//! allows kernel threads (`POOLGRAD_PAR`, `POOLGRAD_THREADS`), so a two-thread training
//! step does not leave a core idle between matmuls. Small passes stay on the calling
//! thread, where a fork/join would cost more than it saves.

use poolgrad_kernels::with_wide_vectors;

/// Fewest elements for which a pass is split (64 Ki floats = 256 KiB: about 20 µs of
/// memory traffic on one core, several times a fork/join).
pub(crate) const PAR_MIN_ELEMS: usize = 1 << 16;

/// Threads element-wise passes may use: the kernels' setting, or 1 where the environment
/// is invalid (that error is reported by the first matmul, which needs the settings).
fn threads() -> usize {
    poolgrad_kernels::settings().map_or(1, |s| s.par().threads())
}

/// Calls `f(offset, chunk)` over `out` cut into contiguous chunks (`offset` is the index of
/// the chunk's first element), one chunk per thread when `out` is large, else once; each
/// call compiled for wide vectors ([`with_wide_vectors`]).
pub(crate) fn for_chunks(out: &mut [f32], f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    // The length first: reading the settings costs more than a tiny op's arithmetic.
    let threads = if out.len() < PAR_MIN_ELEMS {
        1
    } else {
        threads()
    };
    // Each chunk's loop runs compiled for the host's wide vectors (bit-identical results;
    // tiny chunks skip the ISA lookup).
    if threads <= 1 {
        with_wide_vectors(
            out.len(),
            #[inline(always)]
            || f(0, out),
        );
        return;
    }
    // Chunks a multiple of 16 floats (one cache line) so threads never share a line; the
    // caller works on the first while the helpers wake (see `poolgrad_kernels::run_parts`).
    let chunk = out.len().div_ceil(threads).div_ceil(16) * 16;
    poolgrad_kernels::run_chunks(threads, out, chunk, |i, c| {
        with_wide_vectors(
            c.len(),
            #[inline(always)]
            || f(i * chunk, c),
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_element_once_with_their_offsets() {
        for len in [
            0,
            5,
            PAR_MIN_ELEMS - 1,
            PAR_MIN_ELEMS + 37,
            3 * PAR_MIN_ELEMS,
        ] {
            let mut out = vec![-1.0f32; len];
            for_chunks(&mut out, |off, c| {
                for (i, x) in c.iter_mut().enumerate() {
                    assert_eq!(*x, -1.0, "element {} written twice", off + i);
                    *x = (off + i) as f32;
                }
            });
            assert!(
                out.iter().enumerate().all(|(i, &x)| x == i as f32),
                "len {len}"
            );
        }
    }
}
