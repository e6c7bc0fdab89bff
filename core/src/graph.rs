//! [`Graph`]: the tape (nodes in creation order, already topological), params, the backward
//! walk, and the buffers that make a steady training loop reuse memory.

use crate::error::{CoreError, Result};
use crate::grad_store::{BackwardPlan, GradLife, GradOwner, GradStore};
use crate::ops::{self, Op};
use crate::tensor::{Shape, Tensor};
use poolgrad_kernels::Accum;
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

/// Read access to every value during backward.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Values<'a> {
    pub(crate) nodes: &'a [Node],
    pub(crate) params: &'a [Tensor],
    pub(crate) labels: &'a [usize],
}

impl<'a> Values<'a> {
    pub(crate) fn get(&self, r: Ref) -> &'a Tensor {
        match r {
            Ref::Param(i) => &self.params[i as usize],
            Ref::Node(i) => &self.nodes[i as usize].value,
        }
    }
}

/// A gradient buffer lent to one op's backward: a node's (freed at its last use) or a
/// param's (kept).
#[derive(Debug)]
enum GradBuf {
    Node(u32, Vec<f32>),
    Param(u32, Tensor),
}

/// The gradient buffers of one node's inputs, prepared by [`Graph::backward`]'s walk (the
/// only code that maps values to gradient memory) and lent to the op's backward.
#[derive(Debug, Default)]
pub(crate) struct Grads {
    entries: [Option<(Ref, GradBuf, Accum)>; 2],
}

impl Grads {
    /// The gradient buffer of input `r` and how to write it, or `None` when `r` reaches no
    /// param. The first write of a backward gets [`Accum::Replace`] (the buffer holds stale
    /// data and must be overwritten entirely, which saves a memset); later writes get
    /// [`Accum::Add`] (`+=`), so every contribution counts, also when an op uses one value
    /// as both inputs.
    pub(crate) fn slot(&mut self, r: Ref) -> Option<(&mut [f32], Accum)> {
        let (_, buf, accum) = self.entries.iter_mut().flatten().find(|e| e.0 == r)?;
        let first = std::mem::replace(accum, Accum::Add);
        let data = match buf {
            GradBuf::Node(_, v) => v.as_mut_slice(),
            GradBuf::Param(_, t) => t.data_mut(),
        };
        Some((data, first))
    }
}

/// Everything an op's backward may use.
#[derive(Debug)]
pub(crate) struct BackCtx<'a> {
    pub(crate) vals: Values<'a>,
    pub(crate) grads: Grads,
    pub(crate) scheduler: &'a Scheduler,
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
    param_grads: Vec<Option<Tensor>>,
    param_fresh: Vec<bool>,
    node_grads: Vec<Option<Vec<f32>>>,
    /// Scratch of `plan_backward`: each node's and param's entry in the plan.
    life_of: Vec<u32>,
    param_life: Vec<u32>,
    plan: BackwardPlan,
    store: GradStore,
    pub(crate) pool: ValuePool,
    scheduler: Scheduler,
    detect_anomaly: bool,
}

impl Graph {
    /// A graph configured from the environment: the scheduler (`POOLGRAD_FORCE_KERNEL`) and
    /// anomaly detection ([`ANOMALY_ENV`], `0` or `1`).
    ///
    /// # Errors
    /// [`CoreError::InvalidEnv`] for a bad [`ANOMALY_ENV`] value, [`CoreError::Kernel`] for
    /// an unknown forced kernel.
    pub fn new() -> Result<Graph> {
        let scheduler = Scheduler::from_env().map_err(|source| CoreError::Kernel {
            op: "Graph::new",
            source,
        })?;
        let mut g = Graph::with_scheduler(scheduler);
        g.detect_anomaly = anomaly_from_env(std::env::var(ANOMALY_ENV).ok().as_deref())?;
        Ok(g)
    }

    /// A graph using `scheduler` for its matmuls, anomaly detection off; reads no env.
    pub fn with_scheduler(scheduler: Scheduler) -> Graph {
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
            store: GradStore::new(),
            pool: ValuePool::default(),
            scheduler,
            detect_anomaly: false,
        }
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

    /// The scheduler running this graph's matmuls. (One line to switch to a process-wide
    /// scheduler when there is one.)
    pub(crate) fn scheduler(&self) -> &Scheduler {
        &self.scheduler
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
        for node in self.nodes.drain(..) {
            if node.pooled {
                self.pool.put(node.value.into_vec());
            }
            node.op.recycle(&mut self.pool);
        }
        for g in self.node_grads.iter_mut().filter_map(Option::take) {
            self.store.give_back(g);
        }
        self.node_grads.clear();
        self.labels.clear();
        self.generation = self.generation.wrapping_add(1);
    }

