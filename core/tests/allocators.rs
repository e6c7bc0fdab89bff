//! The graph's gradient allocators: results bit-identical under `system`, `pool` and
//! `planner` (an MLP trained with SGD + momentum and Adam; random tapes with broadcasting
//! and values used several times), honest statistics (peak live = lower bound, the planner's
//! peak reserved = its planned arena >= the bound), pool reuse, the unknown-name error, and
//! an allocator registered by this test crate selected by name.

use poolgrad_core::{CoreError, Graph, Rng, Tensor, Var, nn, optim};
use poolgrad_memory::{
    BUILTIN_ORDER, GradAllocator, GradBuf, GradId, GradStorage, MemError, plan_offsets,
    register_allocator,
};
use poolgrad_scheduler::{Mode, Scheduler, SchedulerConfig};

/// A graph with its own scheduler pinned to `naive` (same kernel for every allocator) and
/// the allocator `name`.
fn graph(name: &str) -> Graph {
    let mut config = SchedulerConfig::new(Mode::Off).unwrap();
    config.forced = Some("naive".to_string());
    let mut g = Graph::with_scheduler(Scheduler::with_config(config).unwrap());
    let old = g.set_allocator(poolgrad_memory::create(name).unwrap());
    assert_eq!(old.name(), "planner");
    assert_eq!(g.allocator_name(), name);
    g
}

fn bits(t: &Tensor) -> Vec<u32> {
    t.data().iter().map(|x| x.to_bits()).collect()
}

/// Trains a small MLP for a few steps (SGD with momentum, then Adam); returns every loss
/// and the final param values and gradients, as bits.
fn train(name: &str) -> (Vec<u32>, Vec<Vec<u32>>) {
    let mut g = graph(name);
    g.set_trace_backward(true);
    let mlp = nn::Mlp::new(&mut g, &[6, 16, 8, 3], nn::Activation::Relu, 3).unwrap();
    let x = Tensor::randn(&[5, 6], 9).unwrap().into_vec();
    let labels = [0, 2, 1, 1, 0];
    let mut sgd = optim::Sgd::new(0.1).momentum(0.9);
    let mut adam = optim::Adam::new(0.01);
    let mut losses = Vec::new();
    for step in 0..8 {
        let xv = g.constant_from_slice(&x, &[5, 6]).unwrap();
        let logits = mlp.forward(&mut g, xv).unwrap();
        let loss = g.softmax_cross_entropy(logits, &labels).unwrap();
        losses.push(g.value(loss).unwrap().data()[0].to_bits());
        g.backward(loss).unwrap();
        let m = g.mem_stats();
        assert_eq!(m.grad.live_bytes, 0, "{name}: intermediates all released");
        assert_eq!(m.grad.peak_live_bytes, m.grad.lower_bound_bytes, "{name}");
        let trace = g.backward_trace().unwrap();
        assert_eq!(trace.live_bytes.len(), g.last_backward_plan().order.len());
        assert_eq!(
            trace.live_bytes.iter().max().copied(),
            Some(m.grad.lower_bound_bytes),
            "{name}: the trace peaks at the lower bound"
        );
        if step < 4 {
            sgd.step(&mut g).unwrap();
        } else {
            adam.step(&mut g).unwrap();
        }
        g.reset();
    }
    let mut out = Vec::new();
    for p in g.params() {
        out.push(bits(g.value(p).unwrap()));
        out.push(bits(g.grad(p).unwrap()));
    }
    (losses, out)
}

#[test]
fn mlp_training_is_bit_identical_across_allocators() {
    let reference = train("system");
    for name in ["pool", "planner"] {
        assert!(train(name) == reference, "{name} differs from system");
    }
}

