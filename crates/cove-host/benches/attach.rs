//! Attach one ENI (namespace + veth + address + routes + rule + its security-group
//! rules in the router's firewall) and detach it, with cove's executor, against the
//! same steps done with `ip -batch` plus one `nft -f` (the floor for a tool that
//! spawns processes), measured in the same run, on an empty VPC and on one that
//! already holds many ENIs. Needs root.
//!
//! `cargo bench -p cove-host --bench attach` (`ATTACH_N` attaches per series,
//! default 200; `ATTACH_BACKGROUND` ENIs already present, default 1000;
//! `BENCH_PREFIX`, the namespace prefix, default `ba<pid>`).

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cove_host::Host;
use cove_model::Network;
use cove_model::validate::validate;
use cove_plan::{HostState, desired, diff};

fn env(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The benchmark network: `enis` ENIs, a group of `rules` CIDR rules.
fn network(enis: usize, rules: usize) -> Network {
    validate(&cove_testgen::flat_vpc(enis, rules, None))
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

/// The `ip -batch` input (one batch for the root namespace, then one per namespace
/// touched, in plan order) and the nft texts that do what cove's plan does.
fn ip_batch(plan: &cove_plan::Plan) -> (Vec<(Option<String>, String)>, Vec<String>) {
    let mut batches: Vec<(Option<String>, String)> = Vec::new();
    let mut nft = Vec::new();
    let mut push = |ns: Option<&str>, line: String| {
        let key = ns.map(str::to_owned);
        match batches.iter_mut().find(|(k, _)| *k == key) {
            Some((_, text)) => text.push_str(&line),
            None => batches.push((key, line)),
        }
    };
    for op in &plan.ops {
        use cove_plan::Op::*;
        match op {
            CreateNamespace { ns } => {
                push(None, format!("netns add {ns}\n"));
                push(Some(ns), "link set lo up\n".to_owned());
            }
            DeleteNamespace { ns } => push(None, format!("netns del {ns}\n")),
            CreateVeth { pair } => {
                push(
                    Some(&pair.a.ns),
                    format!(
                        "link add {} type veth peer name {} netns {}\nlink set {} up\n",
                        pair.a.name, pair.b.name, pair.b.ns, pair.a.name
                    ),
                );
                push(Some(&pair.b.ns), format!("link set {} up\n", pair.b.name));
            }
            DeleteLink { ns, name } => push(Some(ns), format!("link del {name}\n")),
            AddAddress { ns, address } => {
                push(
                    Some(ns),
                    format!("addr add {} dev {}\n", address.addr, address.dev),
                );
            }
            AddRoute { ns, route } => push(
                Some(ns),
                format!("route add {}\n", cove_plan::plan::RouteText(route)),
            ),
            DeleteRoute { ns, route } => push(
                Some(ns),
                format!("route del {}\n", cove_plan::plan::RouteText(route)),
            ),
            AddRule { ns, rule } => push(Some(ns), format!("rule add {}\n", rule_text(rule))),
            DeleteRule { ns, rule } => push(Some(ns), format!("rule del {}\n", rule_text(rule))),
            ReplaceNft { ns, table } => nft.push(format!(
                "{ns}\ntable inet cove\ndelete table inet cove\n{}",
                table.batch_text()
            )),
            NftElements {
                ns,
                table,
                add,
                delete,
            } => nft.push(format!(
                "{ns}\n{}{}",
                cove_plan::state::element_statements("delete", table, delete),
                cove_plan::state::element_statements("add", table, add)
            )),
            _ => {}
        }
    }
    (batches, nft)
}

fn rule_text(r: &cove_plan::Rule) -> String {
    match r.selector {
        cove_plan::RuleSelector::To(p) => {
            format!("priority {} to {p} lookup {}", r.priority, r.table)
        }
        cove_plan::RuleSelector::Iif(d) => {
            format!("priority {} iif {d} lookup {}", r.priority, r.table)
        }
        cove_plan::RuleSelector::Fwmark(m) => {
            format!("priority {} fwmark {m} lookup {}", r.priority, r.table)
        }
    }
}

fn run_ip_batch(ip: &[(Option<String>, String)], nft: &[String]) {
    for (ns, text) in ip {
        let mut cmd = Command::new("ip");
        if let Some(ns) = ns {
            cmd.args(["-n", ns]);
        }
        // -force: keep going when a link is already gone (deleting a namespace takes
        // the router's end of its veth with it), as cove's executor does.
        let mut c = cmd
            .args(["-force", "-batch", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("ip");
        c.stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write");
        let _ = c.wait().expect("ip");
    }
    for t in nft {
        let (ns, text) = t.split_once('\n').expect("ns");
        let mut c = Command::new("ip")
            .args(["netns", "exec", ns, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("nft");
        c.stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write");
        assert!(c.wait().expect("nft").success());
    }
}

/// Attaches ENIs `base..base+n` one by one (and detaches them) with cove and with
/// `ip -batch` + `nft -f`; returns (cove attach, cove detach, floor attach, floor
/// detach) samples.
fn series(prefix: &str, base: usize, n: usize, rules: usize) -> [Vec<Duration>; 4] {
    let host = Host::new(prefix).expect("host");
    let _ = host.destroy();
    let states: Vec<HostState> = (base..=base + n)
        .map(|k| desired(&network(k, rules), prefix).expect("layout"))
        .collect();
    // Background ENIs.
    host.apply(&diff(&HostState::default(), &states[0]))
        .expect("background");
    let mut out: [Vec<Duration>; 4] = Default::default();
    let per_op = std::env::var("ATTACH_PER_OP").is_ok();
    let mut by_kind: std::collections::BTreeMap<String, Vec<Duration>> = Default::default();
    for k in 0..n {
        let attach = diff(&observed(&states[k]), &states[k + 1]);
        if per_op {
            // Diagnostics: each operation on its own (slower in all: one worker each).
            for op in &attach.ops {
                let kind = op
                    .to_string()
                    .split(' ')
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ");
                let t = Instant::now();
                host.apply(&cove_plan::Plan {
                    ops: vec![op.clone()],
                })
                .expect("op");
                by_kind.entry(kind).or_default().push(t.elapsed());
            }
            continue;
        }
        let t = Instant::now();
        host.apply(&attach).expect("attach");
        out[0].push(t.elapsed());
    }
    if per_op {
        for (kind, v) in by_kind {
            let (p50, p99) = pct(v);
            println!("  {base} ENIs: {kind:<28} p50 {p50:.2?} p99 {p99:.2?}");
        }
        out[0].push(Duration::ZERO);
    }
    for k in (0..n).rev() {
        let detach = diff(&observed(&states[k + 1]), &states[k]);
        let t = Instant::now();
        host.apply(&detach).expect("detach");
        out[1].push(t.elapsed());
    }
    if std::env::var("ATTACH_FLOOR").as_deref() == Ok("0") {
        // Only cove (e.g. to count processes with strace): the floor series are empty.
        out[2].push(Duration::ZERO);
        out[3].push(Duration::ZERO);
        let _ = host.destroy();
        return out;
    }
    for k in 0..n {
        let (ip, nft) = ip_batch(&diff(&observed(&states[k]), &states[k + 1]));
        let t = Instant::now();
        run_ip_batch(&ip, &nft);
        out[2].push(t.elapsed());
    }
    for k in (0..n).rev() {
        let (ip, nft) = ip_batch(&diff(&observed(&states[k + 1]), &states[k]));
        let t = Instant::now();
        run_ip_batch(&ip, &nft);
        out[3].push(t.elapsed());
    }
    let _ = host.destroy();
    out
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n = env("ATTACH_N", 200);
    let background = env("ATTACH_BACKGROUND", 1000);
    let rules = env("ATTACH_RULES", 10);
    let prefix = std::env::var("BENCH_PREFIX")
        .unwrap_or_else(|_| format!("ba{}", std::process::id() % 10_000));
    println!("| series | attach p50 | attach p99 | detach p50 | detach p99 |");
    println!("|---|---|---|---|---|");
    let mut p50 = Vec::new();
    for (label, base) in [("empty VPC", 1usize), ("with background ENIs", background)] {
        let [a, d, fa, fd] = series(&prefix, base, n, rules);
        let (a50, a99) = pct(a);
        let (d50, d99) = pct(d);
        let (fa50, fa99) = pct(fa);
        let (fd50, fd99) = pct(fd);
        println!("| cove, {label} ({base} ENIs) | {a50:.2?} | {a99:.2?} | {d50:.2?} | {d99:.2?} |");
        println!(
            "| ip -batch + nft -f, {label} | {fa50:.2?} | {fa99:.2?} | {fd50:.2?} | {fd99:.2?} |"
        );
        println!(
            "ratio cove/floor ({label}): attach p50 {:.2}, p99 {:.2}",
            a50.as_secs_f64() / fa50.as_secs_f64(),
            a99.as_secs_f64() / fa99.as_secs_f64()
        );
        p50.push(a50);
    }
    println!(
        "attach p50 with {background} ENIs / empty: {:.2}",
        p50[1].as_secs_f64() / p50[0].as_secs_f64()
    );
}
