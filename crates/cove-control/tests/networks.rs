//! Networks: the standard layout, picked ranges, static IPs from the pool (stable,
//! released on delete, reused last), patch and delete, and every refusal.

#![allow(clippy::unwrap_used)]

mod common;

use common::{World, expect_error};
use cove_control::*;
use cove_model::spec::{EniSpec, FunctionSpec, TenantSpec, VpcSpec};

fn req(
    name: &str,
    cidr: Option<&str>,
    region: Option<&str>,
    azs: Option<&[&str]>,
) -> CreateNetwork {
    CreateNetwork {
        name: Some(name.to_owned()),
        cidr: cidr.map(str::to_owned),
        region: region.map(str::to_owned),
        availability_zones: azs.map(|z| z.iter().map(|s| s.to_string()).collect()),
        nat_failover: None,
    }
}

fn create(w: &mut World, t: &TenantId, r: CreateNetwork) -> Result<Network, ControlError> {
    w.run(|s, e| create_network(s, t, e, r, &TenantSpec::default()))
}

#[test]
fn a_network_gets_the_standard_layout_and_a_static_ip_pair() {
    let mut w = World::new();
    let a = w.tenant("acme");
    let n = w.network(&a, "app", None);
    assert_eq!(n.status, NetworkStatus::Creating);
    assert_eq!(n.cidr.to_string(), "10.0.0.0/16");
    assert_eq!(n.availability_zones, ["us-east-1a", "us-east-1b"]);
    let layout: Vec<_> = n
        .subnets
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.tier,
                s.availability_zone.as_str(),
                s.cidr.to_string(),
                s.route_table.as_str(),
            )
        })
        .collect();
    assert_eq!(
        layout,
        [
            (
                "public-a",
                SubnetTier::Public,
                "us-east-1a",
                "10.0.0.0/18".to_owned(),
                "public"
            ),
            (
                "public-b",
                SubnetTier::Public,
                "us-east-1b",
                "10.0.64.0/18".to_owned(),
                "public"
            ),
            (
                "private-a",
                SubnetTier::Private,
                "us-east-1a",
                "10.0.128.0/18".to_owned(),
                "private-a"
            ),
            (
                "private-b",
                SubnetTier::Private,
                "us-east-1b",
                "10.0.192.0/18".to_owned(),
                "private-b"
            ),
        ]
    );
    assert_eq!(n.subnets[0].route_table_id, n.subnets[1].route_table_id);
    assert_ne!(n.subnets[2].route_table_id, n.subnets[3].route_table_id);
    let nats: Vec<_> = n
        .nat_gateways
        .iter()
        .map(|g| (g.name.as_str(), g.subnet.as_str(), g.public_ip.to_string()))
        .collect();
    assert_eq!(
        nats,
        [
            ("nat-a", "public-a", "203.0.113.0".to_owned()),
            ("nat-b", "public-b", "203.0.113.1".to_owned())
        ]
    );
    assert_eq!(
        n.static_ips,
        n.nat_gateways
            .iter()
            .map(|g| g.public_ip)
            .collect::<Vec<_>>()
    );
    assert!(n.vpc_id.starts_with("vpc-") && n.vpc_id.len() == 21);
    // The next network of the tenant gets the next free /16; the reconciler makes
    // both ready.
    let m = w.network(&a, "jobs", None);
    assert_eq!(m.cidr.to_string(), "10.1.0.0/16");
    assert_eq!(m.static_ips.len(), 2);
    w.reconcile();
    assert!(
        w.state
            .networks
            .values()
            .all(|n| n.status == NetworkStatus::Ready)
    );
    // Another tenant's picked range may overlap (ranges are per tenant), its IPs never.
    let b = w.tenant("globex");
    let o = w.network(&b, "app", None);
    assert_eq!(o.cidr.to_string(), "10.0.0.0/16");
    assert!(
        o.static_ips
            .iter()
            .all(|ip| !n.static_ips.contains(ip) && !m.static_ips.contains(ip))
    );
    assert_eq!(list_networks(&w.state, &b).len(), 1);
    assert_eq!(get_network(&w.state, &a, "jobs").unwrap().id, m.id);
}

