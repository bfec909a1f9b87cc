//! `cove apply -f spec.yaml`: make the kernel match the spec.

use std::path::PathBuf;
use std::time::Instant;

use crate::Outcome;
use crate::deploy::{self, Target};

/// Arguments of `cove apply`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The spec file (YAML).
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// Which deployment.
    #[command(flatten)]
    pub target: Target,
}

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let (net, text) = deploy::load(&args.file)?;
    let want = deploy::layout(&net, &args.target)?;
    let host = args.target.host()?;
    let observed = host.observe()?;
    let plan = cove_plan::diff(&observed, &want);
    if plan.is_empty() {
        println!(
            "nothing to change: the kernel already matches {} ({} namespaces)",
            args.file.display(),
            want.namespaces.len()
        );
    } else {
        host.apply(&plan)?;
        println!(
            "applied {} change(s) in {} namespace(s) in {:.0?}",
            plan.ops.len(),
            want.namespaces.len(),
            started.elapsed()
        );
    }
    args.target.record_applied(&text)?;
    Ok(Outcome::Ok)
}
