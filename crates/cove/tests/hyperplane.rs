//! Issue 17's shared function ENIs with real traffic (prefix `hp…`): 200 execution
//! environments of two functions with the same subnet and security groups send
//! through one shared ENI address (a third function in two subnets adds the second
//! one); every environment reaches the database at once, all from the same source
//! port before translation, and the database sees only the shared addresses; an
//! environment cannot reach another (same ENI or not); nothing in the VPC can open a
//! connection to an environment, at its own address or at the shared one, though
//! the functions' group allows everything in (the one-way rule alone stops it); `cove
//! check --from fn:NAME` explains the path through the shared ENI; `cove destroy`
//! leaves no environment namespace behind.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::Duration;

use cove_model::{EniOwner, FunctionId};
use cove_plan::environments::environments;
use cove_plan::names::Names;
use cove_probe::{Probe, ProbeKind, Responder, allow_ping_sockets, run_batch};

use common::Deployment;
use common::tcp::{connect_from, db_server};

const SPEC: &str = r#"
tenants:
  - name: t
    vpcs:
      - name: v
        cidr: 10.70.0.0/16
        subnets:
          - { name: a, cidr: 10.70.1.0/24, az: us-east-1a }
          - { name: b, cidr: 10.70.2.0/24, az: us-east-1b }
        security_groups:
          # Allows everything in: environments must still accept nothing.
          - name: fn
            ingress:
              - { protocol: all, cidr: 0.0.0.0/0 }
          - name: db
            ingress:
              - { protocol: tcp, ports: 5432, security_group: fn }
              - { protocol: icmp, security_group: fn }
        enis:
          - { name: db, subnet: a, private_ip: 10.70.1.10, security_groups: [db] }
        functions:
          - { name: f1, runtime: python3.11, handler: app.handler, code: ./code, subnets: [a], security_groups: [fn], concurrency: 100 }
          - { name: f2, runtime: python3.11, handler: app.handler, code: ./code, subnets: [a], security_groups: [fn], concurrency: 100 }
          - { name: f3, runtime: python3.11, handler: app.handler, code: ./code, subnets: [a, b], security_groups: [fn], concurrency: 2 }
"#;

fn probe(ns: &str, dst: Ipv4Addr, src_port: u16, kind: ProbeKind) -> Probe {
    Probe {
        ns: ns.to_owned(),
        src: None,
        src_port,
        dst,
        kind,
    }
}

