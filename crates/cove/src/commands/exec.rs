//! `cove exec ENI -- CMD ARGS…`: run a command inside an ENI's namespace.

use std::path::PathBuf;

use crate::Outcome;
use crate::deploy::Target;
use crate::input::InputError;

/// Arguments of `cove exec`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The spec that names the ENI (default: the last applied spec).
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Which deployment.
    #[command(flatten)]
    pub target: Target,
    /// The ENI (`tenant/vpc/eni`, `vpc/eni`, `eni`, an ENI id or a private IP).
    pub eni: String,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// Runs the command; its exit status becomes cove's.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let net = crate::deploy::network_arg(args.file.as_deref(), &args.target, true)?;
    let eni = net.find_eni(&args.eni).map_err(|e| InputError::Endpoint {
        what: "ENI",
        text: args.eni.clone(),
        reason: e.to_string(),
    })?;
    let ns = cove_plan::names::Names::new(&net, &args.target.prefix).eni_ns(eni);
    let status = args
        .target
        .deployment()?
        .kernel()
        .host
        .exec(&ns, &args.command)?;
    Ok(Outcome::Exit(
        status.code().map_or(1, |c| u8::try_from(c).unwrap_or(1)),
    ))
}
