//! The two questions the evaluation asks of the network many times per flow — which
//! route wins, and which ENI has an address — behind a trait with an indexed and a
//! brute-force implementation.

use std::net::Ipv4Addr;

use cove_model::lookup::index_u32;
use cove_model::{
    EniId, NaclEntry, NaclId, NatId, Network, Route, RouteDestination, RouteTableId, SgId, SgRule,
    VpcId,
};
use foldhash::HashMap;
use ipnet::Ipv4Net;

use crate::flow::Packet;
use crate::labels::Labels;
use crate::rules::{self, NaclDecision, Party, RuleDirection};

/// The route that wins for an address, and the CIDR of it that matched (one CIDR of a
/// prefix list for prefix-list routes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteMatch<'n> {
    /// The route.
    pub route: &'n Route,
    /// Its position in the table's `routes`.
    pub index: usize,
    /// The matching CIDR.
    pub cidr: Ipv4Net,
}

/// AWS's tie-break among routes of equal prefix length: the local route first, then
/// static routes (a CIDR), then prefix-list routes, then propagated routes; lower is
/// stronger ([`Route::priority`]).
pub fn route_rank(route: &Route) -> u8 {
    route.priority()
}

/// Every CIDR a route matches.
pub fn route_cidrs<'n>(net: &'n Network, route: &'n Route) -> &'n [Ipv4Net] {
    match &route.destination {
        RouteDestination::Cidr(c) => std::slice::from_ref(c),
        RouteDestination::PrefixList(p) => &net.prefix_lists[p.index()].cidrs,
    }
}

/// Lookups the evaluation needs.
pub trait Lookup {
    /// The network.
    fn network(&self) -> &Network;
    /// Display names.
    fn labels(&self) -> &Labels;
    /// The winning route of `table` for `ip` (longest prefix, then [`route_rank`], then
    /// table order).
    fn route(&self, table: RouteTableId, ip: Ipv4Addr) -> Option<RouteMatch<'_>>;
    /// The ENI of `vpc` whose private address is `ip`.
    fn eni_at(&self, vpc: VpcId, ip: Ipv4Addr) -> Option<EniId>;
    /// The ENI whose public address is `ip`.
    fn eni_with_public_ip(&self, ip: Ipv4Addr) -> Option<EniId>;
    /// The NAT gateway one of whose static public IPs is `ip`.
    fn nat_with_public_ip(&self, ip: Ipv4Addr) -> Option<NatId>;
    /// Whether `ip` is inside a CIDR block of any VPC.
    fn in_any_vpc(&self, ip: Ipv4Addr) -> bool;
    /// The first rule of `groups` (in group order, then rule order) that allows the
    /// request; see [`rules::sg_allows`].
    fn sg_allows(
        &self,
        groups: &[SgId],
        dir: RuleDirection,
        remote: Party,
        pkt: &Packet,
    ) -> Option<(SgId, usize)>;
    /// Network ACL `acl`'s decision for every port of `pkt`; see
    /// [`rules::nacl_decide`].
    fn nacl_decide(
        &self,
        acl: NaclId,
        dir: RuleDirection,
        remote: Ipv4Addr,
        pkt: &Packet,
    ) -> NaclDecision;
}

/// Hash indexes built once per network: every lookup is O(distinct prefix lengths)
/// or O(1).
#[derive(Debug, Clone)]
pub struct Indexed<'n> {
    net: &'n Network,
    /// Per route table: the distinct prefix lengths present, longest first.
    lengths: Vec<Vec<u8>>,
    /// (table, network address, prefix length) → winning (route index, cidr).
    routes: HashMap<(u32, u32, u8), (usize, Ipv4Net)>,
    /// (vpc, private address) → ENI.
    private: HashMap<(u32, u32), EniId>,
    /// public address → ENI.
    public: HashMap<u32, EniId>,
    /// public address → NAT gateway.
    nat_public: HashMap<u32, NatId>,
    /// The union of all VPC blocks as sorted, disjoint, inclusive address ranges.
    vpc_ranges: Vec<(u32, u32)>,
    labels: Labels,
}

