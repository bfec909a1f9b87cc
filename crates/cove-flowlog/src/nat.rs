//! NAT gateways' translations, for the pre- and post-NAT addresses of flows
//! through them. A NAT gateway translates in its own namespace, so the host
//! router tracks two connections that never mention each other: the client's to
//! the internet host (in the client VPC's zone, untranslated) and the gateway's
//! own, from its private address (which the internet gateway maps 1:1 to the
//! public IP). The gateway's conntrack table joins them: its entry's original
//! tuple is the client's, its reply tuple ends at the address and port the
//! client was translated to.
//!
//! So a client's records carry the public address the internet saw
//! (`cove-nat-srcaddr`, `cove-nat-dstaddr` on the replies), and the gateway's
//! records of its own connection carry the client as the packet-level address
//! (`pkt-srcaddr`, `pkt-dstaddr` on the replies), as AWS logs a NAT gateway's
//! interface.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use cove_model::{Network, VpcId};

use crate::ct::CtFlow;
use crate::directory::{Direction, PathKind, Seen};

type Key = (VpcId, u8, SocketAddrV4, SocketAddrV4);

/// Translations learnt from NAT gateways' tables, kept a while after they were
/// last seen (a connection's last counters may be read after the gateway
/// forgot it).
#[derive(Debug, Clone, Default)]
pub struct NatTable {
    /// (VPC, protocol, client, destination) → (translated source, last seen).
    by_client: HashMap<Key, (SocketAddrV4, u64)>,
    /// (VPC, protocol, translated source, destination) → (client, last seen).
    by_translated: HashMap<Key, (SocketAddrV4, u64)>,
    /// A NAT gateway's private addresses → the public IP each stands for.
    public: HashMap<(VpcId, Ipv4Addr), Ipv4Addr>,
}

impl NatTable {
    /// A table for `net`'s NAT gateways.
    pub fn new(net: &Network) -> NatTable {
        let mut t = NatTable::default();
        for n in &net.nat_gateways {
            let eni = &net.enis[n.eni.index()];
            for (private, public) in n.private_ips(eni.private_ip).into_iter().zip(&n.public_ips) {
                t.public.insert((n.vpc, private), *public);
            }
        }
        t
    }

    /// Learns the translations in a reading of the table of a NAT gateway of
    /// `vpc`, at `now_s`.
    pub fn learn(&mut self, vpc: VpcId, flows: &[CtFlow], now_s: u64) {
        for f in flows {
            let translated = f.reply.1;
            if translated == f.orig.0 {
                continue;
            }
            self.by_client
                .insert((vpc, f.proto, f.orig.0, f.orig.1), (translated, now_s));
            self.by_translated
                .insert((vpc, f.proto, translated, f.orig.1), (f.orig.0, now_s));
        }
    }

    /// Forgets what was last seen before `s`.
    pub fn forget_before(&mut self, s: u64) {
        self.by_client.retain(|_, v| v.1 >= s);
        self.by_translated.retain(|_, v| v.1 >= s);
    }

    /// The public IP a NAT gateway of `vpc` stands for with private address
    /// `private` (`None`: no gateway's, or a private NAT gateway's).
    pub fn public_ip(&self, vpc: VpcId, private: Ipv4Addr) -> Option<Ipv4Addr> {
        self.public.get(&(vpc, private)).copied()
    }

    /// Translations known.
    pub fn len(&self) -> usize {
        self.by_client.len()
    }

    /// Whether none is known.
    pub fn is_empty(&self) -> bool {
        self.by_client.is_empty()
    }

