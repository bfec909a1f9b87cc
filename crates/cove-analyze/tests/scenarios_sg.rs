//! Security-group scenarios taken from the AWS VPC User Guide: the default security
//! group, group references, statefulness, the union of several groups' rules and ICMP
//! type matching.

mod common;

use common::{Scenario, allowed_hop, assert_blocked, assert_reachable};
use cove_analyze::{Direction, Step};

/// One VPC with an internet gateway. `d-*` use the VPC's default group; the others
/// use custom groups.
const SGS: &str = r#"
tenants:
  - name: acme
    vpcs:
      - name: vpc
        cidr: 10.0.0.0/16
        internet_gateway: { name: igw }
        subnets:
          - { name: a, cidr: 10.0.1.0/24, az: us-east-1a }
          - { name: b, cidr: 10.0.2.0/24, az: us-east-1b }
        route_tables:
          - { name: rt, main: true, routes: [{ destination: 0.0.0.0/0, internet_gateway: igw }] }
        security_groups:
          - name: web
            ingress: [{ protocol: tcp, ports: 80, cidr: 0.0.0.0/0 }]
          - name: app
          - name: other
          - name: db
            ingress: [{ protocol: tcp, ports: 5432, security_group: app }]
          - name: srv
            ingress: [{ protocol: tcp, ports: 443, cidr: 10.0.0.0/16 }]
            egress: []
          - name: ssh
            ingress: [{ protocol: tcp, ports: 22, cidr: 10.0.0.0/16 }]
          - name: https
            ingress: [{ protocol: tcp, ports: 443, cidr: 10.0.0.0/16 }]
          - name: ping
            ingress: [{ protocol: icmp, icmp_type: 8, cidr: 10.0.0.0/16 }]
          - name: all-icmp
            ingress: [{ protocol: icmp, cidr: 10.0.0.0/16 }]
        enis:
          - { name: d-1, subnet: a, public_ip: 203.0.113.10 }
          - { name: d-2, subnet: b }
          - { name: web-1, subnet: a, security_groups: [web] }
          - { name: app-1, subnet: a, security_groups: [app] }
          - { name: app-2, subnet: b, security_groups: [other, app] }
          - { name: other-1, subnet: b, security_groups: [other] }
          - { name: db-1, subnet: b, security_groups: [db] }
          - { name: db-2, subnet: a, public_ip: 203.0.113.50, security_groups: [db] }
          - { name: app-3, subnet: a, public_ip: 203.0.113.60, security_groups: [app] }
          - { name: srv-1, subnet: b, security_groups: [srv] }
          - { name: bastion-1, subnet: b, security_groups: [ssh, https] }
          - { name: ping-1, subnet: b, security_groups: [ping] }
          - { name: icmp-1, subnet: b, security_groups: [all-icmp] }
"#;

// AWS: "Default security groups for your VPCs" — the default group allows inbound
// traffic from resources assigned to the same group, for all protocols and ports.
// https://docs.aws.amazon.com/vpc/latest/userguide/default-security-group.html
#[test]
fn default_group_members_reach_each_other() {
    let s = Scenario::new(SGS);
    assert_reachable(&s.tcp("vpc/d-1", "vpc/d-2", 5432));
    assert_reachable(&s.udp("vpc/d-2", "vpc/d-1", 53));
    let v = s.icmp("vpc/d-1", "vpc/d-2", 8, 0);
    assert_reachable(&v);
    let hop = allowed_hop(&v, Step::SecurityGroupIngress, Direction::Forward);
    assert!(hop.component.contains("vpc/default"), "{hop:?}");
    assert!(
        hop.detail.contains("security group acme/vpc/default"),
        "{hop:?}"
    );
}

// AWS: "Default security groups for your VPCs" — traffic from resources that are not
// in the default group is not allowed in.
// https://docs.aws.amazon.com/vpc/latest/userguide/default-security-group.html
#[test]
fn non_members_cannot_reach_default_group_members() {
    let s = Scenario::new(SGS);
    assert_blocked(
        &s.tcp("vpc/web-1", "vpc/d-1", 5432),
        "security-group-ingress",
        Direction::Forward,
        &["acme/vpc/default"],
        &["tcp/5432", "web-1"],
    );
    assert_blocked(
        &s.tcp("internet", "vpc/d-1", 80),
        "security-group-ingress",
        Direction::Forward,
        &["acme/vpc/default"],
        &["tcp/80"],
    );
}

// AWS: "Default security groups for your VPCs" — the default group allows all
// outbound traffic.
// https://docs.aws.amazon.com/vpc/latest/userguide/default-security-group.html
#[test]
fn default_group_allows_all_outbound() {
    let s = Scenario::new(SGS);
    for v in [
        s.tcp("vpc/d-1", "internet", 443),
        s.udp("vpc/d-1", "internet", 123),
        s.tcp("vpc/d-1", "vpc/web-1", 80),
    ] {
        assert_reachable(&v);
        let out = allowed_hop(&v, Step::SecurityGroupEgress, Direction::Forward);
        assert!(out.detail.contains("0.0.0.0/0"), "{out:?}");
    }
}

