//! Legs inside VPCs: leaving an ENI, crossing a peering, delivery to an ENI.

use std::net::Ipv4Addr;

use cove_model::{EniId, EniOwner, PeeringId, PeeringStatus, RouteTarget, VpcId};

use super::{Sender, Walk};
use crate::lookup::Lookup;
use crate::rules::{Party, RuleDirection};
use crate::verdict::{Direction, Step, Trace};

use Direction::{Forward, Return};

impl<L: Lookup, T: Trace> Walk<'_, L, T> {
    pub(super) fn leave_eni(&mut self, s: EniId, dip: Ipv4Addr, want: Option<EniId>) -> bool {
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
        // One route lookup serves the egress rules (group references), the ACL
        // decision and the recorded route hop.
        let lk = self.lk;
        let m = lk.route(table, dip);
        let dst = Party {
            ip: dip,
            eni: self.receiver(eni.vpc, dip, m),
        };
        if !self.security_groups(s, RuleDirection::Egress, dst) {
            return false;
        }
        let req = self.req;
        if self.leaves_subnet(me.subnet, eni.vpc, dip, m)
            && !self.nacl(me.subnet, RuleDirection::Egress, dip, &req, Forward)
        {
            return false;
        }
        let Some(target) = self.route(table, dip, m, Forward) else {
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

    /// Crossing peering `p` from `from` towards `dip`: the peering must be active and
    /// `dip` inside the peer VPC (no transitive or edge-to-edge routing).
    pub(super) fn cross_peering(
        &mut self,
        from: VpcId,
        p: PeeringId,
        dip: Ipv4Addr,
    ) -> Option<VpcId> {
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
    pub(super) fn deliver(
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
        if dst.owner == EniOwner::Shared {
            // The router has no route to it (a blackhole in the VPC's table).
            return self.deny(
                Step::Delivery,
                Forward,
                || self.lk.labels().eni(d).to_owned(),
                || format!("{dip} is a shared function ENI: nothing can open a connection to functions' environments"),
            );
        }
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
        if let EniOwner::NatGateway(n) = dst.owner {
            return self.deny(
                Step::NatGateway,
                Forward,
                || format!("NAT gateway {}", net.nat_label(n)),
                || format!("{dip} is the NAT gateway's private address: a NAT gateway only forwards; it accepts no connections to itself"),
            );
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
            let peering = RouteTarget::Peering(p);
            return self.return_leg(table, from.party.ip, &peering, dst.subnet, &reply)
                && self.nacl(from.subnet, RuleDirection::Ingress, dip, &reply, Return);
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
}
