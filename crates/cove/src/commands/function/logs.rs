//! `cove fn logs NAME`: what the function's environments wrote (standard output and
//! error, and the platform's START/END/REPORT lines), one environment after another.

use std::io::Read;

use crate::Outcome;
use crate::deploy::Target;
use crate::input::InputError;

/// Arguments of `cove fn logs`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The function.
    pub name: String,
    /// Only the last N bytes.
    #[arg(long, default_value_t = 65_536)]
    pub tail: u64,
    /// Which deployment.
    #[command(flatten)]
    pub target: Target,
    /// Through the API instead.
    #[command(flatten)]
    pub remote: super::remote::Remote,
    /// Print JSON (with `--server`).
    #[arg(long)]
    pub json: bool,
}

/// Prints the end of the function's log.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    if let Some(c) = args.remote.conn(args.json)? {
        return super::remote::logs(&c, &args.name, args.tail);
    }
    let deployment = args.target.deployment()?;
    let net = deployment.network()?;
    // Names are unique within a tenant: the operator names one that one tenant has.
    let tenants: Vec<String> = net
        .iter()
        .flat_map(|n| {
            n.functions
                .iter()
                .filter(|f| f.name == args.name)
                .map(|f| n.tenants[n.vpcs[f.vpc.index()].tenant.index()].name.clone())
        })
        .collect();
    let [tenant] = tenants.as_slice() else {
        return Err(InputError::Argument {
            what: "function",
            text: args.name.clone(),
            hint: if tenants.is_empty() {
                "ResourceNotFoundException: no such function; `cove fn list` shows them".into()
            } else {
                "several tenants have a function of that name; read its logs through the API (`--server`)".into()
            },
        }
        .into());
    };
    // One log per environment (`<logs>/<tenant>/<function>/<instance>.log`), oldest
    // first.
    let Some(dir) = deployment.target().logs().function_dir(tenant, &args.name) else {
        return Ok(Outcome::Ok);
    };
    let mut files: Vec<(std::time::SystemTime, std::path::PathBuf)> = match std::fs::read_dir(&dir)
    {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("reading {}", dir.display()))),
    };
    if files.is_empty() {
        eprintln!("function {} has not run yet", args.name);
        return Ok(Outcome::Ok);
    }
    files.sort();
    let mut out = Vec::new();
    for (_, path) in &files {
        let stream = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.extend_from_slice(format!("== environment {stream}\n").as_bytes());
        let mut f = std::fs::File::open(path)?;
        f.read_to_end(&mut out)?;
    }
    let from = out
        .len()
        .saturating_sub(usize::try_from(args.tail).unwrap_or(usize::MAX));
    crate::output::write_stdout(&out[from..]);
    Ok(Outcome::Ok)
}