#[test]
fn the_nat_pair_is_the_default_with_an_even_number_of_zones_and_can_be_changed() {
    let mut w = World::new();
    let a = w.tenant("acme");
    let n = w.network(&a, "app", None);
    assert_eq!(n.nat_failover, NatFailoverMode::Pair);
    assert_eq!(network_vpc(&n).nat_failover.as_deref(), Some("pair"));
    let three: &[&str] = &["eu-central-1a", "eu-central-1b", "eu-central-1c"];
    let odd = create(
        &mut w,
        &a,
        req(
            "odd",
            Some("172.16.0.0/16"),
            Some("eu-central-1"),
            Some(three),
        ),
    )
    .unwrap();
    assert_eq!(odd.nat_failover, NatFailoverMode::Independent);
    assert_eq!(network_vpc(&odd).nat_failover, None);
    let bad = create(
        &mut w,
        &a,
        CreateNetwork {
            nat_failover: Some("pair".into()),
            ..req(
                "odd2",
                Some("172.17.0.0/16"),
                Some("eu-central-1"),
                Some(three),
            )
        },
    )
    .unwrap_err();
    expect_error(&bad, ErrorCode::InvalidParameterValue, Some("nat_failover"));
    let bad = create(
        &mut w,
        &a,
        CreateNetwork {
            nat_failover: Some("hot-standby".into()),
            ..req("odd3", Some("172.18.0.0/16"), Some("us-east-1"), None)
        },
    )
    .unwrap_err();
    expect_error(&bad, ErrorCode::InvalidParameterValue, Some("nat_failover"));
    // A pair may become independent gateways, and back.
    let env = w.env();
    let out = patch_network(
        &w.state,
        &a,
        &env,
        &n.id,
        PatchNetwork {
            nat_failover: Some("independent".into()),
            ..Default::default()
        },
        &TenantSpec::default(),
    )
    .unwrap();
    assert_eq!(out.value.nat_failover, NatFailoverMode::Independent);
    assert_eq!(network_vpc(&out.value).nat_failover, None);
    assert_eq!(out.changes.len(), 1);
}

#[test]
fn three_zones_and_small_blocks_are_laid_out_in_equal_parts() {
    let mut w = World::new();
    let a = w.tenant("acme");
    let azs: &[&str] = &["eu-central-1a", "eu-central-1b", "eu-central-1c"];
    let n = create(
        &mut w,
        &a,
        req("eu", Some("172.16.0.0/16"), Some("eu-central-1"), Some(azs)),
    )
    .unwrap();
    assert_eq!(n.subnets.len(), 6);
    assert!(n.subnets.iter().all(|s| s.cidr.prefix_len() == 19));
    assert_eq!(n.nat_gateways.len(), 3);
    assert_eq!(n.static_ips.len(), 3);
    let small = create(
        &mut w,
        &a,
        req("small", Some("192.168.0.0/26"), Some("us-west-2"), None),
    )
    .unwrap();
    assert!(small.subnets.iter().all(|s| s.cidr.prefix_len() == 28));
}

