//! Changing one rule of a 10,000-entry security group (an element change in the
//! router's firewall) against reloading the router's whole ruleset, measured in the
//! same run. Needs root.
//!
//! `cargo bench -p cove-host --bench rule_change` (`RULES`, default 10,000;
//! `CHANGES`, default 200; `RELOADS`, default 50).

use std::time::{Duration, Instant};

use cove_host::Host;
use cove_model::Network;
use cove_model::validate::validate;
use cove_plan::{HostState, Op, Plan, desired, diff};

fn env(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Two ENIs; their group has `rules` CIDR rules, rule `changed` on another port.
fn network(rules: usize, changed: Option<usize>) -> Network {
    validate(&cove_testgen::flat_vpc(2, rules, changed))
        .network
        .expect("valid")
}

fn observed(s: &HostState) -> HostState {
    let mut o = s.clone();
    o.veths.clear();
    o
}

fn pct(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort_unstable();
    let at = |pm: usize| v[(v.len() * pm).div_ceil(1000).max(1) - 1];
    (at(500), at(990))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rules = env("RULES", 10_000);
    let changes = env("CHANGES", 200);
    let reloads = env("RELOADS", 50);
    let prefix = format!("br{}", std::process::id() % 10_000);
    let host = Host::new(&prefix).expect("host");
    let _ = host.destroy();
    let base = desired(&network(rules, None), &prefix).expect("layout");
    host.apply(&diff(&HostState::default(), &base))
        .expect("apply");
    let (router, table) = base
        .namespaces
        .iter()
        .find_map(|(ns, s)| {
            (ns.contains("-r-"))
                .then(|| s.nft.clone().map(|t| (ns.clone(), t)))
                .flatten()
        })
        .expect("router table");
    let elements: usize = table.elements.values().map(|s| s.len()).sum();
    // Change rule k, then put it back: each step is one element out, one in.
    let mut current = base.clone();
    let mut change = Vec::new();
    for i in 0..changes {
        let next = if i % 2 == 0 {
            desired(&network(rules, Some(i % rules)), &prefix).expect("layout")
        } else {
            base.clone()
        };
        let plan = diff(&observed(&current), &next);
        assert!(
            plan.ops
                .iter()
                .all(|op| matches!(op, Op::NftElements { .. })),
            "a rule change must be an element change:\n{plan}"
        );
        let t = Instant::now();
        host.apply(&plan).expect("change");
        change.push(t.elapsed());
        current = next;
    }
    let mut reload = Vec::new();
    for _ in 0..reloads {
        let plan = Plan {
            ops: vec![Op::ReplaceNft {
                ns: router.clone(),
                table: table.clone(),
            }],
        };
        let t = Instant::now();
        host.apply(&plan).expect("reload");
        reload.push(t.elapsed());
    }
    let _ = host.destroy();
    let (c50, c99) = pct(change);
    let (r50, r99) = pct(reload);
    println!("security group: {rules} rules -> {elements} firewall elements in the router");
    println!("| operation | runs | p50 | p99 |");
    println!("|---|---|---|---|");
    println!("| change one rule (element batch) | {changes} | {c50:.2?} | {c99:.2?} |");
    println!("| reload the router's ruleset | {reloads} | {r50:.2?} | {r99:.2?} |");
    println!(
        "ratio change/reload: p50 {:.3}, p99 {:.3}",
        c50.as_secs_f64() / r50.as_secs_f64(),
        c99.as_secs_f64() / r99.as_secs_f64()
    );
}
