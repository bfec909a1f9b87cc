//! A hostile tenant against another: its spec may not reach into the other's VPCs
//! (groups, prefix lists, peerings, ids, public addresses), nothing it writes makes
//! the whole desired spec invalid for everyone, and its refusals read the same
//! whether the other tenant's object exists or not.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::World;
use cove_control::*;
use cove_model::spec::{
    EniSpec, FunctionSpec, PrefixListSpec, RouteSpec, RouteTableSpec, Scalar, SecurityGroupSpec,
    SgRuleSpec, TenantSpec, VpcSpec,
};
use cove_model::{RouteTarget, SgPeer};

/// acme (older) with network `app` and globex with network `db`.
fn two() -> (World, TenantId, Network, TenantId, Network) {
    let mut w = World::new();
    let a = w.tenant("acme");
    let b = w.tenant("globex");
    let app = w.network(&a, "app", Some("10.1.0.0/16"));
    let db = w.network(&b, "db", Some("10.2.0.0/16"));
    w.reconcile();
    (w, a, app, b, db)
}

/// A VPC adding to the network named `name`.
fn vpc(name: &str) -> VpcSpec {
    VpcSpec {
        name: name.into(),
        ..Default::default()
    }
}

fn rule_to_group(g: &str) -> SgRuleSpec {
    SgRuleSpec {
        protocol: "tcp".into(),
        ports: Some(Scalar::Int(5432)),
        security_group: Some(g.into()),
        ..Default::default()
    }
}

fn group(name: &str, id: Option<&str>, ingress: Vec<SgRuleSpec>) -> SecurityGroupSpec {
    SecurityGroupSpec {
        name: name.into(),
        id: id.map(str::to_owned),
        ingress,
        ..Default::default()
    }
}

/// Everything another tenant may not read in an error: acme's name, ids, blocks.
fn assert_names_nothing_of(e: &ControlError, w: &World, t: &TenantId) {
    let text = format!("{} {} {:?}", e.message, e.hint, e.field);
    let tenant = &w.state.tenants[t];
    let mut secrets = vec![tenant.name.clone(), tenant.id.0.clone()];
    for n in w.state.networks_of(t) {
        secrets.extend([n.id.0.clone(), n.name.clone(), n.cidr.to_string()]);
        secrets.extend(n.static_ips.iter().map(ToString::to_string));
    }
    for s in secrets {
        assert!(!text.contains(&s), "`{s}` leaked in {e:?}");
    }
}

#[test]
fn an_id_in_one_tenants_spec_never_shadows_anothers_names() {
    let (w, a, _, b, _) = two();
    // acme allows 5432 from its own prefix list `corp` and its own group `db`.
    let acme = TenantSpec {
        prefix_lists: vec![PrefixListSpec {
            name: "corp".into(),
            cidrs: vec!["10.9.0.0/16".into()],
            ..Default::default()
        }],
        vpcs: vec![VpcSpec {
            security_groups: vec![
                group("db", None, vec![]),
                group(
                    "api",
                    None,
                    vec![
                        rule_to_group("db"),
                        SgRuleSpec {
                            protocol: "tcp".into(),
                            ports: Some(Scalar::Int(443)),
                            prefix_list: Some("corp".into()),
                            ..Default::default()
                        },
                    ],
                ),
            ],
            ..vpc("app")
        }],
        ..Default::default()
    };
    // globex (stored before the scoping checks existed, or written by hand) gives
    // its own list and group acme's names as ids.
    let globex = TenantSpec {
        prefix_lists: vec![PrefixListSpec {
            name: "mine".into(),
            id: Some("corp".into()),
            cidrs: vec!["0.0.0.0/0".into()],
            ..Default::default()
        }],
        vpcs: vec![VpcSpec {
            security_groups: vec![group("x", Some("db"), vec![])],
            ..vpc("db")
        }],
        ..Default::default()
    };
    let specs = BTreeMap::from([(a.clone(), acme), (b.clone(), globex)]);
    let v = cove_model::validate::validate(&desired_spec(&w.state, &specs));
    let errors: Vec<_> = v.errors().collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let net = v.network.unwrap();
    let api = net
        .security_groups
        .iter()
        .find(|g| g.name == "api")
        .unwrap();
    let SgPeer::Group(g) = api.ingress[0].peer else {
        panic!("{:?}", api.ingress[0].peer)
    };
    assert_eq!(
        net.security_groups[g.index()].aws_id,
        None,
        "acme's own `db`"
    );
    assert_eq!(
        net.vpc_path(net.security_groups[g.index()].vpc),
        net.vpc_path(api.vpc)
    );
    let SgPeer::PrefixList(p) = api.ingress[1].peer else {
        panic!("{:?}", api.ingress[1].peer)
    };
    assert_eq!(net.prefix_lists[p.index()].name, "corp");
    assert_eq!(
        net.prefix_lists[p.index()].cidrs,
        ["10.9.0.0/16".parse().unwrap()]
    );
}

