//! `cove apply -f spec.yaml`: make the kernel match the spec.

use std::time::Instant;

use crate::Outcome;
use crate::deploy::{self, SpecTarget};

/// Arguments of `cove apply`.
pub type Args = SpecTarget;

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let _lock = args.target.lock("apply")?;
    let deploy::Comparison {
        network,
        text,
        desired: want,
        host,
        plan,
    } = deploy::compare(args)?;
    // Every function's code is checked and stored before the kernel is touched.
    let code = deploy::snapshot_code(&network, &args.file, &args.target)?;
    if plan.is_empty() {
        crate::output::outln!(
            "nothing to change: the kernel already matches {} ({} namespaces)",
            args.file.display(),
            want.namespaces.len()
        );
    } else {
        host.apply(&plan)?;
        crate::output::outln!(
            "applied {} change(s) in {} namespace(s) in {:.0?}",
            plan.ops.len(),
            want.namespaces.len(),
            started.elapsed()
        );
    }
    args.target.record_applied(&text, &code)?;
    crate::deploy::reap_orphan_environments(&args.target)?;
    Ok(Outcome::Ok)
}