/// Builds a random tape over params of broadcast-compatible shapes, with values reused
/// (`x * x`, one value feeding many ops), and returns the loss.
fn random_tape(g: &mut Graph, seed: u64) -> Var {
    let mut rng = Rng::new(seed);
    let pick = |rng: &mut Rng, n: usize| (rng.next_u64() % n as u64) as usize;
    let shapes: [&[usize]; 5] = [&[3, 4], &[4], &[3, 1], &[1], &[1, 4]];
    let mut pool: Vec<Var> = Vec::new();
    for (i, s) in shapes.iter().enumerate() {
        pool.push(g.param(Tensor::uniform(s, -1.0, 1.0, seed * 31 + i as u64).unwrap()));
    }
    pool.push(g.constant(Tensor::uniform(&[3, 4], -1.0, 1.0, seed ^ 77).unwrap()));
    let m = g.param(Tensor::uniform(&[4, 4], -0.5, 0.5, seed ^ 5).unwrap());
    let ops = 6 + pick(&mut rng, 25);
    for _ in 0..ops {
        let a = pool[pick(&mut rng, pool.len())];
        // Often the most recent value, so chains form and values are reused.
        let b = if rng.next_f64() < 0.3 {
            a
        } else {
            pool[pool.len() - 1 - pick(&mut rng, pool.len().min(4))]
        };
        let shape_a = g.value(a).unwrap().shape().to_vec();
        let v = match pick(&mut rng, 9) {
            0 => g.add(a, b).unwrap(),
            1 => g.sub(a, b).unwrap(),
            2 => g.mul(a, b).unwrap(),
            3 => g.tanh(a).unwrap(),
            4 => g.sigmoid(a).unwrap(),
            5 => g.relu(a).unwrap(),
            6 if shape_a == [3, 4] => g.matmul(a, m).unwrap(),
            7 if shape_a == [3, 4] => {
                let t = g.transpose(a).unwrap();
                g.transpose(t).unwrap()
            }
            _ => {
                let t = g.tanh(b).unwrap();
                g.mul(t, a).unwrap()
            }
        };
        pool.push(v);
    }
    let last = *pool.last().unwrap();
    let s = g.sum(last).unwrap();
    let other = pool[pool.len() / 2];
    let mean = g.mean(other).unwrap();
    let both = g.add(s, mean).unwrap();
    g.add(both, s).unwrap()
}

#[test]
fn random_tapes_are_bit_identical_and_stats_are_honest() {
    // (tapes with >= 10 intermediate gradients, tapes where the planner shared memory)
    let (mut big, mut shared) = (0, 0);
    for seed in 0..60 {
        let mut reference: Option<Vec<Option<Vec<u32>>>> = None;
        for name in BUILTIN_ORDER {
            let mut g = graph(name);
            g.set_trace_backward(true);
            let loss = random_tape(&mut g, seed);
            g.backward(loss).unwrap();
            let grads: Vec<Option<Vec<u32>>> =
                g.params().iter().map(|&p| g.grad(p).map(bits)).collect();
            match &reference {
                None => reference = Some(grads),
                Some(r) => assert!(*r == grads, "seed {seed}: {name} differs from system"),
            }
            let s = g.mem_stats().grad;
            let liveness = g.grad_store().liveness();
            assert_eq!(s.lower_bound_bytes, liveness.lower_bound_bytes());
            assert_eq!(s.peak_live_bytes, s.lower_bound_bytes, "seed {seed} {name}");
            assert!(
                s.peak_reserved_bytes >= s.lower_bound_bytes,
                "seed {seed} {name}"
            );
            assert_eq!(s.live_bytes, 0);
            let trace = g.backward_trace().unwrap();
            assert!(
                trace
                    .reserved_bytes
                    .iter()
                    .all(|&r| r <= s.peak_reserved_bytes)
            );
            match name {
                "planner" => {
                    let arena = plan_offsets(liveness).unwrap().arena_bytes();
                    assert_eq!(s.peak_reserved_bytes, arena, "seed {seed}");
                    big += usize::from(liveness.len() >= 10);
                    shared += usize::from(arena < liveness.total_bytes());
                    assert_eq!(s.allocations, u64::from(arena > 0));
                }
                // Every buffer freed at its last use: reserved never exceeds live.
                "system" => assert_eq!(s.peak_reserved_bytes, s.lower_bound_bytes),
                _ => {}
            }
        }
    }
    assert!(
        big >= 30 && shared >= 30,
        "the tapes exercise reuse: {big} {shared}"
    );
}

#[test]
fn pool_and_planner_stop_allocating_after_the_first_step() {
    for name in ["pool", "planner"] {
        let mut g = graph(name);
        let mlp = nn::Mlp::new(&mut g, &[8, 32, 32, 4], nn::Activation::Tanh, 1).unwrap();
        let x = Tensor::randn(&[6, 8], 2).unwrap().into_vec();
        let labels = [0, 1, 2, 3, 0, 1];
        let mut allocations = Vec::new();
        let mut reuses = Vec::new();
        for _ in 0..4 {
            let xv = g.constant_from_slice(&x, &[6, 8]).unwrap();
            let logits = mlp.forward(&mut g, xv).unwrap();
            let loss = g.softmax_cross_entropy(logits, &labels).unwrap();
            g.backward(loss).unwrap();
            g.reset();
            let s = g.mem_stats().grad;
            allocations.push(s.allocations);
            reuses.push(s.reuses);
        }
        assert!(allocations[0] > 0, "{name}: {allocations:?}");
        assert_eq!(allocations[3], allocations[0], "{name}: {allocations:?}");
        assert!(
            reuses.windows(2).all(|w| w[1] > w[0]),
            "{name} reuses every step: {reuses:?}"
        );
        let s = g.mem_stats().grad;
        assert!(s.peak_reserved_bytes >= s.lower_bound_bytes);
    }
}

