//! poolgrad-plugins: kernels registered from outside poolgrad-kernels, exactly as a user's
//! plugin crate would register its own.
#![forbid(unsafe_code)]

/// Does nothing; calling it (or `use poolgrad_plugins as _;`) guarantees the crate is linked
/// so its `register_kernel!` entries reach the registry.
pub fn link() {}
