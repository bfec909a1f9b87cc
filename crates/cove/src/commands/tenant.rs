//! `cove tenant create|list`: the operator's tenants, through the API (admin token)
//! or embedded on the local store (as the local operator).

use serde_json::json;

use super::client::{lines, table};
use super::embedded::Api;
use crate::Outcome;

/// The `cove tenant` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a tenant (admin token, or the local store).
    Create(CreateArgs),
    /// List the tenants (admin token, or the local store).
    List(Api),
}

/// `cove tenant create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Its unique name.
    pub name: String,
    /// The server and token, or the local deployment.
    #[command(flatten)]
    pub api: Api,
}

/// Runs a `cove tenant` subcommand.
pub fn run(cmd: &Command) -> anyhow::Result<Outcome> {
    match cmd {
        Command::Create(a) => {
            let s = a.api.session()?;
            let v = s.call("POST", "/v1/tenants", Some(&json!({ "name": a.name })))?;
            s.print(&v, |v| lines(v, &["id", "name", "account_id"]));
        }
        Command::List(a) => {
            let s = a.session()?;
            let v = s.call("GET", "/v1/tenants", None)?;
            s.print(&v, |v| table(v, &["id", "name", "account_id"]));
        }
    }
    Ok(Outcome::Ok)
}