#[test]
fn every_bad_create_request_names_its_field() {
    let mut w = World::new();
    let a = w.tenant("acme");
    w.network(&a, "app", None);
    let r = Some("us-east-1");
    let cases: Vec<(CreateNetwork, ErrorCode, Option<&str>)> = vec![
        (
            CreateNetwork {
                name: None,
                ..req("", None, r, None)
            },
            ErrorCode::MissingParameter,
            Some("name"),
        ),
        (
            req("a b", None, r, None),
            ErrorCode::InvalidParameterValue,
            Some("name"),
        ),
        (
            req(&"n".repeat(65), None, r, None),
            ErrorCode::InvalidParameterValue,
            Some("name"),
        ),
        (
            req("app", None, r, None),
            ErrorCode::DuplicateName,
            Some("name"),
        ),
        (
            req("x", None, None, None),
            ErrorCode::MissingParameter,
            Some("region"),
        ),
        (
            req("x", None, Some("mars"), None),
            ErrorCode::InvalidParameterValue,
            Some("region"),
        ),
        (
            req("x", None, Some("US-EAST-1"), None),
            ErrorCode::InvalidParameterValue,
            Some("region"),
        ),
        (
            req("x", None, r, Some(&[])),
            ErrorCode::InvalidParameterValue,
            Some("availability_zones"),
        ),
        (
            req("x", None, r, Some(&["us-east-1a"; 7])),
            ErrorCode::InvalidParameterValue,
            Some("availability_zones"),
        ),
        (
            req("x", None, r, Some(&["us-east-1a", "us-west-2b"])),
            ErrorCode::InvalidParameterValue,
            Some("availability_zones[1]"),
        ),
        (
            req("x", None, r, Some(&["us-east-1a", "us-east-1a"])),
            ErrorCode::InvalidParameterValue,
            Some("availability_zones[1]"),
        ),
        (
            req("x", Some("10.0.0.0"), r, None),
            ErrorCode::InvalidParameterValue,
            Some("cidr"),
        ),
        (
            req("x", Some("10.0.0.1/16"), r, None),
            ErrorCode::InvalidParameterValue,
            Some("cidr"),
        ),
        (
            req("x", Some("10.0.0.0/15"), r, None),
            ErrorCode::InvalidVpcRange,
            Some("cidr"),
        ),
        (
            req("x", Some("10.0.0.0/29"), r, None),
            ErrorCode::InvalidVpcRange,
            Some("cidr"),
        ),
        (
            req("x", Some("203.0.113.0/24"), r, None),
            ErrorCode::InvalidVpcRange,
            Some("cidr"),
        ),
        (
            req("x", Some("10.0.0.0/27"), r, None),
            ErrorCode::InvalidVpcRange,
            Some("cidr"),
        ),
    ];
    for (request, code, field) in cases {
        let what = format!("{request:?}");
        let e = w.refused(|s, e| create_network(s, &a, e, request, &TenantSpec::default()));
        expect_error(&e, code, field);
        assert!(
            e.status == 400 || code == ErrorCode::DuplicateName,
            "{what}: {e:?}"
        );
    }
    // The smallest block for two zones is a /26 (four /28 subnets).
    assert!(create(&mut w, &a, req("tiny", Some("10.9.0.0/26"), r, None)).is_ok());
}

