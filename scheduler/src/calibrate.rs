//! Timing candidate kernels on one problem: prune by cost hint, warm up, take the median of
//! runs within a budget, abandon candidates that cannot win.

use crate::config::Effort;
use poolgrad_kernels::{Accum, Layout, MatMut, MatRef, MatmulKernel, Par, Problem};
use std::time::{Duration, Instant};

/// Relative difference below which two medians count as a tie.
const TIE: f64 = 0.02;

/// A warm-up run shorter than this never abandons its kernel (time slices are a few ms).
const WARM_ABANDON_FLOOR_S: f64 = 0.02;

/// One candidate's measurement.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelTiming {
    /// The kernel's registered name.
    pub kernel: &'static str,
    /// Median (the lower one for an even count) of the timed runs, in seconds.
    pub median_s: f64,
    /// Timed runs made.
    pub runs: usize,
    /// True when the candidate was abandoned after a run slower than
    /// [`Effort::abort_ratio`] × the best median so far (`median_s` is then that run).
    pub aborted: bool,
}

/// Why a candidate was not timed.
#[derive(Clone, Debug, PartialEq)]
pub enum Skip {
    /// `supports` is false for the problem.
    Unsupported,
    /// Its cost hint is this multiple of the best hint, above [`Effort::prune_factor`].
    Pruned(f64),
}

