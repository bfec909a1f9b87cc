//! Where a tracked connection's packets passed: the router tracks each VPC's
//! connections in the VPC's zone and each active peering's in the peering's
//! (`cove_plan::zones`), so an address in a zone names one ENI — or one function
//! environment, which sends through its shared ENI.
//!
//! A connection from A to B is seen four times, as AWS logs it: at A leaving
//! (egress, A → B) and at B arriving (ingress), for the original direction; at B
//! leaving and at A arriving, for the replies. Each interface sees the addresses
//! it sends or receives: the destination's record carries the translated
//! addresses (a public IP's 1:1 NAT), the source's the original ones.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use cove_model::lookup::index_u32;
use cove_model::{EniId, FunctionId, Network, PeeringId, PeeringStatus, VpcId};
use cove_plan::names::Names;
use cove_plan::zones::Zones;

use crate::ct::{Counts, Moved, tcp_state};

/// A packet's direction at an interface (AWS's `flow-direction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Arriving.
    Ingress,
    /// Leaving.
    Egress,
}

impl Direction {
    /// `ingress` or `egress`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// How a connection's traffic goes, for metering: within the VPC, over a
/// peering, to an endpoint, or out to the internet through a NAT gateway or the
/// internet gateway (an ENI's public IP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathKind {
    /// Between interfaces of one VPC.
    IntraVpc,
    /// Over a VPC peering.
    Peering,
    /// To an interface or gateway endpoint (PrivateLink, AWS services).
    Endpoint,
    /// To the internet through a NAT gateway.
    NatGateway,
    /// To the internet through the internet gateway (1:1 NAT of a public IP).
    InternetGateway,
}

impl PathKind {
    /// Every kind.
    pub const ALL: [PathKind; 5] = [
        PathKind::IntraVpc,
        PathKind::Peering,
        PathKind::Endpoint,
        PathKind::NatGateway,
        PathKind::InternetGateway,
    ];

    /// `intra-vpc`, `peering`, `endpoint`, `nat-gateway`, `internet-gateway`.
    pub fn as_str(self) -> &'static str {
        match self {
            PathKind::IntraVpc => "intra-vpc",
            PathKind::Peering => "peering",
            PathKind::Endpoint => "endpoint",
            PathKind::NatGateway => "nat-gateway",
            PathKind::InternetGateway => "internet-gateway",
        }
    }

    /// Whether it is private data transfer (over a peering or to an endpoint):
    /// what Secure Compute bills per GB.
    pub fn is_private(self) -> bool {
        matches!(self, PathKind::Peering | PathKind::Endpoint)
    }
}

/// What the zone of a tracked connection stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ZoneOwner {
    Vpc(VpcId),
    Peering(PeeringId),
}

/// An interface an address stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Interface {
    pub(crate) eni: EniId,
    pub(crate) function: Option<FunctionId>,
    /// Whether it is an endpoint's (interface endpoint or PrivateLink front).
    pub(crate) endpoint: bool,
    /// The function's environment (its index), for an environment's address.
    pub(crate) environment: Option<u32>,
}

/// What one interface saw of a connection since the last reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The ENI (a function environment's shared ENI).
    pub eni: EniId,
    /// The function whose environment sent or received it.
    pub function: Option<FunctionId>,
    /// Arriving or leaving.
    pub direction: Direction,
    /// IP protocol.
    pub proto: u8,
    /// Source as the interface saw it.
    pub src: SocketAddrV4,
    /// Destination as the interface saw it.
    pub dst: SocketAddrV4,
    /// The packet-level source (AWS's `pkt-srcaddr`): the source as its sender
    /// sent it; it differs from `src` at an intermediate interface (a NAT
    /// gateway's, where it is the client behind the gateway).
    pub pkt_src: Ipv4Addr,
    /// The packet-level destination (`pkt-dstaddr`).
    pub pkt_dst: Ipv4Addr,
    /// The source's address on the other side of a translation, where one
    /// happened (`cove-nat-srcaddr`): a client's NAT gateway or public IP as the
    /// far end sees it, or the private address behind a public one.
    pub nat_src: Option<Ipv4Addr>,
    /// The destination's address on the other side of a translation
    /// (`cove-nat-dstaddr`).
    pub nat_dst: Option<Ipv4Addr>,
    /// Packets and bytes.
    pub counts: Counts,
    /// TCP flags (AWS's `tcp-flags`: SYN 2, SYN-ACK 18, FIN 1, RST 4), as far as
    /// the connection's state tells them.
    pub tcp_flags: u8,
    /// AWS's `traffic-path` for egress (1 within the VPC, 4 over a peering).
    pub traffic_path: Option<u8>,
    /// When the connection started (Unix ms), if known.
    pub started_ms: Option<u64>,
    /// The function's execution environment (its index), where `function` is
    /// set.
    pub environment: Option<u32>,
    /// The invocation the environment was running when the connection started
    /// (`cove-invocation-id`), once the collector looked it up.
    pub invocation: Option<String>,
    /// How the connection goes (metering).
    pub path: PathKind,
    /// The connection this view is of, as the analyzer asks about it.
    pub connection: Connection,
    /// Whether these are the replies (the responder's packets).
    pub reply: bool,
}

