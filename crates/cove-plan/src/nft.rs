//! nftables rulesets, as `nft -f` text in one table (`inet cove`) per namespace.
//!
//! Only cove's own data reaches the text: interface names cove generated, addresses,
//! ports and protocol numbers. No user-written name or description is spliced in.
//!
//! Router table of a VPC, in packet order:
//! * `from_links` (prerouting, raw): each ENI link may only send from its ENI's MAC
//!   and private IP (forged sources are dropped before conntrack sees them);
//! * `public_in` / `public_out` (nat): the internet gateway's 1:1 NAT of public IPs;
//! * `filter_forward`: IPv6 dropped; from a peering link only to this VPC's blocks
//!   (no transit, no edge-to-edge); to the internet gateway only from an address that
//!   has a public IP; then the **network ACLs** (stateless, every packet, skipped
//!   between two links of one subnet), then `ct state established,related accept`
//!   (security groups are stateful), then the **security groups** of the sending ENI
//!   (egress) and of the receiving ENI (ingress);
//! * `filter_input`: nothing may reach the router itself.
//!
//! The generation (a hash of the text) is the table's comment (`gen:<hash>`), so the
//! executor can read it back without parsing rules.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use cove_model::{
    EniOwner, NaclAction, NaclEntry, Network, Protocol, SgId, SgPeer, SgRule, TrafficMatch, VpcId,
};
use sha2::{Digest, Sha256};

use crate::names::Names;
use crate::state::NftTable;

/// The table name cove owns in every namespace.
pub const TABLE: &str = "cove";

fn finish(body: &str) -> NftTable {
    let digest = Sha256::digest(body.as_bytes());
    let generation: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let text = format!("table inet {TABLE} {{\n\tcomment \"gen:{generation}\"\n{body}}}\n");
    NftTable {
        name: TABLE.to_owned(),
        generation,
        text,
    }
}

/// The NAT gateway's table: source-translate everything it forwards to its own
/// address (ports 1024–65535, like AWS), accept nothing addressed to itself.
pub fn nat_gateway_table(ip: Ipv4Addr) -> NftTable {
    let body = format!(
        "\tchain translate {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\
         \t\toifname \"eth0\" ip saddr != {ip} meta l4proto {{ tcp, udp }} snat ip to {ip}:1024-65535\n\
         \t\toifname \"eth0\" ip saddr != {ip} snat ip to {ip}\n\t}}\n\
         \tchain filter_input {{\n\t\ttype filter hook input priority filter; policy drop;\n\
         \t\tct state established,related accept\n\t}}\n"
    );
    finish(&body)
}

/// `meta l4proto tcp th dport 80-90 ` and friends, for a rule's traffic match.
fn traffic(t: &TrafficMatch) -> String {
    match t.protocol {
        Protocol::All => String::new(),
        Protocol::Tcp | Protocol::Udp => {
            let p = t.protocol;
            if t.ports == cove_model::PortRange::ALL {
                format!("meta l4proto {p} ")
            } else if t.ports.from == t.ports.to {
                format!("meta l4proto {p} th dport {} ", t.ports.from)
            } else {
                format!("meta l4proto {p} th dport {}-{} ", t.ports.from, t.ports.to)
            }
        }
        Protocol::Icmp => {
            let mut s = "meta l4proto icmp ".to_owned();
            if let Some(ty) = t.icmp_type {
                let _ = write!(s, "icmp type {ty} ");
            }
            if let Some(code) = t.icmp_code {
                let _ = write!(s, "icmp code {code} ");
            }
            s
        }
        Protocol::Other(n) => format!("meta l4proto {n} "),
    }
}

fn nacl_chain(out: &mut String, name: &str, entries: &[NaclEntry], remote: &str) {
    let _ = writeln!(out, "\tchain {name} {{");
    for e in entries {
        let verdict = match e.action {
            NaclAction::Allow => "return",
            NaclAction::Deny => "drop",
        };
        let _ = writeln!(
            out,
            "\t\tip {remote} {} {}{verdict}",
            e.cidr,
            traffic(&e.traffic)
        );
    }
    let _ = writeln!(out, "\t\tdrop\n\t}}");
}

