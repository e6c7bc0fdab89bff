//! [`Graph`]: the tape (nodes in creation order, already topological), params, the
//! allocator and scheduler a graph uses, and the buffers that make a steady training loop
//! reuse memory. The backward walk is in `backward.rs`.

pub(crate) use crate::backward::BackCtx;
use crate::error::{CoreError, Result};
use crate::grad_store::{BackwardPlan, BackwardTrace, GradStore};
use crate::ops::Op;
use crate::tensor::{Shape, Tensor};
use poolgrad_memory::{GradAllocator, GradBuf, MemError, RuntimeMemStats};
use poolgrad_scheduler::Scheduler;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT_GRAPH_ID: AtomicU32 = AtomicU32::new(1);

/// Environment variable that turns anomaly detection on (`1`) or off (`0`).
pub const ANOMALY_ENV: &str = "POOLGRAD_DETECT_ANOMALY";

/// Where a value lives: a param (survives `reset`) or a tape node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Ref {
    Param(u32),
    Node(u32),
}

/// A handle to a value in one [`Graph`]: small and `Copy`. It carries the graph's id and,
/// for tape values, the tape generation, so using it with another graph or after
/// [`Graph::reset`] is an error instead of a silent mix-up. Param Vars stay valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Var {
    graph: u32,
    generation: u32,
    slot: Ref,
}

impl Var {
    /// True for Vars made by [`Graph::param`].
    pub fn is_param(&self) -> bool {
        matches!(self.slot, Ref::Param(_))
    }
}

/// One tape entry: the op (its inputs and what its backward needs) and its output.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) op: Op,
    pub(crate) value: Tensor,
    /// Some param is reachable backwards from here.
    pub(crate) needs_grad: bool,
    /// `value`'s buffer came from the value pool and goes back to it on reset.
    pooled: bool,
}

/// Free list of forward-value buffers keyed by length, refilled by [`Graph::reset`], so a
/// steady loop reuses its activations instead of reallocating them.
#[derive(Debug, Default)]
pub(crate) struct ValuePool {
    free: crate::size_map::FreeLists,
    free_bytes: usize,
}

impl ValuePool {
    /// A buffer of `numel` elements with unspecified contents: the caller overwrites all.
    pub(crate) fn alloc(&mut self, numel: usize) -> Vec<f32> {
        match self.free.pop(numel) {
            Some(b) => {
                self.free_bytes -= numel * 4;
                b
            }
            None => vec![0.0; numel],
        }
    }

    pub(crate) fn put(&mut self, buf: Vec<f32>) {
        self.free_bytes += buf.len() * 4;
        self.free.push(buf);
    }
}

