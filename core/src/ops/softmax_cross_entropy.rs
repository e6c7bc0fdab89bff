//! Softmax cross-entropy over integer labels, mean over the batch, with a stable
//! log-sum-exp; the softmax is saved so backward is `(p - onehot)/batch`.

use crate::error::{CoreError, Result};
use crate::graph::{BackCtx, Graph, Ref, Var};
use crate::ops::Op;
use crate::tensor::Shape;
use poolgrad_kernels::Accum;

impl Graph {
    /// `mean_i( logsumexp(logits_i) - logits_i[labels_i] )` for `logits: [batch, classes]`.
    ///
    /// # Errors
    /// [`CoreError::Rank`] unless logits are `[batch >= 1, classes >= 1]`;
    /// [`CoreError::LabelCount`] unless there is one label per row;
    /// [`CoreError::LabelOutOfRange`] for a label `>= classes`; Var errors.
    pub fn softmax_cross_entropy(&mut self, logits: Var, labels: &[usize]) -> Result<Var> {
        const OP: &str = "softmax_cross_entropy";
        let rl = self.resolve(OP, logits)?;
        let x = self.val(rl);
        let (batch, classes) = match *x.shape() {
            [b, c] if b > 0 && c > 0 => (b, c),
            _ => {
                return Err(CoreError::Rank {
                    op: OP,
                    shape: x.shape_info().into(),
                    accepted: "rank 2 [batch >= 1, classes >= 1]",
                });
            }
        };
        if labels.len() != batch {
            return Err(CoreError::LabelCount {
                op: OP,
                labels: labels.len(),
                batch,
            });
        }
        if let Some((row, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= classes) {
            return Err(CoreError::LabelOutOfRange {
                op: OP,
                row,
                label,
                classes,
            });
        }
        let mut probs = self.pool.alloc(batch * classes);
        let x = self.val(rl);
        let mut total = 0.0f64;
        for ((row, p), &label) in x
            .data()
            .chunks_exact(classes)
            .zip(probs.chunks_exact_mut(classes))
            .zip(labels)
        {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut s = 0.0f32;
            for (p, &v) in p.iter_mut().zip(row) {
                *p = (v - max).exp();
                s += *p;
            }
            let inv = 1.0 / s;
            p.iter_mut().for_each(|p| *p *= inv);
            // loss_i = logsumexp - x[label] = ln(s) + max - x[label]; the subtraction
            // is done before adding ln(s) so large logits cancel exactly.
            total += (s.ln() + (max - row[label])) as f64;
        }
        let start = self.labels.len() as u32;
        self.labels.extend_from_slice(labels);
        let mut out = self.pool.alloc(1);
        out[0] = (total / batch as f64) as f32;
        let op = Op::SoftmaxCrossEntropy {
            logits: rl,
            start,
            probs,
        };
        let res = self.push(op, out, Shape::scalar());
        if res.is_err() {
            self.labels.truncate(start as usize);
        }
        res
    }
}

/// `dlogits += gout/batch · (softmax - onehot(label))`.
pub(crate) fn backward(
    logits: Ref,
    start: u32,
    probs: &[f32],
    gout: &[f32],
    ctx: &mut BackCtx<'_>,
) -> Result<()> {
    let x = ctx.vals.get(logits);
    let (batch, classes) = (x.shape()[0], x.shape()[1]);
    let labels = &ctx.vals.labels[start as usize..start as usize + batch];
    let c = gout[0] / batch as f32;
    if let Some((gl, acc)) = ctx.grads.slot(logits) {
        if acc == Accum::Replace {
            gl.fill(0.0);
        }
        for ((g, p), &label) in gl
            .chunks_exact_mut(classes)
            .zip(probs.chunks_exact(classes))
            .zip(labels)
        {
            for (g, &p) in g.iter_mut().zip(p) {
                *g += c * p;
            }
            g[label] -= c;
        }
    }
    Ok(())
}
