//! Which view answers a query (pure): the host's one resolver serves every VPC,
//! so each query is matched to the VPC it came from before anything is looked up.
//!
//! Two keys, both set by the kernel, never by the client:
//!
//! * **the link a UDP query arrived on** (`IP_PKTINFO`'s interface, by its name):
//!   cove names every router link after a stable hash of its ENI's or
//!   environment's path, so a name means the same VPC in every generation;
//! * **the routing mark of a TCP connection** (the SYN's, which the router's
//!   accepted sockets keep): its VPC bits number the VPC in the generation whose
//!   firewall set it, so the connection's peer address must also be one of that
//!   VPC's ENIs or environments, or the query gets no view (REFUSED).
//!
//! A VPC whose resolver is off has no view; its queries never reach the resolver
//! (the router drops them), and a catalog lookup says `None` all the same.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use crate::view::View;

/// Every VPC's view, and how a query finds its own.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Views by VPC (index in the generation's network); `None`: resolver off.
    views: Vec<Option<Arc<View>>>,
    /// Router link name → VPC.
    links: HashMap<String, usize>,
    /// VPC bits of a routing mark → VPC.
    marks: HashMap<u32, usize>,
    /// Each VPC's routing mark (VPC bits only).
    vpc_marks: Vec<u32>,
    /// (VPC, address) of every ENI and environment that may query.
    sources: HashSet<(usize, Ipv4Addr)>,
    /// The bits of a routing mark that number the VPC.
    vpc_mask: u32,
}

impl Catalog {
    /// An empty catalog whose marks number VPCs in the bits `vpc_mask`.
    pub fn new(vpc_mask: u32) -> Catalog {
        Catalog {
            vpc_mask,
            ..Catalog::default()
        }
    }

    /// Adds VPC number `vpc` (in order: the first call is 0) with its view
    /// (`None`: resolver off) and the VPC bits of its routing marks.
    pub fn add_vpc(&mut self, view: Option<View>, mark: u32) -> usize {
        let vpc = self.views.len();
        self.views.push(view.map(Arc::new));
        self.marks.insert(mark & self.vpc_mask, vpc);
        self.vpc_marks.push(mark & self.vpc_mask);
        vpc
    }

    /// Adds a router link of VPC `vpc` (an ENI's or an environment's) and the
    /// address that sends on it.
    pub fn add_link(&mut self, vpc: usize, link: &str, source: Ipv4Addr) {
        self.links.insert(link.to_owned(), vpc);
        self.sources.insert((vpc, source));
    }

    /// The view for a query that arrived on router link `link`.
    pub fn by_link(&self, link: &str) -> Option<&Arc<View>> {
        self.link(link).map(|(v, _)| v)
    }

    /// The view for a query that arrived on router link `link`, and the routing
    /// mark of its VPC (which routes the answer in the VPC's own table).
    pub fn link(&self, link: &str) -> Option<(&Arc<View>, u32)> {
        let vpc = *self.links.get(link)?;
        let view = self.views.get(vpc)?.as_ref()?;
        Some((view, self.vpc_marks.get(vpc).copied().unwrap_or(0)))
    }

    /// The view for a connection with routing mark `mark` from `peer`.
    pub fn by_mark(&self, mark: u32, peer: Ipv4Addr) -> Option<&Arc<View>> {
        let vpc = *self.marks.get(&(mark & self.vpc_mask))?;
        if !self.sources.contains(&(vpc, peer)) {
            return None;
        }
        self.views.get(vpc)?.as_ref()
    }

    /// Number of VPCs.
    pub fn len(&self) -> usize {
        self.views.len()
    }

    /// Whether there are no VPCs.
    pub fn is_empty(&self) -> bool {
        self.views.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASK: u32 = 0xfff0_0000;

    fn catalog() -> Catalog {
        let mut c = Catalog::new(MASK);
        let a = c.add_vpc(Some(View::default()), 0x10_0000);
        let b = c.add_vpc(None, 0x20_0000);
        c.add_link(a, "eaaaa", Ipv4Addr::new(10, 0, 1, 5));
        c.add_link(b, "ebbbb", Ipv4Addr::new(10, 0, 1, 5));
        c
    }

    #[test]
    fn a_link_finds_its_vpcs_view_and_a_vpc_without_resolver_has_none() {
        let c = catalog();
        assert!(c.by_link("eaaaa").is_some());
        assert_eq!(c.link("eaaaa").map(|(_, m)| m), Some(0x10_0000));
        assert!(c.by_link("ebbbb").is_none(), "resolver off");
        assert!(c.by_link("ecccc").is_none(), "unknown link");
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn a_mark_finds_a_view_only_for_an_address_of_that_vpc() {
        let c = catalog();
        // Any route table of VPC 1 (the low bits).
        assert!(c.by_mark(0x10_0003, Ipv4Addr::new(10, 0, 1, 5)).is_some());
        assert!(c.by_mark(0x10_0003, Ipv4Addr::new(10, 0, 1, 6)).is_none());
        assert!(c.by_mark(0x20_0001, Ipv4Addr::new(10, 0, 1, 5)).is_none());
        assert!(c.by_mark(0x30_0001, Ipv4Addr::new(10, 0, 1, 5)).is_none());
        assert!(c.by_mark(0, Ipv4Addr::new(10, 0, 1, 5)).is_none());
    }
}
