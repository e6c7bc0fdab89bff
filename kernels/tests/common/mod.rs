//! Shared helpers for the kernel correctness tests: deterministic data, operand layouts
//! (row-major, column-major via `.t()`, padded, general strides), the list of kernels under
//! test, and one checker that runs a kernel and compares it with the reference.
//!
//! The plugin crate's tests include this file too (`#[path]`), so both crates check their
//! kernels through the same shape matrix without a shared test-only dependency.
#![allow(dead_code)]

use poolgrad_kernels::mp::StrassenKernel;
use poolgrad_kernels::naive::NaiveKernel;
use poolgrad_kernels::packed::PackedKernel;
use poolgrad_kernels::{
    Accum, Isa, MatMut, MatRef, MatmulKernel, MpSettings, Par, Problem, registry,
};

/// `POOLGRAD_TEST_QUICK=1` asks the heavy test (mp's f64 accuracy at 1024..2048) for a
/// reduced size set: under qemu it takes minutes. The shape matrix itself always runs in
/// full (about 20 s emulated).
pub fn quick() -> bool {
    std::env::var("POOLGRAD_TEST_QUICK").is_ok_and(|v| v.trim() == "1")
}

/// A small xorshift generator: deterministic data with no dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// An integer in `-4..=4`, as f32: products and sums stay exact in f32.
    pub fn small_int(&mut self) -> f32 {
        (self.next_u64() % 9) as f32 - 4.0
    }
    /// A float in `[-1, 1)`.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// What values a test fills its operands with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Data {
    /// Integers in -4..=4: every kernel must match the reference exactly.
    SmallInt,
    /// Floats in [-1, 1): kernels must match within a tolerance ∝ k·ε.
    Float,
}

/// How an operand is laid out in its buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lay {
    /// `row_stride = cols`, `col_stride = 1`.
    Row,
    /// Column-major, built as `.t()` of a row-major view of the transpose.
    ColT,
    /// Row-major with padded rows (`row_stride = cols + 3`).
    RowPad,
    /// Column-major with padded columns (`col_stride = rows + 2`), built with `new` directly.
    ColPad,
    /// Neither stride is 1 (`col_stride = 2`, `row_stride = 2·cols + 1`).
    Strided,
}

impl Lay {
    pub const ALL: [Lay; 5] = [Lay::Row, Lay::ColT, Lay::RowPad, Lay::ColPad, Lay::Strided];

    /// `(row_stride, col_stride)` for a `rows×cols` operand.
    pub fn strides(self, rows: usize, cols: usize) -> (usize, usize) {
        match self {
            Lay::Row => (cols.max(1), 1),
            Lay::ColT => (1, rows.max(1)),
            Lay::RowPad => (cols + 3, 1),
            Lay::ColPad => (1, rows + 2),
            Lay::Strided => (2 * cols + 1, 2),
        }
    }
}

/// An operand buffer: the elements of a `rows×cols` matrix placed by a layout, every other
/// slot (padding, plus a tail) holding NaN.
#[derive(Debug, Clone)]
pub struct Operand {
    pub buf: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
    pub lay: Lay,
    pub rs: usize,
    pub cs: usize,
}

impl Operand {
    /// Places `values` (row-major, `rows*cols` of them) in a NaN-filled buffer.
    pub fn new(values: &[f32], rows: usize, cols: usize, lay: Lay) -> Operand {
        assert_eq!(values.len(), rows * cols);
        let (rs, cs) = lay.strides(rows, cols);
        let need = if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * rs + (cols - 1) * cs + 1
        };
        // A few NaN after the last element: a kernel reading past the view would see them.
        let mut buf = vec![f32::NAN; need + 5];
        for i in 0..rows {
            for j in 0..cols {
                buf[i * rs + j * cs] = values[i * cols + j];
            }
        }
        Operand {
            buf,
            rows,
            cols,
            lay,
            rs,
            cs,
        }
    }

    pub fn view(&self) -> MatRef<'_> {
        match self.lay {
            Lay::ColT => MatRef::row_major(&self.buf, self.cols, self.rows)
                .expect("sized by Operand::new")
                .t(),
            _ => MatRef::new(&self.buf, self.rows, self.cols, self.rs, self.cs)
                .expect("sized by Operand::new"),
        }
    }

    pub fn view_mut(&mut self) -> MatMut<'_> {
        match self.lay {
            Lay::ColT => MatMut::row_major(&mut self.buf, self.cols, self.rows)
                .expect("sized by Operand::new")
                .t(),
            _ => MatMut::new(&mut self.buf, self.rows, self.cols, self.rs, self.cs)
                .expect("sized by Operand::new"),
        }
    }

    /// Element `(i, j)` of the matrix.
    pub fn get(&self, i: usize, j: usize) -> f32 {
        self.buf[i * self.rs + j * self.cs]
    }

    /// True for buffer slots that no `(i, j)` of the matrix addresses.
    pub fn padding_mask(&self) -> Vec<bool> {
        let mut pad = vec![true; self.buf.len()];
        for i in 0..self.rows {
            for j in 0..self.cols {
                pad[i * self.rs + j * self.cs] = false;
            }
        }
        pad
    }
}

