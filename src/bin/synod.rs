//! The `synod` command line.
//!
//! Each subcommand lives in its own function; subcommands that belong to a
//! room (for example `inspect` to storage) call into that room and only
//! format its answers here.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Synod: a replicated control-plane log for membership and a fenced
/// range-ownership catalog.
#[derive(Debug, Parser)]
#[command(name = "synod", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the version.
    Version,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("synod {}", synod::VERSION);
            ExitCode::SUCCESS
        }
    }
}
