//! `cove`: private networks for serverless functions — command-line interface.
//!
//! Exit status: 0 success (valid spec, REACHABLE, in sync), 3 a check found the flow
//! BLOCKED, 4 `status` found drift, 5 an invoked function failed, 2 invalid input (bad
//! spec, unknown ENI, unreadable file), 1 internal failure (including a damaged state
//! file), 6 busy (another cove command held the prefix's lock for `--lock-wait`
//! seconds); `exec` exits with its command's status. With `--json` a failure is also
//! a JSON document on standard output. A closed standard output is not a failure:
//! the output is dropped, the command finishes and exits with its usual status.

mod commands;
mod deploy;
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
    /// Secure Compute networks: through the API (`--server`, `--token`), or on the
    /// local store as `--tenant`.
    #[command(subcommand)]
    Network(commands::network::Command),
    /// Endpoint services (PrivateLink): a provider's services and the consumers'
    /// endpoints connected to them; through the API, or on the local store as
    /// `--tenant`.
    #[command(subcommand, name = "endpoint-service")]
    EndpointService(commands::endpoint_service::Command),
    /// Peering connections: through the API, or on the local store as `--tenant`.
    #[command(subcommand)]
    Peering(commands::peering::Command),
    /// Tenants: through the API (admin token), or on the local store.
    #[command(subcommand)]
    Tenant(commands::tenant::Command),
    /// API tokens: through the API, or on the local store.
    #[command(subcommand)]
    Token(commands::token::Command),
    /// The operator's public IP pool (networks' static IPs): through the API, or on
    /// the local store.
    #[command(subcommand)]
    IpPool(commands::ip_pool::Command),
    /// NAT gateway pairs: give a taken-over gateway its addresses back.
    #[command(subcommand)]
    Nat(commands::nat::Command),
    /// The records of the deployment's flow logs, filtered by flow log,
    /// interface, address, action and time.
    Flows(commands::flows::Args),
    /// What each tenant sent in a month, per path, and its private data transfer
    /// (peering and endpoints) in GB.
    Metering(commands::metering::Args),
    /// A tenant's access key for the object store, as AWS environment variables:
    /// through the API (the token's tenant), or on the local store as `--tenant`.
    AccessKey(commands::access_key::Args),
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

/// Exit status of a command that found the prefix busy.
pub const EXIT_BUSY: u8 = 6;

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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let json = cli.command.json();
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
        Command::Network(c) => commands::network::run(&c),
        Command::Peering(c) => commands::peering::run(&c),
        Command::EndpointService(c) => commands::endpoint_service::run(&c),
        Command::Tenant(c) => commands::tenant::run(&c),
        Command::Token(c) => commands::token::run(&c),
        Command::IpPool(c) => commands::ip_pool::run(&c),
        Command::Nat(c) => commands::nat::run(&c),
        Command::Flows(a) => commands::flows::run(&a),
        Command::Metering(a) => commands::metering::run(&a),
        Command::AccessKey(a) => commands::access_key::run(&a),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Blocked) => ExitCode::from(3),
        Ok(Outcome::Invalid) => ExitCode::from(2),
        Ok(Outcome::Drift) => ExitCode::from(4),
        Ok(Outcome::Exit(code)) => ExitCode::from(code),
        Ok(Outcome::FunctionError) => ExitCode::from(5),
        Err(err) => ExitCode::from(report_error(&err, json)),
    }
}

/// Prints a failed command's error (standard error; with `--json` also a JSON
/// document on standard output) and returns its exit status.
fn report_error(err: &anyhow::Error, json: bool) -> u8 {
    let deploy = err.downcast_ref::<cove_deploy::DeployError>();
    let busy = deploy.is_some_and(cove_deploy::DeployError::is_busy)
        || err.chain().any(|e| {
            matches!(
                e.downcast_ref(),
                Some(cove_scheduler::SchedulerError::Busy { .. })
            )
        });
    let input = err.downcast_ref::<input::InputError>();
    let invalid = input.is_some() || deploy.is_some_and(cove_deploy::DeployError::is_invalid_input);
    let (kind, code) = if busy {
        ("busy", EXIT_BUSY)
    } else if invalid {
        ("invalid_input", 2)
    } else {
        ("failed", 1)
    };
    let diagnostics = match input {
        Some(input::InputError::InvalidSpec { diagnostics, .. }) => Some(diagnostics.as_slice()),
        _ => deploy.and_then(cove_deploy::DeployError::diagnostics),
    };
    if json {
        let causes: Vec<String> = err.chain().skip(1).map(ToString::to_string).collect();
        output::print_json(&output::error_json(
            kind,
            &err.to_string(),
            &causes,
            code,
            diagnostics,
        ));
    } else if let Some(d) = diagnostics {
        output::print_diagnostics_stderr(d);
    }
    output::print_error_chain(err);
    code
}

/// A command line clap refused (exit status 2); with `--json` also as a JSON
/// document on standard output.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let json = std::env::args_os().any(|a| a == "--json");
    if !json || matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        e.exit();
    }
    let text = e.render().to_string();
    // The error without clap's usage and help lines, on one line.
    let message = text
        .split("\n\nUsage:")
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    output::print_json(&output::error_json("invalid_input", &message, &[], 2, None));
    eprint!("{text}");
    ExitCode::from(2)
}

impl Command {
    /// Whether the command was asked to answer in JSON.
    fn json(&self) -> bool {
        match self {
            Command::Validate(a) => a.json,
            Command::Check(a) => a.json,
            Command::Matrix(a) => a.json,
            Command::Import(commands::import::Source::Aws(a)) => a.json,
            Command::Plan(a) => a.json,
            Command::Apply(a) => a.json,
            Command::Destroy(a) => a.json,
            Command::Status(a) => a.json,
            Command::Function(commands::function::Command::List(a)) => a.json,
            Command::Network(_)
            | Command::Peering(_)
            | Command::EndpointService(_)
            | Command::Tenant(_)
            | Command::Token(_)
            | Command::IpPool(_) => std::env::args_os().any(|a| a == "--json"),
            _ => false,
        }
    }
}
