//! Issue 12's endpoint services between tenants (PrivateLink), with real packets
//! (prefix `plk…`). A provider publishes two database ENIs on port 5432; a consumer
//! whose VPC has the **same CIDR** — and a client at the same address as one of the
//! provider's databases — reaches them through its interface endpoint:
//!
//! * connections to the endpoint's address are spread over both targets, and the
//!   provider sees them from the front's address (the top of its subnet), never
//!   the consumer's;
//! * another port of the endpoint goes nowhere; the provider cannot open a
//!   connection back through the front;
//! * a third tenant's endpoint waits for acceptance (its connections time out)
//!   until the provider accepts it in its spec, then works;
//! * with `cove serve`, the service's private DNS name resolves to the endpoint's
//!   address in the consumer's VPC, and a function there connects by that name.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`).

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use cove_model::{EndpointKind, Network};
use cove_plan::names::Names;
use serde_json::json;

use common::Deployment;
use common::functions::{deploy_python, runtimes_ready, serve};
use common::tcp::{db_server, echoes};

const SPEC: &str = r#"
tenants:
  - name: prov
    vpcs:
      - name: data
        cidr: 10.64.0.0/16
        subnets:
          - { name: s, cidr: 10.64.1.0/24, az: us-east-1a }
        security_groups:
          - name: db
            ingress:
              - { protocol: tcp, ports: 5432, cidr: 10.64.1.0/24 }
        enis:
          - { name: db1, subnet: s, private_ip: 10.64.1.10, security_groups: [db] }
          - { name: db2, subnet: s, private_ip: 10.64.1.11, security_groups: [db] }
    endpoint_services:
      - name: pg
        vpc: data
        targets: [db1, db2]
        ports: [5432]
        allowed_principals: [cons, late]
        accepted: [cons/app/pg]
        private_dns_name: pg.prov.example
  - name: cons
    vpcs:
      - name: app
        cidr: 10.64.0.0/16
        subnets:
          - { name: s, cidr: 10.64.1.0/24, az: us-east-1a }
        security_groups:
          - name: ep
            ingress:
              - { protocol: tcp, ports: 5432, cidr: 10.64.0.0/16 }
          - name: fn
        enis:
          - { name: client, subnet: s, private_ip: 10.64.1.10 }
        endpoints:
          - { name: pg, type: interface, service: prov/pg, subnets: [s], security_groups: [ep] }
  - name: late
    vpcs:
      - name: app
        cidr: 10.65.0.0/16
        subnets:
          - { name: s, cidr: 10.65.1.0/24, az: us-east-1a }
        enis:
          - { name: client, subnet: s, private_ip: 10.65.1.5 }
        endpoints:
          - { name: pg, type: interface, service: prov/pg, subnets: [s] }
"#;

/// A TCP connection from `ns` to `ip:port`, given `wait` to be established.
fn connect(
    ns: &str,
    ip: Ipv4Addr,
    port: u16,
    wait: Duration,
) -> std::io::Result<std::net::TcpStream> {
    cove_probe::in_namespace(ns, move || {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        s.connect_timeout(&SocketAddr::from((ip, port)).into(), wait)?;
        Ok(s.into())
    })
    .map_err(std::io::Error::other)?
}

/// The address of endpoint `path`'s (first) ENI.
fn endpoint_ip(net: &Network, path: &str) -> Ipv4Addr {
    let (vpc, name) = path.rsplit_once('/').expect("tenant/vpc/endpoint");
    let e = net
        .endpoints
        .iter()
        .find(|e| e.name == name && net.vpc_path(e.vpc) == vpc)
        .expect("endpoint");
    let EndpointKind::Interface { enis, .. } = &e.kind else {
        panic!("interface endpoint");
    };
    net.enis[enis[0].index()].private_ip
}

