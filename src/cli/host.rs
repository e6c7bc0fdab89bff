//! What machine and settings we run with: CPU model, chosen ISA, threads, allocator,
//! registered kernels, and every knob of the environment that changes a figure.

use crate::cli::CliResult;
use crate::cli::measure::BenchKnobs;
use poolgrad::kernels::{Isa, registry, settings};
use serde_json::{Value, json};

/// A one-line description of the CPU from /proc/cpuinfo (or the architecture elsewhere).
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// The host section of the report, read and validated from the environment.
#[derive(Clone, Debug)]
pub struct HostInfo {
    pub cpu: String,
    /// The ISA kernels use (the host's best, capped by `POOLGRAD_ISA`).
    pub isa: &'static str,
    /// Every ISA level this CPU has.
    pub host_isas: Vec<&'static str>,
    /// Threads a parallel kernel uses (1 when `POOLGRAD_PAR=0`).
    pub threads: usize,
    pub parallel: bool,
    /// The gradient allocator `POOLGRAD_ALLOCATOR` selects (default from the registry).
    pub allocator: &'static str,
    /// Every registered allocator.
    pub allocators: Vec<&'static str>,
    /// Every registered kernel, in registry order.
    pub kernels: Vec<&'static str>,
}

impl HostInfo {
    /// Reads the kernels crate's settings and `POOLGRAD_ALLOCATOR`.
    ///
    /// # Errors
    /// An invalid `POOLGRAD_*` value or a duplicate kernel registration.
    pub fn from_env() -> CliResult<HostInfo> {
        let s = settings()?;
        registry().check()?;
        let allocator = poolgrad::memory::allocator_name_from_lookup(|k| std::env::var(k).ok())?;
        Ok(HostInfo {
            cpu: cpu_model(),
            isa: s.isa.name(),
            host_isas: Isa::host_levels().iter().map(|i| i.name()).collect(),
            threads: s.par().threads(),
            parallel: s.parallel,
            allocator,
            allocators: poolgrad::memory::registry().names(),
            kernels: registry().names(),
        })
    }

    /// Prints the host table.
    pub fn print(&self) {
        println!("== host");
        println!("cpu         {}", self.cpu);
        println!(
            "isa         {} (host has: {})",
            self.isa,
            self.host_isas.join(", ")
        );
        println!(
            "threads     {} ({})",
            self.threads,
            if self.parallel {
                "parallel"
            } else {
                "serial: POOLGRAD_PAR=0"
            }
        );
        println!(
            "allocator   {} (registered: {})",
            self.allocator,
            self.allocators.join(", ")
        );
        println!("kernels     {}", self.kernels.join(", "));
    }

    /// The `host` object of the JSON outputs.
    pub fn to_json(&self) -> Value {
        json!({
            "cpu": self.cpu,
            "isa": self.isa,
            "host_isas": self.host_isas,
            "threads": self.threads,
            "parallel": self.parallel,
            "allocator": self.allocator,
            "allocators": self.allocators,
            "kernels": self.kernels,
        })
    }
}

/// The `settings` object of report.json: every knob that changes a figure, as in force.
///
/// # Errors
/// An invalid `POOLGRAD_*` value.
pub fn settings_json(knobs: &BenchKnobs) -> CliResult<Value> {
    let s = settings()?;
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    Ok(json!({
        "bench_warmup": knobs.warmup,
        "bench_trials": knobs.trials,
        "bench_budget_s": knobs.budget_s,
        "isa": s.isa.name(),
        "par": s.parallel,
        "threads": s.par().threads(),
        "force_kernel": env("POOLGRAD_FORCE_KERNEL"),
        "autotune": env("POOLGRAD_AUTOTUNE").unwrap_or_else(|| "cached".into()),
        "allocator": poolgrad::memory::allocator_name_from_lookup(|k| std::env::var(k).ok())?,
        "mp": {
            "max_size": s.mp.max_size,
            "base_threshold": s.mp.base_threshold,
            "recurse_min": s.mp.recurse_min,
            "packed_block": s.mp.packed_block,
        },
    }))
}
