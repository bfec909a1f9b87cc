//! Where each VPC's DNS resolver answers in the host router (issue 12).
//!
//! AWS's resolver ("AmazonProvidedDNS") answers at the VPC's base address + 2 and
//! at 169.254.169.253, only for the VPC's own interfaces, and neither security
//! groups nor network ACLs see its traffic. cove realizes that in the host router:
//!
//! * the VPC's local table (see [`crate::routing`]) gets `local <base+2>` and
//!   `local 169.254.169.253` routes (on `lo`), so both are addresses of the router
//!   only for packets routed with that VPC's mark — overlapping VPCs each have
//!   their own base + 2, and another VPC's packets to it meet its blackhole; a rule
//!   `to 169.254.169.253 fwmark <VPC>` sends the link-local one to that table;
//! * the firewall's `from_links` chain sends DNS queries (UDP and TCP port 53) to
//!   those addresses, from the VPC's ENI and environment links only (the routing
//!   mark of a route table, key of the `dns_resolvers` set), past conntrack
//!   (`notrack`) and the ACL/security-group pipeline; `filter_input` accepts them
//!   and an `output` chain keeps the resolver's answers out of conntrack too;
//! * one resolver process (`cove serve`) listens on port 53 in the router and picks
//!   the view by the link a query arrived on.
//!
//! A VPC with `dns_support: false` has none of this: its queries are dropped
//! silently, like any packet to an address its route tables do not route, and a
//! client times out (the `EAI_AGAIN` a function sees).

use std::net::Ipv4Addr;

use cove_model::{Network, VpcId};

/// The link-local address every VPC's resolver also answers at.
pub const LINK_LOCAL_RESOLVER: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 253);

/// The DNS port.
pub const DNS_PORT: u16 = 53;

/// The resolver's address in VPC `v`: its primary block's base address + 2
/// (reserved by cove's address management, as by AWS).
pub fn base_plus_two(net: &Network, v: VpcId) -> Option<Ipv4Addr> {
    let cidr = net.vpcs[v.index()].cidrs.first()?;
    Some(Ipv4Addr::from(u32::from(cidr.network()).wrapping_add(2)))
}

/// The addresses VPC `v`'s resolver answers at (none when `dns_support` is off).
pub fn resolver_addresses(net: &Network, v: VpcId) -> Vec<Ipv4Addr> {
    if !net.vpcs[v.index()].dns_support {
        return Vec::new();
    }
    base_plus_two(net, v)
        .into_iter()
        .chain(std::iter::once(LINK_LOCAL_RESOLVER))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_vpcs_resolve_at_base_plus_two_and_the_link_local_address() {
        let net = crate::example_network();
        for (i, vpc) in net.vpcs.iter().enumerate() {
            let v = VpcId(u32::try_from(i).expect("few"));
            let want = u32::from(vpc.cidrs[0].network()) + 2;
            assert_eq!(
                resolver_addresses(&net, v),
                vec![Ipv4Addr::from(want), LINK_LOCAL_RESOLVER]
            );
        }
    }

    #[test]
    fn a_vpc_without_dns_support_has_no_resolver() {
        let mut net = crate::example_network();
        net.vpcs[0].dns_support = false;
        assert!(resolver_addresses(&net, VpcId(0)).is_empty());
    }
}
