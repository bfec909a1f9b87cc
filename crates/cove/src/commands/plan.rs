//! `cove plan -f new.yaml`: the kernel changes an apply would make, and the flows the
//! change opens and closes (against the last applied spec).

use cove_analyze::{Change, reachability_delta};

use crate::Outcome;
use crate::deploy::SpecTarget;

/// Arguments of `cove plan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The spec and deployment.
    #[command(flatten)]
    pub spec: SpecTarget,
    /// Through a server (the caller's tenant spec, `POST /v1/plan`) instead of the
    /// local deployment.
    #[command(flatten)]
    pub remote: super::client::Remote,
    /// Print `{changes, reachability}` as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let text = crate::input::read_spec(&args.spec.file)?;
    if let Some(conn) = args.remote.conn(args.json)? {
        let ct = super::apply::content_type(&args.spec.file);
        let v = conn.call_text("POST", "/v1/plan", ct, &text)?;
        conn.print(&v, |v| {
            let mut out = String::new();
            let mut rows = |key: &str, mark: &str| {
                for c in v[key].as_array().map(Vec::as_slice).unwrap_or_default() {
                    let s = |k: &str| super::client::field(c, k);
                    let what = if s("protocol") == "icmp" {
                        "icmp".to_owned()
                    } else {
                        format!("{}/{}", s("protocol"), s("port"))
                    };
                    out.push_str(&format!("  {mark} {} -> {} {what}\n", s("from"), s("to")));
                }
            };
            rows("opened", "+ opens ");
            rows("closed", "- closes");
            if out.is_empty() {
                "reachability: no flow changes (against the stored spec)\n".to_owned()
            } else {
                format!("reachability (against the stored spec):\n{out}")
            }
        });
        return Ok(Outcome::Ok);
    }
    let deployment = args.spec.target.deployment()?;
    let net = deployment.validate_spec(&args.spec.file, &text)?;
    let preview = deployment.preview(net)?;
    let (net, plan) = (&preview.network, &preview.changes);
    let applied = deployment.network()?;
    let delta = reachability_delta(applied.as_ref(), net);
    if args.json {
        let doc = serde_json::json!({ "changes": plan.ops, "reachability": delta });
        crate::output::outln!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(Outcome::Ok);
    }
    if plan.is_empty() {
        crate::output::outln!("kernel: nothing to change");
    } else {
        crate::output::outln!("kernel: {} change(s)", plan.ops.len());
        crate::output::out!("{plan}");
    }
    let against = if applied.is_some() {
        "the applied spec"
    } else {
        "nothing applied"
    };
    if delta.is_empty() {
        crate::output::outln!("reachability: no flow changes (against {against})");
    } else {
        crate::output::outln!("reachability (against {against}):");
        for c in &delta {
            let mark = match c.change {
                Change::Opened => "+ opens ",
                Change::Closed => "- closes",
            };
            let what = if c.protocol == "icmp" {
                "icmp".to_owned()
            } else {
                format!("{}/{}", c.protocol, c.port)
            };
            crate::output::outln!("  {mark} {} -> {} {what}", c.from, c.to);
        }
    }
    Ok(Outcome::Ok)
}
