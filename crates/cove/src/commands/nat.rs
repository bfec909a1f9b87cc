//! `cove nat`: the NAT gateway pairs of the local deployment (issue 11).

use anyhow::Context;

use crate::Outcome;
use crate::input::InputError;

/// `cove nat …`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Give a taken-over NAT gateway its addresses back now (without waiting for
    /// `cove serve --nat-failback-after`); if it is still down, the next look takes
    /// it over again.
    FailBack(FailBackArgs),
}

/// `cove nat fail-back`.
#[derive(Debug, clap::Args)]
pub struct FailBackArgs {
    /// The gateway, `<tenant>/<vpc>/<name>` (`cove status -f SPEC` lists the pairs).
    pub gateway: String,
    /// Which deployment.
    #[command(flatten)]
    pub target: crate::deploy::Target,
}

/// Runs a `cove nat` subcommand.
pub fn run(cmd: &Command) -> anyhow::Result<Outcome> {
    match cmd {
        Command::FailBack(a) => fail_back(a),
    }
}

fn fail_back(a: &FailBackArgs) -> anyhow::Result<Outcome> {
    let deployment = a.target.deployment()?;
    let store = deployment.store();
    let snapshot = store.snapshot()?;
    let records = cove_deploy::store::docs::nat_takeovers_of(&snapshot)
        .context("reading the NAT gateways' failover state")?;
    let Some(rest) = cove_deploy::failover::fail_back(&records, &a.gateway) else {
        let carried: Vec<String> = records
            .iter()
            .map(|r| format!("{}/{}", r.vpc, r.gateway))
            .collect();
        return Err(InputError::Argument {
            what: "GATEWAY",
            text: a.gateway.clone(),
            hint: if carried.is_empty() {
                "no NAT gateway is taken over: each carries its own addresses".to_owned()
            } else {
                format!("taken over now: {}", carried.join(", "))
            },
        }
        .into());
    };
    let generation = cove_deploy::Generation::of(snapshot.generation);
    store.set_nat_takeovers(generation, &rest)?;
    crate::output::outln!(
        "{}: fail-back recorded; the running `cove serve` gives it its addresses back (or takes it over again if it is still down)",
        a.gateway
    );
    Ok(Outcome::Ok)
}
