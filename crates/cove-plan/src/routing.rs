//! Policy routing in the host router: marks, table numbers, and each route table's
//! kernel routes.
//!
//! Every VPC of a deployment is routed by one namespace (the host router). Packets
//! are told apart by a **mark** the firewall sets from the link they arrived on
//! (before conntrack): the VPC's number in the high bits, the route table of the
//! link's subnet in the low bits (0 for links that are not an ENI's: the internet
//! gateway and the gateway endpoint). The mark is also the kernel table number:
//!
//! * `to <VPC CIDR> fwmark <VPC bits>/<VPC mask> lookup <VPC mark>` — the VPC's
//!   implicit local route, always first (its table has a /32 per ENI and a blackhole
//!   for the rest of each block); VPCs whose blocks overlap never see each other's
//!   addresses;
//! * `fwmark <route table mark> lookup <route table mark>` — the subnet's route
//!   table, where the kernel's longest-prefix match is AWS's;
//! * `fwmark <VPC bits>/<VPC mask> lookup <VPC mark>` — what no route table routed
//!   ends at the local table's `blackhole 0.0.0.0/0`, dropped without an ICMP error
//!   and before the kernel's `lookup local` (moved after these rules), so a VPC
//!   never reaches the router's own addresses.
//!
//! A route to an active peering is forwarded **once**: the peer VPC's ENIs are in
//! the same namespace, so the route table gets a /32 straight to each peer ENI its
//! peering route wins for (longest prefix match decided here), and the route itself
//! becomes a blackhole for the rest of its prefix. Only the peer's own interfaces
//! are reachable that way: no transit to a third VPC, no edge-to-edge use of the
//! peer's gateways.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use cove_model::lookup::index_u32;
use cove_model::{EniId, Network, PeeringId, PeeringStatus, RouteDestination, RouteTarget, VpcId};
use ipnet::Ipv4Net;

use crate::names::Names;
use crate::state::{DevName, Route, RouteKind};

/// Bits of a mark (and table number) that hold the VPC's number (from 1).
pub const MARK_VPC_MASK: u32 = 0xfff0_0000;
/// Shift of the VPC's number in a mark.
const MARK_VPC_SHIFT: u32 = 20;
/// VPCs one host router can tell apart.
pub const MAX_VPCS: usize = 4095;
/// Route tables per VPC the mark can tell apart.
pub const MAX_ROUTE_TABLES: usize = (1 << MARK_VPC_SHIFT) - 2;
/// Priority of the rule `to 169.254.64.0/18 lookup <environments>`: replies to
/// execution environments, translated back to their link-local addresses, go to
/// their links (see [`crate::environments`]).
pub const RULE_PRIORITY_ENVIRONMENTS: u32 = 900;
/// Priority of the `to <VPC CIDR>` rules (the implicit local route wins first).
pub const RULE_PRIORITY_LOCAL: u32 = 1000;
/// Priority of the `fwmark <table>` rules (the subnet's route table).
pub const RULE_PRIORITY_SUBNET: u32 = 2000;
/// Priority of the `fwmark <VPC>` rules that send whatever a VPC's route tables
/// did not route to its local table's default blackhole.
pub const RULE_PRIORITY_UNROUTED: u32 = 3000;
/// Conntrack zones one host router can use (1–65535; 0 is the default zone).
pub const MAX_ZONES: usize = 65_535;
/// Router end of every internet-gateway link.
pub const IGW_ROUTER_IP: Ipv4Addr = Ipv4Addr::new(169, 254, 255, 1);
/// Outside end of every internet-gateway link.
pub const IGW_OUTSIDE_IP: Ipv4Addr = Ipv4Addr::new(169, 254, 255, 2);
/// Router end of every gateway-endpoint link.
pub const ENDPOINT_ROUTER_IP: Ipv4Addr = Ipv4Addr::new(169, 254, 254, 1);
/// Services end of every gateway-endpoint link.
pub const ENDPOINT_SERVICES_IP: Ipv4Addr = Ipv4Addr::new(169, 254, 254, 2);

