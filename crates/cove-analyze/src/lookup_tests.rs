//! Property tests: the indexed and naive route lookups against a brute-force
//! longest-prefix reference written independently of both.

use std::net::Ipv4Addr;

use cove_model::{
    NaclId, NatFailover, Network, PeeringId, PrefixList, PrefixListId, Route, RouteDestination,
    RouteOrigin, RouteTable, RouteTableId, RouteTarget, SgId, Tenant, TenantId, Vpc, VpcId,
};
use ipnet::Ipv4Net;
use proptest::prelude::*;

use super::*;

/// Reference: for each prefix length from 32 down, the routes with a CIDR of that
/// length containing `ip`; the first non-empty length wins, then local > static >
/// prefix list, then table order.
fn reference(net: &Network, table: usize, ip: Ipv4Addr) -> Option<(usize, Ipv4Net)> {
    let routes = &net.route_tables[table].routes;
    for len in (0..=32u8).rev() {
        let mut found: Vec<(u8, usize, Ipv4Net)> = Vec::new();
        for (i, r) in routes.iter().enumerate() {
            let cidrs: Vec<Ipv4Net> = match &r.destination {
                RouteDestination::Cidr(c) => vec![*c],
                RouteDestination::PrefixList(p) => net.prefix_lists[p.index()].cidrs.clone(),
            };
            for c in cidrs {
                if c.prefix_len() == len && c.contains(&ip) {
                    let rank = match (&r.target, &r.destination, r.origin) {
                        (RouteTarget::Local, _, _) => 0,
                        (_, _, RouteOrigin::Propagated(_)) => 3,
                        (_, RouteDestination::Cidr(_), _) => 1,
                        _ => 2,
                    };
                    found.push((rank, i, c));
                }
            }
        }
        found.sort();
        if let Some((_, i, c)) = found.first() {
            return Some((*i, *c));
        }
    }
    None
}

/// CIDRs clustered in 10.0.0.0/14 so that they overlap often.
fn cidr() -> impl Strategy<Value = Ipv4Net> {
    (0u32..(1 << 18), prop_oneof![Just(0u8), 8u8..=32u8]).prop_map(|(host, len)| {
        let addr = Ipv4Addr::from(0x0A00_0000 | (host << 4));
        Ipv4Net::new(addr, len).expect("len <= 32").trunc()
    })
}

fn target() -> impl Strategy<Value = RouteTarget> {
    prop_oneof![
        Just(RouteTarget::Local),
        Just(RouteTarget::Blackhole),
        (0u32..3).prop_map(|p| RouteTarget::Peering(PeeringId(p))),
    ]
}

/// One tenant with one VPC (10.0.0.0/8), no other objects: enough to hang route
/// tables and prefix lists on.
fn bare_network() -> Network {
    let mut net = Network::default();
    net.tenants.push(Tenant {
        name: "t".into(),
        account_id: None,
        vpcs: vec![VpcId(0)],
        prefix_lists: Vec::new(),
    });
    net.vpcs.push(Vpc {
        tenant: TenantId(0),
        name: "v".into(),
        aws_id: None,
        cidrs: vec!["10.0.0.0/8".parse().expect("cidr")],
        subnets: Vec::new(),
        route_tables: Vec::new(),
        main_route_table: RouteTableId(0),
        security_groups: Vec::new(),
        default_security_group: SgId(0),
        network_acls: Vec::new(),
        default_network_acl: NaclId(0),
        internet_gateway: None,
        nat_gateways: Vec::new(),
        nat_failover: NatFailover::Independent,
        dns_support: true,
        dns_hostnames: false,
        endpoints: Vec::new(),
        enis: Vec::new(),
        functions: Vec::new(),
    });
    net
}

fn network() -> impl Strategy<Value = Network> {
    let lists = prop::collection::vec(prop::collection::vec(cidr(), 1..4), 0..3);
    let tables = prop::collection::vec(
        prop::collection::vec(
            (cidr(), target(), any::<bool>(), 0usize..3, any::<bool>()),
            0..12,
        ),
        1..3,
    );
    (lists, tables).prop_map(|(lists, tables)| {
        let mut net = bare_network();
        for (i, cidrs) in lists.iter().enumerate() {
            net.prefix_lists.push(PrefixList {
                tenant: TenantId(0),
                name: format!("pl{i}"),
                aws_id: None,
                cidrs: cidrs.clone(),
            });
        }
        for (t, routes) in tables.into_iter().enumerate() {
            let routes = routes
                .into_iter()
                .enumerate()
                .map(|(i, (c, target, use_list, list, propagated))| Route {
                    destination: if use_list && !lists.is_empty() {
                        RouteDestination::PrefixList(PrefixListId(
                            u32::try_from(list % lists.len()).expect("small"),
                        ))
                    } else {
                        RouteDestination::Cidr(c)
                    },
                    target,
                    origin: if propagated {
                        RouteOrigin::Propagated(i)
                    } else {
                        RouteOrigin::Spec(i)
                    },
                })
                .collect();
            net.route_tables.push(RouteTable {
                vpc: VpcId(0),
                name: format!("rt{t}"),
                aws_id: None,
                main: t == 0,
                routes,
            });
        }
        net
    })
}

