//! VPCs with the same addresses in one host router (root, `CI=true`): a hub peered
//! with two VPCs that use one block, and a third VPC with that block, not peered
//! (`tests/fixtures/overlap.yaml`). Each answer is compared with the analyzer's, and
//! each VPC's servers listen on their own port, so a connection that reaches the
//! wrong VPC's ENI (same address) is refused and shows up.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use cove_analyze::{Analyzer, Endpoint, Flow};
use cove_model::{EniId, Network};
use cove_plan::names::Names;
use cove_probe::{Probe, ProbeKind, Responder, run_batch};

mod common;

use common::Deployment;

/// Sends hand-made IPv4 fragments of one UDP datagram (10.1.1.10:SPORT ->
/// 10.1.2.10:2000, IP id ID) from the namespace it runs in: argv = sport, id, which
/// fragments (`1`, `2` or `12`), and `wait` to wait up to 2 s for the echo on a UDP
/// socket bound to SPORT. Prints `echo` or `none`.
const FRAGMENTS: &str = r#"
import socket, struct, sys
sport, ident, which, wait = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4] == "wait"
data = b"cove-fragments-" + b"x" * 17
udp = struct.pack("!HHHH", sport, 2000, 8 + len(data), 0) + data
def ip(payload, offset_units, more):
    flags = (0x2000 if more else 0) | offset_units
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, flags, 64, 17, 0,
                       socket.inet_aton("10.1.1.10"), socket.inet_aton("10.1.2.10")) + payload
frags = {"1": ip(udp[:16], 0, True), "2": ip(udp[16:], 2, False)}
rx = None
if wait:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("0.0.0.0", sport))
    rx.settimeout(2.0)
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for k in which:
    raw.sendto(frags[k], ("10.1.2.10", 0))
if wait:
    try:
        rx.recvfrom(2048)
        print("echo")
    except socket.timeout:
        print("none")
"#;

/// Runs [`FRAGMENTS`] in namespace `ns`; its output, trimmed.
fn fragments(ns: &str, sport: u16, id: u16, which: &str, wait: bool) -> String {
    let out = std::process::Command::new("timeout")
        .args(["10", "ip", "netns", "exec", ns, "python3", "-c", FRAGMENTS])
        .args([sport.to_string(), id.to_string(), which.to_owned()])
        .arg(if wait { "wait" } else { "send" })
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "fragments in {ns}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn spec() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/overlap.yaml")
}

fn network() -> Network {
    let text = std::fs::read_to_string(spec()).expect("fixture");
    cove_model::validate::validate_text(&text)
        .network
        .expect("valid")
}

/// The port the servers of a VPC listen on besides 80 (which all of them use).
fn own_port(vpc: &str) -> u16 {
    match vpc {
        "hub" => 1000,
        "a" => 1001,
        "b" => 1002,
        "c" => 1003,
        _ => 1004,
    }
}

