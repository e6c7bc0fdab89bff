//! `plugins.small`: matmul for small and skinny problems, where packing A and B panels
//! costs more than it saves.
//!
//! No packing and no scratch memory: C is walked in tiles of `R` rows × `W` columns whose
//! accumulators stay in registers for the whole k loop. Each step of that loop broadcasts
//! `R` scalars of A and multiplies them into one contiguous `W`-wide chunk of a row of B,
//! so B must have unit column stride (row-major, possibly padded) — `supports` says so.
//! The tile body is generic (`const RR, W`) and instantiated once per ISA inside a
//! `#[target_feature]` wrapper (AVX-512F and AVX2: 2×16 tiles; portable: 4×8 on x86_64
//! (SSE2) and aarch64 (NEON)); the compiler vectorises the fixed-width chunks.
//! Ragged edges use the same body with narrower tiles, so there is no remainder copy.
//!
//! Where it wins, GFLOP/s on the project's Zen 4 (AVX-512), against the SIMD `packed` of the
//! kernels rewrite (`cargo bench -p poolgrad-benches --bench kernels -- skinny`, 2 threads
//! allowed; one thread in parentheses, from a best-of-5 loop):
//!
//! | m×n×k          | plugins.small | packed      | tiled |
//! |----------------|---------------|-------------|-------|
//! | 8×8×8          | 12.7 (10.6)   | 3.1 (2.9)   | 0.6   |
//! | 16×16×16       | (34.8)        | (10.3)      | (3.6) |
//! | 32×32×32       | 47.5 (52.2)   | 47.0 (44.5) | 9.6   |
//! | 1×1024×1024    | 5.8 (6.6)     | 4.5 (5.0)   | 3.1   |
//! | 4×512×512      | 33.9 (31.6)   | 23.8 (22.6) | 9.8   |
//! | 512×8×512      | 12.7 (26.1)   | 11.8 (22.1) | 2.2   |
//!
//! It loses from 48³ up, on 1024²×4, 256²×16 and n = 10 (packed: 20–80), so `supports`
//! excludes those; it beats `tiled` everywhere it runs.
//!
//! Measured on this project's Zen 4 (rustc 1.95): wider tiles (4×16, 4×32) and `mul_add`
//! both stop LLVM's SLP vectoriser, which then emits scalar code (5-10× slower), so the
//! paths use a separate multiply and add on tiles of at most 32 accumulators.

use poolgrad_kernels::{Accum, Isa, Layout, MatMut, MatRef, MatmulKernel, Par, Problem, settings};

/// Rows × columns of C per register tile, per path.
const R: usize = 4;
#[cfg(target_arch = "x86_64")]
const AVX512_R: usize = 2;
#[cfg(target_arch = "x86_64")]
const AVX512_W: usize = 16;
#[cfg(target_arch = "x86_64")]
const AVX2_R: usize = 2;
#[cfg(target_arch = "x86_64")]
const AVX2_W: usize = 16;

/// Problems with fewer FLOPs than this stay on one thread.
const PAR_MIN_FLOPS: f64 = 4e6;

/// With every dimension at most this, `plugins.small` beats packing (measured: 35 vs 10
/// GFLOP/s at 16³, 52 vs 44 at 32³; packed wins from 48³ on).
const SMALL_CUBE: usize = 32;

/// With at most this many rows of C (GEMV-like), B is streamed once per row tile and
/// packing it cannot pay off (measured: 32 vs 22 GFLOP/s at 4×512×512).
const FEW_ROWS: usize = 4;

/// With at most this many columns of C, a single 8-wide tile covers every row (measured:
/// 37 vs 22 GFLOP/s at 512×8×512). Small k alone is not enough: packed wins 1024²×4.
const FEW_COLS: usize = 8;

/// The small/skinny kernel; see the module documentation.
#[derive(Clone, Copy, Debug, Default)]
pub struct SmallKernel {
    pinned: Option<Path>,
}

/// The code path chosen for this host (and `POOLGRAD_ISA`), decided once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    Portable,
}

/// The path for the environment's ISA (best of the host, capped by `POOLGRAD_ISA`).
fn env_path() -> Path {
    static PATH: std::sync::OnceLock<Path> = std::sync::OnceLock::new();
    *PATH.get_or_init(|| {
        // An invalid POOLGRAD_* environment is reported by the built-in kernels' `matmul`;
        // here it just means "assume nothing about the CPU".
        path_for(settings().map(|s| s.isa).unwrap_or(Isa::Scalar)).unwrap_or(Path::Portable)
    })
}

/// The path that runs `isa`, or `None` when this host cannot execute it.
fn path_for(isa: Isa) -> Option<Path> {
    if !isa.host_has() {
        return None;
    }
    Some(match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => Path::Avx512,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => Path::Avx2,
        _ => Path::Portable,
    })
}

impl SmallKernel {
    /// The registered kernel: the best path the environment allows (`POOLGRAD_ISA`).
    pub const fn new() -> SmallKernel {
        SmallKernel { pinned: None }
    }

