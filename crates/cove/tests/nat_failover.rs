//! Issue 11's NAT gateway pair with real traffic (prefix `nf…`; root, `CI=true`):
//! with `nat_failover: pair`, `cove serve` watches both gateways; when nat-a's
//! namespace is deleted, nat-b takes over nat-a's address with no command, so the
//! private subnet behind nat-a reaches the internet again — through nat-b, still
//! from nat-a's public IP (the pair stays the only pair of egress addresses);
//! `cove status` and `cove check` say so; once nat-a is back (the reconciler
//! recreates it, or its link comes up) it gets its address back — after being
//! healthy for `--nat-failback-after` (link down), or at once with `cove nat
//! fail-back` (deleted; that command refuses a gateway that is not taken over) —
//! and new connections leave through it again. Connections open through nat-a
//! before the failure, and those opened through nat-b during it, keep carrying
//! data through the takeover and the fail-back (each gateway's conntrack entries
//! are replicated into its partner), from the same public address and port.
//!
//! Times are printed (`--nocapture`), never asserted: the bounds are hang guards.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use cove_plan::names::Names;
use cove_probe::in_namespace;

use common::Deployment;
use common::internet::Internet;
use common::tcp::{connect_from, db_server, echoes};

const PUBLIC_A: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 80);
const PUBLIC_B: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 81);

const SPEC: &str = "tenants:
  - name: t
    vpcs:
      - name: v
        cidr: 10.72.0.0/16
        internet_gateway: { name: igw }
        nat_failover: pair
        subnets:
          - { name: public-a, cidr: 10.72.0.0/24, az: az1, route_table: public }
          - { name: public-b, cidr: 10.72.10.0/24, az: az2, route_table: public }
          - { name: private-a, cidr: 10.72.1.0/24, az: az1, route_table: private-a }
          - { name: private-b, cidr: 10.72.2.0/24, az: az2, route_table: private-b }
        route_tables:
          - name: public
            routes:
              - { destination: 0.0.0.0/0, internet_gateway: igw }
          - name: private-a
            routes:
              - { destination: 0.0.0.0/0, nat_gateway: nat-a }
          - name: private-b
            routes:
              - { destination: 0.0.0.0/0, nat_gateway: nat-b }
        nat_gateways:
          - { name: nat-a, subnet: public-a, public_ips: [203.0.113.80] }
          - { name: nat-b, subnet: public-b, public_ips: [203.0.113.81] }
        enis:
          - { name: c, subnet: private-a, private_ip: 10.72.1.10 }
";

/// The hang guard of every wait.
const GUARD: Duration = Duration::from_secs(20);

fn output(mut c: Process) -> String {
    let out = c.output().expect("cove");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One TCP connection from namespace `ns` to `dst:port` (300 ms to connect).
fn connect(ns: &str, dst: Ipv4Addr, port: u16) -> bool {
    in_namespace(ns, move || {
        TcpStream::connect_timeout(&SocketAddr::from((dst, port)), Duration::from_millis(300))
    })
    .is_ok_and(|r| r.is_ok())
}

/// The tracked connections of namespace `ns` from `src` (the `conntrack` tool).
fn tracked_from(ns: &str, src: Ipv4Addr) -> usize {
    let out = Process::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "conntrack",
            "-L",
            "-s",
            &src.to_string(),
        ])
        .stderr(Stdio::null())
        .output()
        .expect("conntrack");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("tcp"))
        .count()
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < GUARD, "{what}: not within {GUARD:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    started.elapsed()
}

/// How nat-a fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// Its namespace is deleted (the reconciler recreates it).
    Deleted,
    /// Its `eth0` is taken down (and brought up again once nat-b carries it).
    LinkDown,
    /// Its forwarding is turned off (links fine; the reconciler turns it on again).
    ForwardingOff,
}

#[test]
fn a_deleted_nat_gateway_is_taken_over_by_its_partner_and_gets_its_address_back() {
    failover(Failure::Deleted, "nfd");
}

#[test]
fn a_nat_gateway_whose_link_goes_down_is_taken_over_and_gets_its_address_back() {
    failover(Failure::LinkDown, "nfl");
}

