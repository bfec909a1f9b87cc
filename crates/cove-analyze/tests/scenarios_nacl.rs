//! Network-ACL scenarios taken from the AWS VPC User Guide: the example custom network
//! ACL, rule order, ephemeral ports for return traffic, the default and empty ACLs,
//! subnet-internal traffic and stateless ICMP.

mod common;

use common::{Scenario, allowed_hop, assert_blocked, assert_reachable, has_step};
use cove_analyze::{Direction, Step};

/// A web server in a public subnet with the AWS example custom network ACL (IPv4
/// part); the home network is 192.0.2.0/24. Outbound rule 120 carries the responses
/// to clients, inbound rule 140 the responses to requests from the subnet.
const WEB: &str = r#"
tenants:
  - name: acme
    vpcs:
      - name: web
        cidr: 10.0.0.0/16
        internet_gateway: { name: igw }
        subnets:
          - { name: public, cidr: 10.0.0.0/24, az: us-east-1a, route_table: public, network_acl: web-acl }
        route_tables:
          - { name: public, routes: [{ destination: 0.0.0.0/0, internet_gateway: igw }] }
        security_groups:
          - name: web
            ingress:
              - { protocol: tcp, ports: 0-65535, cidr: 0.0.0.0/0 }
        network_acls:
          - name: web-acl
            ingress:
              EXTRA_INGRESS
              - { rule: 100, action: allow, protocol: tcp, ports: 80, cidr: 0.0.0.0/0 }
              - { rule: 110, action: allow, protocol: tcp, ports: 443, cidr: 0.0.0.0/0 }
              - { rule: 120, action: allow, protocol: tcp, ports: 22, cidr: 192.0.2.0/24 }
              - { rule: 130, action: allow, protocol: tcp, ports: 3389, cidr: 192.0.2.0/24 }
              - { rule: 140, action: allow, protocol: tcp, ports: 32768-65535, cidr: 0.0.0.0/0 }
            egress:
              - { rule: 100, action: allow, protocol: tcp, ports: 80, cidr: 0.0.0.0/0 }
              - { rule: 110, action: allow, protocol: tcp, ports: 443, cidr: 0.0.0.0/0 }
              - { rule: 120, action: allow, protocol: tcp, ports: 32768-65535, cidr: 0.0.0.0/0 }
        enis:
          - { name: web-1, subnet: public, private_ip: 10.0.0.10, public_ip: 203.0.113.10, security_groups: [web] }
"#;

fn web(extra_ingress: &str) -> Scenario {
    Scenario::new(&WEB.replace("EXTRA_INGRESS", extra_ingress))
}

// AWS: "Example custom network ACL" — inbound HTTP and HTTPS from anywhere (100, 110),
// responses out through the ephemeral-port rule.
// https://docs.aws.amazon.com/vpc/latest/userguide/custom-network-acl.html
#[test]
fn example_acl_lets_web_traffic_in_and_responses_out() {
    let s = web("");
    for (port, rule) in [(80, "entry 100"), (443, "entry 110")] {
        let v = s.tcp("internet", "web/web-1", port);
        assert_reachable(&v);
        let inbound = allowed_hop(&v, Step::NetworkAclIngress, Direction::Forward);
        assert!(inbound.detail.contains(rule), "{inbound:?}");
        assert!(inbound.component.contains("web/web-acl"), "{inbound:?}");
        let reply = allowed_hop(&v, Step::NetworkAclEgress, Direction::Return);
        assert!(reply.detail.contains("entry 120"), "{reply:?}");
    }
}

