//! Attach one ENI (namespace + veth + address + routes + its entries in the router's
//! firewall sets and maps) and detach it, with cove's executor, against the same
//! steps done with `ip -batch` plus one `nft -f` (the floor for a tool that spawns
//! processes), on a VPC with one ENI and on one that already holds many ENIs and a
//! large security group. Needs root.
//!
//! `cargo bench -p cove-host --bench attach`. Environment:
//! * `ATTACH_N` attaches per series and round (default 200), `ATTACH_ROUNDS`
//!   (default 3): every ratio is computed per round, the median is reported;
//! * `ATTACH_BACKGROUND` ENIs in the large VPC (default 1000), `ATTACH_RULES` rules
//!   in its security group (default 10,000; the small VPC's group has 10);
//! * `ATTACH_MODE`: `interleaved` (default) keeps both VPCs on the host and
//!   alternates their attaches, so both series see the same machine at the same
//!   moment (what grows with the size of the VPC); `phases` alternates a phase with
//!   only the small VPC on the host and one with the large VPC too, rebuilt every
//!   round (what also grows with the number of namespaces on the host);
//! * `ATTACH_FLOOR=0` skips the `ip -batch` floor; `ATTACH_PER_OP=1` times each
//!   operation alone instead (diagnostics);
//! * `BENCH_PREFIX` (default `ba<pid>`): the VPCs use `<prefix>s` and `<prefix>b`.

#[path = "common/quota.rs"]
mod quota;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cove_host::Host;
use cove_model::Network;
use cove_model::validate::validate;
use cove_plan::{HostState, Plan, desired, diff};