/// The scheduler a graph runs its matmuls through: the process-wide one (shared
/// calibration), or one of its own (tests, forced kernels).
#[derive(Debug)]
pub(crate) enum Sched {
    Global(&'static Scheduler),
    Own(Box<Scheduler>),
}

impl Sched {
    pub(crate) fn get(&self) -> &Scheduler {
        match self {
            Sched::Global(s) => s,
            Sched::Own(s) => s,
        }
    }
}

/// A dynamic autograd graph: ops append nodes to a tape as they run (forward), and
/// [`Graph::backward`] walks the tape in reverse to fill param gradients.
///
/// Params live outside the tape and survive [`Graph::reset`], which drops the tape and
/// recycles its buffers for the next step.
#[derive(Debug)]
pub struct Graph {
    id: u32,
    generation: u32,
    pub(crate) nodes: Vec<Node>,
    pub(crate) labels: Vec<usize>,
    pub(crate) params: Vec<Tensor>,
    pub(crate) param_grads: Vec<Option<Tensor>>,
    pub(crate) param_fresh: Vec<bool>,
    /// Live intermediate gradients during backward (handles into the allocator).
    pub(crate) node_grads: Vec<Option<GradBuf>>,
    /// Scratch of `plan_backward`: each node's and param's entry in the plan.
    pub(crate) life_of: Vec<u32>,
    pub(crate) param_life: Vec<u32>,
    pub(crate) plan: BackwardPlan,
    pub(crate) store: GradStore,
    pub(crate) pool: ValuePool,
    pub(crate) scheduler: Sched,
    pub(crate) detect_anomaly: bool,
    /// Bytes of values (and saved buffers) on the tape now, and the largest seen.
    act_bytes: usize,
    peak_act_bytes: usize,
    pub(crate) peak_temp_bytes: usize,
}

/// Maps a memory-crate error to [`CoreError`]: env errors keep their variable, value and
/// accepted names; the rest is [`CoreError::Memory`] under `op`.
pub(crate) fn mem_err(op: &'static str) -> impl Fn(MemError) -> CoreError {
    move |source| match source {
        MemError::InvalidEnv {
            var,
            value,
            accepted,
        } => CoreError::InvalidEnv {
            var,
            value,
            accepted,
        },
        source => CoreError::Memory { op, source },
    }
}

impl Graph {
    /// A graph configured from the environment: the gradient allocator
    /// (`POOLGRAD_ALLOCATOR`, default `planner`), the process-wide scheduler
    /// (`poolgrad_scheduler::global()`: `POOLGRAD_FORCE_KERNEL`, `POOLGRAD_AUTOTUNE`, …, read
    /// once per process, so every graph shares its calibration) and anomaly detection
    /// ([`ANOMALY_ENV`], `0` or `1`).
    ///
    /// # Errors
    /// [`CoreError::InvalidEnv`] for a bad [`ANOMALY_ENV`] or `POOLGRAD_ALLOCATOR` value
    /// (listing the registered allocators), [`CoreError::Kernel`] for a bad scheduler
    /// setting such as an unknown forced kernel.
    pub fn new() -> Result<Graph> {
        let alloc = poolgrad_memory::allocator_from_env().map_err(mem_err("Graph::new"))?;
        Graph::configured(alloc, "Graph::new")
    }

    /// As [`Graph::new`], with the allocator registered under `name` (e.g. `"pool"`)
    /// instead of `POOLGRAD_ALLOCATOR`.
    ///
    /// # Errors
    /// [`CoreError::Memory`] with the memory crate's `UnknownAllocator` (listing the
    /// registered names); otherwise as [`Graph::new`].
    pub fn with_allocator(name: &str) -> Result<Graph> {
        let alloc = poolgrad_memory::create(name).map_err(mem_err("Graph::with_allocator"))?;
        Graph::configured(alloc, "Graph::with_allocator")
    }

    fn configured(alloc: Box<dyn GradAllocator>, op: &'static str) -> Result<Graph> {
        let scheduler =
            poolgrad_scheduler::global().map_err(|source| CoreError::Kernel { op, source })?;
        let detect_anomaly = anomaly_from_env(std::env::var(ANOMALY_ENV).ok().as_deref())?;
        let mut g = Graph::build(Sched::Global(scheduler), alloc);
        g.detect_anomaly = detect_anomaly;
        log::debug!("graph #{}: allocator '{}'", g.id, g.allocator_name());
        Ok(g)
    }

    /// A graph using its own `scheduler` for its matmuls (e.g. one with a forced kernel),
    /// the default allocator (`planner`) and anomaly detection off; reads no env.
    pub fn with_scheduler(scheduler: Scheduler) -> Graph {
        let alloc = poolgrad_memory::create(poolgrad_memory::DEFAULT_ALLOCATOR)
            .expect("the default allocator is built in");
        Graph::build(Sched::Own(Box::new(scheduler)), alloc)
    }

