//! Shared test helpers: a seeded PRNG, random liveness sets, and a small simulated tape with a
//! backward driver that uses an allocator the way poolgrad-core's backward will.
#![allow(dead_code)]

use poolgrad_memory::{
    GradAllocator, GradBuf, GradId, GradLife, LivenessBuilder, LivenessInfo, MemStats,
};

/// SplitMix64: small, seeded, good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// Size distributions for random liveness sets.
#[derive(Debug, Clone, Copy)]
pub enum Sizes {
    Equal,
    Uniform,
    Wide,
}

/// A random liveness set: `n` gradients over `steps` steps, some kept.
pub fn random_liveness(rng: &mut Rng, sizes: Sizes) -> LivenessInfo {
    let n = rng.range(1, 60);
    let steps = rng.range(1, 40);
    let equal = rng.range(1, 300);
    let mut info = LivenessInfo::new();
    for id in 0..n {
        let numel = match sizes {
            Sizes::Equal => equal,
            Sizes::Uniform => rng.range(0, 2000),
            Sizes::Wide => 1 << rng.range(0, 16),
        };
        let first = rng.range(0, steps - 1);
        if rng.chance(0.2) {
            info.push(GradLife::kept(id * 3 + 1, numel, first)).unwrap();
        } else {
            let span = rng.range(0, 12);
            let last = rng.range(first, (first + span).min(steps - 1));
            info.push(GradLife::temp(id * 3 + 1, numel, first, last))
                .unwrap();
        }
    }
    info
}

/// Drives an allocator through a liveness set exactly as announced: at each step, release what
/// ended before it, then allocate what starts at it; kept ones are released at the end.
/// Writes a recognisable pattern into each buffer and checks it is intact at release.
pub fn run_liveness(alloc: &mut dyn GradAllocator, info: &LivenessInfo) -> MemStats {
    alloc.plan(info).unwrap();
    alloc.begin_step().unwrap();
    let horizon = info
        .lives()
        .iter()
        .map(|l| l.first_def.max(l.last_use))
        .max()
        .unwrap_or(0);
    let mut live: Vec<(GradLife, GradBuf)> = Vec::new();
    for step in 0..=horizon {
        let mut k = 0;
        while k < live.len() {
            let (l, b) = live[k];
            if !l.kept && l.last_use < step {
                check_pattern(alloc, &b);
                alloc.release(b).unwrap();
                live.swap_remove(k);
            } else {
                k += 1;
            }
        }
        for l in info.lives().iter().filter(|l| l.first_def == step) {
            let b = alloc.allocate(l.id, l.numel).unwrap();
            let s = alloc.slice_mut(&b).unwrap();
            assert!(s.iter().all(|&v| v == 0.0), "buffer not zeroed");
            for (i, v) in s.iter_mut().enumerate() {
                *v = pattern(l.id, i);
            }
            live.push((*l, b));
        }
    }
    for (_, b) in live {
        check_pattern(alloc, &b);
        alloc.release(b).unwrap();
    }
    alloc.end_step().unwrap();
    alloc.stats()
}

fn pattern(id: GradId, i: usize) -> f32 {
    (id.0 * 1000 + i % 997) as f32
}

fn check_pattern(alloc: &dyn GradAllocator, b: &GradBuf) {
    let s = alloc.slice(b).unwrap();
    for (i, &v) in s.iter().enumerate() {
        assert_eq!(
            v,
            pattern(b.id(), i),
            "buffer of {} was overwritten",
            b.id()
        );
    }
}

/// One node of a simulated tape.
#[derive(Debug, Clone)]
pub struct Node {
    pub numel: usize,
    pub inputs: Vec<usize>,
    pub param: bool,
}

/// A tape in creation (topological) order; the last node is the loss.
#[derive(Debug, Clone, Default)]
pub struct Tape {
    pub nodes: Vec<Node>,
}

impl Tape {
    pub fn leaf(&mut self, numel: usize, param: bool) -> usize {
        self.nodes.push(Node {
            numel,
            inputs: vec![],
            param,
        });
        self.nodes.len() - 1
    }
    pub fn op(&mut self, numel: usize, inputs: &[usize]) -> usize {
        self.nodes.push(Node {
            numel,
            inputs: inputs.to_vec(),
            param: false,
        });
        self.nodes.len() - 1
    }

