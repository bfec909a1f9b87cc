//! A NAT gateway with several public IPs uses all of them (issue 11, AWS's
//! behaviour; root, `CI=true`): connections from a private subnet reach a server on
//! the internet stand-in from each of the gateway's three public IPs and from no
//! other address, and nothing from the internet opens a connection through any of
//! them.

mod common;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cove_plan::names::Names;
use cove_probe::{Probe, ProbeKind, Responder, in_namespace, run_batch};

use common::Deployment;

const PUBLIC: [&str; 3] = ["203.0.113.70", "203.0.113.71", "203.0.113.72"];

fn spec() -> String {
    format!(
        "tenants:
  - name: t
    vpcs:
      - name: v
        cidr: 10.71.0.0/16
        internet_gateway: {{ name: igw }}
        subnets:
          - {{ name: public, cidr: 10.71.0.0/24, az: az1, route_table: public }}
          - {{ name: private, cidr: 10.71.1.0/24, az: az1, route_table: private }}
        route_tables:
          - name: public
            routes:
              - {{ destination: 0.0.0.0/0, internet_gateway: igw }}
          - name: private
            routes:
              - {{ destination: 0.0.0.0/0, nat_gateway: nat }}
        nat_gateways:
          - {{ name: nat, subnet: public, public_ips: [{}] }}
        enis:
          - {{ name: c, subnet: private, private_ip: 10.71.1.10 }}
",
        PUBLIC.join(", ")
    )
}

#[test]
fn every_public_ip_of_a_nat_gateway_is_used() {
    if !cove_probe::privileged("NAT gateway public IPs") {
        return;
    }
    let d = Deployment::new("np");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("spec.yaml");
    std::fs::write(&path, spec()).expect("spec");
    d.apply(&path);
    let net = cove_model::validate::validate_text(&spec())
        .network
        .expect("valid");
    assert_eq!(net.nat_gateways[0].secondary_ips.len(), 2);
    let names = Names::new(&net, &d.prefix);
    let client_ns = names.eni_ns(net.find_eni("t/v/c").expect("c"));
    let outside = names.outside_ns();
    let internet = net.internet_stand_in();

    let seen: Arc<Mutex<Vec<SocketAddr>>> = Arc::default();
    let listener: TcpListener =
        in_namespace(&outside, move || TcpListener::bind((internet, 18_600)))
            .expect("namespace")
            .expect("bind");
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            let Ok(c) = conn else { continue };
            if let Ok(p) = c.peer_addr() {
                record.lock().expect("lock").push(p);
            }
            held.push(c);
        }
    });
    // 60 connections, each from its own source port.
    let mut open = Vec::new();
    for _ in 0..60 {
        let s: TcpStream = in_namespace(&client_ns, move || {
            TcpStream::connect_timeout(
                &SocketAddr::from((internet, 18_600)),
                Duration::from_secs(5),
            )
        })
        .expect("namespace")
        .expect("connect through the NAT gateway");
        open.push(s);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while seen.lock().expect("lock").len() < open.len() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let peers = seen.lock().expect("lock").clone();
    assert_eq!(peers.len(), open.len(), "{peers:?}");
    let sources: BTreeSet<IpAddr> = peers.iter().map(SocketAddr::ip).collect();
    let want: BTreeSet<IpAddr> = PUBLIC
        .iter()
        .map(|p| IpAddr::V4(p.parse().expect("ip")))
        .collect();
    assert_eq!(
        sources, want,
        "the server sees exactly the gateway's public IPs"
    );
    drop(open);

    // From the internet, no public IP of the gateway opens a connection (the client
    // listens, so a connection that got through would be answered).
    let responder =
        Responder::start(&client_ns, Ipv4Addr::UNSPECIFIED, &[7100], &[7100]).expect("responder");
    let probes: Vec<Probe> = PUBLIC
        .iter()
        .enumerate()
        .map(|(i, p)| Probe {
            ns: outside.clone(),
            src: Some(internet),
            src_port: 44_000 + u16::try_from(i).expect("small"),
            dst: p.parse().expect("ip"),
            kind: ProbeKind::Tcp(7100),
        })
        .collect();
    let got = run_batch(&probes, Duration::from_millis(1500)).expect("probes");
    assert_eq!(got, vec![false; PUBLIC.len()], "{probes:?}");
    drop(responder);
}
