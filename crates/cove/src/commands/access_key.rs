//! `cove access-key`: a tenant's access key pair for the object store (issue 15),
//! printed as the environment variables the AWS CLI and SDKs read. Through the
//! API (`--server`, `--token`: the token's tenant), or on the local deployment as
//! `--tenant NAME` (a tenant of the desired network, declared in a spec or
//! created through the API).

use anyhow::Context;
use serde_json::{Value, json};

use super::embedded::{Session, TenantApi};
use crate::Outcome;
use crate::input::InputError;

/// Arguments of `cove access-key`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Server and token, or the local deployment as `--tenant`.
    #[command(flatten)]
    pub api: TenantApi,
}

fn text(v: &Value) -> String {
    format!(
        "AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\n# account {}\n",
        v["access_key_id"].as_str().unwrap_or_default(),
        v["secret_access_key"].as_str().unwrap_or_default(),
        v["account_id"].as_str().unwrap_or_default()
    )
}

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    if args.api.api.server.is_some() {
        let s = args.api.session()?;
        let v = s.call("GET", "/v1/access-key", None)?;
        s.print(&v, text);
        return Ok(Outcome::Ok);
    }
    let Some(name) = &args.api.tenant else {
        // The session explains what to give.
        let _: Session = args.api.session()?;
        return Ok(Outcome::Ok);
    };
    let deployment = args.api.api.target.deployment()?;
    let (_, net) = deployment.desired_network()?;
    let net = net.context("nothing is desired under this prefix: apply a spec first")?;
    let Some(t) = net.tenants.iter().position(|t| &t.name == name) else {
        return Err(InputError::Argument {
            what: "--tenant",
            text: name.clone(),
            hint: format!(
                "no tenant of the desired network has that name; its tenants are: {}",
                net.tenants
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
        .into());
    };
    let key = deployment
        .target()
        .access_keys()
        .context("reading the tenants' access-key secret")?
        .tenant_key(name);
    let tenant = cove_model::TenantId(cove_model::lookup::index_u32(t));
    let v = json!({
        "access_key_id": key.access_key_id,
        "secret_access_key": key.secret_access_key,
        "account_id": cove_model::ids::account_id(&net, tenant),
    });
    if args.api.api.json {
        crate::output::outln!("{v}");
    } else {
        crate::output::out!("{}", text(&v));
    }
    Ok(Outcome::Ok)
}
