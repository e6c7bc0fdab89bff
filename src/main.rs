//! The `poolgrad` command-line tool. `cargo run --release` runs the report.

use std::process::ExitCode;

mod cli;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    poolgrad::link_plugins();
    cli::main()
}