// AWS: "Security group rules" — a rule's source can be another security group; it
// allows traffic from the network interfaces associated with that group (and only
// from their private addresses).
// https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html
#[test]
fn rule_referencing_a_group_admits_only_its_members() {
    let s = Scenario::new(SGS);
    let v = s.tcp("vpc/app-1", "vpc/db-1", 5432);
    assert_reachable(&v);
    assert!(
        allowed_hop(&v, Step::SecurityGroupIngress, Direction::Forward)
            .detail
            .contains("security group acme/vpc/app"),
        "{v:#?}"
    );
    // A member through a second group counts too.
    assert_reachable(&s.tcp("vpc/app-2", "vpc/db-1", 5432));
    assert_blocked(
        &s.tcp("vpc/other-1", "vpc/db-1", 5432),
        "security-group-ingress",
        Direction::Forward,
        &["acme/vpc/db"],
        &["tcp/5432", "other-1"],
    );
    // Only the referenced port.
    assert_blocked(
        &s.tcp("vpc/app-1", "vpc/db-1", 22),
        "security-group-ingress",
        Direction::Forward,
        &["acme/vpc/db"],
        &["tcp/22"],
    );
}

// AWS: "Security group rules" — a group reference admits traffic based on the private
// IP addresses of the group's members, not their public or Elastic IP addresses: a
// member that goes out through the internet gateway and back in is not matched.
// https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html
#[test]
fn group_reference_does_not_match_public_addresses() {
    let s = Scenario::new(SGS);
    assert_reachable(&s.tcp("vpc/app-3", "vpc/db-2", 5432));
    let v = s.tcp("vpc/app-3", "203.0.113.50", 5432);
    assert_blocked(
        &v,
        "security-group-ingress",
        Direction::Forward,
        &["acme/vpc/db"],
        &["203.0.113.60"],
    );
    // It did leave through the internet gateway with its public address.
    assert!(
        allowed_hop(&v, Step::InternetGateway, Direction::Forward)
            .detail
            .contains("203.0.113.60"),
        "{v:#?}"
    );
}

// AWS: "Control traffic to your AWS resources using security groups" — security groups
// are stateful: responses to allowed inbound traffic may flow out regardless of the
// outbound rules (here there are none).
// https://docs.aws.amazon.com/vpc/latest/userguide/vpc-security-groups.html
#[test]
fn stateful_replies_need_no_outbound_rule() {
    let s = Scenario::new(SGS);
    let v = s.tcp("vpc/d-1", "vpc/srv-1", 443);
    assert_reachable(&v);
    assert!(!v.ret.iter().any(|h| h.step == Step::SecurityGroupEgress));
    // But srv-1 cannot open connections of its own.
    assert_blocked(
        &s.tcp("vpc/srv-1", "vpc/web-1", 80),
        "security-group-egress",
        Direction::Forward,
        &["acme/vpc/srv"],
        &["tcp/80"],
    );
}

// AWS: "Control traffic to your AWS resources using security groups" — when several
// groups are associated with an interface, their rules are aggregated into one set of
// rules that allows the union.
// https://docs.aws.amazon.com/vpc/latest/userguide/vpc-security-groups.html
#[test]
fn several_groups_allow_the_union_of_their_rules() {
    let s = Scenario::new(SGS);
    let v = s.tcp("vpc/app-1", "vpc/bastion-1", 22);
    assert_reachable(&v);
    assert!(
        allowed_hop(&v, Step::SecurityGroupIngress, Direction::Forward)
            .detail
            .contains("acme/vpc/ssh")
    );
    let v = s.tcp("vpc/app-1", "vpc/bastion-1", 443);
    assert_reachable(&v);
    assert!(
        allowed_hop(&v, Step::SecurityGroupIngress, Direction::Forward)
            .detail
            .contains("acme/vpc/https")
    );
    assert_blocked(
        &s.tcp("vpc/app-1", "vpc/bastion-1", 8080),
        "security-group-ingress",
        Direction::Forward,
        &["acme/vpc/ssh", "acme/vpc/https"],
        &["tcp/8080"],
    );
}

// AWS: "Security group rules for different use cases" — ping: allow ICMP echo request
// (type 8); a rule for one ICMP type does not admit the others, a rule for all ICMP
// does.
// https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules-reference.html
#[test]
fn icmp_rules_match_the_type() {
    let s = Scenario::new(SGS);
    let v = s.icmp("vpc/app-1", "vpc/ping-1", 8, 0);
    assert_reachable(&v);
    assert!(
        allowed_hop(&v, Step::SecurityGroupIngress, Direction::Forward)
            .detail
            .contains("acme/vpc/ping")
    );
    for (t, c) in [(13, 0), (3, 4)] {
        assert_blocked(
            &s.icmp("vpc/app-1", "vpc/ping-1", t, c),
            "security-group-ingress",
            Direction::Forward,
            &["acme/vpc/ping"],
            &[&format!("icmp type {t} code {c}")],
        );
        assert_reachable(&s.icmp("vpc/app-1", "vpc/icmp-1", t, c));
    }
    // A TCP flow is not ICMP.
    assert_blocked(
        &s.tcp("vpc/app-1", "vpc/ping-1", 8),
        "security-group-ingress",
        Direction::Forward,
        &["acme/vpc/ping"],
        &["tcp/8"],
    );
}
