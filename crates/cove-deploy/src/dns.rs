//! The resolver's catalog for a desired network (issue 12): each VPC's view
//! (`cove_dns::View`), the router links of its ENIs and execution environments
//! (by the names the planner gives them), and the VPC bits of its routing marks.
//! Built once per generation by the reconciler and handed to the running resolver
//! ([`crate::Kernel::resolve`]).

use std::net::{Ipv4Addr, SocketAddr};

use cove_dns::{Catalog, View};
use cove_model::lookup::index_u32;
use cove_model::{EniOwner, Network, VpcId};
use cove_plan::names::Names;
use cove_plan::routing::{MARK_VPC_MASK, vpc_mark};

/// The catalog of `net` under deployment `prefix`.
pub fn catalog(net: &Network, prefix: &str) -> Catalog {
    let names = Names::new(net, prefix);
    let mut c = Catalog::new(MARK_VPC_MASK);
    for v in 0..net.vpcs.len() {
        let v = VpcId(index_u32(v));
        let n = c.add_vpc(View::of(net, v), vpc_mark(v));
        debug_assert_eq!(n, v.index());
    }
    for (i, eni) in net.enis.iter().enumerate() {
        if eni.owner == EniOwner::Shared {
            continue;
        }
        let e = cove_model::EniId(index_u32(i));
        c.add_link(eni.vpc.index(), &names.eni_router_link(e), eni.private_ip);
    }
    if let Ok(envs) = cove_plan::environments::environments(net, &names) {
        for env in envs {
            let vpc = net.functions[env.function.index()].vpc;
            c.add_link(vpc.index(), &env.router_link, env.address);
        }
    }
    c
}

/// The upstream resolvers of this host: the `nameserver` lines of
/// `/etc/resolv.conf` (IPv4, port 53), as a default for `cove serve`.
pub fn host_upstreams() -> Vec<SocketAddr> {
    std::fs::read_to_string("/etc/resolv.conf")
        .map(|text| parse_resolv_conf(&text))
        .unwrap_or_default()
}

/// The IPv4 `nameserver` addresses of a resolv.conf text, port 53.
pub fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some("nameserver"))
                .then(|| words.next())
                .flatten()
                .and_then(|a| a.parse::<Ipv4Addr>().ok())
        })
        .map(|ip| SocketAddr::from((ip, 53)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameservers_are_the_default_upstreams() {
        let text = "# comment\nsearch example.com\nnameserver 192.0.2.53\nnameserver ::1\n\
                    nameserver 198.51.100.1 # second\noptions ndots:1\n";
        assert_eq!(
            parse_resolv_conf(text),
            vec![
                "192.0.2.53:53".parse::<SocketAddr>().expect("addr"),
                "198.51.100.1:53".parse().expect("addr"),
            ]
        );
    }

    #[test]
    fn every_eni_link_of_the_example_finds_its_vpcs_view() {
        let net = crate::example_network();
        let c = catalog(&net, "cove");
        let names = Names::new(&net, "cove");
        assert_eq!(c.len(), net.vpcs.len());
        for (i, eni) in net.enis.iter().enumerate() {
            if eni.owner == EniOwner::Shared {
                continue;
            }
            let link = names.eni_router_link(cove_model::EniId(index_u32(i)));
            let view = c.by_link(&link).expect("a view");
            let want = View::of(&net, eni.vpc).expect("resolver on");
            assert_eq!(**view, want, "{link}");
            // The same VPC through the mark of any of its route tables.
            let mark =
                cove_plan::routing::eni_route_table_mark(&net, cove_model::EniId(index_u32(i)));
            assert_eq!(**c.by_mark(mark, eni.private_ip).expect("by mark"), want);
        }
    }
}
