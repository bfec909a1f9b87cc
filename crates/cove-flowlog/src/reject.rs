//! Refused packets (REJECT records): the host router hands each packet it
//! refuses at a network ACL or the security groups to NFLOG, with a code naming
//! the component in its mark ([`cove_plan::reject`]). Here a logged packet
//! becomes what the refusing interface saw — the sender's for an outbound
//! refusal, the receiver's for an inbound one — and the component becomes the
//! record's `cove-rule`, in the words `cove check` uses for the hop it blocks at.

use std::net::{Ipv4Addr, SocketAddrV4};

use cove_analyze::Step;
use cove_analyze::labels::Labels;
use cove_model::Network;
use cove_plan::reject::{RejectCodes, Rejection};

use crate::ct::Counts;
use crate::directory::{Connection, Direction, Directory, PathKind, Seen};
use crate::explain::Explanation;

/// A packet the router refused, as NFLOG handed it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The packet's mark: the refusal's code.
    pub mark: u32,
    /// The link it came in on (the router's end of the sender's link).
    pub in_link: Option<String>,
    /// The link it was to leave on.
    pub out_link: Option<String>,
    /// The IP header's fields.
    pub packet: PacketHeader,
    /// When it was read (Unix s).
    pub time_s: u64,
}

/// What flow logs keep of a packet's headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketHeader {
    /// IP protocol.
    pub proto: u8,
    /// Source (port 0 where the protocol has none).
    pub src: SocketAddrV4,
    /// Destination.
    pub dst: SocketAddrV4,
    /// The IP total length.
    pub bytes: u64,
    /// TCP flags (0 for other protocols).
    pub tcp_flags: u8,
}

/// The headers of an IPv4 packet's first bytes (`None`: not IPv4, or cut too
/// short to hold the IP header).
pub fn parse_ipv4(b: &[u8]) -> Option<PacketHeader> {
    let first = *b.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    if ihl < 20 || b.len() < 20 {
        return None;
    }
    let total = u16::from_be_bytes([b[2], b[3]]);
    let proto = b[9];
    let src = Ipv4Addr::new(b[12], b[13], b[14], b[15]);
    let dst = Ipv4Addr::new(b[16], b[17], b[18], b[19]);
    // Ports of the first fragment only (a later fragment has none).
    let first_fragment = u16::from_be_bytes([b[6], b[7]]) & 0x1fff == 0;
    let l4 = b.get(ihl..).filter(|_| first_fragment).unwrap_or_default();
    let (sport, dport) = match (proto, l4) {
        (6 | 17, [a, b, c, d, ..]) => (u16::from_be_bytes([*a, *b]), u16::from_be_bytes([*c, *d])),
        _ => (0, 0),
    };
    let tcp_flags = match proto {
        6 => l4.get(13).copied().unwrap_or(0) & 0x3f,
        _ => 0,
    };
    Some(PacketHeader {
        proto,
        src: SocketAddrV4::new(src, sport),
        dst: SocketAddrV4::new(dst, dport),
        bytes: u64::from(total),
        tcp_flags,
    })
}

impl Directory {
    /// What the refusing interface saw of `r`, and what refused it; `None` when
    /// the mark is no code of this network, or the refusing side's link is no
    /// interface of it (a gateway's).
    pub fn refused(&self, codes: &RejectCodes, r: &Refused) -> Option<(Seen, Rejection)> {
        let rejection = codes.decode(r.mark)?;
        let sender = r.in_link.as_deref().and_then(|l| self.link(l));
        let receiver = r.out_link.as_deref().and_then(|l| self.link(l));
        let (at, other, direction) = if rejection.egress() {
            (sender?, receiver, Direction::Egress)
        } else {
            (receiver?, sender, Direction::Ingress)
        };
        // Refused traffic is not metered; the kind says where it was going.
        let path = match other {
            Some(o) if o.endpoint => PathKind::Endpoint,
            Some(o) if self.vpc_of(o.eni) == self.vpc_of(at.eni) => PathKind::IntraVpc,
            Some(_) => PathKind::Peering,
            None => PathKind::InternetGateway,
        };
        let p = r.packet;
        let seen = Seen {
            eni: at.eni,
            function: at.function,
            direction,
            proto: p.proto,
            src: p.src,
            dst: p.dst,
            pkt_src: *p.src.ip(),
            pkt_dst: *p.dst.ip(),
            nat_src: None,
            nat_dst: None,
            counts: Counts {
                packets: 1,
                bytes: p.bytes,
            },
            tcp_flags: p.tcp_flags,
            traffic_path: None,
            started_ms: Some(r.time_s * 1000),
            environment: at.environment,
            invocation: None,
            path,
            connection: Connection {
                initiator: sender.map(|s| s.eni),
                responder: receiver.map(|s| s.eni),
                orig: (p.src, p.dst),
            },
            reply: false,
        };
        Some((seen, rejection))
    }
}

