//! The resolver's kernel fast path (issue 12) with real packets (prefix `dfp…`):
//! a resolver in the host router, asked with `dig` from ENI namespaces.
//!
//! * a repeated query is answered by the fast path, with the same answer the
//!   resolver gave, and dig accepts it (ids, checksums, lengths);
//! * another VPC with the same CIDR, the same client address and the same
//!   resolver address never gets the first VPC's answers, before or after they
//!   are in the fast path's map;
//! * a new catalog (the zone's record changed) is answered at once: nothing of the
//!   old one is replayed (the link is the same link: same ifindex);
//! * a cached forwarded answer is replayed by the kernel only until its expiry;
//! * a query with IP options goes to the resolver, never to the fast path;
//! * the same question to another address or port is not answered;
//! * a query the map cannot hold (a long name) and queries with EDNS cookies
//!   (different bytes every time) are the resolver's; the fast path's answers are
//!   counted;
//! * once the resolver stops, nothing answers: the fast path leaves with it.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`).

mod common;

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cove_plan::names::Names;
use cove_resolver::{Resolver, ResolverConfig};

use common::Deployment;

fn spec(address: &str) -> String {
    format!(
        r#"
tenants:
  - name: t
    vpcs:
      - name: app
        cidr: 10.64.0.0/16
        subnets:
          - {{ name: s, cidr: 10.64.1.0/24, az: us-east-1a }}
        enis:
          - {{ name: client, subnet: s, private_ip: 10.64.1.5 }}
      - name: twin
        cidr: 10.64.0.0/16
        subnets:
          - {{ name: s, cidr: 10.64.1.0/24, az: us-east-1a }}
        enis:
          - {{ name: client, subnet: s, private_ip: 10.64.1.5 }}
    hosted_zones:
      - name: corp.internal
        vpcs: [app]
        records:
          - {{ name: db.corp.internal, type: A, values: [{address}] }}
          - {{ name: a-rather-long-name-that-makes-the-query.longer-than-the-fast-path-holds-in-its-map.and-then-some-more-labels-after-that.corp.internal, type: A, values: [10.64.9.9] }}
"#
    )
}

/// `dig` in namespace `ns`: (exit code, output).
fn dig(ns: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new("timeout")
        .args([
            "10", "ip", "netns", "exec", ns, "dig", "+time=1", "+tries=1",
        ])
        .args(args)
        .output()
        .expect("dig");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The address lines of `dig +short`.
fn short(ns: &str, args: &[&str]) -> Vec<String> {
    let mut all = vec!["+short"];
    all.extend_from_slice(args);
    dig(ns, &all)
        .1
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

/// The interface index of link `name` in namespace `ns`.
fn ifindex(ns: &str, name: &str) -> u32 {
    let out = Command::new("ip")
        .args(["-n", ns, "-o", "link", "show", "dev", name])
        .output()
        .expect("ip link");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split(':')
        .next()
        .and_then(|i| i.trim().parse().ok())
        .unwrap_or_else(|| panic!("no link {name} in {ns}: {text}"))
}

/// The lines of dig's output that do not change from one answer to the next
/// (flags and counts, status without the id, the answer section).
fn answer_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains("flags:") || l.contains("status:") || l.contains("\tIN\t"))
        .map(|l| l.split(", id:").next().unwrap_or(l).to_owned())
        .collect()
}

/// A DNS query for `name` (type A, recursion desired, no EDNS), id `id`.
fn query(id: u16, name: &str) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(u8::try_from(label.len()).expect("short label"));
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// An upstream resolver on the host's loopback: every question gets one A
/// record, 192.0.2.55 (TTL 300). Stops when dropped.
struct Upstream {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Upstream {
    fn start() -> Upstream {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind upstream");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let port = socket.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !stopping.load(Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                // The header and the question (the name to its root label, type,
                // class); anything after it (EDNS) is left out.
                let Some(end) = buf[12..n].iter().position(|b| *b == 0).map(|z| 12 + z + 5) else {
                    continue;
                };
                if end > n {
                    continue;
                }
                let mut answer = buf[..end].to_vec();
                answer[2] = 0x81;
                answer[3] = 0x80;
                answer[6..12].copy_from_slice(&[0, 1, 0, 0, 0, 0]);
                answer.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 55]);
                let _ = socket.send_to(&answer, from);
            }
        });
        Upstream { port, stop }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Queries the way a function's stub resolver does: no EDNS, no cookie.
const PLAIN: [&str; 2] = ["+noedns", "+nocookie"];