/// The outcome of calibrating one problem.
#[derive(Clone, Debug)]
pub struct Calibration {
    /// The problem that was timed (the real shape, not its bucket).
    pub problem: Problem,
    /// The fastest timed candidate.
    pub winner: &'static dyn MatmulKernel,
    /// Every timed candidate, fastest first.
    pub timings: Vec<KernelTiming>,
    /// Candidates left out, with the reason.
    pub skipped: Vec<(&'static str, Skip)>,
    /// Wall time of the whole calibration.
    pub elapsed: Duration,
}

impl Calibration {
    /// The winner's median time in seconds.
    pub fn winner_median_s(&self) -> f64 {
        self.timings
            .iter()
            .find(|t| t.kernel == self.winner.name())
            .map_or(f64::NAN, |t| t.median_s)
    }
}

/// Times the candidates of `problem` and returns the fastest, or `None` when no candidate
/// supports the problem.
pub fn calibrate(
    problem: &Problem,
    kernels: &[&'static dyn MatmulKernel],
    par: Par,
    effort: &Effort,
) -> Option<Calibration> {
    let start = Instant::now();
    let mut skipped = Vec::new();
    let mut candidates: Vec<(&'static dyn MatmulKernel, f64)> = Vec::new();
    for &kernel in kernels {
        if kernel.supports(problem) {
            candidates.push((kernel, kernel.cost_hint(problem)));
        } else {
            skipped.push((kernel.name(), Skip::Unsupported));
        }
    }
    // Most promising first, so the abort rule has a good reference early.
    candidates.sort_by(|x, y| x.1.total_cmp(&y.1));
    let best_hint = candidates.first()?.1;
    let mut operands = Operands::new(problem);
    let mut timed: Vec<Candidate> = Vec::new();
    for (kernel, hint) in candidates {
        let ratio = hint / best_hint;
        // A non-positive or NaN best hint says nothing: time everything then.
        if best_hint > 0.0 && ratio > effort.prune_factor {
            skipped.push((kernel.name(), Skip::Pruned(ratio)));
        } else {
            timed.push(Candidate {
                kernel,
                times: Vec::new(),
                abandoned_at: None,
            });
        }
    }
    let budget = effort.budget.as_secs_f64();
    // The whole race gets `budget` per candidate, warm-up included.
    let race_start = Instant::now();
    let race_budget = budget * timed.len() as f64;
    // Warm-up, each candidate in turn. A run that fills the budget on its own is warm-up
    // enough and is kept as that candidate's sample: a large shape then costs one run per
    // candidate, not two.
    let mut warm = vec![f64::INFINITY; timed.len()];
    for (c, w) in timed.iter_mut().zip(&mut warm) {
        for _ in 0..effort.warmup {
            let t = operands.run_once(c.kernel, par);
            *w = w.min(t);
            if t >= budget {
                c.times.push(t);
                break;
            }
        }
    }
    // A cold run may pay page faults and scratch allocation, and one run can lose a whole
    // scheduler time slice on a busy machine: abandon leniently here, and only runs long
    // enough that a preemption cannot explain them.
    let best_warm = warm.iter().copied().fold(f64::INFINITY, f64::min);
    for (c, &w) in timed.iter_mut().zip(&warm) {
        if effort.warmup > 0 && w > 4.0 * effort.abort_ratio * best_warm && w > WARM_ABANDON_FLOOR_S
        {
            c.abandoned_at = Some(w);
        }
    }
    // Timed rounds, interleaved: every candidate runs once per round, so a change in
    // machine load (2 shared cores) hits all of them alike instead of whoever ran then.
    // Each round starts with the next candidate, so whatever the first run of a round
    // pays (caches refilled after the previous round's last kernel) is shared out too.
    for round in 0..effort.max_runs.max(1) {
        let len = timed.len();
        for i in 0..len {
            let c = &mut timed[(round + i) % len];
            if c.abandoned_at.is_none() && c.times.len() <= round {
                let t = operands.run_once(c.kernel, par);
                c.times.push(t);
            }
        }
        // After two runs each, drop candidates whose better run is still far behind the
        // best: they cannot win, and two runs keep one noisy run from deciding.
        if round == 1 {
            let fastest = |c: &Candidate| c.times.iter().copied().fold(f64::INFINITY, f64::min);
            let best = timed
                .iter()
                .filter(|c| c.abandoned_at.is_none())
                .map(fastest)
                .fold(f64::INFINITY, f64::min);
            for c in timed.iter_mut().filter(|c| c.abandoned_at.is_none()) {
                if fastest(c) > effort.abort_ratio * best {
                    c.abandoned_at = Some(fastest(c));
                }
            }
        }
        if race_start.elapsed().as_secs_f64() >= race_budget {
            break;
        }
    }
    let mut timings: Vec<KernelTiming> = timed.into_iter().map(Candidate::timing).collect();
    for timing in &timings {
        log::debug!(
            target: crate::LOG_TARGET,
            "calibrate {}x{}x{} {}: {} {:.3} µs median of {} run(s){}",
            problem.m,
            problem.n,
            problem.k,
            layout_codes(problem),
            timing.kernel,
            timing.median_s * 1e6,
            timing.runs,
            if timing.aborted { " (abandoned)" } else { "" }
        );
    }
    timings.sort_by(|x, y| {
        x.aborted
            .cmp(&y.aborted)
            .then(x.median_s.total_cmp(&y.median_s))
    });
    // Within TIE of the fastest, measurements cannot tell kernels apart on this noisy
    // machine: prefer the one listed first (built-ins in order, e.g. `packed` over `mp`,
    // which below its split size runs the very same code).
    let best = timings.first()?;
    let fastest = best.median_s;
    let order = |name: &str| {
        kernels
            .iter()
            .position(|k| k.name() == name)
            .unwrap_or(usize::MAX)
    };
    let winner_name = timings
        .iter()
        .filter(|t| t.aborted == best.aborted && t.median_s <= fastest * (1.0 + TIE))
        .min_by_key(|t| order(t.kernel))?
        .kernel;
    let winner = kernels.iter().copied().find(|k| k.name() == winner_name)?;
    Some(Calibration {
        problem: *problem,
        winner,
        timings,
        skipped,
        elapsed: start.elapsed(),
    })
}

/// `rrr`, `crr`, …: the layout codes of a, b, c.
pub fn layout_codes(p: &Problem) -> String {
    [p.a.code(), p.b.code(), p.c.code()].iter().collect()
}

/// A candidate being timed.
struct Candidate {
    kernel: &'static dyn MatmulKernel,
    times: Vec<f64>,
    /// The run time that got it abandoned.
    abandoned_at: Option<f64>,
}

impl Candidate {
    fn timing(mut self) -> KernelTiming {
        self.times.sort_by(f64::total_cmp);
        match self.abandoned_at {
            Some(t) => KernelTiming {
                kernel: self.kernel.name(),
                median_s: t,
                runs: self.times.len().max(1),
                aborted: true,
            },
            None => KernelTiming {
                kernel: self.kernel.name(),
                // The lower median: of two runs the faster, as noise only ever adds time.
                median_s: self.times[(self.times.len() - 1) / 2],
                runs: self.times.len(),
                aborted: false,
            },
        }
    }
}

/// Operand buffers laid out as the problem says, filled with small pseudo-random values.
struct Operands {
    problem: Problem,
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
}

/// `(len, row_stride, col_stride)` of a `rows × cols` view in `layout`; a strided view
/// steps 2 along both axes so neither stride is 1.
fn geometry(layout: Layout, rows: usize, cols: usize) -> (usize, usize, usize) {
    let (rows, cols) = (rows.max(1), cols.max(1));
    match layout {
        Layout::RowMajor => (rows * cols, cols, 1),
        Layout::ColMajor => (rows * cols, 1, rows),
        Layout::Strided => (rows * cols * 4, cols * 4, 2),
    }
}

fn fill(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

impl Operands {
    fn new(problem: &Problem) -> Operands {
        let p = *problem;
        Operands {
            problem: p,
            a: fill(geometry(p.a, p.m, p.k).0, 1),
            b: fill(geometry(p.b, p.k, p.n).0, 2),
            c: vec![0.0; geometry(p.c, p.m, p.n).0],
        }
    }

    /// One run of `kernel` (`C = A·B`), timed.
    fn run_once(&mut self, kernel: &dyn MatmulKernel, par: Par) -> f64 {
        let p = self.problem;
        let view = |data, layout, rows, cols| {
            let (_, rs, cs) = geometry(layout, rows, cols);
            MatRef::new(data, rows, cols, rs, cs).expect("buffer sized by geometry()")
        };
        let a = view(&self.a, p.a, p.m, p.k);
        let b = view(&self.b, p.b, p.k, p.n);
        let (_, rs, cs) = geometry(p.c, p.m, p.n);
        let c = MatMut::new(&mut self.c, p.m, p.n, rs, cs).expect("buffer sized by geometry()");
        let t = Instant::now();
        kernel.run(a, b, c, Accum::Replace, par);
        t.elapsed().as_secs_f64()
    }
}
