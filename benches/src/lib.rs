//! Shared helpers for poolgrad's criterion benches (see `benches/benches/`).
#![forbid(unsafe_code)]
