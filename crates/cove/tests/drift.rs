//! Drift that leaves every object in place but changes what it does, on the shipped
//! example in the kernel (db-1's security group also admitting port 22 from the
//! functions, so that one flow is blocked by a network ACL alone), with real
//! traffic: a flushed, deleted or re-policied
//! chain of cove's table, an inserted `accept` rule, a foreign table that accepts
//! everything or drops everything, an ENI link with another MAC or MTU, a route
//! with another `proto`. For each: `cove status` reports it (exit 4, naming it);
//! where the design fails closed, every flow the analyzer blocks stays blocked
//! while the drift lasts; `cove apply` repairs it; `status` is clean again; and
//! every probed flow (each user ENI to each other one, TCP 5432, 22 and 443) gets
//! the analyzer's verdict again.
//!
//! Every kind of drift here fails closed for the probed flows: the forward path is
//! a pipeline of `goto`s ending in `policy drop` (an emptied step drops), and a
//! second forward chain (`forward_guard`, `policy drop`) accepts only packets that
//! the pipeline accepted with its mark, so an `accept` inserted into
//! `filter_forward`, or `filter_forward` deleted, drops instead of letting
//! everything through. What cannot fail closed: the same change made to both
//! forward chains; a missing element (a link absent from `link_subnet` skips its
//! subnet's ACLs, see `changed_elements_are_elements_not_rules`). Those are
//! detected and repaired, not contained.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`).

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command as Process;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use cove_analyze::{Analyzer, Endpoint, Flow};
use cove_model::{EniId, EniOwner, Network};
use cove_plan::names::Names;
use cove_probe::{Probe, ProbeKind, Responder, run_batch};

mod common;

use common::{Deployment, example};

/// Source ports: every probe of a test gets its own (no conntrack entry of an
/// earlier probe can answer for it).
static NEXT_PORT: AtomicU16 = AtomicU16::new(33001);

/// The example applied under a fresh prefix, with responders on every user ENI.
struct Setup {
    d: Deployment,
    spec: PathBuf,
    net: Network,
    _responders: Vec<Responder>,
}

/// The security group rule of db-1 in the example, and the one this spec adds: port
/// 22 from the functions is then blocked by db-1's network ACL alone.
const DB_RULE: &str = "- { protocol: tcp, ports: 5432, security_group: platform/functions/fn }";

/// The example with db-1's security group also admitting port 22 from the
/// functions, written into the deployment's state directory.
fn spec(d: &Deployment) -> (PathBuf, Network) {
    let text = std::fs::read_to_string(example()).expect("example");
    assert!(text.contains(DB_RULE));
    let text = text.replace(
        DB_RULE,
        &format!(
            "{DB_RULE}\n              - {{ protocol: tcp, ports: 22, security_group: platform/functions/fn }}"
        ),
    );
    let net = cove_model::validate::validate_text(&text)
        .network
        .expect("valid spec");
    let path = d.state.path().join("drift.yaml");
    std::fs::write(&path, text).expect("write spec");
    (path, net)
}

const PORTS: [u16; 3] = [5432, 22, 443];

impl Setup {
    fn new(tag: &str) -> Setup {
        let d = Deployment::new(tag);
        let (spec, net) = spec(&d);
        d.apply(&spec);
        let names = Names::new(&net, &d.prefix);
        let responders = users(&net)
            .into_iter()
            .map(|e| {
                Responder::start(&names.eni_ns(e), Ipv4Addr::UNSPECIFIED, &PORTS, &[])
                    .expect("responder")
            })
            .collect();
        let s = Setup {
            d,
            spec,
            net,
            _responders: responders,
        };
        s.status_clean();
        s
    }

