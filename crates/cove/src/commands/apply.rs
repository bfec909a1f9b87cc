//! `cove apply -f spec.yaml`: make the spec the desired state and the kernel match
//! it.

use std::time::Instant;

use crate::Outcome;
use crate::deploy::SpecTarget;

/// Arguments of `cove apply`.
pub type Args = SpecTarget;

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let deployment = args.target.deployment()?;
    let lock = deployment.lock("apply")?;
    let text = crate::input::read_spec(&args.file)?;
    // Validated, every function's code checked and stored, then recorded; then the
    // kernel is made to match.
    deployment.set_spec(&lock, &args.file, &text)?;
    let applied = deployment.reconcile(&lock)?;
    if applied.changes == 0 {
        crate::output::outln!(
            "nothing to change: the kernel already matches {} ({} namespaces)",
            args.file.display(),
            applied.namespaces
        );
    } else {
        crate::output::outln!(
            "applied {} change(s) in {} namespace(s) in {:.0?}",
            applied.changes,
            applied.namespaces,
            started.elapsed()
        );
    }
    Ok(Outcome::Ok)
}