#[test]
fn repeated_queries_are_answered_in_the_kernel_only_as_the_resolver_would() {
    if !cove_probe::privileged("dns_fast_path") {
        return;
    }
    if Command::new("dig").arg("-v").output().is_err() {
        assert!(std::env::var("CI").is_err(), "dig is missing");
        return;
    }
    let d = Deployment::new("dfp");
    let (_dir, _spec, net) = d.apply_text(&spec("10.64.2.10"));
    let names = Names::new(&net, &d.prefix);
    let eni = |path: &str| {
        net.find_eni(path)
            .unwrap_or_else(|e| panic!("{path}: {e:?}"))
    };
    let (app, twin) = (
        names.eni_ns(eni("t/app/client")),
        names.eni_ns(eni("t/twin/client")),
    );
    let router = names.router_ns();

    let upstream = Upstream::start();
    let upstreams = vec![std::net::SocketAddr::from(([127, 0, 0, 1], upstream.port))];
    let resolver =
        Resolver::start(ResolverConfig::new(&router, upstreams)).expect("start the resolver");
    assert_eq!(resolver.fast_path_error(), None, "the fast path loads");
    resolver.set_catalog(Arc::new(cove_deploy::dns::catalog(&net, &d.prefix)));

    let ask = |ns: &str, name: &str| {
        let mut args = PLAIN.to_vec();
        args.extend(["@10.64.0.2", name]);
        short(ns, &args)
    };
    let plain_dig = |ns: &str, at: &str, name: &str| {
        let mut args = PLAIN.to_vec();
        args.extend([at, name]);
        dig(ns, &args)
    };
    // The first answer is the resolver's; the program goes on the link with it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while ask(&app, "db.corp.internal") != ["10.64.2.10"] {
        assert!(Instant::now() < deadline, "the resolver does not answer");
    }
    // The program goes on the link once that answer is sent.
    let app_link = ifindex(&router, &names.eni_router_link(eni("t/app/client")));
    let attached = |link: u32| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !resolver.fast_path_on(link) {
            assert!(
                Instant::now() < deadline,
                "the program is not on link {link}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    attached(app_link);
    let before = resolver.stats();
    for _ in 0..20 {
        assert_eq!(ask(&app, "db.corp.internal"), ["10.64.2.10"]);
    }
    // The same question at the link-local address (another key): the resolver's
    // answer, then the kernel's, the same but for the id.
    let (code, text) = plain_dig(&app, "@169.254.169.253", "db.corp.internal");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("status: NOERROR") && text.contains("flags: qr aa rd"),
        "{text}"
    );
    let mid = resolver.stats();
    let (code, again) = plain_dig(&app, "@169.254.169.253", "db.corp.internal");
    assert_eq!(code, 0, "{again}");
    assert_eq!(
        resolver.stats().fast_path_answers,
        mid.fast_path_answers + 1,
        "answered by the kernel"
    );
    assert_eq!(answer_lines(&again), answer_lines(&text), "{text}\n{again}");
    assert!(
        again.contains("db.corp.internal.\t300\tIN\tA\t10.64.2.10"),
        "{again}"
    );
    let after = resolver.stats();
    let fast = after.fast_path_answers - before.fast_path_answers;
    assert_eq!(
        fast, 21,
        "the kernel answered {fast} of 21 repeated queries: {after:?}"
    );
    assert_eq!(
        after.udp_queries - before.udp_queries,
        22,
        "every query counted once: {after:?}"
    );

    // The same question to another address of the VPC (no server there) or to
    // another port of the resolver's: nothing answers, the map's entries are for
    // the resolver's address and port only.
    let (code, text) = plain_dig(&app, "@10.64.1.77", "db.corp.internal");
    assert_eq!(code, 9, "a timeout: {text}");
    let (code, text) = dig(
        &app,
        &[
            "+noedns",
            "+nocookie",
            "-p",
            "5353",
            "@10.64.0.2",
            "db.corp.internal",
        ],
    );
    assert_ne!(code, 0, "no answer on another port: {text}");
    assert!(!text.contains("10.64.2.10"), "{text}");

    // The twin VPC: same CIDR, same client address, same resolver address, its
    // own link. The name is in no zone of its view: it goes upstream (192.0.2.55),
    // before and after the app's answers are in the map, and after the program is
    // on the twin's link too.
    let twin_link = ifindex(&router, &names.eni_router_link(eni("t/twin/client")));
    assert_ne!(twin_link, app_link);
    let twin_gets_its_own = || {
        let (_, text) = plain_dig(&twin, "@10.64.0.2", "db.corp.internal");
        assert!(
            !text.contains("10.64.2.10"),
            "the twin got app's answer: {text}"
        );
        assert!(text.contains("192.0.2.55"), "{text}");
    };
    for _ in 0..4 {
        twin_gets_its_own();
    }
    attached(twin_link);
    for _ in 0..2 {
        twin_gets_its_own();
    }

    // Queries the map does not hold: a long name (answered by the resolver every
    // time), and dig's default EDNS cookie (different bytes each time).
    let long = "a-rather-long-name-that-makes-the-query.longer-than-the-fast-path-holds-in-its-map.and-then-some-more-labels-after-that.corp.internal";
    let before = resolver.stats();
    for _ in 0..3 {
        assert_eq!(ask(&app, long), ["10.64.9.9"]);
        assert_eq!(
            short(&app, &["@10.64.0.2", "db.corp.internal"]),
            ["10.64.2.10"]
        );
    }
    let after = resolver.stats();
    assert_eq!(
        after.fast_path_answers, before.fast_path_answers,
        "{after:?}"
    );
    assert_eq!(after.udp_queries - before.udp_queries, 6, "{after:?}");

    // A forwarded name, cached: the kernel replays it for a second at most, then
    // the resolver answers again (and keeps it again). (A slow machine may take
    // that second between two digs: then the pair is tried again.)
    assert_eq!(ask(&app, "www.fwd.example"), ["192.0.2.55"]);
    let mut tries = 0;
    let replayed = loop {
        tries += 1;
        assert_eq!(ask(&app, "www.fwd.example"), ["192.0.2.55"]);
        let before = resolver.stats();
        assert_eq!(ask(&app, "www.fwd.example"), ["192.0.2.55"]);
        let replayed = resolver.stats();
        if replayed.fast_path_answers == before.fast_path_answers + 1 {
            assert_eq!(replayed.cache_hits, before.cache_hits + 1, "{replayed:?}");
            break replayed;
        }
        assert!(tries < 5, "never replayed by the kernel: {replayed:?}");
    };
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(ask(&app, "www.fwd.example"), ["192.0.2.55"]);
    let expired = resolver.stats();
    assert_eq!(
        expired.fast_path_answers, replayed.fast_path_answers,
        "expired: {expired:?}"
    );
    assert_eq!(expired.udp_queries, replayed.udp_queries + 1, "{expired:?}");

    // A query with IP options (from a raw socket in the client's namespace) is the
    // resolver's every time, though the same bytes without options are in the map.
    let (raw, udp) = cove_host::in_namespace(&app, || {
        let raw = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::RAW,
            Some(socket2::Protocol::from(255)), // IPPROTO_RAW: the header is ours
        )
        .expect("raw socket");
        let udp = UdpSocket::bind("10.64.1.5:40053").expect("bind the client's port");
        udp.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        (raw, udp)
    })
    .expect("in the client's namespace");
    let q = query(0x4242, "db.corp.internal");
    // IPv4 with 4 bytes of options (NOP NOP NOP EOL); the kernel fills in the
    // length and the checksum.
    let mut packet = vec![
        0x46, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 10, 64, 1, 5, 10, 64, 0, 2, 1, 1, 1, 0,
    ];
    packet.extend_from_slice(&40053u16.to_be_bytes());
    packet.extend_from_slice(&53u16.to_be_bytes());
    packet.extend_from_slice(&u16::try_from(8 + q.len()).expect("short").to_be_bytes());
    packet.extend_from_slice(&[0, 0]);
    packet.extend_from_slice(&q);
    let to = SocketAddrV4::new(Ipv4Addr::new(10, 64, 0, 2), 53);
    let mut buf = [0u8; 512];
    // Once without options first: the resolver answers and keeps it.
    udp.send_to(&q, to).expect("send");
    let (n, _) = udp.recv_from(&mut buf).expect("the resolver's answer");
    assert_eq!(&buf[..2], &[0x42, 0x42]);
    let plain = buf[2..n].to_vec();
    let before = resolver.stats();
    for _ in 0..3 {
        raw.send_to(&packet, &to.into()).expect("send with options");
        let (n, _) = udp
            .recv_from(&mut buf)
            .expect("an answer to the query with options");
        assert_eq!(&buf[2..n], plain.as_slice());
    }
    let optioned = resolver.stats();
    assert_eq!(
        optioned.fast_path_answers, before.fast_path_answers,
        "{optioned:?}"
    );
    assert_eq!(optioned.udp_queries, before.udp_queries + 3, "{optioned:?}");
    // And without options again: the kernel's.
    udp.send_to(&q, to).expect("send");
    let (n, _) = udp.recv_from(&mut buf).expect("the kernel's answer");
    assert_eq!(&buf[2..n], plain.as_slice());
    assert_eq!(
        resolver.stats().fast_path_answers,
        optioned.fast_path_answers + 1
    );

    // A new catalog: the record changed. The first answer after it is the new one,
    // on the same link (same index: the generation makes the difference, not a
    // new link).
    let (_dir2, _spec2, net2) = d.apply_text(&spec("10.64.3.30"));
    assert_eq!(
        ifindex(&router, &names.eni_router_link(eni("t/app/client"))),
        app_link
    );
    resolver.set_catalog(Arc::new(cove_deploy::dns::catalog(&net2, &d.prefix)));
    assert_eq!(ask(&app, "db.corp.internal"), ["10.64.3.30"]);
    let before = resolver.stats();
    for _ in 0..5 {
        assert_eq!(ask(&app, "db.corp.internal"), ["10.64.3.30"]);
    }
    assert_eq!(
        resolver.stats().fast_path_answers - before.fast_path_answers,
        5
    );

    // The resolver stops: nothing answers any more, the kernel included.
    drop(resolver);
    drop(upstream);
    let (code, text) = plain_dig(&app, "@10.64.0.2", "db.corp.internal");
    assert_eq!(code, 9, "a timeout once the resolver is gone: {text}");
}
