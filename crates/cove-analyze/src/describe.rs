//! Words for explanations: packets, rules, route targets.

use std::net::Ipv4Addr;

use cove_model::{Network, PortRange, Protocol, RouteTarget, SgId, SgPeer};

use crate::flow::Packet;

/// `tcp/5432`, `tcp ports 32768-60999`, `icmp type 8 code 0`, `protocol 50`.
pub fn packet(pkt: &Packet) -> String {
    let p = Protocol::from_number(pkt.protocol);
    match p {
        Protocol::Tcp | Protocol::Udp if pkt.ports.from == pkt.ports.to => {
            format!("{p}/{}", pkt.ports.from)
        }
        Protocol::Tcp | Protocol::Udp => format!("{p} ports {}", pkt.ports),
        Protocol::Icmp => format!("icmp type {} code {}", pkt.icmp.0, pkt.icmp.1),
        _ => format!("protocol {}", pkt.protocol),
    }
}

/// Ports as words: `port 22` or `ports 1024-2047`.
pub fn ports(p: PortRange) -> String {
    if p.from == p.to {
        format!("port {}", p.from)
    } else {
        format!("ports {p}")
    }
}

/// The remote side of a security-group rule.
pub fn sg_peer(net: &Network, peer: &SgPeer) -> String {
    match peer {
        SgPeer::Cidr(c) => c.to_string(),
        SgPeer::Group(g) => format!("security group {}", net.sg_label(*g)),
        SgPeer::PrefixList(p) => format!("prefix list {}", net.prefix_list_label(*p)),
    }
}

/// The labels of several security groups, comma-separated.
pub fn groups(net: &Network, gs: &[SgId]) -> String {
    gs.iter()
        .map(|g| net.sg_label(*g))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A route target.
pub fn target(net: &Network, t: &RouteTarget) -> String {
    match t {
        RouteTarget::Local => "local".to_owned(),
        RouteTarget::Peering(p) => format!("peering {}", net.peering_label(*p)),
        RouteTarget::NatGateway(n) => format!("NAT gateway {}", net.nat_label(*n)),
        RouteTarget::InternetGateway(g) => format!("internet gateway {}", net.igw_label(*g)),
        RouteTarget::GatewayEndpoint(e) => format!("gateway endpoint {}", net.endpoint_label(*e)),
        RouteTarget::Blackhole => "blackhole".to_owned(),
        RouteTarget::Unmodeled(id) => format!("{id} (not modeled by cove)"),
    }
}

/// An address, with the ENI that has it when there is one.
pub fn address(net: &Network, ip: Ipv4Addr, eni: Option<cove_model::EniId>) -> String {
    match eni {
        Some(e) => format!("{ip} ({})", net.eni_label(e)),
        None => ip.to_string(),
    }
}