/// The mark of packets from a VPC's non-ENI links, and the number of its local
/// table.
pub fn vpc_mark(v: VpcId) -> u32 {
    (v.0 + 1) << MARK_VPC_SHIFT
}

/// The mark (and table number) of route table number `j` of VPC `v`.
pub fn route_table_mark(v: VpcId, j: usize) -> u32 {
    vpc_mark(v) | (index_u32(j) + 1)
}

/// The mark (and table number) of an ENI's subnet's route table.
pub fn eni_route_table_mark(net: &Network, e: EniId) -> u32 {
    let eni = &net.enis[e.index()];
    let t = net.subnets[eni.subnet.index()].route_table;
    let vpc = &net.vpcs[eni.vpc.index()];
    let j = vpc.route_tables.iter().position(|x| *x == t).unwrap_or(0);
    route_table_mark(eni.vpc, j)
}

/// A peer ENI that a route table reaches over an active peering: the route table
/// has a /32 to its link, and conntrack keeps the flow in the peering's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerHost {
    /// The peer VPC's ENI.
    pub eni: EniId,
    /// The peering the route goes through.
    pub peering: PeeringId,
}

/// The kernel side of one route table.
#[derive(Debug, Clone, Default)]
pub struct TableRoutes {
    /// Its routes (table number set), the peer /32s included.
    pub routes: Vec<Route>,
    /// The peer ENIs it reaches.
    pub peer_hosts: Vec<PeerHost>,
}

/// Where a route sends packets, before peering routes are expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hop {
    Kernel(RouteKind),
    Peer { peering: PeeringId, peer: VpcId },
}

/// An interface name cove generated (`lo` if it were not a valid one).
pub(crate) fn dev(name: &str) -> DevName {
    DevName::new(name).unwrap_or(DevName::LO)
}

/// `ip` as a /32.
pub(crate) fn host(ip: Ipv4Addr) -> Ipv4Net {
    Ipv4Net::new(ip, 32).unwrap_or_default()
}

/// The kernel routes of route table number `j` of VPC `v`: every route but `local`
/// (the local rule handles those), prefix lists expanded, for each CIDR only the
/// route AWS would pick (a static route beats a prefix-list route of the same
/// CIDR, which beats a propagated one), and each active-peering route expanded to the peer ENIs it wins for.
pub fn route_table(net: &Network, names: &Names<'_>, v: VpcId, j: usize) -> TableRoutes {
    let vpc = &net.vpcs[v.index()];
    let table = route_table_mark(v, j);
    let Some(t) = vpc.route_tables.get(j) else {
        return TableRoutes::default();
    };
    let mut best: BTreeMap<Ipv4Net, (u8, usize, Hop)> = BTreeMap::new();
    for (i, r) in net.route_tables[t.index()].routes.iter().enumerate() {
        if r.target == RouteTarget::Local {
            continue;
        }
        // AWS's tie-break: static, then prefix list, then propagated.
        let rank = r.priority();
        let cidrs: &[Ipv4Net] = match &r.destination {
            RouteDestination::Cidr(c) => std::slice::from_ref(c),
            RouteDestination::PrefixList(p) => &net.prefix_lists[p.index()].cidrs,
        };
        let hop = hop(net, names, v, &r.target);
        for c in cidrs {
            let better = best.get(c).is_none_or(|(r0, i0, _)| (rank, i) < (*r0, *i0));
            if better {
                best.insert(*c, (rank, i, hop));
            }
        }
    }
    let mut out = TableRoutes::default();
    for (dst, (_, _, h)) in &best {
        let kind = match h {
            Hop::Kernel(kind) => *kind,
            Hop::Peer { peering, peer } => {
                let mut covers_all = false;
                for e in &net.vpcs[peer.index()].enis {
                    let ip = net.enis[e.index()].private_ip;
                    let wins = dst.contains(&ip)
                        && !best
                            .keys()
                            .any(|c| c.prefix_len() > dst.prefix_len() && c.contains(&ip));
                    if wins {
                        // A /32 peering route to the ENI is the ENI's route itself.
                        covers_all |= dst.prefix_len() == 32;
                        out.peer_hosts.push(PeerHost {
                            eni: *e,
                            peering: *peering,
                        });
                        // A shared function ENI has no link and accepts no
                        // connection: a blackhole; its flows' replies are
                        // translated to an environment before routing (they still
                        // need the peering's zone).
                        let kind = if net.enis[e.index()].owner == cove_model::EniOwner::Shared {
                            RouteKind::Blackhole
                        } else {
                            RouteKind::Dev {
                                dev: dev(&names.eni_router_link(*e)),
                            }
                        };
                        out.routes.push(Route {
                            proto: crate::state::ROUTE_PROTO_STATIC,
                            table,
                            dst: host(ip),
                            kind,
                        });
                    }
                }
                if covers_all {
                    continue;
                }
                RouteKind::Blackhole
            }
        };
        out.routes.push(Route {
            proto: crate::state::ROUTE_PROTO_STATIC,
            table,
            dst: *dst,
            kind,
        });
    }
    out
}

