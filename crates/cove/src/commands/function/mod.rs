//! `cove fn …`: functions attached to a VPC, in the local deployment or, with
//! `--server URL --token …`, through the API ([`remote`]).

pub mod delete;
pub mod deploy;
pub mod invoke;
pub mod list;
pub mod logs;
pub mod remote;

use crate::Outcome;

/// The `cove fn` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Deploy (or update) a function attached to subnets of an applied VPC.
    Deploy(deploy::Args),
    /// List the applied functions.
    List(list::Args),
    /// Delete a function deployed with `cove fn deploy`.
    Delete(delete::Args),
    /// Invoke a function and print its answer (exit 5 if the function failed).
    Invoke(invoke::Args),
    /// Print what the function's environments wrote to standard output and error.
    Logs(logs::Args),
}

/// Runs a `cove fn` subcommand.
pub fn run(cmd: &Command) -> anyhow::Result<Outcome> {
    match cmd {
        Command::Deploy(a) => deploy::run(a),
        Command::List(a) => list::run(a),
        Command::Delete(a) => delete::run(a),
        Command::Invoke(a) => invoke::run(a),
        Command::Logs(a) => logs::run(a),
    }
}

/// Prints a change's warnings.
pub fn warn(change: &cove_deploy::Change) {
    for w in &change.warnings {
        eprintln!("warning: {w}");
    }
}
