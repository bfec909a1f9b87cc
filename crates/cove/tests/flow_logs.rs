//! Flow logs (issue 14) with real traffic: known TCP connections between two ENIs
//! give exactly the matching ACCEPT records — one per connection, direction and
//! interface, whose bytes agree with the receiving interface's own counters
//! within 1 % — in AWS's default text format and in a custom JSON format.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::Deployment;
use common::flows::{lines_of, ns_with, received, sink};

const SPEC: &str = "tenants:
  - name: t
    account_id: '123456789012'
    vpcs:
      - name: v
        cidr: 10.74.0.0/16
        subnets:
          - { name: s, cidr: 10.74.1.0/24, az: us-east-1a }
        security_groups:
          - name: open
            ingress:
              - { protocol: tcp, ports: 5432, cidr: 10.74.0.0/16 }
        enis:
          - { name: a, subnet: s, private_ip: 10.74.1.10, security_groups: [open] }
          - { name: b, subnet: s, private_ip: 10.74.1.20, security_groups: [open] }
        route_tables:
          - name: main
            main: true
            routes: [ { destination: 10.75.0.0/16, peering: v-w } ]
        flow_logs:
          - { name: all, max_aggregation_interval: 1 }
          - name: custom
            eni: b
            max_aggregation_interval: 1
            file_format: json
            log_format: '${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${packets} ${bytes} ${action} ${flow-direction} ${tcp-flags} ${traffic-path} ${vpc-id} ${subnet-id} ${cove-nat-srcaddr} ${cove-rule}'
";

const PEERED: &str = "      - name: w
        cidr: 10.75.0.0/16
        subnets:
          - { name: s, cidr: 10.75.1.0/24, az: us-east-1a }
        route_tables:
          - name: main
            main: true
            routes: [ { destination: 10.74.0.0/16, peering: v-w } ]
        security_groups:
          - name: open
            ingress:
              - { protocol: tcp, ports: 5432, cidr: 10.74.0.0/16 }
        enis:
          - { name: c, subnet: s, private_ip: 10.75.1.30, security_groups: [open] }
peerings:
  - { name: v-w, requester: t/v, accepter: t/w, status: active }
";

const A: Ipv4Addr = Ipv4Addr::new(10, 74, 1, 10);
const B: Ipv4Addr = Ipv4Addr::new(10, 74, 1, 20);
const CONNECTIONS: usize = 5;
const BYTES: usize = 400_000;

