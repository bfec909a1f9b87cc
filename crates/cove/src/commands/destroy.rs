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
}

/// Runs the command. Continues past errors and reports all of them.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let host = args.target.host()?;
    let _lock = args.target.lock("destroy")?;
    let destroyed = host.destroy();
    // Execution environments: their processes died with their namespaces; their
    // cgroups go too (whoever launched them).
    let reaped = cove_sandbox::remove_all(&format!("cove-{}", args.target.prefix), None);
    match destroyed {
        Ok(n) => {
            let envs = reaped.map_err(|e| {
                anyhow::Error::new(e).context("removing the execution environments' cgroups")
            })?;
            args.target.forget_applied()?;
            crate::output::outln!(
                "destroyed {n} namespace(s) and {} execution environment(s) with prefix {}",
                envs.reaped.len(),
                args.target.prefix
            );
            Ok(Outcome::Ok)
        }
        Err(errors) => {
            let count = errors.len();
            for e in errors {
                crate::output::print_error_chain(&anyhow::Error::new(e));
            }
            anyhow::bail!(
                "{count} error(s) while destroying prefix {}; run `cove destroy` again after fixing them",
                args.target.prefix
            )
        }
    }
}
