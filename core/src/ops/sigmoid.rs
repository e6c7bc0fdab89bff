//! sigmoid `1 / (1 + e^-x)`, computed without overflow on either side; backward `y(1-y)`.

use crate::error::Result;
use crate::graph::{BackCtx, Graph, Ref, Var};
use crate::ops::{Op, write};
use crate::tensor::Tensor;

/// Logistic function; never evaluates `exp` of a large positive number.
pub(crate) fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

impl Graph {
    /// Element-wise logistic sigmoid.
    ///
    /// # Errors
    /// Var errors.
    pub fn sigmoid(&mut self, a: Var) -> Result<Var> {
        self.unary("sigmoid", a, sigmoid, Op::Sigmoid)
    }
}

/// `da += gout · y · (1 - y)`.
pub(crate) fn backward(a: Ref, out: &Tensor, gout: &[f32], ctx: &mut BackCtx<'_>) -> Result<()> {
    if let Some((ga, acc)) = ctx.grads.slot(a) {
        let d = gout.iter().zip(out.data());
        write(ga, acc, d.map(|(&go, &y)| go * y * (1.0 - y)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sigmoid_is_finite_at_extremes() {
        assert_eq!(super::sigmoid(-1000.0), 0.0);
        assert_eq!(super::sigmoid(1000.0), 1.0);
        assert!((super::sigmoid(0.0) - 0.5).abs() < 1e-7);
    }
}