/// Values for an `rows×cols` matrix.
pub fn values(rows: usize, cols: usize, data: Data, rng: &mut Rng) -> Vec<f32> {
    (0..rows * cols)
        .map(|_| match data {
            Data::SmallInt => rng.small_int(),
            Data::Float => rng.unit(),
        })
        .collect()
}

/// A kernel under test with a label naming its variant (e.g. `packed[avx2]`).
#[derive(Debug)]
pub struct Candidate {
    pub label: String,
    pub kernel: &'static dyn MatmulKernel,
}

/// The mp knobs the tests use so that recursion really happens at small sizes.
pub fn small_mp_knobs() -> MpSettings {
    MpSettings {
        max_size: 1 << 20,
        base_threshold: 16,
        recurse_min: 32,
        packed_block: 8,
    }
}

/// Every kernel to check: each registered one (the global registry), `packed` pinned to
/// every ISA level this host has, and `mp` with small knobs.
pub fn candidates() -> Vec<Candidate> {
    let mut out: Vec<Candidate> = registry()
        .iter()
        .filter(|k| k.name() != "naive")
        .map(|k| Candidate {
            label: k.name().to_string(),
            kernel: k,
        })
        .collect();
    for isa in Isa::host_levels() {
        let kernel = PackedKernel::with_isa(isa).expect("host_levels lists only what the host has");
        out.push(Candidate {
            label: format!("packed[{isa}]"),
            kernel: Box::leak(Box::new(kernel)),
        });
    }
    out.push(Candidate {
        label: "mp[small knobs]".to_string(),
        kernel: Box::leak(Box::new(StrassenKernel::with_settings(small_mp_knobs()))),
    });
    out
}

/// One matmul case: shape, layouts, accumulation, parallelism, data.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: Lay,
    pub b: Lay,
    pub c: Lay,
    pub accum: Accum,
    pub par: Par,
    pub data: Data,
    pub seed: u64,
}

impl Case {
    pub fn new(m: usize, n: usize, k: usize) -> Case {
        Case {
            m,
            n,
            k,
            a: Lay::Row,
            b: Lay::Row,
            c: Lay::Row,
            accum: Accum::Replace,
            par: Par::Seq,
            data: Data::SmallInt,
            seed: 1,
        }
    }
}

/// Inputs of a case, built once and reusable across kernels.
#[derive(Debug)]
pub struct Inputs {
    pub case: Case,
    pub a: Operand,
    pub b: Operand,
    /// Initial values of C (used by `Accum::Add`; with Replace, C starts as NaN).
    pub c0: Vec<f32>,
    /// The expected C: naive in f32 for small integers (exact), f64 for floats.
    pub expect: Vec<f64>,
    /// Per element `Σ_p |a_ip|·|b_pj|` (+ `|c0|` for Add): the scale of the rounding error.
    pub scale: Vec<f64>,
}

impl Inputs {
    pub fn new(case: Case) -> Inputs {
        let Case { m, n, k, .. } = case;
        let mut rng = Rng::new(case.seed ^ ((m * 31 + n) * 31 + k) as u64);
        let av = values(m, k, case.data, &mut rng);
        let bv = values(k, n, case.data, &mut rng);
        let c0 = match case.accum {
            Accum::Replace => vec![f32::NAN; m * n],
            Accum::Add => values(m, n, case.data, &mut rng),
        };
        let a = Operand::new(&av, m, k, case.a);
        let b = Operand::new(&bv, k, n, case.b);
        let mut expect = vec![0.0f64; m * n];
        let mut scale = vec![0.0f64; m * n];
        match case.data {
            Data::SmallInt => {
                // The reference kernel itself, on plain row-major copies.
                let mut c = match case.accum {
                    Accum::Replace => vec![0.0f32; m * n],
                    Accum::Add => c0.clone(),
                };
                NaiveKernel
                    .matmul_with(
                        MatRef::row_major(&av, m, k).unwrap(),
                        MatRef::row_major(&bv, k, n).unwrap(),
                        MatMut::row_major(&mut c, m, n).unwrap(),
                        case.accum,
                        Par::Seq,
                    )
                    .expect("naive runs every problem");
                expect = c.iter().map(|&x| x as f64).collect();
            }
            Data::Float => {
                for i in 0..m {
                    for j in 0..n {
                        let (mut s, mut abs) = (0.0f64, 0.0f64);
                        for p in 0..k {
                            let x = av[i * k + p] as f64 * bv[p * n + j] as f64;
                            s += x;
                            abs += x.abs();
                        }
                        if case.accum == Accum::Add {
                            s += c0[i * n + j] as f64;
                            abs += (c0[i * n + j] as f64).abs();
                        }
                        expect[i * n + j] = s;
                        scale[i * n + j] = abs;
                    }
                }
            }
        }
        Inputs {
            case,
            a,
            b,
            c0,
            expect,
            scale,
        }
    }
}