#[test]
fn known_connections_give_exactly_their_records() {
    if !cove_probe::privileged("flow_logs") {
        return;
    }
    let d = Deployment::new("fl");
    let (_dir, _spec, _net) = d.apply_text(&format!("{SPEC}{PEERED}"));
    let (_serve, addr) = common::functions::serve(&d, &[]);
    common::flows::wait_for_collector(&d);
    let (a_ns, b_ns) = (ns_with(&d, A), ns_with(&d, B));
    sink(&b_ns, B, 5432);
    let (bytes_before, packets_before) = received(&b_ns);
    let mut ports = BTreeSet::new();
    for _ in 0..CONNECTIONS {
        let mut s = common::tcp::connect_from(&a_ns, B, 5432, 0).expect("connect");
        ports.insert(s.local_addr().expect("local").port());
        s.write_all(&vec![7u8; BYTES]).expect("send");
        s.shutdown(std::net::Shutdown::Write).expect("shutdown");
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    }
    // The connections' last packets (FIN, ACK) have arrived once a moment passed.
    std::thread::sleep(Duration::from_millis(300));
    let (bytes_after, packets_after) = received(&b_ns);
    // IP bytes: the interface counts Ethernet headers too.
    let rx_packets = packets_after - packets_before;
    let rx_ip_bytes = bytes_after - bytes_before - 14 * rx_packets;

    let files = d.state.path().join(&d.prefix).join("flow-logs/t/v");
    // a → b: at a (egress) and at b (ingress), one record per connection each at
    // least (a connection may span two 1-second windows).
    let to_b = |l: &str| {
        let f: Vec<&str> = l.split(' ').collect();
        f.len() == 14 && f[3] == "10.74.1.10" && f[4] == "10.74.1.20" && f[6] == "5432"
    };
    let lines = lines_of(&files.join("all.log"), 2 * CONNECTIONS, to_b);
    // Wait for every record of the connections (their windows all end within 2 s).
    std::thread::sleep(Duration::from_secs(3));
    let lines = {
        let all = std::fs::read_to_string(files.join("all.log")).expect("all.log");
        let l: Vec<String> = all.lines().filter(|l| to_b(l)).map(str::to_owned).collect();
        assert!(l.len() >= lines.len());
        l
    };
    // interface → source port → (packets, bytes)
    let mut by_eni: BTreeMap<String, BTreeMap<u16, (u64, u64)>> = BTreeMap::new();
    for l in &lines {
        let f: Vec<&str> = l.split(' ').collect();
        assert_eq!(f[0], "2", "{l}");
        assert_eq!(f[1], "123456789012", "{l}");
        assert_eq!(f[7], "6", "{l}");
        assert_eq!(f[12], "ACCEPT", "{l}");
        assert_eq!(f[13], "OK", "{l}");
        let start: u64 = f[10].parse().expect("start");
        let end: u64 = f[11].parse().expect("end");
        assert!(start <= end, "{l}");
        let e = by_eni.entry(f[2].to_owned()).or_default();
        let c = e.entry(f[5].parse().expect("port")).or_default();
        c.0 += f[8].parse::<u64>().expect("packets");
        c.1 += f[9].parse::<u64>().expect("bytes");
    }
    assert_eq!(by_eni.len(), 2, "records at a and at b: {lines:#?}");
    for (eni, conns) in &by_eni {
        assert_eq!(
            conns.keys().copied().collect::<BTreeSet<_>>(),
            ports,
            "{eni}: one record per connection"
        );
    }
    let totals: Vec<(u64, u64)> = by_eni
        .values()
        .map(|c| c.values().fold((0, 0), |t, x| (t.0 + x.0, t.1 + x.1)))
        .collect();
    assert_eq!(totals[0], totals[1], "both interfaces saw the same");
    let (packets, bytes) = totals[0];
    let off = (bytes as f64 - rx_ip_bytes as f64).abs() / rx_ip_bytes as f64;
    assert!(
        off < 0.01,
        "logged {bytes} bytes, b's interface received {rx_ip_bytes} IP bytes ({:.2} % apart)",
        off * 100.0
    );
    assert!(bytes >= (CONNECTIONS * BYTES) as u64, "{bytes}");
    // The interface also received a neighbour solicitation or two.
    assert!(
        packets <= rx_packets && rx_packets - packets <= 2 + rx_packets / 100,
        "logged {packets} packets, received {rx_packets}"
    );

    // The replies (b → a) too, and the custom JSON log of b alone.
    let from_b = |l: &str| {
        let f: Vec<&str> = l.split(' ').collect();
        f.len() == 14 && f[3] == "10.74.1.20" && f[5] == "5432"
    };
    lines_of(&files.join("all.log"), 2 * CONNECTIONS, from_b);
    let json = lines_of(&files.join("custom.log"), 2 * CONNECTIONS, |l| {
        l.contains("\"dstport\":5432") || l.contains("\"srcport\":5432")
    });
    let mut directions = BTreeSet::new();
    for l in &json {
        let v: serde_json::Value = serde_json::from_str(l).expect("a JSON record");
        let keys: Vec<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys[0], "interface-id", "the format's order: {l}");
        assert_eq!(keys.len(), 15, "{l}");
        assert!(v["packets"].is_u64() && v["bytes"].is_u64(), "{l}");
        assert_eq!(v["action"], "ACCEPT");
        assert!(v["cove-nat-srcaddr"].is_null(), "no translation: {l}");
        assert!(v["vpc-id"].as_str().is_some_and(|s| s.starts_with("vpc-")));
        assert!(
            v["subnet-id"]
                .as_str()
                .is_some_and(|s| s.starts_with("subnet-"))
        );
        let dir = v["flow-direction"].as_str().expect("direction").to_owned();
        match dir.as_str() {
            // Arriving at b: the client's packets; leaving b: the replies, within
            // the VPC (traffic path 1).
            "ingress" => {
                assert_eq!(v["dstaddr"], "10.74.1.20", "{l}");
                assert!(v["traffic-path"].is_null(), "{l}");
                // The client's packets were let in by b's security group's rule.
                assert!(
                    v["cove-rule"].as_str().is_some_and(
                        |r| r.contains("security-group-ingress: t/v/open — inbound rule #0")
                    ),
                    "{l}"
                );
            }
            "egress" => {
                assert_eq!(v["srcaddr"], "10.74.1.20", "{l}");
                assert_eq!(v["traffic-path"], 1, "{l}");
            }
            other => panic!("direction {other}: {l}"),
        }
        directions.insert(dir);
        assert_eq!(
            v["interface-id"],
            json[0].split('"').nth(3).unwrap_or_default(),
            "only b's interface: {l}"
        );
    }
    assert_eq!(directions.len(), 2);
    // `cove flows` reads them back, filtered.
    let flows = |args: &[&str]| {
        let out = d
            .cove()
            .arg("flows")
            .args(args)
            .output()
            .expect("cove flows");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, text, err) = flows(&["--eni", "t/v/a", "--addr", "10.74.1.20", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    // a's records of the connections, in both flow logs that capture a (only `all`).
    assert!(rows.len() >= 2 * CONNECTIONS, "{text}");
    assert!(rows.iter().all(|r| r["flow_log"] == "t/v/all"), "{text}");
    let a_id = rows[0]["interface-id"].clone();
    assert!(rows.iter().all(|r| r["interface-id"] == a_id), "{text}");
    let (code, text, _) = flows(&["--log", "custom", "--action", "REJECT"]);
    assert_eq!(code, Some(0));
    assert!(text.trim().is_empty(), "no rejects: {text}");
    let (code, _, err) = flows(&["--log", "custom", "--since", "60"]);
    assert_ne!(code, Some(0));
    assert!(
        err.contains("records no `end`") && err.contains("${end}"),
        "{err}"
    );
    let (code, _, err) = flows(&["--log", "nope"]);
    assert_ne!(code, Some(0));
    assert!(
        err.contains("t/v/all") && err.contains("t/v/custom"),
        "{err}"
    );

    // Metering: a connection over the peering is private data transfer; the
    // month's file and `cove metering` say so.
    let c_ns = ns_with(&d, Ipv4Addr::new(10, 75, 1, 30));
    sink(&c_ns, Ipv4Addr::new(10, 75, 1, 30), 5432);
    {
        let mut s = common::tcp::connect_from(&a_ns, Ipv4Addr::new(10, 75, 1, 30), 5432, 0)
            .expect("connect over the peering");
        s.write_all(&vec![9u8; 300_000]).expect("send");
        s.shutdown(std::net::Shutdown::Write).expect("shutdown");
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    }
    let deadline = Instant::now() + Duration::from_secs(40);
    let totals = loop {
        let out = d
            .cove()
            .args(["metering", "--json"])
            .output()
            .expect("metering");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let peering = v["tenants"]["t"]["peering"]["bytes"].as_u64().unwrap_or(0);
        let intra = v["tenants"]["t"]["intra-vpc"]["bytes"]
            .as_u64()
            .unwrap_or(0);
        if peering >= 300_000 && intra >= bytes {
            break v;
        }
        assert!(Instant::now() < deadline, "metering never caught up: {v}");
        std::thread::sleep(Duration::from_millis(500));
    };
    // Within the VPC, t sent what the flow logs counted both ways (a's requests
    // and b's replies), at least.
    assert!(totals["tenants"]["t"]["intra-vpc"]["packets"].as_u64() >= Some(packets));
    let (code, text, _) = {
        let out = d.cove().arg("metering").output().expect("metering");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::new(),
        )
    };
    assert_eq!(code, Some(0));
    assert!(
        text.contains("t: private data transfer (peering + endpoints) 0.0003"),
        "{text}"
    );

    // The metrics count what was written.
    let (status, _, body) = common::functions::http(addr, "GET", "/metrics", b"");
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body);
    let written = text
        .lines()
        .find_map(|l| l.strip_prefix("cove_flow_log_records_total{outcome=\"written\"} "))
        .and_then(|v| v.parse::<u64>().ok())
        .expect("written records in /metrics");
    let on_file: usize = ["all.log", "custom.log"]
        .iter()
        .map(|f| {
            std::fs::read_to_string(files.join(f))
                .unwrap_or_default()
                .lines()
                .count()
        })
        .sum();
    assert!(
        written >= on_file as u64,
        "{written} written, {on_file} on file"
    );
    // The first record of a connection arriving at b carries its SYN.
    assert!(
        json.iter()
            .any(|l| l.contains("\"flow-direction\":\"ingress\"")
                && l.contains("\"tcp-flags\":")
                && serde_json::from_str::<serde_json::Value>(l)
                    .ok()
                    .and_then(|v| v["tcp-flags"].as_u64())
                    .is_some_and(|f| f & 2 != 0)),
        "no SYN: {json:#?}"
    );
}
