//! `cove apply -f spec.yaml`: make the spec the desired state and the kernel match
//! it. With `--server`, the spec is the caller's tenant spec (`PUT /v1/spec`) and
//! the server's reconciler makes the kernel match it.

use std::time::Instant;

use super::client::{Remote, lines};
use crate::Outcome;
use crate::deploy::SpecTarget;

/// Arguments of `cove apply`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The spec and deployment.
    #[command(flatten)]
    pub spec: SpecTarget,
    /// Through a server instead of on the local deployment.
    #[command(flatten)]
    pub remote: Remote,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let text = crate::input::read_spec(&args.spec.file)?;
    if let Some(conn) = args.remote.conn(args.json)? {
        let v = conn.call_text("PUT", "/v1/spec", content_type(&args.spec.file), &text)?;
        let vpcs = v["vpcs"].as_array().map_or(0, Vec::len);
        conn.print(&v, |v| {
            format!(
                "{}: the tenant's spec ({vpcs} VPC(s)) is stored; the server's reconciler applies it\n",
                args.spec.file.display()
            ) + &lines(v, &["name"])
        });
        return Ok(Outcome::Ok);
    }
    let deployment = args.spec.target.deployment()?;
    let lock = deployment.lock("apply")?;
    // Validated, every function's code checked and stored, then recorded; then the
    // kernel is made to match.
    deployment.set_spec(&lock, &args.spec.file, &text)?;
    let applied = deployment.reconcile(&lock)?;
    if args.json {
        let doc = serde_json::json!({
            "changes": applied.changes,
            "namespaces": applied.namespaces,
            "elapsed_ms": started.elapsed().as_secs_f64() * 1e3,
        });
        crate::output::outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else if applied.changes == 0 {
        crate::output::outln!(
            "nothing to change: the kernel already matches {} ({} namespaces)",
            args.spec.file.display(),
            applied.namespaces
        );
    } else {
        crate::output::outln!(
            "applied {} change(s) in {} namespace(s) in {:.0?}",
            applied.changes,
            applied.namespaces,
            started.elapsed()
        );
    }
    Ok(Outcome::Ok)
}

/// The content type of a spec file: JSON for `.json`, else YAML.
pub fn content_type(file: &std::path::Path) -> &'static str {
    if file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        "application/json"
    } else {
        "application/yaml"
    }
}