/// Addresses a security-group rule's peer stands for: CIDRs as written, a group as
/// the private IPs of its members, a prefix list as its CIDRs.
fn peer_sets(net: &Network, peer: &SgPeer) -> Vec<String> {
    match peer {
        SgPeer::Cidr(c) => vec![c.to_string()],
        SgPeer::PrefixList(p) => net.prefix_lists[p.index()]
            .cidrs
            .iter()
            .map(ToString::to_string)
            .collect(),
        SgPeer::Group(g) => {
            let members: BTreeSet<Ipv4Addr> = net
                .enis
                .iter()
                .filter(|e| e.security_groups.contains(g))
                .map(|e| e.private_ip)
                .collect();
            if members.is_empty() {
                Vec::new()
            } else {
                let list: Vec<String> = members.iter().map(ToString::to_string).collect();
                vec![format!("{{ {} }}", list.join(", "))]
            }
        }
    }
}

fn sg_chain(out: &mut String, net: &Network, name: &str, rules: &[&SgRule], remote: &str) {
    let _ = writeln!(out, "\tchain {name} {{");
    for r in rules {
        for set in peer_sets(net, &r.peer) {
            let _ = writeln!(out, "\t\tip {remote} {set} {}return", traffic(&r.traffic));
        }
    }
    let _ = writeln!(out, "\t\tdrop\n\t}}");
}

