//! Source ports of a NAT gateway (issue 11; root, `CI=true`):
//!
//! * 60,000 flows from one function environment (one execution slot, through its
//!   shared ENI) to one destination address and port all leave through a NAT
//!   gateway's one public IP (AWS: 55,000 connections per destination and IP);
//! * a gateway out of ports counts it (AWS's `ErrorPortAllocation`): two ENIs send
//!   UDP from 40,000 source ports each to one destination through a gateway with
//!   one public IP, which has 64,512 ports (1024–65535) towards it; exactly the
//!   flows past that are dropped, and `cove status` counts them (zero before).
//!
//! UDP: a flow holds its translation without holding a socket open, so the test
//! needs no more file descriptors than one.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};

use cove_plan::names::Names;
use cove_probe::in_namespace;

use common::Deployment;

const SPEC: &str = "tenants:
  - name: t
    vpcs:
      - name: v
        cidr: 10.73.0.0/16
        internet_gateway: { name: igw }
        subnets:
          - { name: public, cidr: 10.73.0.0/24, az: az1, route_table: public }
          - { name: private, cidr: 10.73.1.0/24, az: az1, route_table: private }
        route_tables:
          - name: public
            routes:
              - { destination: 0.0.0.0/0, internet_gateway: igw }
          - name: private
            routes:
              - { destination: 0.0.0.0/0, nat_gateway: nat }
        nat_gateways:
          - { name: nat, subnet: public, public_ips: [203.0.113.90] }
        enis:
          - { name: c1, subnet: private, private_ip: 10.73.1.10 }
          - { name: c2, subnet: private, private_ip: 10.73.1.11 }
        functions:
          - { name: f, runtime: python3.11, handler: app.handler, code: ./code, subnets: [private], concurrency: 1 }
";

/// Source ports each client sends from.
const PORTS: std::ops::Range<u16> = 20_000..60_000;

fn status_errors(d: &Deployment, spec: &std::path::Path) -> Option<u64> {
    let doc = d.status_json(spec);
    let gws = doc["nat_gateways"].as_array().cloned().unwrap_or_default();
    assert_eq!(gws.len(), 1, "{doc}");
    assert_eq!(gws[0]["gateway"], "t/v/nat", "{doc}");
    gws[0]["port_allocation_errors"].as_u64()
}

/// Sends one datagram from each of `ports` of `ip` in namespace `ns` to `dst`;
/// returns how many were sent.
fn flows(ns: &str, ip: Ipv4Addr, ports: std::ops::Range<u16>, dst: SocketAddr) -> u32 {
    in_namespace(ns, move || {
        let mut sent = 0u32;
        for port in ports {
            let Ok(s) = UdpSocket::bind((ip, port)) else {
                continue;
            };
            if s.send_to(b"x", dst).is_ok() {
                sent += 1;
            }
        }
        sent
    })
    .expect("namespace")
}

/// The UDP entries of namespace `ns` to port `dport` (the `conntrack` tool).
fn tracked_to(ns: &str, dport: u16) -> usize {
    let out = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "conntrack",
            "-L",
            "-p",
            "udp",
            "--dport",
        ])
        .arg(dport.to_string())
        .stderr(std::process::Stdio::null())
        .output()
        .expect("conntrack");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn sixty_thousand_flows_from_one_function_slot_leave_through_one_public_ip() {
    if !cove_probe::privileged("NAT ports per destination") {
        return;
    }
    let d = Deployment::new("npf");
    let (_dir, spec, net) = d.apply_text(SPEC);
    let names = Names::new(&net, &d.prefix);
    let env = names.env_ns(cove_model::FunctionId(0), 0);
    let env_ip = cove_plan::environments::environments(&net, &names).expect("envs")[0].address;
    let dst = SocketAddr::from((net.internet_stand_in(), 9_998));
    let sent = flows(&env, env_ip, 2_000..62_000, dst);
    assert_eq!(sent, 60_000);
    let nat_ns = names.eni_ns(net.nat_gateways[0].eni);
    let through = tracked_to(&nat_ns, 9_998);
    eprintln!(
        "{sent} flows from one environment to {dst}: {through} translated by the NAT gateway's one public IP"
    );
    assert_eq!(through, 60_000);
    assert_eq!(status_errors(&d, &spec), Some(0));
}

#[test]
fn a_nat_gateway_out_of_ports_counts_port_allocation_errors() {
    if !cove_probe::privileged("NAT port allocation errors") {
        return;
    }
    let d = Deployment::new("npa");
    let (_dir, spec, net) = d.apply_text(SPEC);
    let names = Names::new(&net, &d.prefix);
    let dst = SocketAddr::from((net.internet_stand_in(), 9_999));
    assert_eq!(status_errors(&d, &spec), Some(0));
    let (_serve, addr) = common::functions::serve(&d, &[]);

    let mut total = 0u64;
    for (eni, ip) in [
        ("t/v/c1", Ipv4Addr::new(10, 73, 1, 10)),
        ("t/v/c2", Ipv4Addr::new(10, 73, 1, 11)),
    ] {
        let ns = names.eni_ns(net.find_eni(eni).expect("eni"));
        let sent = flows(&ns, ip, PORTS, dst);
        assert_eq!(u32::from(PORTS.end - PORTS.start), sent, "{eni}");
        total += u64::from(sent);
    }
    let capacity = 65_535 - 1_024 + 1;
    let errors = status_errors(&d, &spec).expect("counted");
    eprintln!(
        "{total} flows to one destination through one public IP: {errors} port allocation errors"
    );
    assert_eq!(
        errors,
        total - capacity,
        "{total} flows over {capacity} ports"
    );
    assert_eq!(
        tracked_to(&names.eni_ns(net.nat_gateways[0].eni), dst.port()),
        usize::try_from(capacity).expect("small")
    );
    // `cove serve`'s metrics show the same, from the gateway's own table (sampled
    // every ten seconds, well within UDP's 30 s for the flows).
    let value = |text: &str, series: &str| {
        text.lines().find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .parse::<u64>()
                .ok()
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    loop {
        let (_, _, body) = common::functions::http(addr, "GET", "/metrics", b"");
        let text = String::from_utf8_lossy(&body).into_owned();
        let e = value(
            &text,
            r#"cove_nat_port_allocation_errors_total{gateway="t/v/nat"}"#,
        );
        let c = value(
            &text,
            r#"cove_nat_active_connections{gateway="t/v/nat",ip="203.0.113.90"}"#,
        );
        if e == Some(errors) && c == Some(capacity) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "metrics: errors {e:?} (want {errors}), connections {c:?} (want {capacity}): {}",
            text.lines()
                .filter(|l| l.starts_with("cove_nat"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}