    /// Adds the addresses across a NAT gateway to what an interface of `net`
    /// saw: at the client, where the internet saw it; at the gateway, the
    /// client behind it.
    pub fn annotate(&self, net: &Network, seen: &mut Seen) {
        let c = &seen.connection;
        let Some(vpc) = c.initiator.map(|e| net.enis[e.index()].vpc) else {
            return;
        };
        let key = (vpc, seen.proto, c.orig.0, c.orig.1);
        // The client's own view (its connection leaves through a NAT gateway).
        if seen.path == PathKind::NatGateway {
            if let Some((t, _)) = self.by_client.get(&key) {
                let shown = self.public_ip(vpc, *t.ip()).unwrap_or(*t.ip());
                if seen.reply {
                    seen.nat_dst = Some(shown);
                } else {
                    seen.nat_src = Some(shown);
                }
                return;
            }
        }
        // The gateway's view of its own connection: the client is the
        // packet-level address.
        if let Some((client, _)) = self.by_translated.get(&key) {
            match (seen.reply, seen.direction) {
                (false, Direction::Egress) => seen.pkt_src = *client.ip(),
                (true, Direction::Ingress) => seen.pkt_dst = *client.ip(),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ct::{Counts, Deltas};
    use crate::directory::Directory;

    fn sa(s: &str) -> SocketAddrV4 {
        s.parse().expect("address")
    }

    fn flow(zone: u16, orig: (&str, &str), reply: (&str, &str)) -> CtFlow {
        CtFlow {
            id: u32::from(zone) + 7,
            zone,
            proto: 6,
            orig: (sa(orig.0), sa(orig.1)),
            reply: (sa(reply.0), sa(reply.1)),
            orig_counts: Counts {
                packets: 3,
                bytes: 180,
            },
            reply_counts: Counts {
                packets: 2,
                bytes: 120,
            },
            start_ns: None,
            tcp_state: Some(crate::ct::tcp_state::ESTABLISHED),
        }
    }

    #[test]
    fn both_sides_of_a_nat_gateway() {
        let net = cove_model::validate::validate_text(
            "tenants:
  - name: t
    vpcs:
      - name: v
        cidr: 10.73.0.0/16
        internet_gateway: { name: igw }
        subnets:
          - { name: public, cidr: 10.73.0.0/24, az: az1, route_table: public }
          - { name: private, cidr: 10.73.1.0/24, az: az1, route_table: private }
        route_tables:
          - { name: public, routes: [ { destination: 0.0.0.0/0, internet_gateway: igw } ] }
          - { name: private, routes: [ { destination: 0.0.0.0/0, nat_gateway: nat } ] }
        nat_gateways:
          - { name: nat, subnet: public, public_ips: [203.0.113.80] }
        enis:
          - { name: c, subnet: private, private_ip: 10.73.1.10 }
",
        )
        .network
        .expect("valid");
        let nat_ip = net.enis[net.nat_gateways[0].eni.index()].private_ip;
        let zone = cove_plan::zones::Zones::new(&net).vpc(net.nat_gateways[0].vpc);
        let translated = format!("{nat_ip}:40000");
        let mut table = NatTable::new(&net);
        // The gateway's own table: the client translated to its private address.
        table.learn(
            net.nat_gateways[0].vpc,
            &[flow(
                0,
                ("10.73.1.10:40000", "198.51.100.1:443"),
                ("198.51.100.1:443", &translated),
            )],
            100,
        );
        assert_eq!(table.len(), 1);
        // The router: the client's connection, and the gateway's (which the
        // internet gateway maps to the public IP).
        let client = flow(
            zone,
            ("10.73.1.10:40000", "198.51.100.1:443"),
            ("198.51.100.1:443", "10.73.1.10:40000"),
        );
        let gateway = flow(
            zone,
            (&translated, "198.51.100.1:443"),
            ("198.51.100.1:443", "203.0.113.80:40000"),
        );
        let dir = Directory::new(&net, "cvnt");
        let mut deltas = Deltas::default();
        let mut views = Vec::new();
        for m in deltas.read(vec![], vec![client, gateway]) {
            for mut s in dir.seen(&m) {
                table.annotate(&net, &mut s);
                views.push(s);
            }
        }
        let c = net.find_eni("t/v/c").expect("c");
        let g = net.nat_gateways[0].eni;
        let public: Ipv4Addr = "203.0.113.80".parse().expect("ip");
        let client_ip: Ipv4Addr = "10.73.1.10".parse().expect("ip");
        let at = |eni, direction| {
            views
                .iter()
                .find(|s| s.eni == eni && s.direction == direction)
                .unwrap_or_else(|| panic!("no view: {views:#?}"))
        };
        let out = at(c, Direction::Egress);
        assert_eq!((out.nat_src, out.nat_dst), (Some(public), None));
        let back = at(c, Direction::Ingress);
        assert_eq!((back.nat_src, back.nat_dst), (None, Some(public)));
        let leaving = at(g, Direction::Egress);
        assert_eq!(*leaving.src.ip(), nat_ip);
        assert_eq!(leaving.pkt_src, client_ip, "the client behind the gateway");
        assert_eq!(leaving.nat_src, Some(public), "the internet gateway's 1:1");
        let arriving = at(g, Direction::Ingress);
        assert_eq!(arriving.pkt_dst, client_ip);
        assert_eq!(arriving.nat_dst, Some(public));
        // Forgotten once old.
        table.forget_before(101);
        assert!(table.is_empty());
    }
}
