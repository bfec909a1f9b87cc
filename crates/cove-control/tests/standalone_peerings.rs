//! Peerings of standalone VPCs (VPCs of a tenant's spec that add to no network,
//! e.g. made with EC2's `CreateVpc`): requested and accepted across accounts,
//! in the desired spec without automatic routes, routes naming them only from
//! their own VPC, and a peered VPC kept until the connection is deleted.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::World;
use cove_control::peerable::{Specs, standalone_vpc_id};
use cove_control::*;
use cove_model::spec::{RouteSpec, RouteTableSpec, TenantSpec, VpcSpec};

fn vpc(name: &str, cidr: &str) -> VpcSpec {
    VpcSpec {
        name: name.to_owned(),
        cidr: cidr.to_owned(),
        route_tables: vec![RouteTableSpec {
            name: "rt".to_owned(),
            ..RouteTableSpec::default()
        }],
        ..VpcSpec::default()
    }
}

fn req(vpc: &str, peer: &str, owner: Option<&str>) -> RequestPeering {
    RequestPeering {
        vpc_id: Some(vpc.to_owned()),
        peer_vpc_id: Some(peer.to_owned()),
        peer_owner_id: owner.map(str::to_owned),
        tags: None,
    }
}

fn route_to(p: &str, cidr: &str) -> RouteSpec {
    RouteSpec {
        destination: Some(cidr.to_owned()),
        peering: Some(p.to_owned()),
        ..RouteSpec::default()
    }
}

#[test]
fn standalone_vpcs_peer_across_accounts() {
    let mut w = World::new();
    let a = w.tenant("alpha");
    let b = w.tenant("beta");
    let mut specs: Specs = BTreeMap::new();
    specs.insert(
        a.clone(),
        TenantSpec {
            vpcs: vec![vpc("x", "10.50.0.0/16"), vpc("other", "10.70.0.0/16")],
            ..TenantSpec::default()
        },
    );
    specs.insert(
        b.clone(),
        TenantSpec {
            vpcs: vec![vpc("y", "10.60.0.0/16"), vpc("z", "10.50.128.0/17")],
            ..TenantSpec::default()
        },
    );
    let x = standalone_vpc_id("alpha", &specs[&a].vpcs[0]);
    let y = standalone_vpc_id("beta", &specs[&b].vpcs[0]);
    let z = standalone_vpc_id("beta", &specs[&b].vpcs[1]);
    let account_b = w.state.tenants[&b].account_id.clone();

    // Without the specs (networks only) the VPC is unknown.
    let e = w.refused(|s, e| request_peering(s, &a, e, req(&x, &y, Some(&account_b))));
    assert_eq!(e.code, ErrorCode::InvalidVpcIdNotFound, "{e:?}");
    // Another tenant's standalone VPC is not the caller's to peer from.
    let e = w.refused(|s, e| request_peering_in(s, &specs, &a, e, req(&y, &x, None)));
    assert_eq!(e.code, ErrorCode::InvalidVpcIdNotFound, "{e:?}");

    // Overlapping blocks: failed, in AWS's words for another account.
    let clash = w
        .run(|s, e| request_peering_in(s, &specs, &a, e, req(&x, &z, Some(&account_b))))
        .expect("request");
    assert_eq!(clash.status, PeeringStatus::Failed);
    assert!(list_peerings(&w.state, &b).is_empty());

    let p = w
        .run(|s, e| request_peering_in(s, &specs, &a, e, req(&x, &y, Some(&account_b))))
        .expect("request");
    assert_eq!(p.status, PeeringStatus::PendingAcceptance);
    assert_eq!(p.accepter.vpc_id, y);
    // The requester cannot accept; the accepter can.
    let e = w.refused(|s, e| accept_peering_in(s, &specs, &a, e, &p.id));
    assert_eq!(e.code, ErrorCode::OperationNotPermitted, "{e:?}");
    let up = w
        .run(|s, e| accept_peering_in(s, &specs, &b, e, &p.id))
        .expect("accept");
    assert_eq!(up.status, PeeringStatus::Provisioning);
    w.reconcile();
    assert_eq!(
        get_peering(&w.state, &b, &p.id).expect("seen").status,
        PeeringStatus::Active
    );

    // The desired spec names both sides by place and adds no route by itself.
    let desired = desired_spec(&w.state, &specs);
    let ps = desired
        .peerings
        .iter()
        .find(|q| q.id.as_deref() == Some(p.id.as_str()))
        .expect("the peering is in the desired spec");
    assert_eq!(
        (ps.requester.as_str(), ps.accepter.as_str()),
        ("alpha/x", "beta/y")
    );
    assert_eq!(ps.status.as_deref(), Some("active"));
    let routes_via = |spec: &cove_model::spec::Spec| {
        spec.tenants
            .iter()
            .flat_map(|t| &t.vpcs)
            .flat_map(|v| &v.route_tables)
            .flat_map(|t| &t.routes)
            .filter(|r| r.peering.as_deref() == Some(p.id.as_str()))
            .count()
    };
    assert_eq!(routes_via(&desired), 0);

    // A route of x may name it; a route of another VPC of the same tenant may not,
    // nor may a route of a VPC of a third tenant.
    let mut with_route = specs[&a].clone();
    with_route.vpcs[0].route_tables[0]
        .routes
        .push(route_to(p.id.as_str(), "10.60.0.0/16"));
    check_tenant_spec(&w.state, &a, &with_route).expect("x routes over its peering");
    let mut specs_routed = specs.clone();
    specs_routed.insert(a.clone(), with_route.clone());
    assert_eq!(routes_via(&desired_spec(&w.state, &specs_routed)), 1);
    let mut wrong = specs[&a].clone();
    wrong.vpcs[1].route_tables[0]
        .routes
        .push(route_to(p.id.as_str(), "10.60.0.0/16"));
    let e = check_tenant_spec(&w.state, &a, &wrong).expect_err("not other's peering");
    assert_eq!(e.code, ErrorCode::InvalidVpcPeeringConnectionIdNotFound);
    let c = w.tenant("gamma");
    let stranger = TenantSpec {
        vpcs: vec![{
            let mut v = vpc("x", "10.60.0.0/16");
            v.route_tables[0]
                .routes
                .push(route_to(p.id.as_str(), "10.50.0.0/16"));
            v
        }],
        ..TenantSpec::default()
    };
    let e = check_tenant_spec(&w.state, &c, &stranger).expect_err("a third tenant");
    assert_eq!(e.code, ErrorCode::InvalidVpcPeeringConnectionIdNotFound);

    // The peered VPC stays until the connection is deleted, on either side.
    let mut without = specs[&b].clone();
    without.vpcs.remove(0);
    let e = check_tenant_spec(&w.state, &b, &without).expect_err("y is peered");
    assert_eq!(e.code, ErrorCode::DependencyViolation, "{e:?}");
    w.run(|s, e| delete_peering(s, &a, e, &p.id))
        .expect("delete");
    check_tenant_spec(&w.state, &b, &without).expect("y may go now");
    // The route naming it stays writable (the tenant's next write is not refused
    // for what the other side did), but a new route may not name it.
    check_tenant_spec_since(&w.state, &a, &with_route, Some(&with_route))
        .expect("a kept route over an ended connection");
    let e = check_tenant_spec_since(&w.state, &a, &with_route, Some(&specs[&a]))
        .expect_err("a new route over an ended connection");
    assert_eq!(e.code, ErrorCode::InvalidVpcPeeringConnectionIdNotFound);
    // A route naming the deleted peering turns into a blackhole in the desired spec.
    let desired = desired_spec(&w.state, &specs_routed);
    assert_eq!(routes_via(&desired), 0);
    let x_routes = &desired
        .tenants
        .iter()
        .find(|t| t.name == "alpha")
        .expect("alpha")
        .vpcs[0]
        .route_tables[0]
        .routes;
    assert!(
        x_routes
            .iter()
            .any(|r| r.destination.as_deref() == Some("10.60.0.0/16") && r.blackhole),
        "{x_routes:?}"
    );
}

