//! A validated network → the kernel state that realizes it.
//!
//! Topology (see docs/ARCHITECTURE.md for the reasons):
//! * one **host router namespace** for every VPC (each VPC's implicit router):
//!   forwarding on, a point-to-point veth to every ENI (its subnet router address,
//!   `.1`, on the router's end), policy routing by mark (see [`crate::routing`])
//!   and one nftables table with every VPC's security groups and network ACLs;
//! * one **namespace per ENI** (workloads run there): `eth0` with the private IP as
//!   a /32 and a default route to the subnet router;
//! * a NAT gateway's ENI namespace forwards and source-translates to its address;
//! * an active **peering** is routes: a peering route sends packets straight to the
//!   peer VPC's ENI links, so a peered packet is forwarded once, like one inside a VPC;
//! * a function's **execution environments** each have a namespace with a
//!   link-local address and a link into the router, which sends their traffic
//!   through the function's shared ENI (see [`crate::environments`]);
//! * an **internet gateway** is a veth from the router to the outside namespace (the
//!   stand-in for the internet), with 1:1 NAT of public IPs in the router.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use cove_model::lookup::index_u32;
use cove_model::{EniId, EniOwner, Network, VpcId};
use ipnet::Ipv4Net;

use crate::environments::{
    ENV_GATEWAY, ENV_RANGE, ENV_TABLE, Environment, MAX_ENVIRONMENTS, environments,
};
use crate::names::{Names, short_hash, valid_prefix};
use crate::nft;
use crate::routing::{
    ENDPOINT_ROUTER_IP, ENDPOINT_SERVICES_IP, IGW_OUTSIDE_IP, IGW_ROUTER_IP, MARK_VPC_MASK,
    MAX_ROUTE_TABLES, MAX_VPCS, MAX_ZONES, PeerHost, RULE_PRIORITY_ENVIRONMENTS,
    RULE_PRIORITY_LOCAL, RULE_PRIORITY_SUBNET, RULE_PRIORITY_UNROUTED, dev, host, route_table,
    route_table_mark, vpc_mark,
};
use crate::state::{
    Address, DevName, HostState, LinkSettings, NsState, Route, RouteKind, Rule, RuleSelector,
    VETH_MTU, VethEnd, VethPair,
};

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
    /// More VPCs than the host router's marks can tell apart.
    #[error("{count} VPCs exceed the {max} one host router can hold; split the spec")]
    TooManyVpcs {
        /// VPCs in the spec.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// More VPCs and active peerings than conntrack zones.
    #[error(
        "{count} VPCs and active peerings exceed the {max} conntrack zones of one host router; split the spec"
    )]
    TooManyZones {
        /// VPCs plus active peerings.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// More execution environments than the router has link-local addresses for.
    #[error(
        "{count} execution environments exceed the {max} one host router can address; lower functions' `concurrency` or split the spec"
    )]
    TooManyEnvironments {
        /// Environments the functions' concurrency asks for.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// More route tables in one VPC than its marks can tell apart.
    #[error("VPC {vpc} has {count} route tables, more than the {max} cove can route")]
    TooManyRouteTables {
        /// The VPC's path.
        vpc: String,
        /// Its route tables.
        count: usize,
        /// The limit.
        max: usize,
    },
}

const DEV_LO: DevName = DevName::LO;

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

/// The default route of an ENI's or an environment's namespace: via `gateway` on
/// `eth0` (onlink: the namespace's own address is a /32).
fn default_via(gateway: Ipv4Addr) -> Route {
    Route {
        proto: crate::state::ROUTE_PROTO_STATIC,
        table: 254,
        dst: Ipv4Net::default(),
        kind: RouteKind::Via {
            gateway,
            dev: dev("eth0"),
        },
    }
}