/// The analyzer's step for a refusal.
pub fn step(rejection: &Rejection) -> Step {
    match rejection {
        Rejection::NetworkAcl { egress: true, .. } => Step::NetworkAclEgress,
        Rejection::NetworkAcl { egress: false, .. } => Step::NetworkAclIngress,
        Rejection::SecurityGroups { egress: true } => Step::SecurityGroupEgress,
        Rejection::SecurityGroups { egress: false } => Step::SecurityGroupIngress,
    }
}

/// The record's `cove-rule` and `cove-reason` for a refusal seen at `seen`'s
/// interface: `step: component — detail`, the component named as `cove check`
/// names it (the interface's subnet's ACL, or the interface's security groups).
pub fn refused_by(
    net: &Network,
    labels: &Labels,
    seen: &Seen,
    rejection: &Rejection,
) -> Explanation {
    let eni = &net.enis[seen.eni.index()];
    let (component, detail, reason) = match rejection {
        Rejection::NetworkAcl { rule, .. } => (
            labels.subnet_acl(eni.subnet).to_owned(),
            match rule {
                Some(n) => format!("entry {n} denies it"),
                None => "no entry allows it; the final `*` entry denies it".to_owned(),
            },
            "refused by the network ACL (stateless: every packet is checked)",
        ),
        Rejection::SecurityGroups { egress } => (
            labels.groups(&eni.security_groups),
            format!(
                "no {} rule of these security groups allows it",
                if *egress { "outbound" } else { "inbound" }
            ),
            "refused by the security groups (no rule allows the new connection)",
        ),
    };
    Explanation {
        rule: Some(format!(
            "{}: {component} — {detail}",
            step(rejection).as_str()
        )),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp_syn() -> Vec<u8> {
        let mut b = vec![0u8; 40];
        b[0] = 0x45;
        b[2..4].copy_from_slice(&60u16.to_be_bytes());
        b[9] = 6;
        b[12..16].copy_from_slice(&[10, 0, 1, 5]);
        b[16..20].copy_from_slice(&[10, 0, 2, 7]);
        b[20..22].copy_from_slice(&40000u16.to_be_bytes());
        b[22..24].copy_from_slice(&5432u16.to_be_bytes());
        b[33] = 0x02;
        b
    }

    #[test]
    fn headers_of_a_syn() {
        let h = parse_ipv4(&tcp_syn()).expect("ipv4");
        assert_eq!(h.proto, 6);
        assert_eq!(h.src, "10.0.1.5:40000".parse().expect("addr"));
        assert_eq!(h.dst, "10.0.2.7:5432".parse().expect("addr"));
        assert_eq!(h.bytes, 60);
        assert_eq!(h.tcp_flags, 2);
    }

    #[test]
    fn short_or_foreign_packets() {
        assert_eq!(parse_ipv4(&[]), None);
        assert_eq!(parse_ipv4(&[0x60; 40]), None, "IPv6");
        assert_eq!(parse_ipv4(&tcp_syn()[..19]), None);
        // Cut after the IP header: no ports, no flags.
        let h = parse_ipv4(&tcp_syn()[..20]).expect("ipv4");
        assert_eq!((h.src.port(), h.dst.port(), h.tcp_flags), (0, 0, 0));
        // A later fragment carries no ports.
        let mut frag = tcp_syn();
        frag[7] = 10;
        assert_eq!(parse_ipv4(&frag).expect("ipv4").dst.port(), 0);
        // ICMP: no ports.
        let mut icmp = tcp_syn();
        icmp[9] = 1;
        assert_eq!(parse_ipv4(&icmp).expect("ipv4").src.port(), 0);
    }
}
