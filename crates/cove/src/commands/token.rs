//! `cove token create|revoke`: API tokens (the secret is shown once), through the
//! API or embedded on the local store (as the local operator).

use serde_json::json;

use super::client::lines;
use super::embedded::Api;
use crate::Outcome;

/// The `cove token` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a token for a tenant (admin token, or one of the tenant's).
    Create(CreateArgs),
    /// Revoke a token (at once).
    Revoke(RevokeArgs),
}

/// `cove token create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The tenant's id (`ten-…`).
    #[arg(long)]
    pub tenant: String,
    /// When it stops working (Unix seconds); never when omitted.
    #[arg(long)]
    pub expires_at: Option<u64>,
    /// Free text.
    #[arg(long)]
    pub description: Option<String>,
    /// The server and token, or the local deployment.
    #[command(flatten)]
    pub api: Api,
}

/// `cove token revoke`.
#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// The token's id (`tok-…`).
    pub id: String,
    /// The server and token, or the local deployment.
    #[command(flatten)]
    pub api: Api,
}

/// Runs a `cove token` subcommand.
pub fn run(cmd: &Command) -> anyhow::Result<Outcome> {
    match cmd {
        Command::Create(a) => {
            let body = json!({ "expires_at": a.expires_at, "description": a.description });
            let path = format!("/v1/tenants/{}/tokens", a.tenant);
            let s = a.api.session()?;
            let v = s.call("POST", &path, Some(&body))?;
            s.print(&v, |v| {
                format!(
                    "{}secret: {} (shown once: keep it now)\n",
                    lines(&v["token"], &["id"]),
                    v["secret"].as_str().unwrap_or_default()
                )
            });
        }
        Command::Revoke(a) => {
            let s = a.api.session()?;
            let v = s.call("DELETE", &format!("/v1/tokens/{}", a.id), None)?;
            s.print(&v, |v| lines(v, &["id", "revoked_at"]));
        }
    }
    Ok(Outcome::Ok)
}
