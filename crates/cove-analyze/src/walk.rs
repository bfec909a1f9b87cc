//! The path walk: AWS's evaluation order, hop by hop, generic over the lookups (indexed
//! or naive) and over the trace (explanations or none).
//!
//! Order for a flow from an ENI: source security groups (egress) → route table of the
//! source subnet → the target (local delivery, peering, NAT gateway, internet gateway,
//! gateway endpoint) → network ACLs (out of the source subnet, into the destination
//! subnet; never between two addresses of one subnet) → destination security groups
//! (ingress). Security groups are stateful, so replies pass them; network ACLs are
//! not, so the replies are checked against them, and against the return route where a
//! peering or internet gateway must carry them back.

use std::net::Ipv4Addr;

use cove_model::{
    EndpointId, EniId, NatConnectivity, NatId, Network, PeeringId, PeeringStatus, PortRange,
    RouteTableId, RouteTarget, SubnetId, VpcId,
};

use crate::describe;
use crate::flow::{Endpoint, Flow, NAT_GATEWAY_PORTS, Packet};
use crate::lookup::Lookup;
use crate::rules::{NaclDecision, Party, RuleDirection};
use crate::verdict::{Direction, Outcome, Step, Trace};

use Direction::{Forward, Return};

/// Who sends the request on a leg: the address on the packet, the subnet it leaves
/// from, and the ports its replies come back to.
#[derive(Debug, Clone, Copy)]
struct Sender {
    party: Party,
    subnet: SubnetId,
    reply_ports: PortRange,
}

/// Evaluates `flow` on the network behind `lk`, recording hops in `tr`.
pub(crate) fn evaluate<L: Lookup, T: Trace>(lk: &L, tr: &mut T, flow: &Flow) -> bool {
    let mut w = Walk {
        net: lk.network(),
        lk,
        tr,
        flow,
        req: flow.request(),
    };
    w.run()
}

struct Walk<'a, L, T> {
    net: &'a Network,
    lk: &'a L,
    tr: &'a mut T,
    flow: &'a Flow,
    req: Packet,
}

