//! Changing one rule of a 10,000-entry security group (an element change in the
//! router's firewall) against reloading the router's whole ruleset, measured in the
//! same run. Needs root.
//!
//! `cargo bench -p cove-host --bench rule_change` (`RULES`, default 10,000;
//! `CHANGES` and `RELOADS` per repeat, default 200 and 50, interleaved; `REPEATS`,
//! default 5: the ratio is computed per repeat and the median reported;
//! `BENCH_PREFIX`, the namespace prefix, default `br<pid>`).

#[path = "common/quota.rs"]
mod quota;

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
    validate(&quota::flat_vpc(2, rules, changed))
        .network
        .expect("valid")
}

fn observed(s: &HostState) -> HostState {
    let mut o = s.clone();
    o.veths.clear();
    o
}

/// Percentiles of one series.
struct Pct {
    len: usize,
    p50: Duration,
    p99: Duration,
}

fn pct(mut v: Vec<Duration>) -> Pct {
    v.sort_unstable();
    let at = |pm: usize| v[(v.len() * pm).div_ceil(1000).max(1) - 1];
    Pct {
        len: v.len(),
        p50: at(500),
        p99: at(990),
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rules = env("RULES", 10_000);
    let changes = env("CHANGES", 200);
    let reloads = env("RELOADS", 50);
    let repeats = env("REPEATS", 5).max(1);
    let prefix = std::env::var("BENCH_PREFIX")
        .unwrap_or_else(|_| format!("br{}", std::process::id() % 10_000));
    let host = Host::new(&prefix).expect("host");
    let _ = host.destroy();
    let base = desired(&network(rules, None), &prefix).expect("layout");
    host.apply(&diff(&HostState::default(), &base))
        .expect("apply");
    let (router, table) = base
        .namespaces
        .iter()
        .find_map(|(ns, s)| {
            (ns.ends_with("-router"))
                .then(|| s.nft.clone().map(|t| (ns.clone(), t)))
                .flatten()
        })
        .expect("router table");
    let elements: usize = table.elements.values().map(|s| s.len()).sum();
    let changed: Vec<HostState> = (0..changes / 2)
        .map(|i| desired(&network(rules, Some(i % rules)), &prefix).expect("layout"))
        .collect();
    let reload = Plan {
        ops: vec![Op::ReplaceNft {
            ns: router.clone(),
            table: table.clone(),
            why: cove_plan::NftWhy::Missing,
        }],
    };
    let timed = |plan: &Plan| {
        let t = Instant::now();
        host.apply(plan).expect("apply");
        t.elapsed()
    };
    // Each repeat interleaves the two series: change rule k and put it back (each
    // step one element out, one in), and after every `changes / reloads` such
    // steps reload the whole ruleset (the kernel then holds the base state again).
    let every = (changes / reloads.max(1)).max(2) & !1;
    let mut rounds = Vec::new();
    for _ in 0..repeats {
        let (mut change, mut full) = (Vec::new(), Vec::new());
        for (i, next) in changed.iter().enumerate() {
            let there = diff(&observed(&base), next);
            let back = diff(&observed(next), &base);
            for plan in [&there, &back] {
                assert!(
                    plan.ops
                        .iter()
                        .all(|op| matches!(op, Op::NftElements { .. })),
                    "a rule change must be an element change:\n{plan}"
                );
                change.push(timed(plan));
            }
            if (2 * (i + 1)) % every == 0 {
                full.push(timed(&reload));
            }
        }
        rounds.push((pct(change), pct(full)));
    }
    let _ = host.destroy();
    println!("security group: {rules} rules -> {elements} firewall elements in the router");
    println!(
        "{repeats} repeats, each {} rule changes interleaved with {} reloads",
        2 * changed.len(),
        rounds[0].1.len
    );
    println!(
        "| repeat | change p50 | change p99 | reload p50 | reload p99 | ratio p50 | ratio p99 |"
    );
    println!("|---|---|---|---|---|---|---|");
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    let (mut r50, mut r99) = (Vec::new(), Vec::new());
    for (k, (c, r)) in rounds.iter().enumerate() {
        let (q50, q99) = (ratio(c.p50, r.p50), ratio(c.p99, r.p99));
        println!(
            "| {} | {:.2?} | {:.2?} | {:.2?} | {:.2?} | {q50:.4} | {q99:.4} |",
            k + 1,
            c.p50,
            c.p99,
            r.p50,
            r.p99
        );
        r50.push(q50);
        r99.push(q99);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let (lo, hi) = (v[0], v[v.len() - 1]);
        (v[v.len() / 2], lo, hi)
    };
    let (m50, lo50, hi50) = median(r50);
    let (m99, lo99, hi99) = median(r99);
    println!(
        "ratio change/reload, median of {repeats} repeats: p50 {m50:.4} (range {lo50:.4}-{hi50:.4}), p99 {m99:.4} (range {lo99:.4}-{hi99:.4})"
    );
}
