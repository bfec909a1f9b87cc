//! `cove status -f spec.yaml`: compare the kernel with the spec; list every drift.

use crate::Outcome;
use crate::deploy::SpecTarget;

/// Arguments of `cove status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The spec and deployment.
    #[command(flatten)]
    pub spec: SpecTarget,
    /// Print the drift as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command (exit 0 in sync, 4 drift).
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let deployment = args.spec.target.deployment()?;
    let text = crate::input::read_spec(&args.spec.file)?;
    let net = deployment.validate_spec(&args.spec.file, &text)?;
    let cove_deploy::Plan {
        layout: want,
        changes: plan,
        ..
    } = deployment.preview(net)?;
    if args.json {
        let doc = serde_json::json!({ "in_sync": plan.is_empty(), "repairs": plan.ops });
        crate::output::outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else if plan.is_empty() {
        crate::output::outln!(
            "in sync: {} namespace(s) match {}",
            want.namespaces.len(),
            args.spec.file.display()
        );
    } else {
        crate::output::outln!(
            "DRIFT: {} repair(s) needed (`cove apply -f {}` makes them):",
            plan.ops.len(),
            args.spec.file.display()
        );
        crate::output::out!("{plan}");
    }
    Ok(if plan.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Drift
    })
}
