//! poolgrad-core: tensors, the autograd tape, ops, nn and optimizers.
//!
//! **Status: not yet built** — the autograd engine lands with issue 4.
#![forbid(unsafe_code)]
