//! The resolver's kernel fast path (issue 12) with real packets (prefix `dfp…`):
//! a resolver in the host router, asked with `dig` from ENI namespaces.
//!
//! * a repeated query is answered by the fast path, with the same answer the
//!   resolver gave, and dig accepts it (ids, checksums, lengths);
//! * another VPC with the same CIDR, the same client address and the same
//!   resolver address never gets the first VPC's answers, before or after they
//!   are in the fast path's map;
//! * a new catalog (the zone's record changed) is answered at once: nothing of the
//!   old one is replayed;
//! * the same question to another address or port is not answered;
//! * a query the map cannot hold (a long name) and queries with EDNS cookies
//!   (different bytes every time) are the resolver's; the fast path's answers are
//!   counted;
//! * once the resolver stops, nothing answers: the fast path leaves with it.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`).

mod common;

use std::process::Command;
use std::sync::Arc;
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
    let ns = |eni: &str| names.eni_ns(net.find_eni(eni).unwrap_or_else(|e| panic!("{eni}: {e:?}")));
    let (app, twin) = (ns("t/app/client"), ns("t/twin/client"));

    let resolver = Resolver::start(ResolverConfig::new(&names.router_ns(), Vec::new()))
        .expect("start the resolver");
    assert_eq!(resolver.fast_path_error(), None, "the fast path loads");
    resolver.set_catalog(Arc::new(cove_deploy::dns::catalog(&net, &d.prefix)));

    let ask = |ns: &str, name: &str| {
        let mut args = PLAIN.to_vec();
        args.extend(["@10.64.0.2", name]);
        short(ns, &args)
    };
    // The first answer is the resolver's; the program goes on the link with it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while ask(&app, "db.corp.internal") != ["10.64.2.10"] {
        assert!(Instant::now() < deadline, "the resolver does not answer");
    }
    let before = resolver.stats();
    for _ in 0..20 {
        assert_eq!(ask(&app, "db.corp.internal"), ["10.64.2.10"]);
    }
    // The same question at the link-local address, and the full answer dig shows.
    let (code, text) = dig(
        &app,
        &[
            "+noedns",
            "+nocookie",
            "@169.254.169.253",
            "db.corp.internal",
        ],
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("status: NOERROR") && text.contains("flags: qr aa rd"),
        "{text}"
    );
    let (_, again) = dig(
        &app,
        &[
            "+noedns",
            "+nocookie",
            "@169.254.169.253",
            "db.corp.internal",
        ],
    );
    assert!(
        again.contains("db.corp.internal.\t300\tIN\tA\t10.64.2.10"),
        "{again}"
    );
    let after = resolver.stats();
    let fast = after.fast_path_answers - before.fast_path_answers;
    assert!(
        fast >= 20,
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
    let (code, text) = dig(
        &app,
        &["+noedns", "+nocookie", "@10.64.1.77", "db.corp.internal"],
    );
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
    // own link. The name is in no zone of its view: no answer (no upstream), before
    // and after the app's answers are in the map.
    for _ in 0..3 {
        let (_, text) = dig(
            &twin,
            &["+noedns", "+nocookie", "@10.64.0.2", "db.corp.internal"],
        );
        assert!(
            !text.contains("10.64.2.10"),
            "the twin got app's answer: {text}"
        );
        assert!(text.contains("status: SERVFAIL"), "{text}");
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

    // A new catalog: the record changed. The first answer after it is the new one.
    let (_dir2, _spec2, net2) = d.apply_text(&spec("10.64.3.30"));
    resolver.set_catalog(Arc::new(cove_deploy::dns::catalog(&net2, &d.prefix)));
    assert_eq!(ask(&app, "db.corp.internal"), ["10.64.3.30"]);
    let before = resolver.stats();
    for _ in 0..5 {
        assert_eq!(ask(&app, "db.corp.internal"), ["10.64.3.30"]);
    }
    assert!(resolver.stats().fast_path_answers - before.fast_path_answers >= 4);

    // The resolver stops: nothing answers any more, the kernel included.
    drop(resolver);
    let (code, text) = dig(
        &app,
        &["+noedns", "+nocookie", "@10.64.0.2", "db.corp.internal"],
    );
    assert_eq!(code, 9, "a timeout once the resolver is gone: {text}");
}