/// Runs `kernel` on `inputs` and checks C: exact (small integers) or within `tol_per_k·k·ε`
/// times the error scale (floats); C's padding still NaN; with Replace, no NaN from C's old
/// contents in the result. Returns `Ok(false)` when the kernel does not support the case.
pub fn check(label: &str, kernel: &dyn MatmulKernel, inputs: &Inputs) -> Result<bool, String> {
    let case = inputs.case;
    let Case { m, n, k, .. } = case;
    let mut c = Operand::new(&inputs.c0, m, n, case.c);
    let problem = Problem::of(&inputs.a.view(), &inputs.b.view(), &c.view_mut());
    if !kernel.supports(&problem) {
        return Ok(false);
    }
    kernel
        .matmul_with(
            inputs.a.view(),
            inputs.b.view(),
            c.view_mut(),
            case.accum,
            case.par,
        )
        .map_err(|e| format!("{label} {case:?}: error {e}"))?;
    let pad = c.padding_mask();
    if let Some(slot) = (0..c.buf.len()).find(|&s| pad[s] && !c.buf[s].is_nan()) {
        return Err(format!(
            "{label} {case:?}: wrote {} into buffer slot {slot}, outside the view",
            c.buf[slot]
        ));
    }
    // Floats: the textbook bound is γ_k·Σ|a||b| per element; 2·k·ε covers blocked and
    // Strassen-form sums on this data, which is random with no cancellation tricks. The
    // scale is the largest per-element scale so Strassen's normwise error is covered.
    let max_scale = inputs.scale.iter().copied().fold(0.0, f64::max);
    let tol = 2.0 * (k.max(1) as f64) * f32::EPSILON as f64 * max_scale;
    for i in 0..m {
        for j in 0..n {
            let got = c.get(i, j) as f64;
            let want = inputs.expect[i * n + j];
            let ok = match case.data {
                Data::SmallInt => got == want,
                Data::Float => (got - want).abs() <= tol,
            };
            if !ok {
                return Err(format!(
                    "{label} {case:?}: C[{i},{j}] = {got}, expected {want} (tolerance {})",
                    if case.data == Data::SmallInt {
                        0.0
                    } else {
                        tol
                    }
                ));
            }
        }
    }
    Ok(true)
}

/// Checks every candidate on `cases`, collecting all failures into one panic message, and
/// returns how many (kernel, case) pairs ran (unsupported ones are skipped).
pub fn check_all(kernels: &[Candidate], cases: impl IntoIterator<Item = Case>) -> usize {
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in cases {
        let inputs = Inputs::new(case);
        for cand in kernels {
            match check(&cand.label, cand.kernel, &inputs) {
                Ok(true) => ran += 1,
                Ok(false) => {}
                Err(e) => failures.push(e),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures, first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(12)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    ran
}

/// A deterministic mix of layouts, accumulation and parallelism for the `idx`-th case of a
/// sweep, so a sweep covers every combination without running the full cross product.
pub fn mixed(m: usize, n: usize, k: usize, idx: usize) -> Case {
    let l = Lay::ALL.len();
    Case {
        m,
        n,
        k,
        a: Lay::ALL[idx % l],
        b: Lay::ALL[(idx / l) % l],
        c: Lay::ALL[(idx / (l * l)) % l],
        accum: if (idx / 7).is_multiple_of(2) {
            Accum::Replace
        } else {
            Accum::Add
        },
        par: if (idx / 3).is_multiple_of(2) {
            Par::Seq
        } else {
            Par::Rayon(2)
        },
        data: Data::SmallInt,
        seed: idx as u64,
    }
}
