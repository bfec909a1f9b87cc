//! VPC peering scenarios taken from the AWS VPC Peering Guide: full-access and
//! specific-route configurations, connection states, the unsupported (transitive and
//! edge-to-edge) configurations, return routes, and security-group references
//! across a peering.

mod common;

use common::{Scenario, allowed_hop, assert_blocked, assert_reachable};
use cove_analyze::{Direction, Step};

/// Two VPCs of one account, each routing the other's whole CIDR to `pcx-ab`.
const TWO_VPCS: &str = r#"
tenants:
  - name: acme
    vpcs:
      - name: vpc-a
        cidr: 10.0.0.0/16
        secondary_cidrs: [10.1.0.0/16]
        subnets:
          - { name: app, cidr: 10.0.1.0/24, az: us-east-1a }
          - { name: extra, cidr: 10.1.1.0/24, az: us-east-1a }
        route_tables:
          - name: rt-a
            main: true
            routes:
              - { destination: 172.31.0.0/16, peering: pcx-ab }
        security_groups:
          - name: app
            ingress:
              - { protocol: all, cidr: 172.31.0.0/16 }
        enis:
          - { name: a1, subnet: app, private_ip: 10.0.1.10, security_groups: [app] }
          - { name: a2, subnet: extra, private_ip: 10.1.1.10, security_groups: [app] }
      - name: vpc-b
        cidr: 172.31.0.0/16
        subnets:
          - { name: db, cidr: 172.31.1.0/24, az: us-east-1a }
        route_tables:
          - name: rt-b
            main: true
            routes:
              - { destination: 10.0.0.0/16, peering: pcx-ab }
              - { destination: 10.1.0.0/16, peering: pcx-ab }
        security_groups:
          - name: db
            ingress:
              - { protocol: tcp, ports: 5432, cidr: 10.0.0.0/8 }
        enis:
          - { name: b1, subnet: db, private_ip: 172.31.1.10, security_groups: [db] }
peerings:
  - { name: pcx-ab, requester: acme/vpc-a, accepter: acme/vpc-b, status: active }
"#;

// AWS: "VPC peering configurations with routes to an entire VPC" — Two VPCs peered
// together (single VPC CIDR).
// https://docs.aws.amazon.com/vpc/latest/peering/peering-configurations-full-access.html
#[test]
fn two_vpcs_peered_together_reach_each_other() {
    let s = Scenario::new(TWO_VPCS);
    let v = s.tcp("vpc-a/a1", "vpc-b/b1", 5432);
    assert_reachable(&v);
    let hop = allowed_hop(&v, Step::Peering, Direction::Forward);
    assert!(hop.component.contains("pcx-ab"), "{hop:?}");
    let back = allowed_hop(&v, Step::RouteTable, Direction::Return);
    assert!(back.component.contains("rt-b"), "{back:?}");
    // And the other way round (vpc-a's group allows everything from vpc-b).
    assert_reachable(&s.tcp("vpc-b/b1", "vpc-a/a1", 22));
    // The peering carries traffic, the security groups still filter it.
    assert_blocked(
        &s.tcp("vpc-a/a1", "vpc-b/b1", 22),
        "security-group-ingress",
        Direction::Forward,
        &["vpc-b/db"],
        &["tcp/22"],
    );
}

// AWS: "VPC peering configurations with routes to an entire VPC" — Two VPCs peered
// together, multiple IPv4 VPC CIDRs: each VPC needs a route for every CIDR block of
// the peer.
// https://docs.aws.amazon.com/vpc/latest/peering/peering-configurations-full-access.html
#[test]
fn every_cidr_block_of_the_peer_needs_a_route() {
    let s = Scenario::new(TWO_VPCS);
    assert_reachable(&s.tcp("vpc-a/a2", "vpc-b/b1", 5432));
    let missing = TWO_VPCS.replace(
        "              - { destination: 10.1.0.0/16, peering: pcx-ab }\n",
        "",
    );
    assert_ne!(missing, TWO_VPCS);
    let s = Scenario::new(&missing);
    assert_reachable(&s.tcp("vpc-a/a1", "vpc-b/b1", 5432));
    assert_blocked(
        &s.tcp("vpc-a/a2", "vpc-b/b1", 5432),
        "route-table",
        Direction::Return,
        &["vpc-b/rt-b"],
        &["10.1.1.10"],
    );
}