#[test]
fn a_spec_names_no_group_or_prefix_list_of_another_tenant_and_cannot_tell_if_it_exists() {
    let (w, a, _, b, _) = two();
    let refuse = |g: Option<&str>, pl: Option<&str>| {
        let spec = TenantSpec {
            vpcs: vec![VpcSpec {
                security_groups: vec![group(
                    "api",
                    None,
                    vec![SgRuleSpec {
                        protocol: "tcp".into(),
                        ports: Some(Scalar::Int(5432)),
                        security_group: g.map(str::to_owned),
                        prefix_list: pl.map(str::to_owned),
                        ..Default::default()
                    }],
                )],
                ..vpc("db")
            }],
            ..Default::default()
        };
        check_tenant_spec(&w.state, &b, &spec).expect_err("refused")
    };
    let app = w.state.networks_of(&a)[0].id.clone();
    let exists = refuse(Some(&format!("acme/{app}/default")), None);
    let missing = refuse(Some("nobody/vpc-x/default"), None);
    assert_eq!(exists.code, ErrorCode::InvalidGroupNotFound);
    assert_eq!(exists.status, 400);
    assert_eq!(
        exists.field.as_deref(),
        Some("vpcs[db].security_groups[api].ingress[0].security_group")
    );
    assert_eq!((exists.code, &exists.field), (missing.code, &missing.field));
    assert_eq!(
        exists.message.replace(&format!("acme/{app}/default"), "X"),
        missing.message.replace("nobody/vpc-x/default", "X")
    );
    // An `sg-…` id it did not declare could be anyone's.
    let e = refuse(Some("sg-0123abcd"), None);
    assert_eq!(e.code, ErrorCode::InvalidGroupNotFound);
    for pl in ["acme/corp", "pl-0123abcd"] {
        let e = refuse(None, Some(pl));
        assert_eq!(e.code, ErrorCode::InvalidPrefixListIdNotFound, "{pl}");
        assert_eq!(
            e.field.as_deref(),
            Some("vpcs[db].security_groups[api].ingress[0].prefix_list")
        );
    }
}

