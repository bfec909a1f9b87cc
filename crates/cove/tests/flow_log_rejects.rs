//! REJECT flow-log records with real traffic (issue 14): connections refused by
//! a named network-ACL entry, by the receiver's security group and by the
//! sender's security group give exactly one REJECT record each, at the refusing
//! interface, carrying the SYN's packets and bytes — and each record's rule names
//! the component `cove check` says the flow is blocked at.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::Deployment;
use common::flows::{lines_of, ns_with, sink};

const SPEC: &str = "tenants:
  - name: t
    account_id: '123456789012'
    vpcs:
      - name: v
        cidr: 10.76.0.0/16
        subnets:
          - { name: s1, cidr: 10.76.1.0/24, az: us-east-1a }
          - { name: s2, cidr: 10.76.2.0/24, az: us-east-1a, network_acl: guard }
        network_acls:
          - name: guard
            ingress:
              - { rule: 90, action: deny, protocol: tcp, ports: 6000, cidr: 10.76.1.0/24 }
              - { rule: 100, action: allow, protocol: all, cidr: 0.0.0.0/0 }
            egress:
              - { rule: 100, action: allow, protocol: all, cidr: 0.0.0.0/0 }
        security_groups:
          - name: client
            egress:
              - { protocol: tcp, ports: 5000-7000, cidr: 10.76.0.0/16 }
          - name: db
            ingress:
              - { protocol: tcp, ports: 5000-6500, cidr: 10.76.0.0/16 }
        enis:
          - { name: a, subnet: s1, private_ip: 10.76.1.10, security_groups: [client] }
          - { name: b, subnet: s2, private_ip: 10.76.2.20, security_groups: [db] }
        flow_logs:
          - name: rejects
            traffic_type: REJECT
            max_aggregation_interval: 1
            file_format: json
            log_format: '${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${action} ${flow-direction} ${tcp-flags} ${cove-rule} ${cove-reason}'
";

const A: Ipv4Addr = Ipv4Addr::new(10, 76, 1, 10);
const B: Ipv4Addr = Ipv4Addr::new(10, 76, 2, 20);
/// Attempts per refused port.
const K: usize = 3;

/// One connection attempt from `ns` (refused ones time out after 1.5 s); the
/// source port used, and whether it connected.
fn attempt(ns: &str, port: u16) -> (u16, bool) {
    cove_probe::in_namespace(ns, move || {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)).into())
            .expect("bind");
        let local = s
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map_or(0, |a| a.port());
        let ok = s
            .connect_timeout(
                &SocketAddr::from((B, port)).into(),
                Duration::from_millis(1500),
            )
            .is_ok();
        (local, ok)
    })
    .expect("namespace")
}

/// `step: component` of where `cove check` blocks a → b on `port`.
fn blocked_at(d: &Deployment, port: u16) -> String {
    let out = d
        .cove()
        .args(["check", "--from", "t/v/a", "--to", "t/v/b", "--port"])
        .arg(port.to_string())
        .arg("--json")
        .output()
        .expect("check");
    assert_eq!(out.status.code(), Some(3), "port {port} is not blocked");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let b = &v["verdict"]["blocked"];
    format!(
        "{}: {}",
        b["step"].as_str().expect("step"),
        b["component"].as_str().expect("component")
    )
}