    /// A kernel pinned to the code path for `isa` (tests, comparisons); `None` when this
    /// host cannot execute `isa`. `scalar` and `neon` both mean the portable build.
    pub fn with_isa(isa: Isa) -> Option<SmallKernel> {
        path_for(isa).map(|p| SmallKernel { pinned: Some(p) })
    }

    fn path(&self) -> Path {
        self.pinned.unwrap_or_else(env_path)
    }

    /// True when the problem is small or skinny enough that skipping packing pays:
    /// every dimension ≤ 32, or m ≤ 4, or n ≤ 8 (measured against `packed`, AVX-512).
    pub fn is_small(p: &Problem) -> bool {
        p.m.max(p.n).max(p.k) <= SMALL_CUBE || p.m <= FEW_ROWS || p.n <= FEW_COLS
    }
}

impl MatmulKernel for SmallKernel {
    fn name(&self) -> &'static str {
        "plugins.small"
    }

    fn description(&self) -> &'static str {
        "no packing: 4-row register tiles over contiguous rows of B; small or skinny shapes"
    }

    fn isa(&self) -> &'static str {
        match self.path() {
            #[cfg(target_arch = "x86_64")]
            Path::Avx512 => "avx512",
            #[cfg(target_arch = "x86_64")]
            Path::Avx2 => "avx2",
            Path::Portable if cfg!(target_arch = "aarch64") => "neon",
            Path::Portable => "scalar",
        }
    }

    /// B must be row-major (unit column stride; a single column counts) and the problem
    /// small or skinny (see [`SmallKernel::is_small`]).
    fn supports(&self, p: &Problem) -> bool {
        p.b == Layout::RowMajor && SmallKernel::is_small(p)
    }

    /// Measured on Zen 4, one core (`cargo bench -p poolgrad-benches --bench kernels --
    /// skinny`): about 50 GFLOP/s on full tiles with AVX-512, 45 with AVX2, 25 portable
    /// (SSE2) — or, when B does not stay in cache, the time to stream B once per tile of
    /// rows at about 30 GB/s, whichever is larger; plus a per-element cost for C and a
    /// per-call cost. Strided A costs extra.
    fn cost_hint(&self, p: &Problem) -> f64 {
        let rate = match self.path() {
            #[cfg(target_arch = "x86_64")]
            Path::Avx512 => 50e9,
            #[cfg(target_arch = "x86_64")]
            Path::Avx2 => 45e9,
            Path::Portable => 25e9,
        };
        let a_penalty = if p.a == Layout::RowMajor { 1.0 } else { 1.3 };
        let row_tiles = p.m.div_ceil(2) as f64;
        let b_stream = (p.k * p.n) as f64 * 4.0 * row_tiles / 30e9;
        (p.flops() / rate * a_penalty).max(b_stream) + (p.m * p.n) as f64 * 0.5e-9 + 5e-8
    }

    fn run(&self, a: MatRef<'_>, b: MatRef<'_>, c: MatMut<'_>, accum: Accum, par: Par) {
        debug_assert!(b.col_stride() == 1 || b.cols() <= 1);
        run_split(self.path(), a, b, c, accum, par.threads());
    }
}

poolgrad_kernels::register_kernel!(SmallKernel::new());

/// Splits C (by rows, or by columns when its rows interleave) across up to `threads`
/// rayon tasks while the pieces are worth it, then runs each piece serially.
fn run_split(
    path: Path,
    a: MatRef<'_>,
    b: MatRef<'_>,
    c: MatMut<'_>,
    accum: Accum,
    threads: usize,
) {
    let (m, n, k) = (c.rows(), c.cols(), a.cols());
    let flops = 2.0 * m as f64 * n as f64 * k as f64;
    if threads <= 1 || flops < PAR_MIN_FLOPS {
        return run_serial(path, a, b, c, accum);
    }
    let (t1, t2) = (threads / 2, threads - threads / 2);
    // A split needs the two halves of C to be disjoint slices: rows may be split when they
    // do not interleave in memory, columns likewise (a valid MatMut allows one or both).
    let interleaved =
        |stride: usize, other: usize, extent: usize| m > 1 && n > 1 && stride < extent * other;
    let rows_ok = !interleaved(c.row_stride(), c.col_stride(), n);
    let cols_ok = !interleaved(c.col_stride(), c.row_stride(), m);
    let row_half = (m / 2).next_multiple_of(R);
    let col_half = (n / 2).next_multiple_of(16);
    if rows_ok && row_half < m && (m >= n || !cols_ok || col_half >= n) {
        let (c1, c2) = c.split_rows(row_half).expect("rows do not interleave");
        let a1 = a
            .block(0, 0, row_half, k)
            .expect("rows of A above the split");
        let a2 = a
            .block(row_half, 0, m - row_half, k)
            .expect("rows of A below the split");
        rayon::join(
            || run_split(path, a1, b, c1, accum, t1),
            || run_split(path, a2, b, c2, accum, t2),
        );
    } else if cols_ok && col_half < n {
        let (c1, c2) = c.split_cols(col_half).expect("columns do not interleave");
        let b1 = b
            .block(0, 0, k, col_half)
            .expect("columns of B left of the split");
        let b2 = b
            .block(0, col_half, k, n - col_half)
            .expect("columns of B right of it");
        rayon::join(
            || run_split(path, a, b1, c1, accum, t1),
            || run_split(path, a, b2, c2, accum, t2),
        );
    } else {
        run_serial(path, a, b, c, accum);
    }
}