#[test]
fn a_consumer_with_the_same_cidr_reaches_the_providers_service_through_its_endpoint() {
    if !cove_probe::privileged("privatelink") {
        return;
    }
    let d = Deployment::new("plk");
    let (_spec_dir, spec, net) = d.apply_text(SPEC);
    let names = Names::new(&net, &d.prefix);
    let ns = |eni: &str| names.eni_ns(net.find_eni(eni).unwrap_or_else(|e| panic!("{eni}: {e:?}")));
    let db1 = db_server(&ns("prov/data/db1"), Ipv4Addr::new(10, 64, 1, 10), 5432);
    let db2 = db_server(&ns("prov/data/db2"), Ipv4Addr::new(10, 64, 1, 11), 5432);
    let (client, late) = (ns("cons/app/client"), ns("late/app/client"));
    let ep = endpoint_ip(&net, "cons/app/pg");
    let late_ep = endpoint_ip(&net, "late/app/pg");
    let front = Ipv4Addr::new(10, 64, 1, 254);
    let wait = Duration::from_secs(3);

    // 20 connections through the endpoint: both targets serve, all from the front.
    let mut held = Vec::new();
    for i in 0..20 {
        let mut s =
            connect(&client, ep, 5432, wait).unwrap_or_else(|e| panic!("connection {i}: {e}"));
        assert!(echoes(&mut s, b'a' + i), "connection {i} carries data");
        held.push(s);
    }
    let (p1, p2) = (db1.peers(), db2.peers());
    assert_eq!(p1.len() + p2.len(), 20, "{p1:?} {p2:?}");
    assert!(
        !p1.is_empty() && !p2.is_empty(),
        "spread over both: {p1:?} {p2:?}"
    );
    assert!(
        p1.iter().chain(&p2).all(|p| p.ip() == front),
        "the provider sees only the front: {p1:?} {p2:?}"
    );
    // Another port of the endpoint goes nowhere.
    assert!(connect(&client, ep, 5433, Duration::from_secs(2)).is_err());
    // The provider cannot open a connection back through the front.
    assert!(connect(&ns("prov/data/db1"), front, 5432, Duration::from_secs(2)).is_err());
    // The third tenant's endpoint waits for acceptance.
    assert!(
        connect(&late, late_ep, 5432, Duration::from_secs(2)).is_err(),
        "pending: no connection"
    );

    // The analyzer agrees, hop by hop: through the endpoint to both targets; not
    // another port; not while pending.
    let reach = |from: &str, to: &str, port: u16| {
        let out = d
            .cove()
            .args([
                "check", "--from", from, "--to", to, "--proto", "tcp", "--port",
            ])
            .arg(port.to_string())
            .output()
            .expect("check");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, text) = reach("cons/app/client", &ep.to_string(), 5432);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("endpoint service prov/pg"), "{text}");
    assert!(
        text.contains("prov/data/db1") && text.contains("prov/data/db2"),
        "{text}"
    );
    let why = common::check_blocked(&d, "cons/app/client", &ep.to_string(), 5433);
    assert!(why.contains("blocked at"), "{why}");
    let why = common::check_blocked(&d, "late/app/client", &late_ep.to_string(), 5432);
    assert!(
        why.contains("blocked at endpoint-service by endpoint service prov/pg"),
        "{why}"
    );

    // The provider accepts it: the same tenant's client now connects.
    let accepted = SPEC.replace(
        "accepted: [cons/app/pg]",
        "accepted: [cons/app/pg, late/app/pg]",
    );
    std::fs::write(&spec, &accepted).expect("spec");
    d.apply(&spec);
    let mut s = connect(&late, late_ep, 5432, wait).expect("accepted: connects");
    assert!(echoes(&mut s, b'z'));
    let (code, text) = reach("late/app/client", &late_ep.to_string(), 5432);
    assert_eq!(code, Some(0), "{text}");
    // The consumer's open connections survived the provider's change.
    for (i, s) in held.iter_mut().enumerate() {
        assert!(echoes(s, b'0'), "connection {i} after the change");
    }

    // With `cove serve`: the service's private DNS name in the consumer's VPC, and a
    // function there connecting by it.
    let functions = runtimes_ready();
    if functions {
        deploy_python(
            &d,
            "plfn",
            &[
                "--subnets",
                "cons/app/s",
                "--security-groups",
                "fn",
                "--concurrency",
                "1",
                "--timeout",
                "10",
            ],
        );
    }
    let (_serve, _) = serve(&d, &[]);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let out = std::process::Command::new("timeout")
            .args([
                "5", "ip", "netns", "exec", &client, "dig", "+short", "+time=1", "+tries=1",
            ])
            .args(["@10.64.0.2", "pg.prov.example"])
            .output()
            .expect("dig");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.trim() == ep.to_string() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "pg.prov.example: {text:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    if !functions {
        return;
    }
    let before = db1.peers().len() + db2.peers().len();
    let (code, v) = common::invoke(
        &d,
        "plfn",
        &json!({"op": "connect", "host": "pg.prov.example", "port": 5432, "timeout_ms": 3000}),
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["result"], "ok", "{v}");
    assert_eq!(db1.peers().len() + db2.peers().len(), before + 1);
}
