//! A validated network → the kernel state that realizes it.
//!
//! Topology (see docs/ARCHITECTURE.md for the reasons):
//! * one **router namespace per VPC** (the VPC's implicit router): forwarding on, the
//!   subnet router addresses (`.1` of each subnet) on `lo`, a point-to-point veth to
//!   every ENI, policy routing (`to <VPC CIDR>` → the local table; `fwmark <table>` →
//!   that route table, the mark set from the ENI link by the firewall) and the VPC's
//!   security groups and network ACLs in one nftables table;
//! * one **namespace per ENI** (workloads run there): `eth0` with the private IP as
//!   a /32 and a default route to the subnet router;
//! * a NAT gateway's ENI namespace forwards and source-translates to its address;
//! * a **peering** is a veth between the two router namespaces (only while active);
//! * an **internet gateway** is a veth from the router to the outside namespace (the
//!   stand-in for the internet), with 1:1 NAT of public IPs in the router.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use cove_model::lookup::index_u32;
use cove_model::{
    EniId, EniOwner, Network, PeeringId, PeeringStatus, RouteDestination, RouteTarget, VpcId,
};
use ipnet::Ipv4Net;

use crate::names::{Names, short_hash, valid_prefix};
use crate::nft;
use crate::state::{
    Address, DevName, HostState, NsState, Route, RouteKind, Rule, RuleSelector, VethEnd, VethPair,
};

/// Routing table holding the routes to the VPC's own addresses (ENI /32s, and a
/// blackhole for the rest of each VPC block).
pub const TABLE_LOCAL: u32 = 100;
/// Table id of a VPC's route table number `j` is `TABLE_ROUTE_BASE + j`.
pub const TABLE_ROUTE_BASE: u32 = 1000;
/// Priority of the `to <VPC CIDR>` rules (the implicit local route wins first).
pub const RULE_PRIORITY_LOCAL: u32 = 1000;
/// Priority of the `fwmark <table>` rules (the subnet's route table, chosen by the
/// mark the router's firewall puts on packets from ENI links).
pub const RULE_PRIORITY_SUBNET: u32 = 2000;
/// Router end of every internet-gateway link.
pub const IGW_ROUTER_IP: Ipv4Addr = Ipv4Addr::new(169, 254, 255, 1);
/// Outside end of every internet-gateway link.
pub const IGW_OUTSIDE_IP: Ipv4Addr = Ipv4Addr::new(169, 254, 255, 2);
/// Router end of every gateway-endpoint link.
pub const ENDPOINT_ROUTER_IP: Ipv4Addr = Ipv4Addr::new(169, 254, 254, 1);
/// Services end of every gateway-endpoint link.
pub const ENDPOINT_SERVICES_IP: Ipv4Addr = Ipv4Addr::new(169, 254, 254, 2);
/// Peering link `k` uses 169.254.0.0 + 2k (requester) and + 2k + 1 (accepter).
const PEERING_LINK_BASE: u32 = 0xA9FE_0000;
/// Peering links that fit below the internet-gateway link addresses.
pub const MAX_PEERING_LINKS: usize = 32_000;

/// Why a network cannot be laid out in the kernel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The deployment prefix is not usable in namespace names.
    #[error(
        "prefix `{prefix}` is not usable: use 1-12 characters a-z and 0-9 (e.g. --prefix cove)"
    )]
    InvalidPrefix {
        /// What was given.
        prefix: String,
    },
    /// Two resources hash to the same kernel name.
    #[error("kernel name {name} would be used by both {first} and {second}; rename one of them")]
    NameCollision {
        /// The kernel name.
        name: String,
        /// One resource.
        first: String,
        /// The other.
        second: String,
    },
    /// More active peerings than link addresses.
    #[error("{count} active peerings exceed the {max} peering links cove can address")]
    TooManyPeerings {
        /// Active peerings.
        count: usize,
        /// The limit.
        max: usize,
    },
}

fn host(ip: Ipv4Addr) -> Ipv4Net {
    Ipv4Net::new(ip, 32).unwrap_or_default()
}

fn dev(name: &str) -> DevName {
    DevName::new(name).unwrap_or_else(|| DevName::new("invalid").unwrap_or(DEV_LO))
}

