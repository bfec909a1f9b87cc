//! `cove flows`: the records of the deployment's flow logs (issue 14), read from
//! their files and filtered by flow log, interface, address, action and time.

use std::net::Ipv4Addr;

use anyhow::Context;
use cove_flowlog::query::{Filter, parse_line, row_json};
use cove_model::Network;

use crate::Outcome;
use crate::input::InputError;

/// Arguments of `cove flows`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this flow log: `tenant/vpc/name`, `vpc/name` or `name` (when unique).
    #[arg(long)]
    pub log: Option<String>,
    /// Only records of this interface: an ENI's `tenant/vpc/name`, its name (when
    /// unique) or its `eni-…` id as records show it.
    #[arg(long)]
    pub eni: Option<String>,
    /// Only records from or to this address.
    #[arg(long)]
    pub addr: Option<Ipv4Addr>,
    /// Only `ACCEPT` or `REJECT` records.
    #[arg(long, value_parser = ["ACCEPT", "REJECT"])]
    pub action: Option<String>,
    /// Only records of the last SECONDS.
    #[arg(long, value_name = "SECONDS")]
    pub since: Option<u64>,
    /// One JSON object per record (with its flow log as `flow_log`).
    #[arg(long)]
    pub json: bool,
    /// Which deployment.
    #[command(flatten)]
    pub target: crate::deploy::Target,
}

/// `tenant/vpc/name` of flow log `i`.
fn log_path(net: &Network, i: usize) -> String {
    let l = &net.flow_logs[i];
    format!("{}/{}", net.vpc_path(l.vpc), l.name)
}

/// The flow logs `--log` names (every one without it).
fn chosen_logs(net: &Network, wanted: Option<&str>) -> Result<Vec<usize>, InputError> {
    let all: Vec<usize> = (0..net.flow_logs.len()).collect();
    let Some(w) = wanted else { return Ok(all) };
    let hits: Vec<usize> = all
        .iter()
        .copied()
        .filter(|i| {
            let p = log_path(net, *i);
            p == w || p.ends_with(&format!("/{w}"))
        })
        .collect();
    match hits.len() {
        1 => Ok(hits),
        n => Err(InputError::Argument {
            what: "--log",
            text: w.to_owned(),
            hint: format!(
                "{} flow logs match; the deployment's are: {}",
                if n == 0 { "no" } else { "several" },
                all.iter()
                    .map(|i| log_path(net, *i))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

/// The `interface-id` records give the ENI `--eni` names.
fn interface_id(net: &Network, text: &str) -> Result<String, InputError> {
    if text.starts_with("eni-") {
        return Ok(text.to_owned());
    }
    let hits: Vec<usize> = (0..net.enis.len())
        .filter(|i| {
            let e = &net.enis[*i];
            let path = format!("{}/{}", net.vpc_path(e.vpc), e.name);
            path == text || path.ends_with(&format!("/{text}"))
        })
        .collect();
    match hits.as_slice() {
        [i] => Ok(cove_flowlog::record::eni_id(
            net,
            cove_model::EniId(cove_model::lookup::index_u32(*i)),
        )),
        _ => Err(InputError::Argument {
            what: "--eni",
            text: text.to_owned(),
            hint: format!(
                "{} ENIs match: give `tenant/vpc/name` or the `eni-…` id records show",
                if hits.is_empty() { "no" } else { "several" }
            ),
        }),
    }
}

/// Runs the command.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let deployment = args.target.deployment()?;
    let Some(net) = deployment.network()? else {
        anyhow::bail!("nothing is applied under this prefix: no flow logs to read");
    };
    if net.flow_logs.is_empty() {
        anyhow::bail!(
            "no VPC of this deployment has a flow log: add one under a VPC's `flow_logs:` and apply"
        );
    }
    let logs = chosen_logs(&net, args.log.as_deref())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let filter = Filter {
        interface: args
            .eni
            .as_deref()
            .map(|e| interface_id(&net, e))
            .transpose()?,
        addr: args.addr,
        action: args.action.clone(),
        since: args.since.map(|s| now.saturating_sub(s)),
        until: None,
    };
    let dir = deployment.target().flow_logs();
    let mut found = 0usize;
    for i in logs {
        let log = &net.flow_logs[i];
        filter.check(log)?;
        let lines = cove_deploy::flowlog_files::read_lines(&dir, &net, log)
            .with_context(|| format!("reading flow log {}", log_path(&net, i)))?;
        let rows: Vec<_> = lines
            .iter()
            .filter_map(|l| parse_line(log, l).map(|r| (l, r)))
            .filter(|(_, r)| filter.keeps(r))
            .collect();
        if !args.json && !rows.is_empty() {
            crate::output::outln!(
                "# {}: {}",
                log_path(&net, i),
                log.fields
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
        for (line, row) in rows {
            found += 1;
            if args.json {
                let mut v = row_json(&row);
                v["flow_log"] = serde_json::Value::String(log_path(&net, i));
                crate::output::outln!("{v}");
            } else {
                crate::output::outln!("{line}");
            }
        }
    }
    if found == 0 && !args.json {
        eprintln!("no records match (records appear once their capture window has ended)");
    }
    Ok(Outcome::Ok)
}
