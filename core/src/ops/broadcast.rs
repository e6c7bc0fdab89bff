//! NumPy broadcasting for the element-wise binary ops (add, sub, mul): the output shape,
//! a walk over output rows with each operand's offsets, and the reduction that sums a
//! gradient back over the axes an operand was broadcast along.
//!
//! Shapes are right-aligned; on each axis the dims must be equal or one of them 1. An
//! operand's stride on an axis it is broadcast along is 0, so one walk serves all cases.

use crate::error::{CoreError, Result};
use crate::ops::write;
use crate::parallel::for_chunks;
use crate::tensor::{MAX_RANK, Shape, Tensor};
use poolgrad_kernels::{Accum, with_wide_vectors};

/// The broadcast shape of `a` and `b`.
///
/// # Errors
/// [`CoreError::Broadcast`] naming the first mismatching axis (counted from the right).
pub(crate) fn broadcast_shape(op: &'static str, a: Shape, b: Shape) -> Result<Shape> {
    if a == b {
        return Ok(a);
    }
    let rank = a.rank().max(b.rank());
    let mut dims = [0usize; MAX_RANK];
    for axis in 0..rank {
        let da = dim_from_right(a, axis);
        let db = dim_from_right(b, axis);
        dims[rank - 1 - axis] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(CoreError::Broadcast {
                    op,
                    lhs: a.into(),
                    rhs: b.into(),
                    axis,
                });
            }
        };
    }
    Shape::checked(op, &dims[..rank])
}

fn dim_from_right(s: Shape, axis: usize) -> usize {
    let r = s.rank();
    if axis < r { s.dims()[r - 1 - axis] } else { 1 }
}

/// Element strides of `s` (row-major) laid over `out`'s axes, 0 where `s` is broadcast.
fn aligned_strides(s: Shape, out: Shape) -> [usize; MAX_RANK] {
    let mut strides = [0usize; MAX_RANK];
    let (r, ro) = (s.rank(), out.rank());
    let mut stride = 1;
    for axis in 0..r {
        let d = s.dims()[r - 1 - axis];
        if d != 1 {
            strides[ro - 1 - axis] = stride;
        }
        stride *= d;
    }
    strides
}

/// A walk over the rows (last axis) of an output shape with two operands' offsets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Walk {
    out: Shape,
    sa: [usize; MAX_RANK],
    sb: [usize; MAX_RANK],
}

impl Walk {
    pub(crate) fn new(out: Shape, a: Shape, b: Shape) -> Walk {
        Walk {
            out,
            sa: aligned_strides(a, out),
            sb: aligned_strides(b, out),
        }
    }

    /// Length of a row and the operands' strides along it (each 0 or 1).
    pub(crate) fn inner(&self) -> (usize, usize, usize) {
        match self.out.rank() {
            0 => (1, 0, 0),
            r => (self.out.dims()[r - 1], self.sa[r - 1], self.sb[r - 1]),
        }
    }

    /// Calls `f(out_offset, a_offset, b_offset)` at the start of every row, in order (always
    /// inlined, so the row loops compile with the caller's wide vectors).
    #[inline(always)]
    pub(crate) fn rows(&self, mut f: impl FnMut(usize, usize, usize)) {
        let rank = self.out.rank();
        if rank <= 1 {
            f(0, 0, 0);
            return;
        }
        let outer = &self.out.dims()[..rank - 1];
        let n = self.out.dims()[rank - 1];
        if outer.contains(&0) || n == 0 {
            return;
        }
        let mut idx = [0usize; MAX_RANK];
        let (mut oa, mut ob, mut oo) = (0usize, 0usize, 0usize);
        loop {
            f(oo, oa, ob);
            oo += n;
            // Odometer increment over the outer axes, updating offsets incrementally.
            let mut axis = rank - 1;
            loop {
                if axis == 0 {
                    return;
                }
                axis -= 1;
                idx[axis] += 1;
                oa += self.sa[axis];
                ob += self.sb[axis];
                if idx[axis] < outer[axis] {
                    break;
                }
                oa -= self.sa[axis] * idx[axis];
                ob -= self.sb[axis] * idx[axis];
                idx[axis] = 0;
            }
        }
    }
}

/// Whether `s`, leading 1s dropped, is the trailing part of `out` (so an operand of shape
/// `s` repeats with period `s.numel()` over `out`).
fn is_suffix(s: Shape, out: Shape) -> bool {
    let dims = s.dims();
    let lead = dims.iter().take_while(|&&d| d == 1).count();
    let tail = &dims[lead..];
    out.dims().ends_with(tail)
}