const DEV_LO: DevName = {
    let mut b = [0u8; 16];
    b[0] = b'l';
    b[1] = b'o';
    DevName::from_bytes(b)
};

/// A locally administered unicast MAC derived from the ENI's path.
fn eni_mac(net: &Network, e: EniId) -> [u8; 6] {
    let eni = &net.enis[e.index()];
    let h = short_hash("mac", &format!("{}/{}", net.vpc_path(eni.vpc), eni.name));
    let mut mac = [0x02, 0, 0, 0, 0, 0];
    for (i, byte) in mac.iter_mut().skip(1).enumerate().take(4) {
        *byte = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap_or(0);
    }
    mac[5] = 0x01;
    mac
}

/// The ENI's MAC as nft writes it (`02:aa:bb:cc:dd:01`).
pub fn eni_mac_text(net: &Network, e: EniId) -> String {
    eni_mac(net, e)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The subnet router address (`.1`) of an ENI's subnet.
pub fn subnet_router(net: &Network, e: EniId) -> Ipv4Addr {
    let s = &net.subnets[net.enis[e.index()].subnet.index()];
    Ipv4Addr::from(u32::from(s.cidr.network()) + 1)
}

/// The addresses of peering link `k`: (requester end, accepter end).
fn peering_addresses(k: usize) -> (Ipv4Addr, Ipv4Addr) {
    let base = PEERING_LINK_BASE + 2 * index_u32(k);
    (Ipv4Addr::from(base), Ipv4Addr::from(base + 1))
}

struct Builder<'n> {
    net: &'n Network,
    names: Names<'n>,
    state: HostState,
    owners: BTreeMap<String, String>,
    /// Active peerings, in name order, with their link index.
    peering_index: BTreeMap<PeeringId, usize>,
}

/// The kernel state that realizes `net` under `prefix`.
pub fn desired(net: &Network, prefix: &str) -> Result<HostState, PlanError> {
    if !valid_prefix(prefix) {
        return Err(PlanError::InvalidPrefix {
            prefix: prefix.to_owned(),
        });
    }
    let mut active: Vec<(String, PeeringId)> = net
        .peerings
        .iter()
        .enumerate()
        .filter(|(_, p)| p.status == PeeringStatus::Active)
        .map(|(i, p)| (p.name.clone(), PeeringId(index_u32(i))))
        .collect();
    active.sort();
    if active.len() > MAX_PEERING_LINKS {
        return Err(PlanError::TooManyPeerings {
            count: active.len(),
            max: MAX_PEERING_LINKS,
        });
    }
    let mut b = Builder {
        net,
        names: Names::new(net, prefix),
        state: HostState::default(),
        owners: BTreeMap::new(),
        peering_index: active
            .iter()
            .enumerate()
            .map(|(k, (_, p))| (*p, k))
            .collect(),
    };
    if net.vpcs.iter().any(|v| v.internet_gateway.is_some()) {
        b.outside()?;
    }
    for v in 0..net.vpcs.len() {
        b.vpc(VpcId(index_u32(v)))?;
    }
    for (_, p) in &active {
        b.peering(*p)?;
    }
    for v in 0..net.vpcs.len() {
        b.firewall(VpcId(index_u32(v)));
    }
    Ok(b.state)
}

