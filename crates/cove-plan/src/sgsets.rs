//! Security-group rules as set elements: the CIDR rules of a group combination become
//! disjoint elements of two interval sets (so matching costs one lookup however many
//! rules there are, and changing a rule changes elements, not the ruleset).
//!
//! * `…_l4`: `ipv4_addr . inet_proto . inet_service` for TCP and UDP rules;
//! * `…_all`: `ipv4_addr` for rules of every protocol.
//!
//! nftables refuses overlapping elements, so overlapping rules are decomposed: the
//! address space is cut at every rule boundary, each piece gets the union of the
//! port ranges of the rules that cover it, and neighbouring pieces with the same
//! ports are merged. Elements are written the way `nft` prints them back (a prefix
//! where the range is one, a bare address for a single one, `a-b` otherwise), so
//! what is observed equals what was planned.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use cove_model::{Network, PortRange, Protocol, SgPeer, SgRule};
use ipnet::Ipv4Net;

/// Rules that stay rules (ICMP, other protocols, group references).
pub type StaticRules<'a> = Vec<&'a SgRule>;

/// The elements of the sets, and the rules that are not set-based.
#[derive(Debug, Default)]
pub struct SgSets<'a> {
    /// Elements of the `…_x` hash set: one address, one protocol, one port (the
    /// common allow-list rule; a hash lookup, and O(1) to add or remove).
    pub exact: BTreeSet<String>,
    /// Elements of the `…_l4` set.
    pub l4: BTreeSet<String>,
    /// Elements of the `…_all` set.
    pub all: BTreeSet<String>,
    /// Rules matched one by one.
    pub rules: StaticRules<'a>,
}

fn cidrs<'n>(net: &'n Network, peer: &'n SgPeer) -> Option<&'n [Ipv4Net]> {
    match peer {
        SgPeer::Cidr(c) => Some(std::slice::from_ref(c)),
        SgPeer::PrefixList(p) => Some(&net.prefix_lists[p.index()].cidrs),
        SgPeer::Group(_) => None,
    }
}

fn span(c: &Ipv4Net) -> (u64, u64) {
    (
        u64::from(u32::from(c.network())),
        u64::from(u32::from(c.broadcast())),
    )
}

/// An address range as `nft` prints it.
fn addr_text(lo: u64, hi: u64) -> String {
    let a = Ipv4Addr::from(u32::try_from(lo).unwrap_or(u32::MAX));
    if lo == hi {
        return a.to_string();
    }
    let size = hi - lo + 1;
    if size.is_power_of_two() && lo.is_multiple_of(size) {
        let len = 32 - size.trailing_zeros();
        return format!("{a}/{len}");
    }
    let b = Ipv4Addr::from(u32::try_from(hi).unwrap_or(u32::MAX));
    format!("{a}-{b}")
}

fn port_text(p: PortRange) -> String {
    if p.from == p.to {
        p.from.to_string()
    } else {
        format!("{}-{}", p.from, p.to)
    }
}

/// Sorted, merged, disjoint port ranges.
fn merge_ports(mut v: Vec<PortRange>) -> Vec<PortRange> {
    v.sort();
    let mut out: Vec<PortRange> = Vec::new();
    for r in v {
        match out.last_mut() {
            Some(last) if u32::from(r.from) <= u32::from(last.to) + 1 => {
                last.to = last.to.max(r.to);
            }
            _ => out.push(r),
        }
    }
    out
}

/// Address pieces `(lo, hi, payload)`: the space cut at every boundary of
/// `spans`, each piece carrying the merged payload of the spans that cover it,
/// neighbours with equal payload merged. Pieces no span covers are left out.
fn decompose(spans: &[(u64, u64, PortRange)]) -> Vec<(u64, u64, Vec<PortRange>)> {
    let mut cuts: BTreeSet<u64> = BTreeSet::new();
    for (lo, hi, _) in spans {
        cuts.insert(*lo);
        cuts.insert(hi + 1);
    }
    let cuts: Vec<u64> = cuts.into_iter().collect();
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by_key(|i| spans[*i].0);
    let mut next = 0;
    let mut active: Vec<usize> = Vec::new();
    let mut out: Vec<(u64, u64, Vec<PortRange>)> = Vec::new();
    for w in cuts.windows(2) {
        let (lo, hi) = (w[0], w[1] - 1);
        while next < order.len() && spans[order[next]].0 <= lo {
            active.push(order[next]);
            next += 1;
        }
        active.retain(|i| spans[*i].1 >= lo);
        if active.is_empty() {
            continue;
        }
        let ports = merge_ports(active.iter().map(|i| spans[*i].2).collect());
        match out.last_mut() {
            Some(last) if last.1 + 1 == lo && last.2 == ports => last.1 = hi,
            _ => out.push((lo, hi, ports)),
        }
    }
    out
}