// AWS: "Update your route tables for a VPC peering connection" — the owner of each VPC
// must add a route to the peer; without the route in the peer VPC, replies cannot come
// back.
// https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-routing.html
#[test]
fn missing_return_route_in_the_peer_blocks_replies() {
    let spec = TWO_VPCS.replace(
        "              - { destination: 10.0.0.0/16, peering: pcx-ab }\n              - { destination: 10.1.0.0/16, peering: pcx-ab }\n",
        "              - { destination: 192.168.0.0/16, peering: pcx-ab }\n",
    );
    assert_ne!(spec, TWO_VPCS);
    let s = Scenario::new(&spec);
    let v = s.tcp("vpc-a/a1", "vpc-b/b1", 5432);
    assert_blocked(
        &v,
        "route-table",
        Direction::Return,
        &["vpc-b/rt-b"],
        &["10.0.1.10"],
    );
    // The request itself arrived: the forward path was complete.
    allowed_hop(&v, Step::Delivery, Direction::Forward);
    // vpc-b cannot even start a connection to vpc-a.
    assert_blocked(
        &s.tcp("vpc-b/b1", "vpc-a/a1", 22),
        "route-table",
        Direction::Forward,
        &["vpc-b/rt-b"],
        &["no route matches 10.0.1.10"],
    );
}

// AWS: "VPC peering connection lifecycle" — a connection in `pending-acceptance` is
// not yet active and carries no traffic.
// https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-basics.html#vpc-peering-lifecycle
#[test]
fn pending_acceptance_carries_no_traffic() {
    let spec = TWO_VPCS.replace("status: active", "status: pending-acceptance");
    assert_ne!(spec, TWO_VPCS);
    let s = Scenario::new(&spec);
    for (src, dst, port) in [("vpc-a/a1", "vpc-b/b1", 5432), ("vpc-b/b1", "vpc-a/a1", 22)] {
        assert_blocked(
            &s.tcp(src, dst, port),
            "peering",
            Direction::Forward,
            &["pcx-ab"],
            &["pending-acceptance"],
        );
    }
}

// AWS: "VPC peering limitations" — you cannot create a VPC peering connection between
// VPCs with overlapping IPv4 CIDR blocks; CreateVpcPeeringConnection then leaves the
// connection in the `failed` state.
// https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-basics.html#vpc-peering-limitations
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVpcPeeringConnection.html
#[test]
fn overlapping_cidrs_make_the_peering_failed() {
    let s = Scenario::new(
        r#"
tenants:
  - name: acme
    vpcs:
      - name: vpc-a
        cidr: 10.0.0.0/16
        subnets: [{ name: app, cidr: 10.0.1.0/24, az: us-east-1a }]
        route_tables:
          - name: rt-a
            main: true
            routes: [{ destination: 10.5.0.0/16, peering: pcx-ab }]
        enis: [{ name: a1, subnet: app, private_ip: 10.0.1.10 }]
      - name: vpc-b
        cidr: 10.0.0.0/16
        secondary_cidrs: [10.5.0.0/16]
        subnets: [{ name: db, cidr: 10.5.1.0/24, az: us-east-1a }]
        enis: [{ name: b1, subnet: db, private_ip: 10.5.1.10 }]
peerings:
  - { name: pcx-ab, requester: acme/vpc-a, accepter: acme/vpc-b, status: active }
"#,
    );
    assert_eq!(s.net.peerings[0].status.as_str(), "failed");
    assert_blocked(
        &s.tcp("vpc-a/a1", "vpc-b/b1", 5432),
        "peering",
        Direction::Forward,
        &["pcx-ab"],
        &["failed", "overlapping"],
    );
}

