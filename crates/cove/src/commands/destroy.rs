//! `cove destroy`: remove every kernel object of a deployment.

use std::path::PathBuf;

use crate::Outcome;
use crate::deploy::Target;

/// Arguments of `cove destroy`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The spec file (accepted for symmetry with apply; everything under the prefix
    /// is removed, whatever the spec says).
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Which deployment.
    #[command(flatten)]
    pub target: Target,
    /// Print what was removed as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command. Continues past errors and reports all of them.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let deployment = args.target.deployment()?;
    let lock = deployment.lock("destroy")?;
    match deployment.destroy(&lock) {
        Ok(d) if args.json => {
            let doc = serde_json::json!({
                "prefix": args.target.prefix,
                "namespaces": d.namespaces,
                "environments": d.environments,
            });
            crate::output::outln!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(Outcome::Ok)
        }
        Ok(d) => {
            crate::output::outln!(
                "destroyed {} namespace(s) and {} execution environment(s) with prefix {}",
                d.namespaces,
                d.environments,
                args.target.prefix
            );
            Ok(Outcome::Ok)
        }
        Err(cove_deploy::DeployError::Destroy { prefix, errors }) => {
            for e in &errors {
                crate::output::print_error(e.as_ref());
            }
            Err(cove_deploy::DeployError::Destroy { prefix, errors }.into())
        }
        Err(e) => Err(e.into()),
    }
}
