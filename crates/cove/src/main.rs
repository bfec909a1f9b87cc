//! `cove`: private networks for serverless functions — command-line interface.
//!
//! Exit status: 0 success (valid spec, REACHABLE), 3 a check found the flow BLOCKED,
//! 2 invalid input (bad spec, unknown ENI, unreadable file), 1 internal failure.

mod commands;
mod input;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Private networks for serverless functions, with AWS VPC semantics.
#[derive(Debug, Parser)]
#[command(name = "cove", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a spec and report every problem at once (exit 0 valid, 2 invalid).
    Validate(commands::validate::Args),
    /// Explain whether a flow is REACHABLE or BLOCKED, hop by hop (exit 0 / 3).
    Check(commands::check::Args),
    /// All-pairs reachability between ENIs for one or more ports.
    Matrix(commands::matrix::Args),
    /// Import from another system.
    #[command(subcommand)]
    Import(commands::import::Source),
}

/// What a command concluded, mapped onto the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Success.
    Ok,
    /// A checked flow is blocked.
    Blocked,
    /// The input was invalid (already reported).
    Invalid,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(a) => commands::validate::run(&a),
        Command::Check(a) => commands::check::run(&a),
        Command::Matrix(a) => commands::matrix::run(&a),
        Command::Import(s) => commands::import::run(&s),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Blocked) => ExitCode::from(3),
        Ok(Outcome::Invalid) => ExitCode::from(2),
        Err(err) => {
            output::print_error_chain(&err);
            if err.downcast_ref::<input::InputError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