// AWS: "Example custom network ACL" — SSH (120) and RDP (130) only from the home
// network's range; from anywhere else the final `*` rule denies them.
// https://docs.aws.amazon.com/vpc/latest/userguide/custom-network-acl.html
#[test]
fn example_acl_ssh_and_rdp_only_from_the_home_network() {
    let s = web("");
    for (port, rule) in [(22, "entry 120"), (3389, "entry 130")] {
        let v = s.tcp("192.0.2.10", "web/web-1", port);
        assert_reachable(&v);
        let hop = allowed_hop(&v, Step::NetworkAclIngress, Direction::Forward);
        assert!(hop.detail.contains(rule), "{hop:?}");
        assert_blocked(
            &s.tcp("internet", "web/web-1", port),
            "network-acl-ingress",
            Direction::Forward,
            &["web/web-acl", "web/public"],
            &["`*`", &format!("tcp/{port}")],
        );
    }
}

// AWS: "Example custom network ACL" — a packet for a port no rule allows (the guide
// uses 139, NetBIOS) falls through to the `*` rule and is denied.
// https://docs.aws.amazon.com/vpc/latest/userguide/custom-network-acl.html
#[test]
fn example_acl_denies_unlisted_ports_with_the_star_rule() {
    let s = web("");
    assert_blocked(
        &s.tcp("internet", "web/web-1", 139),
        "network-acl-ingress",
        Direction::Forward,
        &["web/web-acl"],
        &["tcp/139", "`*`"],
    );
    // The subnet may only open HTTP and HTTPS connections itself.
    assert_blocked(
        &s.tcp("web/web-1", "internet", 25),
        "network-acl-egress",
        Direction::Forward,
        &["web/web-acl"],
        &["tcp/25", "`*`"],
    );
}

// AWS: "Example custom network ACL" — outbound HTTPS (110) from the subnet, with the
// responses let in by inbound rule 140 (ephemeral ports 32768-65535).
// https://docs.aws.amazon.com/vpc/latest/userguide/custom-network-acl.html
#[test]
fn example_acl_outbound_requests_come_back_on_rule_140() {
    let s = web("");
    let v = s.tcp("web/web-1", "internet", 443);
    assert_reachable(&v);
    assert!(
        allowed_hop(&v, Step::NetworkAclEgress, Direction::Forward)
            .detail
            .contains("entry 110")
    );
    assert!(
        allowed_hop(&v, Step::NetworkAclIngress, Direction::Return)
            .detail
            .contains("entry 140")
    );
    // A client on Windows Server 2003 (ports 1025-5000) would get no replies.
    assert_blocked(
        &s.tcp_from("web/web-1", "internet", 443, 1025),
        "network-acl-ingress",
        Direction::Return,
        &["web/web-acl"],
        &["1025", "`*`"],
    );
}

// AWS: "Network ACL rules" — rules are evaluated starting with the lowest numbered
// rule; as soon as a rule matches, it's applied regardless of any higher-numbered rule
// that might contradict it (a deny at 90 wins over the allow at 100; a deny at 150
// comes too late for port 80).
// https://docs.aws.amazon.com/vpc/latest/userguide/nacl-rules.html
#[test]
fn lowest_rule_number_wins() {
    let s = web(
        "- { rule: 150, action: deny, protocol: tcp, ports: 80, cidr: 203.0.113.0/24 }
              - { rule: 90, action: deny, protocol: all, cidr: 198.51.100.0/24 }",
    );
    assert_eq!(s.endpoint("internet"), s.endpoint("198.51.100.1"));
    assert_blocked(
        &s.tcp("198.51.100.1", "web/web-1", 80),
        "network-acl-ingress",
        Direction::Forward,
        &["web/web-acl"],
        &["entry 90 denies", "198.51.100.0/24"],
    );
    let v = s.tcp("203.0.113.77", "web/web-1", 80);
    assert_reachable(&v);
    assert!(
        allowed_hop(&v, Step::NetworkAclIngress, Direction::Forward)
            .detail
            .contains("entry 100")
    );
    // Rule 90 also drops the replies to the subnet's own requests.
    assert_blocked(
        &s.tcp("web/web-1", "198.51.100.1", 443),
        "network-acl-ingress",
        Direction::Return,
        &["web/web-acl"],
        &["entry 90"],
    );
}