impl Builder<'_> {
    fn ns(&mut self, name: &str, owner: &str) -> Result<&mut NsState, PlanError> {
        if let Some(first) = self.owners.get(name) {
            if first != owner {
                return Err(PlanError::NameCollision {
                    name: name.to_owned(),
                    first: first.clone(),
                    second: owner.to_owned(),
                });
            }
        } else {
            self.owners.insert(name.to_owned(), owner.to_owned());
        }
        Ok(self.state.namespaces.entry(name.to_owned()).or_default())
    }

    fn existing(&mut self, name: &str) -> &mut NsState {
        self.state.namespaces.entry(name.to_owned()).or_default()
    }

    fn veth(&mut self, a: VethEnd, b: VethEnd) -> Result<(), PlanError> {
        for end in [&a, &b] {
            let ns = self.existing(&end.ns);
            if !ns.links.insert(end.name.clone()) {
                return Err(PlanError::NameCollision {
                    name: format!("{}:{}", end.ns, end.name),
                    first: "one link".to_owned(),
                    second: "another link".to_owned(),
                });
            }
        }
        self.state.veths.insert(VethPair { a, b });
        Ok(())
    }

    fn outside(&mut self) -> Result<(), PlanError> {
        let name = self.names.outside_ns();
        let internet = self.net.internet_stand_in();
        let ns = self.ns(&name, "the outside network")?;
        ns.forwarding = true;
        ns.addresses.insert(Address {
            dev: DEV_LO,
            addr: host(internet),
        });
        Ok(())
    }

    fn vpc(&mut self, v: VpcId) -> Result<(), PlanError> {
        let net = self.net;
        let vpc = &net.vpcs[v.index()];
        let router = self.names.router_ns(v);
        let ns = self.ns(&router, &format!("VPC {}", net.vpc_path(v)))?;
        ns.forwarding = true;
        for s in &vpc.subnets {
            let cidr = net.subnets[s.index()].cidr;
            ns.addresses.insert(Address {
                dev: DEV_LO,
                addr: host(Ipv4Addr::from(u32::from(cidr.network()) + 1)),
            });
        }
        for (i, cidr) in vpc.cidrs.iter().enumerate() {
            ns.rules.insert(Rule {
                priority: RULE_PRIORITY_LOCAL + index_u32(i),
                selector: RuleSelector::To(*cidr),
                table: TABLE_LOCAL,
            });
            ns.routes.insert(Route {
                table: TABLE_LOCAL,
                dst: *cidr,
                kind: RouteKind::Blackhole,
            });
        }
        for e in &vpc.enis {
            self.eni(*e)?;
        }
        if vpc.internet_gateway.is_some() {
            self.igw(v)?;
        }
        self.gateway_endpoints(v)?;
        for (j, t) in vpc.route_tables.iter().enumerate() {
            let table = TABLE_ROUTE_BASE + index_u32(j);
            let routes = self.route_table_routes(v, *t, table);
            let r = self.existing(&router);
            r.routes.extend(routes);
            // The router's firewall marks each packet from an ENI link with the table
            // of the link's subnet (`link_table`); one rule per table, not per ENI.
            r.rules.insert(Rule {
                priority: RULE_PRIORITY_SUBNET,
                selector: RuleSelector::Fwmark(table),
                table,
            });
        }
        Ok(())
    }

    fn eni(&mut self, e: EniId) -> Result<(), PlanError> {
        let net = self.net;
        let eni = &net.enis[e.index()];
        let name = self.names.eni_ns(e);
        let router = self.names.router_ns(eni.vpc);
        let link = self.names.eni_router_link(e);
        let gw = subnet_router(net, e);
        let is_nat = matches!(eni.owner, EniOwner::NatGateway(_));
        let ns = self.ns(&name, &format!("ENI {}", net.eni_label(e)))?;
        ns.forwarding = is_nat;
        ns.addresses.insert(Address {
            dev: dev("eth0"),
            addr: host(eni.private_ip),
        });
        ns.routes.insert(Route {
            table: 254,
            dst: Ipv4Net::default(),
            kind: RouteKind::Via {
                gateway: gw,
                dev: dev("eth0"),
            },
        });
        if let EniOwner::NatGateway(n) = eni.owner {
            let nat = &net.nat_gateways[n.index()];
            debug_assert_eq!(nat.eni, e);
            ns.nft = Some(nft::nat_gateway_table(eni.private_ip));
        }
        self.veth(
            VethEnd {
                ns: name,
                name: self.names.eni_link().to_owned(),
                mac: Some(eni_mac(net, e)),
            },
            VethEnd {
                ns: router.clone(),
                name: link.clone(),
                mac: None,
            },
        )?;
        let r = self.existing(&router);
        r.routes.insert(Route {
            table: TABLE_LOCAL,
            dst: host(eni.private_ip),
            kind: RouteKind::Dev { dev: dev(&link) },
        });
        Ok(())
    }

    fn igw(&mut self, v: VpcId) -> Result<(), PlanError> {
        let net = self.net;
        let router = self.names.router_ns(v);
        let outside = self.names.outside_ns();
        let link = self.names.igw_outside_link(v);
        self.veth(
            VethEnd {
                ns: router.clone(),
                name: self.names.igw_router_link().to_owned(),
                mac: None,
            },
            VethEnd {
                ns: outside.clone(),
                name: link.clone(),
                mac: None,
            },
        )?;
        self.existing(&router).addresses.insert(Address {
            dev: dev("igw0"),
            addr: host(IGW_ROUTER_IP),
        });
        let o = self.existing(&outside);
        o.addresses.insert(Address {
            dev: dev(&link),
            addr: host(IGW_OUTSIDE_IP),
        });
        let vpc = &net.vpcs[v.index()];
        let publics = vpc
            .enis
            .iter()
            .filter_map(|e| net.enis[e.index()].public_ip)
            .chain(
                vpc.nat_gateways
                    .iter()
                    .flat_map(|n| net.nat_gateways[n.index()].public_ips.iter().copied()),
            );
        for ip in publics {
            o.routes.insert(Route {
                table: 254,
                dst: host(ip),
                kind: RouteKind::Via {
                    gateway: IGW_ROUTER_IP,
                    dev: dev(&link),
                },
            });
        }
        Ok(())
    }

    /// The services behind the VPC's gateway endpoints: a namespace that owns every
    /// address of the endpoints' prefix lists (an address with the CIDR's length on
    /// `lo` makes the whole CIDR local), linked to the router.
    fn gateway_endpoints(&mut self, v: VpcId) -> Result<(), PlanError> {
        let net = self.net;
        let vpc = &net.vpcs[v.index()];
        let cidrs: std::collections::BTreeSet<Ipv4Net> = vpc
            .endpoints
            .iter()
            .filter_map(|e| match &net.endpoints[e.index()].kind {
                cove_model::EndpointKind::Gateway { prefix_list, .. } => {
                    Some(net.prefix_lists[prefix_list.index()].cidrs.clone())
                }
                cove_model::EndpointKind::Interface { .. } => None,
            })
            .flatten()
            .collect();
        if cidrs.is_empty() {
            return Ok(());
        }
        let router = self.names.router_ns(v);
        let services = self.names.services_ns(v);
        let link = self.names.endpoint_services_link(v);
        let ns = self.ns(&services, &format!("services of VPC {}", net.vpc_path(v)))?;
        for c in &cidrs {
            let first = if c.prefix_len() >= 31 {
                c.network()
            } else {
                Ipv4Addr::from(u32::from(c.network()) + 1)
            };
            ns.addresses.insert(Address {
                dev: DEV_LO,
                addr: Ipv4Net::new(first, c.prefix_len()).unwrap_or_default(),
            });
        }
        for b in &vpc.cidrs {
            ns.routes.insert(Route {
                table: 254,
                dst: *b,
                kind: RouteKind::Via {
                    gateway: ENDPOINT_ROUTER_IP,
                    dev: dev(&link),
                },
            });
        }
        self.veth(
            VethEnd {
                ns: router.clone(),
                name: self.names.endpoint_router_link().to_owned(),
                mac: None,
            },
            VethEnd {
                ns: services.clone(),
                name: link.clone(),
                mac: None,
            },
        )?;
        let router_link = dev(self.names.endpoint_router_link());
        self.existing(&router).addresses.insert(Address {
            dev: router_link,
            addr: host(ENDPOINT_ROUTER_IP),
        });
        self.existing(&services).addresses.insert(Address {
            dev: dev(&link),
            addr: host(ENDPOINT_SERVICES_IP),
        });
        Ok(())
    }

    fn peering(&mut self, p: PeeringId) -> Result<(), PlanError> {
        let net = self.net;
        let peering = &net.peerings[p.index()];
        let k = self.peering_index.get(&p).copied().unwrap_or_default();
        let (ra, aa) = peering_addresses(k);
        let rq = self.names.router_ns(peering.requester);
        let ac = self.names.router_ns(peering.accepter);
        let la = self.names.peering_link_requester(p);
        let lb = self.names.peering_link_accepter(p);
        self.veth(
            VethEnd {
                ns: rq.clone(),
                name: la.clone(),
                mac: None,
            },
            VethEnd {
                ns: ac.clone(),
                name: lb.clone(),
                mac: None,
            },
        )?;
        self.existing(&rq).addresses.insert(Address {
            dev: dev(&la),
            addr: host(ra),
        });
        self.existing(&ac).addresses.insert(Address {
            dev: dev(&lb),
            addr: host(aa),
        });
        Ok(())
    }

    /// The kernel routes of one route table: every route but `local` (the local
    /// rule handles those), prefix lists expanded, and for each CIDR only the route
    /// AWS would pick (a static route beats a prefix-list route of the same CIDR).
    fn route_table_routes(&self, v: VpcId, t: cove_model::RouteTableId, table: u32) -> Vec<Route> {
        let net = self.net;
        let mut best: BTreeMap<Ipv4Net, (u8, usize, RouteKind)> = BTreeMap::new();
        for (i, r) in net.route_tables[t.index()].routes.iter().enumerate() {
            if r.target == RouteTarget::Local {
                continue;
            }
            let (rank, cidrs): (u8, &[Ipv4Net]) = match &r.destination {
                RouteDestination::Cidr(c) => (1, std::slice::from_ref(c)),
                RouteDestination::PrefixList(p) => (2, &net.prefix_lists[p.index()].cidrs),
            };
            let kind = self.route_kind(v, &r.target);
            for c in cidrs {
                let better = best.get(c).is_none_or(|(r0, i0, _)| (rank, i) < (*r0, *i0));
                if better {
                    best.insert(*c, (rank, i, kind));
                }
            }
        }
        best.into_iter()
            .map(|(dst, (_, _, kind))| Route { table, dst, kind })
            .collect()
    }

    fn route_kind(&self, v: VpcId, target: &RouteTarget) -> RouteKind {
        let net = self.net;
        match target {
            RouteTarget::Peering(p) => {
                let peering = &net.peerings[p.index()];
                match (self.peering_index.get(p), peering.peer_of(v)) {
                    (Some(k), Some(_)) => {
                        let (ra, aa) = peering_addresses(*k);
                        if peering.requester == v {
                            RouteKind::Via {
                                gateway: aa,
                                dev: dev(&self.names.peering_link_requester(*p)),
                            }
                        } else {
                            RouteKind::Via {
                                gateway: ra,
                                dev: dev(&self.names.peering_link_accepter(*p)),
                            }
                        }
                    }
                    _ => RouteKind::Blackhole,
                }
            }
            RouteTarget::NatGateway(n) => {
                let nat = &net.nat_gateways[n.index()];
                RouteKind::Via {
                    gateway: net.enis[nat.eni.index()].private_ip,
                    dev: dev(&self.names.eni_router_link(nat.eni)),
                }
            }
            RouteTarget::InternetGateway(_) => RouteKind::Via {
                gateway: IGW_OUTSIDE_IP,
                dev: dev(self.names.igw_router_link()),
            },
            RouteTarget::GatewayEndpoint(_) => RouteKind::Via {
                gateway: ENDPOINT_SERVICES_IP,
                dev: dev(self.names.endpoint_router_link()),
            },
            // Unmodeled targets and blackholes drop.
            RouteTarget::Blackhole | RouteTarget::Unmodeled(_) | RouteTarget::Local => {
                RouteKind::Blackhole
            }
        }
    }

    fn firewall(&mut self, v: VpcId) {
        let net = self.net;
        let router = self.names.router_ns(v);
        let table = nft::router_table(net, &self.names, v);
        self.existing(&router).nft = Some(table);
    }
}

/// The kernel routing table of an ENI's subnet's route table.
pub fn route_table_id(net: &Network, e: EniId) -> u32 {
    let eni = &net.enis[e.index()];
    let t = net.subnets[eni.subnet.index()].route_table;
    let vpc = &net.vpcs[eni.vpc.index()];
    let j = vpc.route_tables.iter().position(|x| *x == t).unwrap_or(0);
    TABLE_ROUTE_BASE + index_u32(j)
}