impl<'n> Indexed<'n> {
    /// The network the indexes were built for.
    pub fn net(&self) -> &'n Network {
        self.net
    }

    /// Builds the indexes.
    pub fn new(net: &'n Network) -> Self {
        let mut lengths = Vec::with_capacity(net.route_tables.len());
        let mut routes: HashMap<(u32, u32, u8), (usize, Ipv4Net)> = HashMap::default();
        for (t, table) in net.route_tables.iter().enumerate() {
            let t = index_u32(t);
            let mut lens = Vec::new();
            for (i, route) in table.routes.iter().enumerate() {
                for cidr in route_cidrs(net, route) {
                    let key = (t, u32::from(cidr.network()), cidr.prefix_len());
                    lens.push(cidr.prefix_len());
                    let better = match routes.get(&key) {
                        None => true,
                        Some((j, _)) => {
                            let other = &table.routes[*j];
                            (route_rank(route), i) < (route_rank(other), *j)
                        }
                    };
                    if better {
                        routes.insert(key, (i, *cidr));
                    }
                }
            }
            lens.sort_unstable_by(|a, b| b.cmp(a));
            lens.dedup();
            lengths.push(lens);
        }
        let mut private = HashMap::default();
        let mut public = HashMap::default();
        for (i, e) in net.enis.iter().enumerate() {
            let id = EniId(index_u32(i));
            private.insert((e.vpc.0, u32::from(e.private_ip)), id);
            if let Some(p) = e.public_ip {
                public.entry(u32::from(p)).or_insert(id);
            }
        }
        let mut nat_public = HashMap::default();
        for (i, n) in net.nat_gateways.iter().enumerate() {
            for p in &n.public_ips {
                nat_public
                    .entry(u32::from(*p))
                    .or_insert(NatId(index_u32(i)));
            }
        }
        let mut blocks: Vec<(u32, u32)> = net
            .vpcs
            .iter()
            .flat_map(|v| &v.cidrs)
            .map(|c| (u32::from(c.network()), u32::from(c.broadcast())))
            .collect();
        blocks.sort_unstable();
        let mut vpc_ranges: Vec<(u32, u32)> = Vec::with_capacity(blocks.len());
        for (a, b) in blocks {
            match vpc_ranges.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => vpc_ranges.push((a, b)),
            }
        }
        Indexed {
            net,
            lengths,
            routes,
            private,
            public,
            nat_public,
            vpc_ranges,
            labels: Labels::new(net),
        }
    }
}

impl Lookup for Indexed<'_> {
    fn network(&self) -> &Network {
        self.net
    }

    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn route(&self, table: RouteTableId, ip: Ipv4Addr) -> Option<RouteMatch<'_>> {
        let addr = u32::from(ip);
        for &len in &self.lengths[table.index()] {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            if let Some(&(index, cidr)) = self.routes.get(&(table.0, addr & mask, len)) {
                let route = &self.net.route_tables[table.index()].routes[index];
                return Some(RouteMatch { route, index, cidr });
            }
        }
        None
    }

    fn eni_at(&self, vpc: VpcId, ip: Ipv4Addr) -> Option<EniId> {
        self.private.get(&(vpc.0, u32::from(ip))).copied()
    }

    fn eni_with_public_ip(&self, ip: Ipv4Addr) -> Option<EniId> {
        self.public.get(&u32::from(ip)).copied()
    }

    fn nat_with_public_ip(&self, ip: Ipv4Addr) -> Option<NatId> {
        self.nat_public.get(&u32::from(ip)).copied()
    }

    fn in_any_vpc(&self, ip: Ipv4Addr) -> bool {
        let a = u32::from(ip);
        let i = self.vpc_ranges.partition_point(|r| r.0 <= a);
        i > 0 && self.vpc_ranges[i - 1].1 >= a
    }

    fn sg_allows(
        &self,
        groups: &[SgId],
        dir: RuleDirection,
        remote: Party,
        pkt: &Packet,
    ) -> Option<(SgId, usize)> {
        rules::sg_allows(self.net, groups, dir, remote, pkt)
    }

    fn nacl_decide(
        &self,
        acl: NaclId,
        dir: RuleDirection,
        remote: Ipv4Addr,
        pkt: &Packet,
    ) -> NaclDecision {
        let acl = &self.net.network_acls[acl.index()];
        let entries = match dir {
            RuleDirection::Ingress => &acl.ingress,
            RuleDirection::Egress => &acl.egress,
        };
        rules::nacl_decide(entries, remote, pkt)
    }
}