/// An endpoint ENI's namespace linked to an endpoint service: it forwards, routes
/// by the connection's direction (see [`crate::privatelink`]), and its table is the front's.
fn linked_endpoint(
    ns: &mut NsState,
    net: &Network,
    front: EniId,
    link: &cove_model::privatelink::ServiceLink,
    consumer_gw: Ipv4Addr,
) {
    use crate::privatelink::{
        FRONT_LINK, MARK_TO_CONSUMER, MARK_TO_PROVIDER, RULE_PRIORITY_BY_DIRECTION,
        TO_CONSUMER_TABLE, TO_PROVIDER_TABLE,
    };
    ns.local_rule_last = true;
    let via = |table: u32, gateway: Ipv4Addr, link: &str| Route {
        proto: crate::state::ROUTE_PROTO_STATIC,
        table,
        dst: Ipv4Net::default(),
        kind: RouteKind::Via {
            gateway,
            dev: dev(link),
        },
    };
    ns.routes.insert(via(
        TO_PROVIDER_TABLE,
        subnet_router(net, front),
        FRONT_LINK,
    ));
    ns.routes
        .insert(via(TO_CONSUMER_TABLE, consumer_gw, "eth0"));
    for (mark, table) in [
        (MARK_TO_PROVIDER, TO_PROVIDER_TABLE),
        (MARK_TO_CONSUMER, TO_CONSUMER_TABLE),
    ] {
        ns.rules.insert(Rule {
            priority: RULE_PRIORITY_BY_DIRECTION,
            selector: RuleSelector::Fwmark(mark),
            table,
        });
    }
    ns.nft = Some(crate::privatelink::endpoint_table(
        net,
        link,
        net.enis[front.index()].private_ip,
    ));
}

struct Builder<'n> {
    net: &'n Network,
    names: Names<'n>,
    state: HostState,
    owners: std::collections::BTreeMap<String, String>,
    /// The peer ENIs each route table reaches (its mark, the ENI), for the
    /// firewall's `peer_zone` map: route tables are expanded once, here.
    peer_hosts: Vec<(u32, PeerHost)>,
    /// Every function's execution environments.
    envs: Vec<Environment>,
    /// Linked endpoint ENIs and their fronts (PrivateLink).
    fronts: crate::privatelink::Fronts<'n>,
}