/// VPC A (172.16.0.0/16) peered with VPC B and VPC C, which do not peer each other.
const STAR: &str = r#"
tenants:
  - name: acme
    vpcs:
      - name: vpc-a
        cidr: 172.16.0.0/16
        subnets: [{ name: s, cidr: 172.16.0.0/24, az: us-east-1a }]
        route_tables:
          - name: rt-a
            main: true
            routes:
              - { destination: 10.0.0.0/16, peering: pcx-ab }
              - { destination: 10.1.0.0/16, peering: pcx-ac }
        security_groups:
          - { name: open, ingress: [{ protocol: all, cidr: 10.0.0.0/8 }] }
        enis: [{ name: a1, subnet: s, private_ip: 172.16.0.10, security_groups: [open] }]
      - name: vpc-b
        cidr: 10.0.0.0/16
        subnets: [{ name: s, cidr: 10.0.0.0/24, az: us-east-1a }]
        route_tables:
          - name: rt-b
            main: true
            routes:
              - { destination: 172.16.0.0/16, peering: pcx-ab }
              ROUTE_B_TO_C
        security_groups:
          - { name: open, ingress: [{ protocol: all, cidr: 0.0.0.0/0 }] }
        enis: [{ name: b1, subnet: s, private_ip: 10.0.0.10, security_groups: [open] }]
      - name: vpc-c
        cidr: 10.1.0.0/16
        subnets: [{ name: s, cidr: 10.1.0.0/24, az: us-east-1a }]
        route_tables:
          - name: rt-c
            main: true
            routes:
              - { destination: 172.16.0.0/16, peering: pcx-ac }
        security_groups:
          - { name: open, ingress: [{ protocol: all, cidr: 0.0.0.0/0 }] }
        enis: [{ name: c1, subnet: s, private_ip: 10.1.0.10, security_groups: [open] }]
peerings:
  - { name: pcx-ab, requester: acme/vpc-a, accepter: acme/vpc-b }
  - { name: pcx-ac, requester: acme/vpc-a, accepter: acme/vpc-c }
"#;

// AWS: "VPC peering configurations with routes to an entire VPC" — One VPC peered with
// two VPCs: VPC B and VPC C cannot send traffic directly to each other through VPC A.
// https://docs.aws.amazon.com/vpc/latest/peering/peering-configurations-full-access.html
#[test]
fn star_centre_reaches_both_spokes_but_spokes_do_not_meet() {
    let s = Scenario::new(&STAR.replace("ROUTE_B_TO_C", ""));
    assert_reachable(&s.tcp("vpc-a/a1", "vpc-b/b1", 443));
    assert_reachable(&s.tcp("vpc-a/a1", "vpc-c/c1", 443));
    assert_reachable(&s.tcp("vpc-b/b1", "vpc-a/a1", 443));
    assert_reachable(&s.tcp("vpc-c/c1", "vpc-a/a1", 443));
    assert_blocked(
        &s.tcp("vpc-b/b1", "vpc-c/c1", 443),
        "route-table",
        Direction::Forward,
        &["vpc-b/rt-b"],
        &["no route matches 10.1.0.10"],
    );
}

// AWS: "VPC peering limitations" — transitive peering is not supported: routing VPC
// C's CIDR from VPC B to the B–A connection does not let B reach C through A.
// https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-basics.html#vpc-peering-limitations
#[test]
fn transitive_peering_through_the_centre_is_blocked_at_the_peering() {
    let spec = STAR.replace(
        "ROUTE_B_TO_C",
        "- { destination: 10.1.0.0/16, peering: pcx-ab }",
    );
    let s = Scenario::new(&spec);
    assert_blocked(
        &s.tcp("vpc-b/b1", "vpc-c/c1", 443),
        "peering",
        Direction::Forward,
        &["pcx-ab"],
        &["transitive"],
    );
}

/// Central VPC A with two subnets, each reaching one of two overlapping VPCs.
const SPECIFIC_SUBNETS: &str = r#"
tenants:
  - name: acme
    vpcs:
      - name: vpc-a
        cidr: 172.16.0.0/16
        subnets:
          - { name: subnet-1, cidr: 172.16.0.0/24, az: us-east-1a, route_table: rt-1 }
          - { name: subnet-2, cidr: 172.16.1.0/24, az: us-east-1a, route_table: rt-2 }
        route_tables:
          - { name: rt-1, routes: [{ destination: 10.0.0.0/16, peering: pcx-ab }] }
          - { name: rt-2, routes: [{ destination: 10.0.0.0/16, peering: pcx-ac }] }
        security_groups:
          - { name: open, ingress: [{ protocol: all, cidr: 10.0.0.0/16 }] }
        enis:
          - { name: a1, subnet: subnet-1, private_ip: 172.16.0.10, security_groups: [open] }
          - { name: a2, subnet: subnet-2, private_ip: 172.16.1.10, security_groups: [open] }
      - name: vpc-b
        cidr: 10.0.0.0/16
        subnets: [{ name: s, cidr: 10.0.0.0/24, az: us-east-1a }]
        route_tables:
          - { name: rt-b, main: true, routes: [{ destination: 172.16.0.0/24, peering: pcx-ab }] }
        security_groups:
          - { name: open, ingress: [{ protocol: all, cidr: 172.16.0.0/16 }] }
        enis: [{ name: b1, subnet: s, private_ip: 10.0.0.10, security_groups: [open] }]
      - name: vpc-c
        cidr: 10.0.0.0/16
        subnets: [{ name: s, cidr: 10.0.0.0/24, az: us-east-1a }]
        route_tables:
          - { name: rt-c, main: true, routes: [{ destination: 172.16.1.0/24, peering: pcx-ac }] }
        security_groups:
          - { name: open, ingress: [{ protocol: all, cidr: 172.16.0.0/16 }] }
        enis: [{ name: c1, subnet: s, private_ip: 10.0.0.10, security_groups: [open] }]
