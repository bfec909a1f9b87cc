//! `cove endpoint-service list|accept|reject|connections`: a provider's endpoint
//! services (PrivateLink) and the consumers' endpoints connected to them, through
//! the API or embedded on the local store as `--tenant` (a change is then applied
//! by one reconciler tick in this process). The services themselves are part of
//! the tenant's spec (`endpoint_services:`).

use serde_json::json;

use super::client::table;
use super::embedded::Session;
use super::embedded::TenantApi;
use crate::Outcome;

/// The `cove endpoint-service` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List your endpoint services and the endpoints connected to them.
    List(TenantApi),
    /// Accept consumers' endpoints to one of your services.
    Accept(ChangeArgs),
    /// Reject (or revoke) consumers' endpoints to one of your services.
    Reject(ChangeArgs),
    /// List your own interface endpoints to other tenants' services, with their state.
    Connections(TenantApi),
}

/// `cove endpoint-service accept|reject`.
#[derive(Debug, clap::Args)]
pub struct ChangeArgs {
    /// Your service's name.
    pub service: String,
    /// The endpoints, as `list` shows them (`tenant/network/endpoint`).
    #[arg(required = true)]
    pub endpoints: Vec<String>,
    /// The server and token, or the local deployment and tenant.
    #[command(flatten)]
    pub api: TenantApi,
}

/// One row per connection (a service without any shows a `-` row).
fn rows(v: &serde_json::Value) -> serde_json::Value {
    let mut out = Vec::new();
    for s in v.as_array().map(Vec::as_slice).unwrap_or_default() {
        let conns = s["connections"].as_array().cloned().unwrap_or_default();
        if conns.is_empty() {
            out.push(json!({ "service": s["service_name"], "endpoint": null, "state": null }));
        }
        for c in conns {
            out.push(json!({ "service": s["service_name"], "endpoint": c["endpoint"], "state": c["state"] }));
        }
    }
    serde_json::Value::Array(out)
}

/// Runs a `cove endpoint-service` subcommand.
pub fn run(cmd: &Command) -> anyhow::Result<Outcome> {
    let (s, v): (Session, _) = match cmd {
        Command::List(a) => {
            let s = a.session()?;
            let v = s.call("GET", "/v1/endpoint-services", None)?;
            s.print(&v, |v| table(&rows(v), &["service", "endpoint", "state"]));
            return Ok(Outcome::Ok);
        }
        Command::Connections(a) => {
            let s = a.session()?;
            let v = s.call("GET", "/v1/endpoint-connections", None)?;
            s.print(&v, |v| {
                table(v, &["endpoint", "service", "state", "addresses"])
            });
            return Ok(Outcome::Ok);
        }
        Command::Accept(a) | Command::Reject(a) => {
            let verb = if matches!(cmd, Command::Accept(_)) {
                "accept"
            } else {
                "reject"
            };
            let s = a.api.session()?;
            let body = json!({ "endpoints": a.endpoints });
            let v = s.call(
                "POST",
                &format!("/v1/endpoint-services/{}/{verb}", a.service),
                Some(&body),
            )?;
            (s, v)
        }
    };
    // Applied to the kernel (embedded) before answering.
    let v = s.settle(v, None)?;
    s.print(&v, |v| {
        table(
            &rows(&serde_json::Value::Array(vec![v.clone()])),
            &["service", "endpoint", "state"],
        )
    });
    Ok(Outcome::Ok)
}