/// `out[i] = f(a[.], b[.])` over the broadcast shape of `a` and `b` (split across the
/// kernels' threads when the shapes are equal or `b` broadcasts along leading axes only).
pub(crate) fn map2(
    out: &mut [f32],
    out_shape: Shape,
    a: &Tensor,
    b: &Tensor,
    f: impl Fn(f32, f32) -> f32 + Sync + Send,
) {
    let (ad, bd) = (a.data(), b.data());
    if a.shape_info() == b.shape_info() {
        for_chunks(
            out,
            #[inline(always)]
            |off, out| {
                for ((o, &x), &y) in out.iter_mut().zip(&ad[off..]).zip(&bd[off..]) {
                    *o = f(x, y);
                }
            },
        );
        return;
    }
    if a.shape_info() == out_shape && is_suffix(b.shape_info(), out_shape) && !bd.is_empty() {
        // `[.., n] + [n]` (a bias on every row): b repeats every `bd.len()` elements.
        let period = bd.len();
        for_chunks(
            out,
            #[inline(always)]
            |off, out| {
                let mut done = 0;
                while done < out.len() {
                    let at = (off + done) % period;
                    let len = (period - at).min(out.len() - done);
                    let (o, x) = (&mut out[done..done + len], &ad[off + done..]);
                    for ((o, &x), &y) in o.iter_mut().zip(x).zip(&bd[at..at + len]) {
                        *o = f(x, y);
                    }
                    done += len;
                }
            },
        );
        return;
    }
    let walk = Walk::new(out_shape, a.shape_info(), b.shape_info());
    let (n, sa, sb) = walk.inner();
    with_wide_vectors(
        out.len(),
        #[inline(always)]
        || {
            walk.rows(
                #[inline(always)]
                |oo, oa, ob| {
                    let o = &mut out[oo..oo + n];
                    match (sa, sb) {
                        (1, 1) => {
                            for ((o, &x), &y) in
                                o.iter_mut().zip(&ad[oa..oa + n]).zip(&bd[ob..ob + n])
                            {
                                *o = f(x, y);
                            }
                        }
                        (1, 0) => {
                            let y = bd[ob];
                            for (o, &x) in o.iter_mut().zip(&ad[oa..oa + n]) {
                                *o = f(x, y);
                            }
                        }
                        (0, 1) => {
                            let x = ad[oa];
                            for (o, &y) in o.iter_mut().zip(&bd[ob..ob + n]) {
                                *o = f(x, y);
                            }
                        }
                        _ => o.fill(f(ad[oa], bd[ob])),
                    }
                },
            )
        },
    );
}

