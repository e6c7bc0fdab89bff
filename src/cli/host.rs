//! What machine we are on: CPU model, chosen ISA, threads.

use poolgrad::kernels::{Isa, settings};

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

/// Prints the host section.
pub fn print_host() -> crate::cli::CliResult {
    let s = settings()?;
    let levels: Vec<&str> = Isa::host_levels().iter().map(|i| i.name()).collect();
    println!("== host");
    println!("cpu        {}", cpu_model());
    println!("isa        {} (host has: {})", s.isa, levels.join(", "));
    println!(
        "threads    {} ({})",
        s.threads,
        if s.parallel {
            "parallel"
        } else {
            "serial: POOLGRAD_PAR=0"
        }
    );
    let names = poolgrad::kernels::registry().names();
    println!("kernels    {}", names.join(", "));
    Ok(())
}
