//! The shipped example realized in the kernel, with real traffic: the function
//! reaches the database over the peering, a blocked port stays blocked, outbound
//! traffic leaves from the NAT gateway's static IP, the kernel agrees with the
//! analyzer on every probed flow, forged sources are dropped, drift is reported and
//! repaired, foreign objects are untouched, and destroy leaves nothing.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`).

use std::net::{Ipv4Addr, TcpListener};
use std::process::Command as Process;
use std::time::Duration;

use cove_analyze::{Analyzer, Endpoint, Flow};
use cove_model::{EniId, EniOwner, Network};
use cove_plan::names::Names;
use cove_probe::{Probe, ProbeKind, Responder, allow_ping_sockets, in_namespace, run_batch};

mod common;

use common::{Deployment, example};

fn list_namespaces() -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn network() -> Network {
    common::example_network()
}

fn eni(net: &Network, name: &str) -> EniId {
    net.find_eni(name).expect("eni")
}

fn tcp(ns: &str, src: Option<Ipv4Addr>, src_port: u16, dst: Ipv4Addr, port: u16) -> Probe {
    Probe {
        ns: ns.to_owned(),
        src,
        src_port,
        dst,
        kind: ProbeKind::Tcp(port),
    }
}

fn run(probes: &[Probe]) -> Vec<bool> {
    run_batch(probes, Duration::from_millis(1500)).expect("probes")
}