impl<L: Lookup, T: Trace> Walk<'_, L, T> {
    fn run(&mut self) -> bool {
        match (self.flow.src, self.flow.dst) {
            (Endpoint::Eni(s), Endpoint::Eni(d)) if s == d => {
                self.tr.hop(Step::Delivery, Forward, Outcome::Allow, || {
                    (self.lk.labels().eni(d).to_owned(), "source and destination are the same ENI".to_owned())
                });
                true
            }
            (Endpoint::Eni(s), Endpoint::Eni(d)) => {
                let ip = self.net.enis[d.index()].private_ip;
                self.leave_eni(s, ip, Some(d))
            }
            (Endpoint::Eni(s), Endpoint::External(ip)) => self.leave_eni(s, ip, None),
            (Endpoint::External(x), Endpoint::Eni(d)) => self.enter_from_outside(x, d),
            (Endpoint::External(x), Endpoint::External(y)) => self.deny(
                Step::Delivery,
                Forward,
                || "network".to_owned(),
                || format!("neither {x} nor {y} is an ENI; at least one side of a flow must be in a VPC"),
            ),
        }
    }

    // ----- recording helpers -------------------------------------------------------

    fn allow(
        &mut self,
        step: Step,
        dir: Direction,
        component: impl FnOnce() -> String,
        detail: impl FnOnce() -> String,
    ) {
        self.tr
            .hop(step, dir, Outcome::Allow, || (component(), detail()));
    }

    fn deny(
        &mut self,
        step: Step,
        dir: Direction,
        component: impl FnOnce() -> String,
        detail: impl FnOnce() -> String,
    ) -> bool {
        self.tr
            .hop(step, dir, Outcome::Deny, || (component(), detail()));
        false
    }

    // ----- rule checks ---------------------------------------------------------------

    /// Security groups of `eni`, for the request (replies of allowed flows pass).
    fn security_groups(&mut self, eni: EniId, dir: RuleDirection, remote: Party) -> bool {
        let net = self.net;
        let groups = &net.enis[eni.index()].security_groups;
        let step = match dir {
            RuleDirection::Ingress => Step::SecurityGroupIngress,
            RuleDirection::Egress => Step::SecurityGroupEgress,
        };
        if groups.is_empty() {
            self.tr.hop(step, Forward, Outcome::Pass, || {
                (
                    self.lk.labels().eni(eni).to_owned(),
                    "no security groups apply to this ENI (NAT gateway)".to_owned(),
                )
            });
            return true;
        }
        let pkt = self.req;
        let (way, prep) = match dir {
            RuleDirection::Ingress => ("inbound", "from"),
            RuleDirection::Egress => ("outbound", "to"),
        };
        match self.lk.sg_allows(groups, dir, remote, &pkt) {
            Some((g, i)) => {
                self.allow(
                    step,
                    Forward,
                    || self.lk.labels().groups(groups),
                    || {
                        let sg = &net.security_groups[g.index()];
                        let rule = match dir {
                            RuleDirection::Ingress => &sg.ingress[i],
                            RuleDirection::Egress => &sg.egress[i],
                        };
                        format!(
                            "{way} rule #{} of {} allows {} {prep} {}",
                            rule.index,
                            self.lk.labels().sg(g),
                            rule.traffic,
                            describe::sg_peer(net, &rule.peer)
                        )
                    },
                );
                true
            }
            None => self.deny(
                step,
                Forward,
                || self.lk.labels().groups(groups),
                || {
                    format!(
                        "no {way} rule of these security groups allows {} {prep} {}",
                        describe::packet(&pkt),
                        describe::address(net, remote.ip, remote.eni)
                    )
                },
            ),
        }
    }

    /// The network ACL of `subnet` for `pkt` exchanged with `remote`.
    fn nacl(
        &mut self,
        subnet: SubnetId,
        rule_dir: RuleDirection,
        remote: Ipv4Addr,
        pkt: &Packet,
        dir: Direction,
    ) -> bool {
        let net = self.net;
        let acl_id = net.subnets[subnet.index()].network_acl;
        let acl = &net.network_acls[acl_id.index()];
        let (entries, step, prep) = match rule_dir {
            RuleDirection::Ingress => (&acl.ingress, Step::NetworkAclIngress, "from"),
            RuleDirection::Egress => (&acl.egress, Step::NetworkAclEgress, "to"),
        };
        let labels = self.lk.labels();
        let component = || labels.subnet_acl(subnet).to_owned();
        match self.lk.nacl_decide(acl_id, rule_dir, remote, pkt) {
            NaclDecision::Allow { rule } => {
                self.allow(step, dir, component, || {
                    let e = entries.iter().find(|e| e.rule == rule);
                    match e {
                        Some(e) => format!(
                            "entry {rule} allows {} {prep} {} ({} {prep} {remote})",
                            e.traffic,
                            e.cidr,
                            describe::packet(pkt)
                        ),
                        None => format!("entry {rule} allows it"),
                    }
                });
                true
            }
            NaclDecision::Deny {
                rule: Some(rule),
                ports,
            } => self.deny(step, dir, component, || {
                let mut p = *pkt;
                p.ports = ports;
                let e = entries.iter().find(|e| e.rule == rule);
                match e {
                    Some(e) => format!(
                        "entry {rule} denies {} {prep} {} (it matches {} {prep} {remote})",
                        e.traffic,
                        e.cidr,
                        describe::packet(&p)
                    ),
                    None => format!("entry {rule} denies it"),
                }
            }),
            NaclDecision::Deny { rule: None, ports } => self.deny(step, dir, component, || {
                let mut p = *pkt;
                p.ports = ports;
                format!(
                    "no entry allows {} {prep} {remote}; the final `*` entry denies it",
                    describe::packet(&p)
                )
            }),
        }
    }

    /// The route of `table` for `ip`; records the decision and returns the target of a
    /// usable route.
    fn route(&mut self, table: RouteTableId, ip: Ipv4Addr, dir: Direction) -> Option<RouteTarget> {
        let net = self.net;
        let component = || self.lk.labels().route_table(table).to_owned();
        let Some(m) = self.lk.route(table, ip) else {
            self.deny(Step::RouteTable, dir, component, || {
                format!("no route matches {ip}")
            });
            return None;
        };
        let target = m.route.target.clone();
        match &target {
            RouteTarget::Blackhole => {
                self.deny(Step::RouteTable, dir, component, || {
                    format!(
                        "route {} is a blackhole: its target no longer exists",
                        m.cidr
                    )
                });
                None
            }
            RouteTarget::Unmodeled(id) => {
                self.deny(Step::RouteTable, dir, component, || {
                    format!(
                        "route {} goes to {id}, which cove does not model; the analysis stops here",
                        m.cidr
                    )
                });
                None
            }
            t => {
                self.allow(Step::RouteTable, dir, component, || {
                    format!(
                        "{ip} matches route {} -> {}",
                        m.cidr,
                        describe::target(net, t)
                    )
                });
                Some(target)
            }
        }
    }

    /// Replies to `ip` from `table`'s subnet must take `expected` back.
    fn return_route(&mut self, table: RouteTableId, ip: Ipv4Addr, expected: &RouteTarget) -> bool {
        let net = self.net;
        let component = || self.lk.labels().route_table(table).to_owned();
        match self.lk.route(table, ip) {
            Some(m) if m.route.target == *expected => {
                self.allow(Step::RouteTable, Return, component, || {
                    format!(
                        "replies to {ip} match route {} -> {}",
                        m.cidr,
                        describe::target(net, expected)
                    )
                });
                true
            }
            Some(m) => self.deny(Step::RouteTable, Return, component, || {
                format!(
                    "replies to {ip} match route {} -> {}, not {}: add a route for {ip} to {}",
                    m.cidr,
                    describe::target(net, &m.route.target),
                    describe::target(net, expected),
                    describe::target(net, expected)
                )
            }),
            None => self.deny(Step::RouteTable, Return, component, || {
                format!(
                    "no route matches {ip}, so replies cannot return: add a route for {ip} to {}",
                    describe::target(net, expected)
                )
            }),
        }
    }

    /// Where a route sends `ip`, without recording: the ENI that would receive it, for
    /// security-group references in the sender's egress rules.
    fn receiver(&self, table: RouteTableId, vpc: VpcId, ip: Ipv4Addr) -> Option<EniId> {
        match &self.lk.route(table, ip)?.route.target {
            RouteTarget::Local => self.lk.eni_at(vpc, ip),
            RouteTarget::Peering(p) => {
                let p = &self.net.peerings[p.index()];
                if p.status != PeeringStatus::Active {
                    return None;
                }
                self.lk.eni_at(p.peer_of(vpc)?, ip)
            }
            _ => None,
        }
    }

    // ----- legs --------------------------------------------------------------------

    fn leave_eni(&mut self, s: EniId, dip: Ipv4Addr, want: Option<EniId>) -> bool {
        let net = self.net;
        let eni = &net.enis[s.index()];
        let table = net.subnets[eni.subnet.index()].route_table;
        let me = Sender {
            party: Party {
                ip: eni.private_ip,
                eni: Some(s),
            },
            subnet: eni.subnet,
            reply_ports: self.flow.client_ports(),
        };
        let dst = Party {
            ip: dip,
            eni: self.receiver(table, eni.vpc, dip),
        };
        if !self.security_groups(s, RuleDirection::Egress, dst) {
            return false;
        }
        let req = self.req;
        if self.leaves_subnet(me.subnet, eni.vpc, dip)
            && !self.nacl(me.subnet, RuleDirection::Egress, dip, &req, Forward)
        {
            return false;
        }
        let Some(target) = self.route(table, dip, Forward) else {
            return false;
        };
        match target {
            RouteTarget::Local => self.deliver(eni.vpc, me, dip, want, None),
            RouteTarget::Peering(p) => match self.cross_peering(eni.vpc, p, dip) {
                Some(peer) => self.deliver(peer, me, dip, want, Some(p)),
                None => false,
            },
            RouteTarget::NatGateway(n) => self.via_nat(me, n, dip, want),
            RouteTarget::InternetGateway(_) => self.via_igw(s, dip, want),
            RouteTarget::GatewayEndpoint(e) => self.via_gateway_endpoint(me, e, dip),
            RouteTarget::Blackhole | RouteTarget::Unmodeled(_) => false,
        }
    }

    /// Whether a packet from `subnet` to `dip` leaves the subnet (and so passes its
    /// network ACL): everything except local delivery to an ENI of the same subnet,
    /// or a hand-over to a NAT gateway in the same subnet.
    fn leaves_subnet(&self, subnet: SubnetId, vpc: VpcId, dip: Ipv4Addr) -> bool {
        let table = self.net.subnets[subnet.index()].route_table;
        match self.lk.route(table, dip).map(|m| &m.route.target) {
            Some(RouteTarget::Local) => self
                .lk
                .eni_at(vpc, dip)
                .is_none_or(|d| self.net.enis[d.index()].subnet != subnet),
            Some(RouteTarget::NatGateway(n)) => self.net.nat_gateways[n.index()].subnet != subnet,
            _ => true,
        }
    }

    /// Crossing peering `p` from `from` towards `dip`: the peering must be active and
    /// `dip` inside the peer VPC (no transitive or edge-to-edge routing).
    fn cross_peering(&mut self, from: VpcId, p: PeeringId, dip: Ipv4Addr) -> Option<VpcId> {
        let net = self.net;
        let peering = &net.peerings[p.index()];
        let component = || format!("peering {}", net.peering_label(p));
        if peering.status != PeeringStatus::Active {
            self.deny(Step::Peering, Forward, component, || {
                let why = peering
                    .status_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                format!(
                    "the peering is {}{why}, not active: it carries no traffic",
                    peering.status.as_str()
                )
            });
            return None;
        }
        let Some(peer) = peering.peer_of(from) else {
            self.deny(Step::Peering, Forward, component, || {
                format!("the peering does not connect VPC {}", net.vpc_path(from))
            });
            return None;
        };
        let pv = &net.vpcs[peer.index()];
        if !pv.contains(dip) {
            self.deny(Step::Peering, Forward, component, || {
                format!(
                    "{dip} is outside the peer VPC {} ({}): a peering delivers only to addresses of the peer VPC; transitive routing and edge-to-edge use of the peer's gateways, NAT gateways or endpoints are not supported",
                    net.vpc_path(peer),
                    pv.cidrs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                )
            });
            return None;
        }
        self.allow(Step::Peering, Forward, component, || {
            format!("active; {dip} is in the peer VPC {}", net.vpc_path(peer))
        });
        Some(peer)
    }

    /// Delivery inside `vpc` to the ENI at `dip` (reached locally, or over peering
    /// `via`): the destination subnet's network ACL, the receiver's security groups and
    /// the replies. The caller has checked the sending subnet's outbound ACL.
    fn deliver(
        &mut self,
        vpc: VpcId,
        from: Sender,
        dip: Ipv4Addr,
        want: Option<EniId>,
        via: Option<PeeringId>,
    ) -> bool {
        let net = self.net;
        let Some(d) = self.lk.eni_at(vpc, dip) else {
            return self.deny(
                Step::Delivery,
                Forward,
                || format!("VPC {}", net.vpc_path(vpc)),
                || format!("no ENI in this VPC has the address {dip}"),
            );
        };
        if let Some(w) = want.filter(|w| *w != d) {
            return self.deny(
                Step::Delivery,
                Forward,
                || self.lk.labels().eni(d).to_owned(),
                || {
                    format!(
                        "{dip} is delivered to {} in VPC {}, not to {}: the two VPCs use overlapping addresses",
                        self.lk.labels().eni(d),
                        net.vpc_path(vpc),
                        self.lk.labels().eni(w)
                    )
                },
            );
        }
        let dst = &net.enis[d.index()];
        let same_subnet = dst.subnet == from.subnet;
        let req = self.req;
        if !same_subnet
            && !self.nacl(
                dst.subnet,
                RuleDirection::Ingress,
                from.party.ip,
                &req,
                Forward,
            )
        {
            return false;
        }
        if !self.security_groups(d, RuleDirection::Ingress, from.party) {
            return false;
        }
        self.allow(
            Step::Delivery,
            Forward,
            || self.lk.labels().eni(d).to_owned(),
            || {
                if same_subnet {
                    format!("delivered to {dip} (same subnet: network ACLs do not apply)")
                } else {
                    format!("delivered to {dip}")
                }
            },
        );
        let Some(reply) = self.flow.reply_to(from.reply_ports) else {
            return true;
        };
        if let Some(p) = via {
            let table = net.subnets[dst.subnet.index()].route_table;
            if !self.return_route(table, from.party.ip, &RouteTarget::Peering(p)) {
                return false;
            }
        }
        same_subnet
            || (self.nacl(
                dst.subnet,
                RuleDirection::Egress,
                from.party.ip,
                &reply,
                Return,
            ) && self.nacl(from.subnet, RuleDirection::Ingress, dip, &reply, Return))
    }

    /// Through NAT gateway `n`: the source becomes the NAT gateway's address, then the
    /// NAT gateway's subnet routes the packet on.
    fn via_nat(&mut self, me: Sender, n: NatId, dip: Ipv4Addr, want: Option<EniId>) -> bool {
        let net = self.net;
        let nat = &net.nat_gateways[n.index()];
        let nat_ip = net.enis[nat.eni.index()].private_ip;
        let req = self.req;
        let cross = me.subnet != nat.subnet;
        if cross
            && !self.nacl(
                nat.subnet,
                RuleDirection::Ingress,
                me.party.ip,
                &req,
                Forward,
            )
        {
            return false;
        }
        let public = nat.connectivity == NatConnectivity::Public;
        let outside_ip = match (public, nat.public_ips.first()) {
            (true, Some(ip)) => *ip,
            _ => nat_ip,
        };
        self.allow(
            Step::NatGateway,
            Forward,
            || format!("NAT gateway {}", net.nat_label(n)),
            || format!("translates source {} to {outside_ip}", me.party.ip),
        );
        let table = net.subnets[nat.subnet.index()].route_table;
        if self.leaves_subnet(nat.subnet, nat.vpc, dip)
            && !self.nacl(nat.subnet, RuleDirection::Egress, dip, &req, Forward)
        {
            return false;
        }
        let Some(target) = self.route(table, dip, Forward) else {
            return false;
        };
        let nat_sender = Sender {
            party: Party {
                ip: nat_ip,
                eni: Some(nat.eni),
            },
            subnet: nat.subnet,
            reply_ports: NAT_GATEWAY_PORTS,
        };
        let onward = match target {
            RouteTarget::InternetGateway(g) => {
                if !public {
                    return self.deny(
                        Step::NatGateway,
                        Forward,
                        || format!("NAT gateway {}", net.nat_label(n)),
                        || "a private NAT gateway cannot send to an internet gateway; use a public NAT gateway with a static IP".to_owned(),
                    );
                }
                self.allow(
                    Step::InternetGateway,
                    Forward,
                    || format!("internet gateway {}", net.igw_label(g)),
                    || format!("to the internet from {outside_ip}"),
                );
                if !self.internet_host(outside_ip, NAT_GATEWAY_PORTS, dip, want) {
                    return false;
                }
                match self.flow.reply_to(NAT_GATEWAY_PORTS) {
                    Some(r) => self.nacl(nat.subnet, RuleDirection::Ingress, dip, &r, Return),
                    None => true,
                }
            }
            RouteTarget::Local => self.deliver(nat.vpc, nat_sender, dip, want, None),
            RouteTarget::Peering(p) => match self.cross_peering(nat.vpc, p, dip) {
                Some(peer) => self.deliver(peer, nat_sender, dip, want, Some(p)),
                None => false,
            },
            RouteTarget::GatewayEndpoint(e) => self.via_gateway_endpoint(nat_sender, e, dip),
            RouteTarget::NatGateway(other) => self.deny(
                Step::NatGateway,
                Forward,
                || format!("NAT gateway {}", net.nat_label(other)),
                || "traffic leaving a NAT gateway cannot be sent into another NAT gateway; route the NAT gateway's subnet to an internet gateway".to_owned(),
            ),
            RouteTarget::Blackhole | RouteTarget::Unmodeled(_) => false,
        };
        if !onward {
            return false;
        }
        match self.flow.reply() {
            Some(r) if cross => {
                self.nacl(nat.subnet, RuleDirection::Egress, me.party.ip, &r, Return)
                    && self.nacl(me.subnet, RuleDirection::Ingress, dip, &r, Return)
            }
            _ => true,
        }
    }

    /// Through the VPC's internet gateway: the ENI needs a public address.
    fn via_igw(&mut self, s: EniId, dip: Ipv4Addr, want: Option<EniId>) -> bool {
        let net = self.net;
        let eni = &net.enis[s.index()];
        let vpc = &net.vpcs[eni.vpc.index()];
        let igw = || {
            vpc.internet_gateway
                .map(|g| format!("internet gateway {}", net.igw_label(g)))
                .unwrap_or_else(|| "internet gateway".to_owned())
        };
        let Some(public_ip) = eni.public_ip else {
            return self.deny(Step::InternetGateway, Forward, igw, || {
                format!(
                    "{} has no public IP, so the internet gateway cannot translate it; give it a public IP or route through a NAT gateway",
                    self.lk.labels().eni(s)
                )
            });
        };
        self.allow(Step::InternetGateway, Forward, igw, || {
            format!("translates source {} to {public_ip}", eni.private_ip)
        });
        if !self.internet_host(public_ip, self.flow.client_ports(), dip, want) {
            return false;
        }
        match self.flow.reply() {
            Some(r) => self.nacl(eni.subnet, RuleDirection::Ingress, dip, &r, Return),
            None => true,
        }
    }

    /// To a gateway endpoint's service.
    fn via_gateway_endpoint(&mut self, from: Sender, e: EndpointId, dip: Ipv4Addr) -> bool {
        let net = self.net;
        let ep = &net.endpoints[e.index()];
        self.allow(
            Step::GatewayEndpoint,
            Forward,
            || format!("gateway endpoint {}", net.endpoint_label(e)),
            || format!("{dip} is served by {}", ep.service),
        );
        self.allow(
            Step::Delivery,
            Forward,
            || ep.service.clone(),
            || format!("delivered to {dip} by the service"),
        );
        match self.flow.reply_to(from.reply_ports) {
            Some(r) => self.nacl(from.subnet, RuleDirection::Ingress, dip, &r, Return),
            None => true,
        }
    }

    /// A packet on the internet from `from_ip` to `dip`.
    fn internet_host(
        &mut self,
        from_ip: Ipv4Addr,
        reply_ports: PortRange,
        dip: Ipv4Addr,
        want: Option<EniId>,
    ) -> bool {
        let net = self.net;
        if let Some(e) = self.lk.eni_with_public_ip(dip) {
            let sender = Party {
                ip: from_ip,
                eni: None,
            };
            return self.inbound_from_internet(sender, reply_ports, e);
        }
        if describe::is_non_public(dip) || want.is_some() || self.lk.in_any_vpc(dip) {
            return self.deny(
                Step::InternetGateway,
                Forward,
                || "internet".to_owned(),
                || {
                    format!(
                        "{dip} is a private address: the internet does not route it; reach it over a peering or endpoint instead"
                    )
                },
            );
        }
        if let Some(n) = self.lk.nat_with_public_ip(dip) {
            return self.deny(
                Step::Delivery,
                Forward,
                || format!("NAT gateway {}", net.nat_label(n)),
                || format!("{dip} is a NAT gateway's address: it accepts no connections it did not start"),
            );
        }
        self.allow(
            Step::Delivery,
            Forward,
            || "internet".to_owned(),
            || format!("delivered to the internet host {dip}"),
        );
        true
    }

    /// From an address outside every VPC to ENI `d`.
    fn enter_from_outside(&mut self, x: Ipv4Addr, d: EniId) -> bool {
        if describe::is_non_public(x) || self.lk.in_any_vpc(x) {
            return self.deny(
                Step::InternetGateway,
                Forward,
                || "internet".to_owned(),
                || {
                    format!(
                        "{x} is a private address that no ENI has; a flow must start at an ENI or at an internet address"
                    )
                },
            );
        }
        let sender = Party { ip: x, eni: None };
        self.inbound_from_internet(sender, self.flow.client_ports(), d)
    }

    /// From the internet, through the VPC's internet gateway, to ENI `d`'s public IP.
    fn inbound_from_internet(&mut self, from: Party, reply_ports: PortRange, d: EniId) -> bool {
        let net = self.net;
        let eni = &net.enis[d.index()];
        let vpc = &net.vpcs[eni.vpc.index()];
        let Some(g) = vpc.internet_gateway else {
            return self.deny(
                Step::InternetGateway,
                Forward,
                || format!("VPC {}", net.vpc_path(eni.vpc)),
                || {
                    "the VPC has no internet gateway: nothing on the internet can reach it"
                        .to_owned()
                },
            );
        };
        let igw = || format!("internet gateway {}", net.igw_label(g));
        let Some(public_ip) = eni.public_ip else {
            return self.deny(Step::InternetGateway, Forward, igw, || {
                format!(
                    "{} has no public IP: it cannot be reached from the internet",
                    self.lk.labels().eni(d)
                )
            });
        };
        self.allow(Step::InternetGateway, Forward, igw, || {
            format!("translates destination {public_ip} to {}", eni.private_ip)
        });
        let req = self.req;
        if !self.nacl(eni.subnet, RuleDirection::Ingress, from.ip, &req, Forward) {
            return false;
        }
        if !self.security_groups(d, RuleDirection::Ingress, from) {
            return false;
        }
        self.allow(
            Step::Delivery,
            Forward,
            || self.lk.labels().eni(d).to_owned(),
            || format!("delivered to {}", eni.private_ip),
        );
        let Some(reply) = self.flow.reply_to(reply_ports) else {
            return true;
        };
        let table = net.subnets[eni.subnet.index()].route_table;
        self.return_route(table, from.ip, &RouteTarget::InternetGateway(g))
            && self.nacl(eni.subnet, RuleDirection::Egress, from.ip, &reply, Return)
    }
}