fn env(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The benchmark network: `enis` ENIs, a group of `rules` CIDR rules.
fn network(enis: usize, rules: usize) -> Network {
    validate(&quota::flat_vpc(enis, rules, None))
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
fn ip_batch(plan: &Plan) -> (Vec<(Option<String>, String)>, Vec<String>) {
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
            ReplaceNft { ns, table, .. } => nft.push(format!(
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
        cove_plan::RuleSelector::ToMarked { to, mark, mask } => format!(
            "priority {} to {to} fwmark {mark}/{mask} lookup {}",
            r.priority, r.table
        ),
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

/// The plans that attach ENI `base + k` to a VPC of `base + k` ENIs and detach it
/// again, for `k < n`.
struct Plans {
    attach: Vec<Plan>,
    detach: Vec<Plan>,
}

/// One VPC on the host (its namespaces under `host`'s prefix).
struct Vpc {
    host: Host,
    base: usize,
    rules: usize,
    background: HostState,
    plans: Plans,
}

impl Vpc {
    /// Plans for `n` attaches to a VPC of `base` ENIs with `rules` rules; builds
    /// nothing yet.
    fn new(prefix: &str, base: usize, n: usize, rules: usize) -> Vpc {
        let host = Host::new(prefix).expect("host");
        let _ = host.destroy();
        let state = |k| desired(&network(k, rules), prefix).expect("layout");
        let background = state(base);
        let mut plans = Plans {
            attach: Vec::new(),
            detach: Vec::new(),
        };
        let mut prev = background.clone();
        for k in base + 1..=base + n {
            let next = state(k);
            plans.attach.push(diff(&observed(&prev), &next));
            plans.detach.push(diff(&observed(&next), &prev));
            prev = next;
        }
        Vpc {
            host,
            base,
            rules,
            background,
            plans,
        }
    }

    /// Creates the VPC's background ENIs.
    fn build(&self) {
        let _ = self.host.destroy();
        self.host
            .apply(&diff(&HostState::default(), &self.background))
            .expect("background");
    }
}

fn timed(host: &Host, plan: &Plan) -> Duration {
    let t = Instant::now();
    host.apply(plan).expect("apply");
    t.elapsed()
}

fn timed_floor(plan: &Plan) -> Duration {
    let (ip, nft) = ip_batch(plan);
    let t = Instant::now();
    run_ip_batch(&ip, &nft);
    t.elapsed()
}

/// Samples of one round for one VPC: cove attach, cove detach, floor attach, floor
/// detach.
type Samples = [Vec<Duration>; 4];

/// One round over `vpcs` (each already built): the ENIs are attached one by one,
/// alternating between the VPCs (and which goes first), then detached the same way;
/// then the same with the floor.
fn round(vpcs: &[&Vpc], n: usize, floor: bool) -> Vec<Samples> {
    let mut out: Vec<Samples> = vpcs.iter().map(|_| Default::default()).collect();
    let order = |k: usize| -> Vec<usize> {
        let mut o: Vec<usize> = (0..vpcs.len()).collect();
        if k % 2 == 1 {
            o.reverse();
        }
        o
    };
    for k in 0..n {
        for v in order(k) {
            out[v][0].push(timed(&vpcs[v].host, &vpcs[v].plans.attach[k]));
        }
    }
    for k in (0..n).rev() {
        for v in order(k) {
            out[v][1].push(timed(&vpcs[v].host, &vpcs[v].plans.detach[k]));
        }
    }
    if floor {
        for k in 0..n {
            for v in order(k) {
                out[v][2].push(timed_floor(&vpcs[v].plans.attach[k]));
            }
        }
        for k in (0..n).rev() {
            for v in order(k) {
                out[v][3].push(timed_floor(&vpcs[v].plans.detach[k]));
            }
        }
    }
    out
}

/// Diagnostics: each operation of each attach applied alone (one worker each, so
/// slower in all), timed by kind.
fn per_op(v: &Vpc, n: usize) {
    let mut by_kind: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    for plan in &v.plans.attach[..n] {
        for op in &plan.ops {
            let kind = op
                .to_string()
                .split(' ')
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            let one = Plan {
                ops: vec![op.clone()],
            };
            by_kind.entry(kind).or_default().push(timed(&v.host, &one));
        }
    }
    for plan in v.plans.detach[..n].iter().rev() {
        v.host.apply(plan).expect("detach");
    }
    for (kind, samples) in by_kind {
        let (p50, p99) = pct(samples);
        println!("  {} ENIs: {kind:<28} p50 {p50:.2?} p99 {p99:.2?}", v.base);
    }
}

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n = env("ATTACH_N", 200);
    let rounds = env("ATTACH_ROUNDS", 3).max(1);
    let background = env("ATTACH_BACKGROUND", 1000);
    let rules = env("ATTACH_RULES", 10_000);
    let floor = std::env::var("ATTACH_FLOOR").as_deref() != Ok("0");
    let phases = std::env::var("ATTACH_MODE").as_deref() == Ok("phases");
    let prefix = std::env::var("BENCH_PREFIX")
        .unwrap_or_else(|_| format!("ba{}", std::process::id() % 10_000));
    let small = Vpc::new(&format!("{prefix}s"), 1, n, 10);
    let large = Vpc::new(&format!("{prefix}b"), background, n, rules);
    small.build();
    if std::env::var("ATTACH_PER_OP").is_ok() {
        large.build();
        per_op(&small, n);
        per_op(&large, n);
        let _ = small.host.destroy();
        let _ = large.host.destroy();
        return;
    }
    println!(
        "small VPC: {} ENI, {} rules; large VPC: {} ENIs, {} rules; {n} attaches each per round; mode {}",
        small.base,
        small.rules,
        large.base,
        large.rules,
        if phases { "phases" } else { "interleaved" }
    );
    println!(
        "| round | series | attach p50 | attach p99 | detach p50 | detach p99 | floor attach p50 | floor attach p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut grow = Vec::new();
    let mut vs_floor: [Vec<f64>; 2] = Default::default();
    let mut p50s: [Vec<Duration>; 2] = Default::default();
    for r in 0..rounds {
        let samples = if phases {
            let _ = large.host.destroy();
            let s = round(&[&small], n, floor).remove(0);
            large.build();
            let l = round(&[&large], n, floor).remove(0);
            vec![s, l]
        } else {
            if r == 0 {
                large.build();
            }
            round(&[&small, &large], n, floor)
        };
        let mut a50 = Vec::new();
        for (i, [a, d, fa, _fd]) in samples.into_iter().enumerate() {
            let label = if i == 0 { "small" } else { "large" };
            let (x50, x99) = pct(a);
            let (d50, d99) = pct(d);
            let (f50, f99) = if floor {
                pct(fa)
            } else {
                (Duration::ZERO, Duration::ZERO)
            };
            println!(
                "| {} | {label} | {} | {} | {} | {} | {} | {} |",
                r + 1,
                ms(x50),
                ms(x99),
                ms(d50),
                ms(d99),
                ms(f50),
                ms(f99)
            );
            if floor {
                vs_floor[i].push(x99.as_secs_f64() / f99.as_secs_f64());
            }
            p50s[i].push(x50);
            a50.push(x50);
        }
        grow.push(a50[1].as_secs_f64() / a50[0].as_secs_f64());
    }
    let _ = small.host.destroy();
    let _ = large.host.destroy();
    println!("(milliseconds)");
    let (m, lo, hi) = median(grow);
    println!("attach p50 large / small, median of {rounds} rounds: {m:.2} (range {lo:.2}-{hi:.2})");
    let med = |v: &[Duration]| {
        let mut v = v.to_vec();
        v.sort_unstable();
        v[v.len() / 2]
    };
    println!(
        "attach p50, median of rounds: small {}, large {} ms",
        ms(med(&p50s[0])),
        ms(med(&p50s[1]))
    );
    if floor {
        for (i, label) in ["small", "large"].iter().enumerate() {
            let (m, lo, hi) = median(vs_floor[i].clone());
            println!(
                "attach p99 cove / floor ({label}), median of rounds: {m:.2} (range {lo:.2}-{hi:.2})"
            );
        }
    }
}