peerings:
  - { name: pcx-ab, requester: acme/vpc-a, accepter: acme/vpc-b }
  - { name: pcx-ac, requester: acme/vpc-a, accepter: acme/vpc-c }
"#;

// AWS: "VPC peering configurations with specific routes" — Two VPCs that access
// specific subnets in one VPC: VPC B routes only subnet 1's CIDR, so subnet 2 of VPC A
// is out of its reach.
// https://docs.aws.amazon.com/vpc/latest/peering/peering-configurations-partial-access.html
#[test]
fn specific_subnet_routes_limit_the_peer_to_one_subnet() {
    let s = Scenario::new(SPECIFIC_SUBNETS);
    assert_reachable(&s.tcp("vpc-b/b1", "vpc-a/a1", 22));
    assert_reachable(&s.tcp("vpc-c/c1", "vpc-a/a2", 22));
    assert_reachable(&s.tcp("vpc-a/a1", "vpc-b/b1", 22));
    assert_blocked(
        &s.tcp("vpc-b/b1", "vpc-a/a2", 22),
        "route-table",
        Direction::Forward,
        &["vpc-b/rt-b"],
        &["no route matches 172.16.1.10"],
    );
    // Subnet 2 routes the shared CIDR to VPC C: it cannot reach b1, whose address
    // belongs to c1 on that side.
    assert_blocked(
        &s.tcp("vpc-a/a2", "vpc-b/b1", 22),
        "delivery",
        Direction::Forward,
        &["vpc-c/c1"],
        &["overlapping"],
    );
}

/// VPC A reaches one instance of VPC B by a /32 route, everything else of the shared
/// CIDR in VPC C by the /16 route (longest prefix match).
const LONGEST_PREFIX: &str = r#"
tenants:
  - name: acme
    vpcs:
      - name: vpc-a
        cidr: 172.16.0.0/16
        subnets: [{ name: s, cidr: 172.16.0.0/24, az: us-east-1a }]
        route_tables:
          - name: rt-a
            main: true
            routes:
              - { destination: 10.0.0.0/16, peering: pcx-ac }
              - { destination: 10.0.0.77/32, peering: pcx-ab }
        security_groups:
          - { name: open, ingress: [{ protocol: all, cidr: 10.0.0.0/16 }] }
        enis: [{ name: a1, subnet: s, private_ip: 172.16.0.10, security_groups: [open] }]
      - name: vpc-b
        cidr: 10.0.0.0/16
        subnets: [{ name: s, cidr: 10.0.0.0/24, az: us-east-1a }]
        route_tables:
          - { name: rt-b, main: true, routes: [{ destination: 172.16.0.0/16, peering: pcx-ab }] }
        security_groups:
          - { name: open, ingress: [{ protocol: all, cidr: 172.16.0.0/16 }] }
        enis:
          - { name: inst-x, subnet: s, private_ip: 10.0.0.77, security_groups: [open] }
          - { name: inst-y, subnet: s, private_ip: 10.0.0.88, security_groups: [open] }
      - name: vpc-c
        cidr: 10.0.0.0/16
        subnets: [{ name: s, cidr: 10.0.0.0/24, az: us-east-1a }]
        route_tables:
          - { name: rt-c, main: true, routes: [{ destination: 172.16.0.0/16, peering: pcx-ac }] }
        security_groups:
          - { name: open, ingress: [{ protocol: all, cidr: 172.16.0.0/16 }] }
        enis: [{ name: c1, subnet: s, private_ip: 10.0.0.50, security_groups: [open] }]
peerings:
  - { name: pcx-ab, requester: acme/vpc-a, accepter: acme/vpc-b }
  - { name: pcx-ac, requester: acme/vpc-a, accepter: acme/vpc-c }