    fn build(scheduler: Sched, alloc: Box<dyn GradAllocator>) -> Graph {
        Graph {
            id: NEXT_GRAPH_ID.fetch_add(1, Ordering::Relaxed),
            generation: 0,
            nodes: Vec::new(),
            labels: Vec::new(),
            params: Vec::new(),
            param_grads: Vec::new(),
            param_fresh: Vec::new(),
            node_grads: Vec::new(),
            life_of: Vec::new(),
            param_life: Vec::new(),
            plan: BackwardPlan::default(),
            store: GradStore::new(alloc),
            pool: ValuePool::default(),
            scheduler,
            detect_anomaly: false,
            act_bytes: 0,
            peak_act_bytes: 0,
            peak_temp_bytes: 0,
        }
    }

    /// Replaces the gradient allocator (e.g. one built outside the registry) and returns
    /// the previous one. Takes effect at the next backward; param gradients are unaffected.
    pub fn set_allocator(&mut self, alloc: Box<dyn GradAllocator>) -> Box<dyn GradAllocator> {
        self.store.set_allocator(alloc)
    }

    /// The registered name of the gradient allocator, e.g. `"planner"`.
    pub fn allocator_name(&self) -> &'static str {
        self.store.allocator().name()
    }

    /// The whole memory picture: the allocator's gradient statistics (intermediate
    /// gradients), param gradient bytes, activations on the tape (and the recycled ones
    /// waiting), and TempBytes: the matmul kernels' packing buffers
    /// (`poolgrad_kernels::scratch_bytes()`, process-wide, every thread).
    pub fn mem_stats(&self) -> RuntimeMemStats {
        let temp = temp_bytes();
        RuntimeMemStats {
            grad: self.store.stats(),
            param_grad_bytes: self
                .param_grads
                .iter()
                .flatten()
                .map(|t| t.numel() * 4)
                .sum(),
            activation_bytes: self.act_bytes,
            peak_activation_bytes: self.peak_act_bytes,
            cached_activation_bytes: self.pool.free_bytes,
            temp_bytes: temp,
            peak_temp_bytes: self.peak_temp_bytes.max(temp),
        }
    }

    /// Restarts every peak (gradients, activations, temporaries) from the current values,
    /// e.g. to measure one step.
    pub fn reset_mem_peaks(&mut self) {
        self.store.reset_peaks();
        self.peak_act_bytes = self.act_bytes;
        self.peak_temp_bytes = temp_bytes();
    }

    /// Turns on (or off) recording, for each backward, of the live and reserved gradient
    /// bytes at every step ([`Graph::backward_trace`]). Off by default.
    pub fn set_trace_backward(&mut self, on: bool) {
        self.store.set_trace(on);
    }

    /// The per-step trace of the last backward, when recording is on.
    pub fn backward_trace(&self) -> Option<&BackwardTrace> {
        self.store.trace()
    }

    /// Turns the anomaly check on or off: when on, the first op whose output (or, in
    /// backward, whose incoming gradient) holds NaN or infinity returns
    /// [`CoreError::NonFinite`] naming it.
    pub fn set_detect_anomaly(&mut self, on: bool) {
        self.detect_anomaly = on;
    }

    /// Whether the anomaly check is on.
    pub fn detect_anomaly(&self) -> bool {
        self.detect_anomaly
    }

    /// The scheduler running this graph's matmuls: the process-wide one unless the graph
    /// was made by [`Graph::with_scheduler`].
    pub fn scheduler(&self) -> &Scheduler {
        self.scheduler.get()
    }

    /// A value without gradient (inputs, targets). Its buffer is dropped on reset.
    pub fn constant(&mut self, t: Tensor) -> Var {
        self.push_node(Op::Leaf, t, false)
    }

    /// A constant copied into a recycled buffer: allocation-free in a steady loop.
    ///
    /// # Errors
    /// [`CoreError::DataLength`] / [`CoreError::BadShape`] as [`Tensor::from_vec`].
    pub fn constant_from_slice(&mut self, data: &[f32], shape: &[usize]) -> Result<Var> {
        let s = Shape::checked("Graph::constant_from_slice", shape)?;
        if s.numel() != data.len() {
            return Err(CoreError::DataLength {
                op: "Graph::constant_from_slice",
                shape: shape.to_vec(),
                expected: s.numel(),
                got: data.len(),
            });
        }
        let mut buf = self.pool.alloc(data.len());
        buf.copy_from_slice(data);
        Ok(self.push_node(Op::Leaf, Tensor::from_parts(buf, s), true))
    }

