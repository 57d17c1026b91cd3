//! Command-line parsing and the exit-code contract: 0 all passed (or allowed to fail),
//! 1 a job failed, 2 bad input, 3 ponyswarm or Docker could not do its part.

mod plan;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code for bad input: a malformed matrix, an unknown option.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code when ponyswarm or Docker could not do its part.
pub const EXIT_INFRA: u8 = 3;

/// Test Python projects across a matrix, each job in a clean, offline container.
#[derive(Debug, Parser)]
#[command(name = "ponyswarm", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse, validate and expand a matrix file; print its jobs.
    Plan {
        /// The matrix file (ponyswarm.yaml).
        file: PathBuf,
        /// Print a JSON array, one object per job, instead of a table.
        #[arg(long)]
        json: bool,
        /// Keep only jobs whose matrix has KEY=VALUE (repeatable; the same key
        /// twice means either value).
        #[arg(long, value_name = "KEY=VALUE")]
        filter: Vec<String>,
    },
}

/// What went wrong at the top, mapped to an exit code.
pub enum Failure {
    /// The user's input is wrong (exit 2).
    BadInput(String),
    /// ponyswarm or Docker could not do its part (exit 3).
    Infra(String),
}

pub fn main() -> ExitCode {
    init_tracing();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { ExitCode::from(EXIT_BAD_INPUT) } else { ExitCode::SUCCESS };
        }
    };
    let result = match cli.command {
        Command::Plan { file, json, filter } => plan::plan(&file, json, &filter),
    };
    match result {
        Ok(code) => code,
        Err(Failure::BadInput(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
        Err(Failure::Infra(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(EXIT_INFRA)
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PONYSWARM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