/// A connection as the analyzer takes it: who opened it to whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    /// The initiator's ENI (`None`: an address outside every VPC).
    pub initiator: Option<EniId>,
    /// The responder's ENI (`None`: an address outside every VPC).
    pub responder: Option<EniId>,
    /// The original direction's source and destination.
    pub orig: (SocketAddrV4, SocketAddrV4),
}

/// Addresses to interfaces, for one network and deployment prefix.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    zones: HashMap<u16, ZoneOwner>,
    peers: HashMap<PeeringId, (VpcId, VpcId)>,
    enis: HashMap<(VpcId, Ipv4Addr), (EniId, bool)>,
    environments: HashMap<Ipv4Addr, Interface>,
    /// The router's end of each interface's link, by name.
    links: HashMap<String, Interface>,
    /// Each ENI's VPC.
    eni_vpc: Vec<VpcId>,
}

impl Directory {
    /// The directory of `net` deployed under `prefix`.
    pub fn new(net: &Network, prefix: &str) -> Directory {
        let zones = Zones::new(net);
        let mut d = Directory::default();
        for v in 0..net.vpcs.len() {
            let v = VpcId(index_u32(v));
            d.zones.insert(zones.vpc(v), ZoneOwner::Vpc(v));
        }
        for (i, p) in net.peerings.iter().enumerate() {
            if p.status == PeeringStatus::Active {
                let id = PeeringId(index_u32(i));
                d.zones.insert(zones.peering(id), ZoneOwner::Peering(id));
                d.peers.insert(id, (p.requester, p.accepter));
            }
        }
        let names = Names::new(net, prefix);
        for (i, e) in net.enis.iter().enumerate() {
            let eni = EniId(index_u32(i));
            let endpoint = matches!(
                e.owner,
                cove_model::EniOwner::Endpoint(_) | cove_model::EniOwner::Front(_)
            );
            d.enis.insert((e.vpc, e.private_ip), (eni, endpoint));
            d.eni_vpc.push(e.vpc);
            // A shared ENI has no link of its own (its environments have).
            if e.owner != cove_model::EniOwner::Shared {
                d.links.insert(
                    names.eni_router_link(eni),
                    Interface {
                        eni,
                        function: None,
                        endpoint,
                        environment: None,
                    },
                );
            }
        }
        // A NAT gateway also sends from its secondary addresses (one per public IP).
        for n in &net.nat_gateways {
            for ip in &n.secondary_ips {
                d.enis.insert((n.vpc, *ip), (n.eni, false));
            }
        }
        if let Ok(envs) = cove_plan::environments::environments(net, &names) {
            for env in envs {
                let i = Interface {
                    eni: env.shared_eni,
                    function: Some(env.function),
                    endpoint: false,
                    environment: Some(env.index),
                };
                d.environments.insert(env.address, i);
                d.links.insert(env.router_link, i);
            }
        }
        d
    }

    /// The interface whose link's router end is named `link`.
    pub(crate) fn link(&self, link: &str) -> Option<Interface> {
        self.links.get(link).copied()
    }

    /// The VPC of `eni`.
    pub(crate) fn vpc_of(&self, eni: EniId) -> Option<VpcId> {
        self.eni_vpc.get(eni.index()).copied()
    }

    /// The interface `addr` is in `zone`.
    fn interface(&self, zone: u16, addr: Ipv4Addr) -> Option<Interface> {
        if let Some(i) = self.environments.get(&addr) {
            return Some(*i);
        }
        let eni = |v: VpcId| self.enis.get(&(v, addr)).copied();
        let (found, endpoint) = match self.zones.get(&zone)? {
            ZoneOwner::Vpc(v) => eni(*v),
            ZoneOwner::Peering(p) => {
                let (a, b) = self.peers.get(p)?;
                eni(*a).or_else(|| eni(*b))
            }
        }?;
        Some(Interface {
            eni: found,
            function: None,
            endpoint,
            environment: None,
        })
    }