    /// A trainable value: gets a gradient from [`Graph::backward`], survives [`Graph::reset`].
    pub fn param(&mut self, t: Tensor) -> Var {
        let i = self.params.len() as u32;
        self.params.push(t);
        self.param_grads.push(None);
        self.param_fresh.push(false);
        Var {
            graph: self.id,
            generation: 0,
            slot: Ref::Param(i),
        }
    }

    /// The param Vars, in creation order.
    pub fn params(&self) -> Vec<Var> {
        (0..self.params.len() as u32)
            .map(|i| Var {
                graph: self.id,
                generation: 0,
                slot: Ref::Param(i),
            })
            .collect()
    }

    /// Number of params.
    pub fn num_params(&self) -> usize {
        self.params.len()
    }

    /// The value of `v`.
    ///
    /// # Errors
    /// [`CoreError::ForeignVar`] / [`CoreError::StaleVar`] for a Var not valid here.
    pub fn value(&self, v: Var) -> Result<&Tensor> {
        let r = self.resolve("value", v)?;
        Ok(self.val(r))
    }

    /// The gradient of `v` from the last [`Graph::backward`]: `Some` for params that the
    /// loss reached. Intermediate gradients are freed as soon as backward has used them,
    /// so `None` for everything else (also for foreign or stale Vars).
    pub fn grad(&self, v: Var) -> Option<&Tensor> {
        match self.resolve("grad", v).ok()? {
            Ref::Param(i) if self.param_fresh[i as usize] => self.param_grads[i as usize].as_ref(),
            _ => None,
        }
    }

    /// The writable value of a param (for optimizers and for gradient checking).
    ///
    /// # Errors
    /// [`CoreError::NotParam`] for a tape Var; foreign Vars as [`Graph::value`].
    pub fn param_value_mut(&mut self, v: Var) -> Result<&mut Tensor> {
        match self.resolve("param_value_mut", v)? {
            Ref::Param(i) => Ok(&mut self.params[i as usize]),
            Ref::Node(_) => Err(CoreError::NotParam {
                op: "param_value_mut",
            }),
        }
    }

    /// Every param's value with its gradient from the last backward (`None` when the loss
    /// did not reach it), in creation order: what optimizers update.
    pub fn params_and_grads_mut(&mut self) -> impl Iterator<Item = (&mut Tensor, Option<&Tensor>)> {
        self.params
            .iter_mut()
            .zip(self.param_grads.iter().zip(&self.param_fresh))
            .map(|(p, (g, &fresh))| (p, if fresh { g.as_ref() } else { None }))
    }

    /// Drops the tape: every Var but params becomes invalid. Params, their values and their
    /// gradients are kept; the tape's buffers go to free lists for the next step.
    pub fn reset(&mut self) {
        // Buffers are taken out of the nodes in place (moving whole nodes out cost a
        // store-forwarding stall each), then the emptied nodes are dropped.
        for node in &mut self.nodes {
            if node.pooled {
                self.pool.put(node.value.take_data());
            }
            std::mem::replace(&mut node.op, Op::Leaf).recycle(&mut self.pool);
        }
        self.nodes.clear();
        debug_assert!(
            self.node_grads.iter().all(Option::is_none),
            "backward gives every intermediate gradient back"
        );
        self.node_grads.clear();
        self.labels.clear();
        self.act_bytes = 0;
        self.generation = self.generation.wrapping_add(1);
    }

    /// Nodes on the tape now.
    pub fn tape_len(&self) -> usize {
        self.nodes.len()
    }

    /// Bytes of forward values on the tape now (ActivationBytes), saved buffers included.
    pub fn activation_bytes(&self) -> usize {
        self.act_bytes
    }

