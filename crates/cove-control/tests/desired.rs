//! The desired spec: networks as VPCs with the standard layout, merged with the
//! tenants' specs, live peerings with AWS's status and routes; it validates with
//! cove-model. Golden snapshot of a small two-tenant scenario.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::{World, expect_error};
use cove_control::*;
use cove_model::RouteTarget;
use cove_model::spec::{
    EniSpec, FunctionSpec, Scalar, SecurityGroupSpec, SgRuleSpec, TenantSpec, VpcSpec,
};

/// acme's network `app` with a function; globex's network `db` with a database ENI
/// and a standalone VPC; an active peering between the two networks.
fn scenario() -> (World, BTreeMap<TenantId, TenantSpec>, PeeringId) {
    let mut w = World::new();
    let a = w.tenant("acme");
    let b = w.tenant("globex");
    let app = w.network(&a, "app", None);
    let db = w.network(&b, "db", Some("10.50.0.0/16"));
    let p = w.request(&a, &app, &db);
    w.run(|s, e| accept_peering(s, &b, e, &p.id)).unwrap();
    w.reconcile();
    let acme = TenantSpec {
        vpcs: vec![VpcSpec {
            name: "app".into(),
            security_groups: vec![SecurityGroupSpec {
                name: "fn".into(),
                ..Default::default()
            }],
            functions: vec![FunctionSpec {
                name: "orders".into(),
                runtime: "python3.11".into(),
                handler: "app.handler".into(),
                code: "sha256:abababababababababababababababababababababababababababababababab"
                    .into(),
                subnets: vec!["private-a".into(), "private-b".into()],
                security_groups: vec!["fn".into()],
                concurrency: Some(Scalar::Int(2)),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let globex = TenantSpec {
        vpcs: vec![
            VpcSpec {
                name: "db".into(),
                security_groups: vec![SecurityGroupSpec {
                    name: "db".into(),
                    ingress: vec![SgRuleSpec {
                        protocol: "tcp".into(),
                        ports: Some(Scalar::Int(5432)),
                        cidr: Some(app.cidr.to_string()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                enis: vec![EniSpec {
                    name: "db-1".into(),
                    subnet: "private-a".into(),
                    security_groups: vec!["db".into()],
                    ..Default::default()
                }],
                ..Default::default()
            },
            VpcSpec {
                name: "lab".into(),
                cidr: "10.200.0.0/24".into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    (w, BTreeMap::from([(a, acme), (b, globex)]), p.id)
}

#[test]
fn the_scenario_validates_with_pool_ips_and_peering_routes() {
    let (w, specs, pcx) = scenario();
    let spec = desired_spec(&w.state, &specs);
    let v = cove_model::validate::validate(&spec);
    let errors: Vec<_> = v.errors().collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let net = v.network.unwrap();
    // Every NAT gateway translates to its network's static IP.
    let mut nat_ips: Vec<_> = net
        .nat_gateways
        .iter()
        .flat_map(|g| g.public_ips.clone())
        .collect();
    let mut static_ips: Vec<_> = w
        .state
        .networks
        .values()
        .flat_map(|n| n.static_ips.clone())
        .collect();
    nat_ips.sort();
    static_ips.sort();
    assert_eq!(nat_ips, static_ips);
    assert_eq!(net.nat_gateways.len(), 4);
    // The peering is active, and every private route table routes the peer's block
    // over it; public tables do not.
    assert_eq!(net.peerings.len(), 1);
    assert_eq!(net.peerings[0].name, pcx.as_str());
    assert_eq!(net.peerings[0].status, cove_model::PeeringStatus::Active);
    for rt in &net.route_tables {
        let peered = rt
            .routes
            .iter()
            .any(|r| matches!(r.target, RouteTarget::Peering(_)));
        assert_eq!(peered, rt.name.starts_with("private-"), "{}", rt.name);
    }
    // The function's slots and the ENI are in the networks' VPCs; the lab VPC kept.
    let names: Vec<_> = net.vpcs.iter().map(|v| v.name.as_str()).collect();
    let ids: Vec<String> = ["acme", "globex"]
        .iter()
        .map(|t| {
            let tid = w
                .state
                .tenants
                .values()
                .find(|x| x.name == *t)
                .unwrap()
                .id
                .clone();
            w.state.networks_of(&tid)[0].id.0.clone()
        })
        .collect();
    assert_eq!(names, [ids[0].as_str(), ids[1].as_str(), "lab"]);
    assert_eq!(net.functions.len(), 1);
}

#[test]
fn golden_desired_spec_of_a_small_scenario() {
    let (w, specs, _) = scenario();
    let spec = desired_spec(&w.state, &specs);
    insta::assert_snapshot!(serde_json::to_string_pretty(&spec).unwrap());
}

#[test]
fn networks_being_deleted_and_dead_peerings_leave_the_spec() {
    let (mut w, mut specs, pcx) = scenario();
    let (a, b) = {
        let mut ids: Vec<_> = specs.keys().cloned().collect();
        ids.sort_by_key(|t| w.state.tenants[t].created_at);
        (ids[0].clone(), ids[1].clone())
    };
    w.run(|s, e| delete_peering(s, &a, e, &pcx)).unwrap();
    let spec = desired_spec(&w.state, &specs);
    assert!(spec.peerings.is_empty());
    assert!(
        spec.tenants
            .iter()
            .flat_map(|t| &t.vpcs)
            .flat_map(|v| &v.route_tables)
            .all(|r| r.routes.iter().all(|x| x.peering.is_none()))
    );
    // The ENI blocks deleting db, and so does what is left of the spec's VPC (its
    // security group): once the network is removed it would be a VPC without a
    // block. Without them the network goes and the spec still validates.
    let db = w.state.networks_of(&b)[0].id.clone();
    let e = w.refused(|s, e| delete_network(s, &b, e, &db, &specs[&b]));
    expect_error(&e, ErrorCode::DependencyViolation, Some("id"));
    assert!(e.message.contains("ENI `db-1`"), "{e:?}");
    specs.get_mut(&b).unwrap().vpcs[0].enis.clear();
    let e = w.refused(|s, e| delete_network(s, &b, e, &db, &specs[&b]));
    expect_error(&e, ErrorCode::DependencyViolation, Some("id"));
    assert!(e.hint.contains("vpcs[db]"), "{e:?}");
    specs.get_mut(&b).unwrap().vpcs.remove(0);
    w.run(|s, e| delete_network(s, &b, e, &db, &specs[&b]))
        .unwrap();
    let spec = desired_spec(&w.state, &specs);
    let globex: Vec<_> = spec.tenants[1]
        .vpcs
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(globex, ["lab"]);
    let v = cove_model::validate::validate(&spec);
    assert!(v.errors().next().is_none(), "{:#?}", v.diagnostics);
    // And once the kernel is done and the network is gone.
    w.reconcile();
    let v = cove_model::validate::validate(&desired_spec(&w.state, &specs));
    assert!(v.errors().next().is_none(), "{:#?}", v.diagnostics);
}

#[test]
fn a_pending_peering_is_in_the_spec_without_routes() {
    let mut w = World::new();
    let a = w.tenant("acme");
    let b = w.tenant("globex");
    let x = w.network(&a, "x", None);
    let y = w.network(&b, "y", Some("10.9.0.0/16"));
    w.request(&a, &x, &y);
    let spec = desired_spec(&w.state, &BTreeMap::new());
    assert_eq!(
        spec.peerings[0].status.as_deref(),
        Some("pending-acceptance")
    );
    assert_eq!(spec.peerings[0].requester, format!("acme/{}", x.id));
    assert_eq!(spec.peerings[0].accepter, format!("globex/{}", y.id));
    assert!(
        spec.tenants
            .iter()
            .flat_map(|t| &t.vpcs)
            .flat_map(|v| &v.route_tables)
            .all(|r| r.routes.iter().all(|x| x.peering.is_none()))
    );
    assert!(cove_model::validate::validate(&spec).network.is_some());
}

#[test]
fn tenant_specs_are_checked_against_networks_and_quotas() {
    let (mut w, specs, pcx) = scenario();
    let a = specs
        .keys()
        .find(|t| w.state.tenants[*t].name == "acme")
        .unwrap()
        .clone();
    assert!(check_tenant_spec(&w.state, &a, &specs[&a]).is_ok());
    let mut bad = specs[&a].clone();
    bad.vpcs[0].cidr = "10.7.0.0/16".into();
    expect_error(
        &check_tenant_spec(&w.state, &a, &bad).unwrap_err(),
        ErrorCode::InvalidParameterCombination,
        Some("vpcs[app].cidr"),
    );
    let mut bad = specs[&a].clone();
    bad.vpcs[0].nat_gateways.push(Default::default());
    expect_error(
        &check_tenant_spec(&w.state, &a, &bad).unwrap_err(),
        ErrorCode::InvalidParameterCombination,
        Some("vpcs[app].nat_gateways"),
    );
    // The pair's failover is the network's too.
    let mut bad = specs[&a].clone();
    bad.vpcs[0].nat_failover = Some("independent".into());
    expect_error(
        &check_tenant_spec(&w.state, &a, &bad).unwrap_err(),
        ErrorCode::InvalidParameterCombination,
        Some("vpcs[app].nat_failover"),
    );
    let admin = w.admin.clone();
    let cases = [
        (
            Quotas {
                networks: 1,
                vpcs: 1,
                ..Quotas::default()
            },
            1,
            ErrorCode::VpcLimitExceeded,
        ),
        (
            Quotas {
                enis: 1,
                ..Quotas::default()
            },
            0,
            ErrorCode::NetworkInterfaceLimitExceeded,
        ),
        (
            Quotas {
                functions: 0,
                ..Quotas::default()
            },
            0,
            ErrorCode::FunctionLimitExceeded,
        ),
        (
            Quotas {
                concurrency: 1,
                ..Quotas::default()
            },
            0,
            ErrorCode::ConcurrencyLimitExceeded,
        ),
    ];
    for (q, extra_vpcs, code) in cases {
        w.run(|s, _| set_quotas(s, &admin, &a, q)).unwrap();
        let mut spec = specs[&a].clone();
        for i in 0..extra_vpcs {
            spec.vpcs.push(VpcSpec {
                name: format!("extra{i}"),
                cidr: "10.100.0.0/16".into(),
                ..Default::default()
            });
        }
        expect_error(
            &check_tenant_spec(&w.state, &a, &spec).unwrap_err(),
            code,
            Some("vpcs"),
        );
    }
    // Nothing may be added to a network being deleted (it would be orphaned).
    let id = w.state.networks_of(&a)[0].id.clone();
    let mut emptied = specs[&a].clone();
    emptied.vpcs.clear();
    w.run(|s, e| delete_peering(s, &a, e, &pcx)).unwrap();
    w.run(|s, e| delete_network(s, &a, e, &id, &emptied))
        .unwrap();
    expect_error(
        &check_tenant_spec(&w.state, &a, &specs[&a]).unwrap_err(),
        ErrorCode::IncorrectState,
        Some("vpcs[app]"),
    );
    assert!(check_tenant_spec(&w.state, &a, &emptied).is_ok());
}

#[test]
fn renaming_a_network_changes_nothing_in_the_spec() {
    let (mut w, mut specs, _) = scenario();
    let before = desired_spec(&w.state, &specs);
    let a = specs
        .keys()
        .find(|t| w.state.tenants[*t].name == "acme")
        .unwrap()
        .clone();
    let id = w.state.networks_of(&a)[0].id.clone();
    let patch = || PatchNetwork {
        name: Some("renamed".into()),
        ..Default::default()
    };
    // The spec adds to the network by its name: renaming would orphan that.
    let e = w.refused(|s, e| patch_network(s, &a, e, &id, patch(), &specs[&a]));
    expect_error(&e, ErrorCode::DependencyViolation, Some("name"));
    assert!(e.hint.contains(id.as_str()), "{e:?}");
    // Named by its id there, the network may be renamed, and nothing changes.
    specs.get_mut(&a).unwrap().vpcs[0].name = id.0.clone();
    assert_eq!(desired_spec(&w.state, &specs), before);
    let renamed = w
        .run(|s, e| patch_network(s, &a, e, &id, patch(), &specs[&a]))
        .unwrap();
    assert_eq!(renamed.name, "renamed");
    assert_eq!(desired_spec(&w.state, &specs), before);
    let vpc_id = renamed.vpc_id.clone();
    let by_vpc_id = &mut specs.get_mut(&a).unwrap().vpcs[0];
    by_vpc_id.name = "whatever".into();
    by_vpc_id.id = Some(vpc_id);
    assert_eq!(desired_spec(&w.state, &specs), before);
}

/// A tenant's private zone names its networks by name; another tenant's network
/// resolves it once the owner authorized it, and loses it (with a warning, never an
/// error in the merged spec) when the owner revokes it (issue 12).
#[test]
fn hosted_zones_name_networks_and_reach_another_tenant_by_authorization() {
    use cove_model::spec::{HostedZoneSpec, RecordSpec};
    let mut w = World::new();
    let p = w.tenant("provider");
    let c = w.tenant("consumer");
    w.network(&p, "web", None);
    w.network(&c, "app", Some("10.60.0.0/16"));
    let zone = |auth: Vec<String>| TenantSpec {
        hosted_zones: vec![HostedZoneSpec {
            name: "db.internal".into(),
            vpcs: vec!["web".into()],
            records: vec![RecordSpec {
                name: Some("pg.db.internal".into()),
                kind: "A".into(),
                ttl: None,
                values: vec![Scalar::Str("10.0.1.10".into())],
            }],
            authorizations: auth,
        }],
        ..Default::default()
    };
    let consumer = TenantSpec {
        vpcs: vec![VpcSpec {
            name: "app".into(),
            associate_zones: vec!["provider/db.internal".into()],
            ..Default::default()
        }],
        ..Default::default()
    };
    let specs = |auth: Vec<String>| {
        let mut m = BTreeMap::new();
        m.insert(p.clone(), zone(auth));
        m.insert(c.clone(), consumer.clone());
        m
    };
    let spec = desired_spec(&w.state, &specs(vec!["consumer/app".into()]));
    let v = cove_model::validate::validate(&spec);
    let errors: Vec<_> = v.errors().collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let net = v.network.unwrap();
    let z = &net.hosted_zones[0];
    let vpcs: Vec<String> = z.vpcs.iter().map(|v| net.vpc_path(*v)).collect();
    assert_eq!(vpcs.len(), 2, "{vpcs:?}");
    assert!(
        vpcs[0].starts_with("provider/") && vpcs[1].starts_with("consumer/"),
        "{vpcs:?}"
    );
    // Without the authorization the consumer's association is dropped with a
    // warning: the platform's desired state stays valid whatever the owner does
    // (the API refuses the consumer's own spec, naming the field).
    let v = cove_model::validate::validate(&desired_spec(&w.state, &specs(Vec::new())));
    let warned = v
        .diagnostics
        .iter()
        .find(|d| d.code.as_str() == "NotAuthorizedException")
        .expect("warned");
    assert_eq!(warned.severity, cove_model::Severity::Warning);
    let net = v.network.expect("still valid");
    assert_eq!(net.hosted_zones[0].vpcs.len(), 1, "only the owner's VPC");
}

/// A tenant turns its network's DNS settings off and on (`enableDnsSupport`,
/// `enableDnsHostnames`) by naming the network in its spec (issue 12).
#[test]
fn a_network_takes_the_tenants_dns_settings() {
    let mut w = World::new();
    let a = w.tenant("alpha");
    w.network(&a, "web", None);
    let mut specs = BTreeMap::new();
    let net = |specs: &BTreeMap<_, _>| {
        cove_model::validate::validate(&desired_spec(&w.state, specs))
            .network
            .expect("valid")
    };
    let n = net(&specs);
    assert!(
        n.vpcs[0].dns_support && n.vpcs[0].dns_hostnames,
        "the defaults of a network"
    );
    specs.insert(
        a.clone(),
        TenantSpec {
            vpcs: vec![VpcSpec {
                name: "web".into(),
                dns_support: Some(false),
                dns_hostnames: Some(false),
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    let n = net(&specs);
    assert!(!n.vpcs[0].dns_support && !n.vpcs[0].dns_hostnames);
}

#[test]
fn a_network_keeps_the_tenants_flow_logs() {
    let mut w = World::new();
    let a = w.tenant("alpha");
    w.network(&a, "web", None);
    let specs = BTreeMap::from([(
        a.clone(),
        TenantSpec {
            vpcs: vec![VpcSpec {
                name: "web".into(),
                flow_logs: vec![cove_model::spec::FlowLogSpec {
                    name: "all".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        },
    )]);
    let n = cove_model::validate::validate(&desired_spec(&w.state, &specs))
        .network
        .expect("valid");
    let names: Vec<&str> = n.flow_logs.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["all"],
        "the network's VPC lost the tenant's flow log"
    );
}

#[test]
fn a_network_subnet_written_again_sets_its_route_table_acl_and_tags() {
    let mut w = World::new();
    let a = w.tenant("alpha");
    w.network(&a, "web", None);
    let net = w.state.networks_of(&a)[0].clone();
    let sub = net
        .subnets
        .iter()
        .find(|s| s.name == "private-a")
        .expect("private-a");
    let overlay = |cidr: String| cove_model::spec::SubnetSpec {
        name: sub.name.clone(),
        cidr,
        az: sub.availability_zone.clone(),
        route_table: Some("rt-own".into()),
        network_acl: Some("locked".into()),
        tags: BTreeMap::from([("Name".to_owned(), "app".to_owned())]),
        ..Default::default()
    };
    let spec_with = |s: cove_model::spec::SubnetSpec| {
        BTreeMap::from([(
            a.clone(),
            TenantSpec {
                vpcs: vec![VpcSpec {
                    name: "web".into(),
                    subnets: vec![s],
                    route_tables: vec![cove_model::spec::RouteTableSpec {
                        name: "rt-own".into(),
                        ..Default::default()
                    }],
                    network_acls: vec![cove_model::spec::NetworkAclSpec {
                        name: "locked".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
        )])
    };
    let spec = desired_spec(&w.state, &spec_with(overlay(sub.cidr.to_string())));
    let v = &spec.tenants[0].vpcs[0];
    let subs: Vec<_> = v.subnets.iter().filter(|s| s.name == "private-a").collect();
    assert_eq!(subs.len(), 1, "the subnet was added twice: {subs:?}");
    assert_eq!(subs[0].route_table.as_deref(), Some("rt-own"));
    assert_eq!(subs[0].network_acl.as_deref(), Some("locked"));
    assert_eq!(subs[0].tags.get("Name").map(String::as_str), Some("app"));
    let n = cove_model::validate::validate(&spec)
        .network
        .expect("valid");
    let s = n
        .subnets
        .iter()
        .find(|s| s.name == "private-a")
        .expect("subnet");
    assert_eq!(n.route_tables[s.route_table.index()].name, "rt-own");
    assert_eq!(n.network_acls[s.network_acl.index()].name, "locked");
    // Another block under the same name is another subnet (which the validator
    // refuses), never a change of the network's.
    let spec = desired_spec(&w.state, &spec_with(overlay("10.0.99.0/24".into())));
    let v = &spec.tenants[0].vpcs[0];
    assert_eq!(
        v.subnets.iter().filter(|s| s.name == "private-a").count(),
        2
    );
}