#[test]
fn example_in_the_kernel() {
    if !cove_probe::privileged("dataplane") {
        return;
    }
    let d = Deployment::new("d");
    let net = network();
    let names = Names::new(&net, &d.prefix);
    let foreign = format!(
        "{}foreign{}",
        std::env::var("COVE_TEST_PREFIX").unwrap_or_default(),
        std::process::id() % 100_000
    );
    // Removed when the test ends, also when it fails.
    struct Foreign(String);
    impl Drop for Foreign {
        fn drop(&mut self) {
            let _ = Process::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let _foreign_guard = Foreign(foreign.clone());
    assert!(
        Process::new("ip")
            .args(["netns", "add", &foreign])
            .status()
            .expect("ip")
            .success()
    );
    let foreign_nft = Process::new("ip")
        .args([
            "netns", "exec", &foreign, "nft", "add", "table", "inet", "cove",
        ])
        .status()
        .expect("nft");
    assert!(foreign_nft.success());

    // Apply, then apply again: nothing to change.
    d.apply_example();
    let out = d
        .cove()
        .args(["apply", "-f"])
        .arg(example())
        .output()
        .expect("apply");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to change"));
    d.cove()
        .args(["status", "-f"])
        .arg(example())
        .assert()
        .code(0);

    let fn_a = eni(&net, "functions/fn-a");
    let fn_b = eni(&net, "functions/fn-b");
    let db = eni(&net, "prod/db-1");
    let db_ip = net.enis[db.index()].private_ip;
    let ns_a = names.eni_ns(fn_a);
    let ns_b = names.eni_ns(fn_b);

    // Servers: every user ENI listens on the probed ports; the outside namespace
    // stands in for the internet.
    let ports = [22u16, 443, 5432, 8080];
    let mut responders = Vec::new();
    for (i, e) in net.enis.iter().enumerate() {
        if e.owner == EniOwner::User {
            let ns = names.eni_ns(EniId(cove_model::lookup::index_u32(i)));
            responders.push(
                Responder::start(&ns, Ipv4Addr::UNSPECIFIED, &ports, &ports).expect("responder"),
            );
            allow_ping_sockets(&ns).expect("ping sockets");
        }
    }
    let outside = names.outside_ns();
    let internet = net.internet_stand_in();

    // 1. The function reaches the database over the peering; port 22 is blocked.
    let got = run(&[
        tcp(&ns_a, None, 40001, db_ip, 5432),
        tcp(&ns_a, None, 40002, db_ip, 22),
    ]);
    assert_eq!(
        got,
        vec![true, false],
        "fn-a -> db-1: 5432 open, 22 blocked"
    );
    // A packet whose TTL runs out in the router gets ICMP time exceeded back, within
    // the VPC and across the peering (the error takes the packet's routing mark).
    for dst in [db_ip, net.enis[fn_b.index()].private_ip] {
        let out = d
            .cove()
            .args(["exec", "-f"])
            .arg(example())
            .args(["functions/fn-a", "--", "ping", "-n", "-c1", "-t1", "-W2"])
            .arg(dst.to_string())
            .output()
            .expect("ping");
        let text = String::from_utf8_lossy(&out.stdout);
        // From fn-a's own subnet router, never from another VPC's address.
        assert!(
            text.contains("From 10.20.1.1 ") && text.contains("Time to live exceeded"),
            "ping -t1 {dst}: {text}"
        );
    }
    // What no route table routes is dropped silently (AWS sends no ICMP error):
    // the customer VPC has no route to 10.20.0.0/24 (only to the private subnets)
    // nor to the internet, and the router's own addresses are not reachable.
    for dst in ["10.20.0.4", "198.51.100.1", "10.30.1.1", "169.254.255.1"] {
        let out = d
            .cove()
            .args(["exec", "-f"])
            .arg(example())
            .args(["prod/db-1", "--", "ping", "-n", "-c1", "-W1", dst])
            .output()
            .expect("ping");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !out.status.success() && !text.contains("From "),
            "ping {dst}: {text}"
        );
    }

    // 2. Outbound traffic leaves from the NAT gateway's static IP.
    let seen = in_namespace(&outside, || {
        let l = TcpListener::bind((internet, 9443)).expect("listen");
        l.set_nonblocking(false).expect("blocking");
        l
    })
    .expect("outside");
    let waiter = std::thread::spawn(move || {
        seen.set_nonblocking(false).ok();
        seen.accept().map(|(_, peer)| peer.ip())
    });
    let got = run(&[tcp(&ns_b, None, 40003, internet, 9443)]);
    assert_eq!(
        got,
        vec![true],
        "fn-b reaches the internet through its NAT gateway"
    );
    let peer = waiter.join().expect("join").expect("accept");
    assert_eq!(
        peer.to_string(),
        "203.0.113.11",
        "seen from the NAT gateway's static IP"
    );

    // 3. The kernel agrees with the analyzer on every user-ENI pair and port.
    let an = Analyzer::new(&net);
    let users: Vec<EniId> = (0..net.enis.len())
        .map(|i| EniId(cove_model::lookup::index_u32(i)))
        .filter(|e| net.enis[e.index()].owner == EniOwner::User)
        .collect();
    let mut probes = Vec::new();
    let mut flows = Vec::new();
    let mut port_no = 41000u16;
    // An address of the S3 prefix list, reached through the gateway endpoint.
    let s3 = Ipv4Addr::new(52, 216, 0, 10);
    for s in &users {
        let dsts = users
            .iter()
            .filter(|d| *d != s)
            .map(|d| (Endpoint::Eni(*d), net.enis[d.index()].private_ip))
            .chain([
                (Endpoint::External(internet), internet),
                (Endpoint::External(s3), s3),
            ]);
        for (dst, ip) in dsts {
            for kind in [
                ProbeKind::Tcp(5432),
                ProbeKind::Tcp(22),
                ProbeKind::Udp(443),
                ProbeKind::IcmpEcho,
                ProbeKind::Tcp(443),
            ] {
                // The services behind a gateway endpoint answer TCP and ICMP here (a
                // UDP reply from a catch-all local range would need IP_PKTINFO).
                if ip == s3 && matches!(kind, ProbeKind::Udp(_)) {
                    continue;
                }
                port_no += 1;
                let (protocol, port) = match kind {
                    ProbeKind::Tcp(p) => (6, p),
                    ProbeKind::Udp(p) => (17, p),
                    ProbeKind::IcmpEcho => (1, 0),
                    ProbeKind::Raw(n) => (n, 0),
                };
                flows.push(Flow {
                    src: Endpoint::Eni(*s),
                    dst,
                    protocol,
                    port,
                    src_port: Some(port_no),
                    icmp: (8, 0),
                });
                probes.push(Probe {
                    ns: names.eni_ns(*s),
                    src: None,
                    src_port: port_no,
                    dst: ip,
                    kind,
                });
            }
        }
    }
    let outside_responder =
        Responder::start(&outside, internet, &ports, &ports).expect("outside responder");
    let functions_vpc = net.enis[fn_a.index()].vpc;
    let services = Responder::start(
        &names.services_ns(functions_vpc),
        Ipv4Addr::UNSPECIFIED,
        &ports,
        &[],
    )
    .expect("services responder");
    let got = run(&probes);
    let mut disagreements = Vec::new();
    for ((flow, probe), kernel) in flows.iter().zip(&probes).zip(&got) {
        let verdict = an.check(flow);
        if verdict.reachable != *kernel {
            disagreements.push(format!(
                "{probe:?}: kernel {kernel}, analyzer {} ({:?})",
                verdict.reachable, verdict.blocked
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    assert!(got.iter().any(|b| *b) && got.iter().any(|b| !*b));
    drop(outside_responder);
    drop(services);
    // The function reaches S3 through the gateway endpoint, from its private address.
    assert!(
        flows
            .iter()
            .zip(&got)
            .any(|(f, ok)| *ok && f.dst == Endpoint::External(s3)),
        "no flow reached the S3 stand-in"
    );

    // 4. A forged source address is dropped (the real one works).
    let forged = Ipv4Addr::new(10, 20, 1, 99);
    assert!(
        Process::new("ip")
            .args([
                "netns",
                "exec",
                &ns_a,
                "ip",
                "addr",
                "add",
                "10.20.1.99/32",
                "dev",
                "eth0"
            ])
            .status()
            .expect("ip")
            .success()
    );
    let got = run(&[
        tcp(&ns_a, Some(forged), 42001, db_ip, 5432),
        tcp(&ns_a, None, 42002, db_ip, 5432),
    ]);
    assert_eq!(got, vec![false, true], "forged source dropped");

    // 5. The router itself is unreachable from a workload.
    let router_ip = Ipv4Addr::new(10, 20, 1, 1);
    let got = run(&[tcp(&ns_a, None, 42003, router_ip, 22)]);
    assert_eq!(got, vec![false], "no access to the VPC router");

    // 5b. Nor is the host: a listener on each of the host's own addresses (in the
    // host's namespace) is out of reach of the workload.
    let host_addrs: Vec<Ipv4Addr> = {
        let out = Process::new("ip")
            .args(["-4", "-o", "addr", "show"])
            .output()
            .expect("ip addr");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().nth(3))
            .filter_map(|a| a.split('/').next()?.parse().ok())
            .collect()
    };
    assert!(!host_addrs.is_empty());
    let listeners: Vec<TcpListener> = host_addrs
        .iter()
        .filter_map(|a| TcpListener::bind((*a, 0)).ok())
        .collect();
    let probes: Vec<Probe> = listeners
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let addr = l.local_addr().expect("addr");
            let ip = match addr.ip() {
                std::net::IpAddr::V4(v4) => v4,
                std::net::IpAddr::V6(_) => Ipv4Addr::LOCALHOST,
            };
            let port_no = 42100 + u16::try_from(i).expect("few addresses");
            tcp(&ns_a, None, port_no, ip, addr.port())
        })
        .collect();
    let got = run(&probes);
    assert!(
        got.iter().all(|ok| !ok),
        "a workload reached the host: {:?}",
        probes
            .iter()
            .zip(&got)
            .filter(|(_, ok)| **ok)
            .collect::<Vec<_>>()
    );
    drop(listeners);

    // 6. Drift: a flushed firewall and a deleted namespace are reported and repaired.
    let router = names.router_ns();
    assert!(
        Process::new("ip")
            .args(["netns", "exec", &router, "nft", "flush", "ruleset"])
            .status()
            .expect("nft")
            .success()
    );
    let out = d
        .cove()
        .args(["status", "-f"])
        .arg(example())
        .output()
        .expect("status");
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&router));
    let dw = names.eni_ns(eni(&net, "warehouse/dw-1"));
    drop(responders);
    assert!(
        Process::new("ip")
            .args(["netns", "del", &dw])
            .status()
            .expect("ip")
            .success()
    );
    let out = d
        .cove()
        .args(["status", "-f"])
        .arg(example())
        .output()
        .expect("status");
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&dw));
    d.cove()
        .args(["apply", "-f"])
        .arg(example())
        .assert()
        .code(0);
    d.cove()
        .args(["status", "-f"])
        .arg(example())
        .assert()
        .code(0);
    // Repaired firewall works again: 22 blocked, 5432 open.
    let _db = Responder::start(&names.eni_ns(db), Ipv4Addr::UNSPECIFIED, &ports, &ports)
        .expect("responder");
    let got = run(&[
        tcp(&ns_a, None, 43001, db_ip, 5432),
        tcp(&ns_a, None, 43002, db_ip, 22),
    ]);
    assert_eq!(got, vec![true, false]);
    drop(_db);

    // 7. Destroy leaves nothing of ours, and the foreign namespace and table intact.
    d.cove().arg("destroy").assert().code(0);
    assert!(
        d.namespaces().is_empty(),
        "left behind: {:?}",
        d.namespaces()
    );
    assert!(list_namespaces().contains(&foreign));
    let tables = Process::new("ip")
        .args(["netns", "exec", &foreign, "nft", "list", "tables"])
        .output()
        .expect("nft");
    assert!(String::from_utf8_lossy(&tables.stdout).contains("table inet cove"));
}
