//! Internet-gateway and NAT-gateway scenarios taken from the AWS VPC User Guide:
//! public and private subnets, public IPs, public and private NAT gateways, gateway
//! endpoints next to a default route, and the NAT gateway's ephemeral ports.

mod common;

use common::{Scenario, allowed_hop, assert_blocked, assert_reachable, has_step};
use cove_analyze::{Direction, Step};

/// A public subnet (route to the internet gateway), a private subnet (default route
/// to a public NAT gateway, S3 through a gateway endpoint) and a subnet behind a
/// private NAT gateway.
const GATEWAYS: &str = r#"
tenants:
  - name: acme
    prefix_lists:
      - { name: s3, cidrs: [52.216.0.0/15] }
    vpcs:
      - name: vpc
        cidr: 10.0.0.0/16
        internet_gateway: { name: igw }
        subnets:
          - { name: public, cidr: 10.0.0.0/24, az: us-east-1a, route_table: public, network_acl: PUBLIC_ACL }
          - { name: private, cidr: 10.0.1.0/24, az: us-east-1a, route_table: private }
          - { name: internal, cidr: 10.0.2.0/24, az: us-east-1a, route_table: internal }
        nat_gateways:
          - { name: nat-a, subnet: public, public_ips: [203.0.113.10] }
          - { name: nat-p, subnet: public, connectivity: private }
        route_tables:
          - name: public
            routes: [{ destination: 0.0.0.0/0, internet_gateway: igw }]
          - name: private
            routes: [{ destination: 0.0.0.0/0, nat_gateway: nat-a }]
          - name: internal
            routes: [{ destination: 0.0.0.0/0, nat_gateway: nat-p }]
        endpoints:
          - { name: s3, type: gateway, service: com.amazonaws.us-east-1.s3, prefix_list: s3, route_tables: [private] }
        network_acls:
          - name: pub-acl
            ingress:
              - { rule: 100, action: allow, protocol: all, cidr: 10.0.0.0/16 }
              - { rule: 110, action: allow, protocol: tcp, ports: 80, cidr: 0.0.0.0/0 }
              - { rule: 120, action: allow, protocol: tcp, ports: RETURN_PORTS, cidr: 0.0.0.0/0 }
            egress:
              - { rule: 100, action: allow, protocol: all, cidr: 0.0.0.0/0 }
        security_groups:
          - { name: web, ingress: [{ protocol: tcp, ports: 80, cidr: 0.0.0.0/0 }] }
        enis:
          - { name: web-1, subnet: public, public_ip: 203.0.113.20, security_groups: [web] }
          - { name: web-2, subnet: public, security_groups: [web] }
          - { name: app-1, subnet: private, security_groups: [web] }
          - { name: app-2, subnet: private, public_ip: 203.0.113.30, security_groups: [web] }
          - { name: svc-1, subnet: internal, security_groups: [web] }
      - name: isolated
        cidr: 10.9.0.0/16
        subnets: [{ name: s, cidr: 10.9.0.0/24, az: us-east-1a }]
        security_groups:
          - { name: web, ingress: [{ protocol: tcp, ports: 80, cidr: 0.0.0.0/0 }] }
        enis:
          - { name: iso-1, subnet: s, public_ip: 203.0.113.40, security_groups: [web] }
"#;

/// The spec with the default network ACL on the public subnet.
fn gateways() -> Scenario {
    Scenario::new(
        &GATEWAYS
            .replace(", network_acl: PUBLIC_ACL", "")
            .replace("RETURN_PORTS", "32768-65535"),
    )
}

/// The spec with `pub-acl` on the public subnet, allowing replies on `ports`.
fn gateways_with_public_acl(ports: &str) -> Scenario {
    Scenario::new(
        &GATEWAYS
            .replace("PUBLIC_ACL", "pub-acl")
            .replace("RETURN_PORTS", ports),
    )
}

// AWS: "NAT gateways" — instances in a private subnet connect to the internet through
// a public NAT gateway in a public subnet, whose route table sends 0.0.0.0/0 to the
// internet gateway.
// https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway.html
#[test]
fn private_subnet_reaches_the_internet_through_nat_and_igw() {
    let s = gateways();
    let v = s.tcp("vpc/app-1", "internet", 443);
    assert_reachable(&v);
    let nat = allowed_hop(&v, Step::NatGateway, Direction::Forward);
    assert!(
        nat.component.contains("nat-a") && nat.detail.contains("203.0.113.10"),
        "{nat:?}"
    );
    let igw = allowed_hop(&v, Step::InternetGateway, Direction::Forward);
    assert!(igw.component.contains("igw"), "{igw:?}");
    // The order of the hops: route table, NAT gateway, internet gateway, delivery.
    let order: Vec<Step> = v.forward.iter().map(|h| h.step).collect();
    let pos = |st: Step| order.iter().position(|x| *x == st).expect("hop present");
    assert!(pos(Step::NatGateway) < pos(Step::InternetGateway));
    assert!(pos(Step::InternetGateway) < pos(Step::Delivery));
}

