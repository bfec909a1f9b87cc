//! Public addresses and NAT gateways as AWS evaluates them: from the internet only a
//! public IP (an ENI's, translated 1:1 by the internet gateway) reaches an ENI, never
//! its private address; a NAT gateway's Elastic IP and private address accept no
//! connections; a NAT gateway translates only TCP, UDP and ICMP. As root, every flow
//! the kernel can carry is also sent through the data plane (`common::kernel`).

mod common;

use common::{Scenario, assert_blocked, assert_reachable};
use cove_analyze::{Direction, Endpoint, Flow};

const PUBLIC: &str = r#"
tenants:
  - name: acme
    vpcs:
      - name: vpc
        cidr: 10.0.0.0/16
        internet_gateway: { name: igw }
        subnets:
          - { name: public, cidr: 10.0.0.0/24, az: us-east-1a, route_table: public }
          - { name: private, cidr: 10.0.1.0/24, az: us-east-1a, route_table: private }
        nat_gateways:
          - { name: nat-a, subnet: public, public_ips: [203.0.113.10] }
        route_tables:
          - name: public
            routes: [{ destination: 0.0.0.0/0, internet_gateway: igw }]
          - name: private
            routes: [{ destination: 0.0.0.0/0, nat_gateway: nat-a }]
        security_groups:
          - name: web
            ingress:
              - { protocol: tcp, ports: 80, cidr: 0.0.0.0/0 }
              - { protocol: all, cidr: 10.0.0.0/8 }
        enis:
          - { name: web-1, subnet: public, private_ip: 10.0.0.20, public_ip: 203.0.113.20, security_groups: [web] }
          - { name: web-2, subnet: public, private_ip: 10.0.0.21, security_groups: [web] }
          - { name: app-1, subnet: private, private_ip: 10.0.1.20, security_groups: [web] }
      - name: other
        cidr: 10.1.0.0/16
        internet_gateway: { name: igw }
        subnets: [{ name: s, cidr: 10.1.0.0/24, az: us-east-1a, route_table: out }]
        route_tables:
          - name: out
            routes: [{ destination: 0.0.0.0/0, internet_gateway: igw }]
        security_groups:
          - { name: web, ingress: [{ protocol: tcp, ports: 80, cidr: 0.0.0.0/0 }] }
        enis:
          - { name: o-1, subnet: s, private_ip: 10.1.0.20, public_ip: 203.0.113.40, security_groups: [web] }
"#;

fn public() -> Scenario {
    Scenario::new(PUBLIC)
}

// AWS: "Enable internet access for a VPC using an internet gateway" — the internet
// gateway performs 1:1 NAT of the public IPv4 address; private addresses are not
// reachable from the internet.
#[test]
fn from_the_internet_a_private_address_is_not_routed() {
    let s = public();
    assert_eq!(
        s.endpoint("10.0.0.20"),
        Endpoint::Eni(s.net.find_eni("vpc/web-1").expect("web-1"))
    );
    let v = s.tcp("internet", "10.0.0.20", 80);
    assert_blocked(
        &v,
        "internet-gateway",
        Direction::Forward,
        &["internet"],
        &["10.0.0.20 is a private address", "public IP"],
    );
    // Its public IP, the ENI by name, and from the ENI itself all work.
    assert_reachable(&s.tcp("internet", "203.0.113.20", 80));
    assert_reachable(&s.tcp("internet", "vpc/web-1", 80));
    assert_reachable(&s.tcp("10.0.0.20", "internet", 80));
}

// AWS: public IPv4 addresses work as destinations from inside a VPC too (traffic
// leaves through the internet gateway and comes back in through the other's).
#[test]
fn public_ips_are_flow_endpoints() {
    let s = public();
    assert_reachable(&s.tcp("internet", "203.0.113.40", 80));
    let v = s.tcp("vpc/web-1", "203.0.113.40", 80);
    assert_reachable(&v);
    // From a private subnet, through the NAT gateway.
    assert_reachable(&s.tcp("vpc/app-1", "203.0.113.40", 80));
    // An ENI's public IP as the source is that ENI.
    assert_reachable(&s.tcp("203.0.113.20", "203.0.113.40", 80));
    assert_eq!(
        s.flow("203.0.113.20", "203.0.113.40", 6, 80).src,
        Endpoint::Eni(s.net.find_eni("vpc/web-1").expect("web-1"))
    );
    // The security group of the destination still applies.
    assert_blocked(
        &s.tcp("vpc/web-1", "203.0.113.40", 22),
        "security-group-ingress",
        Direction::Forward,
        &["other/web"],
        &[],
    );
}

// AWS: "NAT gateways" — a NAT gateway does not accept connections initiated from
// the internet: unsolicited inbound traffic to its Elastic IP is dropped.
#[test]
fn unsolicited_inbound_to_a_nat_gateways_elastic_ip_is_dropped() {
    let s = public();
    for v in [
        s.tcp("internet", "203.0.113.10", 80),
        s.tcp("vpc/web-1", "203.0.113.10", 80),
        s.tcp("other/o-1", "203.0.113.10", 80),
    ] {
        assert_blocked(
            &v,
            "nat-gateway",
            Direction::Forward,
            &["nat-a"],
            &["Elastic IP", "no connections"],
        );
    }
}

// AWS: a NAT gateway's private address is its own; it forwards, it does not serve.
#[test]
fn a_nat_gateways_private_address_accepts_no_connections() {
    let s = public();
    let nat_ip = s.net.enis[s.net.nat_gateways[0].eni.index()].private_ip;
    for from in ["vpc/web-2", "vpc/app-1"] {
        for v in [
            s.tcp(from, &nat_ip.to_string(), 80),
            s.udp(from, &nat_ip.to_string(), 53),
            s.icmp(from, &nat_ip.to_string(), 8, 0),
        ] {
            assert_blocked(
                &v,
                "nat-gateway",
                Direction::Forward,
                &["nat-a"],
                &["private address", "no connections"],
            );
        }
    }
}

// AWS: "NAT gateways" — a NAT gateway supports TCP, UDP and ICMP; other protocols
// are dropped.
#[test]
fn a_nat_gateway_translates_only_tcp_udp_and_icmp() {
    let s = public();
    let flow = |protocol| Flow {
        protocol,
        ..s.flow("vpc/app-1", "internet", 6, 443)
    };
    for protocol in [47, 50, 132, 253] {
        assert_blocked(
            &s.check(&flow(protocol)),
            "nat-gateway",
            Direction::Forward,
            &["nat-a"],
            &["only TCP, UDP and ICMP", &format!("{protocol}")],
        );
    }
    assert_reachable(&s.check(&flow(6)));
    assert_reachable(&s.check(&flow(17)));
    let mut echo = flow(1);
    echo.icmp = (8, 0);
    assert_reachable(&s.check(&echo));
    // The same protocol without a NAT gateway on the path passes (253, for
    // experiments: no conntrack helper in the kernel judges its payload).
    let direct = Flow {
        protocol: 253,
        ..s.flow("vpc/web-1", "internet", 6, 443)
    };
    assert_reachable(&s.check(&direct));
}