/// Splits `rules` into set elements and rules that stay rules.
pub fn sg_sets<'a>(net: &'a Network, rules: &[&'a SgRule]) -> SgSets<'a> {
    let mut out = SgSets::default();
    let mut per_proto: [Vec<(u64, u64, PortRange)>; 2] = [Vec::new(), Vec::new()];
    let mut every: Vec<(u64, u64, PortRange)> = Vec::new();
    for r in rules {
        let Some(cs) = cidrs(net, &r.peer) else {
            out.rules.push(r);
            continue;
        };
        match r.traffic.protocol {
            Protocol::Tcp | Protocol::Udp => {
                let slot = usize::from(r.traffic.protocol == Protocol::Udp);
                let name = if slot == 0 { "tcp" } else { "udp" };
                for c in cs {
                    if c.prefix_len() == 32 && r.traffic.ports.from == r.traffic.ports.to {
                        out.exact.insert(format!(
                            "{} . {name} . {}",
                            c.addr(),
                            r.traffic.ports.from
                        ));
                        continue;
                    }
                    let (lo, hi) = span(c);
                    per_proto[slot].push((lo, hi, r.traffic.ports));
                }
            }
            Protocol::All => {
                for c in cs {
                    let (lo, hi) = span(c);
                    every.push((lo, hi, PortRange::ALL));
                }
            }
            Protocol::Icmp | Protocol::Other(_) => out.rules.push(r),
        }
    }
    for (slot, name) in [(0usize, "tcp"), (1, "udp")] {
        for (lo, hi, ports) in decompose(&per_proto[slot]) {
            for p in ports {
                out.l4
                    .insert(format!("{} . {name} . {}", addr_text(lo, hi), port_text(p)));
            }
        }
    }
    for (lo, hi, _) in decompose(&every) {
        out.all.insert(addr_text(lo, hi));
    }
    out
}

#[cfg(test)]
mod tests {
    use cove_model::{SgId, TrafficMatch};
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn addresses_print_like_nft() {
        assert_eq!(addr_text(0, u64::from(u32::MAX)), "0.0.0.0/0");
        assert_eq!(addr_text(0x0A00_0000, 0x0AFF_FFFF), "10.0.0.0/8");
        assert_eq!(addr_text(0x0A00_0005, 0x0A00_0005), "10.0.0.5");
        assert_eq!(addr_text(0x0A00_0000, 0x0A00_0009), "10.0.0.0-10.0.0.9");
    }

    fn rule(proto: Protocol, ports: PortRange, cidr: &str) -> SgRule {
        SgRule {
            traffic: TrafficMatch {
                protocol: proto,
                ports,
                icmp_type: None,
                icmp_code: None,
            },
            peer: SgPeer::Cidr(cidr.parse().expect("cidr")),
            index: 0,
        }
    }

    #[test]
    fn overlapping_rules_become_disjoint_elements() {
        let net = Network::default();
        let a = rule(Protocol::Tcp, PortRange::single(5432), "10.0.0.0/8");
        let b = rule(Protocol::Tcp, PortRange::single(5432), "10.0.0.5/32");
        let b2 = rule(Protocol::Tcp, PortRange { from: 22, to: 23 }, "10.9.0.5/32");
        let c = rule(
            Protocol::Tcp,
            PortRange {
                from: 5000,
                to: 6000,
            },
            "10.1.0.0/16",
        );
        let d = rule(Protocol::All, PortRange::ALL, "192.168.0.0/16");
        let e = rule(Protocol::All, PortRange::ALL, "192.168.1.0/24");
        let s = sg_sets(&net, &[&a, &b, &b2, &c, &d, &e]);
        // One address and one port: the hash set.
        assert_eq!(
            s.exact.iter().collect::<Vec<_>>(),
            vec!["10.0.0.5 . tcp . 5432"]
        );
        let l4: Vec<&str> = s.l4.iter().map(String::as_str).collect();
        assert_eq!(
            l4,
            vec![
                "10.0.0.0/16 . tcp . 5432",
                "10.1.0.0/16 . tcp . 5000-6000",
                "10.2.0.0-10.9.0.4 . tcp . 5432",
                "10.9.0.5 . tcp . 22-23",
                "10.9.0.5 . tcp . 5432",
                "10.9.0.6-10.255.255.255 . tcp . 5432",
            ]
        );
        assert_eq!(s.all.iter().collect::<Vec<_>>(), vec!["192.168.0.0/16"]);
        assert!(s.rules.is_empty());
        let _ = SgId(0);
    }

    fn arb_rule() -> impl Strategy<Value = (bool, u32, u8, u16, u16)> {
        (any::<bool>(), 0u32..64, 24u8..=32, 0u16..40, 0u16..10)
    }

    proptest! {
        /// The elements match exactly the (address, protocol, port) triples the
        /// rules allow, and never overlap.
        #[test]
        fn elements_equal_the_union_of_rules(rs in prop::collection::vec(arb_rule(), 1..8)) {
            let rules: Vec<SgRule> = rs.iter().map(|(udp, host, len, from, width)| {
                let addr = Ipv4Addr::from(0x0A00_0000 | (host << 2));
                let net = Ipv4Net::new(addr, *len).expect("len").trunc();
                rule(
                    if *udp { Protocol::Udp } else { Protocol::Tcp },
                    PortRange { from: *from, to: from + width },
                    &net.to_string(),
                )
            }).collect();
            let refs: Vec<&SgRule> = rules.iter().collect();
            let net = Network::default();
            let s = sg_sets(&net, &refs);
            // Parse elements back.
            let mut covered: Vec<(u32, u32, bool, u16, u16)> = Vec::new();
            let mut exact: Vec<(u32, u32, bool, u16, u16)> = Vec::new();
            for e in &s.l4 {
                let parts: Vec<&str> = e.split(" . ").collect();
                let (alo, ahi) = match parts[0].split_once('-') {
                    Some((a, b)) => (a.parse::<Ipv4Addr>().expect("a"), b.parse::<Ipv4Addr>().expect("b")),
                    None => {
                        let n: Ipv4Net = if parts[0].contains('/') { parts[0].parse().expect("net") } else { format!("{}/32", parts[0]).parse().expect("host") };
                        (n.network(), n.broadcast())
                    }
                };
                let (plo, phi) = match parts[2].split_once('-') {
                    Some((a, b)) => (a.parse::<u16>().expect("p"), b.parse::<u16>().expect("p")),
                    None => { let p = parts[2].parse::<u16>().expect("p"); (p, p) }
                };
                covered.push((u32::from(alo), u32::from(ahi), parts[1] == "udp", plo, phi));
            }
            for e in &s.exact {
                let parts: Vec<&str> = e.split(" . ").collect();
                let a = u32::from(parts[0].parse::<Ipv4Addr>().expect("a"));
                let p = parts[2].parse::<u16>().expect("p");
                exact.push((a, a, parts[1] == "udp", p, p));
            }
            // No two elements of the interval set overlap.
            for (i, a) in covered.iter().enumerate() {
                for b in &covered[i + 1..] {
                    let overlap = a.2 == b.2 && a.0 <= b.1 && b.0 <= a.1 && a.3 <= b.4 && b.3 <= a.4;
                    prop_assert!(!overlap, "{a:?} overlaps {b:?}");
                }
            }
            // Same coverage as the rules, probed at every boundary.
            let mut probes: BTreeSet<(u32, u16)> = BTreeSet::new();
            for r in &rules {
                if let SgPeer::Cidr(c) = r.peer {
                    for a in [u32::from(c.network()), u32::from(c.broadcast())] {
                        for p in [r.traffic.ports.from, r.traffic.ports.to, r.traffic.ports.to.saturating_add(1), r.traffic.ports.from.saturating_sub(1)] {
                            probes.insert((a, p));
                            probes.insert((a.saturating_add(1), p));
                        }
                    }
                }
            }
            for (a, p) in probes {
                for udp in [false, true] {
                    let by_rules = rules.iter().any(|r| {
                        let SgPeer::Cidr(c) = r.peer else { return false };
                        (r.traffic.protocol == Protocol::Udp) == udp
                            && c.contains(&Ipv4Addr::from(a))
                            && r.traffic.ports.contains(p)
                    });
                    let by_elems = covered.iter().chain(&exact).any(|e| e.2 == udp && e.0 <= a && a <= e.1 && e.3 <= p && p <= e.4);
                    prop_assert_eq!(by_rules, by_elems, "address {} port {} udp {}", Ipv4Addr::from(a), p, udp);
                }
            }
        }
    }
}