    fn names(&self) -> Names<'_> {
        Names::new(&self.net, &self.d.prefix)
    }

    fn ns_of(&self, eni: &str) -> String {
        self.names().eni_ns(self.net.find_eni(eni).expect("eni"))
    }

    /// Runs `args` (`ip …` or `nft …`) inside namespace `ns`; it must succeed.
    fn in_ns(&self, ns: &str, args: &[&str]) {
        let out = Process::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .output()
            .expect("ip netns exec");
        assert!(
            out.status.success(),
            "{args:?} in {ns}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `cove status`: must report drift (exit 4) and name every one of `names`.
    fn status_reports(&self, names: &[&str]) -> String {
        let out = self
            .d
            .cove()
            .args(["status", "-f"])
            .arg(&self.spec)
            .output()
            .expect("status");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(4), "status: {text}");
        for n in names {
            assert!(text.contains(n), "status does not name {n:?}:\n{text}");
        }
        text
    }

    fn status_clean(&self) {
        let out = self
            .d
            .cove()
            .args(["status", "-f"])
            .arg(&self.spec)
            .output()
            .expect("status");
        assert_eq!(
            out.status.code(),
            Some(0),
            "status: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    fn apply(&self) {
        let out = self
            .d
            .cove()
            .args(["apply", "-f"])
            .arg(&self.spec)
            .output()
            .expect("apply");
        assert!(
            out.status.success(),
            "apply: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Probes every user ENI pair on [`PORTS`]: (probe, analyzer's verdict,
    /// kernel's).
    fn probe(&self) -> Vec<(Probe, bool, bool)> {
        let an = Analyzer::new(&self.net);
        let names = self.names();
        let users = users(&self.net);
        let mut probes = Vec::new();
        let mut verdicts = Vec::new();
        for s in &users {
            for d in users.iter().filter(|d| *d != s) {
                for port in PORTS {
                    let src_port = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
                    assert!(src_port < 60_000, "out of source ports");
                    let flow = Flow {
                        src: Endpoint::Eni(*s),
                        dst: Endpoint::Eni(*d),
                        protocol: 6,
                        port,
                        src_port: Some(src_port),
                        icmp: (8, 0),
                    };
                    verdicts.push(an.check(&flow).reachable);
                    probes.push(Probe {
                        ns: names.eni_ns(*s),
                        src: None,
                        src_port,
                        dst: self.net.enis[d.index()].private_ip,
                        kind: ProbeKind::Tcp(port),
                    });
                }
            }
        }
        let got = run_batch(&probes, Duration::from_millis(1500)).expect("probes");
        probes
            .into_iter()
            .zip(verdicts)
            .zip(got)
            .map(|((p, a), k)| (p, a, k))
            .collect()
    }

    /// Every flow the analyzer blocks is blocked.
    fn blocked_stay_blocked(&self, what: &str) {
        let leaks: Vec<String> = self
            .probe()
            .into_iter()
            .filter(|(_, analyzer, kernel)| !analyzer && *kernel)
            .map(|(p, _, _)| format!("{} -> {} {:?}", p.ns, p.dst, p.kind))
            .collect();
        assert!(
            leaks.is_empty(),
            "{what}: {} blocked flow(s) passed:\n{}",
            leaks.len(),
            leaks.join("\n")
        );
    }

    /// Every flow gets the analyzer's verdict (and some pass, some do not).
    fn matches_analyzer(&self, what: &str) {
        let got = self.probe();
        let wrong: Vec<String> = got
            .iter()
            .filter(|(_, a, k)| a != k)
            .map(|(p, a, k)| {
                format!(
                    "{} -> {} {:?}: kernel {k}, analyzer {a}",
                    p.ns, p.dst, p.kind
                )
            })
            .collect();
        assert!(
            wrong.is_empty(),
            "{what}: {} disagreement(s):\n{}",
            wrong.len(),
            wrong.join("\n")
        );
        assert!(got.iter().any(|(_, a, _)| *a) && got.iter().any(|(_, a, _)| !*a));
    }

    /// Repairs with `cove apply`; then status is clean and traffic is the
    /// analyzer's again.
    fn repaired(&self, what: &str) {
        self.apply();
        self.status_clean();
        self.matches_analyzer(&format!("after repairing {what}"));
    }
}

fn users(net: &Network) -> Vec<EniId> {
    (0..net.enis.len())
        .map(|i| EniId(cove_model::lookup::index_u32(i)))
        .filter(|e| net.enis[e.index()].owner == EniOwner::User)
        .collect()
}

fn privileged(test: &str) -> bool {
    cove_probe::privileged(test)
}

/// Drift in cove's own table of the router, by an `nft` command.
fn router_rules_drift(tag: &str, nft: &[&str], fails_closed: bool) {
    let s = Setup::new(tag);
    let router = s.names().router_ns();
    s.in_ns(&router, nft);
    s.status_reports(&[&router, "not the ones cove loaded"]);
    // Applying twice in a row must not be needed: status was drift, so must apply.
    if fails_closed {
        s.blocked_stay_blocked(&nft.join(" "));
    }
    s.repaired(&nft.join(" "));
}

#[test]
fn flushed_forward_chain() {
    if !privileged("drift flushed chain") {
        return;
    }
    // `policy drop`: an empty forward chain drops everything.
    router_rules_drift(
        "hda",
        &["nft", "flush", "chain", "inet", "cove", "filter_forward"],
        true,
    );
    // The guard chain emptied: its `policy drop` drops everything.
    router_rules_drift(
        "hdn",
        &["nft", "flush", "chain", "inet", "cove", "forward_guard"],
        true,
    );
}

#[test]
fn flushed_acl_chain() {
    if !privileged("drift flushed acl chain") {
        return;
    }
    // The forward path is a pipeline of `goto`s: a packet that falls off an
    // emptied step meets `policy drop`, it does not skip the check. (fn-a to
    // db-1 on port 22 is allowed by db-1's security group in this spec, and only
    // its network ACL blocks it.)
    router_rules_drift(
        "hdb",
        &["nft", "flush", "chain", "inet", "cove", "nacl"],
        true,
    );
    router_rules_drift(
        "hdj",
        &["nft", "flush", "chain", "inet", "cove", "sg"],
        true,
    );
}

#[test]
fn inserted_accept_rule() {
    if !privileged("drift inserted rule") {
        return;
    }
    router_rules_drift(
        "hdc",
        &[
            "nft",
            "insert",
            "rule",
            "inet",
            "cove",
            "filter_forward",
            "accept",
        ],
        true,
    );
}

#[test]
fn deleted_chain_and_changed_policy() {
    if !privileged("drift deleted chain") {
        return;
    }
    // The router's input chain: traffic between ENIs does not pass it.
    router_rules_drift(
        "hdd",
        &["nft", "delete", "chain", "inet", "cove", "filter_input"],
        true,
    );
    // The forward chain, and the guard chain after it: packets without the
    // forward pipeline's mark are dropped by the guard (and with the guard gone,
    // the forward chain still decides).
    router_rules_drift(
        "hdk",
        &["nft", "delete", "chain", "inet", "cove", "filter_forward"],
        true,
    );
    router_rules_drift(
        "hdm",
        &["nft", "delete", "chain", "inet", "cove", "forward_guard"],
        true,
    );
    // The forward chain ends in its own verdicts: its policy decides nothing.
    router_rules_drift(
        "hde",
        &[
            "nft",
            "chain",
            "inet",
            "cove",
            "filter_forward",
            "{ policy accept; }",
        ],
        true,
    );
}

/// A table that is not cove's, in the router (`verdict`: `accept` or `drop`).
fn foreign_table(tag: &str, verdict: &str) {
    let s = Setup::new(tag);
    let router = s.names().router_ns();
    let table = format!("hd{verdict}");
    let chain = format!("{{ type filter hook forward priority -10; policy {verdict}; }}");
    s.in_ns(&router, &["nft", "add", "table", "inet", &table]);
    s.in_ns(
        &router,
        &["nft", "add", "chain", "inet", &table, "c", &chain],
    );
    s.in_ns(
        &router,
        &["nft", "add", "rule", "inet", &table, "c", verdict],
    );
    s.status_reports(&[&router, &format!("table inet {table} (not cove's")]);
    // cove's drop is final whatever another table accepts; a table that drops
    // only blocks more.
    s.blocked_stay_blocked(&format!("foreign table {verdict}"));
    s.repaired(&format!("foreign table {verdict}"));
    let out = Process::new("ip")
        .args(["netns", "exec", &router, "nft", "list", "tables"])
        .output()
        .expect("nft");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&table));
}

#[test]
fn foreign_table_that_accepts() {
    if !privileged("drift foreign accept") {
        return;
    }
    foreign_table("hdf", "accept");
}

#[test]
fn foreign_table_that_drops() {
    if !privileged("drift foreign drop") {
        return;
    }
    foreign_table("hdg", "drop");
}

#[test]
fn changed_mac_and_mtu() {
    if !privileged("drift mac mtu") {
        return;
    }
    let s = Setup::new("hdh");
    let ns = s.ns_of("functions/fn-a");
    // Another MAC: anti-spoofing drops all of fn-a's traffic (fails closed).
    s.in_ns(
        &ns,
        &["ip", "link", "set", "eth0", "address", "02:00:00:00:00:09"],
    );
    s.status_reports(&[&format!("~ link {ns}:eth0")]);
    s.blocked_stay_blocked("changed MAC");
    s.repaired("changed MAC");
    // Another MTU.
    s.in_ns(&ns, &["ip", "link", "set", "eth0", "mtu", "1400"]);
    s.status_reports(&[&format!("~ link {ns}:eth0: mtu 1500")]);
    s.blocked_stay_blocked("changed MTU");
    s.repaired("changed MTU");
}

#[test]
fn changed_elements_are_elements_not_rules() {
    if !privileged("drift elements") {
        return;
    }
    let s = Setup::new("hdl");
    let router = s.names().router_ns();
    // A link's subnet mark gone, and an address added to a group's member set:
    // element drift, repaired by one element batch (attaching an ENI changes
    // elements too, and must never look like changed rules).
    let fn_a = s
        .names()
        .eni_router_link(s.net.find_eni("functions/fn-a").expect("fn-a"));
    s.in_ns(
        &router,
        &[
            "nft",
            "delete",
            "element",
            "inet",
            "cove",
            "link_subnet",
            &format!("{{ \"{fn_a}\" }}"),
        ],
    );
    // The groups' members are one set keyed by the group's number (a mark).
    s.in_ns(
        &router,
        &[
            "nft",
            "add",
            "element",
            "inet",
            "cove",
            "members",
            "{ 1 . 10.30.9.9 }",
        ],
    );
    let out = s.status_reports(&[&router, "+1 -1 element(s)"]);
    assert!(!out.contains("not the ones cove loaded"), "{out}");
    // Meanwhile fn-a's packets miss the subnet map and skip its egress ACL (a
    // missing element cannot fail closed); that ACL allows everything here, so
    // nothing blocked passes.
    s.blocked_stay_blocked("element drift");
    s.repaired("element drift");
}

#[test]
fn route_with_another_proto() {
    if !privileged("drift route proto") {
        return;
    }
    let s = Setup::new("hdi");
    let router = s.names().router_ns();
    let fn_a = s.net.find_eni("functions/fn-a").expect("fn-a");
    let db = s.net.find_eni("prod/db-1").expect("db");
    let db_ip = s.net.enis[db.index()].private_ip;
    // The route table of fn-a's subnet: one route cove does not want, and cove's
    // own route to db-1 across the peering replaced by an equal one with
    // `proto boot`.
    let table = cove_plan::routing::eni_route_table_mark(&s.net, fn_a).to_string();
    let db_link = s.names().eni_router_link(db);
    s.in_ns(
        &router,
        &[
            "ip",
            "route",
            "add",
            "blackhole",
            "10.99.0.0/16",
            "table",
            &table,
            "proto",
            "boot",
        ],
    );
    s.in_ns(
        &router,
        &[
            "ip",
            "route",
            "replace",
            &format!("{db_ip}/32"),
            "dev",
            &db_link,
            "scope",
            "link",
            "table",
            &table,
            "proto",
            "boot",
        ],
    );
    s.status_reports(&[&router, "proto boot"]);
    s.blocked_stay_blocked("route proto boot");
    s.repaired("route proto boot");
    let out = Process::new("ip")
        .args([
            "netns", "exec", &router, "ip", "route", "show", "table", &table,
        ])
        .output()
        .expect("ip");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("proto boot"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
