//! Property tests: network-ACL first match against a per-port brute force, and
//! security-group allow-union against a brute force over every rule.

use std::net::Ipv4Addr;

use cove_model::{
    Eni, EniOwner, NaclAction, NaclEntry, Network, PortRange, Protocol, SecurityGroup, SgId,
    SgPeer, SgRule, SubnetId, TrafficMatch, VpcId,
};
use ipnet::Ipv4Net;
use proptest::prelude::*;

use super::*;
use crate::flow::Packet;

fn cidr() -> impl Strategy<Value = Ipv4Net> {
    (0u32..256, prop_oneof![Just(0u8), 8u8..=32u8]).prop_map(|(host, len)| {
        Ipv4Net::new(Ipv4Addr::from(0x0A00_0000 | (host << 8) | host), len)
            .expect("len <= 32")
            .trunc()
    })
}

fn address() -> impl Strategy<Value = Ipv4Addr> {
    (0u32..256, 0u32..256).prop_map(|(a, b)| Ipv4Addr::from(0x0A00_0000 | (a << 8) | b))
}

fn ports() -> impl Strategy<Value = PortRange> {
    (0u16..3000, 0u16..600).prop_map(|(from, len)| PortRange {
        from,
        to: from.saturating_add(len),
    })
}

fn traffic() -> impl Strategy<Value = TrafficMatch> {
    prop_oneof![
        Just(TrafficMatch::ALL),
        (
            prop_oneof![Just(Protocol::Tcp), Just(Protocol::Udp)],
            ports()
        )
            .prop_map(|(p, r)| {
                TrafficMatch {
                    protocol: p,
                    ports: r,
                    icmp_type: None,
                    icmp_code: None,
                }
            }),
        (prop::option::of(0u8..10), prop::option::of(0u8..2)).prop_map(|(t, c)| TrafficMatch {
            protocol: Protocol::Icmp,
            ports: PortRange::ALL,
            icmp_type: t,
            icmp_code: c,
        }),
        Just(TrafficMatch {
            protocol: Protocol::Other(50),
            ports: PortRange::ALL,
            icmp_type: None,
            icmp_code: None,
        }),
    ]
}

fn entries() -> impl Strategy<Value = Vec<NaclEntry>> {
    prop::collection::vec((traffic(), cidr(), any::<bool>()), 0..8).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (traffic, cidr, allow))| NaclEntry {
                rule: u16::try_from(10 * (i + 1)).expect("small"),
                action: if allow {
                    NaclAction::Allow
                } else {
                    NaclAction::Deny
                },
                traffic,
                cidr,
            })
            .collect()
    })
}

fn packet() -> impl Strategy<Value = Packet> {
    (
        prop_oneof![Just(6u8), Just(17u8), Just(1u8), Just(50u8)],
        ports(),
        (0u8..10, 0u8..2),
    )
        .prop_map(|(protocol, ports, icmp)| Packet {
            protocol,
            ports,
            icmp,
        })
}

/// Brute force: the first entry (by rule number) that matches a single port.
fn first_match<'a>(
    entries: &'a [NaclEntry],
    remote: Ipv4Addr,
    pkt: &Packet,
    port: u16,
) -> Option<&'a NaclEntry> {
    let mut sorted: Vec<&NaclEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| e.rule);
    sorted
        .into_iter()
        .find(|e| e.cidr.contains(&remote) && e.traffic.matches(pkt.protocol, port, pkt.icmp))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn nacl_matches_per_port_brute_force(entries in entries(), remote in address(), pkt in packet()) {
        let ports: Vec<u16> = if pkt.has_ports() {
            (pkt.ports.from..=pkt.ports.to).collect()
        } else {
            vec![0]
        };
        let denied: Vec<(u16, Option<u16>)> = ports
            .iter()
            .filter_map(|p| match first_match(&entries, remote, &pkt, *p) {
                Some(e) if e.action == NaclAction::Allow => None,
                Some(e) => Some((*p, Some(e.rule))),
                None => Some((*p, None)),
            })
            .collect();
        match nacl_decide(&entries, remote, &pkt) {
            NaclDecision::Allow { rule } => {
                prop_assert!(denied.is_empty(), "allowed, but brute force denies {:?}", denied);
                let e = entries.iter().find(|e| e.rule == rule).expect("reported entry exists");
                prop_assert_eq!(e.action, NaclAction::Allow);
            }
            NaclDecision::Deny { rule, ports: hit } => {
                prop_assert!(!denied.is_empty(), "denied by {:?}, but brute force allows every port", rule);
                // The reported entry really is the first match of the reported ports.
                let p = if pkt.has_ports() { hit.from } else { 0 };
                prop_assert!(denied.contains(&(p, rule)), "reported ({}, {:?}) not in {:?}", p, rule, denied);
            }
        }
    }
}