/// The router's link that carries NAT gateway `n`'s addresses: its own, or its
/// partner's while the partner carries them (issue 11's failover).
pub fn nat_link(net: &Network, names: &Names<'_>, n: cove_model::NatId) -> String {
    let nat = &net.nat_gateways[n.index()];
    let carrier = nat.carried_by.map_or(nat, |c| &net.nat_gateways[c.index()]);
    names.eni_router_link(carrier.eni)
}

/// The CIDRs of the subnets whose route tables send anything to NAT gateway `n`
/// (the sources it translates), in subnet order.
pub fn nat_sources(net: &Network, n: cove_model::NatId) -> Vec<Ipv4Net> {
    net.subnets
        .iter()
        .filter(|s| {
            net.route_tables[s.route_table.index()]
                .routes
                .iter()
                .any(|r| r.target == RouteTarget::NatGateway(n))
        })
        .map(|s| s.cidr)
        .collect()
}

fn hop(net: &Network, names: &Names<'_>, v: VpcId, target: &RouteTarget) -> Hop {
    match target {
        RouteTarget::Peering(p) => {
            let peering = &net.peerings[p.index()];
            match peering.peer_of(v) {
                Some(peer) if peering.status == PeeringStatus::Active => {
                    Hop::Peer { peering: *p, peer }
                }
                _ => Hop::Kernel(RouteKind::Blackhole),
            }
        }
        RouteTarget::NatGateway(n) => {
            let nat = &net.nat_gateways[n.index()];
            Hop::Kernel(RouteKind::Via {
                gateway: net.enis[nat.eni.index()].private_ip,
                dev: dev(&nat_link(net, names, *n)),
            })
        }
        RouteTarget::InternetGateway(_) => Hop::Kernel(RouteKind::Via {
            gateway: IGW_OUTSIDE_IP,
            dev: dev(&names.igw_router_link(v)),
        }),
        RouteTarget::GatewayEndpoint(_) => Hop::Kernel(RouteKind::Via {
            gateway: ENDPOINT_SERVICES_IP,
            dev: dev(&names.endpoint_router_link(v)),
        }),
        // Unmodeled targets and blackholes drop.
        RouteTarget::Blackhole | RouteTarget::Unmodeled(_) | RouteTarget::Local => {
            Hop::Kernel(RouteKind::Blackhole)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
tenants:
  - name: t
    vpcs:
      - name: a
        cidr: 10.1.0.0/16
        subnets: [{ name: s, cidr: 10.1.1.0/24, az: us-east-1a, route_table: rt }]
        route_tables:
          - name: rt
            routes:
              - { destination: 10.2.0.0/16, peering: ab }
              - { destination: 10.2.2.0/24, blackhole: true }
              - { destination: 10.3.0.77/32, peering: ac }
        enis: [{ name: x, subnet: s, private_ip: 10.1.1.10 }]
      - name: b
        cidr: 10.2.0.0/16
        subnets:
          - { name: s1, cidr: 10.2.1.0/24, az: us-east-1a }
          - { name: s2, cidr: 10.2.2.0/24, az: us-east-1a }
        enis:
          - { name: y1, subnet: s1, private_ip: 10.2.1.10 }
          - { name: y2, subnet: s2, private_ip: 10.2.2.10 }
      - name: c
        cidr: 10.3.0.0/16
        subnets: [{ name: s, cidr: 10.3.0.0/24, az: us-east-1a }]
        enis:
          - { name: z1, subnet: s, private_ip: 10.3.0.77 }
          - { name: z2, subnet: s, private_ip: 10.3.0.78 }
peerings:
  - { name: ab, requester: t/a, accepter: t/b, status: active }
  - { name: ac, requester: t/a, accepter: t/c, status: active }
"#;

    /// A peering route becomes a /32 to each peer ENI it wins for (a more specific
    /// route elsewhere keeps its addresses) and a blackhole for the rest; a /32
    /// peering route is just the ENI's route.
    #[test]
    fn peering_routes_reach_the_peer_enis_they_win_for() {
        let net = cove_model::validate::validate_text(SPEC)
            .network
            .expect("valid");
        let names = Names::new(&net, "t");
        let got = route_table(&net, &names, VpcId(0), 0);
        let text: Vec<String> = got
            .routes
            .iter()
            .map(|r| crate::plan::RouteText(r).to_string())
            .collect();
        let table = route_table_mark(VpcId(0), 0);
        let y1 = names.eni_router_link(net.find_eni("b/y1").expect("y1"));
        let z1 = names.eni_router_link(net.find_eni("c/z1").expect("z1"));
        let mut want = vec![
            format!("10.2.1.10/32 dev {y1} scope link table {table}"),
            format!("blackhole 10.2.0.0/16 table {table}"),
            format!("blackhole 10.2.2.0/24 table {table}"),
            format!("10.3.0.77/32 dev {z1} scope link table {table}"),
        ];
        let mut text = text;
        text.sort();
        want.sort();
        assert_eq!(text, want);
        let hosts: Vec<String> = got
            .peer_hosts
            .iter()
            .map(|h| net.eni_label(h.eni))
            .collect();
        assert_eq!(hosts, ["t/b/y1", "t/c/z1"]);
    }

    /// A static route beats a propagated route of the same prefix (listed first), so
    /// the kernel gets the static route's hops; a propagated route alone goes to a
    /// virtual private gateway cove does not model: a blackhole.
    #[test]
    fn static_route_beats_propagated_route_in_the_kernel() {
        let texts = |spec: &str| {
            let net = cove_model::validate::validate_text(spec)
                .network
                .expect("valid");
            let names = Names::new(&net, "t");
            let mut t: Vec<String> = route_table(&net, &names, VpcId(0), 0)
                .routes
                .iter()
                .map(|r| crate::plan::RouteText(r).to_string())
                .collect();
            t.sort();
            t
        };
        let static_route = "- { destination: 10.2.0.0/16, peering: ab }";
        let propagated = "- { destination: 10.2.0.0/16, unmodeled: vgw-1, propagated: true }";
        let both = SPEC.replacen(
            static_route,
            &format!("{propagated}\n              {static_route}"),
            1,
        );
        assert_eq!(texts(&both), texts(SPEC));
        let only = texts(&SPEC.replacen(static_route, propagated, 1));
        let table = route_table_mark(VpcId(0), 0);
        assert!(
            only.contains(&format!("blackhole 10.2.0.0/16 table {table}")),
            "{only:?}"
        );
        assert!(
            !only.iter().any(|r| r.starts_with("10.2.1.10/32")),
            "{only:?}"
        );
    }

    #[test]
    fn marks_hold_the_vpc_and_the_table() {
        assert_eq!(vpc_mark(VpcId(0)), 0x0010_0000);
        assert_eq!(route_table_mark(VpcId(2), 0), 0x0030_0001);
        assert_eq!(
            route_table_mark(VpcId(2), 4) & MARK_VPC_MASK,
            vpc_mark(VpcId(2))
        );
        assert_eq!(
            vpc_mark(VpcId(index_u32(MAX_VPCS - 1))) & MARK_VPC_MASK,
            0xfff0_0000
        );
    }
}
