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
    EniId, EniOwner, Network, PeeringStatus, PortRange, RouteTableId, RouteTarget, SubnetId, VpcId,
};

use crate::describe;
use crate::flow::{Endpoint, Flow, Packet};
use crate::lookup::{Lookup, RouteMatch};
use crate::rules::{NaclDecision, Party, RuleDirection};
use crate::verdict::{Direction, Outcome, Step, Trace};

mod gateways;
mod vpc;

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
        // A shared function ENI as destination is refused where the path reaches
        // it (`deliver`), after the sender's rules, as the kernel checks them.
        if let Endpoint::Eni(s) = self.flow.src {
            let eni = &self.net.enis[s.index()];
            if eni.owner == EniOwner::Shared {
                if !matches!(self.flow.protocol, 1 | 6 | 17) {
                    let protocol = self.flow.protocol;
                    return self.deny(
                        Step::SharedEni,
                        Forward,
                        || self.lk.labels().eni(s).to_owned(),
                        || format!("IP protocol {protocol}: a function's environments send TCP, UDP and ICMP only through their shared ENI"),
                    );
                }
                let groups: Vec<&str> = eni
                    .security_groups
                    .iter()
                    .map(|g| self.net.security_groups[g.index()].name.as_str())
                    .collect();
                self.allow(
                    Step::SharedEni,
                    Forward,
                    || self.lk.labels().eni(s).to_owned(),
                    || {
                        format!(
                            "the function's environment sends through the shared ENI: translated to {} (security groups {}); only replies come back",
                            eni.private_ip,
                            groups.join(", ")
                        )
                    },
                );
            }
        }
        let delivered = match (self.flow.src, self.flow.dst) {
            (Endpoint::Eni(s), Endpoint::Eni(d)) if s == d => {
                self.tr.hop(Step::Delivery, Forward, Outcome::Allow, || {
                    (
                        self.lk.labels().eni(d).to_owned(),
                        "source and destination are the same ENI".to_owned(),
                    )
                });
                true
            }
            (Endpoint::Eni(s), Endpoint::Eni(d)) => {
                let ip = self.net.enis[d.index()].private_ip;
                self.leave_eni(s, ip, Some(d))
            }
            (Endpoint::Eni(s), Endpoint::External(ip)) => self.leave_eni(s, ip, None),
            (Endpoint::External(x), Endpoint::Eni(d)) => self.enter_from_outside(x, d),
            (Endpoint::External(x), Endpoint::External(y)) => self.outside_to_address(x, y),
        };
        match self.flow.dst {
            Endpoint::Eni(d) if delivered => self.through_service(d),
            _ => delivered,
        }
    }

    /// After delivery to ENI `d`: if it is an interface endpoint's ENI linked to
    /// an endpoint service (PrivateLink), the link must be accepted and the port
    /// one the service serves; then the provider's leg, from the endpoint's front
    /// to each target (the front picks one per connection, so all must be
    /// reachable).
    fn through_service(&mut self, d: EniId) -> bool {
        let net = self.net;
        let EniOwner::Endpoint(eid) = net.enis[d.index()].owner else {
            return true;
        };
        let Some(link) = net.service_links.iter().find(|l| l.endpoint == eid) else {
            return true;
        };
        let svc = &net.endpoint_services[link.service];
        let label = || {
            format!(
                "endpoint service {}/{}",
                net.tenants[svc.tenant.index()].name,
                svc.name
            )
        };
        if link.state == cove_model::privatelink::LinkState::Pending {
            return self.deny(Step::EndpointService, Forward, label, || {
                "the endpoint's connection to the service is pending: its provider has not accepted it (the provider lists the endpoint under the service's `accepted`)".to_owned()
            });
        }
        let port = self.flow.port;
        if self.flow.protocol != 6 || !svc.ports.contains(&port) {
            let ports: Vec<String> = svc.ports.iter().map(ToString::to_string).collect();
            return self.deny(Step::EndpointService, Forward, label, || {
                format!("the service serves TCP port(s) {} only", ports.join(", "))
            });
        }
        let cove_model::EndpointKind::Interface { enis, .. } = &net.endpoints[eid.index()].kind
        else {
            return true;
        };
        let Some(front) = enis
            .iter()
            .position(|e| *e == d)
            .and_then(|k| link.fronts.get(k))
            .copied()
        else {
            return true;
        };
        if svc.targets.is_empty() {
            return self.deny(Step::EndpointService, Forward, label, || {
                "the service has no targets".to_owned()
            });
        }
        let targets: Vec<String> = svc
            .targets
            .iter()
            .map(|t| net.enis[t.index()].private_ip.to_string())
            .collect();
        let front_ip = net.enis[front.index()].private_ip;
        self.allow(Step::EndpointService, Forward, label, || {
            format!(
                "translated by the endpoint to one of the service's targets ({}), from its front {front_ip} in the provider's VPC",
                targets.join(", ")
            )
        });
        svc.targets.iter().all(|t| {
            let leg = Flow {
                src: Endpoint::Eni(front),
                dst: Endpoint::Eni(*t),
                protocol: 6,
                port,
                src_port: None,
                icmp: (0, 0),
            };
            evaluate(self.lk, &mut *self.tr, &leg)
        })
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
                    "no security groups apply to this ENI (a NAT gateway, or an endpoint service's front)".to_owned(),
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

    /// Records the route decision `m` (looked up once by the caller) of `table` for
    /// `ip`, and returns the target of a usable route.
    fn route(
        &mut self,
        table: RouteTableId,
        ip: Ipv4Addr,
        m: Option<RouteMatch<'_>>,
        dir: Direction,
    ) -> Option<RouteTarget> {
        let net = self.net;
        let component = || self.lk.labels().route_table(table).to_owned();
        let Some(m) = m else {
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
    /// The replies leaving `subnet` (route table `table`) towards `ip`, which
    /// must go back through `expected`: the subnet's outbound ACL and the route,
    /// in the kernel's order — a route to another working target still forwards
    /// the replies (through the ACL, which may refuse them first, then they are
    /// lost on the wrong way); no route, a blackhole or an unmodeled target drops
    /// them before the ACL.
    fn return_leg(
        &mut self,
        table: RouteTableId,
        ip: Ipv4Addr,
        expected: &RouteTarget,
        subnet: SubnetId,
        reply: &Packet,
    ) -> bool {
        let forwards_elsewhere = self.lk.route(table, ip).is_some_and(|m| {
            m.route.target != *expected
                && !matches!(
                    m.route.target,
                    RouteTarget::Blackhole | RouteTarget::Unmodeled(_)
                )
        });
        if forwards_elsewhere {
            return self.nacl(subnet, RuleDirection::Egress, ip, reply, Return)
                && self.return_route(table, ip, expected);
        }
        self.return_route(table, ip, expected)
            && self.nacl(subnet, RuleDirection::Egress, ip, reply, Return)
    }

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

    /// The ENI that the route `m` delivers `ip` to (for security-group references in
    /// the sender's egress rules).
    fn receiver(&self, vpc: VpcId, ip: Ipv4Addr, m: Option<RouteMatch<'_>>) -> Option<EniId> {
        match &m?.route.target {
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

    /// Whether a packet from `subnet` that takes route `m` to `dip` leaves the subnet
    /// (and so passes its network ACL): everything except local delivery to an ENI of
    /// the same subnet, or a hand-over to a NAT gateway in the same subnet.
    fn leaves_subnet(
        &self,
        subnet: SubnetId,
        vpc: VpcId,
        dip: Ipv4Addr,
        m: Option<RouteMatch<'_>>,
    ) -> bool {
        match m.map(|m| &m.route.target) {
            Some(RouteTarget::Local) => self
                .lk
                .eni_at(vpc, dip)
                .is_none_or(|d| self.net.enis[d.index()].subnet != subnet),
            Some(RouteTarget::NatGateway(n)) => self.net.nat_gateways[n.index()].subnet != subnet,
            _ => true,
        }
    }
}
