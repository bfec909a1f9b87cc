//! Security-group and network-ACL evaluation: pure functions over the model.

use std::net::Ipv4Addr;

use cove_model::{
    EniId, NaclAction, NaclEntry, Network, PortRange, Protocol, SgId, SgPeer, SgRule, TrafficMatch,
};

use crate::flow::Packet;

/// The other side of a rule check: its address and, when it is an ENI sending from (or
/// receiving at) its private address, which ENI (for security-group references).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Party {
    /// The address on the packet.
    pub ip: Ipv4Addr,
    /// The ENI behind the address, when the address is that ENI's private IP.
    pub eni: Option<EniId>,
}

/// Inbound or outbound rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleDirection {
    /// Inbound rules (remote = source).
    Ingress,
    /// Outbound rules (remote = destination).
    Egress,
}

/// Whether a security-group rule's remote side matches `remote`. A group reference
/// matches the private addresses of the ENIs that carry the group.
pub fn sg_peer_matches(net: &Network, peer: &SgPeer, remote: Party) -> bool {
    match *peer {
        SgPeer::Cidr(c) => c.contains(&remote.ip),
        SgPeer::PrefixList(p) => net.prefix_lists[p.index()]
            .cidrs
            .iter()
            .any(|c| c.contains(&remote.ip)),
        SgPeer::Group(g) => remote.eni.is_some_and(|e| {
            let eni = &net.enis[e.index()];
            eni.private_ip == remote.ip && eni.security_groups.contains(&g)
        }),
    }
}

/// Whether `rule` lets the first packet of `pkt` pass.
pub fn sg_rule_matches(net: &Network, rule: &SgRule, remote: Party, pkt: &Packet) -> bool {
    rule.traffic.matches(pkt.protocol, pkt.ports.from, pkt.icmp)
        && sg_peer_matches(net, &rule.peer, remote)
}

/// The first rule (group, index in the group's list) of `groups` that allows the
/// connection; security groups allow the union of their rules, so any match suffices.
pub fn sg_allows(
    net: &Network,
    groups: &[SgId],
    direction: RuleDirection,
    remote: Party,
    pkt: &Packet,
) -> Option<(SgId, usize)> {
    for &g in groups {
        let sg = &net.security_groups[g.index()];
        let rules = match direction {
            RuleDirection::Ingress => &sg.ingress,
            RuleDirection::Egress => &sg.egress,
        };
        for (i, rule) in rules.iter().enumerate() {
            if sg_rule_matches(net, rule, remote, pkt) {
                return Some((g, i));
            }
        }
    }
    None
}

/// A network ACL's decision for every port of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NaclDecision {
    /// Every port is allowed; `rule` is the first allow entry that matched.
    Allow {
        /// Entry number.
        rule: u16,
    },
    /// Some port is denied: by entry `rule`, or by the final `*` entry when `None`.
    Deny {
        /// Entry number of the deny entry, `None` for the implicit `*` deny.
        rule: Option<u16>,
        /// The first denied ports.
        ports: PortRange,
    },
}

/// Whether an entry matches a packet's protocol, ICMP type/code and remote address
/// (ports aside).
fn entry_matches_except_ports(e: &NaclEntry, remote: Ipv4Addr, pkt: &Packet) -> bool {
    if !e.cidr.contains(&remote) || !e.traffic.protocol.matches(pkt.protocol) {
        return false;
    }
    if pkt.protocol == Protocol::ICMP && e.traffic.protocol == Protocol::Icmp {
        return e.traffic.matches(pkt.protocol, 0, pkt.icmp);
    }
    true
}

/// The ports of `e` that apply to `pkt` (every port when the entry or the protocol has
/// no port range).
fn entry_ports(t: &TrafficMatch, pkt: &Packet) -> PortRange {
    if pkt.has_ports() && t.protocol != Protocol::All {
        t.ports
    } else {
        PortRange::ALL
    }
}

/// Evaluates entries (sorted by rule number) first-match for every port in
/// `pkt.ports`: the packet passes only if each of its ports is allowed by the first
/// entry that matches it.
pub fn nacl_decide(entries: &[NaclEntry], remote: Ipv4Addr, pkt: &Packet) -> NaclDecision {
    let ports = if pkt.has_ports() {
        pkt.ports
    } else {
        PortRange::single(0)
    };
    if ports.from == ports.to {
        return nacl_decide_port(entries, remote, pkt, ports.from);
    }
    // Ports still undecided, as sorted disjoint ranges.
    let mut open: Vec<PortRange> = vec![ports];
    let mut first_allow = None;
    for e in entries {
        if open.is_empty() {
            break;
        }
        if !entry_matches_except_ports(e, remote, pkt) {
            continue;
        }
        let covered = entry_ports(&e.traffic, pkt);
        if e.action == NaclAction::Deny {
            if let Some(hit) = open.iter().find_map(|r| r.intersect(covered)) {
                return NaclDecision::Deny {
                    rule: Some(e.rule),
                    ports: hit,
                };
            }
            continue;
        }
        let mut next = Vec::with_capacity(open.len() + 1);
        let mut touched = false;
        for r in open.drain(..) {
            match r.intersect(covered) {
                None => next.push(r),
                Some(hit) => {
                    touched = true;
                    if hit.from > r.from {
                        next.push(PortRange {
                            from: r.from,
                            to: hit.from - 1,
                        });
                    }
                    if hit.to < r.to {
                        next.push(PortRange {
                            from: hit.to + 1,
                            to: r.to,
                        });
                    }
                }
            }
        }
        open = next;
        if touched && first_allow.is_none() {
            first_allow = Some(e.rule);
        }
    }
    match (open.first(), first_allow) {
        (Some(r), _) => NaclDecision::Deny {
            rule: None,
            ports: *r,
        },
        (None, Some(rule)) => NaclDecision::Allow { rule },
        // Unreachable in practice: an empty open set means some entry allowed ports.
        (None, None) => NaclDecision::Deny { rule: None, ports },
    }
}

fn nacl_decide_port(
    entries: &[NaclEntry],
    remote: Ipv4Addr,
    pkt: &Packet,
    port: u16,
) -> NaclDecision {
    for e in entries {
        if entry_matches_except_ports(e, remote, pkt) && entry_ports(&e.traffic, pkt).contains(port)
        {
            return match e.action {
                NaclAction::Allow => NaclDecision::Allow { rule: e.rule },
                NaclAction::Deny => NaclDecision::Deny {
                    rule: Some(e.rule),
                    ports: PortRange::single(port),
                },
            };
        }
    }
    NaclDecision::Deny {
        rule: None,
        ports: PortRange::single(port),
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