/// The router table of VPC `v`.
pub fn router_table(net: &Network, names: &Names<'_>, v: VpcId) -> NftTable {
    let vpc = &net.vpcs[v.index()];
    let mut out = String::new();
    // Links per subnet.
    for (i, s) in vpc.subnets.iter().enumerate() {
        let links: Vec<String> = vpc
            .enis
            .iter()
            .filter(|e| net.enis[e.index()].subnet == *s)
            .map(|e| format!("\"{}\"", names.eni_router_link(*e)))
            .collect();
        if links.is_empty() {
            let _ = writeln!(out, "\tset subnet_{i} {{ type ifname; }}");
        } else {
            let _ = writeln!(
                out,
                "\tset subnet_{i} {{ type ifname; elements = {{ {} }} }}",
                links.join(", ")
            );
        }
    }
    // Anti-spoofing.
    let _ = writeln!(
        out,
        "\tchain from_links {{\n\t\ttype filter hook prerouting priority raw; policy accept;"
    );
    for e in &vpc.enis {
        let eni = &net.enis[e.index()];
        let link = names.eni_router_link(*e);
        let mac = crate::desired::eni_mac_text(net, *e);
        let _ = writeln!(out, "\t\tiifname \"{link}\" ether saddr != {mac} drop");
        // A NAT gateway forwards replies with other sources (source/destination
        // check disabled, as on AWS); every other ENI sends only from its own IP.
        if !matches!(eni.owner, EniOwner::NatGateway(_)) {
            let _ = writeln!(
                out,
                "\t\tiifname \"{link}\" ip saddr != {} drop",
                eni.private_ip
            );
        }
    }
    let _ = writeln!(out, "\t}}");
    // Internet gateway: 1:1 NAT of public IPs (a NAT gateway uses its first one).
    let mut public: BTreeMap<Ipv4Addr, Ipv4Addr> = BTreeMap::new();
    for e in &vpc.enis {
        let eni = &net.enis[e.index()];
        if let Some(p) = eni.public_ip {
            public.entry(p).or_insert(eni.private_ip);
        }
        if let EniOwner::NatGateway(n) = eni.owner {
            if let Some(p) = net.nat_gateways[n.index()].public_ips.first() {
                public.entry(*p).or_insert(eni.private_ip);
            }
        }
    }
    let has_igw = vpc.internet_gateway.is_some();
    if has_igw && !public.is_empty() {
        let dnat: Vec<String> = public.iter().map(|(p, i)| format!("{p} : {i}")).collect();
        let mut by_private: BTreeMap<Ipv4Addr, Ipv4Addr> = BTreeMap::new();
        for (p, i) in &public {
            by_private.entry(*i).or_insert(*p);
        }
        let snat: Vec<String> = by_private
            .iter()
            .map(|(i, p)| format!("{i} : {p}"))
            .collect();
        let _ = writeln!(
            out,
            "\tchain public_in {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\
             \t\tiifname \"igw0\" dnat ip to ip daddr map {{ {} }}\n\t}}",
            dnat.join(", ")
        );
        let _ = writeln!(
            out,
            "\tchain public_out {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\
             \t\toifname \"igw0\" snat ip to ip saddr map {{ {} }}\n\t}}",
            snat.join(", ")
        );
    }
    // Forwarding filter.
    let _ = writeln!(
        out,
        "\tchain filter_forward {{\n\t\ttype filter hook forward priority filter; policy drop;\n\t\tmeta nfproto ipv6 drop"
    );
    let peer_links: BTreeSet<String> = net
        .peerings
        .iter()
        .enumerate()
        .filter(|(_, p)| p.status == cove_model::PeeringStatus::Active)
        .filter_map(|(i, p)| {
            let id = cove_model::PeeringId(cove_model::lookup::index_u32(i));
            if p.requester == v {
                Some(names.peering_link_requester(id))
            } else if p.accepter == v {
                Some(names.peering_link_accepter(id))
            } else {
                None
            }
        })
        .collect();
    let blocks: Vec<String> = vpc.cidrs.iter().map(ToString::to_string).collect();
    for l in &peer_links {
        let _ = writeln!(
            out,
            "\t\tiifname \"{l}\" ip daddr != {{ {} }} drop",
            blocks.join(", ")
        );
    }
    if has_igw {
        if public.is_empty() {
            let _ = writeln!(out, "\t\toifname \"igw0\" drop");
        } else {
            let privs: BTreeSet<String> = public.values().map(ToString::to_string).collect();
            let privs: Vec<String> = privs.into_iter().collect();
            let _ = writeln!(
                out,
                "\t\toifname \"igw0\" ip saddr != {{ {} }} drop",
                privs.join(", ")
            );
        }
    }
    let _ = writeln!(
        out,
        "\t\tjump nacl\n\t\tct state established,related accept\n\t\tct state invalid drop\n\t\tjump sg\n\t\taccept\n\t}}"
    );
    // Network ACLs.
    let _ = writeln!(out, "\tchain nacl {{");
    for i in 0..vpc.subnets.len() {
        let _ = writeln!(out, "\t\tiifname @subnet_{i} oifname @subnet_{i} return");
    }
    for i in 0..vpc.subnets.len() {
        let _ = writeln!(out, "\t\tiifname @subnet_{i} jump nacl_out_{i}");
    }
    for i in 0..vpc.subnets.len() {
        let _ = writeln!(out, "\t\toifname @subnet_{i} jump nacl_in_{i}");
    }
    let _ = writeln!(out, "\t}}");
    for (i, s) in vpc.subnets.iter().enumerate() {
        let acl = &net.network_acls[net.subnets[s.index()].network_acl.index()];
        nacl_chain(&mut out, &format!("nacl_out_{i}"), &acl.egress, "daddr");
        nacl_chain(&mut out, &format!("nacl_in_{i}"), &acl.ingress, "saddr");
    }
    // Security groups.
    let mut sg_rules = String::new();
    let _ = writeln!(out, "\tchain sg {{");
    for (k, e) in vpc.enis.iter().enumerate() {
        let eni = &net.enis[e.index()];
        if eni.security_groups.is_empty() {
            continue;
        }
        let link = names.eni_router_link(*e);
        let _ = writeln!(out, "\t\tiifname \"{link}\" jump sg_out_{k}");
        let _ = writeln!(out, "\t\toifname \"{link}\" jump sg_in_{k}");
        let groups: Vec<SgId> = eni.security_groups.clone();
        let egress: Vec<&SgRule> = groups
            .iter()
            .flat_map(|g| net.security_groups[g.index()].egress.iter())
            .collect();
        let ingress: Vec<&SgRule> = groups
            .iter()
            .flat_map(|g| net.security_groups[g.index()].ingress.iter())
            .collect();
        sg_chain(&mut sg_rules, net, &format!("sg_out_{k}"), &egress, "daddr");
        sg_chain(&mut sg_rules, net, &format!("sg_in_{k}"), &ingress, "saddr");
    }
    let _ = writeln!(out, "\t}}");
    out.push_str(&sg_rules);
    let _ = writeln!(
        out,
        "\tchain filter_input {{\n\t\ttype filter hook input priority filter; policy drop;\n\t}}"
    );
    finish(&out)
}
