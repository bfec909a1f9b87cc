//! Privileged tests against the real kernel: they create namespaces named
//! `th<pid><tag>-…` and touch nothing else. As root they run; otherwise they are
//! skipped, except under `CI=true` where not being root fails them.
//!
//! Needs the Debian packages `iproute2 nftables iputils-ping netcat-openbsd socat`.

mod common;

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use cove_host::{Host, HostError};
use cove_plan::{
    Address, DevName, HostState, NftTable, NsState, Op, Plan, Route, RouteKind, Rule, RuleSelector,
    VethEnd, VethPair,
};

use common::{ForeignNs, Guard, chain, eventually, ok, privileged, run};

fn dev(n: &str) -> DevName {
    DevName::new(n).expect("interface name")
}

fn addr(d: &str, a: &str) -> Address {
    Address {
        dev: dev(d),
        addr: a.parse().expect("address"),
    }
}

fn route(table: u32, dst: &str, kind: RouteKind) -> Route {
    Route {
        table,
        dst: dst.parse().expect("prefix"),
        kind,
        proto: cove_plan::ROUTE_PROTO_STATIC,
    }
}

fn via(gw: &str, d: &str) -> RouteKind {
    RouteKind::Via {
        gateway: gw.parse().expect("gateway"),
        dev: dev(d),
    }
}

fn end(ns: &str, name: &str, mac: Option<[u8; 6]>) -> VethEnd {
    VethEnd {
        ns: ns.to_owned(),
        name: name.to_owned(),
        mac,
    }
}

/// Drops TCP port 8081 in the forward path.
fn firewall(generation: &str) -> NftTable {
    NftTable {
        name: "cove".to_owned(),
        generation: generation.to_owned(),
        text: format!(
            "table inet cove {{\n  comment \"gen:{generation}\"\n  chain fw {{\n    \
             type filter hook forward priority 0; policy accept;\n    \
             tcp dport 8081 drop\n  }}\n}}\n"
        ),
        elements: Default::default(),
        rules_digest: None,
        loaded_digest: None,
    }
}

/// Two hosts and a router: `h1` 10.0.1.2/32 and `h2` 10.0.2.2/32, each with a
/// default route `via` the router `onlink`; the router forwards through table 1000,
/// selected by `iif` rules, and drops TCP 8081.
fn three_namespaces(p: &str) -> HostState {
    let (h1, h2, r) = (format!("{p}-h1"), format!("{p}-h2"), format!("{p}-r"));
    let mut s = HostState::default();
    s.veths.insert(VethPair {
        a: end(&r, "r1", None),
        b: end(&h1, "eth0", Some([0x02, 0, 0, 0, 1, 2])),
    });
    s.veths.insert(VethPair {
        a: end(&h2, "eth0", Some([0x02, 0, 0, 0, 2, 2])),
        b: end(&r, "r2", None),
    });
    let host = |gw: &str, ip: &str, extra: &[Address], routes: &[Route]| NsState {
        forwarding: false,
        local_rule_last: false,
        links: BTreeSet::from(["eth0".to_owned()]),
        addresses: [addr("eth0", ip)]
            .into_iter()
            .chain(extra.iter().copied())
            .collect(),
        routes: [route(254, "0.0.0.0/0", via(gw, "eth0"))]
            .into_iter()
            .chain(routes.iter().copied())
            .collect(),
        rules: BTreeSet::new(),
        nft: None,
        link_settings: Default::default(),
        foreign_tables: Default::default(),
    };
    s.namespaces.insert(
        h1,
        host(
            "10.0.1.1",
            "10.0.1.2/32",
            &[],
            &[route(
                254,
                "10.0.1.1/32",
                RouteKind::Dev { dev: dev("eth0") },
            )],
        ),
    );
    // A /24 makes the kernel add a `proto kernel` route, which is not observed.
    s.namespaces.insert(
        h2,
        host(
            "10.0.2.1",
            "10.0.2.2/32",
            &[addr("eth0", "192.168.50.2/24")],
            &[route(254, "10.66.0.0/16", RouteKind::Blackhole)],
        ),
    );
    let rule = |priority, selector, table| Rule {
        priority,
        selector,
        table,
    };
    s.namespaces.insert(
        r,
        NsState {
            forwarding: true,
            local_rule_last: true,
            links: BTreeSet::from(["r1".to_owned(), "r2".to_owned()]),
            addresses: [addr("r1", "10.0.1.1/32"), addr("r2", "10.0.2.1/32")].into(),
            routes: [
                route(1000, "10.0.1.2/32", RouteKind::Dev { dev: dev("r1") }),
                route(1000, "10.0.2.2/32", RouteKind::Dev { dev: dev("r2") }),
                route(1000, "10.9.0.0/16", RouteKind::Unreachable),
                route(200, "10.7.0.0/16", RouteKind::Blackhole),
            ]
            .into(),
            rules: [
                rule(100, RuleSelector::Iif(dev("r1")), 1000),
                rule(101, RuleSelector::Iif(dev("r2")), 1000),
                rule(
                    200,
                    RuleSelector::To("10.0.0.0/8".parse().expect("net")),
                    1000,
                ),
                rule(
                    300,
                    RuleSelector::ToMarked {
                        to: "10.0.0.0/16".parse().expect("net"),
                        mark: 0x0010_0000,
                        mask: 0xfff0_0000,
                    },
                    0x0010_0000,
                ),
                rule(301, RuleSelector::Fwmark(0x0010_0001), 0x0010_0001),
            ]
            .into(),
            nft: Some(firewall("g1")),
            link_settings: Default::default(),
            foreign_tables: Default::default(),
        },
    );
    s
}

