//! `cove status -f spec.yaml`: compare the kernel with the spec; list every drift.
//! With `--server`: whether the server has brought the caller's networks and
//! functions in line (every network `ready`, every function `Active`).

use std::path::PathBuf;

use serde_json::Value;

use super::client::{Conn, Remote, table};
use crate::Outcome;
use crate::input::InputError;

/// Arguments of `cove status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The spec file (YAML); needed without `--server`.
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Which deployment.
    #[command(flatten)]
    pub target: crate::deploy::Target,
    /// Through a server: the caller's networks and functions.
    #[command(flatten)]
    pub remote: Remote,
    /// Print the drift as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command (exit 0 in sync, 4 drift).
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    if let Some(conn) = args.remote.conn(args.json)? {
        return remote(&conn);
    }
    let Some(file) = &args.file else {
        return Err(InputError::Argument {
            what: "--file",
            text: String::new(),
            hint: "give the spec to compare the kernel with: cove status -f SPEC (or --server to ask a server)".to_owned(),
        }
        .into());
    };
    let deployment = args.target.deployment()?;
    let text = crate::input::read_spec(file)?;
    let net = deployment.validate_spec(file, &text)?;
    let shared = shared_enis(&net);
    let records = deployment
        .store()
        .snapshot()
        .ok()
        .and_then(|s| cove_deploy::store::docs::nat_takeovers_of(&s).ok())
        .unwrap_or_default();
    let pairs = cove_deploy::failover::pair_status(&net, &records);
    let nat_ports = nat_port_errors(&net, deployment.target().prefix().as_str());
    let cove_deploy::Plan {
        layout: want,
        changes: plan,
        ..
    } = deployment.preview(net)?;
    if args.json {
        let doc = serde_json::json!({
            "in_sync": plan.is_empty(),
            "repairs": plan.ops,
            "shared_enis": shared,
            "nat_pairs": pairs,
            "nat_gateways": nat_ports,
        });
        crate::output::outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else if plan.is_empty() {
        crate::output::outln!(
            "in sync: {} namespace(s) match {}",
            want.namespaces.len(),
            file.display()
        );
    } else {
        crate::output::outln!(
            "DRIFT: {} repair(s) needed (`cove apply -f {}` makes them):",
            plan.ops.len(),
            file.display()
        );
        crate::output::out!("{plan}");
    }
    if !args.json {
        for g in &pairs {
            let ips = |v: &[std::net::Ipv4Addr]| {
                v.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let state = match (&g.since, &g.reason) {
                (Some(since), Some(why)) => format!(
                    "carried by its partner {} since {} ({why})",
                    g.carried_by,
                    cove_runtime_api::payloads::rfc3339_millis(
                        std::time::UNIX_EPOCH + std::time::Duration::from_secs(*since)
                    )
                ),
                _ => "carries its own addresses".to_owned(),
            };
            crate::output::outln!(
                "NAT gateway {}/{} ({} → {}; subnets {}), paired with {}: {state}",
                g.vpc,
                g.gateway,
                ips(&g.addresses),
                ips(&g.public_ips),
                if g.subnets.is_empty() {
                    "none".to_owned()
                } else {
                    g.subnets.join(", ")
                },
                g.partner
            );
        }
        for g in &nat_ports {
            crate::output::outln!(
                "NAT gateway {}: {} port allocation error(s)",
                g["gateway"].as_str().unwrap_or_default(),
                g["port_allocation_errors"]
            );
        }
        for e in &shared {
            crate::output::outln!(
                "shared ENI {} {}: {} environment(s) of {}",
                e["eni"].as_str().unwrap_or_default(),
                e["address"].as_str().unwrap_or_default(),
                e["environments"],
                e["functions"]
                    .as_array()
                    .map(|f| f
                        .iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()
            );
        }
    }
    Ok(if plan.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Drift
    })
}

/// Each NAT gateway's port allocation errors (AWS's `ErrorPortAllocation`): new
/// connections its translation found no free source port for, from its
/// namespace's conntrack statistics (`null` when they cannot be read, e.g. the
/// namespace is missing: the drift above says so).
fn nat_port_errors(net: &cove_model::Network, prefix: &str) -> Vec<serde_json::Value> {
    let names = cove_plan::names::Names::new(net, prefix);
    net.nat_gateways
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let id = cove_model::NatId(cove_model::lookup::index_u32(i));
            let errors = cove_host::conntrack_stats(&names.eni_ns(g.eni))
                .ok()
                .map(|s| s.insert_failed);
            serde_json::json!({
                "gateway": net.nat_label(id),
                "port_allocation_errors": errors,
            })
        })
        .collect()
}

/// The network's shared function ENIs: each one's label, address, the functions
/// that send through it and how many of their environments do.
fn shared_enis(net: &cove_model::Network) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for (i, eni) in net.enis.iter().enumerate() {
        if eni.owner != cove_model::EniOwner::Shared {
            continue;
        }
        let id = cove_model::EniId(cove_model::lookup::index_u32(i));
        let mut functions = Vec::new();
        let mut environments = 0u32;
        for f in &net.functions {
            let here = (0..f.concurrency)
                .filter(|k| f.environment_eni(*k) == Some(id))
                .count();
            if here > 0 {
                functions.push(f.name.clone());
                environments += u32::try_from(here).unwrap_or(u32::MAX);
            }
        }
        out.push(serde_json::json!({
            "eni": net.eni_label(id),
            "address": eni.private_ip.to_string(),
            "functions": functions,
            "environments": environments,
        }));
    }
    out
}

/// `cove status --server`: in sync when every network is `ready` and every
/// function `Active` (the server's reconciler has applied them).
fn remote(conn: &Conn) -> anyhow::Result<Outcome> {
    let networks = conn.call("GET", "/v1/connect/networks", None)?;
    let functions = conn.call("GET", "/v1/functions", None)?;
    let list = |v: &Value, key: &str| -> Vec<Value> {
        v.as_array()
            .or_else(|| v[key].as_array())
            .cloned()
            .unwrap_or_default()
    };
    let (networks, functions) = (list(&networks, "networks"), list(&functions, "functions"));
    let pending_networks = networks.iter().filter(|n| n["status"] != "ready").count();
    let pending_functions = functions.iter().filter(|f| f["state"] != "Active").count();
    let in_sync = pending_networks == 0 && pending_functions == 0;
    let doc = serde_json::json!({
        "in_sync": in_sync,
        "networks": networks,
        "functions": functions,
    });
    conn.print(&doc, |_| {
        let head = if in_sync {
            format!(
                "in sync: {} network(s) ready, {} function(s) active\n",
                networks.len(),
                functions.len()
            )
        } else {
            format!(
                "NOT YET APPLIED: {pending_networks} network(s) not ready, {pending_functions} function(s) pending (the server's reconciler is applying them)\n"
            )
        };
        head + &table(&Value::Array(networks.clone()), &["id", "name", "status", "static_ips"])
            + &table(&Value::Array(functions.clone()), &["name", "runtime", "state"])
    });
    Ok(if in_sync { Outcome::Ok } else { Outcome::Drift })
}