#[test]
fn a_nat_gateway_that_stops_forwarding_is_taken_over_and_gets_its_address_back() {
    failover(Failure::ForwardingOff, "nff");
}

fn failover(failure: Failure, tag: &str) {
    if !cove_probe::privileged("NAT pair failover") {
        return;
    }
    let d = Deployment::new(tag);
    let dir = tempfile::tempdir().expect("tmp");
    let spec = dir.path().join("spec.yaml");
    std::fs::write(&spec, SPEC).expect("spec");
    d.apply(&spec);
    let net = cove_model::validate::validate_text(SPEC)
        .network
        .expect("valid");
    let names = Names::new(&net, &d.prefix);
    let client = names.eni_ns(net.find_eni("t/v/c").expect("c"));
    let client_ip = Ipv4Addr::new(10, 72, 1, 10);
    let gw = |name: &str| {
        let g = net
            .nat_gateways
            .iter()
            .find(|g| g.name == name)
            .expect("gateway");
        names.eni_ns(g.eni)
    };
    let (ns_a, ns_b) = (gw("nat-a"), gw("nat-b"));
    let internet = net.internet_stand_in();
    let port = 18_700;
    let server = Internet::listen(&names.outside_ns(), internet, port);

    let log = d.state.path().join("serve.log");
    // Deleted: only the explicit `cove nat fail-back` gives it back.
    let failback = if failure == Failure::Deleted {
        "600"
    } else {
        "3"
    };
    let _serve = d.serve(&["--nat-failback-after", failback], &log);

    // Connections held open through everything that follows, to an echo server
    // on the internet.
    let echo = db_server(&names.outside_ns(), internet, port + 1);
    // The 1,000 long-lived connections when the namespace is deleted; 200
    // when the link goes down.
    let n: usize = if failure == Failure::Deleted {
        1_000
    } else {
        200
    };
    let mut held: Vec<_> = (0..n)
        .map(|i| {
            connect_from(&client, internet, port + 1, 0).unwrap_or_else(|e| panic!("held {i}: {e}"))
        })
        .collect();
    let peers_before = echo.wait_for(n, GUARD);
    assert!(
        peers_before.iter().all(|p| p.ip() == IpAddr::V4(PUBLIC_A)),
        "{peers_before:?}"
    );
    // Replicated into nat-b before anything fails.
    wait_until("nat-b holds copies of nat-a's connections", || {
        tracked_from(&ns_b, client_ip) >= n
    });
    let all_echo = |held: &mut Vec<TcpStream>, what: &str| {
        for (i, (s, byte)) in held.iter_mut().zip((b'a'..=b'z').cycle()).enumerate() {
            assert!(echoes(s, byte), "{what}: connection {i} broke");
        }
    };
    all_echo(&mut held, "before");

    // Before: through nat-a, from its public IP.
    assert!(connect(&client, internet, port), "baseline connection");
    wait_until("the server sees the baseline", || {
        !server.sources().is_empty()
    });
    assert_eq!(server.sources(), [IpAddr::V4(PUBLIC_A)]);
    assert!(tracked_from(&ns_a, client_ip) >= 1, "nat-a carried it");
    let status = output({
        let mut c = d.process();
        c.args(["status", "-f"]).arg(&spec);
        c
    });
    assert!(status.contains("NAT gateway t/v/nat-a"), "{status}");
    assert!(status.contains("carries its own addresses"), "{status}");

    // nat-a fails.
    let args: &[&str] = match failure {
        Failure::Deleted => &["netns", "del", &ns_a],
        Failure::LinkDown => &["-n", &ns_a, "link", "set", "eth0", "down"],
        Failure::ForwardingOff => &[
            "netns",
            "exec",
            &ns_a,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=0",
        ],
    };
    assert!(
        Process::new("ip")
            .args(args)
            .status()
            .expect("ip")
            .success()
    );
    // (The namespace dies once cove's observer lets go of its sockets in it, at
    // its next observation; then nat-a's link goes, and the takeover follows.)
    let ip_a = net.enis[net.nat_gateways[0].eni.index()].private_ip;
    let took = wait_until("nat-b holds nat-a's address", || {
        let out = Process::new("ip")
            .args(["-n", &ns_b, "-4", "-o", "addr", "show", "dev", "eth0"])
            .output()
            .expect("ip addr");
        String::from_utf8_lossy(&out.stdout).contains(&format!("{ip_a}/32"))
    });
    eprintln!("takeover applied {took:?} after nat-a failed ({failure:?})");
    let reached = wait_until("a connection from private-a after the takeover", || {
        connect(&client, internet, port)
    });
    eprintln!("private-a reaches the internet {reached:?} after that");
    wait_until("the server sees it", || server.sources().len() >= 2);
    assert_eq!(
        *server.sources().last().expect("one"),
        IpAddr::V4(PUBLIC_A),
        "still nat-a's public IP: {:?}",
        server.sources()
    );
    assert!(
        tracked_from(&ns_b, client_ip) > n,
        "nat-b carried the new connection\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // The connections opened before the failure carry on through nat-b.
    all_echo(&mut held, "after the takeover");
    // More, opened through nat-b while it carries nat-a's address.
    for i in 0..5 {
        held.push(
            connect_from(&client, internet, port + 1, 0)
                .unwrap_or_else(|e| panic!("during {i}: {e}")),
        );
    }
    all_echo(&mut held, "opened during the takeover");
    let status = output({
        let mut c = d.process();
        c.args(["status", "-f"]).arg(&spec);
        c
    });
    assert!(status.contains("carried by its partner nat-b"), "{status}");
    let check = output({
        let mut c = d.process();
        c.args([
            "check",
            "--from",
            "t/v/c",
            "--to",
            &internet.to_string(),
            "--proto",
            "tcp",
            "--port",
            &port.to_string(),
        ]);
        c
    });
    assert!(
        check.contains("its partner t/v/nat-b carries its addresses"),
        "{check}"
    );
    assert!(check.contains(&PUBLIC_A.to_string()), "{check}");
    assert!(!server.sources().contains(&IpAddr::V4(PUBLIC_B)));

    if failure == Failure::LinkDown {
        let up = ["-n", &ns_a, "link", "set", "eth0", "up"];
        assert!(Process::new("ip").args(up).status().expect("ip").success());
    }
    // nat-a is back (the reconciler recreated it, or its link is up again and
    // the reconciler restored its routes) and, healthy for 3 s, gets its
    // address back: new connections leave through it again.
    if failure == Failure::Deleted {
        // Not taken over: refused, naming what is.
        let out = d
            .process()
            .args(["nat", "fail-back", "t/v/nat-b"])
            .output()
            .expect("cove nat");
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(text.contains("t/v/nat-a"), "{text}");
        // nat-a, recreated by the reconciler, is given back at once.
        std::thread::sleep(Duration::from_secs(1));
        let out = d
            .process()
            .args(["nat", "fail-back", "t/v/nat-a"])
            .output()
            .expect("cove nat");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let back = wait_until("fail-back", || {
        output({
            let mut c = d.process();
            c.args(["status", "-f"]).arg(&spec);
            c
        })
        .lines()
        .any(|l| l.contains("t/v/nat-a") && l.contains("carries its own addresses"))
    });
    eprintln!("fail-back recorded {back:?} after the takeover was seen");
    // Every held connection carries on through nat-a again, from the same public
    // address and port the server first saw.
    all_echo(&mut held, "after the fail-back");
    let peers = echo.peers();
    assert_eq!(peers.len(), n + 5, "no connection was opened anew");
    assert!(
        peers.iter().all(|p| p.ip() == IpAddr::V4(PUBLIC_A)),
        "{peers:?}"
    );
    let before = tracked_from(&ns_a, client_ip);
    wait_until("a connection through nat-a after the fail-back", || {
        connect(&client, internet, port) && tracked_from(&ns_a, client_ip) > before
    });
    assert!(
        server.sources().iter().all(|s| *s == IpAddr::V4(PUBLIC_A)),
        "{:?}",
        server.sources()
    );
}