#[test]
fn unknown_allocator_lists_the_registered_ones() {
    let e = Graph::with_allocator("arena").unwrap_err();
    assert!(
        matches!(
            &e,
            CoreError::Memory {
                op: "Graph::with_allocator",
                source: MemError::UnknownAllocator { .. }
            }
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    for name in ["'arena'", "system", "pool", "planner", "tests.hoard"] {
        assert!(msg.contains(name), "{msg}");
    }
}

/// An allocator written outside poolgrad: a fresh block per gradient, all kept until
/// `end_step` (reserved = every gradient's bytes at once).
#[derive(Debug)]
struct Hoard {
    storage: GradStorage,
    held: Vec<usize>,
}

impl GradAllocator for Hoard {
    fn name(&self) -> &'static str {
        "tests.hoard"
    }
    fn storage(&self) -> &GradStorage {
        &self.storage
    }
    fn storage_mut(&mut self) -> &mut GradStorage {
        &mut self.storage
    }
    fn allocate(&mut self, id: GradId, numel: usize) -> poolgrad_memory::Result<GradBuf> {
        let block = self.storage.insert_block(vec![0.0; numel]);
        self.storage.stats_mut().add_reserved(numel * 4);
        self.held.push(block);
        self.storage.bind(id, block, 0, numel, numel, false)
    }
    fn release(&mut self, buf: GradBuf) -> poolgrad_memory::Result<()> {
        self.storage.unbind(&buf)
    }
    fn end_step(&mut self) -> poolgrad_memory::Result<()> {
        for block in std::mem::take(&mut self.held) {
            let data = self.storage.take_block(block).unwrap_or_default();
            self.storage.stats_mut().sub_reserved(data.len() * 4);
        }
        self.storage.stats_mut().steps += 1;
        Ok(())
    }
}

fn make_hoard() -> Box<dyn GradAllocator> {
    Box::new(Hoard {
        storage: GradStorage::new("tests.hoard"),
        held: Vec::new(),
    })
}

register_allocator!(
    "tests.hoard",
    "keeps every gradient until end_step",
    make_hoard
);

#[test]
fn a_user_registered_allocator_is_selected_by_name() {
    assert!(poolgrad_memory::registry().names().contains(&"tests.hoard"));
    let lookup = |k: &str| (k == "POOLGRAD_ALLOCATOR").then(|| "tests.hoard".to_string());
    assert_eq!(
        poolgrad_memory::allocator_name_from_lookup(lookup).unwrap(),
        "tests.hoard"
    );
    let mut g = Graph::with_allocator("tests.hoard").unwrap();
    assert_eq!(g.allocator_name(), "tests.hoard");
    let mut reference = graph("system");
    for g in [&mut g, &mut reference] {
        let loss = random_tape(g, 4);
        g.backward(loss).unwrap();
    }
    for (p, q) in g.params().into_iter().zip(reference.params()) {
        assert_eq!(g.grad(p).map(bits), reference.grad(q).map(bits));
    }
    let s = g.mem_stats().grad;
    let total = g.grad_store().liveness().total_bytes();
    assert_eq!(s.peak_reserved_bytes, total, "it hoards every gradient");
    assert!(
        total > s.lower_bound_bytes,
        "so it needs more than the bound"
    );
    assert_eq!((s.reserved_bytes, s.live_bytes, s.steps), (0, 0, 1));
}

#[test]
fn a_failed_backward_gives_every_buffer_back() {
    for name in BUILTIN_ORDER {
        let mut g = graph(name);
        let z = g.param(Tensor::from_vec(vec![0.0, 1.0], &[2]).unwrap());
        let lz = g.log(z).unwrap(); // -inf at 0: the gradient flowing back is not finite
        let s = g.mul(lz, lz).unwrap();
        let t = g.tanh(s).unwrap();
        let l = g.sum(t).unwrap();
        g.set_detect_anomaly(true);
        let e = g.backward(l).unwrap_err();
        assert!(matches!(e, CoreError::NonFinite { .. }), "{name}: {e:?}");
        let s = g.mem_stats().grad;
        assert_eq!((s.live_bytes, s.steps), (0, 1), "{name}: nothing leaked");
        assert!(s.peak_live_bytes > 0);
        // The graph and its allocator stay usable.
        g.set_detect_anomaly(false);
        g.reset();
        let w = g.param(Tensor::ones(&[3]).unwrap());
        let y = g.mul(w, w).unwrap();
        let l = g.sum(y).unwrap();
        g.backward(l).unwrap();
        assert_eq!(g.grad(w).unwrap().data(), &[2.0; 3]);
        assert_eq!(g.mem_stats().grad.live_bytes, 0);
    }
}