/// Runs the whole problem on this thread along `path`.
fn run_serial(path: Path, a: MatRef<'_>, b: MatRef<'_>, mut c: MatMut<'_>, accum: Accum) {
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `path_for` returns Avx512 only after `Isa::Avx512.host_has()` confirmed
        // AVX-512F at run time.
        Path::Avx512 => unsafe { x86::avx512(&a, &b, &mut c, accum) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `path_for` returns Avx2 only after `Isa::Avx2.host_has()` confirmed AVX2
        // and FMA at run time.
        Path::Avx2 => unsafe { x86::avx2(&a, &b, &mut c, accum) },
        Path::Portable => portable(&a, &b, &mut c, accum),
    }
}

/// The baseline build: SSE2 on x86_64, NEON on aarch64 (both always present).
fn portable(a: &MatRef<'_>, b: &MatRef<'_>, c: &mut MatMut<'_>, accum: Accum) {
    #[cfg(target_arch = "aarch64")]
    const W: usize = 8;
    #[cfg(not(target_arch = "aarch64"))]
    const W: usize = 8;
    body::<R, W>(a, b, c, accum);
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::body;
    use poolgrad_kernels::{Accum, MatMut, MatRef};

    /// AVX-512F: 2 rows × 16 columns = 2 zmm accumulators.
    #[target_feature(enable = "avx512f")]
    pub(super) fn avx512(a: &MatRef<'_>, b: &MatRef<'_>, c: &mut MatMut<'_>, accum: Accum) {
        body::<{ super::AVX512_R }, { super::AVX512_W }>(a, b, c, accum);
    }

    /// AVX2+FMA: 2 rows × 16 columns = 4 ymm accumulators.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn avx2(a: &MatRef<'_>, b: &MatRef<'_>, c: &mut MatMut<'_>, accum: Accum) {
        body::<{ super::AVX2_R }, { super::AVX2_W }>(a, b, c, accum);
    }
}

/// Walks C in `R×W` tiles, then the ragged edges with narrower tiles (8 wide, then 1).
#[inline(always)]
fn body<const RR: usize, const W: usize>(
    a: &MatRef<'_>,
    b: &MatRef<'_>,
    c: &mut MatMut<'_>,
    accum: Accum,
) {
    let m = c.rows();
    let mut i = 0;
    while i + RR <= m {
        row_block::<RR, W>(i, a, b, c, accum);
        i += RR;
    }
    while i < m {
        row_block::<1, W>(i, a, b, c, accum);
        i += 1;
    }
}

#[inline(always)]
fn row_block<const RR: usize, const W: usize>(
    i0: usize,
    a: &MatRef<'_>,
    b: &MatRef<'_>,
    c: &mut MatMut<'_>,
    accum: Accum,
) {
    let n = c.cols();
    let mut j = 0;
    while j + W <= n {
        tile::<RR, W>(i0, j, a, b, c, accum);
        j += W;
    }
    if W > 8 {
        while j + 8 <= n {
            tile::<RR, 8>(i0, j, a, b, c, accum);
            j += 8;
        }
    }
    while j < n {
        tile::<RR, 1>(i0, j, a, b, c, accum);
        j += 1;
    }
}

/// `acc += x·y` over one row of a tile (a separate multiply and add: see the module docs).
#[inline(always)]
fn axpy<const L: usize>(acc: &mut [f32; L], x: f32, y: &[f32; L]) {
    for (s, &v) in acc.iter_mut().zip(y) {
        *s += x * v;
    }
}

/// One `RR×W` tile of C: accumulators in registers over the whole k loop.
#[inline(always)]
fn tile<const RR: usize, const W: usize>(
    i0: usize,
    j0: usize,
    a: &MatRef<'_>,
    b: &MatRef<'_>,
    c: &mut MatMut<'_>,
    accum: Accum,
) {
    let k = a.cols();
    let (ad, ars, acs) = (a.as_slice(), a.row_stride(), a.col_stride());
    let (bd, brs) = (b.as_slice(), b.row_stride());
    let mut acc = [[0.0f32; W]; RR];
    for p in 0..k {
        // B has unit column stride (or a single column, then j0 = 0 and W = 1), so the
        // chunk is contiguous; the view's construction proved it in bounds.
        let start = p * brs + j0;
        let chunk: &[f32; W] = bd[start..start + W].try_into().expect("W elements");
        for (r, acc_r) in acc.iter_mut().enumerate() {
            axpy::<W>(acc_r, ad[(i0 + r) * ars + p * acs], chunk);
        }
    }
    for (r, acc_r) in acc.iter().enumerate() {
        for (w, &s) in acc_r.iter().enumerate() {
            let out = c.at_mut(i0 + r, j0 + w);
            *out = match accum {
                Accum::Replace => s,
                Accum::Add => *out + s,
            };
        }
    }
}
