//! The backward walk: the plan (which nodes to visit, every gradient's lifetime), then one
//! pass over the tape in reverse, lending each op its gradient slices. Gradient memory is
//! touched only here and in `grad_store.rs`.

use crate::error::{CoreError, Result};
use crate::grad_store::{GradLife, GradOwner};
use crate::graph::{Graph, Node, Ref, Var, mem_err, temp_bytes};
use crate::ops;
use crate::tensor::Tensor;
use poolgrad_kernels::Accum;
use poolgrad_memory::{GradBuf, GradId};
use poolgrad_scheduler::Scheduler;

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

/// The gradient buffers of one node's inputs, prepared by [`Graph::backward`]'s walk (the
/// only code that maps values to gradient memory) and lent to the op's backward: a node's
/// is a slice of the allocator's buffer (released at its last use), a param's the data of
/// the graph's tensor (kept). Slices, not tensors: moving param tensors out and back per
/// node (memcpy calls of the entries) cost a fifth of a tiny node's forward + backward
/// (`tiny_ops`: 206–216 → 151–183 µs per 1000 nodes, Zen 5).
#[derive(Debug, Default)]
pub(crate) struct Grads<'a> {
    entries: [Option<(Ref, &'a mut [f32], Accum)>; 2],
}

impl Grads<'_> {
    /// The gradient buffer of input `r` and how to write it, or `None` when `r` reaches no
    /// param. The first write of a backward gets [`Accum::Replace`] (the buffer holds stale
    /// data and must be overwritten entirely, which saves a memset); later writes get
    /// [`Accum::Add`] (`+=`), so every contribution counts, also when an op uses one value
    /// as both inputs.
    pub(crate) fn slot(&mut self, r: Ref) -> Option<(&mut [f32], Accum)> {
        let (_, buf, accum) = self.entries.iter_mut().flatten().find(|e| e.0 == r)?;
        let first = std::mem::replace(accum, Accum::Add);
        Some((&mut **buf, first))
    }
}

/// Everything an op's backward may use.
#[derive(Debug)]
pub(crate) struct BackCtx<'a> {
    pub(crate) vals: Values<'a>,
    pub(crate) grads: Grads<'a>,
    pub(crate) scheduler: &'a Scheduler,
}

impl Graph {
    /// Fills every param gradient reached from `loss` with d loss / d param.
    ///
    /// Walks the tape once in reverse (no recursion), visiting only nodes that lie between a
    /// param and the loss; each op's backward adds (`+=`) into its inputs' gradients, so a
    /// value used several times gets every contribution. Intermediate gradients come from
    /// the graph's allocator ([`Graph::allocator_name`]) and are released right after their
    /// last use; param gradients are replaced (not accumulated across calls) and kept by the
    /// graph until the next backward.
    ///
    /// # Errors
    /// [`CoreError::NotScalar`] unless `loss` has one element; Var errors as
    /// [`Graph::value`]; [`CoreError::NonFinite`] with anomaly detection on; kernel errors;
    /// [`CoreError::Memory`] when the allocator refuses (a bug in it, not in the caller's
    /// input). After an error, no param has a gradient and the graph stays usable.
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
                let t = self.param_grads[i as usize]
                    .get_or_insert_with(|| Tensor::from_parts(vec![0.0; 1], shape));
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
        self.store.begin(&self.plan).map_err(mem_err("backward"))?;
        let result = self.walk(root);
        if result.is_err() {
            self.param_fresh.fill(false);
            for g in self.node_grads.iter_mut().filter_map(Option::take) {
                let given = self.store.give_back(g);
                debug_assert!(given.is_ok(), "{given:?}");
            }
        }
        let end = self.store.end().map_err(mem_err("backward"));
        self.peak_temp_bytes = self.peak_temp_bytes.max(temp_bytes());
        result.and(end)
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

