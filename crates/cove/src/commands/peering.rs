//! `cove peering request|accept|reject|delete|list`: peering connections with AWS's
//! lifecycle, through the API or embedded on the local store as `--tenant` (a
//! change is then applied by one reconciler tick in this process).

use serde_json::json;

use super::client::{field, lines, table};
use super::embedded::TenantApi;
use crate::Outcome;

/// The `cove peering` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Request a peering from one of your networks' VPCs to an account's VPC.
    Request(RequestArgs),
    /// Accept a pending request to one of your VPCs.
    Accept(IdArgs),
    /// Reject a pending request to one of your VPCs.
    Reject(IdArgs),
    /// Delete a peering.
    Delete(IdArgs),
    /// List your peerings (either side).
    List(TenantApi),
}

/// `cove peering request`.
#[derive(Debug, clap::Args)]
pub struct RequestArgs {
    /// Your network's VPC id (`vpc-…`).
    #[arg(long)]
    pub vpc: String,
    /// The accepter's VPC id.
    #[arg(long)]
    pub peer_vpc: String,
    /// The accepter's 12-digit account id; yours when omitted.
    #[arg(long)]
    pub peer_account: Option<String>,
    /// The server and token, or the local deployment and tenant.
    #[command(flatten)]
    pub api: TenantApi,
}

/// A command on one peering.
#[derive(Debug, clap::Args)]
pub struct IdArgs {
    /// The peering's id (`pcx-…`).
    pub id: String,
    /// The server and token, or the local deployment and tenant.
    #[command(flatten)]
    pub api: TenantApi,
}

const SHOW: [&str; 4] = ["id", "status", "role", "status_message"];

/// Runs a `cove peering` subcommand.
pub fn run(cmd: &Command) -> anyhow::Result<Outcome> {
    // The session, the answer, and whether to read the peering again once applied.
    let (s, v, again) = match cmd {
        Command::Request(a) => {
            let mut body = json!({ "vpc_id": a.vpc, "peer_vpc_id": a.peer_vpc });
            if let Some(acc) = &a.peer_account {
                body["peer_owner_id"] = json!(acc);
            }
            let s = a.api.session()?;
            let v = s.call("POST", "/v1/peerings", Some(&body))?;
            (s, v, true)
        }
        Command::Accept(a) => {
            let s = a.api.session()?;
            let v = s.call("POST", &format!("/v1/peerings/{}/accept", a.id), None)?;
            (s, v, true)
        }
        Command::Reject(a) => {
            let s = a.api.session()?;
            let v = s.call("POST", &format!("/v1/peerings/{}/reject", a.id), None)?;
            (s, v, false)
        }
        Command::Delete(a) => {
            let s = a.api.session()?;
            let v = s.call("DELETE", &format!("/v1/peerings/{}", a.id), None)?;
            (s, v, false)
        }
        Command::List(a) => {
            let s = a.session()?;
            let v = s.call("GET", "/v1/peerings", None)?;
            s.print(&v, |v| table(v, &["id", "status", "role"]));
            return Ok(Outcome::Ok);
        }
    };
    // Applied to the kernel (embedded), then read again: `active` once it is.
    let path = format!("/v1/peerings/{}", field(&v, "id"));
    let v = s.settle(v, again.then_some(path.as_str()))?;
    s.print(&v, |v| lines(v, &SHOW));
    Ok(Outcome::Ok)
}