#[test]
fn a_spec_sets_no_ids_and_cannot_tell_which_exist() {
    let (w, _, app, b, db) = two();
    let with_vpc_id = |id: &str| TenantSpec {
        vpcs: vec![VpcSpec {
            name: "lab".into(),
            id: Some(id.into()),
            cidr: "10.200.0.0/24".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    // Free text that could stand for a name, acme's VPC id (globex saw it in a
    // peering request), one nobody has: the same refusal.
    let refusals: Vec<ControlError> = ["acme/app", "db", app.vpc_id.as_str(), "vpc-0a1b2c3d"]
        .iter()
        .map(|id| check_tenant_spec(&w.state, &b, &with_vpc_id(id)).expect_err(id))
        .collect();
    for (e, id) in refusals
        .iter()
        .zip(["acme/app", "db", app.vpc_id.as_str(), "vpc-0a1b2c3d"])
    {
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::InvalidParameterValue, Some("vpcs[lab].id"))
        );
        assert_eq!(
            e.message.replace(id, "X"),
            refusals[3].message.replace("vpc-0a1b2c3d", "X")
        );
    }
    // A subnet id of acme's network, too.
    let spec = TenantSpec {
        vpcs: vec![VpcSpec {
            subnets: vec![cove_model::spec::SubnetSpec {
                name: "extra".into(),
                id: Some(app.subnets[0].id.clone()),
                cidr: "10.2.200.0/24".into(),
                az: "us-east-1a".into(),
                ..Default::default()
            }],
            ..vpc("db")
        }],
        ..Default::default()
    };
    let e = check_tenant_spec(&w.state, &b, &spec).expect_err("an id");
    assert_eq!(e.field.as_deref(), Some("vpcs[db].subnets[extra].id"));
    // Its own network named by VPC id, which `id` may repeat.
    let own = TenantSpec {
        vpcs: vec![VpcSpec {
            id: Some(db.vpc_id.clone()),
            ..vpc(&db.vpc_id)
        }],
        ..Default::default()
    };
    check_tenant_spec(&w.state, &b, &own).unwrap();
}

#[test]
fn a_spec_claims_no_public_address() {
    let (w, a, app, b, _) = two();
    let free_in_pool = "203.0.113.14";
    assert!(
        !w.state
            .networks
            .values()
            .any(|n| n.static_ips.iter().any(|ip| ip.to_string() == free_in_pool))
    );
    // acme's static IP, a pool address the next network would get, any address.
    for ip in [
        app.static_ips[0].to_string(),
        free_in_pool.into(),
        "8.8.8.8".into(),
    ] {
        let spec = TenantSpec {
            vpcs: vec![VpcSpec {
                enis: vec![EniSpec {
                    name: "web".into(),
                    subnet: "public-a".into(),
                    public_ip: Some(ip.clone()),
                    ..Default::default()
                }],
                ..vpc("db")
            }],
            ..Default::default()
        };
        let e = check_tenant_spec(&w.state, &b, &spec).expect_err(&ip);
        assert_eq!(e.code, ErrorCode::InvalidAddressNotFound, "{ip}");
        assert_eq!(e.field.as_deref(), Some("vpcs[db].enis[web].public_ip"));
        assert_names_nothing_of(&e, &w, &a);
    }
}

/// globex's route over a peering connection.
fn route_over(p: &str) -> TenantSpec {
    TenantSpec {
        vpcs: vec![VpcSpec {
            route_tables: vec![RouteTableSpec {
                name: "private-a".into(),
                routes: vec![RouteSpec {
                    destination: Some("10.77.0.0/16".into()),
                    peering: Some(p.into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..vpc("db")
        }],
        ..Default::default()
    }
}

#[test]
fn a_route_uses_only_a_peering_of_its_own_network() {
    let (mut w, a, app, b, _) = two();
    let c = w.tenant("initech");
    let lab = w.network(&c, "lab", Some("10.3.0.0/16"));
    // acme and initech are peered; globex is no side of it.
    let p = w.request(&a, &app, &lab);
    w.run(|s, e| accept_peering(s, &c, e, &p.id)).unwrap();
    w.reconcile();
    let theirs = check_tenant_spec(&w.state, &b, &route_over(p.id.as_str())).expect_err("x");
    let none =
        check_tenant_spec(&w.state, &b, &route_over("pcx-0123456789abcdef0")).expect_err("y");
    assert_eq!(
        theirs.code,
        ErrorCode::InvalidVpcPeeringConnectionIdNotFound
    );
    assert_eq!(
        theirs.field.as_deref(),
        Some("vpcs[db].route_tables[private-a].routes[0].peering")
    );
    assert_eq!((theirs.code, &theirs.field), (none.code, &none.field));
    assert_eq!(
        theirs.message.replace(p.id.as_str(), "X"),
        none.message.replace("pcx-0123456789abcdef0", "X")
    );
    assert_names_nothing_of(&theirs, &w, &a);
}

#[test]
fn the_peer_deleting_a_peering_leaves_the_desired_spec_valid() {
    let (mut w, a, app, b, db) = two();
    let p = w.request(&a, &app, &db);
    w.run(|s, e| accept_peering(s, &b, e, &p.id)).unwrap();
    w.reconcile();
    // globex routes a further block of acme's over the peering (as a tenant may).
    let mut spec = route_over(p.id.as_str());
    spec.vpcs[0].route_tables[0].routes[0].destination = Some("10.1.128.0/17".into());
    check_tenant_spec(&w.state, &b, &spec).unwrap();
    let specs = BTreeMap::from([(b.clone(), spec)]);
    let v = cove_model::validate::validate(&desired_spec(&w.state, &specs));
    assert!(v.errors().next().is_none());
    // acme deletes the peering: globex's stored route now points at nothing.
    w.run(|s, e| delete_peering(s, &a, e, &p.id)).unwrap();
    let v = cove_model::validate::validate(&desired_spec(&w.state, &specs));
    let errors: Vec<_> = v.errors().collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let net = v.network.unwrap();
    let rt = net
        .route_tables
        .iter()
        .find(|t| t.name == "private-a" && net.vpc_path(t.vpc).contains(db.id.as_str()))
        .unwrap();
    let r = rt
        .routes
        .iter()
        .find(|r| format!("{:?}", r.destination).contains("10.1.128.0/17"))
        .unwrap();
    assert_eq!(r.target, RouteTarget::Blackhole, "as AWS shows it");
}

#[test]
fn a_spec_vpc_adds_to_one_network_only() {
    let (mut w, _, _, b, db) = two();
    let second = w.network(&b, "db2", Some("10.4.0.0/16"));
    let both = TenantSpec {
        vpcs: vec![VpcSpec {
            id: Some(db.vpc_id.clone()),
            enis: vec![EniSpec {
                name: "e".into(),
                subnet: "private-a".into(),
                ..Default::default()
            }],
            ..vpc("db2")
        }],
        ..Default::default()
    };
    let e = check_tenant_spec(&w.state, &b, &both).expect_err("two networks");
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::InvalidParameterCombination, Some("vpcs[db2]"))
    );
    // The same through a network created (or renamed) after the spec was stored.
    let by_id = TenantSpec {
        vpcs: vec![VpcSpec {
            id: Some(db.vpc_id.clone()),
            ..vpc("web")
        }],
        ..Default::default()
    };
    check_tenant_spec(&w.state, &b, &by_id).unwrap();
    let create = |s: &ControlState, e: &Env| {
        create_network(
            s,
            &b,
            e,
            CreateNetwork {
                name: Some("web".into()),
                region: Some("us-east-1".into()),
                ..Default::default()
            },
            &by_id,
        )
    };
    let e = w.refused(create);
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::DuplicateName, Some("name"))
    );
    let e = w.refused(|s, e| {
        patch_network(
            s,
            &b,
            e,
            &second.id,
            PatchNetwork {
                name: Some("web".into()),
                ..Default::default()
            },
            &by_id,
        )
    });
    assert_eq!(e.code, ErrorCode::DuplicateName);
}

#[test]
fn huge_concurrencies_do_not_wrap_around_the_quota() {
    let (w, _, _, b, _) = two();
    let f = |name: &str| FunctionSpec {
        name: name.into(),
        runtime: "python3.11".into(),
        handler: "app.handler".into(),
        code: "sha256:abababababababababababababababababababababababababababababababab".into(),
        subnets: vec!["private-a".into()],
        concurrency: Some(Scalar::Str(u64::MAX.to_string())),
        ..Default::default()
    };
    let spec = TenantSpec {
        vpcs: vec![VpcSpec {
            functions: vec![f("a"), f("b")],
            ..vpc("db")
        }],
        ..Default::default()
    };
    let e = check_tenant_spec(&w.state, &b, &spec).expect_err("over quota");
    assert!(
        matches!(
            e.code,
            ErrorCode::NetworkInterfaceLimitExceeded | ErrorCode::ConcurrencyLimitExceeded
        ),
        "{e:?}"
    );
}

#[test]
fn a_group_reference_stays_in_its_vpc() {
    let (mut w, _, _, b, db) = two();
    let other = w.network(&b, "db2", Some("10.4.0.0/16"));
    let p = w.request(&b, &db, &other);
    w.run(|s, e| accept_peering(s, &b, e, &p.id)).unwrap();
    w.reconcile();
    // Across its own active peering: valid today, invalid for every tenant as soon
    // as either side deletes the peering.
    for (r, other_vpc) in [
        ("db2/default".to_owned(), None),
        (format!("globex/{}/default", other.id), None),
        ("cache".to_owned(), Some("db2")),
    ] {
        let mut vpcs = vec![VpcSpec {
            security_groups: vec![group("api", None, vec![rule_to_group(&r)])],
            ..vpc("db")
        }];
        if let Some(n) = other_vpc {
            vpcs.push(VpcSpec {
                security_groups: vec![group("cache", None, vec![])],
                ..vpc(n)
            });
        }
        let spec = TenantSpec {
            vpcs,
            ..Default::default()
        };
        let e = check_tenant_spec(&w.state, &b, &spec).expect_err(&r);
        assert_eq!(e.code, ErrorCode::InvalidGroupNotFound, "{r}");
    }
    // Its own VPC's groups, from any spec VPC that adds to it.
    let spec = TenantSpec {
        vpcs: vec![
            VpcSpec {
                security_groups: vec![group("api", None, vec![rule_to_group("cache")])],
                ..vpc("db")
            },
            VpcSpec {
                security_groups: vec![group("cache", None, vec![])],
                ..vpc(db.id.as_str())
            },
        ],
        ..Default::default()
    };
    check_tenant_spec(&w.state, &b, &spec).unwrap();
}

#[test]
fn a_tenants_own_vpcs_have_private_blocks_only() {
    let (w, _, _, b, _) = two();
    let lab = |cidr: &str, secondary: &[&str]| TenantSpec {
        vpcs: vec![VpcSpec {
            name: "lab".into(),
            cidr: cidr.into(),
            secondary_cidrs: secondary.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    // The operator's pool (acme's static IPs and the next network's) and the internet.
    for (spec, field) in [
        (lab("203.0.113.0/24", &[]), "vpcs[lab].cidr"),
        (
            lab("10.9.0.0/16", &["8.8.8.0/24"]),
            "vpcs[lab].secondary_cidrs[0]",
        ),
    ] {
        let e = check_tenant_spec(&w.state, &b, &spec).expect_err(field);
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::InvalidVpcRange, Some(field))
        );
    }
    check_tenant_spec(&w.state, &b, &lab("10.9.0.0/16", &["100.64.0.0/16"])).unwrap();
    // A secondary block added to its network, too.
    let spec = TenantSpec {
        vpcs: vec![VpcSpec {
            secondary_cidrs: vec!["203.0.113.0/28".into()],
            ..vpc("db")
        }],
        ..Default::default()
    };
    let e = check_tenant_spec(&w.state, &b, &spec).expect_err("pool block");
    assert_eq!(
        (e.code, e.field.as_deref()),
        (
            ErrorCode::InvalidVpcRange,
            Some("vpcs[db].secondary_cidrs[0]")
        )
    );
}

#[test]
fn interface_endpoints_count_as_network_interfaces() {
    let (mut w, _, _, b, _) = two();
    let admin = w.admin.clone();
    let mut q = w.state.tenants[&b].quotas;
    q.enis = 2;
    w.run(|s, _| set_quotas(s, &admin, &b, q)).unwrap();
    let spec = TenantSpec {
        vpcs: vec![VpcSpec {
            endpoints: vec![cove_model::spec::EndpointSpec {
                name: "sqs".into(),
                kind: "interface".into(),
                service: "com.amazonaws.us-east-1.sqs".into(),
                subnets: vec!["private-a".into(), "private-b".into(), "public-a".into()],
                ..Default::default()
            }],
            ..vpc("db")
        }],
        ..Default::default()
    };
    let e = check_tenant_spec(&w.state, &b, &spec).expect_err("3 ENIs > 2");
    assert_eq!(e.code, ErrorCode::NetworkInterfaceLimitExceeded);
}

#[test]
fn a_function_names_uploaded_code_not_a_host_path() {
    let (w, _, _, b, _) = two();
    let with_code = |code: &str| TenantSpec {
        vpcs: vec![VpcSpec {
            functions: vec![FunctionSpec {
                name: "f".into(),
                runtime: "python3.11".into(),
                handler: "app.handler".into(),
                code: code.into(),
                subnets: vec!["private-a".into()],
                concurrency: Some(Scalar::Int(1)),
                ..Default::default()
            }],
            ..vpc("db")
        }],
        ..Default::default()
    };
    let digest = format!("{CODE_DIGEST_PREFIX}{}", "0f".repeat(32));
    check_tenant_spec(&w.state, &b, &with_code(&digest)).unwrap();
    for bad in [
        "/root",
        "/var/lib/cove/cove/code/0f0f",
        "../../etc",
        "orders",
        "orders.zip",
        "sha256:0f",
    ] {
        let e = check_tenant_spec(&w.state, &b, &with_code(bad)).expect_err(bad);
        assert_eq!(
            (e.code, e.field.as_deref()),
            (
                ErrorCode::InvalidParameterValue,
                Some("vpcs[db].functions[f].code")
            ),
            "{bad}"
        );
    }
}
