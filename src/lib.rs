//! poolgrad: a small, explicit CPU ML runtime that shows where neural-network speed and
//! memory come from.
//!
//! This facade re-exports the workspace crates: [`kernels`] (views, the kernel trait, the
//! registry), [`scheduler`] (kernel choice), [`core`] (autograd) and [`memory`] (gradient
//! allocators). Referencing this crate links [`plugins`], so their kernels are registered.
#![forbid(unsafe_code)]

pub mod data;
pub mod train;

pub use poolgrad_core as core;
pub use poolgrad_kernels as kernels;
pub use poolgrad_memory as memory;
pub use poolgrad_plugins as plugins;
pub use poolgrad_scheduler as scheduler;

/// What user code needs in one import: tensors, the graph, layers, optimizers, the
/// gradient checker and the error type.
pub mod prelude {
    pub use poolgrad_core::nn::{self, Activation, Linear, Mlp};
    pub use poolgrad_core::optim::{self, Adam, Sgd};
    pub use poolgrad_core::{
        CoreError, GradcheckOptions, GradcheckReport, Graph, Shape, Tensor, Var, gradcheck,
    };
}

/// Makes sure the plugin crate is linked wherever the facade is (the inventory pitfall).
#[doc(hidden)]
pub fn link_plugins() {
    poolgrad_plugins::link();
}
