//! `cove fn delete NAME`.

use crate::Outcome;
use crate::deploy::Target;

/// Arguments of `cove fn delete`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The function.
    pub name: String,
    /// Its VPC (`tenant/vpc`), when tenants have functions of the same name.
    #[arg(long)]
    pub vpc: Option<String>,
    /// Which deployment.
    #[command(flatten)]
    pub target: Target,
    /// Through the API instead.
    #[command(flatten)]
    pub remote: super::remote::Remote,
    /// Print JSON (with `--server`).
    #[arg(long)]
    pub json: bool,
}

/// Runs the command: removes the function and its environment namespaces (and whatever
/// runs in them).
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    if let Some(c) = args.remote.conn(args.json)? {
        return super::remote::delete(&c, &args.name);
    }
    let deployment = args.target.deployment()?;
    let lock = deployment.lock("fn delete")?;
    let change = deployment.delete_function(&lock, &args.name, args.vpc.as_deref())?;
    super::warn(&change);
    deployment.reconcile(&lock)?;
    crate::output::outln!(
        "deleted function {} and its environment namespaces",
        args.name
    );
    Ok(Outcome::Ok)
}