    /// Nodes on the tape now.
    pub fn tape_len(&self) -> usize {
        self.nodes.len()
    }

    /// Bytes of forward values on the tape now (ActivationBytes).
    pub fn activation_bytes(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| n.value.numel() * 4 + n.op.saved_bytes())
            .sum()
    }

    /// Bytes of recycled value buffers waiting for reuse.
    pub fn pooled_value_bytes(&self) -> usize {
        self.pool.free_bytes
    }

    /// The gradient store (the allocator seam) and its counters.
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

    fn needs(&self, r: Ref) -> bool {
        match r {
            Ref::Param(_) => true,
            Ref::Node(i) => self.nodes[i as usize].needs_grad,
        }
    }

    /// Appends an op's output; with anomaly detection on, refuses (and recycles) a
    /// non-finite output so the tape stays as it was.
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

    fn push_node(&mut self, op: Op, value: Tensor, pooled: bool) -> Var {
        let needs_grad = op.inputs().into_iter().flatten().any(|r| self.needs(r));
        let i = self.nodes.len() as u32;
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

    /// Fills every param gradient reached from `loss` with d loss / d param.
    ///
    /// Walks the tape once in reverse (no recursion), visiting only nodes that lie between a
    /// param and the loss; each op's backward adds (`+=`) into its inputs' gradients, so a
    /// value used several times gets every contribution. Intermediate gradients are given
    /// back to the [`GradStore`] right after use; param gradients are replaced (not
    /// accumulated across calls) and kept until the next backward.
    ///
    /// # Errors
    /// [`CoreError::NotScalar`] unless `loss` has one element; Var errors as
    /// [`Graph::value`]; [`CoreError::NonFinite`] with anomaly detection on; kernel errors.
    /// After an error, no param has a gradient and the graph stays usable.
    pub fn backward(&mut self, loss: Var) -> Result<()> {
        let r = self.resolve("backward", loss)?;
        let shape = self.val(r).shape_info();
        if shape.numel() != 1 {
            return Err(CoreError::NotScalar {
                op: "backward",
                shape: shape.into(),
            });
        }
        self.param_fresh.fill(false);
        let root = match r {
            Ref::Param(i) => {
                let store = &mut self.store;
                let t = self.param_grads[i as usize]
                    .get_or_insert_with(|| Tensor::from_parts(store.take(1), shape));
                t.data_mut()[0] = 1.0;
                self.param_fresh[i as usize] = true;
                return Ok(());
            }
            Ref::Node(i) => i as usize,
        };
        if !self.nodes[root].needs_grad {
            return Ok(());
        }
        self.plan_backward(root);
        self.store.begin(&self.plan);
        let result = self.walk(root);
        if result.is_err() {
            self.param_fresh.fill(false);
            for g in self.node_grads.iter_mut().filter_map(Option::take) {
                self.store.give_back(g);
            }
        }
        self.store.end();
        result
    }

    /// Marks the nodes backward must visit and records every gradient's lifetime.
    fn plan_backward(&mut self, root: usize) {
        // `life_of[j]`: index in `lives` of node j's gradient (u32::MAX: not reached yet);
        // `param_life`: the same for params. Entries are pushed when a gradient is first
        // written, so `lives` comes out sorted by `first_step` without a sort.
        let n = self.nodes.len();
        let life_of = &mut self.life_of;
        life_of.clear();
        life_of.resize(n, u32::MAX);
        let param_life = &mut self.param_life;
        param_life.clear();
        param_life.resize(self.params.len(), u32::MAX);
        self.plan.tape_len = n;
        let (order, lives) = (&mut self.plan.order, &mut self.plan.lives);
        order.clear();
        lives.clear();
        life_of[root] = 0;
        lives.push(GradLife {
            owner: GradOwner::Node(root as u32),
            numel: self.nodes[root].value.numel(),
            first_step: 0,
            last_step: 0,
        });
        for i in (0..=root).rev() {
            if life_of[i] == u32::MAX {
                continue;
            }
            let step = order.len() as u32;
            order.push(i as u32);
            lives[life_of[i] as usize].last_step = step;
            for input in self.nodes[i].op.inputs().into_iter().flatten() {
                let (slot, owner, numel) = match input {
                    Ref::Node(j) if self.nodes[j as usize].needs_grad => (
                        &mut life_of[j as usize],
                        GradOwner::Node(j),
                        self.nodes[j as usize].value.numel(),
                    ),
                    Ref::Param(p) => (
                        &mut param_life[p as usize],
                        GradOwner::Param(p),
                        self.params[p as usize].numel(),
                    ),
                    Ref::Node(_) => continue,
                };
                if *slot == u32::MAX {
                    *slot = lives.len() as u32;
                    lives.push(GradLife {
                        owner,
                        numel,
                        first_step: step,
                        last_step: u32::MAX,
                    });
                }
            }
        }
        self.node_grads.clear();
        self.node_grads.resize_with(n, || None);
    }

    /// The backward walk. Gradient memory is touched only here: before each node's backward
    /// its output gradient is taken and its inputs' gradient buffers are looked up (taken
    /// from the store on first write); after it, they are put back and the output gradient
    /// is given back to the store (its last use).
    fn walk(&mut self, root: usize) -> Result<()> {
        let mut seed = self.store.take(1);
        seed[0] = 1.0;
        self.node_grads[root] = Some(seed);
        let Graph {
            nodes,
            labels,
            params,
            param_grads,
            param_fresh,
            node_grads,
            plan,
            store,
            scheduler,
            detect_anomaly,
            ..
        } = self;
        let vals = Values {
            nodes,
            params,
            labels,
        };
        for &i in &plan.order {
            let i = i as usize;
            let Some(gout) = node_grads[i].take() else {
                debug_assert!(false, "planned node {i} got no gradient");
                continue;
            };
            let node = &nodes[i];
            if *detect_anomaly
                && let Some((index, &value)) = gout.iter().enumerate().find(|(_, x)| !x.is_finite())
            {
                store.give_back(gout);
                return Err(CoreError::NonFinite {
                    op: node.op.backward_name(),
                    shape: node.value.shape_info().into(),
                    index,
                    value,
                });
            }
            // Lend the inputs' gradient buffers (once each, even if an input repeats).
            let mut grads = Grads::default();
            for (k, r) in node.op.inputs().into_iter().enumerate() {
                let Some(r) = r else { continue };
                if grads.entries.iter().flatten().any(|e| e.0 == r) {
                    continue;
                }
                let entry = match r {
                    Ref::Param(p) => {
                        let p = p as usize;
                        let shape = params[p].shape_info();
                        let t = param_grads[p].take().unwrap_or_else(|| {
                            Tensor::from_parts(store.take(shape.numel()), shape)
                        });
                        let accum = if param_fresh[p] {
                            Accum::Add
                        } else {
                            Accum::Replace
                        };
                        param_fresh[p] = true;
                        (r, GradBuf::Param(p as u32, t), accum)
                    }
                    Ref::Node(j) if nodes[j as usize].needs_grad => {
                        match node_grads[j as usize].take() {
                            Some(v) => (r, GradBuf::Node(j, v), Accum::Add),
                            None => (
                                r,
                                GradBuf::Node(j, store.take(nodes[j as usize].value.numel())),
                                Accum::Replace,
                            ),
                        }
                    }
                    Ref::Node(_) => continue,
                };
                grads.entries[k] = Some(entry);
            }
            let mut ctx = BackCtx {
                vals,
                grads,
                scheduler,
            };
            let res = ops::backward(&node.op, &node.value, &gout, &mut ctx);
            for (_, buf, accum) in ctx.grads.entries.into_iter().flatten() {
                debug_assert!(
                    res.is_err() || accum == Accum::Add,
                    "an op left an input gradient unwritten"
                );
                match buf {
                    GradBuf::Node(j, v) => node_grads[j as usize] = Some(v),
                    GradBuf::Param(p, t) => param_grads[p as usize] = Some(t),
                }
            }
            store.give_back(gout);
            res?;
        }
        Ok(())
    }
}

/// Parses [`ANOMALY_ENV`]: unset or empty → off, `0`/`false` → off, `1`/`true` → on.
pub(crate) fn anomaly_from_env(value: Option<&str>) -> Result<bool> {
    match value.map(str::trim) {
        None | Some("") | Some("0") | Some("false") => Ok(false),
        Some("1") | Some("true") => Ok(true),
        Some(other) => Err(CoreError::InvalidEnv {
            var: ANOMALY_ENV,
            value: other.to_string(),
            accepted: "0, 1, false, true (or unset)",
        }),
    }
}