/// The plan that builds `s` from nothing, in the planner's order.
fn plan_for(s: &HostState) -> Plan {
    let mut ops = Vec::new();
    for (ns, st) in &s.namespaces {
        ops.push(Op::CreateNamespace { ns: ns.clone() });
        if st.forwarding {
            ops.push(Op::SetForwarding {
                ns: ns.clone(),
                enabled: true,
            });
        }
        if st.local_rule_last {
            ops.push(Op::SetLocalRuleLast {
                ns: ns.clone(),
                last: true,
            });
        }
    }
    for pair in &s.veths {
        ops.push(Op::CreateVeth { pair: pair.clone() });
    }
    for (ns, st) in &s.namespaces {
        let ns = || ns.clone();
        ops.extend(st.addresses.iter().map(|a| Op::AddAddress {
            ns: ns(),
            address: *a,
        }));
        ops.extend(st.routes.iter().map(|r| Op::AddRoute {
            ns: ns(),
            route: *r,
        }));
        ops.extend(st.rules.iter().map(|r| Op::AddRule { ns: ns(), rule: *r }));
        if let Some(t) = &st.nft {
            ops.push(Op::ReplaceNft {
                ns: ns(),
                table: t.clone(),
                why: cove_plan::NftWhy::Missing,
            });
        }
    }
    Plan { ops }
}

/// What `observe` can report for `s`: no veth pairs, nft text empty (link
/// settings and rule digests are compared by `observe`, then left out).
fn as_observed(s: &HostState) -> HostState {
    let mut s = s.clone();
    s.veths.clear();
    for st in s.namespaces.values_mut() {
        st.link_settings.clear();
        if let Some(t) = &mut st.nft {
            t.text.clear();
        }
    }
    s
}

fn apply(host: &Host, plan: &Plan) -> cove_host::ApplyReport {
    host.apply(plan)
        .unwrap_or_else(|e| panic!("apply failed: {}", chain(&e)))
}

fn observe(host: &Host) -> HostState {
    let mut s = host
        .observe()
        .unwrap_or_else(|e| panic!("observe failed: {}", chain(&e)));
    for st in s.namespaces.values_mut() {
        for (link, settings) in std::mem::take(&mut st.link_settings) {
            assert_eq!(settings.mtu, cove_plan::VETH_MTU, "{link}");
        }
        if let Some(t) = &mut st.nft {
            assert!(t.rules_digest.is_some());
            assert!(t.rules_as_loaded(), "{t:?}");
            t.rules_digest = None;
            t.loaded_digest = None;
        }
    }
    s
}

