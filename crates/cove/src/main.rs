//! `cove`: private networks for serverless functions — command-line interface.
//!
//! Exit status: 0 success (valid spec, REACHABLE, in sync), 3 a check found the flow
//! BLOCKED, 4 `status` found drift, 5 an invoked function failed, 2 invalid input (bad
//! spec, unknown ENI, unreadable file), 1 internal failure; `exec` exits with its
//! command's status.

mod commands;
mod deploy;
mod input;
mod output;
mod state;

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
    /// Show the kernel changes an apply would make and the flows it opens and closes.
    Plan(commands::plan::Args),
    /// Make the kernel match the spec (namespaces, links, routes, firewall).
    Apply(commands::apply::Args),
    /// Compare the kernel with the spec and list every drift (exit 0 / 4).
    Status(commands::status::Args),
    /// Remove every kernel object of the deployment.
    Destroy(commands::destroy::Args),
    /// Run a command inside an ENI's network namespace.
    Exec(commands::exec::Args),
    /// Functions: deploy, list, delete, invoke.
    #[command(subcommand, name = "fn")]
    Function(commands::function::Command),
    /// Run the function service: Lambda's Invoke API and function URLs over HTTP.
    Serve(commands::serve::Args),
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
    /// The kernel does not match the spec.
    Drift,
    /// Exit with this status (from a command run by `cove exec`).
    Exit(u8),
    /// An invoked function failed (its error document was printed).
    FunctionError,
}

/// The hidden first argument that makes `cove` an execution environment's init
/// (used when `cove-env-init` is not installed beside it).
pub const ENV_INIT_COMMAND: &str = "__env-init";

fn main() -> ExitCode {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == ENV_INIT_COMMAND)
    {
        cove_sandbox::init_main();
    }
    let cli = Cli::parse();
    // What cove writes is root's alone (state, logs, locks), whatever else sets
    // explicit modes; commands it runs for the user (`cove exec`) keep the usual mask.
    if !matches!(cli.command, Command::Exec(_)) {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    }
    let result = match cli.command {
        Command::Validate(a) => commands::validate::run(&a),
        Command::Check(a) => commands::check::run(&a),
        Command::Matrix(a) => commands::matrix::run(&a),
        Command::Import(s) => commands::import::run(&s),
        Command::Plan(a) => commands::plan::run(&a),
        Command::Apply(a) => commands::apply::run(&a),
        Command::Status(a) => commands::status::run(&a),
        Command::Destroy(a) => commands::destroy::run(&a),
        Command::Exec(a) => commands::exec::run(&a),
        Command::Function(c) => commands::function::run(&c),
        Command::Serve(a) => commands::serve::run(&a),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Blocked) => ExitCode::from(3),
        Ok(Outcome::Invalid) => ExitCode::from(2),
        Ok(Outcome::Drift) => ExitCode::from(4),
        Ok(Outcome::Exit(code)) => ExitCode::from(code),
        Ok(Outcome::FunctionError) => ExitCode::from(5),
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
