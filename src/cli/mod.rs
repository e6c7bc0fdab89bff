//! Command-line parsing and dispatch: one file per subcommand.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod host;
mod measure;
#[allow(dead_code)] // wired into the report by issue 6
mod plot;
mod report;

/// poolgrad: see where neural-network speed and memory come from.
#[derive(Debug, Parser)]
#[command(name = "poolgrad", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The full report (the default): host, kernels, correctness and speed.
    Report(report::ReportArgs),
}

/// Parses arguments, runs the subcommand and turns errors into a message and exit code 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => report::run(&report::ReportArgs::default()),
        Some(Command::Report(args)) => report::run(&args),
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
