//! Address management for one subnet, with AWS's reserved addresses.
//!
//! AWS reserves five addresses in every subnet: the network address, `+1` (the VPC
//! router), `+2` (DNS), `+3` (reserved for future use) and the broadcast address.
//! [`SubnetIpam`] never hands those out, never hands out an address twice, and assigns
//! the lowest free address, so the same sequence of requests gives the same addresses.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// Why an address cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    /// The address is outside the subnet.
    #[error("{ip} is outside subnet {cidr}")]
    OutsideSubnet {
        /// The address.
        ip: Ipv4Addr,
        /// The subnet.
        cidr: Ipv4Net,
    },
    /// The address is one of the five AWS reserves.
    #[error("{ip} is reserved in subnet {cidr} ({role})")]
    Reserved {
        /// The address.
        ip: Ipv4Addr,
        /// The subnet.
        cidr: Ipv4Net,
        /// What AWS reserves it for.
        role: &'static str,
    },
    /// The address is already used.
    #[error("{ip} is already in use")]
    InUse {
        /// The address.
        ip: Ipv4Addr,
    },
    /// No free address is left.
    #[error("no free address left in subnet {cidr}")]
    Exhausted {
        /// The subnet.
        cidr: Ipv4Net,
    },
}

/// The role of a reserved address, or `None` if `ip` is assignable in `cidr`.
pub fn reserved_role(cidr: Ipv4Net, ip: Ipv4Addr) -> Option<&'static str> {
    let net = u32::from(cidr.network());
    let bcast = u32::from(cidr.broadcast());
    let x = u32::from(ip);
    match x.wrapping_sub(net) {
        0 => Some("network address"),
        1 => Some("VPC router"),
        2 => Some("DNS server"),
        3 => Some("reserved by AWS for future use"),
        _ if x == bcast => Some("broadcast address"),
        _ => None,
    }
}

/// Number of addresses that can be handed out in a subnet (size minus five).
pub fn usable_count(cidr: Ipv4Net) -> u32 {
    let size = 1u64 << (32 - u32::from(cidr.prefix_len()));
    u32::try_from(size.saturating_sub(5)).unwrap_or(u32::MAX)
}

/// Address book of one subnet.
#[derive(Debug, Clone)]
pub struct SubnetIpam {
    cidr: Ipv4Net,
    used: BTreeSet<u32>,
    /// Lowest address that may still be free (everything below is used or reserved).
    cursor: u32,
}

impl SubnetIpam {
    /// An empty address book for `cidr`.
    pub fn new(cidr: Ipv4Net) -> Self {
        let cidr = cidr.trunc();
        SubnetIpam {
            cidr,
            used: BTreeSet::new(),
            cursor: u32::from(cidr.network()).saturating_add(4),
        }
    }

    /// The subnet.
    pub fn cidr(&self) -> Ipv4Net {
        self.cidr
    }

    /// Marks a given address as used.
    pub fn reserve(&mut self, ip: Ipv4Addr) -> Result<(), IpamError> {
        if !self.cidr.contains(&ip) {
            return Err(IpamError::OutsideSubnet {
                ip,
                cidr: self.cidr,
            });
        }
        if let Some(role) = reserved_role(self.cidr, ip) {
            return Err(IpamError::Reserved {
                ip,
                cidr: self.cidr,
                role,
            });
        }
        if !self.used.insert(u32::from(ip)) {
            return Err(IpamError::InUse { ip });
        }
        Ok(())
    }

    /// Assigns the lowest free address.
    pub fn allocate(&mut self) -> Result<Ipv4Addr, IpamError> {
        let last = u32::from(self.cidr.broadcast()).saturating_sub(1);
        let mut x = self.cursor;
        while x <= last {
            if !self.used.contains(&x) {
                self.used.insert(x);
                self.cursor = x.saturating_add(1);
                return Ok(Ipv4Addr::from(x));
            }
            x = x.saturating_add(1);
        }
        Err(IpamError::Exhausted { cidr: self.cidr })
    }

    /// Assigns the highest free address (addresses handed out from the top stay
    /// where they are when more are taken from the bottom).
    pub fn allocate_highest(&mut self) -> Result<Ipv4Addr, IpamError> {
        let first = u32::from(self.cidr.network()).saturating_add(4);
        let mut x = u32::from(self.cidr.broadcast()).saturating_sub(1);
        while x >= first {
            if self.used.insert(x) {
                return Ok(Ipv4Addr::from(x));
            }
            x -= 1;
        }
        Err(IpamError::Exhausted { cidr: self.cidr })
    }

    /// Returns an address to the pool. Returns whether it was in use.
    pub fn release(&mut self, ip: Ipv4Addr) -> bool {
        let x = u32::from(ip);
        let was = self.used.remove(&x);
        if was && x < self.cursor {
            self.cursor = x;
        }
        was
    }

    /// Whether `ip` is in use.
    pub fn is_used(&self, ip: Ipv4Addr) -> bool {
        self.used.contains(&u32::from(ip))
    }

