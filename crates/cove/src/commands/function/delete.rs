//! `cove fn delete NAME`.

use crate::Outcome;
use crate::deploy::Target;
use crate::input::InputError;

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
}

/// Runs the command: removes the function and its network slots (and whatever
/// runs in them).
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let _lock = args.target.lock("fn delete")?;
    let mut deployed = args.target.deployed()?;
    let before = deployed.len();
    let matches = |d: &cove_model::spec::DeployedFunction| {
        d.function.name == args.name && args.vpc.as_deref().is_none_or(|v| v == d.vpc)
    };
    let vpcs: Vec<&str> = deployed
        .iter()
        .filter(|d| matches(d))
        .map(|d| d.vpc.as_str())
        .collect();
    if vpcs.len() > 1 {
        return Err(InputError::Argument {
            what: "function",
            text: args.name.clone(),
            hint: format!(
                "several tenants deployed a function of this name (in {}); say which with --vpc TENANT/VPC",
                vpcs.join(", ")
            ),
        }
        .into());
    }
    deployed.retain(|d| !matches(d));
    if deployed.len() == before {
        let in_spec = args
            .target
            .applied_network()?
            .is_some_and(|n| n.functions.iter().any(|f| f.name == args.name));
        let hint = if in_spec {
            "it is declared in the spec file: remove it there and run `cove apply -f SPEC`"
                .to_owned()
        } else {
            "ResourceNotFoundException: no such function; `cove fn list` shows the deployed ones"
                .to_owned()
        };
        return Err(InputError::Argument {
            what: "function",
            text: args.name.clone(),
            hint,
        }
        .into());
    }
    super::apply_deployed(&args.target, &deployed)?;
    crate::output::outln!("deleted function {} and its network slots", args.name);
    Ok(Outcome::Ok)
}
