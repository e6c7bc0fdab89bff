//! poolgrad-plugins: kernels registered from outside poolgrad-kernels, exactly as a user's
//! plugin crate would register its own (`poolgrad_kernels::register_kernel!`).
//!
//! - [`small::SmallKernel`] (`plugins.small`): small and skinny problems, no packing.
//!
//! `unsafe` is denied except at the one place that calls a `#[target_feature]` function
//! after run-time detection (see `small::run_serial`).
#![deny(unsafe_code)]

#[allow(unsafe_code)]
pub mod small;

/// Does nothing; calling it (or `use poolgrad_plugins as _;`) guarantees the crate is linked
/// so its `register_kernel!` entries reach the registry.
pub fn link() {}