#[test]
fn three_namespaces_carry_traffic_through_the_router_and_its_firewall() {
    if !privileged("three_namespaces_carry_traffic") {
        return;
    }
    let g = Guard::new('a');
    let p = g.0.prefix().to_owned();
    let plan = plan_for(&three_namespaces(&p));
    let report = apply(&g.0, &plan);
    assert_eq!(report.ops, plan.ops.len());
    eprintln!("apply: {} ops in {:?}", report.ops, report.elapsed);
    let (h1, h2) = (format!("{p}-h1"), format!("{p}-h2"));

    // Servers in h2 on 8080 (allowed) and 8081 (dropped by the router).
    let mut servers = Vec::new();
    for port in ["8080", "8081"] {
        let mut cmd = Command::new("socat");
        cmd.args([
            &format!("TCP-LISTEN:{port},reuseaddr,fork"),
            "SYSTEM:echo hello",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        servers.push(g.0.spawn(&h2, cmd).expect("spawn socat"));
    }
    for port in ["8080", "8081"] {
        assert!(
            eventually(5, || ok(
                &g.0,
                &h2,
                &["nc", "-z", "-w", "1", "127.0.0.1", port]
            )),
            "server on {port} did not come up"
        );
    }

    let ping = run(&g.0, &h1, &["ping", "-c1", "-W2", "10.0.2.2"]);
    assert!(ping.status.success(), "ping h1 -> h2 failed: {ping:?}");
    let allowed = run(&g.0, &h1, &["nc", "-w", "2", "10.0.2.2", "8080"]);
    assert!(allowed.status.success(), "TCP 8080 failed: {allowed:?}");
    assert_eq!(String::from_utf8_lossy(&allowed.stdout).trim(), "hello");
    assert!(
        !ok(&g.0, &h1, &["nc", "-z", "-w", "2", "10.0.2.2", "8081"]),
        "TCP 8081 went through the router's drop rule"
    );
    // The router's own traffic uses the `to` rule into table 1000.
    assert!(ok(
        &g.0,
        &format!("{p}-r"),
        &["ping", "-c1", "-W2", "10.0.1.2"]
    ));

    let removed = g.0.destroy().map_err(|e| e.len()).expect("destroy");
    assert_eq!(removed, 3);
    for mut s in servers {
        assert!(eventually(5, || s.try_wait().ok().flatten().is_some()));
    }
}

#[test]
fn observe_after_apply_equals_the_desired_state() {
    if !privileged("observe_after_apply") {
        return;
    }
    let g = Guard::new('b');
    let desired = three_namespaces(g.0.prefix());
    apply(&g.0, &plan_for(&desired));
    let t = Instant::now();
    let observed = observe(&g.0);
    eprintln!("observe of 3 namespaces: {:?}", t.elapsed());
    assert_eq!(observed, as_observed(&desired));
    for (ns, st) in &observed.namespaces {
        let want = desired.namespaces[ns].nft.as_ref();
        assert_eq!(st.nft.is_some(), want.is_some());
        if let (Some(a), Some(b)) = (&st.nft, want) {
            assert!(a.same(b));
        }
    }

    // No IPv6 address on any veth end (none is generated when the pair gets its
    // carrier, which happens during the apply), and none will be.
    for pair in &desired.veths {
        for end in [&pair.a, &pair.b] {
            let addrs = run(
                &g.0,
                &end.ns,
                &["ip", "-6", "-o", "addr", "show", "dev", &end.name],
            );
            assert!(addrs.status.success(), "{addrs:?}");
            assert_eq!(
                String::from_utf8_lossy(&addrs.stdout),
                "",
                "{} {}",
                end.ns,
                end.name
            );
            let link = run(
                &g.0,
                &end.ns,
                &["ip", "-d", "-o", "link", "show", &end.name],
            );
            assert!(
                String::from_utf8_lossy(&link.stdout).contains("addrgenmode none"),
                "{link:?}"
            );
        }
    }

    // MACs are set where the pair asks for them (`observe` does not report them).
    let h1 = format!("{}-h1", g.0.prefix());
    let link = run(&g.0, &h1, &["ip", "-br", "link", "show", "eth0"]);
    assert!(
        String::from_utf8_lossy(&link.stdout).contains("02:00:00:00:01:02"),
        "{link:?}"
    );

    // Changing the firewall, removing a route, a rule and an address shows up too.
    let r = format!("{}-r", g.0.prefix());
    let h2 = format!("{}-h2", g.0.prefix());
    let gone_route = route(200, "10.7.0.0/16", RouteKind::Blackhole);
    let gone_rule = Rule {
        priority: 200,
        selector: RuleSelector::To("10.0.0.0/8".parse().expect("net")),
        table: 1000,
    };
    let gone_addr = addr("eth0", "192.168.50.2/24");
    let change = Plan {
        ops: vec![
            Op::ReplaceNft {
                ns: r.clone(),
                table: firewall("g2"),
                why: cove_plan::NftWhy::Missing,
            },
            Op::DeleteRoute {
                ns: r.clone(),
                route: gone_route,
            },
            Op::DeleteRule {
                ns: r.clone(),
                rule: gone_rule,
            },
            Op::DeleteAddress {
                ns: h2.clone(),
                address: gone_addr,
            },
        ],
    };
    apply(&g.0, &change);
    let mut want = as_observed(&desired);
    let rs = want.namespaces.get_mut(&r).expect("router");
    rs.nft = Some(NftTable {
        text: String::new(),
        ..firewall("g2")
    });
    rs.routes.remove(&gone_route);
    rs.rules.remove(&gone_rule);
    want.namespaces
        .get_mut(&h2)
        .expect("h2")
        .addresses
        .remove(&gone_addr);
    assert_eq!(observe(&g.0), want);
    // Removing what is already gone succeeds.
    apply(&g.0, &change);
}

#[test]
fn a_plan_naming_a_foreign_namespace_is_refused_and_changes_nothing() {
    if !privileged("foreign_plan_refused") {
        return;
    }
    let g = Guard::new('c');
    let p = g.0.prefix().to_owned();
    let foreign = format!("foreign-{}c", std::process::id());
    let plan = Plan {
        ops: vec![
            Op::CreateNamespace {
                ns: format!("{p}-a"),
            },
            Op::CreateNamespace {
                ns: foreign.clone(),
            },
        ],
    };
    let err = g.0.apply(&plan).expect_err("foreign namespace accepted");
    assert!(matches!(err, HostError::ForeignNamespace { ref ns, .. } if *ns == foreign));
    assert!(!Path::new(&format!("/run/netns/{p}-a")).exists());
    assert!(!Path::new(&format!("/run/netns/{foreign}")).exists());

    // A veth whose far end is foreign, after other valid ops: still nothing done.
    apply(
        &g.0,
        &Plan {
            ops: vec![Op::CreateNamespace {
                ns: format!("{p}-a"),
            }],
        },
    );
    let before = observe(&g.0);
    let plan = Plan {
        ops: vec![
            Op::SetForwarding {
                ns: format!("{p}-a"),
                enabled: true,
            },
            Op::CreateVeth {
                pair: VethPair {
                    a: end(&format!("{p}-a"), "v0", None),
                    b: end(&foreign, "v1", None),
                },
            },
        ],
    };
    assert!(matches!(
        g.0.apply(&plan),
        Err(HostError::ForeignNamespace { .. })
    ));
    assert_eq!(observe(&g.0), before);
    assert!(!before.namespaces[&format!("{p}-a")].forwarding);
    // exec and spawn refuse too.
    assert!(g.0.exec(&foreign, &["true".to_owned()]).is_err());
}

#[test]
fn destroy_kills_processes_removes_only_owned_namespaces() {
    if !privileged("destroy") {
        return;
    }
    let g = Guard::new('d');
    let p = g.0.prefix().to_owned();
    let (a, b) = (format!("{p}-a"), format!("{p}-b"));
    apply(
        &g.0,
        &Plan {
            ops: vec![
                Op::CreateNamespace { ns: a.clone() },
                Op::CreateNamespace { ns: b.clone() },
                Op::CreateVeth {
                    pair: VethPair {
                        a: end(&a, "v0", None),
                        b: end(&b, "v1", None),
                    },
                },
            ],
        },
    );
    let foreign = ForeignNs::new('d');
    let mut sleeper = Command::new("sleep");
    sleeper.arg("300");
    let mut child = g.0.spawn(&a, sleeper).expect("spawn sleep");
    let status = g.0.exec(&b, &["true".to_owned()]).expect("exec");
    assert!(status.success());

    let removed = g.0.destroy().map_err(|e| e.len()).expect("destroy");
    assert_eq!(removed, 2);
    let mut status = None;
    assert!(eventually(5, || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    }));
    assert_eq!(status.and_then(|s| s.signal()), Some(9), "sleep not killed");
    let left: Vec<_> = std::fs::read_dir("/run/netns")
        .expect("list /run/netns")
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(&format!("{p}-")))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(observe(&g.0).namespaces.is_empty());
    // The foreign namespace is intact and usable.
    let out = Command::new("timeout")
        .args([
            "5", "ip", "netns", "exec", &foreign.0, "ip", "link", "show", "lo",
        ])
        .output()
        .expect("ip netns exec");
    assert!(out.status.success(), "foreign namespace damaged: {out:?}");
    assert_eq!(g.0.destroy().map_err(|e| e.len()), Ok(0));
}

#[test]
fn a_namespace_deleted_by_hand_is_observed_missing() {
    if !privileged("deleted_by_hand") {
        return;
    }
    let g = Guard::new('e');
    let p = g.0.prefix().to_owned();
    let (a, b) = (format!("{p}-a"), format!("{p}-b"));
    apply(
        &g.0,
        &Plan {
            ops: vec![
                Op::CreateNamespace { ns: a.clone() },
                Op::CreateNamespace { ns: b.clone() },
            ],
        },
    );
    let both: Vec<_> = observe(&g.0).namespaces.into_keys().collect();
    assert_eq!(both, [a.clone(), b.clone()]);
    let out = Command::new("timeout")
        .args(["5", "ip", "netns", "del", &b])
        .output()
        .expect("ip netns del");
    assert!(out.status.success(), "{out:?}");
    let left: Vec<_> = observe(&g.0).namespaces.into_keys().collect();
    assert_eq!(left, [a]);
}