#[test]
fn environments_share_enis_reach_the_database_and_accept_nothing() {
    if !cove_probe::privileged("hyperplane") {
        return;
    }
    let d = Deployment::new("hp");
    let (_dir, spec, net) = d.apply_text(SPEC);
    let names = Names::new(&net, &d.prefix);
    let envs = environments(&net, &names).expect("environments");
    assert_eq!(envs.len(), 202);
    // Two shared ENIs: (a, fn) for all three functions, (b, fn) for f3.
    let shared: BTreeMap<String, Ipv4Addr> = net
        .enis
        .iter()
        .filter(|e| e.owner == EniOwner::Shared)
        .map(|e| (e.name.clone(), e.private_ip))
        .collect();
    assert_eq!(shared.len(), 2, "{shared:?}");
    let shared_a = shared["hpl:a:fn"];
    let shared_b = shared["hpl:b:fn"];
    // Every environment namespace exists; none holds a subnet address.
    let existing: BTreeSet<String> = d.namespaces().into_iter().collect();
    for e in &envs {
        assert!(existing.contains(&e.ns), "{} missing", e.ns);
    }
    let db_ns = names.eni_ns(net.find_eni("t/v/db").expect("db"));
    let db_ip = Ipv4Addr::new(10, 70, 1, 10);
    let db = db_server(&db_ns, db_ip, 5432);

    // 1. Every environment at once, each from source port 40000 before translation;
    //    the connections stay open until the database has seen them all.
    let threads: Vec<_> = envs
        .iter()
        .map(|e| {
            let ns = e.ns.clone();
            std::thread::spawn(move || (ns.clone(), connect_from(&ns, db_ip, 5432, 40_000)))
        })
        .collect();
    let mut open = Vec::new();
    let mut failed = Vec::new();
    for t in threads {
        match t.join().expect("thread") {
            (_, Ok(s)) => open.push(s),
            (ns, Err(e)) => failed.push(format!("{ns}: {e}")),
        }
    }
    assert!(
        failed.is_empty(),
        "{} environments could not connect: {failed:?}",
        failed.len()
    );
    // Every connection is established; the server thread may still be accepting
    // the last ones (bounded wait).
    let peers = db.wait_for(envs.len(), Duration::from_secs(10));
    assert_eq!(peers.len(), envs.len(), "{peers:?}");
    drop(open);
    let addresses: BTreeSet<Ipv4Addr> = peers
        .iter()
        .map(|p| match p.ip() {
            std::net::IpAddr::V4(ip) => ip,
            std::net::IpAddr::V6(ip) => panic!("{ip}"),
        })
        .collect();
    assert_eq!(
        addresses,
        BTreeSet::from([shared_a, shared_b]),
        "the database sees only the shared ENIs' addresses"
    );
    let ports: BTreeSet<(std::net::IpAddr, u16)> =
        peers.iter().map(|p| (p.ip(), p.port())).collect();
    assert_eq!(
        ports.len(),
        peers.len(),
        "each connection got its own source port"
    );
    let through_b = peers.iter().filter(|p| p.ip() == shared_b).count();
    assert_eq!(through_b, 1, "f3's environment 1 sends through subnet b");
    // ICMP too.
    for e in &envs[..3] {
        allow_ping_sockets(&e.ns).expect("ping sockets");
    }
    let pings: Vec<Probe> = envs[..3]
        .iter()
        .map(|e| probe(&e.ns, db_ip, 0, ProbeKind::IcmpEcho))
        .collect();
    assert_eq!(
        run_batch(&pings, Duration::from_secs(3)).expect("pings"),
        [true; 3]
    );

    // 2. Environments cannot reach each other, on the same shared ENI (f1 → f2) or
    //    on another (f1 → f3's environment in subnet b), though each listens.
    let f1 = &envs[0];
    let f2 = envs
        .iter()
        .find(|e| e.function == FunctionId(1))
        .expect("f2");
    let f3b = envs
        .iter()
        .find(|e| e.function == FunctionId(2) && e.index == 1)
        .expect("f3 in b");
    assert_eq!(net.enis[f3b.shared_eni.index()].private_ip, shared_b);
    let mut responders = Vec::new();
    for e in [f1, f2, f3b] {
        responders.push(
            Responder::start(&e.ns, Ipv4Addr::UNSPECIFIED, &[7000], &[7000]).expect("responder"),
        );
        allow_ping_sockets(&e.ns).expect("ping sockets");
    }
    // Controls: each answers inside its own namespace.
    let own: Vec<Probe> = [f2, f3b]
        .iter()
        .map(|e| probe(&e.ns, e.address, 41_000, ProbeKind::Tcp(7000)))
        .collect();
    assert_eq!(
        run_batch(&own, Duration::from_secs(3)).expect("own"),
        [true; 2]
    );
    let mut blocked = Vec::new();
    for target in [f2, f3b] {
        for (port, kind) in (42_000u16..).zip([
            ProbeKind::Tcp(7000),
            ProbeKind::Udp(7000),
            ProbeKind::IcmpEcho,
        ]) {
            blocked.push(probe(&f1.ns, target.address, port, kind));
        }
    }
    // 3. Nothing in the VPC opens a connection to an environment: from the
    //    database to an environment's own address, and to the shared addresses.
    for (port, dst) in (43_000u16..).zip([f1.address, f3b.address, shared_a, shared_b]) {
        blocked.push(probe(&db_ns, dst, port, ProbeKind::Tcp(7000)));
        blocked.push(probe(&db_ns, dst, port + 100, ProbeKind::Udp(7000)));
    }
    let got = run_batch(&blocked, Duration::from_millis(1500)).expect("blocked probes");
    for (p, ok) in blocked.iter().zip(&got) {
        assert!(!ok, "{p:?} got through");
    }
    drop(responders);

    // 4. The analyzer explains the function's path through its shared ENI, and
    //    refuses a connection to it.
    let out = d
        .cove()
        .args([
            "check", "--from", "fn:f1", "--to", "t/v/db", "--proto", "tcp", "--port", "5432",
        ])
        .output()
        .expect("check");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("shared-eni"), "{text}");
    assert!(text.contains(&shared_a.to_string()), "{text}");
    let why = common::check_blocked(&d, "t/v/db", "fn:f3@b", 7000);
    assert!(why.contains("shared function ENI"), "{why}");

    // 5. Status shows the shared ENIs and what sends through them.
    let out = d
        .cove()
        .args(["status", "-f"])
        .arg(&spec)
        .output()
        .expect("status");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("in sync: "), "{text}");
    assert!(
        text.contains(&format!(
            "shared ENI t/v/hpl:a:fn {shared_a}: 201 environment(s) of f1, f2, f3"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "shared ENI t/v/hpl:b:fn {shared_b}: 1 environment(s) of f3"
        )),
        "{text}"
    );

    // 6. Destroy leaves nothing: no environment namespace, no router.
    let out = d.cove().arg("destroy").output().expect("destroy");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(d.namespaces().is_empty(), "{:?}", d.namespaces());
}
