//! poolgrad-plugins: kernels registered from outside poolgrad-kernels, exactly as a user's
//! plugin crate would register its own (`poolgrad_kernels::register_kernel!`).
//!
//! - [`small::SmallKernel`] (`plugins.small`): small and skinny problems, no packing.
//! - `anchors::*` (feature `anchors`): faer, matrixmultiply and (feature `openblas`) OpenBLAS
//!   registered as kernels `anchors.*`, for side-by-side measurement.
//!
//! `unsafe` is denied except at the one place that calls a `#[target_feature]` function
//! after run-time detection (see `small::run_serial`).
#![deny(unsafe_code)]

#[allow(unsafe_code)]
pub mod small;

#[cfg(feature = "anchors")]
#[allow(unsafe_code)]
pub mod anchors;

/// Which anchor kernels (other libraries' matmuls, feature `anchors`) this build has, and
/// which were skipped and why, one line each.
pub fn anchor_notes() -> Vec<String> {
    #[cfg(feature = "anchors")]
    {
        anchors::notes()
    }
    #[cfg(not(feature = "anchors"))]
    {
        vec![
            "anchors: not built (cargo --features anchors; OpenBLAS also --features openblas)"
                .to_string(),
        ]
    }
}

/// Does nothing; calling it (or `use poolgrad_plugins as _;`) guarantees the crate is linked
/// so its `register_kernel!` entries reach the registry.
pub fn link() {}
