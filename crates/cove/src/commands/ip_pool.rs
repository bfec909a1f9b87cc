//! `cove ip-pool add|list|remove`: the operator's public IP pool (the static IPs of
//! networks' NAT gateways) through the API (admin token) or embedded on the local
//! store (as the local operator): `GET /v1/ip-pool`, and `PATCH /v1/ip-pool`
//! (decided on the current pool, so two operators adding blocks at once both keep
//! theirs).

use serde_json::{Value, json};

use super::embedded::Api;
use crate::Outcome;

/// The `cove ip-pool` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Add public addresses or blocks to the pool (admin token, or the local store).
    Add(BlocksArgs),
    /// List the pool's blocks (admin token, or the local store).
    List(Api),
    /// Remove blocks from the pool, as listed (admin token, or the local store); an address a network
    /// holds as its static IP cannot be removed.
    Remove(BlocksArgs),
}

/// `cove ip-pool add|remove`.
#[derive(Debug, clap::Args)]
pub struct BlocksArgs {
    /// Addresses (`203.0.113.7`) or CIDR blocks (`203.0.113.0/28`).
    #[arg(required = true)]
    pub blocks: Vec<String>,
    /// The server and token, or the local deployment.
    #[command(flatten)]
    pub api: Api,
}

/// The pool's blocks, one a line, then how many addresses were ever released.
fn text(v: &Value) -> String {
    let mut out = String::new();
    for b in v["blocks"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        out.push_str(b.as_str().unwrap_or_default());
        out.push('\n');
    }
    if out.is_empty() {
        out.push_str("(the pool is empty)\n");
    }
    let released = v["released_at"].as_object().map_or(0, |m| m.len());
    if released > 0 {
        out.push_str(&format!("released addresses: {released}\n"));
    }
    out
}

/// Runs a `cove ip-pool` subcommand.
pub fn run(cmd: &Command) -> anyhow::Result<Outcome> {
    let (session, v) = match cmd {
        Command::Add(a) => {
            let s = a.api.session()?;
            let v = s.call("PATCH", "/v1/ip-pool", Some(&json!({ "add": a.blocks })))?;
            (s, v)
        }
        Command::Remove(a) => {
            let s = a.api.session()?;
            let v = s.call("PATCH", "/v1/ip-pool", Some(&json!({ "remove": a.blocks })))?;
            (s, v)
        }
        Command::List(a) => {
            let s = a.session()?;
            let v = s.call("GET", "/v1/ip-pool", None)?;
            (s, v)
        }
    };
    session.print(&v, text);
    Ok(Outcome::Ok)
}
