//! `cove peering request|accept|reject|delete|list`: peering connections through the
//! API, with AWS's lifecycle.

use serde_json::json;

use super::client::{Conn, lines, table};
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
    List(Conn),
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
    /// The server and token.
    #[command(flatten)]
    pub conn: Conn,
}

/// A command on one peering.
#[derive(Debug, clap::Args)]
pub struct IdArgs {
    /// The peering's id (`pcx-…`).
    pub id: String,
    /// The server and token.
    #[command(flatten)]
    pub conn: Conn,
}

const SHOW: [&str; 4] = ["id", "status", "role", "status_message"];

/// Runs a `cove peering` subcommand.
pub fn run(cmd: &Command) -> anyhow::Result<Outcome> {
    let (conn, v) = match cmd {
        Command::Request(a) => {
            let mut body = json!({ "vpc_id": a.vpc, "peer_vpc_id": a.peer_vpc });
            if let Some(acc) = &a.peer_account {
                body["peer_owner_id"] = json!(acc);
            }
            (&a.conn, a.conn.call("POST", "/v1/peerings", Some(&body))?)
        }
        Command::Accept(a) => (
            &a.conn,
            a.conn
                .call("POST", &format!("/v1/peerings/{}/accept", a.id), None)?,
        ),
        Command::Reject(a) => (
            &a.conn,
            a.conn
                .call("POST", &format!("/v1/peerings/{}/reject", a.id), None)?,
        ),
        Command::Delete(a) => (
            &a.conn,
            a.conn
                .call("DELETE", &format!("/v1/peerings/{}", a.id), None)?,
        ),
        Command::List(c) => {
            let v = c.call("GET", "/v1/peerings", None)?;
            c.print(&v, |v| table(v, &["id", "status", "role"]));
            return Ok(Outcome::Ok);
        }
    };
    conn.print(&v, |v| lines(v, &SHOW));
    Ok(Outcome::Ok)
}
