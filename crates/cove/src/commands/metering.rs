//! `cove metering`: what each tenant's interfaces sent in a month, per path, and
//! the private data transfer (peering and endpoints) an operator bills per GB —
//! from the month's file `cove serve` keeps (issue 14).

use crate::Outcome;
use crate::input::InputError;

/// Arguments of `cove metering`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The month, `YYYY-MM` (default: this month, UTC).
    #[arg(long)]
    pub month: Option<String>,
    /// The month's totals as JSON (per tenant and function, per path).
    #[arg(long)]
    pub json: bool,
    /// Which deployment.
    #[command(flatten)]
    pub target: crate::deploy::Target,
}

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    use cove_deploy::metering::{Month, load};
    let month = match &args.month {
        None => Month::now(),
        Some(text) => Month::parse(text).ok_or_else(|| InputError::Argument {
            what: "--month",
            text: text.clone(),
            hint: "write a month as YYYY-MM, e.g. 2026-12".to_owned(),
        })?,
    };
    let deployment = args.target.deployment()?;
    let totals = load(&deployment.target().metering(), &month);
    if args.json {
        crate::output::outln!("{}", serde_json::to_string_pretty(&totals)?);
        return Ok(Outcome::Ok);
    }
    if totals.tenants.is_empty() {
        crate::output::outln!(
            "{}: nothing metered (a running `cove serve` meters every tenant's traffic)",
            month.text()
        );
        return Ok(Outcome::Ok);
    }
    let gb = |b: u64| b as f64 / 1e9;
    let mut table = comfy_table::Table::new();
    table.set_header(["tenant", "path", "GB sent", "packets"]);
    for (tenant, paths) in &totals.tenants {
        for (path, sent) in paths {
            table.add_row([
                tenant.clone(),
                path.clone(),
                format!("{:.6}", gb(sent.bytes)),
                sent.packets.to_string(),
            ]);
        }
    }
    crate::output::outln!(
        "{}: traffic sent, per tenant and path\n{table}",
        month.text()
    );
    for (tenant, bytes) in totals.private_bytes() {
        crate::output::outln!(
            "{tenant}: private data transfer (peering + endpoints) {:.6} GB",
            gb(bytes)
        );
    }
    Ok(Outcome::Ok)
}