"#;

// AWS: "VPC peering configurations with specific routes" — One VPC that accesses two
// VPCs using longest prefix matches; replies to another instance of VPC B are routed
// to VPC C instead.
// https://docs.aws.amazon.com/vpc/latest/peering/peering-configurations-partial-access.html
#[test]
fn longest_prefix_match_picks_the_peering_per_instance() {
    let s = Scenario::new(LONGEST_PREFIX);
    let v = s.tcp("vpc-a/a1", "vpc-b/inst-x", 443);
    assert_reachable(&v);
    assert!(
        allowed_hop(&v, Step::Peering, Direction::Forward)
            .component
            .contains("pcx-ab")
    );
    let v = s.tcp("vpc-a/a1", "vpc-c/c1", 443);
    assert_reachable(&v);
    assert!(
        allowed_hop(&v, Step::Peering, Direction::Forward)
            .component
            .contains("pcx-ac")
    );
    // inst-y shares the CIDR with VPC C: A's /16 route sends it there.
    assert_blocked(
        &s.tcp("vpc-a/a1", "vpc-b/inst-y", 443),
        "delivery",
        Direction::Forward,
        &["vpc-c"],
        &["10.0.0.88"],
    );
    // inst-y can send to A, but A routes the replies to 10.0.0.88 over pcx-ac.
    assert_blocked(
        &s.tcp("vpc-b/inst-y", "vpc-a/a1", 443),
        "route-table",
        Direction::Return,
        &["vpc-a/rt-a"],
        &["pcx-ac"],
    );
}

// AWS: "VPC peering configurations with specific routes" — Instances in one VPC that
// access specific instances: a /32 route to one instance of the peer leaves the peer's
// other addresses without a route.
// https://docs.aws.amazon.com/vpc/latest/peering/peering-configurations-partial-access.html
#[test]
fn a_slash_32_route_reaches_only_that_instance() {
    let spec = LONGEST_PREFIX.replace(
        "              - { destination: 10.0.0.0/16, peering: pcx-ac }\n",
        "",
    );
    assert_ne!(spec, LONGEST_PREFIX);
    let s = Scenario::new(&spec);
    assert_reachable(&s.tcp("vpc-a/a1", "vpc-b/inst-x", 443));
    assert_blocked(
        &s.tcp("vpc-a/a1", "vpc-b/inst-y", 443),
        "route-table",
        Direction::Forward,
        &["vpc-a/rt-a"],
        &["no route matches 10.0.0.88"],
    );
    assert_blocked(
        &s.tcp("vpc-b/inst-y", "vpc-a/a1", 443),
        "route-table",
        Direction::Return,
        &["vpc-a/rt-a"],
        &["10.0.0.88"],
    );
}

/// VPC A has an internet gateway, a NAT gateway and an S3 gateway endpoint; VPC B
/// routes everything (and S3's prefix list) to the peering.
const EDGE: &str = r#"
tenants:
  - name: acme
    prefix_lists:
      - { name: s3, cidrs: [52.216.0.0/15] }
    vpcs:
      - name: vpc-a
        cidr: 10.0.0.0/16
        subnets:
          - { name: public, cidr: 10.0.0.0/24, az: us-east-1a, route_table: public }
          - { name: private, cidr: 10.0.1.0/24, az: us-east-1a, route_table: private }
        internet_gateway: { name: igw-a }
        nat_gateways: [{ name: nat-a, subnet: public, public_ips: [203.0.113.10] }]
        route_tables:
          - name: public
            routes:
              - { destination: 0.0.0.0/0, internet_gateway: igw-a }
              - { destination: 10.1.0.0/16, peering: pcx-ab }
          - name: private
            routes:
              - { destination: 0.0.0.0/0, nat_gateway: nat-a }
              - { destination: 10.1.0.0/16, peering: pcx-ab }
        endpoints:
          - { name: s3, type: gateway, service: com.amazonaws.us-east-1.s3, prefix_list: s3, route_tables: [private] }
        enis:
          - { name: web, subnet: public, public_ip: 203.0.113.20 }
          - { name: worker, subnet: private }
      - name: vpc-b
        cidr: 10.1.0.0/16
        subnets: [{ name: s, cidr: 10.1.0.0/24, az: us-east-1a }]
        route_tables:
          - name: rt-b
            main: true
            routes:
              - { destination: 0.0.0.0/0, peering: pcx-ab }
              - { destination_prefix_list: s3, peering: pcx-ab }
        enis: [{ name: b1, subnet: s }]