/// The kernel state that realizes `net` under `prefix`.
pub fn desired(net: &Network, prefix: &str) -> Result<HostState, PlanError> {
    if !valid_prefix(prefix) {
        return Err(PlanError::InvalidPrefix {
            prefix: prefix.to_owned(),
        });
    }
    if net.vpcs.len() > MAX_VPCS {
        return Err(PlanError::TooManyVpcs {
            count: net.vpcs.len(),
            max: MAX_VPCS,
        });
    }
    for (v, vpc) in net.vpcs.iter().enumerate() {
        if vpc.route_tables.len() > MAX_ROUTE_TABLES {
            return Err(PlanError::TooManyRouteTables {
                vpc: net.vpc_path(VpcId(index_u32(v))),
                count: vpc.route_tables.len(),
                max: MAX_ROUTE_TABLES,
            });
        }
    }
    let zones = net.vpcs.len()
        + net
            .peerings
            .iter()
            .filter(|p| p.status == cove_model::PeeringStatus::Active)
            .count();
    if zones > MAX_ZONES {
        return Err(PlanError::TooManyZones {
            count: zones,
            max: MAX_ZONES,
        });
    }
    let names = Names::new(net, prefix);
    let envs = environments(net, &names).map_err(|count| PlanError::TooManyEnvironments {
        count,
        max: MAX_ENVIRONMENTS,
    })?;
    let mut b = Builder {
        net,
        names,
        state: HostState::default(),
        owners: std::collections::BTreeMap::new(),
        peer_hosts: Vec::new(),
        envs,
        fronts: crate::privatelink::Fronts::of(net),
    };
    if net.vpcs.iter().any(|v| v.internet_gateway.is_some()) {
        b.outside()?;
    }
    if !net.vpcs.is_empty() {
        let router = b.names.router_ns();
        let r = b.ns(&router, "the host router")?;
        r.forwarding = true;
        r.local_rule_last = true;
    }
    for v in 0..net.vpcs.len() {
        b.vpc(VpcId(index_u32(v)))?;
    }
    for i in 0..b.envs.len() {
        b.environment(i)?;
    }
    if !net.vpcs.is_empty() {
        let router = b.names.router_ns();
        let table = nft::router_table(net, &b.names, &b.peer_hosts, &b.envs);
        b.existing(&router).nft = Some(table);
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
            ns.link_settings.insert(
                end.name.clone(),
                LinkSettings {
                    mac: end.mac,
                    mtu: VETH_MTU,
                },
            );
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
        let router = self.names.router_ns();
        let local = vpc_mark(v);
        let ns = self.existing(&router);
        // Whatever the VPC's route tables do not route is dropped here, silently
        // (as AWS does), before the kernel's `lookup local` and `main`.
        ns.rules.insert(Rule {
            priority: RULE_PRIORITY_UNROUTED,
            selector: RuleSelector::ToMarked {
                to: Ipv4Net::default(),
                mark: local,
                mask: MARK_VPC_MASK,
            },
            table: local,
        });
        ns.routes.insert(Route {
            proto: crate::state::ROUTE_PROTO_STATIC,
            table: local,
            dst: Ipv4Net::default(),
            kind: RouteKind::Blackhole,
        });
        for cidr in &vpc.cidrs {
            ns.rules.insert(Rule {
                priority: RULE_PRIORITY_LOCAL,
                selector: RuleSelector::ToMarked {
                    to: *cidr,
                    mark: local,
                    mask: MARK_VPC_MASK,
                },
                table: local,
            });
            ns.routes.insert(Route {
                proto: crate::state::ROUTE_PROTO_STATIC,
                table: local,
                dst: *cidr,
                kind: RouteKind::Blackhole,
            });
        }
        // The VPC's resolver (see `crate::resolver`): local to the router for
        // this VPC's packets only.
        for ip in crate::resolver::resolver_addresses(net, v) {
            ns.routes.insert(Route {
                proto: crate::state::ROUTE_PROTO_STATIC,
                table: local,
                dst: host(ip),
                kind: RouteKind::Local { dev: DEV_LO },
            });
            if !vpc.cidrs.iter().any(|c| c.contains(&ip)) {
                ns.rules.insert(Rule {
                    priority: RULE_PRIORITY_LOCAL,
                    selector: RuleSelector::ToMarked {
                        to: host(ip),
                        mark: local,
                        mask: MARK_VPC_MASK,
                    },
                    table: local,
                });
            }
        }
        for e in &vpc.enis {
            if net.enis[e.index()].owner != EniOwner::Shared {
                self.eni(*e)?;
            }
        }
        if vpc.internet_gateway.is_some() {
            self.igw(v)?;
        }
        self.gateway_endpoints(v)?;
        for j in 0..vpc.route_tables.len() {
            let table = route_table_mark(v, j);
            let expanded = route_table(net, &self.names, v, j);
            self.peer_hosts
                .extend(expanded.peer_hosts.into_iter().map(|h| (table, h)));
            let r = self.existing(&router);
            r.routes.extend(expanded.routes);
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
        let router = self.names.router_ns();
        let link = self.names.eni_router_link(e);
        let gw = subnet_router(net, e);
        let is_nat = matches!(eni.owner, EniOwner::NatGateway(_));
        // A PrivateLink front lives in its endpoint ENI's namespace, as `eth1`.
        let front_home = self.fronts.endpoint_eni_of(e);
        let linked = self.fronts.front_of(e);
        let (name, inner) = match front_home {
            Some(home) => (self.names.eni_ns(home), crate::privatelink::FRONT_LINK),
            None => (name, self.names.eni_link()),
        };
        let ns = match front_home {
            Some(_) => self.existing(&name),
            None => self.ns(&name, &format!("ENI {}", net.eni_label(e)))?,
        };
        ns.addresses.insert(Address {
            dev: dev(inner),
            addr: host(eni.private_ip),
        });
        if front_home.is_none() {
            ns.forwarding = is_nat || linked.is_some();
            ns.routes.insert(default_via(gw));
        }
        if let Some((front, link)) = linked {
            linked_endpoint(ns, net, front, link, gw);
        }
        let mut secondary: &[Ipv4Addr] = &[];
        if let EniOwner::NatGateway(n) = eni.owner {
            let nat = &net.nat_gateways[n.index()];
            debug_assert_eq!(nat.eni, e);
            secondary = &nat.secondary_ips;
            for ip in secondary {
                ns.addresses.insert(Address {
                    dev: dev("eth0"),
                    addr: host(*ip),
                });
            }
            // A failed partner's addresses, while this gateway carries them.
            for g in net.nat_gateways.iter().filter(|g| g.carried_by == Some(n)) {
                for ip in g.private_ips(net.enis[g.eni.index()].private_ip) {
                    ns.addresses.insert(Address {
                        dev: dev("eth0"),
                        addr: host(ip),
                    });
                }
            }
            let partner = nat.partner.map(|p| {
                let pg = &net.nat_gateways[p.index()];
                nft::Partner {
                    addresses: pg.private_ips(net.enis[pg.eni.index()].private_ip),
                    sources: crate::routing::nat_sources(net, p),
                }
            });
            ns.nft = Some(nft::nat_gateway_table(
                eni.private_ip,
                secondary,
                partner.as_ref(),
            ));
        }
        self.veth(
            VethEnd {
                ns: name,
                name: inner.to_owned(),
                mac: Some(eni_mac(net, e)),
            },
            VethEnd {
                ns: router.clone(),
                name: link.clone(),
                mac: None,
            },
        )?;
        // A NAT gateway's addresses are reached through its partner's link while
        // the partner carries them.
        let carrier_link = match eni.owner {
            EniOwner::NatGateway(n) => crate::routing::nat_link(net, &self.names, n),
            _ => link.clone(),
        };
        let r = self.existing(&router);
        for ip in std::iter::once(&eni.private_ip).chain(secondary) {
            r.routes.insert(Route {
                proto: crate::state::ROUTE_PROTO_STATIC,
                table: vpc_mark(eni.vpc),
                dst: host(*ip),
                kind: RouteKind::Dev {
                    dev: dev(&carrier_link),
                },
            });
        }
        // The subnet router address on the router's end of the link: the ENI's
        // gateway answers ARP there, and what the router itself sends on the link
        // (ARP, ICMP errors) comes from it, never from another VPC's address.
        r.addresses.insert(Address {
            dev: dev(&link),
            addr: host(gw),
        });
        Ok(())
    }

    /// An execution environment: its namespace (the link-local address, a default
    /// route to the router), its link into the router, and the router's route back
    /// to it in [`ENV_TABLE`] (which only translated replies reach). The router's
    /// rule for that table is written once, with the first environment.
    fn environment(&mut self, i: usize) -> Result<(), PlanError> {
        let net = self.net;
        let env = self.envs[i].clone();
        let router = self.names.router_ns();
        let f = &net.functions[env.function.index()];
        let ns = self.ns(
            &env.ns,
            &format!("environment {} of function {}", env.index, f.name),
        )?;
        ns.addresses.insert(Address {
            dev: dev("eth0"),
            addr: host(env.address),
        });
        ns.routes.insert(default_via(ENV_GATEWAY));
        self.veth(
            VethEnd {
                ns: env.ns.clone(),
                name: self.names.eni_link().to_owned(),
                mac: Some(env.mac),
            },
            VethEnd {
                ns: router.clone(),
                name: env.router_link.clone(),
                mac: None,
            },
        )?;
        let r = self.existing(&router);
        r.rules.insert(Rule {
            priority: RULE_PRIORITY_ENVIRONMENTS,
            selector: RuleSelector::To(ENV_RANGE),
            table: ENV_TABLE,
        });
        r.routes.insert(Route {
            proto: crate::state::ROUTE_PROTO_STATIC,
            table: ENV_TABLE,
            dst: host(env.address),
            kind: RouteKind::Dev {
                dev: dev(&env.router_link),
            },
        });
        // The gateway address on the router's end: the environment's ARP for its
        // gateway is answered there.
        r.addresses.insert(Address {
            dev: dev(&env.router_link),
            addr: host(ENV_GATEWAY),
        });
        Ok(())
    }

    fn igw(&mut self, v: VpcId) -> Result<(), PlanError> {
        let net = self.net;
        let router = self.names.router_ns();
        let outside = self.names.outside_ns();
        let link = self.names.igw_outside_link(v);
        let router_link = self.names.igw_router_link(v);
        self.veth(
            VethEnd {
                ns: router.clone(),
                name: router_link.clone(),
                mac: None,
            },
            VethEnd {
                ns: outside.clone(),
                name: link.clone(),
                mac: None,
            },
        )?;
        self.existing(&router).addresses.insert(Address {
            dev: dev(&router_link),
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
                proto: crate::state::ROUTE_PROTO_STATIC,
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
        let cidrs: BTreeSet<Ipv4Net> = vpc
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
        let router = self.names.router_ns();
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
                proto: crate::state::ROUTE_PROTO_STATIC,
                table: 254,
                dst: *b,
                kind: RouteKind::Via {
                    gateway: ENDPOINT_ROUTER_IP,
                    dev: dev(&link),
                },
            });
        }
        let router_link = self.names.endpoint_router_link(v);
        self.veth(
            VethEnd {
                ns: router.clone(),
                name: router_link.clone(),
                mac: None,
            },
            VethEnd {
                ns: services.clone(),
                name: link.clone(),
                mac: None,
            },
        )?;
        self.existing(&router).addresses.insert(Address {
            dev: dev(&router_link),
            addr: host(ENDPOINT_ROUTER_IP),
        });
        self.existing(&services).addresses.insert(Address {
            dev: dev(&link),
            addr: host(ENDPOINT_SERVICES_IP),
        });
        Ok(())
    }
}