#[test]
fn quotas_pool_and_free_ranges_run_out_with_their_own_codes() {
    let mut w = World::new();
    let admin = w.admin.clone();
    let a = w.tenant("acme");
    let q = Quotas {
        networks: 2,
        vpcs: 3,
        ..Quotas::default()
    };
    w.run(|s, _| set_quotas(s, &admin, &a, q)).unwrap();
    w.network(&a, "one", None);
    let spec = TenantSpec {
        vpcs: vec![VpcSpec {
            name: "own".into(),
            cidr: "10.99.0.0/16".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    // The spec's VPC name is taken; its VPC counts toward the VPC quota.
    let e = w
        .refused(|s, e| create_network(s, &a, e, req("own", None, Some("us-east-1"), None), &spec));
    expect_error(&e, ErrorCode::DuplicateName, Some("name"));
    let two = VpcSpec {
        name: "own2".into(),
        ..spec.vpcs[0].clone()
    };
    let spec2 = TenantSpec {
        vpcs: vec![spec.vpcs[0].clone(), two],
        ..Default::default()
    };
    let e = w.refused(|s, e| {
        create_network(s, &a, e, req("two", None, Some("us-east-1"), None), &spec2)
    });
    expect_error(&e, ErrorCode::VpcLimitExceeded, None);
    w.run(|s, e| create_network(s, &a, e, req("two", None, Some("us-east-1"), None), &spec))
        .unwrap();
    let e = w.refused(|s, e| {
        create_network(
            s,
            &a,
            e,
            req("three", None, Some("us-east-1"), None),
            &TenantSpec::default(),
        )
    });
    expect_error(&e, ErrorCode::NetworkLimitExceeded, None);

    // The pool: 16 addresses, 4 used; 6 more networks of two zones use 12.
    let b = w.tenant("globex");
    let q = Quotas {
        networks: 400,
        vpcs: 400,
        static_ips: 400,
        ..Quotas::default()
    };
    w.run(|s, _| set_quotas(s, &admin, &b, q)).unwrap();
    for i in 0..6 {
        w.network(&b, &format!("n{i}"), None);
    }
    let e = w.refused(|s, e| {
        create_network(
            s,
            &b,
            e,
            req("n6", None, Some("us-east-1"), None),
            &TenantSpec::default(),
        )
    });
    expect_error(&e, ErrorCode::InsufficientAddressCapacity, None);
    assert_eq!(e.status, 503);

    // Free ranges: fill every /16 of the private ranges, then none is left.
    w.run(|s, _| {
        set_ip_pool(
            s,
            &admin,
            &["203.0.113.0/28".into(), "198.51.100.0/22".into()],
        )
    })
    .unwrap();
    let c = w.tenant("initech");
    w.run(|s, _| set_quotas(s, &admin, &c, q)).unwrap();
    let mut blocks = Vec::new();
    for r in ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] {
        let r: ipnet::Ipv4Net = r.parse().unwrap();
        blocks.extend(r.subnets(16).unwrap());
    }
    for (i, block) in blocks.iter().enumerate() {
        let name = format!("f{i}");
        let cidr = block.to_string();
        create(
            &mut w,
            &c,
            req(&name, Some(&cidr), Some("us-east-1"), Some(&["us-east-1a"])),
        )
        .unwrap();
    }
    let e = w.refused(|s, e| {
        create_network(
            s,
            &c,
            e,
            req("last", None, Some("us-east-1"), None),
            &TenantSpec::default(),
        )
    });
    expect_error(&e, ErrorCode::InsufficientCidrBlocks, Some("cidr"));
}

#[test]
fn patch_changes_the_name_only_and_keeps_the_static_ips() {
    let mut w = World::new();
    let a = w.tenant("acme");
    let n = w.network(&a, "app", None);
    w.network(&a, "other", None);
    let patched = w
        .run(|s, e| {
            patch_network(
                s,
                &a,
                e,
                &n.id,
                PatchNetwork {
                    name: Some("web".into()),
                    ..Default::default()
                },
                &TenantSpec::default(),
            )
        })
        .unwrap();
    assert_eq!(patched.name, "web");
    assert_eq!(
        (&patched.static_ips, &patched.vpc_id, patched.cidr),
        (&n.static_ips, &n.vpc_id, n.cidr)
    );
    assert!(patched.updated_at > n.updated_at);
    // The current values may be sent back; nothing changes.
    let same = PatchNetwork {
        name: Some("web".into()),
        cidr: Some("10.0.0.0/16".into()),
        region: Some("us-east-1".into()),
        availability_zones: Some(vec!["us-east-1a".into(), "us-east-1b".into()]),
        nat_failover: Some("pair".into()),
    };
    let env = w.env();
    assert!(
        patch_network(&w.state, &a, &env, &n.id, same, &TenantSpec::default())
            .unwrap()
            .changes
            .is_empty()
    );
    let cases = [
        (
            PatchNetwork {
                cidr: Some("10.5.0.0/16".into()),
                ..Default::default()
            },
            ErrorCode::InvalidParameterCombination,
            "cidr",
        ),
        (
            PatchNetwork {
                region: Some("us-west-2".into()),
                ..Default::default()
            },
            ErrorCode::InvalidParameterCombination,
            "region",
        ),
        (
            PatchNetwork {
                availability_zones: Some(vec!["us-east-1a".into()]),
                ..Default::default()
            },
            ErrorCode::InvalidParameterCombination,
            "availability_zones",
        ),
        (
            PatchNetwork {
                name: Some("other".into()),
                ..Default::default()
            },
            ErrorCode::DuplicateName,
            "name",
        ),
        (
            PatchNetwork {
                name: Some("".into()),
                ..Default::default()
            },
            ErrorCode::MissingParameter,
            "name",
        ),
    ];
    for (p, code, field) in cases {
        let e = w.refused(|s, e| patch_network(s, &a, e, &n.id, p, &TenantSpec::default()));
        expect_error(&e, code, Some(field));
    }
    let b = w.tenant("globex");
    let e = w.refused(|s, e| {
        patch_network(
            s,
            &b,
            e,
            &n.id,
            PatchNetwork::default(),
            &TenantSpec::default(),
        )
    });
    expect_error(&e, ErrorCode::InvalidNetworkIdNotFound, Some("id"));
    assert!(!e.message.contains("web") && !e.message.contains("acme"));
    w.run(|s, e| delete_network(s, &a, e, &n.id, &TenantSpec::default()))
        .unwrap();
    let e = w.refused(|s, e| {
        patch_network(
            s,
            &a,
            e,
            &n.id,
            PatchNetwork {
                name: Some("x".into()),
                ..Default::default()
            },
            &TenantSpec::default(),
        )
    });
    expect_error(&e, ErrorCode::IncorrectState, Some("id"));
}

#[test]
fn delete_is_refused_while_used_and_releases_the_ips_once_the_kernel_is_done() {
    let mut w = World::new();
    let a = w.tenant("acme");
    let b = w.tenant("globex");
    let n = w.network(&a, "app", None);
    let m = w.network(&b, "db", Some("10.50.0.0/16"));
    // A function (or an ENI) of the tenant's spec in the network blocks it.
    let f = FunctionSpec {
        name: "api".into(),
        runtime: "python3.11".into(),
        handler: "app.handler".into(),
        code: "/x".into(),
        subnets: vec!["private-a".into()],
        ..Default::default()
    };
    let with_fn = TenantSpec {
        vpcs: vec![VpcSpec {
            name: "app".into(),
            functions: vec![f],
            ..Default::default()
        }],
        ..Default::default()
    };
    let e = w.refused(|s, e| delete_network(s, &a, e, &n.id, &with_fn));
    expect_error(&e, ErrorCode::DependencyViolation, Some("id"));
    assert!(e.message.contains("function `api`"), "{e:?}");
    let eni = EniSpec {
        name: "db-1".into(),
        subnet: "private-a".into(),
        ..Default::default()
    };
    let with_eni = TenantSpec {
        vpcs: vec![VpcSpec {
            id: Some(n.vpc_id.clone()),
            name: "x".into(),
            enis: vec![eni],
            ..Default::default()
        }],
        ..Default::default()
    };
    let e = w.refused(|s, e| delete_network(s, &a, e, &n.id, &with_eni));
    expect_error(&e, ErrorCode::DependencyViolation, Some("id"));
    // An active peering blocks it; a pending one is deleted with it.
    let p = w.request(&a, &n, &m);
    w.run(|s, e| accept_peering(s, &b, e, &p.id)).unwrap();
    w.reconcile();
    for (t, id) in [(&a, &n.id), (&b, &m.id)] {
        let e = w.refused(|s, e| delete_network(s, t, e, id, &TenantSpec::default()));
        expect_error(&e, ErrorCode::DependencyViolation, Some("id"));
    }
    w.run(|s, e| delete_peering(s, &b, e, &p.id)).unwrap();
    let m2 = w.network(&b, "db2", Some("10.51.0.0/16"));
    let pending = w.request(&a, &n, &m2);
    // Another tenant cannot delete it.
    let e = w.refused(|s, e| delete_network(s, &b, e, &n.id, &TenantSpec::default()));
    expect_error(&e, ErrorCode::InvalidNetworkIdNotFound, Some("id"));
    // The accepter of a pending request from another tenant rejects it first (AWS).
    let e = w.refused(|s, e| delete_network(s, &b, e, &m2.id, &TenantSpec::default()));
    expect_error(&e, ErrorCode::DependencyViolation, Some("id"));
    assert!(
        e.message.contains(pending.id.as_str()) && !e.message.contains("acme"),
        "{e:?}"
    );
    let gone = w
        .run(|s, e| delete_network(s, &a, e, &n.id, &TenantSpec::default()))
        .unwrap();
    assert_eq!(gone.status, NetworkStatus::Deleting);
    assert_eq!(
        get_peering(&w.state, &b, &pending.id).unwrap().status,
        PeeringStatus::Deleted
    );
    // Deleting again changes nothing; the IPs stay held until the kernel is done.
    let env = w.env();
    assert!(
        delete_network(&w.state, &a, &env, &n.id, &TenantSpec::default())
            .unwrap()
            .changes
            .is_empty()
    );
    let held: Vec<_> = w
        .state
        .networks
        .values()
        .flat_map(|x| x.static_ips.clone())
        .collect();
    assert!(n.static_ips.iter().all(|ip| held.contains(ip)));
    w.reconcile();
    assert!(!w.state.networks.contains_key(&n.id));
    for ip in &n.static_ips {
        assert!(w.state.ip_pool.released_at.contains_key(ip));
    }
}

#[test]
fn released_ips_are_reused_last_and_oldest_first() {
    let mut w = World::new();
    let admin = w.admin.clone();
    w.run(|s, _| set_ip_pool(s, &admin, &["203.0.113.0/30".into()]))
        .unwrap();
    let a = w.tenant("acme");
    let b = w.tenant("globex");
    let first = w.network(&a, "one", None);
    let one_az: &[&str] = &["us-east-1a"];
    let second = create(
        &mut w,
        &a,
        req("two", None, Some("us-east-1"), Some(one_az)),
    )
    .unwrap();
    assert_eq!(second.static_ips[0].to_string(), "203.0.113.2");
    // Released in the other order than they were handed out: .2, then .0 and .1.
    for id in [&second.id, &first.id] {
        w.run(|s, e| delete_network(s, &a, e, id, &TenantSpec::default()))
            .unwrap();
        w.reconcile();
    }
    // The never-used address (.3) first, then the one released longest ago (.2),
    // then .0 (released together with .1, pool order).
    let n = create(
        &mut w,
        &b,
        req(
            "x",
            None,
            Some("us-east-1"),
            Some(&["us-east-1a", "us-east-1b", "us-east-1c"]),
        ),
    )
    .unwrap();
    let ips: Vec<String> = n.static_ips.iter().map(|i| i.to_string()).collect();
    assert_eq!(ips, ["203.0.113.3", "203.0.113.2", "203.0.113.0"]);
}

#[test]
fn a_network_is_found_by_id_before_by_name() {
    let mut w = World::new();
    let a = w.tenant("acme");
    let first = w.network(&a, "app", None);
    // A later network named like the first one's id does not hide it.
    let second = w.network(&a, first.id.as_str(), None);
    assert_eq!(
        get_network(&w.state, &a, first.id.as_str()).unwrap().id,
        first.id
    );
    assert_eq!(get_network(&w.state, &a, "app").unwrap().id, first.id);
    assert_eq!(
        get_network(&w.state, &a, second.id.as_str()).unwrap().id,
        second.id
    );
    let e = get_network(&w.state, &a, "nope").unwrap_err();
    expect_error(&e, ErrorCode::InvalidNetworkIdNotFound, Some("id"));
}