    /// Number of addresses in use.
    pub fn used_count(&self) -> usize {
        self.used.len()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().expect("test cidr")
    }

    #[test]
    fn first_address_is_plus_four() {
        let mut ipam = SubnetIpam::new(net("10.0.1.0/24"));
        assert_eq!(ipam.allocate(), Ok(Ipv4Addr::new(10, 0, 1, 4)));
        assert_eq!(ipam.allocate(), Ok(Ipv4Addr::new(10, 0, 1, 5)));
    }

    #[test]
    fn slash_28_has_eleven_addresses() {
        let cidr = net("10.0.0.16/28");
        let mut ipam = SubnetIpam::new(cidr);
        let got: Vec<_> = (0..11).map(|_| ipam.allocate()).collect();
        assert!(got.iter().all(Result::is_ok));
        assert_eq!(ipam.allocate(), Err(IpamError::Exhausted { cidr }));
        assert_eq!(usable_count(cidr), 11);
    }

    #[test]
    fn reserved_addresses_are_refused() {
        let cidr = net("10.0.0.0/24");
        let mut ipam = SubnetIpam::new(cidr);
        for last in [0u8, 1, 2, 3, 255] {
            let ip = Ipv4Addr::new(10, 0, 0, last);
            assert!(matches!(ipam.reserve(ip), Err(IpamError::Reserved { .. })));
        }
        assert!(ipam.reserve(Ipv4Addr::new(10, 0, 0, 4)).is_ok());
        assert_eq!(
            ipam.reserve(Ipv4Addr::new(10, 0, 0, 4)),
            Err(IpamError::InUse {
                ip: Ipv4Addr::new(10, 0, 0, 4)
            })
        );
        assert!(matches!(
            ipam.reserve(Ipv4Addr::new(10, 0, 1, 4)),
            Err(IpamError::OutsideSubnet { .. })
        ));
    }

    #[test]
    fn highest_free_address_comes_from_the_top_and_meets_the_bottom() {
        let cidr = net("10.0.0.16/28");
        let mut ipam = SubnetIpam::new(cidr);
        assert_eq!(ipam.allocate_highest(), Ok(Ipv4Addr::new(10, 0, 0, 30)));
        assert_eq!(ipam.allocate(), Ok(Ipv4Addr::new(10, 0, 0, 20)));
        assert_eq!(ipam.allocate_highest(), Ok(Ipv4Addr::new(10, 0, 0, 29)));
        let rest: Vec<_> = (0..8).map(|_| ipam.allocate()).collect();
        assert!(rest.iter().all(Result::is_ok));
        assert_eq!(ipam.allocate_highest(), Err(IpamError::Exhausted { cidr }));
        assert_eq!(ipam.used_count(), 11);
    }

    #[test]
    fn released_address_is_reused_first() {
        let mut ipam = SubnetIpam::new(net("10.0.0.0/28"));
        let a = ipam.allocate().expect("free");
        let _b = ipam.allocate().expect("free");
        assert!(ipam.release(a));
        assert_eq!(ipam.allocate(), Ok(a));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Allocate,
        Reserve(u8),
        Release(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => Just(Op::Allocate),
            1 => any::<u8>().prop_map(Op::Reserve),
            1 => any::<u8>().prop_map(Op::Release),
        ]
    }

    proptest! {
        /// Whatever the sequence of operations, an allocated address is never reserved,
        /// never outside the subnet and never already in use.
        #[test]
        fn never_hands_out_reserved_or_used(prefix in 24u8..=28, ops in prop::collection::vec(op(), 1..200)) {
            let cidr = Ipv4Net::new(Ipv4Addr::new(10, 9, 8, 0), prefix).expect("prefix").trunc();
            let mut ipam = SubnetIpam::new(cidr);
            let mut model: BTreeSet<u32> = BTreeSet::new();
            let base = u32::from(cidr.network());
            for op in ops {
                match op {
                    Op::Allocate => match ipam.allocate() {
                        Ok(ip) => {
                            prop_assert!(cidr.contains(&ip));
                            prop_assert!(reserved_role(cidr, ip).is_none());
                            prop_assert!(model.insert(u32::from(ip)), "{} handed out twice", ip);
                        }
                        Err(IpamError::Exhausted { .. }) => {
                            prop_assert_eq!(model.len(), usable_count(cidr) as usize);
                        }
                        Err(e) => prop_assert!(false, "unexpected {e}"),
                    },
                    Op::Reserve(off) => {
                        let ip = Ipv4Addr::from(base + u32::from(off));
                        let expect_ok = cidr.contains(&ip)
                            && reserved_role(cidr, ip).is_none()
                            && !model.contains(&u32::from(ip));
                        prop_assert_eq!(ipam.reserve(ip).is_ok(), expect_ok);
                        if expect_ok { model.insert(u32::from(ip)); }
                    }
                    Op::Release(off) => {
                        let x = base + u32::from(off);
                        prop_assert_eq!(ipam.release(Ipv4Addr::from(x)), model.remove(&x));
                    }
                }
            }
            prop_assert_eq!(ipam.used_count(), model.len());
        }
    }
}