    /// Which nodes get a gradient: those reaching a param and reached from the loss.
    pub fn has_grad(&self) -> Vec<bool> {
        let n = self.nodes.len();
        let mut needs = vec![false; n];
        for i in 0..n {
            let nd = &self.nodes[i];
            needs[i] = nd.param || nd.inputs.iter().any(|&j| needs[j]);
        }
        let mut reached = vec![false; n];
        reached[n - 1] = true;
        for i in (0..n).rev() {
            if reached[i] {
                for &j in &self.nodes[i].inputs {
                    reached[j] = true;
                }
            }
        }
        (0..n).map(|i| needs[i] && reached[i]).collect()
    }

    /// Backward step of node `i` (the loss is step 0).
    pub fn step(&self, i: usize) -> usize {
        self.nodes.len() - 1 - i
    }

    /// The liveness core's backward would compute from this tape.
    pub fn liveness(&self) -> LivenessInfo {
        let has = self.has_grad();
        let n = self.nodes.len();
        let mut first = vec![usize::MAX; n];
        first[n - 1] = 0;
        for i in (0..n).rev() {
            if !has[i] {
                continue;
            }
            for &j in &self.nodes[i].inputs {
                if has[j] {
                    first[j] = first[j].min(self.step(i));
                }
            }
        }
        let mut info = LivenessInfo::new();
        for i in (0..n).rev() {
            if !has[i] {
                continue;
            }
            let nd = &self.nodes[i];
            let life = if nd.param {
                GradLife::kept(i, nd.numel, first[i])
            } else {
                GradLife::temp(i, nd.numel, first[i], self.step(i))
            };
            info.push(life).unwrap();
        }
        info
    }

    /// A random tape of `n` nodes with varied sizes, broadcasting-like size mismatches and
    /// reuse of a value (an op may take the same input twice, or a value may feed many ops).
    pub fn random(rng: &mut Rng, n: usize) -> Tape {
        let mut t = Tape::default();
        let sizes = [1, 7, 16, 64, 100, 256, 1000, 4096];
        let leaves = rng.range(1, 4.min(n - 1).max(1));
        for k in 0..leaves {
            let numel = sizes[rng.range(0, sizes.len() - 1)];
            let param = k == 0 || rng.chance(0.7);
            t.leaf(numel, param);
        }
        while t.nodes.len() < n {
            let numel = sizes[rng.range(0, sizes.len() - 1)];
            let a = rng.range(0, t.nodes.len() - 1);
            let inputs = if rng.chance(0.5) {
                vec![a, rng.range(0, t.nodes.len() - 1)]
            } else {
                vec![a]
            };
            t.op(numel, &inputs);
        }
        // The loss reads the last value and the first param, so it always has a gradient.
        t.op(1, &[t.nodes.len() - 1, 0]);
        t
    }

    /// An MLP training graph: x → (matmul W, add b, relu)* → loss, `batch` rows.
    pub fn mlp(layers: &[usize], batch: usize) -> Tape {
        let mut t = Tape::default();
        let mut h = t.leaf(batch * layers[0], false);
        for (k, w) in layers.windows(2).enumerate() {
            let wi = t.leaf(w[0] * w[1], true);
            let bi = t.leaf(w[1], true);
            let mm = t.op(batch * w[1], &[h, wi]);
            h = t.op(batch * w[1], &[mm, bi]);
            if k + 2 < layers.len() {
                h = t.op(batch * w[1], &[h]);
            }
        }
        t.op(1, &[h]);
        t
    }
}