/// Two subnets on the default ACL, a server subnet whose ACL answers only on
/// `REPLY_PORTS` and `REPLY_ICMP`, and a subnet whose custom ACL has no entries.
const TWO_SUBNETS: &str = r#"
tenants:
  - name: acme
    vpcs:
      - name: vpc
        cidr: 10.0.0.0/16
        subnets:
          - { name: clients, cidr: 10.0.1.0/24, az: us-east-1a }
          - { name: others, cidr: 10.0.4.0/24, az: us-east-1b }
          - { name: servers, cidr: 10.0.2.0/24, az: us-east-1a, network_acl: srv-acl }
          - { name: sealed, cidr: 10.0.3.0/24, az: us-east-1a, network_acl: empty }
        security_groups:
          - { name: open, ingress: [{ protocol: all, cidr: 10.0.0.0/16 }] }
        network_acls:
          - name: srv-acl
            ingress:
              - { rule: 100, action: allow, protocol: tcp, ports: 443, cidr: 10.0.0.0/16 }
              - { rule: 110, action: allow, protocol: icmp, icmp_type: 8, cidr: 10.0.0.0/16 }
            egress:
              - { rule: 100, action: allow, protocol: tcp, ports: REPLY_PORTS, cidr: 10.0.0.0/16 }
              - { rule: 110, action: allow, protocol: icmp, icmp_type: REPLY_ICMP, cidr: 10.0.0.0/16 }
          - name: empty
        enis:
          - { name: client-1, subnet: clients, security_groups: [open] }
          - { name: client-2, subnet: clients, security_groups: [open] }
          - { name: other-1, subnet: others, security_groups: [open] }
          - { name: srv-1, subnet: servers, security_groups: [open] }
          - { name: sealed-1, subnet: sealed, security_groups: [open] }
          - { name: sealed-2, subnet: sealed, security_groups: [open] }
"#;

fn two_subnets(reply_ports: &str, reply_icmp: &str) -> Scenario {
    Scenario::new(
        &TWO_SUBNETS
            .replace("REPLY_PORTS", reply_ports)
            .replace("REPLY_ICMP", reply_icmp),
    )
}

// AWS: "Ephemeral ports" — the ACL must allow return traffic to the client's
// ephemeral range; Linux kernels use 32768-60999, so an outbound rule for 1024-2047
// blocks the replies to Linux clients (but not to a client using port 1500).
// https://docs.aws.amazon.com/vpc/latest/userguide/nacl-ephemeral-ports.html
#[test]
fn replies_need_the_clients_ephemeral_range() {
    let s = two_subnets("1024-2047", "0");
    let v = s.tcp("vpc/client-1", "vpc/srv-1", 443);
    assert_blocked(
        &v,
        "network-acl-egress",
        Direction::Return,
        &["vpc/srv-acl", "vpc/servers"],
        &["32768-60999", "`*`"],
    );
    // The request itself was delivered: only the replies are dropped.
    allowed_hop(&v, Step::Delivery, Direction::Forward);
    let v = s.tcp_from("vpc/client-1", "vpc/srv-1", 443, 1500);
    assert_reachable(&v);
    assert!(
        allowed_hop(&v, Step::NetworkAclEgress, Direction::Return)
            .detail
            .contains("entry 100")
    );
    assert!(!s.tcp_from("vpc/client-1", "vpc/srv-1", 443, 2048).reachable);
    // Opening the Linux range fixes it.
    assert_reachable(&two_subnets("32768-60999", "0").tcp("vpc/client-1", "vpc/srv-1", 443));
}

