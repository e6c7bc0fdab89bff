//! [`CoreError`]: every way a user can misuse the autograd API, each naming the op, the
//! shapes or values involved, and what is accepted.

use poolgrad_kernels::KernelError;
use poolgrad_memory::MemError;
use std::fmt;

/// Result alias for poolgrad-core.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;

/// Errors of the autograd engine. The graph is left unchanged by a failed op.
#[derive(Debug, Clone, PartialEq)]
pub enum CoreError {
    /// `data.len()` does not match the product of the shape.
    DataLength {
        /// The constructor or op.
        op: &'static str,
        /// Requested shape.
        shape: Vec<usize>,
        /// Elements the shape needs.
        expected: usize,
        /// Elements given.
        got: usize,
    },
    /// More dimensions than [`crate::MAX_RANK`], or an element count that overflows.
    BadShape {
        /// The constructor or op.
        op: &'static str,
        /// Requested dims.
        dims: Vec<usize>,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Two operands whose shapes must agree do not.
    ShapeMismatch {
        /// The op.
        op: &'static str,
        /// Left operand's shape.
        lhs: Vec<usize>,
        /// Right operand's shape.
        rhs: Vec<usize>,
        /// What the op accepts.
        accepted: &'static str,
    },
    /// Shapes that NumPy broadcasting cannot combine.
    Broadcast {
        /// The op.
        op: &'static str,
        /// Left operand's shape.
        lhs: Vec<usize>,
        /// Right operand's shape.
        rhs: Vec<usize>,
        /// First (right-aligned) output axis where they disagree.
        axis: usize,
    },
    /// An operand of the wrong rank for the op.
    Rank {
        /// The op.
        op: &'static str,
        /// The operand's shape.
        shape: Vec<usize>,
        /// What the op accepts.
        accepted: &'static str,
    },
    /// A class label not below the number of classes.
    LabelOutOfRange {
        /// The op.
        op: &'static str,
        /// Row of the batch.
        row: usize,
        /// The label found.
        label: usize,
        /// Number of classes (labels must be `< classes`).
        classes: usize,
    },
    /// Not one label per batch row.
    LabelCount {
        /// The op.
        op: &'static str,
        /// Labels given.
        labels: usize,
        /// Rows in the batch.
        batch: usize,
    },
    /// `backward` (or another op needing one value) from a non-scalar.
    NotScalar {
        /// The op.
        op: &'static str,
        /// The shape found.
        shape: Vec<usize>,
    },
    /// A `Var` made by a different graph.
    ForeignVar {
        /// The op.
        op: &'static str,
        /// Graph id the Var belongs to.
        var_graph: u32,
        /// This graph's id.
        graph: u32,
    },
    /// A `Var` made before the last `reset` (or not produced by this graph's tape).
    StaleVar {
        /// The op.
        op: &'static str,
        /// Generation the Var was made in.
        var_generation: u32,
        /// The graph's current generation.
        generation: u32,
    },
    /// A `param`-only operation was given a non-param `Var`.
    NotParam {
        /// The op.
        op: &'static str,
    },
    /// Anomaly detection: an op produced NaN or infinity.
    NonFinite {
        /// The op that produced it (`"<op> backward"` for gradients).
        op: &'static str,
        /// Shape of the offending output.
        shape: Vec<usize>,
        /// Flat index of the first non-finite element.
        index: usize,
        /// The element.
        value: f32,
    },
    /// An environment variable holds an invalid value.
    InvalidEnv {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// The accepted values.
        accepted: String,
    },
    /// An argument outside its valid range (e.g. a negative learning rate).
    InvalidArgument {
        /// The function.
        op: &'static str,
        /// What was wrong and what is accepted.
        detail: String,
    },
    /// The matmul kernel or scheduler refused.
    Kernel {
        /// The op.
        op: &'static str,
        /// The kernel error.
        source: KernelError,
    },
    /// The gradient allocator refused: an unknown allocator name (the message lists the
    /// registered ones), or an allocator that broke its protocol.
    Memory {
        /// The op.
        op: &'static str,
        /// The memory crate's error.
        source: MemError,
    },
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CoreError::*;
        match self {
            DataLength {
                op,
                shape,
                expected,
                got,
            } => write!(
                f,
                "{op}: shape {shape:?} needs {expected} elements but the data has {got}"
            ),
            BadShape { op, dims, reason } => write!(f, "{op}: shape {dims:?} refused: {reason}"),
            ShapeMismatch {
                op,
                lhs,
                rhs,
                accepted,
            } => write!(
                f,
                "{op}: shapes {lhs:?} and {rhs:?} do not fit; accepted: {accepted}"
            ),
            Broadcast { op, lhs, rhs, axis } => write!(
                f,
                "{op}: shapes {lhs:?} and {rhs:?} cannot be broadcast (axis {axis} from the right \
                 differs and neither is 1); accepted: equal dims or 1 on each right-aligned axis"
            ),
            Rank {
                op,
                shape,
                accepted,
            } => write!(
                f,
                "{op}: operand of shape {shape:?} has the wrong rank; accepted: {accepted}"
            ),
            LabelOutOfRange {
                op,
                row,
                label,
                classes,
            } => write!(
                f,
                "{op}: label {label} at row {row} is out of range; accepted: 0..{classes} ({classes} classes)"
            ),
            LabelCount { op, labels, batch } => write!(
                f,
                "{op}: {labels} labels for a batch of {batch} rows; accepted: one label per row"
            ),
            NotScalar { op, shape } => write!(
                f,
                "{op}: needs a scalar (one element) but got shape {shape:?}; reduce it first (sum, mean or a loss)"
            ),
            ForeignVar {
                op,
                var_graph,
                graph,
            } => write!(
                f,
                "{op}: Var belongs to graph #{var_graph}, not to this graph #{graph}; accepted: Vars made by this graph"
            ),
            StaleVar {
                op,
                var_generation,
                generation,
            } => write!(
                f,
                "{op}: Var from tape generation {var_generation} used after reset (now generation {generation}); \
                 accepted: params, or Vars made since the last reset"
            ),
            NotParam { op } => write!(
                f,
                "{op}: Var is not a param; accepted: Vars from Graph::param"
            ),
            NonFinite {
                op,
                shape,
                index,
                value,
            } => write!(
                f,
                "anomaly: {op} produced {value} at element {index} of its output of shape {shape:?}"
            ),
            InvalidEnv {
                var,
                value,
                accepted,
            } => write!(f, "{var}={value:?} is invalid; accepted: {accepted}"),
            InvalidArgument { op, detail } => write!(f, "{op}: {detail}"),
            Kernel { op, source } => write!(f, "{op}: {source}"),
            Memory { op, source } => write!(f, "{op}: {source}"),
        }
    }
}

impl std::error::Error for CoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CoreError::Kernel { source, .. } => Some(source),
            CoreError::Memory { source, .. } => Some(source),
            _ => None,
        }
    }
}
