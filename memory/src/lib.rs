//! poolgrad-memory: gradient allocators (system, pool, planner) and their statistics.
//!
//! **Status: not yet built** — the allocators land with issue 5.
#![forbid(unsafe_code)]