// AWS: "Network ACLs" — network ACLs are stateless: responses to allowed inbound
// traffic are subject to the outbound rules. A ping needs the echo request (type 8)
// in and the echo reply (type 0) out.
// https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html
#[test]
fn ping_needs_echo_reply_allowed_outbound() {
    let ok = two_subnets("32768-60999", "0");
    let v = ok.icmp("vpc/client-1", "vpc/srv-1", 8, 0);
    assert_reachable(&v);
    assert!(
        allowed_hop(&v, Step::NetworkAclEgress, Direction::Return)
            .detail
            .contains("entry 110")
    );
    let bad = two_subnets("32768-60999", "8");
    assert_blocked(
        &bad.icmp("vpc/client-1", "vpc/srv-1", 8, 0),
        "network-acl-egress",
        Direction::Return,
        &["vpc/srv-acl"],
        &["icmp type 0", "`*`"],
    );
    // Another ICMP type is not let in at all.
    assert_blocked(
        &ok.icmp("vpc/client-1", "vpc/srv-1", 13, 0),
        "network-acl-ingress",
        Direction::Forward,
        &["vpc/srv-acl"],
        &["icmp type 13"],
    );
}

// AWS: "Network ACLs" — a network ACL controls traffic entering and leaving a subnet;
// it is not evaluated for traffic between two instances of the same subnet.
// https://docs.aws.amazon.com/vpc/latest/userguide/vpc-network-acls.html
#[test]
fn acl_does_not_apply_inside_one_subnet() {
    let s = two_subnets("32768-60999", "0");
    let v = s.tcp("vpc/sealed-1", "vpc/sealed-2", 5432);
    assert_reachable(&v);
    assert!(!has_step(&v, Step::NetworkAclEgress) && !has_step(&v, Step::NetworkAclIngress));
    assert!(
        allowed_hop(&v, Step::Delivery, Direction::Forward)
            .detail
            .contains("same subnet")
    );
    // The same ACL stops the same traffic at the subnet's edge.
    assert_blocked(
        &s.tcp("vpc/sealed-1", "vpc/client-1", 5432),
        "network-acl-egress",
        Direction::Forward,
        &["vpc/empty", "vpc/sealed"],
        &["`*`"],
    );
}

// AWS: "Default network ACL" — the default network ACL allows all inbound and
// outbound IPv4 traffic (rule 100), and subnets use it unless associated otherwise.
// https://docs.aws.amazon.com/vpc/latest/userguide/default-network-acl.html
#[test]
fn default_acl_allows_everything() {
    let s = two_subnets("32768-60999", "0");
    for v in [
        s.tcp("vpc/client-1", "vpc/other-1", 8080),
        s.udp("vpc/other-1", "vpc/client-1", 53),
        s.icmp("vpc/client-1", "vpc/other-1", 8, 0),
        s.check(&s.flow("vpc/other-1", "vpc/client-1", 50, 0)),
    ] {
        assert_reachable(&v);
        for (step, dir) in [
            (Step::NetworkAclEgress, Direction::Forward),
            (Step::NetworkAclIngress, Direction::Forward),
            (Step::NetworkAclEgress, Direction::Return),
            (Step::NetworkAclIngress, Direction::Return),
        ] {
            let hop = allowed_hop(&v, step, dir);
            assert!(
                hop.component.contains("vpc/default") && hop.detail.contains("entry 100"),
                "{hop:?}"
            );
        }
    }
}

// AWS: "Custom network ACLs" — each custom network ACL starts out closed: it denies
// all inbound and outbound traffic until you add rules.
// https://docs.aws.amazon.com/vpc/latest/userguide/custom-network-acl.html
#[test]
fn custom_acl_without_entries_denies_everything() {
    let s = two_subnets("32768-60999", "0");
    assert_blocked(
        &s.tcp("vpc/client-1", "vpc/sealed-1", 443),
        "network-acl-ingress",
        Direction::Forward,
        &["vpc/empty", "vpc/sealed"],
        &["`*`"],
    );
    assert_blocked(
        &s.icmp("vpc/client-1", "vpc/sealed-1", 8, 0),
        "network-acl-ingress",
        Direction::Forward,
        &["vpc/empty"],
        &["icmp type 8"],
    );
}
