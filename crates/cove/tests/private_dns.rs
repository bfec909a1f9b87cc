//! Issue 12's resolver with real packets (prefix `pdn…`): `cove serve` runs one
//! resolver in the host router for every VPC, forwarding what no view answers to
//! an upstream (Debian's dnsmasq on this host's loopback, standing in for the
//! operator's resolvers). Asked with `dig` from inside ENI namespaces:
//!
//! * a private hosted zone answers in the VPC it is associated with (at base + 2
//!   and at 169.254.169.253, over UDP and TCP), and a VPC with the same CIDR and
//!   the same client address but without the association gets upstream's
//!   NXDOMAIN: the view is the link's, never the address's;
//! * ENI hostnames and their PTR records; forwarded names, cached (they still
//!   resolve after the upstream is gone); a truncated answer retried over TCP;
//! * a security group that allows no DNS does not stop it, and the router tracks
//!   no connection for it; a VPC with `dns_support: false` gets no answer;
//! * a function resolves the database's private name through its
//!   `/etc/resolv.conf` and connects to it across the peering, and reaches the
//!   stand-in behind an AWS service's interface endpoint by the service's name.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`).

mod common;

use std::net::{Ipv4Addr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cove_plan::names::Names;
use serde_json::json;

use common::Deployment;
use common::functions::{deploy_python, runtimes_ready, serve};
use common::tcp::db_server;

const SPEC: &str = r#"
tenants:
  - name: t
    vpcs:
      - name: app
        cidr: 10.61.0.0/16
        dns_hostnames: true
        subnets:
          - { name: s, cidr: 10.61.1.0/24, az: us-east-1a }
        route_tables:
          - name: main
            main: true
            routes:
              - { destination: 10.62.0.0/16, peering: app-data }
        security_groups:
          - name: fn
            egress:
              - { protocol: tcp, ports: 5432, cidr: 10.62.0.0/16 }
              - { protocol: tcp, ports: 443, cidr: 10.61.0.0/16 }
          - name: endpoints
            ingress:
              - { protocol: tcp, ports: 443, cidr: 10.61.0.0/16 }
        enis:
          - { name: client, subnet: s, private_ip: 10.61.1.5, security_groups: [fn] }
        endpoints:
          - name: secrets
            type: interface
            service: com.amazonaws.us-east-1.secretsmanager
            subnets: [s]
            security_groups: [endpoints]
            private_dns_name: secretsmanager.us-east-1.amazonaws.com
      - name: data
        cidr: 10.62.0.0/16
        subnets:
          - { name: s, cidr: 10.62.1.0/24, az: us-east-1a }
        route_tables:
          - name: main
            main: true
            routes:
              - { destination: 10.61.0.0/16, peering: app-data }
        security_groups:
          - name: db
            ingress:
              - { protocol: tcp, ports: 5432, cidr: 10.61.0.0/16 }
        enis:
          - { name: db, subnet: s, private_ip: 10.62.1.10, security_groups: [db] }
      - name: twin
        cidr: 10.61.0.0/16
        subnets:
          - { name: s, cidr: 10.61.1.0/24, az: us-east-1a }
        enis:
          - { name: client, subnet: s, private_ip: 10.61.1.5 }
      - name: quiet
        cidr: 10.63.0.0/16
        dns_support: false
        subnets:
          - { name: s, cidr: 10.63.1.0/24, az: us-east-1a }
        enis:
          - { name: client, subnet: s, private_ip: 10.63.1.5 }
    hosted_zones:
      - name: corp.internal
        vpcs: [app]
        records:
          - { name: db.corp.internal, type: A, values: [10.62.1.10] }
          - { name: pg.corp.internal, type: CNAME, values: [db.corp.internal] }
peerings:
  - name: app-data
    requester: t/app
    accepter: t/data
    status: active
"#;

/// Debian's dnsmasq on a free loopback port, killed on drop.
struct Upstream {
    child: Child,
    port: u16,
}

impl Upstream {
    fn start(dir: &std::path::Path) -> Upstream {
        let port = UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("a free port")
            .port();
        // A TXT record too long for 1,232 bytes over UDP: the resolver gets it
        // truncated and asks again over TCP.
        let long: Vec<String> = (0..30)
            .map(|i| format!("{i:02}{}", "x".repeat(60)))
            .collect();
        let child = Command::new("dnsmasq")
            .args([
                "--keep-in-foreground",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                "--user=root",
                "--pid-file",
            ])
            .arg(format!("--port={port}"))
            .arg("--address=/upstream.example/192.0.2.77")
            // Its own answers with a TTL the resolver caches (dnsmasq: 0).
            .arg("--local-ttl=300")
            .arg("--local=/corp.internal/")
            .arg(format!(
                "--txt-record=long.upstream.example,{}",
                long.join(",")
            ))
            .arg(format!(
                "--log-facility={}",
                dir.join("dnsmasq.log").display()
            ))
            .arg("--log-queries")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dnsmasq (Debian's dnsmasq-base; scripts/test.sh installs it)");
        let up = Upstream { child, port };
        // Ready when it answers.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !dig_host(port, "www.upstream.example").contains("192.0.2.77") {
            assert!(Instant::now() < deadline, "dnsmasq did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        up
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `dig` against the upstream from the host.
fn dig_host(port: u16, name: &str) -> String {
    let out = Command::new("timeout")
        .args(["5", "dig", "+short", "+time=1", "+tries=1", "-p"])
        .arg(port.to_string())
        .args(["@127.0.0.1", name])
        .output()
        .expect("dig");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `dig ARGS` inside namespace `ns` (at most 10 s): exit code and output.
fn dig(ns: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new("timeout")
        .args([
            "10", "ip", "netns", "exec", ns, "dig", "+time=2", "+tries=1",
        ])
        .args(args)
        .output()
        .expect("dig");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `dig +short` inside `ns`, which must exit 0; the answer's lines.
fn short(ns: &str, args: &[&str]) -> Vec<String> {
    let mut all = vec!["+short"];
    all.extend_from_slice(args);
    let (code, text) = dig(ns, &all);
    assert_eq!(code, 0, "dig {args:?} in {ns}: {text}");
    text.lines().map(str::to_owned).collect()
}

/// The resolver answers once `cove serve` has started it (its first ticks).
fn wait_for_answer(ns: &str, args: &[&str], want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, text) = dig(ns, args);
        if text.contains(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {want} for dig {args:?} in {ns}: {text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn each_vpc_resolves_through_its_own_view_and_functions_connect_by_name() {
    if !cove_probe::privileged("private_dns") {
        return;
    }
    let d = Deployment::new("pdn");
    let dir = tempfile::tempdir().expect("tmp");
    let upstream = Upstream::start(dir.path());
    let (_spec_dir, spec, net) = d.apply_text(SPEC);
    let names = Names::new(&net, &d.prefix);
    let ns = |eni: &str| names.eni_ns(net.find_eni(eni).unwrap_or_else(|e| panic!("{eni}: {e:?}")));
    let (app, twin, quiet) = (
        ns("t/app/client"),
        ns("t/twin/client"),
        ns("t/quiet/client"),
    );
    let db = db_server(&ns("t/data/db"), Ipv4Addr::new(10, 62, 1, 10), 5432);

    // A function in `app` (deployed before `cove serve` starts, which runs it).
    let functions = runtimes_ready();
    if functions {
        deploy_python(
            &d,
            "dnsfn",
            &[
                "--subnets",
                "t/app/s",
                "--security-groups",
                "fn",
                "--concurrency",
                "1",
                "--timeout",
                "10",
            ],
        );
    }

    let up = format!("127.0.0.1:{}", upstream.port);
    let (_serve, _) = serve(&d, &["--dns-upstream", &up]);
    wait_for_answer(&app, &["@10.61.0.2", "db.corp.internal"], "10.62.1.10");

    // The private zone, at both addresses, over UDP and TCP; the CNAME followed.
    assert_eq!(
        short(&app, &["@10.61.0.2", "db.corp.internal"]),
        ["10.62.1.10"]
    );
    assert_eq!(
        short(&app, &["@169.254.169.253", "db.corp.internal"]),
        ["10.62.1.10"]
    );
    assert_eq!(
        short(&app, &["+tcp", "@10.61.0.2", "db.corp.internal"]),
        ["10.62.1.10"]
    );
    assert_eq!(
        short(&app, &["@10.61.0.2", "pg.corp.internal"]),
        ["db.corp.internal.", "10.62.1.10"]
    );
    // The same CIDR and the same client address in a VPC without the zone: the
    // name goes upstream, which says NXDOMAIN (over TCP too).
    let (_, text) = dig(&twin, &["@10.61.0.2", "db.corp.internal"]);
    assert!(text.contains("status: NXDOMAIN"), "{text}");
    let (_, text) = dig(&twin, &["+tcp", "@10.61.0.2", "db.corp.internal"]);
    assert!(text.contains("status: NXDOMAIN"), "{text}");
    // ENI hostnames and PTR records, where the VPC has DNS hostnames.
    assert_eq!(
        short(&app, &["@10.61.0.2", "ip-10-61-1-5.ec2.internal"]),
        ["10.61.1.5"]
    );
    assert_eq!(
        short(&app, &["@10.61.0.2", "-x", "10.61.1.5"]),
        ["ip-10-61-1-5.ec2.internal."]
    );
    // Forwarded names; a truncated answer is fetched again over TCP.
    assert_eq!(
        short(&app, &["@10.61.0.2", "www.upstream.example"]),
        ["192.0.2.77"]
    );
    let long = short(
        &app,
        &["+tcp", "@10.61.0.2", "long.upstream.example", "TXT"],
    );
    assert_eq!(long.len(), 1, "{long:?}");
    assert!(long[0].contains("\"29xxxx"), "{long:?}");
    let (_, text) = dig(
        &app,
        &[
            "+notcp",
            "+ignore",
            "@10.61.0.2",
            "long.upstream.example",
            "TXT",
        ],
    );
    assert!(text.contains(" tc"), "truncated over UDP: {text}");

    // The security group allows only PostgreSQL and HTTPS out, yet DNS works
    // (above), and the router keeps no conntrack entry for it.
    let router = names.router_ns();
    let ct = Command::new("ip")
        .args([
            "netns",
            "exec",
            &router,
            "conntrack",
            "-L",
            "-p",
            "udp",
            "--dport",
            "53",
        ])
        .output()
        .expect("conntrack");
    let listed = String::from_utf8_lossy(&ct.stdout);
    assert!(!listed.contains("dport=53"), "tracked: {listed}");
    // No resolver where DNS support is off: no answer at all.
    let (code, text) = dig(&quiet, &["@10.63.0.2", "www.upstream.example"]);
    assert_eq!(code, 9, "a timeout: {text}");

    // The analyzer and the kernel agree on flows addressed by name: for each source
    // and name, `cove check --to NAME` (resolution in the source VPC's view, then
    // the flow) against `dig` from the source's namespace and a TCP connection to
    // the address it answered.
    let sources = [
        ("t/app/client", app.clone()),
        ("t/twin/client", twin.clone()),
        ("t/quiet/client", quiet.clone()),
        ("t/data/db", ns("t/data/db")),
    ];
    let names_to_try = [
        "db.corp.internal",
        "pg.corp.internal",
        "nope.corp.internal",
        "ip-10-62-1-10.ec2.internal",
        "secretsmanager.us-east-1.amazonaws.com",
    ];
    for (from, from_ns) in &sources {
        let resolver = if from.contains("/quiet/") {
            "@10.63.0.2"
        } else if from.contains("/data/") {
            "@10.62.0.2"
        } else {
            "@10.61.0.2"
        };
        for name in names_to_try {
            let analyzer = d
                .cove()
                .args(["check", "-f"])
                .arg(&spec)
                .args([
                    "--from", from, "--to", name, "--proto", "tcp", "--port", "5432",
                ])
                .output()
                .expect("cove check");
            let says = String::from_utf8_lossy(&analyzer.stdout).into_owned();
            let analyzer_reaches = analyzer.status.code() == Some(0);
            let (_, answer) = dig(from_ns, &["+short", resolver, name, "A"]);
            let ip = answer
                .lines()
                .filter_map(|l| l.trim().parse::<Ipv4Addr>().ok())
                .next_back();
            let kernel_reaches = ip.is_some_and(|ip| {
                Command::new("timeout")
                    .args(["5", "ip", "netns", "exec", from_ns, "nc", "-z", "-w", "2"])
                    .arg(ip.to_string())
                    .arg("5432")
                    .status()
                    .is_ok_and(|s| s.success())
            });
            assert_eq!(
                analyzer_reaches, kernel_reaches,
                "{from} → {name}: the analyzer says {says}, dig answered {answer:?}"
            );
            if !kernel_reaches && ip.is_none() {
                assert!(says.contains("at DNS"), "{from} → {name}: {says}");
            }
        }
    }

    // Malformed packets over UDP and broken TCP frames from inside the VPC: the
    // resolver survives them all and still answers.
    junk_to_the_resolver(&app, Ipv4Addr::new(10, 61, 0, 2));
    assert_eq!(
        short(&app, &["@10.61.0.2", "db.corp.internal"]),
        ["10.62.1.10"]
    );
    assert_eq!(
        short(&app, &["+tcp", "@10.61.0.2", "db.corp.internal"]),
        ["10.62.1.10"]
    );

    // The cache answers once the upstream is gone.
    drop(upstream);
    assert_eq!(
        short(&app, &["@10.61.0.2", "www.upstream.example"]),
        ["192.0.2.77"]
    );

    // The router's namespace deleted behind cove's back: the reconciler builds it
    // again (new links to every ENI), and the resolver follows it into the new
    // namespace — its forwarder's cache starts empty there, so a forwarded name
    // fails now (the upstream is gone) while private names answer.
    let before = std::fs::metadata(format!("/run/netns/{router}"))
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .expect("router");
    let deleted = Command::new("ip")
        .args(["netns", "del", &router])
        .status()
        .expect("ip netns del");
    assert!(deleted.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = std::fs::metadata(format!("/run/netns/{router}"))
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .ok();
        if now.is_some_and(|i| i != before) && d.status_json(&spec)["in_sync"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "the router was not rebuilt");
        std::thread::sleep(Duration::from_millis(200));
    }
    wait_for_answer(&app, &["@10.61.0.2", "db.corp.internal"], "10.62.1.10");
    let (_, text) = dig(&app, &["@10.61.0.2", "www.upstream.example"]);
    assert!(
        !text.contains("192.0.2.77"),
        "answered by the old resolver: {text}"
    );

    // The function deployed above resolves the database's private name through
    // its /etc/resolv.conf and connects to it across the peering.
    if !functions {
        return;
    }
    let before = db.peers().len();
    let (code, v) = common::invoke(
        &d,
        "dnsfn",
        &json!({"op": "connect", "host": "pg.corp.internal", "port": 5432, "timeout_ms": 3000}),
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["result"], "ok", "{v}");
    // The AWS service's interface endpoint, by its private DNS name: the stand-in
    // that `cove serve` runs behind it answers.
    let (code, v) = common::invoke(
        &d,
        "dnsfn",
        &json!({"op": "http", "url": "http://secretsmanager.us-east-1.amazonaws.com:443/", "timeout_ms": 3000}),
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["status"], 200, "{v}");
    let body = v["body"].as_str().unwrap_or_default();
    assert!(
        body.contains("\"service\":\"com.amazonaws.us-east-1.secretsmanager\"")
            && body.contains("\"endpoint\":\"t/app/secrets\""),
        "{v}"
    );
    assert!(db.wait_for(before + 1, Duration::from_secs(10)).len() > before);
}

/// 2,000 datagrams of random bytes (some with a DNS header's shape and garbage
/// after it), and TCP connections that send a length and less, or a zero length,
/// or nothing, to `resolver:53` from namespace `ns`.
fn junk_to_the_resolver(ns: &str, resolver: Ipv4Addr) {
    cove_probe::in_namespace(ns, move || {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let udp = std::net::UdpSocket::bind("0.0.0.0:0").expect("udp");
        for i in 0..2000u32 {
            let len = usize::try_from(next() % 600).unwrap_or(0);
            let mut packet: Vec<u8> = (0..len).map(|_| next().to_le_bytes()[0]).collect();
            if i % 2 == 0 && packet.len() >= 12 {
                // A query's header (QR clear, one question) before the garbage.
                packet[2] &= 0x7f;
                packet[4..6].copy_from_slice(&1u16.to_be_bytes());
            }
            let _ = udp.send_to(&packet, (resolver, 53));
        }
        for frame in [
            &[0x01, 0x00, 0xab][..],
            &[0x00, 0x00][..],
            &[][..],
            &[0xff, 0xff, 1, 2, 3][..],
        ] {
            if let Ok(mut s) = std::net::TcpStream::connect_timeout(
                &std::net::SocketAddr::from((resolver, 53)),
                Duration::from_secs(2),
            ) {
                use std::io::Write as _;
                let _ = s.write_all(frame);
            }
        }
    })
    .expect("namespace");
}
