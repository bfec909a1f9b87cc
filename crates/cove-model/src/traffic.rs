//! Protocols, port ranges and the (protocol, ports, ICMP type/code) part of a rule.

use std::fmt;

use serde::Serialize;

/// An IP protocol as rules name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Every protocol (AWS `-1`).
    All,
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// ICMP (1).
    Icmp,
    /// Any other IP protocol number.
    Other(u8),
}

impl Protocol {
    /// IP protocol number of TCP.
    pub const TCP: u8 = 6;
    /// IP protocol number of UDP.
    pub const UDP: u8 = 17;
    /// IP protocol number of ICMP.
    pub const ICMP: u8 = 1;

    /// The protocol with this IP protocol number.
    pub fn from_number(n: u8) -> Self {
        match n {
            Self::TCP => Protocol::Tcp,
            Self::UDP => Protocol::Udp,
            Self::ICMP => Protocol::Icmp,
            other => Protocol::Other(other),
        }
    }

    /// Parses `tcp`, `udp`, `icmp`, `all`, `-1` or a protocol number (0–255).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "all" | "-1" => Some(Protocol::All),
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            "icmp" => Some(Protocol::Icmp),
            other => other.parse::<u8>().ok().map(Self::from_number),
        }
    }

    /// The IP protocol number; `None` for [`Protocol::All`].
    pub fn number(self) -> Option<u8> {
        match self {
            Protocol::All => None,
            Protocol::Tcp => Some(Self::TCP),
            Protocol::Udp => Some(Self::UDP),
            Protocol::Icmp => Some(Self::ICMP),
            Protocol::Other(n) => Some(n),
        }
    }

    /// Whether packets of this protocol carry ports (TCP and UDP).
    pub fn has_ports(self) -> bool {
        matches!(self, Protocol::Tcp | Protocol::Udp)
    }

    /// Whether a rule for `self` matches a packet of IP protocol `packet_proto`.
    pub fn matches(self, packet_proto: u8) -> bool {
        match self.number() {
            None => true,
            Some(n) => n == packet_proto,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::All => f.write_str("all"),
            Protocol::Tcp => f.write_str("tcp"),
            Protocol::Udp => f.write_str("udp"),
            Protocol::Icmp => f.write_str("icmp"),
            Protocol::Other(n) => write!(f, "{n}"),
        }
    }
}

/// An inclusive port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PortRange {
    /// First port.
    pub from: u16,
    /// Last port (inclusive).
    pub to: u16,
}

impl PortRange {
    /// Every port, 0–65535.
    pub const ALL: PortRange = PortRange { from: 0, to: 65535 };

    /// A single port.
    pub fn single(port: u16) -> Self {
        PortRange {
            from: port,
            to: port,
        }
    }

    /// Whether `port` is in the range.
    pub fn contains(self, port: u16) -> bool {
        self.from <= port && port <= self.to
    }

    /// Parses `80`, `1024-65535` or `all`. `None` if malformed or reversed.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("all") {
            return Some(Self::ALL);
        }
        let (a, b) = match t.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (t, t),
        };
        let from = a.parse::<u16>().ok()?;
        let to = b.parse::<u16>().ok()?;
        (from <= to).then_some(PortRange { from, to })
    }

    /// The intersection of two ranges, if any.
    pub fn intersect(self, other: PortRange) -> Option<PortRange> {
        let from = self.from.max(other.from);
        let to = self.to.min(other.to);
        (from <= to).then_some(PortRange { from, to })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::ALL {
            f.write_str("all")
        } else if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

/// The protocol/port/ICMP part of an SG rule or NACL entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct TrafficMatch {
    /// Protocol.
    pub protocol: Protocol,
    /// Ports (meaningful for TCP/UDP; [`PortRange::ALL`] otherwise).
    pub ports: PortRange,
    /// ICMP type (`None`: any); only for ICMP.
    pub icmp_type: Option<u8>,
    /// ICMP code (`None`: any); only for ICMP.
    pub icmp_code: Option<u8>,
}

impl TrafficMatch {
    /// Matches everything (protocol `all`).
    pub const ALL: TrafficMatch = TrafficMatch {
        protocol: Protocol::All,
        ports: PortRange::ALL,
        icmp_type: None,
        icmp_code: None,
    };

    /// Whether a packet with IP protocol `proto`, destination port `port` (TCP/UDP) and
    /// ICMP type/code `icmp` (ICMP) matches.
    pub fn matches(&self, proto: u8, port: u16, icmp: (u8, u8)) -> bool {
        if !self.protocol.matches(proto) {
            return false;
        }
        match proto {
            Protocol::TCP | Protocol::UDP => {
                self.protocol == Protocol::All || self.ports.contains(port)
            }
            Protocol::ICMP => {
                self.protocol == Protocol::All
                    || (self.icmp_type.is_none_or(|t| t == icmp.0)
                        && self.icmp_code.is_none_or(|c| c == icmp.1))
            }
            _ => true,
        }
    }
}

impl fmt::Display for TrafficMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.protocol {
            Protocol::Tcp | Protocol::Udp => write!(f, "{} {}", self.protocol, self.ports),
            Protocol::Icmp => {
                let t = self.icmp_type.map_or("all".to_owned(), |t| t.to_string());
                let c = self.icmp_code.map_or("all".to_owned(), |c| c.to_string());
                write!(f, "icmp type {t} code {c}")
            }
            p => write!(f, "{p}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_protocols() {
        assert_eq!(Protocol::parse("TCP"), Some(Protocol::Tcp));
        assert_eq!(Protocol::parse("-1"), Some(Protocol::All));
        assert_eq!(Protocol::parse("6"), Some(Protocol::Tcp));
        assert_eq!(Protocol::parse("50"), Some(Protocol::Other(50)));
        assert_eq!(Protocol::parse("256"), None);
        assert_eq!(Protocol::parse("tcpx"), None);
    }

    #[test]
    fn parses_port_ranges() {
        assert_eq!(PortRange::parse("80"), Some(PortRange::single(80)));
        assert_eq!(
            PortRange::parse("1024-65535"),
            Some(PortRange {
                from: 1024,
                to: 65535
            })
        );
        assert_eq!(PortRange::parse("90-80"), None);
        assert_eq!(PortRange::parse("70000"), None);
    }

    #[test]
    fn all_protocol_matches_any_port_and_icmp() {
        assert!(TrafficMatch::ALL.matches(6, 1, (0, 0)));
        assert!(TrafficMatch::ALL.matches(1, 0, (8, 0)));
        assert!(TrafficMatch::ALL.matches(47, 0, (0, 0)));
    }

    #[test]
    fn icmp_type_and_code_filter() {
        let echo = TrafficMatch {
            protocol: Protocol::Icmp,
            ports: PortRange::ALL,
            icmp_type: Some(8),
            icmp_code: None,
        };
        assert!(echo.matches(1, 0, (8, 0)));
        assert!(!echo.matches(1, 0, (0, 0)));
        assert!(!echo.matches(6, 0, (8, 0)));
    }
}
