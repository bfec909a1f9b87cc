//! `cove fn list`.

use crate::Outcome;
use crate::deploy::Target;

/// Arguments of `cove fn list`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which deployment.
    #[command(flatten)]
    pub target: Target,
    /// Print JSON (the function configurations).
    #[arg(long)]
    pub json: bool,
    /// Through the API instead.
    #[command(flatten)]
    pub remote: super::remote::Remote,
}

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    if let Some(c) = args.remote.conn(args.json)? {
        return super::remote::list(&c);
    }
    let fns = args.target.deployment()?.functions()?;
    if args.json {
        crate::output::outln!("{}", serde_json::to_string_pretty(&fns)?);
        return Ok(Outcome::Ok);
    }
    if fns.is_empty() {
        crate::output::outln!("no functions under prefix {}", args.target.prefix);
        return Ok(Outcome::Ok);
    }
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "function",
        "runtime",
        "handler",
        "memory",
        "timeout",
        "vpc",
        "slots",
        "code sha256",
    ]);
    for f in &fns {
        table.add_row([
            f.name.clone(),
            f.runtime.clone(),
            f.handler.clone(),
            format!("{} MB", f.memory_mb),
            format!("{} s", f.timeout_s),
            f.vpc.clone(),
            f.slots.len().to_string(),
            f.code.sha256.chars().take(12).collect(),
        ]);
    }
    crate::output::outln!("{table}");
    Ok(Outcome::Ok)
}