peerings:
  - { name: pcx-ab, requester: acme/vpc-a, accepter: acme/vpc-b }
"#;

// AWS: "VPC peering limitations" — edge to edge routing through a gateway: resources
// in VPC B can't use VPC A's internet gateway, NAT device or gateway endpoint.
// https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-basics.html#vpc-peering-limitations
#[test]
fn edge_to_edge_through_the_peers_gateways_is_blocked() {
    let s = Scenario::new(EDGE);
    // VPC A itself uses its gateways.
    assert_reachable(&s.tcp("vpc-a/web", "internet", 443));
    let v = s.tcp("vpc-a/worker", "internet", 443);
    assert_reachable(&v);
    allowed_hop(&v, Step::NatGateway, Direction::Forward);
    let v = s.tcp("vpc-a/worker", "52.216.1.1", 443);
    assert_reachable(&v);
    allowed_hop(&v, Step::GatewayEndpoint, Direction::Forward);
    // VPC B cannot: not the internet gateway or NAT gateway, not the endpoint.
    for dst in ["internet", "52.216.1.1"] {
        assert_blocked(
            &s.tcp("vpc-b/b1", dst, 443),
            "peering",
            Direction::Forward,
            &["pcx-ab"],
            &["edge-to-edge"],
        );
    }
}

/// Two accounts: the platform's functions reach the customer's database, whose
/// security group references the platform's group across the peering.
const SG_REFS: &str = r#"
tenants:
  - name: platform
    vpcs:
      - name: fns
        cidr: 10.20.0.0/16
        subnets: [{ name: s, cidr: 10.20.1.0/24, az: us-east-1a }]
        route_tables:
          - { name: rt, main: true, routes: [{ destination: 10.30.0.0/16, peering: pcx }] }
        security_groups:
          - name: fn
            egress:
              - { protocol: tcp, ports: 5432, security_group: customer/prod/db }
          - name: other
        enis:
          - { name: fn-1, subnet: s, security_groups: [fn] }
          - { name: other-1, subnet: s, security_groups: [other] }
  - name: customer
    vpcs:
      - name: prod
        cidr: 10.30.0.0/16
        subnets: [{ name: s, cidr: 10.30.1.0/24, az: us-east-1a }]
        route_tables:
          - { name: rt, main: true, routes: [{ destination: 10.20.0.0/16, peering: pcx }] }
        security_groups:
          - name: db
            ingress: [{ protocol: tcp, ports: 5432, security_group: platform/fns/fn }]
          - name: cache
            ingress: [{ protocol: tcp, ports: 5432, cidr: 10.20.0.0/16 }]
        enis:
          - { name: db-1, subnet: s, security_groups: [db] }
          - { name: cache-1, subnet: s, security_groups: [cache] }
peerings:
  - { name: pcx, requester: platform/fns, accepter: customer/prod }
"#;

// AWS: "Update your security groups to reference peer security groups" — a rule can
// name a security group of the peer VPC; it matches the peer's instances that carry it.
// https://docs.aws.amazon.com/vpc/latest/peering/vpc-peering-security-groups.html
#[test]
fn security_group_of_the_peer_vpc_as_source_and_destination() {
    let s = Scenario::new(SG_REFS);
    let v = s.tcp("fns/fn-1", "prod/db-1", 5432);
    assert_reachable(&v);
    assert!(
        allowed_hop(&v, Step::SecurityGroupIngress, Direction::Forward)
            .detail
            .contains("platform/fns/fn"),
        "{v:#?}"
    );
    // Same subnet, same peering, but not a member of the referenced group.
    assert_blocked(
        &s.tcp("fns/other-1", "prod/db-1", 5432),
        "security-group-ingress",
        Direction::Forward,
        &["customer/prod/db"],
        &["tcp/5432"],
    );
    // fn's outbound rule only names the peer's db group: cache-1 (which would accept
    // the connection) is not a member.
    assert_reachable(&s.tcp("fns/other-1", "prod/cache-1", 5432));
    assert_blocked(
        &s.tcp("fns/fn-1", "prod/cache-1", 5432),
        "security-group-egress",
        Direction::Forward,
        &["platform/fns/fn"],
        &["cache-1"],
    );
}