    /// The backward walk. Gradient memory is touched only here (and in [`crate::GradStore`]):
    /// before each node's backward its inputs' gradients are allocated on first write, and
    /// the node's output gradient and its inputs' gradients are lent to the op as slices;
    /// after it, the output gradient is released (its last use).
    fn walk(&mut self, root: usize) -> Result<()> {
        let err = mem_err("backward");
        let seed = self.store.take(GradId(root), 1).map_err(&err)?;
        self.node_grads[root] = Some(seed);
        self.store.slice_mut(&seed).map_err(&err)?[0] = 1.0;
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
        let scheduler = scheduler.get();
        for &i in &plan.order {
            let i = i as usize;
            // The handle stays in `node_grads` until released, so an error path gives it back.
            let Some(gout) = node_grads[i] else {
                debug_assert!(false, "planned node {i} got no gradient");
                continue;
            };
            let node = &nodes[i];
            if *detect_anomaly {
                let data = store.slice(&gout).map_err(&err)?;
                if let Some((index, &value)) = data.iter().enumerate().find(|(_, x)| !x.is_finite())
                {
                    return Err(CoreError::NonFinite {
                        op: node.op.backward_name(),
                        shape: node.value.shape_info().into(),
                        index,
                        value,
                    });
                }
            }
            // Which inputs get a gradient (once each, even if an input repeats) and how it is
            // written; an intermediate one's buffer is allocated at its first write, a
            // param's exists (zeros when new) before it is lent.
            let inputs = node.op.inputs();
            let mut accums = [None, None];
            let mut bufs: [Option<GradBuf>; 2] = [None, None];
            let mut param_of = [None, None];
            for k in 0..2 {
                let Some(r) = inputs[k] else { continue };
                if k == 1 && inputs[0] == Some(r) {
                    continue;
                }
                match r {
                    Ref::Param(p) => {
                        let p = p as usize;
                        let fresh = std::mem::replace(&mut param_fresh[p], true);
                        accums[k] = Some(if fresh { Accum::Add } else { Accum::Replace });
                        param_grads[p].get_or_insert_with(|| {
                            let shape = params[p].shape_info();
                            Tensor::from_parts(vec![0.0; shape.numel()], shape)
                        });
                        param_of[k] = Some(p);
                    }
                    Ref::Node(j) if nodes[j as usize].needs_grad => {
                        let j = j as usize;
                        let (buf, accum) = match node_grads[j] {
                            Some(buf) => (buf, Accum::Add),
                            None => {
                                let numel = nodes[j].value.numel();
                                let buf = store.take(GradId(j), numel).map_err(&err)?;
                                node_grads[j] = Some(buf);
                                (buf, Accum::Replace)
                            }
                        };
                        bufs[k] = Some(buf);
                        accums[k] = Some(accum);
                    }
                    Ref::Node(_) => {}
                }
            }
            let param_data = param_slices(param_grads, param_of);
            let (gout_data, node_data) = store
                .lend(&gout, [bufs[0].as_ref(), bufs[1].as_ref()])
                .map_err(&err)?;
            let mut grads = Grads::default();
            let lent = node_data.into_iter().zip(param_data);
            for (k, (node_buf, param_buf)) in lent.enumerate() {
                if let (Some(r), Some(accum), Some(data)) =
                    (inputs[k], accums[k], node_buf.or(param_buf))
                {
                    grads.entries[k] = Some((r, data, accum));
                }
                debug_assert_eq!(
                    grads.entries[k].is_some(),
                    accums[k].is_some(),
                    "every target is lent"
                );
            }
            let mut ctx = BackCtx {
                vals,
                grads,
                scheduler,
            };
            let res = ops::backward(&node.op, &node.value, gout_data, &mut ctx);
            debug_assert!(
                res.is_err()
                    || ctx
                        .grads
                        .entries
                        .iter()
                        .flatten()
                        .all(|e| e.2 == Accum::Add),
                "an op left an input gradient unwritten"
            );
            store.record_step();
            node_grads[i] = None;
            store.give_back(gout).map_err(&err)?;
            res?;
        }
        Ok(())
    }
}

/// The data of the (existing) param gradients `which`, as two disjoint writable slices;
/// `None` where an entry names no param. The two indices differ (the walk lends each
/// input once).
fn param_slices(
    grads: &mut [Option<Tensor>],
    which: [Option<usize>; 2],
) -> [Option<&mut [f32]>; 2] {
    match which {
        [Some(a), Some(b)] if a != b => {
            let (lo, hi) = grads.split_at_mut(a.max(b));
            let (first, second) = (&mut lo[a.min(b)], &mut hi[0]);
            if a < b {
                [data(first), data(second)]
            } else {
                [data(second), data(first)]
            }
        }
        [Some(a), _] => [data(&mut grads[a]), None],
        [None, Some(b)] => [None, data(&mut grads[b])],
        [None, None] => [None, None],
    }
}

/// The data of a param gradient, if it exists.
fn data(t: &mut Option<Tensor>) -> Option<&mut [f32]> {
    t.as_mut().map(Tensor::data_mut)
}