    /// Bytes of recycled value buffers waiting for reuse.
    pub fn pooled_value_bytes(&self) -> usize {
        self.pool.free_bytes
    }

    /// The gradient store (the allocator and its statistics).
    pub fn grad_store(&self) -> &GradStore {
        &self.store
    }

    /// The plan of the last backward walk (visit order and gradient lifetimes).
    pub fn last_backward_plan(&self) -> &BackwardPlan {
        &self.plan
    }

    /// Checks that `v` belongs to this graph and tape generation.
    pub(crate) fn resolve(&self, op: &'static str, v: Var) -> Result<Ref> {
        if v.graph != self.id {
            return Err(CoreError::ForeignVar {
                op,
                var_graph: v.graph,
                graph: self.id,
            });
        }
        match v.slot {
            Ref::Param(i) if (i as usize) < self.params.len() => Ok(v.slot),
            Ref::Node(i) if v.generation == self.generation && (i as usize) < self.nodes.len() => {
                Ok(v.slot)
            }
            _ => Err(CoreError::StaleVar {
                op,
                var_generation: v.generation,
                generation: self.generation,
            }),
        }
    }

    pub(crate) fn val(&self, r: Ref) -> &Tensor {
        match r {
            Ref::Param(i) => &self.params[i as usize],
            Ref::Node(i) => &self.nodes[i as usize].value,
        }
    }

    pub(crate) fn needs(&self, r: Ref) -> bool {
        match r {
            Ref::Param(_) => true,
            Ref::Node(i) => self.nodes[i as usize].needs_grad,
        }
    }

    /// Appends an op's output; with anomaly detection on, refuses (and recycles) a
    /// non-finite output so the tape stays as it was.
    // `push` and `push_node` are always inlined into the ops' forwards: the node is then
    // built where the op made its parts (forward of `tiny_ops` 8% faster on Zen 1).
    #[inline(always)]
    pub(crate) fn push(&mut self, op: Op, data: Vec<f32>, shape: Shape) -> Result<Var> {
        if self.detect_anomaly
            && let Some((index, &value)) = data.iter().enumerate().find(|(_, x)| !x.is_finite())
        {
            let name = op.name();
            self.pool.put(data);
            op.recycle(&mut self.pool);
            return Err(CoreError::NonFinite {
                op: name,
                shape: shape.into(),
                index,
                value,
            });
        }
        Ok(self.push_node(op, Tensor::from_parts(data, shape), true))
    }

    #[inline(always)]
    fn push_node(&mut self, op: Op, value: Tensor, pooled: bool) -> Var {
        let needs_grad = op.inputs().into_iter().flatten().any(|r| self.needs(r));
        let i = self.nodes.len() as u32;
        self.act_bytes += value.numel() * 4 + op.saved_bytes();
        self.peak_act_bytes = self.peak_act_bytes.max(self.act_bytes);
        self.nodes.push(Node {
            op,
            value,
            needs_grad,
            pooled,
        });
        Var {
            graph: self.id,
            generation: self.generation,
            slot: Ref::Node(i),
        }
    }
}

/// TempBytes: bytes reserved by the matmul kernels' packing buffers, process-wide.
pub(crate) fn temp_bytes() -> usize {
    poolgrad_kernels::scratch_bytes()
}

/// Parses [`ANOMALY_ENV`]: unset or empty → off, `0`/`false` → off, `1`/`true` → on.
pub(crate) fn anomaly_from_env(value: Option<&str>) -> Result<bool> {
    match value.map(str::trim) {
        None | Some("") | Some("0") | Some("false") => Ok(false),
        Some("1") | Some("true") => Ok(true),
        Some(other) => Err(CoreError::InvalidEnv {
            var: ANOMALY_ENV,
            value: other.to_string(),
            accepted: "0, 1, false, true (or unset)".to_string(),
        }),
    }
}
