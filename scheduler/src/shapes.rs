//! The default shape set and the `MxNxK[:abc]` shape syntax.

use poolgrad_kernels::{Layout, Problem};

/// A problem with explicit layouts.
fn with(m: usize, n: usize, k: usize, a: Layout, b: Layout) -> Problem {
    Problem {
        a,
        b,
        ..Problem::new(m, n, k)
    }
}

/// The three products of one dense layer `Y (batch×out) = X (batch×in) · W (in×out)`:
/// forward `X·W`, weight gradient `dW = Xᵀ·dY` (A column-major) and input gradient
/// `dX = dY·Wᵀ` (B column-major).
pub fn layer_products(batch: usize, inputs: usize, outputs: usize) -> [Problem; 3] {
    use Layout::{ColMajor as C, RowMajor as R};
    [
        with(batch, outputs, inputs, R, R),
        with(inputs, outputs, batch, C, R),
        with(batch, inputs, outputs, R, C),
    ]
}

/// What the report and the training examples run, calibrated at startup in `quick`/`full`
/// mode and by `poolgrad autotune` without arguments:
/// - square row-major 32, 64, 128, 256, 512 (1024 is left to first use: one run of it
///   costs more than the whole startup budget on slow kernels);
/// - every product of the MLPs 784→256→10 at batch 64 and 784→1024→1024→10 at batch 256
///   (forward, weight gradient, input gradient per layer).
///
/// Shapes that share a bucket appear once.
pub fn default_shapes() -> Vec<Problem> {
    let mut shapes: Vec<Problem> = [32, 64, 128, 256, 512]
        .iter()
        .map(|&n| Problem::new(n, n, n))
        .collect();
    for (batch, widths) in [(64, &[784, 256, 10][..]), (256, &[784, 1024, 1024, 10][..])] {
        for pair in widths.windows(2) {
            shapes.extend(layer_products(batch, pair[0], pair[1]));
        }
    }
    let mut seen = Vec::new();
    shapes.retain(|p| {
        let key = crate::ShapeKey::of(p, 1);
        let new = !seen.contains(&key);
        seen.push(key);
        new
    });
    shapes
}

/// Largest dimension `parse_shape` accepts (three 8192² f32 operands are 768 MiB).
pub const MAX_DIM: usize = 8192;

/// Parses `MxNxK` (row-major operands) or `MxNxK:abc` where `a`, `b`, `c` are each `r`
/// (row-major), `c` (column-major, e.g. a transposed operand) or `s` (strided), e.g.
/// `784x256x64:crr` for `Xᵀ·dY`.
///
/// # Errors
/// A message naming the bad part and the accepted syntax.
pub fn parse_shape(s: &str) -> Result<Problem, String> {
    let syntax = "expected MxNxK or MxNxK:abc with M, N, K integers from 1 to 8192 and \
                  a, b, c each r (row-major), c (column-major) or s (strided), e.g. 64x256x784 \
                  or 784x256x64:crr";
    let (dims, layouts) = match s.trim().split_once(':') {
        Some((d, l)) => (d, Some(l)),
        None => (s.trim(), None),
    };
    let dims: Vec<&str> = dims.split(['x', 'X']).collect();
    let [m, n, k] = dims[..] else {
        return Err(format!("bad shape `{s}`: {syntax}"));
    };
    let dim = |d: &str| match d.parse::<usize>() {
        Ok(v) if (1..=MAX_DIM).contains(&v) => Ok(v),
        _ => Err(format!(
            "bad shape `{s}`: `{d}` is not a dimension; {syntax}"
        )),
    };
    let mut problem = Problem::new(dim(m)?, dim(n)?, dim(k)?);
    if let Some(codes) = layouts {
        let parsed: Vec<Layout> = codes
            .chars()
            .map(|c| match c {
                'r' => Ok(Layout::RowMajor),
                'c' => Ok(Layout::ColMajor),
                's' => Ok(Layout::Strided),
                _ => Err(format!("bad shape `{s}`: layout `{c}`; {syntax}")),
            })
            .collect::<Result<_, _>>()?;
        let [a, b, c] = parsed[..] else {
            return Err(format!(
                "bad shape `{s}`: `{codes}` is not three layouts; {syntax}"
            ));
        };
        (problem.a, problem.b, problem.c) = (a, b, c);
    }
    Ok(problem)
}

/// `MxNxK:abc`, the inverse of [`parse_shape`].
pub fn format_shape(p: &Problem) -> String {
    format!(
        "{}x{}x{}:{}",
        p.m,
        p.n,
        p.k,
        crate::calibrate::layout_codes(p)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let p = parse_shape("784x256x64:crr").unwrap();
        assert_eq!((p.m, p.n, p.k, p.a), (784, 256, 64, Layout::ColMajor));
        assert_eq!(parse_shape(&format_shape(&p)).unwrap(), p);
        assert_eq!(parse_shape("2x3x4").unwrap(), Problem::new(2, 3, 4));
        for bad in [
            "12x3",
            "0x-1x2",
            "0x1x2",
            "1x2x3x4",
            "axbxc",
            "",
            "1x2x3:rr",
            "1x2x3:rrq",
            "9000x1x1",
        ] {
            assert!(parse_shape(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn default_set_has_the_mlp_products_once() {
        let shapes = default_shapes();
        assert!(shapes.contains(&Problem::new(64, 256, 784)));
        assert!(shapes.contains(&parse_shape("784x1024x256:crr").unwrap()));
        assert!(shapes.contains(&parse_shape("256x1024x1024:rcr").unwrap()));
        let keys: Vec<_> = shapes.iter().map(|p| crate::ShapeKey::of(p, 1)).collect();
        for (i, k) in keys.iter().enumerate() {
            assert!(!keys[i + 1..].contains(k), "duplicate bucket {k:?}");
        }
    }
}
