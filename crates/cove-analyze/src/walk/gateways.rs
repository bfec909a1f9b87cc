//! Legs through gateways: NAT gateways, the internet gateway (both ways), gateway
//! endpoints.

use std::net::Ipv4Addr;

use cove_model::{EndpointId, EniId, NatConnectivity, NatId, PortRange, Protocol, RouteTarget};

use cove_model::lookup::is_special_purpose;

use super::{Sender, Walk};
use crate::lookup::Lookup;
use crate::rules::{Party, RuleDirection};
use crate::verdict::{Direction, Step, Trace};

use Direction::{Forward, Return};

impl<L: Lookup, T: Trace> Walk<'_, L, T> {
    /// Through NAT gateway `n`: the source becomes the NAT gateway's address, then the
    /// NAT gateway's subnet routes the packet on.
    pub(super) fn via_nat(
        &mut self,
        me: Sender,
        n: NatId,
        dip: Ipv4Addr,
        want: Option<EniId>,
    ) -> bool {
        let net = self.net;
        let nat = &net.nat_gateways[n.index()];
        let nat_ip = net.enis[nat.eni.index()].private_ip;
        // While its partner carries its addresses (issue 11's failover), the
        // partner forwards and translates — to this gateway's addresses — from its
        // own subnet and link.
        let carrier_id = nat.carried_by.unwrap_or(n);
        let carrier = &net.nat_gateways[carrier_id.index()];
        let subnet = carrier.subnet;
        let req = self.req;
        let cross = me.subnet != subnet;
        if cross && !self.nacl(subnet, RuleDirection::Ingress, me.party.ip, &req, Forward) {
            return false;
        }
        if !matches!(
            self.flow.protocol,
            Protocol::TCP | Protocol::UDP | Protocol::ICMP
        ) {
            let proto = Protocol::from_number(self.flow.protocol);
            return self.deny(
                Step::NatGateway,
                Forward,
                || format!("NAT gateway {}", net.nat_label(n)),
                || format!("a NAT gateway translates only TCP, UDP and ICMP; protocol {proto} is dropped"),
            );
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
            || {
                let translated = if public && nat.public_ips.len() > 1 {
                    let all: Vec<String> = nat.public_ips.iter().map(ToString::to_string).collect();
                    format!(
                        "translates source {} to one of {} (each connection to one, by a hash of its addresses and ports)",
                        me.party.ip,
                        all.join(", ")
                    )
                } else {
                    format!("translates source {} to {outside_ip}", me.party.ip)
                };
                if carrier_id == n {
                    translated
                } else {
                    format!(
                        "{translated}; it failed, and its partner {} carries its addresses (failover)",
                        net.nat_label(carrier_id)
                    )
                }
            },
        );
        let table = net.subnets[subnet.index()].route_table;
        let lk = self.lk;
        let m = lk.route(table, dip);
        if self.leaves_subnet(subnet, nat.vpc, dip, m)
            && !self.nacl(subnet, RuleDirection::Egress, dip, &req, Forward)
        {
            return false;
        }
        let Some(target) = self.route(table, dip, m, Forward) else {
            return false;
        };
        let nat_sender = Sender {
            party: Party {
                ip: nat_ip,
                eni: Some(carrier.eni),
            },
            subnet,
            reply_ports: self.flow.nat_ports(),
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
                if !self.internet_host(outside_ip, self.flow.nat_ports(), dip, want) {
                    return false;
                }
                match self.flow.reply_to(self.flow.nat_ports()) {
                    Some(r) => self.nacl(subnet, RuleDirection::Ingress, dip, &r, Return),
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
                self.nacl(subnet, RuleDirection::Egress, me.party.ip, &r, Return)
                    && self.nacl(me.subnet, RuleDirection::Ingress, dip, &r, Return)
            }
            _ => true,
        }
    }

    /// Through the VPC's internet gateway: the ENI needs a public address.
    pub(super) fn via_igw(&mut self, s: EniId, dip: Ipv4Addr, want: Option<EniId>) -> bool {
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
    pub(super) fn via_gateway_endpoint(
        &mut self,
        from: Sender,
        e: EndpointId,
        dip: Ipv4Addr,
    ) -> bool {
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
    pub(super) fn internet_host(
        &mut self,
        from_ip: Ipv4Addr,
        reply_ports: PortRange,
        dip: Ipv4Addr,
        want: Option<EniId>,
    ) -> bool {
        if let Some(e) = self.lk.eni_with_public_ip(dip) {
            let sender = Party {
                ip: from_ip,
                eni: None,
            };
            return self.inbound_from_internet(sender, reply_ports, e);
        }
        if is_special_purpose(dip) || want.is_some() || self.lk.in_any_vpc(dip) {
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
            return self.unsolicited_to_nat(n, dip, from_ip);
        }
        self.allow(
            Step::Delivery,
            Forward,
            || "internet".to_owned(),
            || format!("delivered to the internet host {dip}"),
        );
        true
    }

    /// From address `x` outside every VPC to address `y`, which no ENI has as its
    /// private address: an ENI's public IP is translated to the ENI (through its
    /// VPC's internet gateway); a NAT gateway's Elastic IP accepts nothing it did not
    /// start; a private address is not routed on the internet; anything else is
    /// outside the network on both ends.
    pub(super) fn outside_to_address(&mut self, x: Ipv4Addr, y: Ipv4Addr) -> bool {
        if is_special_purpose(x) || self.lk.in_any_vpc(x) {
            return self.private_source(x);
        }
        if let Some(e) = self.lk.eni_with_public_ip(y) {
            let sender = Party { ip: x, eni: None };
            return self.inbound_from_internet(sender, self.flow.client_ports(), e);
        }
        if let Some(n) = self.lk.nat_with_public_ip(y) {
            return self.unsolicited_to_nat(n, y, x);
        }
        if is_special_purpose(y) || self.lk.in_any_vpc(y) {
            return self.deny(
                Step::InternetGateway,
                Forward,
                || "internet".to_owned(),
                || format!("{y} is a private address: the internet does not route it; from the internet an ENI is reached at its public IP"),
            );
        }
        self.deny(
            Step::Delivery,
            Forward,
            || "network".to_owned(),
            || format!("neither {x} nor {y} is in a VPC or a public IP of one; at least one side of a flow must be"),
        )
    }

    /// Traffic from `from_ip` to NAT gateway `n`'s Elastic IP `ip` that it did
    /// not start: translated to the gateway's private address, it meets the
    /// gateway's subnet's inbound ACL on the way in, then the gateway drops it.
    fn unsolicited_to_nat(&mut self, n: NatId, ip: Ipv4Addr, from_ip: Ipv4Addr) -> bool {
        let net = self.net;
        let subnet = net.enis[net.nat_gateways[n.index()].eni.index()].subnet;
        let req = self.req;
        if !self.nacl(subnet, RuleDirection::Ingress, from_ip, &req, Forward) {
            return false;
        }
        self.deny(
            Step::NatGateway,
            Forward,
            || format!("NAT gateway {}", net.nat_label(n)),
            || format!("{ip} is the NAT gateway's Elastic IP: a NAT gateway accepts no connections it did not start, so unsolicited inbound traffic is dropped"),
        )
    }

    fn private_source(&mut self, x: Ipv4Addr) -> bool {
        self.deny(
            Step::InternetGateway,
            Forward,
            || "internet".to_owned(),
            || {
                format!(
                    "{x} is a private address that no ENI has; a flow must start at an ENI or at an internet address"
                )
            },
        )
    }

    /// From an address outside every VPC to ENI `d`.
    pub(super) fn enter_from_outside(&mut self, x: Ipv4Addr, d: EniId) -> bool {
        if is_special_purpose(x) || self.lk.in_any_vpc(x) {
            return self.private_source(x);
        }
        let sender = Party { ip: x, eni: None };
        self.inbound_from_internet(sender, self.flow.client_ports(), d)
    }

    /// From the internet, through the VPC's internet gateway, to ENI `d`'s public IP.
    pub(super) fn inbound_from_internet(
        &mut self,
        from: Party,
        reply_ports: PortRange,
        d: EniId,
    ) -> bool {
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
        let igw = RouteTarget::InternetGateway(g);
        self.return_leg(table, from.ip, &igw, eni.subnet, &reply)
    }
}
