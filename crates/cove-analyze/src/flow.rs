//! What is asked: a flow between two endpoints, and the packets it consists of.

use std::net::Ipv4Addr;

use cove_model::{EniId, LINUX_EPHEMERAL_PORTS, PortRange, Protocol};
use serde::Serialize;

/// One side of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Endpoint {
    /// An ENI of the network (addressed by its private IP).
    Eni(EniId),
    /// An address that belongs to no ENI: a host on the internet, or an unused address.
    External(Ipv4Addr),
}

/// A question: can `src` open a connection (or send a datagram) to `dst`?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Flow {
    /// Who sends the first packet.
    pub src: Endpoint,
    /// Who receives it.
    pub dst: Endpoint,
    /// IP protocol number (6 tcp, 17 udp, 1 icmp, …).
    pub protocol: u8,
    /// Destination port (TCP/UDP; ignored otherwise).
    pub port: u16,
    /// The client's source port; `None`: every port of the Linux ephemeral range
    /// [`LINUX_EPHEMERAL_PORTS`] must work for the return traffic, and every port a
    /// NAT gateway may pick ([`NAT_GATEWAY_PORTS`]). With a port, a NAT gateway is
    /// assumed to keep it (what Linux source NAT does when the port is free, and so
    /// what cove's data plane does).
    pub src_port: Option<u16>,
    /// ICMP type and code (ICMP only).
    pub icmp: (u8, u8),
}

/// Source ports a NAT gateway picks for translated connections (AWS: 1024–65535); the
/// replies come back to these ports, so network ACLs of the NAT gateway's subnet must
/// allow all of them.
pub const NAT_GATEWAY_PORTS: PortRange = PortRange {
    from: 1024,
    to: 65535,
};

/// One direction of traffic as rules see it: protocol, the destination ports that must
/// all be allowed, and the ICMP type/code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    /// IP protocol number.
    pub protocol: u8,
    /// Destination ports that must all pass (one port for a request; the client's
    /// whole source-port range for replies). Ignored for protocols without ports.
    pub ports: PortRange,
    /// ICMP type and code.
    pub icmp: (u8, u8),
}

impl Packet {
    /// Whether the protocol carries ports.
    pub fn has_ports(&self) -> bool {
        Protocol::from_number(self.protocol).has_ports()
    }
}

impl Flow {
    /// The request packet.
    pub fn request(&self) -> Packet {
        Packet {
            protocol: self.protocol,
            ports: PortRange::single(if self.has_ports() { self.port } else { 0 }),
            icmp: self.icmp,
        }
    }

    /// The reply packets, sent back to the client's source port(s); `None` when the
    /// protocol expects no reply (ICMP messages other than the query types).
    pub fn reply(&self) -> Option<Packet> {
        self.reply_to(self.client_ports())
    }

    /// The reply packets, addressed to `ports` (e.g. a NAT gateway's ports).
    pub fn reply_to(&self, ports: PortRange) -> Option<Packet> {
        let icmp = if self.protocol == Protocol::ICMP {
            (icmp_reply_type(self.icmp.0)?, 0)
        } else {
            (0, 0)
        };
        Some(Packet {
            protocol: self.protocol,
            ports: if self.has_ports() {
                ports
            } else {
                PortRange::single(0)
            },
            icmp,
        })
    }

    /// The ports a NAT gateway translates the client's source port to.
    pub fn nat_ports(&self) -> PortRange {
        self.src_port.map_or(NAT_GATEWAY_PORTS, PortRange::single)
    }

    /// The client's source ports.
    pub fn client_ports(&self) -> PortRange {
        self.src_port
            .map_or(LINUX_EPHEMERAL_PORTS, PortRange::single)
    }

    fn has_ports(&self) -> bool {
        Protocol::from_number(self.protocol).has_ports()
    }
}

/// The ICMP type of the reply to a query type (echo, timestamp, information, address
/// mask), `None` for message types that expect no reply.
pub fn icmp_reply_type(request: u8) -> Option<u8> {
    match request {
        8 => Some(0),
        13 => Some(14),
        15 => Some(16),
        17 => Some(18),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(protocol: u8, icmp: (u8, u8), src_port: Option<u16>) -> Flow {
        Flow {
            src: Endpoint::External(Ipv4Addr::LOCALHOST),
            dst: Endpoint::External(Ipv4Addr::LOCALHOST),
            protocol,
            port: 443,
            src_port,
            icmp,
        }
    }

    #[test]
    fn tcp_reply_goes_to_the_ephemeral_range() {
        let f = flow(6, (0, 0), None);
        assert_eq!(f.request().ports, PortRange::single(443));
        assert_eq!(f.reply().map(|p| p.ports), Some(LINUX_EPHEMERAL_PORTS));
        let f = flow(6, (0, 0), Some(40000));
        assert_eq!(f.reply().map(|p| p.ports), Some(PortRange::single(40000)));
    }

    #[test]
    fn icmp_echo_reply_and_one_way_messages() {
        assert_eq!(flow(1, (8, 0), None).reply().map(|p| p.icmp), Some((0, 0)));
        assert_eq!(flow(1, (3, 4), None).reply(), None);
        assert_eq!(flow(1, (8, 0), None).request().ports, PortRange::single(0));
    }
}
