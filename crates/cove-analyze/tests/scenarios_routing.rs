//! Route-priority scenarios taken from the AWS VPC User Guide ("How route priority
//! works"): longest prefix match, static routes over prefix-list routes, blackhole
//! routes and the implicit `local` route.

mod common;

use common::{Scenario, allowed_hop, assert_blocked, assert_reachable};
use cove_analyze::{Direction, Step};
use cove_model::validate::validate_text;

/// A VPC (10.0.0.0/16 plus a secondary block) with an internet gateway, peered with
/// 172.31.0.0/16. `rt-web` is the AWS example table (local, peering, internet) with
/// more specific routes into the peer; `rt-alt` swaps the static and prefix-list
/// targets of the same CIDR.
const ROUTES: &str = r#"
tenants:
  - name: acme
    prefix_lists:
      - { name: peer-net, cidrs: [172.31.0.0/16] }
    vpcs:
      - name: main
        cidr: 10.0.0.0/16
        secondary_cidrs: [10.2.0.0/16]
        internet_gateway: { name: igw }
        subnets:
          - { name: web, cidr: 10.0.0.0/24, az: us-east-1a, route_table: rt-web }
          - { name: alt, cidr: 10.0.1.0/24, az: us-east-1a, route_table: rt-alt }
          - { name: extra, cidr: 10.2.0.0/24, az: us-east-1b, route_table: rt-web }
        route_tables:
          - name: rt-web
            routes:
              - { destination_prefix_list: peer-net, blackhole: true }
              - { destination: 0.0.0.0/0, internet_gateway: igw }
              - { destination: 172.31.0.0/16, peering: pcx }
              - { destination: 172.31.2.0/24, blackhole: true }
              - { destination: 172.31.2.15/32, peering: pcx }
          - name: rt-alt
            routes:
              - { destination_prefix_list: peer-net, peering: pcx }
              - { destination: 172.31.0.0/16, blackhole: true }
        security_groups:
          - { name: open, ingress: [{ protocol: all, cidr: 0.0.0.0/0 }] }
        enis:
          - { name: web-1, subnet: web, private_ip: 10.0.0.10, public_ip: 203.0.113.10, security_groups: [open] }
          - { name: alt-1, subnet: alt, private_ip: 10.0.1.10, security_groups: [open] }
          - { name: extra-1, subnet: extra, private_ip: 10.2.0.10, security_groups: [open] }
      - name: peer
        cidr: 172.31.0.0/16
        subnets:
          - { name: a, cidr: 172.31.0.0/24, az: us-east-1a }
          - { name: b, cidr: 172.31.2.0/24, az: us-east-1a }
        route_tables:
          - { name: rt-peer, main: true, routes: [{ destination: 10.0.0.0/16, peering: pcx }] }
        security_groups:
          - { name: open, ingress: [{ protocol: all, cidr: 10.0.0.0/8 }] }
        enis:
          - { name: p1, subnet: a, private_ip: 172.31.0.10, security_groups: [open] }
          - { name: p15, subnet: b, private_ip: 172.31.2.15, security_groups: [open] }
          - { name: p16, subnet: b, private_ip: 172.31.2.16, security_groups: [open] }
peerings:
  - { name: pcx, requester: acme/main, accepter: acme/peer }
"#;

// AWS: "How route priority works" — Longest prefix match: traffic for 172.31.0.0/16
// takes the peering connection, everything else that leaves the VPC the internet
// gateway (0.0.0.0/0).
// https://docs.aws.amazon.com/vpc/latest/userguide/route-tables-priority.html
#[test]
fn longest_prefix_match_peering_over_default_route() {
    let s = Scenario::new(ROUTES);
    let v = s.tcp("main/web-1", "peer/p1", 443);
    assert_reachable(&v);
    let hop = allowed_hop(&v, Step::RouteTable, Direction::Forward);
    assert!(hop.component.contains("rt-web"), "{hop:?}");
    assert!(
        hop.detail.contains("172.31.0.0/16 -> peering pcx"),
        "{hop:?}"
    );
    let v = s.tcp("main/web-1", "internet", 443);
    assert_reachable(&v);
    let hop = allowed_hop(&v, Step::RouteTable, Direction::Forward);
    assert!(
        hop.detail.contains("0.0.0.0/0 -> internet gateway"),
        "{hop:?}"
    );
    allowed_hop(&v, Step::InternetGateway, Direction::Forward);
}

// AWS: "How route priority works" — Longest prefix (for example, 10.10.2.15/32 has
// priority over 10.10.2.0/24); here the /24 is a blackhole and the /32 a peering.
// https://docs.aws.amazon.com/vpc/latest/userguide/route-tables-priority.html
#[test]
fn slash_32_beats_slash_24_blackhole() {
    let s = Scenario::new(ROUTES);
    let v = s.tcp("main/web-1", "peer/p15", 443);
    assert_reachable(&v);
    assert!(
        allowed_hop(&v, Step::RouteTable, Direction::Forward)
            .detail
            .contains("172.31.2.15/32"),
        "{v:#?}"
    );
    assert_blocked(
        &s.tcp("main/web-1", "peer/p16", 443),
        "route-table",
        Direction::Forward,
        &["main/rt-web"],
        &["172.31.2.0/24", "blackhole"],
    );
}

