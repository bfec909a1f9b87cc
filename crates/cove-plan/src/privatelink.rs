//! PrivateLink in the kernel (issue 12): a consumer's interface endpoint linked to
//! another tenant's endpoint service.
//!
//! Each endpoint ENI's namespace gets a second link, `eth1`: the **front**, an ENI
//! of the provider's VPC (its own router link, MAC, address from the top of the
//! service's subnet; no security groups, like a load balancer's node). The
//! endpoint namespace forwards between the two, and its table
//! ([`endpoint_table`]) is the load-balancing front:
//!
//! * a new TCP connection from the consumer's side (`eth0`) to a service port is
//!   translated to one of the service's targets (chosen at random per
//!   connection), and leaves on `eth1` translated to the front's address — so the
//!   provider sees the front, and the consumer's addresses never reach the
//!   provider's VPC (provider and consumer may use overlapping blocks);
//! * routing in the namespace is by the connection's direction, not by address:
//!   a translated connection's packets from the consumer are marked
//!   [`MARK_TO_PROVIDER`] and routed by [`TO_PROVIDER_TABLE`] (the provider
//!   subnet's router, on `eth1`), its replies [`MARK_TO_CONSUMER`] and routed by
//!   [`TO_CONSUMER_TABLE`] (the consumer's, on `eth0`); the namespace's own
//!   addresses are looked up after those rules (a target may have the endpoint's
//!   own address), and unmarked packets — ARP's lookups among them — see them;
//! * nothing else passes, and nothing is accepted by the namespace itself. While
//!   the link is pending (the provider has not accepted it) the translation is
//!   absent: connections time out.
//!
//! Both legs cross the host router as ordinary traffic: the consumer's security
//! groups and ACLs towards the endpoint ENI, then the provider's ACLs and the
//! targets' groups from the front.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use cove_model::privatelink::{LinkState, ServiceLink};
use cove_model::{EndpointKind, EniId, Network};

use crate::nft::{Elements, finish};
use crate::state::NftTable;

/// The front's link inside the endpoint ENI's namespace.
pub const FRONT_LINK: &str = "eth1";

/// The endpoint namespace's table for what arrived from the consumer (`eth0`).
pub const TO_PROVIDER_TABLE: u32 = 100;

/// The endpoint namespace's table for what arrived from the provider (`eth1`).
pub const TO_CONSUMER_TABLE: u32 = 101;

/// Priority of the endpoint namespace's rules by direction.
pub const RULE_PRIORITY_BY_DIRECTION: u32 = 100;

/// The mark of a translated connection's packets towards the provider.
pub const MARK_TO_PROVIDER: u32 = 1;

/// The mark of a translated connection's replies towards the consumer.
pub const MARK_TO_CONSUMER: u32 = 2;

