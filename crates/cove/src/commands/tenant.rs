//! `cove tenant create|list`: the operator's tenants through the API (admin token).

use serde_json::json;

use super::client::{Conn, lines, table};
use crate::Outcome;

/// The `cove tenant` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a tenant (admin token).
    Create(CreateArgs),
    /// List the tenants (admin token).
    List(Conn),
}

/// `cove tenant create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Its unique name.
    pub name: String,
    /// The server and token.
    #[command(flatten)]
    pub conn: Conn,
}

/// Runs a `cove tenant` subcommand.
pub fn run(cmd: &Command) -> anyhow::Result<Outcome> {
    match cmd {
        Command::Create(a) => {
            let v = a
                .conn
                .call("POST", "/v1/tenants", Some(&json!({ "name": a.name })))?;
            a.conn
                .print(&v, |v| lines(v, &["id", "name", "account_id"]));
        }
        Command::List(c) => {
            let v = c.call("GET", "/v1/tenants", None)?;
            c.print(&v, |v| table(v, &["id", "name", "account_id"]));
        }
    }
    Ok(Outcome::Ok)
}
