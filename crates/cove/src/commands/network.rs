//! `cove network create|list|show|delete`: Secure Compute networks, through the API
//! or embedded on the local store as `--tenant` (a change is then applied by one
//! reconciler tick in this process, see `embedded.rs`).

use serde_json::json;

use super::client::{field, lines, table};
use super::embedded::TenantApi;
use crate::Outcome;

/// The `cove network` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a network (status `creating` until the kernel has it).
    Create(CreateArgs),
    /// List your networks.
    List(TenantApi),
    /// Show one network, by id or name.
    Show(IdArgs),
    /// Delete a network (`deleting`, then gone; its static IPs are released).
    Delete(IdArgs),
}

/// `cove network create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Its name, unique among your networks.
    pub name: String,
    /// Region (`us-east-1`).
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// The VPC block; a free /16 when omitted.
    #[arg(long)]
    pub cidr: Option<String>,
    /// Availability zones (comma-separated); `<region>a,<region>b` when omitted.
    #[arg(long, value_delimiter = ',')]
    pub azs: Vec<String>,
    /// How its NAT gateways fail over: `pair` (default with an even number of
    /// zones: one takes over the other's static IP and open connections) or
    /// `independent` (AWS's per-zone gateways).
    #[arg(long)]
    pub nat_failover: Option<String>,
    /// The server and token, or the local deployment and tenant.
    #[command(flatten)]
    pub api: TenantApi,
}

/// A command on one network.
#[derive(Debug, clap::Args)]
pub struct IdArgs {
    /// The network's id (`net-…`) or name.
    pub id: String,
    /// The server and token, or the local deployment and tenant.
    #[command(flatten)]
    pub api: TenantApi,
}

const SHOW: [&str; 9] = [
    "id",
    "name",
    "status",
    "cidr",
    "region",
    "availability_zones",
    "vpc_id",
    "static_ips",
    "nat_failover",
];

/// Runs a `cove network` subcommand.
pub fn run(cmd: &Command) -> anyhow::Result<Outcome> {
    match cmd {
        Command::Create(a) => {
            let mut body = json!({ "name": a.name, "region": a.region });
            if let Some(c) = &a.cidr {
                body["cidr"] = json!(c);
            }
            if !a.azs.is_empty() {
                body["availability_zones"] = json!(a.azs);
            }
            if let Some(f) = &a.nat_failover {
                body["nat_failover"] = json!(f);
            }
            let s = a.api.session()?;
            let v = s.call("POST", "/v1/connect/networks", Some(&body))?;
            let path = format!("/v1/connect/networks/{}", field(&v, "id"));
            let v = s.settle(v, Some(&path))?;
            s.print(&v, |v| lines(v, &SHOW));
        }
        Command::List(a) => {
            let s = a.session()?;
            let v = s.call("GET", "/v1/connect/networks", None)?;
            s.print(&v, |v| {
                table(v, &["id", "name", "status", "cidr", "static_ips"])
            });
        }
        Command::Show(a) => {
            let s = a.api.session()?;
            let v = s.call("GET", &format!("/v1/connect/networks/{}", a.id), None)?;
            s.print(&v, |v| lines(v, &SHOW));
        }
        Command::Delete(a) => {
            let s = a.api.session()?;
            let v = s.call("DELETE", &format!("/v1/connect/networks/{}", a.id), None)?;
            let v = s.settle(v, None)?;
            s.print(&v, |v| lines(v, &["id", "name", "status"]));
        }
    }
    Ok(Outcome::Ok)
}