/// The pairing of endpoint ENIs and fronts.
#[derive(Debug, Clone, Default)]
pub struct Fronts<'n> {
    /// Front → (its endpoint ENI, its link).
    by_front: BTreeMap<EniId, (EniId, &'n ServiceLink)>,
    /// Endpoint ENI → (its front, its link).
    by_endpoint_eni: BTreeMap<EniId, (EniId, &'n ServiceLink)>,
}

impl<'n> Fronts<'n> {
    /// Every linked endpoint ENI of `net` with its front.
    pub fn of(net: &'n Network) -> Fronts<'n> {
        let mut f = Fronts::default();
        for link in &net.service_links {
            let EndpointKind::Interface { enis, .. } = &net.endpoints[link.endpoint.index()].kind
            else {
                continue;
            };
            for (e, front) in enis.iter().zip(&link.fronts) {
                f.by_front.insert(*front, (*e, link));
                f.by_endpoint_eni.insert(*e, (*front, link));
            }
        }
        f
    }

    /// The endpoint ENI whose namespace front `e` lives in (`None`: not a front).
    pub fn endpoint_eni_of(&self, e: EniId) -> Option<EniId> {
        self.by_front.get(&e).map(|(x, _)| *x)
    }

    /// The front of endpoint ENI `e` and its link (`None`: not linked).
    pub fn front_of(&self, e: EniId) -> Option<(EniId, &'n ServiceLink)> {
        self.by_endpoint_eni.get(&e).copied()
    }
}

/// The endpoint namespace's table for `link`, whose front has address `front`.
pub fn endpoint_table(net: &Network, link: &ServiceLink, front: Ipv4Addr) -> NftTable {
    let svc = &net.endpoint_services[link.service];
    let targets: Vec<Ipv4Addr> = svc
        .targets
        .iter()
        .map(|e| net.enis[e.index()].private_ip)
        .collect();
    let ports = svc
        .ports
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let to = match targets.as_slice() {
        [] => None,
        [one] => Some(one.to_string()),
        all => Some(format!(
            "numgen random mod {} map {{ {} }}",
            all.len(),
            all.iter()
                .enumerate()
                .map(|(i, a)| format!("{i} : {a}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    };
    let translate = match (link.state, to) {
        (LinkState::Available, Some(to)) => format!(
            "\t\tiifname \"eth0\" meta l4proto tcp th dport {{ {ports} }} dnat ip to {to}\n"
        ),
        _ => String::new(),
    };
    let body = format!(
        "\tchain to_targets {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\
         {translate}\t}}\n\
         \tchain by_direction {{\n\t\ttype filter hook prerouting priority dstnat + 1; policy accept;\n\
         \t\tct status dnat ct direction original meta mark set {MARK_TO_PROVIDER}\n\
         \t\tct status dnat ct direction reply meta mark set {MARK_TO_CONSUMER}\n\t}}\n\
         \tchain forward {{\n\t\ttype filter hook forward priority filter; policy drop;\n\
         \t\tct state established,related accept\n\
         \t\tiifname \"eth0\" oifname \"{FRONT_LINK}\" ct status dnat meta l4proto tcp accept\n\t}}\n\
         \tchain from_front {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\
         \t\toifname \"{FRONT_LINK}\" snat ip to {front}\n\t}}\n\
         \tchain filter_input {{\n\t\ttype filter hook input priority filter; policy drop;\n\t}}\n"
    );
    finish(&body, Elements::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "tenants:
  - name: p
    vpcs:
      - name: v
        cidr: 10.61.0.0/16
        subnets:
          - { name: s, cidr: 10.61.1.0/24, az: us-east-1a }
        enis:
          - { name: db1, subnet: s, private_ip: 10.61.1.10 }
          - { name: db2, subnet: s, private_ip: 10.61.1.11 }
    endpoint_services:
      - { name: pg, vpc: v, targets: [db1, db2], ports: [5432], allowed_principals: [c], accepted: [c/app/pg] }
  - name: c
    vpcs:
      - name: app
        cidr: 10.61.0.0/16
        subnets:
          - { name: s, cidr: 10.61.1.0/24, az: us-east-1a }
        endpoints:
          - { name: pg, type: interface, service: p/pg, subnets: [s] }
";

    #[test]
    fn an_accepted_link_translates_to_the_targets_and_from_the_front() {
        let net = cove_model::validate::validate_text(SPEC)
            .network
            .expect("valid");
        let fronts = Fronts::of(&net);
        let link = &net.service_links[0];
        assert_eq!(link.state, LinkState::Available);
        let front = link.fronts[0];
        assert_eq!(
            net.enis[front.index()].private_ip,
            Ipv4Addr::new(10, 61, 1, 254)
        );
        let EndpointKind::Interface { enis, .. } = &net.endpoints[link.endpoint.index()].kind
        else {
            panic!("interface");
        };
        assert_eq!(fronts.endpoint_eni_of(front), Some(enis[0]));
        assert_eq!(fronts.front_of(enis[0]).map(|(f, _)| f), Some(front));
        let t = endpoint_table(&net, link, Ipv4Addr::new(10, 61, 1, 254));
        assert!(t.text.contains(
            "iifname \"eth0\" meta l4proto tcp th dport { 5432 } dnat ip to numgen random mod 2 map { 0 : 10.61.1.10, 1 : 10.61.1.11 }"
        ), "{}", t.text);
        assert!(
            t.text.contains("oifname \"eth1\" snat ip to 10.61.1.254"),
            "{}",
            t.text
        );
    }

    #[test]
    fn a_pending_link_translates_nothing() {
        let spec = SPEC.replace(", accepted: [c/app/pg]", "");
        let net = cove_model::validate::validate_text(&spec)
            .network
            .expect("valid");
        let link = &net.service_links[0];
        assert_eq!(link.state, LinkState::Pending);
        let t = endpoint_table(&net, link, Ipv4Addr::new(10, 61, 1, 254));
        assert!(!t.text.contains("dnat ip to"), "{}", t.text);
    }
}