fn address() -> impl Strategy<Value = Ipv4Addr> {
    prop_oneof![
        (0u32..(1 << 22)).prop_map(|h| Ipv4Addr::from(0x0A00_0000 | h)),
        any::<u32>().prop_map(Ipv4Addr::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn indexed_and_naive_routes_match_brute_force(
        net in network(),
        ips in prop::collection::vec(address(), 1..40),
    ) {
        let indexed = Indexed::new(&net);
        let naive = Naive::new(&net);
        for t in 0..net.route_tables.len() {
            let id = RouteTableId(u32::try_from(t).expect("small"));
            for ip in &ips {
                let want = reference(&net, t, *ip);
                let got = indexed.route(id, *ip).map(|m| (m.index, m.cidr));
                prop_assert_eq!(got, want, "indexed, table {} ip {}", t, ip);
                let got = naive.route(id, *ip).map(|m| (m.index, m.cidr));
                prop_assert_eq!(got, want, "naive, table {} ip {}", t, ip);
            }
        }
    }
}

#[test]
fn static_route_beats_prefix_list_route_of_equal_length() {
    let c: Ipv4Net = "52.216.0.0/15".parse().expect("cidr");
    let mut net = bare_network();
    net.prefix_lists.push(PrefixList {
        tenant: TenantId(0),
        name: "s3".into(),
        aws_id: None,
        cidrs: vec![c],
    });
    net.route_tables.push(RouteTable {
        vpc: VpcId(0),
        name: "rt".into(),
        aws_id: None,
        main: true,
        routes: vec![
            Route {
                destination: RouteDestination::PrefixList(PrefixListId(0)),
                target: RouteTarget::Blackhole,
                origin: RouteOrigin::Spec(0),
            },
            Route {
                destination: RouteDestination::Cidr(c),
                target: RouteTarget::Peering(PeeringId(0)),
                origin: RouteOrigin::Spec(1),
            },
        ],
    });
    let ip = Ipv4Addr::new(52, 217, 1, 1);
    let indexed = Indexed::new(&net);
    let m = indexed.route(RouteTableId(0), ip).expect("route");
    assert_eq!(m.index, 1, "the static route wins the tie");
    let naive = Naive::new(&net);
    let m = naive.route(RouteTableId(0), ip).expect("route");
    assert_eq!(m.index, 1);
}

#[test]
fn static_beats_prefix_list_beats_propagated_route_of_equal_length() {
    let c: Ipv4Net = "52.216.0.0/15".parse().expect("cidr");
    let mut net = bare_network();
    net.prefix_lists.push(PrefixList {
        tenant: TenantId(0),
        name: "s3".into(),
        aws_id: None,
        cidrs: vec![c],
    });
    let propagated = Route {
        destination: RouteDestination::Cidr(c),
        target: RouteTarget::Unmodeled("vgw-1".into()),
        origin: RouteOrigin::Propagated(0),
    };
    let list = Route {
        destination: RouteDestination::PrefixList(PrefixListId(0)),
        target: RouteTarget::Blackhole,
        origin: RouteOrigin::Spec(1),
    };
    let fixed = Route {
        destination: RouteDestination::Cidr(c),
        target: RouteTarget::Peering(PeeringId(0)),
        origin: RouteOrigin::Spec(2),
    };
    let ip = Ipv4Addr::new(52, 217, 1, 1);
    for (routes, winner) in [
        (vec![propagated.clone(), list.clone(), fixed], 2),
        (vec![propagated, list], 1),
    ] {
        let mut net = net.clone();
        net.route_tables.push(RouteTable {
            vpc: VpcId(0),
            name: "rt".into(),
            aws_id: None,
            main: true,
            routes,
        });
        let indexed = Indexed::new(&net);
        let m = indexed.route(RouteTableId(0), ip).expect("route");
        assert_eq!(m.index, winner);
        let naive = Naive::new(&net);
        let m = naive.route(RouteTableId(0), ip).expect("route");
        assert_eq!(m.index, winner);
    }
}