// AWS: "Enable internet access for a VPC using an internet gateway" — an instance in
// a public subnet needs a public IPv4 address to communicate over the internet
// gateway; without one the traffic is not translated.
// https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Internet_Gateway.html
#[test]
fn public_subnet_without_public_ip_is_blocked_at_the_igw() {
    let s = gateways();
    let v = s.tcp("vpc/web-1", "internet", 443);
    assert_reachable(&v);
    assert!(!has_step(&v, Step::NatGateway));
    assert_blocked(
        &s.tcp("vpc/web-2", "internet", 443),
        "internet-gateway",
        Direction::Forward,
        &["vpc/igw"],
        &["web-2", "no public IP"],
    );
}

// AWS: "Enable internet access for a VPC using an internet gateway" — hosts on the
// internet reach an instance through its public IPv4 address when its subnet routes
// to the internet gateway.
// https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Internet_Gateway.html
#[test]
fn inbound_from_the_internet_needs_a_public_ip() {
    let s = gateways();
    let v = s.tcp("internet", "vpc/web-1", 80);
    assert_reachable(&v);
    assert!(
        allowed_hop(&v, Step::InternetGateway, Direction::Forward)
            .detail
            .contains("203.0.113.20"),
        "{v:#?}"
    );
    assert_blocked(
        &s.tcp("internet", "vpc/web-2", 80),
        "internet-gateway",
        Direction::Forward,
        &["vpc/igw"],
        &["no public IP"],
    );
    // The security group still decides which ports are open.
    assert_blocked(
        &s.tcp("internet", "vpc/web-1", 22),
        "security-group-ingress",
        Direction::Forward,
        &["vpc/web"],
        &["tcp/22"],
    );
}

// AWS: "Subnets for your VPC" — a subnet is public only if it has a direct route to
// an internet gateway; a public IP on an instance of a private subnet (default route
// to a NAT gateway) does not make it reachable, because its replies go to the NAT.
// https://docs.aws.amazon.com/vpc/latest/userguide/configure-subnets.html
#[test]
fn public_ip_in_a_private_subnet_cannot_answer() {
    let s = gateways();
    assert_blocked(
        &s.tcp("internet", "vpc/app-2", 80),
        "route-table",
        Direction::Return,
        &["vpc/private"],
        &["nat-a"],
    );
}

// AWS: "Enable internet access for a VPC using an internet gateway" — a VPC without
// an internet gateway cannot be reached from the internet.
// https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Internet_Gateway.html
#[test]
fn vpc_without_internet_gateway_is_unreachable_from_the_internet() {
    let s = gateways();
    assert_blocked(
        &s.tcp("internet", "isolated/iso-1", 80),
        "internet-gateway",
        Direction::Forward,
        &["acme/isolated"],
        &["no internet gateway"],
    );
}

// AWS: "NAT gateways" — private NAT gateway: if you route traffic from a private NAT
// gateway to the internet gateway, the internet gateway drops the traffic.
// https://docs.aws.amazon.com/vpc/latest/userguide/vpc-nat-gateway.html
#[test]
fn private_nat_gateway_cannot_use_the_internet_gateway() {
    let s = gateways();
    assert_blocked(
        &s.tcp("vpc/svc-1", "internet", 443),
        "nat-gateway",
        Direction::Forward,
        &["nat-p"],
        &["private NAT gateway"],
    );
    // Inside the VPC the private NAT gateway is not in the way (local route).
    assert_reachable(&s.tcp("vpc/svc-1", "vpc/web-1", 80));
}

// AWS: "Gateway endpoints" — the endpoint's route uses the service's prefix list and
// is more specific than the default route, so S3 traffic takes the endpoint and the
// rest goes to the NAT gateway.
// https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html
#[test]
fn gateway_endpoint_route_beats_the_default_route() {
    let s = gateways();
    let v = s.tcp("vpc/app-1", "52.216.8.1", 443);
    assert_reachable(&v);
    let ep = allowed_hop(&v, Step::GatewayEndpoint, Direction::Forward);
    assert!(ep.component.contains("vpc/s3"), "{ep:?}");
    assert!(!has_step(&v, Step::NatGateway));
    // The public subnet's table has no endpoint route: S3 goes out to the internet.
    let v = s.tcp("vpc/web-1", "52.216.8.1", 443);
    assert_reachable(&v);
    assert!(!has_step(&v, Step::GatewayEndpoint));
    allowed_hop(&v, Step::InternetGateway, Direction::Forward);
}

// AWS: "Network ACLs — Ephemeral ports" — a NAT gateway uses ports 1024-65535, so the
// network ACL of its subnet must let replies in on all of them.
// https://docs.aws.amazon.com/vpc/latest/userguide/nacl-ephemeral-ports.html
#[test]
fn nat_gateway_subnet_acl_must_allow_ports_1024_to_65535() {
    let narrow = gateways_with_public_acl("32768-65535");
    // Instances of the public subnet itself use Linux ports: fine.
    assert_reachable(&narrow.tcp("vpc/web-1", "internet", 443));
    // The NAT gateway's own ports 1024-32767 are not allowed back in.
    assert_blocked(
        &narrow.tcp("vpc/app-1", "internet", 443),
        "network-acl-ingress",
        Direction::Return,
        &["vpc/pub-acl", "vpc/public"],
        &["1024-32767", "`*`"],
    );
    let wide = gateways_with_public_acl("1024-65535");
    let v = wide.tcp("vpc/app-1", "internet", 443);
    assert_reachable(&v);
    assert!(
        allowed_hop(&v, Step::NetworkAclIngress, Direction::Return)
            .detail
            .contains("entry 120"),
        "{v:#?}"
    );
}