#[test]
fn refused_connections_give_reject_records_naming_the_component() {
    if !cove_probe::privileged("flow_log_rejects") {
        return;
    }
    let d = Deployment::new("fr");
    let (_dir, _spec, _net) = d.apply_text(SPEC);
    let (_serve, addr) = common::functions::serve(&d, &[]);
    let (a_ns, b_ns) = (ns_with(&d, A), ns_with(&d, B));
    for port in [5432, 6000, 6800, 7500] {
        sink(&b_ns, B, port);
    }
    // The collector binds NFLOG when it starts: an allowed connection shows the
    // data path is up first.
    let mut up = false;
    for _ in 0..40 {
        if attempt(&a_ns, 5432).1 {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(up, "a cannot reach b on an allowed port");
    std::thread::sleep(Duration::from_secs(2));
    // 6000: entry 90 of b's subnet's ACL; 6800: b's group has no rule for it;
    // 7500: a's group lets nothing out to it.
    let refused = [(6000u16, "ingress"), (6800, "ingress"), (7500, "egress")];
    let mut ports: BTreeMap<u16, BTreeSet<u16>> = BTreeMap::new();
    for (port, _) in refused {
        for _ in 0..K {
            let (local, ok) = attempt(&a_ns, port);
            assert!(!ok, "port {port} connected");
            ports.entry(port).or_default().insert(local);
        }
    }
    let path = d
        .state
        .path()
        .join(&d.prefix)
        .join("flow-logs/t/v/rejects.log");
    let lines = lines_of(&path, refused.len() * K, |l| l.contains("\"REJECT\""));
    // Late retransmissions land in a later window: wait them out and reread.
    std::thread::sleep(Duration::from_secs(3));
    let lines = lines_of(&path, lines.len(), |l| l.contains("\"REJECT\""));
    let mut by_port: BTreeMap<u16, Vec<serde_json::Value>> = BTreeMap::new();
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).expect("JSON record");
        let port = u16::try_from(v["dstport"].as_u64().expect("dstport")).expect("port");
        by_port.entry(port).or_default().push(v);
    }
    assert_eq!(
        by_port.keys().copied().collect::<Vec<_>>(),
        vec![6000, 6800, 7500],
        "only the refused ports: {lines:#?}"
    );
    for (port, direction) in refused {
        let records = &by_port[&port];
        let want = blocked_at(&d, port);
        let mut sources = BTreeSet::new();
        let mut packets = 0;
        for r in records {
            assert_eq!(r["action"], "REJECT", "{r}");
            assert_eq!(r["flow-direction"], direction, "{r}");
            assert_eq!(r["srcaddr"], A.to_string(), "{r}");
            assert_eq!(r["dstaddr"], B.to_string(), "{r}");
            assert_eq!(r["protocol"], 6, "{r}");
            assert_eq!(r["tcp-flags"], 2, "only SYNs were refused: {r}");
            let rule = r["cove-rule"].as_str().expect("rule");
            assert!(
                rule.starts_with(&format!("{want} — ")),
                "port {port}: the record says `{rule}`, cove check `{want}`"
            );
            let n = r["packets"].as_u64().expect("packets");
            let bytes = r["bytes"].as_u64().expect("bytes");
            assert!(n >= 1 && (40..=80).contains(&(bytes / n)), "{r}");
            packets += n;
            sources.insert(u16::try_from(r["srcport"].as_u64().expect("port")).expect("port"));
        }
        assert_eq!(
            sources, ports[&port],
            "port {port}: one record per refused connection"
        );
        assert!(packets >= K as u64, "{packets}");
        // The interface: b's for what arrived refused, a's for what left refused.
        let at: BTreeSet<&str> = records
            .iter()
            .filter_map(|r| r["interface-id"].as_str())
            .collect();
        assert_eq!(at.len(), 1, "{records:#?}");
    }
    let rule = |port: u16| {
        by_port[&port][0]["cove-rule"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    assert!(rule(6000).contains("entry 90 denies it"), "{}", rule(6000));
    assert!(rule(6000).starts_with("network-acl-ingress: "));
    assert!(rule(6800).starts_with("security-group-ingress: t/v/db"));
    assert!(rule(7500).starts_with("security-group-egress: t/v/client"));
    assert_ne!(
        by_port[&6800][0]["interface-id"], by_port[&7500][0]["interface-id"],
        "refused arriving at b, and leaving a"
    );

    // `cove flows` reads them back by action.
    let out = d
        .cove()
        .args(["flows", "--action", "REJECT", "--json"])
        .output()
        .expect("cove flows");
    assert_eq!(out.status.code(), Some(0));
    let rows = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(
        rows,
        lines.len(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The metrics count the refused packets read.
    let (status, _, body) = common::functions::http(addr, "GET", "/metrics", b"");
    assert_eq!(status, 200);
    let refused_packets = String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix("cove_flow_log_refused_packets_total "))
        .and_then(|v| v.parse::<u64>().ok())
        .expect("refused packets in /metrics");
    assert!(refused_packets >= (refused.len() * K) as u64);
}
