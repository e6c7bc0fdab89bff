//! Command-line parsing and dispatch: one file per subcommand.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod autotune;
mod bench;
mod calibration;
mod correctness;
mod host;
mod kernels;
mod measure;
mod memory;
mod output;
mod plot;
mod progress;
mod report;
mod train;

/// poolgrad: see where neural-network speed and memory come from.
#[derive(Debug, Parser)]
#[command(name = "poolgrad", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The full report (the default): host, calibration, correctness, kernel speed,
    /// memory, training; writes report.json and SVG plots.
    Report(report::ReportArgs),
    /// Time kernels on chosen sizes and shapes: median, p95, GFLOP/s, ratio to the best.
    Bench(bench::BenchArgs),
    /// Train an MLP classifier on the digits data (or a CSV): loss, accuracy, time.
    Train(train::TrainArgs),
    /// Calibrate shapes now, print kernel timings and the winners, write the tune cache.
    Autotune(autotune::AutotuneArgs),
    /// List registered kernels: availability on this CPU, ISA, cost hint, description.
    Kernels(kernels::KernelsArgs),
    /// Gradient memory: the training loop under each allocator, the step breakdown, and a
    /// kernel × allocator table.
    Memory(memory::MemoryArgs),
}

/// Parses arguments, runs the subcommand and turns errors into a message and exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => report::run(&report::ReportArgs::default()),
        Some(Command::Report(args)) => report::run(&args),
        Some(Command::Autotune(args)) => autotune::run(&args),
        Some(Command::Kernels(args)) => kernels::run(&args),
        Some(Command::Bench(args)) => bench::run(&args),
        Some(Command::Train(args)) => train::run(&args),
        Some(Command::Memory(args)) => memory::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("poolgrad: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The error type of CLI commands: any library error, printed with its message.
pub type CliResult<T = ()> = Result<T, Box<dyn std::error::Error>>;