// AWS: "How route priority works" — Route priority for prefix lists: a static route
// whose CIDR equals a prefix-list route's takes priority, whatever the table order
// (rt-web: prefix list → blackhole, static → peering; rt-alt the reverse).
// https://docs.aws.amazon.com/vpc/latest/userguide/route-tables-priority.html
#[test]
fn static_route_beats_prefix_list_route_for_the_same_cidr() {
    let s = Scenario::new(ROUTES);
    let v = s.tcp("main/web-1", "peer/p1", 443);
    assert_reachable(&v);
    assert!(
        allowed_hop(&v, Step::RouteTable, Direction::Forward)
            .detail
            .contains("peering pcx"),
        "{v:#?}"
    );
    assert_blocked(
        &s.tcp("main/alt-1", "peer/p1", 443),
        "route-table",
        Direction::Forward,
        &["main/rt-alt"],
        &["172.31.0.0/16", "blackhole"],
    );
}

// AWS: "Configure route tables" — route state `blackhole`: the route's target is not
// available, so traffic matching it is dropped.
// https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Route_Tables.html
#[test]
fn blackhole_route_drops_traffic_and_replies() {
    let s = Scenario::new(ROUTES);
    // A blackhole also drops replies: p16 reaches web-1 only if rt-web can answer.
    assert_blocked(
        &s.tcp("peer/p16", "main/web-1", 443),
        "route-table",
        Direction::Return,
        &["main/rt-web"],
        &["172.31.2.16"],
    );
    // p1's replies take the static /16 route back to the peering.
    assert_reachable(&s.tcp("peer/p1", "main/web-1", 443));
}

// AWS: "How route priority works" — traffic destined for the VPC's own range is
// covered by the local route (one per VPC CIDR block, primary and secondary), even
// when a default route points elsewhere.
// https://docs.aws.amazon.com/vpc/latest/userguide/route-tables-priority.html
#[test]
fn local_route_covers_every_vpc_cidr_block() {
    let s = Scenario::new(ROUTES);
    for (src, dst) in [
        ("main/web-1", "main/alt-1"),
        ("main/alt-1", "main/web-1"),
        ("main/web-1", "main/extra-1"),
        ("main/extra-1", "main/alt-1"),
    ] {
        let v = s.udp(src, dst, 53);
        assert_reachable(&v);
        let hop = allowed_hop(&v, Step::RouteTable, Direction::Forward);
        assert!(hop.detail.ends_with("-> local"), "{src} -> {dst}: {hop:?}");
        assert!(!v.forward.iter().any(|h| h.step == Step::InternetGateway));
    }
}

// AWS: "Subnet route tables" — a route whose destination is equal to or more specific
// than the VPC CIDR must target a network interface (or similar); cove rejects it, as
// CreateRoute does for a peering target.
// https://docs.aws.amazon.com/vpc/latest/userguide/subnet-route-tables.html
#[test]
fn route_inside_the_vpc_cidr_is_rejected() {
    let spec = ROUTES.replace(
        "              - { destination: 172.31.2.15/32, peering: pcx }\n",
        "              - { destination: 172.31.2.15/32, peering: pcx }\n              - { destination: 10.0.1.0/24, peering: pcx }\n",
    );
    assert_ne!(spec, ROUTES);
    let v = validate_text(&spec);
    assert!(v.network.is_none());
    assert!(
        v.errors().any(|d| d.message.contains("10.0.1.0/24")),
        "{:#?}",
        v.diagnostics
    );
}

// AWS: "VPC peering connection lifecycle" — when a peering connection is deleted, its
// routes remain but carry no traffic (the console shows them as blackhole).
// https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-basics.html#vpc-peering-lifecycle
#[test]
fn route_to_a_deleted_peering_carries_nothing() {
    let spec = ROUTES.replace(
        "{ name: pcx, requester: acme/main, accepter: acme/peer }",
        "{ name: pcx, requester: acme/main, accepter: acme/peer, status: deleted }",
    );
    assert_ne!(spec, ROUTES);
    let s = Scenario::new(&spec);
    let v = s.tcp("main/web-1", "peer/p1", 443);
    assert!(!v.reachable);
    let b = v.blocked.as_ref().expect("blocked");
    assert_eq!(b.direction, Direction::Forward);
    // cove stops at the peering step (the route itself is still there).
    assert_eq!(b.step.as_str(), "peering", "{b:?}");
    assert!(
        b.component.contains("pcx") && b.reason.contains("deleted"),
        "{b:?}"
    );
}