/// Runs a simulated backward over `tape` with `alloc`, `steps` times, the way core will:
/// plan → begin_step → allocate at first contribution, read dC while accumulating into dA
/// (`split_mut`) → release at last use → copy out and release kept gradients → end_step.
/// Returns the param gradients (by node) of the last pass and the stats after each pass.
pub fn run_backward(
    alloc: &mut dyn GradAllocator,
    tape: &Tape,
    steps: usize,
) -> (Vec<(usize, Vec<f32>)>, Vec<MemStats>) {
    let has = tape.has_grad();
    let n = tape.nodes.len();
    let mut liveness = LivenessInfo::new();
    let mut out = Vec::new();
    let mut stats = Vec::new();
    assert!(has[n - 1], "the loss reaches no param");
    for _ in 0..steps {
        liveness.clone_from(&tape.liveness());
        alloc.plan(&liveness).unwrap();
        alloc.begin_step().unwrap();
        let mut bufs: Vec<Option<GradBuf>> = vec![None; n];
        let loss = alloc
            .allocate(GradId(n - 1), tape.nodes[n - 1].numel)
            .unwrap();
        alloc.slice_mut(&loss).unwrap().fill(1.0);
        bufs[n - 1] = Some(loss);
        for i in (0..n).rev() {
            if !has[i] || tape.nodes[i].param {
                continue;
            }
            let gi = bufs[i].expect("grad defined before use");
            for (slot, &j) in tape.nodes[i].inputs.iter().enumerate() {
                if !has[j] {
                    continue;
                }
                let gj = match bufs[j] {
                    Some(b) => b,
                    None => {
                        let b = alloc.allocate(GradId(j), tape.nodes[j].numel).unwrap();
                        bufs[j] = Some(b);
                        b
                    }
                };
                let [dc, da] = alloc.split_mut([&gi, &gj]).unwrap();
                let w = 0.5 + 0.25 * slot as f32 + 0.001 * i as f32;
                for (k, v) in da.iter_mut().enumerate() {
                    *v += w * dc[k % dc.len()] + 0.125;
                }
            }
            alloc.release(gi).unwrap();
            bufs[i] = None;
        }
        out.clear();
        for (i, b) in bufs.iter_mut().enumerate() {
            if let Some(b) = b.take() {
                assert!(tape.nodes[i].param, "non-param gradient {i} left live");
                out.push((i, alloc.slice(&b).unwrap().to_vec()));
                alloc.release(b).unwrap();
            }
        }
        alloc.end_step().unwrap();
        stats.push(alloc.stats());
    }
    (out, stats)
}

impl Tape {
    /// The liveness from a dry run of backward through [`LivenessBuilder`], as core would
    /// build it: step t processes node `n-1-t`, reading its gradient and accumulating into its
    /// inputs'.
    pub fn build_liveness(&self, has: &[bool], b: &mut LivenessBuilder) {
        let n = self.nodes.len();
        b.clear();
        b.def(GradId(n - 1), self.nodes[n - 1].numel, 0);
        for i in (0..n).rev() {
            let nd = &self.nodes[i];
            if !has[i] {
                continue;
            }
            if nd.param {
                b.keep(GradId(i));
                continue;
            }
            let t = self.step(i);
            b.use_at(GradId(i), t);
            for &j in &nd.inputs {
                if has[j] {
                    b.def(GradId(j), self.nodes[j].numel, t);
                }
            }
        }
    }
}

/// One simulated backward step with every container preallocated by the caller (what a
/// steady training loop does): builds the liveness, plans, runs, copies out kept gradients.
pub fn lean_step(
    alloc: &mut dyn GradAllocator,
    tape: &Tape,
    has: &[bool],
    builder: &mut LivenessBuilder,
    bufs: &mut [Option<GradBuf>],
    grads_out: &mut [Vec<f32>],
) {
    let n = tape.nodes.len();
    tape.build_liveness(has, builder);
    alloc.plan(builder.finish().unwrap()).unwrap();
    alloc.begin_step().unwrap();
    bufs.fill(None);
    let loss = alloc.allocate(GradId(n - 1), 1).unwrap();
    alloc.slice_mut(&loss).unwrap().fill(1.0);
    bufs[n - 1] = Some(loss);
    for i in (0..n).rev() {
        if !has[i] || tape.nodes[i].param {
            continue;
        }
        let gi = bufs[i].unwrap();
        for &j in &tape.nodes[i].inputs {
            if !has[j] {
                continue;
            }
            let gj = *bufs[j]
                .get_or_insert_with(|| alloc.allocate(GradId(j), tape.nodes[j].numel).unwrap());
            let [dc, da] = alloc.split_mut([&gi, &gj]).unwrap();
            for (k, v) in da.iter_mut().enumerate() {
                *v += dc[k % dc.len()];
            }
        }
        alloc.release(gi).unwrap();
        bufs[i] = None;
    }
    for (i, b) in bufs.iter_mut().enumerate() {
        if let Some(b) = b.take() {
            grads_out[i].copy_from_slice(alloc.slice(&b).unwrap());
            alloc.release(b).unwrap();
        }
    }
    alloc.end_step().unwrap();
}