/// No indexes: the network as flat tables — every security-group rule, every ACL
/// entry — and every lookup a linear scan of a whole table (the way a rule list is
/// evaluated without any index). The reference the indexed lookups are tested
/// against, and the benchmark's baseline.
#[derive(Debug, Clone)]
pub struct Naive<'n> {
    net: &'n Network,
    /// Every security-group rule of the network: (group, direction, position, rule).
    sg_rules: Vec<(SgId, RuleDirection, usize, &'n SgRule)>,
    /// Every network-ACL entry of the network: (ACL, direction, entry).
    acl_entries: Vec<(NaclId, RuleDirection, &'n NaclEntry)>,
    labels: Labels,
}

impl<'n> Naive<'n> {
    /// Flattens a network into rule tables.
    pub fn new(net: &'n Network) -> Self {
        let mut sg_rules = Vec::new();
        for (g, sg) in net.security_groups.iter().enumerate() {
            let id = SgId(index_u32(g));
            for (dir, list) in [
                (RuleDirection::Ingress, &sg.ingress),
                (RuleDirection::Egress, &sg.egress),
            ] {
                sg_rules.extend(list.iter().enumerate().map(|(i, r)| (id, dir, i, r)));
            }
        }
        let mut acl_entries = Vec::new();
        for (a, acl) in net.network_acls.iter().enumerate() {
            let id = NaclId(index_u32(a));
            for (dir, list) in [
                (RuleDirection::Ingress, &acl.ingress),
                (RuleDirection::Egress, &acl.egress),
            ] {
                acl_entries.extend(list.iter().map(|e| (id, dir, e)));
            }
        }
        Naive {
            net,
            sg_rules,
            acl_entries,
            labels: Labels::new(net),
        }
    }
}

impl Lookup for Naive<'_> {
    fn network(&self) -> &Network {
        self.net
    }

    fn labels(&self) -> &Labels {
        &self.labels
    }

    fn route(&self, table: RouteTableId, ip: Ipv4Addr) -> Option<RouteMatch<'_>> {
        let mut best: Option<(u8, u8, usize, Ipv4Net)> = None;
        let routes = &self.net.route_tables[table.index()].routes;
        for (i, route) in routes.iter().enumerate() {
            for cidr in route_cidrs(self.net, route) {
                if !cidr.contains(&ip) {
                    continue;
                }
                let better = match best {
                    None => true,
                    Some((len, rank, j, _)) => {
                        cidr.prefix_len() > len
                            || (cidr.prefix_len() == len && (route_rank(route), i) < (rank, j))
                    }
                };
                if better {
                    best = Some((cidr.prefix_len(), route_rank(route), i, *cidr));
                }
            }
        }
        best.map(|(_, _, index, cidr)| RouteMatch {
            route: &routes[index],
            index,
            cidr,
        })
    }

    fn eni_at(&self, vpc: VpcId, ip: Ipv4Addr) -> Option<EniId> {
        self.net
            .enis
            .iter()
            .position(|e| e.vpc == vpc && e.private_ip == ip)
            .map(|i| EniId(index_u32(i)))
    }

    fn eni_with_public_ip(&self, ip: Ipv4Addr) -> Option<EniId> {
        self.net
            .enis
            .iter()
            .position(|e| e.public_ip == Some(ip))
            .map(|i| EniId(index_u32(i)))
    }

    fn nat_with_public_ip(&self, ip: Ipv4Addr) -> Option<NatId> {
        self.net
            .nat_gateways
            .iter()
            .position(|n| n.public_ips.contains(&ip))
            .map(|i| NatId(index_u32(i)))
    }

    fn in_any_vpc(&self, ip: Ipv4Addr) -> bool {
        self.net.vpcs.iter().any(|v| v.contains(ip))
    }

    fn sg_allows(
        &self,
        groups: &[SgId],
        dir: RuleDirection,
        remote: Party,
        pkt: &Packet,
    ) -> Option<(SgId, usize)> {
        // Every matching rule of the whole table; the same pick as the indexed path
        // (first group in the ENI's order, then first rule) so explanations agree.
        self.sg_rules
            .iter()
            .filter(|(g, d, _, r)| {
                *d == dir && groups.contains(g) && rules::sg_rule_matches(self.net, r, remote, pkt)
            })
            .map(|(g, _, i, _)| (groups.iter().position(|x| x == g), *g, *i))
            .min()
            .map(|(_, g, i)| (g, i))
    }

    fn nacl_decide(
        &self,
        acl: NaclId,
        dir: RuleDirection,
        remote: Ipv4Addr,
        pkt: &Packet,
    ) -> NaclDecision {
        let mut entries: Vec<NaclEntry> = self
            .acl_entries
            .iter()
            .filter(|(a, d, _)| *a == acl && *d == dir)
            .map(|(_, _, e)| (*e).clone())
            .collect();
        entries.sort_by_key(|e| e.rule);
        rules::nacl_decide(&entries, remote, pkt)
    }
}

#[cfg(test)]
#[path = "lookup_tests.rs"]
mod tests;
