//! `cove validate -f spec.yaml`

use std::path::PathBuf;

use crate::{Outcome, input, output};

/// Arguments of `cove validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The spec file (YAML).
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// Through a server: validate the file as the caller's tenant spec (`POST
    /// /v1/plan`, nothing stored), with the server's codes and field paths.
    #[command(flatten)]
    pub remote: super::client::Remote,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    if let Some(conn) = args.remote.conn(args.json)? {
        let text = input::read_spec(&args.file)?;
        let ct = super::apply::content_type(&args.file);
        return match conn.call_text("POST", "/v1/plan", ct, &text) {
            Ok(_) => {
                let doc = serde_json::json!({ "valid": true, "diagnostics": [] });
                conn.print(&doc, |_| {
                    format!("valid: {} as your tenant spec\n", args.file.display())
                });
                Ok(Outcome::Ok)
            }
            Err(super::client::ClientError::Api {
                status: 400..=499,
                code,
                message,
                field,
                hint,
                request_id,
                ..
            }) if code != "AuthFailure" => {
                let doc = serde_json::json!({
                    "valid": false,
                    "diagnostics": [{ "code": code, "path": field, "message": message, "hint": hint }],
                    "request_id": request_id,
                });
                conn.print(&doc, |_| {
                    format!(
                        "error[{code}] {}: {message}\n  hint: {hint}\n",
                        field.as_deref().unwrap_or("spec")
                    )
                });
                Ok(Outcome::Invalid)
            }
            Err(e) => Err(e.into()),
        };
    }
    let v = input::read_and_validate(&args.file)?;
    let valid = v.network.is_some();
    if args.json {
        let summary = v.network.as_ref().map(|n| {
            serde_json::json!({
                "tenants": n.tenants.len(), "vpcs": n.vpcs.len(), "subnets": n.subnets.len(),
                "enis": n.enis.len(), "peerings": n.peerings.len(),
            })
        });
        let doc = serde_json::json!({
            "valid": valid,
            "diagnostics": v.diagnostics,
            "summary": summary,
        });
        crate::output::outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        if !v.diagnostics.is_empty() {
            crate::output::out!("{}", output::render_diagnostics(&v.diagnostics));
        }
        if let Some(n) = &v.network {
            crate::output::outln!(
                "valid: {} tenant(s), {} VPC(s), {} subnet(s), {} ENI(s), {} peering(s)",
                n.tenants.len(),
                n.vpcs.len(),
                n.subnets.len(),
                n.enis.len(),
                n.peerings.len()
            );
        }
    }
    Ok(if valid { Outcome::Ok } else { Outcome::Invalid })
}