#[test]
fn each_account_tags_its_own_side_of_a_peering() {
    let mut w = World::new();
    let a = w.tenant("alpha");
    let b = w.tenant("beta");
    let c = w.tenant("gamma");
    let na = w.network(&a, "web", Some("10.10.0.0/16"));
    let nb = w.network(&b, "db", Some("10.20.0.0/16"));
    let account_b = w.state.tenants[&b].account_id.clone();
    let mut r = req(&na.vpc_id, &nb.vpc_id, Some(&account_b));
    r.tags = Some(BTreeMap::from([("Name".to_owned(), "to-db".to_owned())]));
    let p = w.run(|s, e| request_peering(s, &a, e, r)).expect("request");
    assert_eq!(p.tags.get("Name").map(String::as_str), Some("to-db"));
    assert!(
        get_peering(&w.state, &b, &p.id)
            .expect("b sees it")
            .tags
            .is_empty()
    );
    let add = [("Name".to_owned(), "from-web".to_owned())];
    w.run(|s, _| tag_peering(s, &b, &p.id, &add, &[]))
        .expect("b tags its side");
    assert_eq!(
        get_peering(&w.state, &a, &p.id).expect("a").tags["Name"],
        "to-db"
    );
    assert_eq!(
        get_peering(&w.state, &b, &p.id).expect("b").tags["Name"],
        "from-web"
    );
    // A third tenant cannot tag it; a reserved key and too many tags are refused.
    let e = w.refused(|s, _| tag_peering(s, &c, &p.id, &add, &[]));
    assert_eq!(e.code, ErrorCode::InvalidVpcPeeringConnectionIdNotFound);
    let reserved = [("aws:x".to_owned(), "y".to_owned())];
    let e = w.refused(|s, _| tag_peering(s, &a, &p.id, &reserved, &[]));
    assert_eq!(e.code, ErrorCode::InvalidParameterValue);
    let many: Vec<(String, String)> = (0..51).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let e = w.refused(|s, _| tag_peering(s, &a, &p.id, &many, &[]));
    assert_eq!(e.code, ErrorCode::InvalidParameterValue);
    // Removing by key, whatever the value.
    w.run(|s, _| tag_peering(s, &a, &p.id, &[], &[("Name".to_owned(), None)]))
        .expect("untag");
    assert!(get_peering(&w.state, &a, &p.id).expect("a").tags.is_empty());
}