/// A network with three groups in one VPC and ENIs carrying random subsets of them.
fn sg_network(rules: Vec<Vec<(TrafficMatch, u8, Ipv4Net)>>, members: Vec<Vec<bool>>) -> Network {
    let mut net = Network::default();
    for (g, rs) in rules.into_iter().enumerate() {
        let ingress = rs
            .into_iter()
            .enumerate()
            .map(|(i, (traffic, kind, cidr))| SgRule {
                traffic,
                peer: match kind % 2 {
                    0 => SgPeer::Cidr(cidr),
                    _ => SgPeer::Group(SgId(u32::from(kind / 2 % 3))),
                },
                index: i,
            })
            .collect();
        net.security_groups.push(SecurityGroup {
            vpc: VpcId(0),
            name: format!("g{g}"),
            aws_id: None,
            is_default: false,
            ingress,
            egress: Vec::new(),
        });
    }
    for (i, m) in members.into_iter().enumerate() {
        net.enis.push(Eni {
            vpc: VpcId(0),
            subnet: SubnetId(0),
            name: format!("e{i}"),
            aws_id: None,
            instance: None,
            private_ip: Ipv4Addr::new(10, 0, 0, u8::try_from(i + 4).expect("small")),
            ip_assigned: false,
            security_groups: (0..3u32).filter(|g| m[*g as usize]).map(SgId).collect(),
            public_ip: None,
            owner: EniOwner::User,
        });
    }
    net
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn security_groups_allow_the_union_of_their_rules(
        rules in prop::collection::vec(prop::collection::vec((traffic(), 0u8..6, cidr()), 0..5), 3),
        members in prop::collection::vec(prop::collection::vec(any::<bool>(), 3), 4),
        groups in prop::collection::vec(0u32..3, 0..3),
        sender in 0usize..5,
        pkt in packet(),
    ) {
        let net = sg_network(rules, members);
        let groups: Vec<SgId> = groups.into_iter().map(SgId).collect();
        // Sender 4 is an address without an ENI.
        let remote = match net.enis.get(sender) {
            Some(e) => Party { ip: e.private_ip, eni: Some(EniId(u32::try_from(sender).expect("small"))) },
            None => Party { ip: Ipv4Addr::new(10, 0, 0, 200), eni: None },
        };
        let port = pkt.ports.from;
        let brute = groups.iter().any(|g| {
            net.security_groups[g.index()].ingress.iter().any(|r| {
                let traffic_ok = r.traffic.matches(pkt.protocol, port, pkt.icmp);
                let peer_ok = match r.peer {
                    SgPeer::Cidr(c) => c.contains(&remote.ip),
                    SgPeer::Group(g) => remote.eni.is_some_and(|e| net.enis[e.index()].security_groups.contains(&g)),
                    SgPeer::PrefixList(_) => false,
                };
                traffic_ok && peer_ok
            })
        });
        let got = sg_allows(&net, &groups, RuleDirection::Ingress, remote, &pkt);
        prop_assert_eq!(got.is_some(), brute);
        if let Some((g, i)) = got {
            prop_assert!(groups.contains(&g));
            prop_assert!(sg_rule_matches(&net, &net.security_groups[g.index()].ingress[i], remote, &pkt));
        }
    }
}