#[test]
fn overlapping_vpcs_share_the_router_without_meeting() {
    if !cove_probe::privileged("overlap") {
        return;
    }
    let d = Deployment::new("ov");
    let net = network();
    let names = Names::new(&net, &d.prefix);
    d.apply(&spec());
    let eni = |name: &str| -> EniId { net.find_eni(name).expect("eni") };
    let mut responders = Vec::new();
    let all = [
        "hub/hub-1",
        "a/x1",
        "a/x2",
        "b/x1",
        "b/x2",
        "c/x1",
        "c/x2",
        "d/x1",
        "d/x2",
    ];
    for name in all {
        let vpc = name.split('/').next().unwrap_or_default();
        let ports = [80, own_port(vpc)];
        let mut udp = ports.to_vec();
        // For the conntrack check below: c/x2 answers UDP 2000, b/x1 UDP 46000.
        match name {
            "c/x2" => udp.push(2000),
            "b/x1" => udp.push(46000),
            _ => {}
        }
        responders.push(
            Responder::start(
                &names.eni_ns(eni(name)),
                Ipv4Addr::UNSPECIFIED,
                &ports,
                &udp,
            )
            .expect("responder"),
        );
    }
    // (from, to address, port, source port): every VPC's own port at both shared
    // addresses, from the hub and from inside the overlapping VPCs, and the same
    // 5-tuple in all three of them at once (their connections must not meet in
    // conntrack); and back to the hub.
    let x1 = Ipv4Addr::new(10, 1, 1, 10);
    let x2 = Ipv4Addr::new(10, 1, 2, 10);
    let hub = Ipv4Addr::new(10, 0, 1, 10);
    let mut cases: Vec<(&str, Ipv4Addr, u16, u16)> = Vec::new();
    let mut sport = 42000;
    for to in [x1, x2] {
        for port in [1001, 1002, 1003] {
            sport += 1;
            cases.push(("hub/hub-1", to, port, sport));
        }
    }
    for from in ["a/x1", "b/x1", "c/x1"] {
        for port in [1001, 1002, 1003] {
            sport += 1;
            cases.push((from, x2, port, sport));
        }
        cases.push((from, x2, 80, 45000));
    }
    for from in ["a/x2", "b/x2", "c/x2"] {
        sport += 1;
        cases.push((from, hub, 1000, sport));
    }
    // d/x1's address is a subnet router address of a, b and c (on the router's
    // `lo`): still d's ENI, both ways.
    let d1 = Ipv4Addr::new(10, 1, 1, 1);
    for port in [1003, 1004] {
        sport += 1;
        cases.push(("d/x2", d1, port, sport));
        sport += 1;
        cases.push(("d/x1", x2, port, sport));
    }
    let an = Analyzer::new(&net);
    let probes: Vec<Probe> = cases
        .iter()
        .map(|(from, ip, port, src_port)| Probe {
            ns: names.eni_ns(eni(from)),
            src: None,
            src_port: *src_port,
            dst: *ip,
            kind: ProbeKind::Tcp(*port),
        })
        .collect();
    let got = run_batch(&probes, Duration::from_millis(1500)).expect("probes");
    let mut wrong = Vec::new();
    let mut reachable = 0;
    for ((from, ip, port, src_port), kernel) in cases.iter().zip(&got) {
        // The analyzer decides which of the ENIs with this address (if any) the
        // packet is delivered to; only that ENI's VPC's own port (or 80) answers.
        let answered_by: Vec<String> = (0..net.enis.len())
            .map(|i| EniId(cove_model::lookup::index_u32(i)))
            .filter(|e| net.enis[e.index()].private_ip == *ip)
            .filter(|e| {
                let vpc = &net.vpcs[net.enis[e.index()].vpc.index()].name;
                let listens = *port == 80 || own_port(vpc) == *port;
                listens
                    && an
                        .check(&Flow {
                            src: Endpoint::Eni(eni(from)),
                            dst: Endpoint::Eni(*e),
                            protocol: 6,
                            port: *port,
                            src_port: Some(*src_port),
                            icmp: (8, 0),
                        })
                        .reachable
            })
            .map(|e| net.eni_label(e))
            .collect();
        let expected = !answered_by.is_empty();
        if *kernel {
            reachable += 1;
        }
        if *kernel != expected {
            wrong.push(format!(
                "{from} -> {ip} tcp/{port}: kernel {kernel}, analyzer {answered_by:?}"
            ));
        }
    }
    // Fragments (a 3,000-byte ping, both ways) pass the per-fragment checks and are
    // reassembled in the peering's zone; the same between overlapping VPCs' own
    // ENIs inside c.
    for (from, to) in [("hub/hub-1", "10.1.1.10"), ("c/x1", "10.1.2.10")] {
        let out = d
            .cove()
            .args(["exec", "-f"])
            .arg(spec())
            .args([from, "--", "ping", "-n", "-c1", "-W2", "-s", "3000", to])
            .output()
            .expect("ping");
        assert!(
            out.status.success(),
            "{from} ping -s 3000 {to}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // Conntrack keeps the VPCs apart: c/x1:46000 <-> c/x2:2000 over UDP (allowed in
    // c) leaves a connection whose reply looks exactly like a datagram b/x2:2000 ->
    // 10.1.1.10:46000 in b, where b/x1's security group admits no UDP. Were the
    // VPCs in one conntrack zone, that datagram would pass as c's reply.
    let c_flow = Probe {
        ns: names.eni_ns(eni("c/x1")),
        src: None,
        src_port: 46000,
        dst: x2,
        kind: ProbeKind::Udp(2000),
    };
    let b_probe = Probe {
        ns: names.eni_ns(eni("b/x2")),
        src: None,
        src_port: 2000,
        dst: x1,
        kind: ProbeKind::Udp(46000),
    };
    let first = run_batch(&[c_flow], Duration::from_millis(1500)).expect("probe");
    assert_eq!(first, vec![true], "c/x1 -> c/x2 udp/2000");
    let b_verdict = an.check(&Flow {
        src: Endpoint::Eni(eni("b/x2")),
        dst: Endpoint::Eni(eni("b/x1")),
        protocol: 17,
        port: 46000,
        src_port: Some(2000),
        icmp: (8, 0),
    });
    assert!(!b_verdict.reachable, "the fixture blocks UDP into b/x1");
    let second = run_batch(&[b_probe], Duration::from_millis(1500)).expect("probe");
    assert_eq!(
        second,
        vec![false],
        "b/x2 -> b/x1 udp/46000 passed as the reply of c's flow"
    );
    // Reassembly is per zone: the last fragment from b/x1 and the first from c/x1
    // (same addresses, same IP id; each source legitimate on its own link) never
    // make one datagram for c/x2. Both fragments from c/x1 do (the control).
    let (b1, c1) = (names.eni_ns(eni("b/x1")), names.eni_ns(eni("c/x1")));
    assert_eq!(fragments(&c1, 47001, 0x4241, "12", true), "echo", "control");
    assert_eq!(fragments(&b1, 47002, 0x4242, "2", false), "");
    assert_eq!(
        fragments(&c1, 47002, 0x4242, "1", true),
        "none",
        "fragments of b and c were reassembled into one datagram"
    );
    drop(responders);
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // Reachable: hub -> 10.1.1.10:1001 (a) and 10.1.2.10:1002 (b); inside a, b, c:
    // the own port and the shared 5-tuple to port 80; b/x2 -> hub (the hub's
    // replies to 10.1.2.10 go to b, so a/x2's connection fails); d's own port
    // both ways between 10.1.1.1 and 10.1.2.10.
    assert_eq!(reachable, 2 + 3 * 2 + 1 + 2, "{got:?}");
    d.cove()
        .args(["destroy", "-f"])
        .arg(spec())
        .assert()
        .success();
    assert!(d.namespaces().is_empty(), "{:?}", d.namespaces());
}