    /// Every interface's view of what `m` moved.
    pub fn seen(&self, m: &Moved) -> Vec<Seen> {
        let f = &m.flow;
        let zone = f.zone;
        let initiator = self.interface(zone, *f.orig.0.ip());
        // The responder has the address replies come from (after any DNAT).
        let responder = self.interface(zone, *f.reply.0.ip());
        // A function's environment sends from its link-local address, which the
        // router translates to its shared ENI's: at the shared ENI the
        // connection is the translated one (what the VPC sees), and that
        // translation is no NAT of the path.
        let from_env = initiator.is_some_and(|i| i.environment.is_some());
        let own = if from_env { f.reply.1 } else { f.orig.0 };
        let nat_src = (!from_env && f.reply.1.ip() != f.orig.0.ip()).then_some(*f.reply.1.ip());
        // Each address's counterpart across the router's translation (the
        // initiator's as the responder sees it, the responder's as the initiator
        // addressed it), `None` where nothing was translated.
        let across = |a: Ipv4Addr| -> Option<Ipv4Addr> {
            let pairs = [
                (*own.ip(), *f.reply.1.ip()),
                (*f.orig.1.ip(), *f.reply.0.ip()),
            ];
            pairs.iter().find_map(|(x, y)| {
                if x == y {
                    None
                } else if a == *x {
                    Some(*y)
                } else if a == *y {
                    Some(*x)
                } else {
                    None
                }
            })
        };
        let path = match (self.zones.get(&zone), responder) {
            (Some(ZoneOwner::Peering(_)), _) => Some(4),
            (Some(ZoneOwner::Vpc(_)), Some(_)) => Some(1),
            _ => None,
        };
        let kind = match (self.zones.get(&zone), responder) {
            (Some(ZoneOwner::Peering(_)), _) => PathKind::Peering,
            (_, Some(r)) if r.endpoint => PathKind::Endpoint,
            (_, Some(_)) => PathKind::IntraVpc,
            // Out of the VPC: the internet gateway translates in the router (the
            // reply comes back to the public IP), a NAT gateway in its own
            // namespace.
            (_, None) if nat_src.is_some() => PathKind::InternetGateway,
            (_, None) => PathKind::NatGateway,
        };
        let flags = tcp_flags(f.proto, f.tcp_state, m.new, m.ended);
        let connection = Connection {
            initiator: initiator.map(|i| i.eni),
            responder: responder.map(|i| i.eni),
            orig: (own, f.orig.1),
        };
        let started_ms = f.start_ns.map(|ns| ns / 1_000_000);
        let mut out = Vec::with_capacity(4);
        let mut push = |at: Option<Interface>,
                        direction,
                        src: SocketAddrV4,
                        dst: SocketAddrV4,
                        counts: Counts,
                        flags: u8,
                        path: Option<u8>,
                        reply: bool| {
            if let Some(i) = at {
                if !counts.is_zero() {
                    out.push(Seen {
                        eni: i.eni,
                        function: i.function,
                        direction,
                        proto: f.proto,
                        src,
                        dst,
                        pkt_src: *src.ip(),
                        pkt_dst: *dst.ip(),
                        nat_src: across(*src.ip()),
                        nat_dst: across(*dst.ip()),
                        counts,
                        tcp_flags: flags,
                        traffic_path: path,
                        started_ms,
                        environment: i.environment,
                        invocation: None,
                        path: kind,
                        connection,
                        reply,
                    });
                }
            }
        };
        // Original direction: leaving the initiator as sent, arriving at the
        // responder as translated.
        push(
            initiator,
            Direction::Egress,
            own,
            f.orig.1,
            m.orig,
            flags.0,
            path,
            false,
        );
        push(
            responder,
            Direction::Ingress,
            f.reply.1,
            f.reply.0,
            m.orig,
            flags.0,
            None,
            false,
        );
        // Replies: leaving the responder, arriving at the initiator as translated
        // back.
        push(
            responder,
            Direction::Egress,
            f.reply.0,
            f.reply.1,
            m.reply,
            flags.1,
            path,
            true,
        );
        push(
            initiator,
            Direction::Ingress,
            f.orig.1,
            own,
            m.reply,
            flags.1,
            None,
            true,
        );
        out
    }
}

/// The TCP flags of each direction in a reading, from conntrack's state: the
/// first reading of a connection saw its SYN (and SYN-ACK once answered); a
/// connection that ended saw FIN, or RST when it closed without one.
fn tcp_flags(proto: u8, state: Option<u8>, new: bool, ended: bool) -> (u8, u8) {
    if proto != 6 {
        return (0, 0);
    }
    let (mut orig, mut reply) = (0u8, 0u8);
    if new {
        orig |= 2;
        if state.is_some_and(|s| s >= tcp_state::SYN_RECV) {
            reply |= 18;
        }
    }
    if ended || state.is_some_and(|s| (tcp_state::FIN_WAIT..=tcp_state::TIME_WAIT).contains(&s)) {
        if state == Some(tcp_state::CLOSE) {
            orig |= 4;
        } else {
            orig |= 1;
            reply |= 1;
        }
    }
    (orig, reply)
}