/// `gx[.] += coef · gout[i] · other[.]` (or `coef · gout[i]` without `other`), summed over
/// the axes along which `x` was broadcast to `out_shape`; with [`Accum::Replace`], `gx`
/// is overwritten instead.
pub(crate) fn accumulate(
    gx: &mut [f32],
    accum: Accum,
    x_shape: Shape,
    out_shape: Shape,
    gout: &[f32],
    other: Option<&Tensor>,
    coef: f32,
) {
    let same = x_shape == out_shape;
    match other {
        None if same => with_wide_vectors(gx.len(), || {
            write(gx, accum, gout.iter().map(|&go| coef * go))
        }),
        Some(o) if same && o.shape_info() == out_shape => with_wide_vectors(gx.len(), || {
            write(
                gx,
                accum,
                gout.iter().zip(o.data()).map(|(&go, &y)| coef * go * y),
            )
        }),
        _ => {
            if accum == Accum::Replace {
                gx.fill(0.0);
            }
            let o_shape = other.map_or(out_shape, |o| o.shape_info());
            let od = other.map(|o| o.data());
            let walk = Walk::new(out_shape, x_shape, o_shape);
            let (n, sx, so) = walk.inner();
            with_wide_vectors(
                gout.len(),
                #[inline(always)]
                || {
                    walk.rows(
                        #[inline(always)]
                        |oo, ox, oy| {
                            let go = &gout[oo..oo + n];
                            match (sx, od) {
                                (1, None) => {
                                    for (g, &go) in gx[ox..ox + n].iter_mut().zip(go) {
                                        *g += coef * go;
                                    }
                                }
                                (0, None) => gx[ox] += coef * go.iter().sum::<f32>(),
                                (1, Some(od)) => {
                                    for (j, (g, &go)) in
                                        gx[ox..ox + n].iter_mut().zip(go).enumerate()
                                    {
                                        *g += coef * go * od[oy + j * so];
                                    }
                                }
                                (_, Some(od)) => {
                                    let mut s = 0.0;
                                    for (j, &go) in go.iter().enumerate() {
                                        s += go * od[oy + j * so];
                                    }
                                    gx[ox] += coef * s;
                                }
                                _ => unreachable!("inner strides are 0 or 1"),
                            }
                        },
                    )
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(d: &[usize]) -> Shape {
        Shape::new(d).unwrap()
    }

    #[test]
    fn shapes_follow_numpy() {
        assert_eq!(
            broadcast_shape("t", s(&[2, 3]), s(&[3])).unwrap(),
            s(&[2, 3])
        );
        assert_eq!(
            broadcast_shape("t", s(&[4, 1, 3]), s(&[2, 1])).unwrap(),
            s(&[4, 2, 3])
        );
        assert_eq!(
            broadcast_shape("t", s(&[]), s(&[2, 2])).unwrap(),
            s(&[2, 2])
        );
        let e = broadcast_shape("add", s(&[2, 3]), s(&[2])).unwrap_err();
        assert!(matches!(e, CoreError::Broadcast { axis: 0, .. }), "{e}");
        assert!(e.to_string().contains("[2, 3]") && e.to_string().contains("add"));
    }

    /// `map2` against an element-by-element reference over every broadcast path,
    /// including large outputs split across threads at chunk edges that do not line up
    /// with the rows of the repeated operand.
    #[test]
    fn map2_matches_a_reference_on_every_path() {
        let cases: [(&[usize], &[usize]); 7] = [
            (&[3, 4, 5], &[4, 5]),
            (&[3, 4, 5], &[1, 5]),
            (&[3, 4, 5], &[5]),
            (&[3, 4, 5], &[]),
            (&[3, 4, 5], &[3, 1, 5]),
            (&[300, 997], &[997]),
            (&[300, 997], &[300, 997]),
        ];
        for (ad, bd) in cases {
            let a = Tensor::randn(ad, 1).unwrap();
            let b = Tensor::randn(bd, 2).unwrap();
            let shape = broadcast_shape("t", a.shape_info(), b.shape_info()).unwrap();
            let mut out = vec![f32::NAN; shape.numel()];
            map2(&mut out, shape, &a, &b, |x, y| x - 2.0 * y);
            let (na, nb) = (a.data().len(), b.data().len());
            for (i, &o) in out.iter().enumerate() {
                // Every case above repeats a (when smaller) with period na and b with nb,
                // except the [3, 1, 5] operand, whose element is (i / 20, i % 5).
                let y = if bd == [3, 1, 5] {
                    b.data()[i / 20 * 5 + i % 5]
                } else {
                    b.data()[i % nb]
                };
                let want = a.data()[i % na] - 2.0 * y;
                assert_eq!(o, want, "a {ad:?} b {bd:?} element {i}");
            }
        }
    }

    #[test]
    fn map2_and_accumulate_agree_with_loops() {
        let a = Tensor::from_vec((0..6).map(|x| x as f32).collect(), &[2, 1, 3]).unwrap();
        let b = Tensor::from_vec(vec![10.0, 20.0], &[2, 1]).unwrap();
        let out_shape = broadcast_shape("t", a.shape_info(), b.shape_info()).unwrap();
        assert_eq!(out_shape, s(&[2, 2, 3]));
        let mut out = vec![0.0; 12];
        map2(&mut out, out_shape, &a, &b, |x, y| x + y);
        for i in 0..2 {
            for j in 0..2 {
                for k in 0..3 {
                    let want = (i * 3 + k) as f32 + [10.0, 20.0][j];
                    assert_eq!(out[i * 6 + j * 3 + k], want);
                }
            }
        }
        // Sum of ones over the axes b was broadcast along: each b element collects 6.
        let mut gb = vec![0.0; 2];
        accumulate(
            &mut gb,
            Accum::Add,
            b.shape_info(),
            out_shape,
            &[1.0; 12],
            None,
            1.0,
        );
        assert_eq!(gb, vec![6.0, 6.0]);
        let mut ga = vec![0.0; 6];
        accumulate(
            &mut ga,
            Accum::Add,
            a.shape_info(),
            out_shape,
            &[1.0; 12],
            Some(&b),
            1.0,
        );
        assert_eq!(ga, vec![30.0; 6]);
    }
}
