//! Peering connections: AWS's lifecycle across tenants, what each side sees, and
//! every refusal with its code and field.

#![allow(clippy::unwrap_used)]

mod common;

use common::{World, expect_error};
use cove_control::*;
use cove_model::spec::TenantSpec;

struct Two {
    w: World,
    a: TenantId,
    b: TenantId,
    na: Network,
    nb: Network,
}

fn two() -> Two {
    let mut w = World::new();
    let a = w.tenant("acme");
    let b = w.tenant("globex");
    let na = w.network(&a, "app", None);
    let nb = w.network(&b, "db", Some("10.50.0.0/16"));
    w.reconcile();
    Two { w, a, b, na, nb }
}

fn peer_req(vpc: &str, peer: &str, owner: Option<&str>) -> RequestPeering {
    RequestPeering {
        vpc_id: Some(vpc.to_owned()),
        peer_vpc_id: Some(peer.to_owned()),
        peer_owner_id: owner.map(str::to_owned),
        tags: None,
    }
}

#[test]
fn request_accept_provision_and_delete_across_tenants() {
    let Two {
        mut w,
        a,
        b,
        na,
        nb,
    } = two();
    let p = w.request(&a, &na, &nb);
    assert_eq!(p.status, PeeringStatus::PendingAcceptance);
    assert_eq!(p.role, PeeringRole::Requester);
    assert_eq!(p.expires_at, Some(w.now().plus(7 * 24 * 3600)));
    let seen = get_peering(&w.state, &b, &p.id).unwrap();
    assert_eq!(seen.role, PeeringRole::Accepter);
    assert_eq!(seen.status, PeeringStatus::PendingAcceptance);
    assert_eq!(
        seen.requester,
        PeeringEnd {
            account_id: w.state.tenants[&a].account_id.clone(),
            vpc_id: na.vpc_id.clone()
        }
    );
    // The accepter sees nothing of the requester but its account and VPC ids.
    let json = serde_json::to_string(&list_peerings(&w.state, &b)).unwrap();
    for secret in [
        a.as_str(),
        "acme",
        na.id.as_str(),
        &na.name,
        &na.cidr.to_string(),
        &na.subnets[0].id,
    ] {
        assert!(!json.contains(secret), "{secret} in {json}");
    }
    let accepted = w.run(|s, e| accept_peering(s, &b, e, &p.id)).unwrap();
    assert_eq!(accepted.status, PeeringStatus::Provisioning);
    assert_eq!(accepted.expires_at, None);
    w.reconcile();
    assert_eq!(
        get_peering(&w.state, &a, &p.id).unwrap().status,
        PeeringStatus::Active
    );
    let deleted = w.run(|s, e| delete_peering(s, &b, e, &p.id)).unwrap();
    assert_eq!(deleted.status, PeeringStatus::Deleted);
    let e = w.refused(|s, e| delete_peering(s, &a, e, &p.id));
    expect_error(&e, ErrorCode::InvalidStateTransition, Some("id"));
    // A new request between the same VPCs is allowed once the old one is gone.
    let again = w.request(&b, &nb, &na);
    w.run(|s, e| reject_peering(s, &a, e, &again.id)).unwrap();
    assert_eq!(
        get_peering(&w.state, &b, &again.id).unwrap().status,
        PeeringStatus::Rejected
    );
}

#[test]
fn overlapping_blocks_and_unknown_vpcs_fail_as_aws_does() {
    let Two {
        mut w,
        a,
        b,
        na,
        nb,
    } = two();
    let overlapping = w.network(&b, "clash", Some("10.0.128.0/17"));
    let p = w.request(&a, &na, &overlapping);
    assert_eq!(p.status, PeeringStatus::Failed);
    let msg = p.status_message.clone().unwrap();
    assert!(
        msg.contains("overlap") && !msg.contains("10.0.128.0"),
        "{msg}"
    );
    // It never reached the accepter: only the requester sees it (AWS's rule).
    let e = get_peering(&w.state, &b, &p.id).unwrap_err();
    expect_error(
        &e,
        ErrorCode::InvalidVpcPeeringConnectionIdNotFound,
        Some("id"),
    );
    assert!(list_peerings(&w.state, &b).is_empty());
    // Another account's unknown VPC: failed, and nobody else sees it.
    let account_b = w.state.tenants[&b].account_id.clone();
    let ghost = w
        .run(|s, e| {
            request_peering(
                s,
                &a,
                e,
                peer_req(&na.vpc_id, "vpc-0123456789abcdef0", Some(&account_b)),
            )
        })
        .unwrap();
    assert_eq!(ghost.status, PeeringStatus::Failed);
    assert!(get_peering(&w.state, &b, &ghost.id).is_err());
    // In one's own account a missing VPC is simply not found.
    let e = w.refused(|s, e| {
        request_peering(
            s,
            &a,
            e,
            peer_req(&na.vpc_id, "vpc-0123456789abcdef0", None),
        )
    });
    expect_error(&e, ErrorCode::InvalidVpcIdNotFound, Some("peer_vpc_id"));
    // Failed peerings do not count as live: a real request still goes through.
    assert_eq!(
        w.request(&a, &na, &nb).status,
        PeeringStatus::PendingAcceptance
    );
}

#[test]
fn every_bad_request_names_its_field() {
    let Two {
        mut w,
        a,
        b,
        na,
        nb,
    } = two();
    let account_b = w.state.tenants[&b].account_id.clone();
    let cases: Vec<(RequestPeering, ErrorCode, &str)> = vec![
        (
            RequestPeering {
                vpc_id: None,
                ..peer_req("", &nb.vpc_id, Some(&account_b))
            },
            ErrorCode::MissingParameter,
            "vpc_id",
        ),
        (
            RequestPeering {
                peer_vpc_id: None,
                ..peer_req(&na.vpc_id, "", Some(&account_b))
            },
            ErrorCode::MissingParameter,
            "peer_vpc_id",
        ),
        (
            peer_req(&nb.vpc_id, &na.vpc_id, None),
            ErrorCode::InvalidVpcIdNotFound,
            "vpc_id",
        ),
        (
            peer_req(&na.vpc_id, &nb.vpc_id, Some("12345")),
            ErrorCode::InvalidParameterValue,
            "peer_owner_id",
        ),
        (
            peer_req(&na.vpc_id, "db", Some(&account_b)),
            ErrorCode::InvalidParameterValue,
            "peer_vpc_id",
        ),
        (
            peer_req(&na.vpc_id, &na.vpc_id, None),
            ErrorCode::InvalidParameterValue,
            "peer_vpc_id",
        ),
    ];
    for (r, code, field) in cases {
        let e = w.refused(|s, e| request_peering(s, &a, e, r));
        expect_error(&e, code, Some(field));
        assert!(
            !e.message.contains("globex") && !e.message.contains(nb.id.as_str()),
            "{e:?}"
        );
    }
    // One live peering per pair of VPCs, whichever side asks.
    let p = w.request(&a, &na, &nb);
    let account_a = w.state.tenants[&a].account_id.clone();
    let e = w.refused(|s, e| {
        request_peering(s, &b, e, peer_req(&nb.vpc_id, &na.vpc_id, Some(&account_a)))
    });
    expect_error(
        &e,
        ErrorCode::VpcPeeringConnectionAlreadyExists,
        Some("peer_vpc_id"),
    );
    assert!(e.message.contains(p.id.as_str()));
    // The requester cannot accept or reject; the accepter cannot delete a pending one.
    let e = w.refused(|s, e| accept_peering(s, &a, e, &p.id));
    expect_error(&e, ErrorCode::OperationNotPermitted, Some("id"));
    let e = w.refused(|s, e| reject_peering(s, &a, e, &p.id));
    expect_error(&e, ErrorCode::OperationNotPermitted, Some("id"));
    let e = w.refused(|s, e| delete_peering(s, &b, e, &p.id));
    expect_error(&e, ErrorCode::OperationNotPermitted, Some("id"));
    // A third tenant sees nothing.
    let c = w.tenant("initech");
    for e in [
        w.refused(|s, e| accept_peering(s, &c, e, &p.id)),
        w.refused(|s, e| reject_peering(s, &c, e, &p.id)),
        w.refused(|s, e| delete_peering(s, &c, e, &p.id)),
        get_peering(&w.state, &c, &p.id).unwrap_err(),
    ] {
        expect_error(
            &e,
            ErrorCode::InvalidVpcPeeringConnectionIdNotFound,
            Some("id"),
        );
    }
    assert!(list_peerings(&w.state, &c).is_empty());
    // Provisioning cannot be accepted again.
    w.run(|s, e| accept_peering(s, &b, e, &p.id)).unwrap();
    let e = w.refused(|s, e| accept_peering(s, &b, e, &p.id));
    expect_error(&e, ErrorCode::InvalidStateTransition, Some("id"));
    // A network being deleted cannot request.
    let spare = w.network(&a, "spare", None);
    w.run(|s, e| delete_network(s, &a, e, &spare.id, &TenantSpec::default()))
        .unwrap();
    let e = w.refused(|s, e| {
        request_peering(
            s,
            &a,
            e,
            peer_req(&spare.vpc_id, &nb.vpc_id, Some(&account_b)),
        )
    });
    expect_error(&e, ErrorCode::IncorrectState, Some("vpc_id"));
}

#[test]
fn peering_quotas_are_enforced_on_request_and_on_accept() {
    let Two {
        mut w,
        a,
        b,
        na,
        nb,
    } = two();
    let admin = w.admin.clone();
    let one = Quotas {
        peerings_per_network: 1,
        ..Quotas::default()
    };
    w.run(|s, _| set_quotas(s, &admin, &a, one)).unwrap();
    w.request(&a, &na, &nb);
    let nb2 = w.network(&b, "db2", Some("10.60.0.0/16"));
    let account_b = w.state.tenants[&b].account_id.clone();
    let e = w.refused(|s, e| {
        request_peering(
            s,
            &a,
            e,
            peer_req(&na.vpc_id, &nb2.vpc_id, Some(&account_b)),
        )
    });
    expect_error(
        &e,
        ErrorCode::VpcPeeringConnectionLimitExceeded,
        Some("vpc_id"),
    );
    // The accepter's quota of active connections is checked when it accepts.
    w.run(|s, _| set_quotas(s, &admin, &b, one)).unwrap();
    let first = list_peerings(&w.state, &b)[0].id.clone();
    w.run(|s, e| accept_peering(s, &b, e, &first)).unwrap();
    let c = w.tenant("initech");
    let nc = w.network(&c, "c", Some("10.70.0.0/16"));
    let to_b = w.request(&c, &nc, &nb);
    let e = w.refused(|s, e| accept_peering(s, &b, e, &to_b.id));
    expect_error(
        &e,
        ErrorCode::ActiveVpcPeeringConnectionPerVpcLimitExceeded,
        Some("id"),
    );
    assert!(!e.message.contains("initech"));
}

#[test]
fn pending_requests_expire_after_seven_days() {
    let Two {
        mut w,
        a,
        b,
        na,
        nb,
    } = two();
    let p = w.request(&a, &na, &nb);
    let expiry = p.expires_at.unwrap();
    let before = Env {
        now: UnixTime(expiry.0 - 1),
        random: [0; 32],
    };
    assert!(expire_peerings(&w.state, &before).changes.is_empty());
    let at = Env {
        now: expiry,
        random: [0; 32],
    };
    // Past its time it can no longer be accepted, even before the sweep.
    let e = accept_peering(&w.state, &b, &at, &p.id).unwrap_err();
    expect_error(&e, ErrorCode::InvalidStateTransition, Some("id"));
    let swept = expire_peerings(&w.state, &at);
    assert_eq!(swept.value, std::slice::from_ref(&p.id));
    w.state.apply(&swept.changes);
    let v = get_peering(&w.state, &a, &p.id).unwrap();
    assert_eq!((v.status, v.expires_at), (PeeringStatus::Expired, None));
}

#[test]
fn a_tenant_may_peer_its_own_networks() {
    let mut w = World::new();
    let a = w.tenant("acme");
    let x = w.network(&a, "x", None);
    let y = w.network(&a, "y", None);
    let p = w
        .run(|s, e| request_peering(s, &a, e, peer_req(&x.vpc_id, &y.vpc_id, None)))
        .unwrap();
    assert_eq!(
        (p.status, p.role),
        (PeeringStatus::PendingAcceptance, PeeringRole::Both)
    );
    assert_eq!(
        w.run(|s, e| accept_peering(s, &a, e, &p.id))
            .unwrap()
            .status,
        PeeringStatus::Provisioning
    );
}

#[test]
fn the_lifecycle_is_aws_s() {
    use PeeringStatus::*;
    assert!(InitiatingRequest.may_become(PendingAcceptance));
    assert!(PendingAcceptance.may_become(Provisioning));
    assert!(Provisioning.may_become(Active));
    assert!(Active.may_become(Deleted), "through deleting");
    assert!(!Active.may_become(PendingAcceptance));
    assert!(
        !PendingAcceptance.may_become(Active),
        "through provisioning, which is stored"
    );
    for end in [Rejected, Failed, Expired, Deleted] {
        assert!(end.next().is_empty() && end.is_final());
    }
}

/// A peering stuck in `provisioning` (accepted, the kernel not caught up) can be
/// deleted by either side, as AWS lets either owner delete a connection at any
/// time: it becomes `deleted`, the reconciler's completion no longer makes it
/// `active`, and the desired spec has no route over it.
#[test]
fn a_provisioning_peering_can_be_deleted_by_either_side() {
    for by_accepter in [false, true] {
        let Two {
            mut w,
            a,
            b,
            na,
            nb,
        } = two();
        let p = w.request(&a, &na, &nb);
        let accepted = w.run(|s, e| accept_peering(s, &b, e, &p.id)).unwrap();
        assert_eq!(accepted.status, PeeringStatus::Provisioning);
        // What the reconciler was waiting for when it planned, before the delete.
        let waiting = cove_control::Applied::of(&w.state);
        assert_eq!(waiting.provisioned, vec![p.id.clone()]);
        let who = if by_accepter { &b } else { &a };
        let gone = w.run(|s, e| delete_peering(s, who, e, &p.id)).unwrap();
        assert_eq!(gone.status, PeeringStatus::Deleted);
        assert!(PeeringStatus::Provisioning.may_become(PeeringStatus::Deleted));
        let msg = gone.status_message.as_deref().unwrap_or_default();
        assert!(
            msg.contains(if by_accepter { "accepter" } else { "requester" }),
            "{msg}"
        );
        // The reconciler completing its old plan does not bring it back.
        let env = Env {
            now: UnixTime(10_000),
            random: [0; 32],
        };
        let done = complete(&w.state, &env, &waiting);
        assert!(done.changes.is_empty(), "{:?}", done.changes);
        // Both sides see it deleted; deleting again is refused.
        for t in [&a, &b] {
            assert_eq!(
                get_peering(&w.state, t, &p.id).unwrap().status,
                PeeringStatus::Deleted
            );
        }
        let e = w.refused(|s, e| delete_peering(s, &a, e, &p.id));
        expect_error(&e, ErrorCode::InvalidStateTransition, Some("id"));
        // And nothing routes over it.
        let spec = desired_spec(&w.state, &Default::default());
        assert!(
            spec.peerings.iter().all(|x| x.name != p.id.as_str()),
            "a deleted peering is still in the desired spec"
        );
        let json = serde_json::to_string(&spec).unwrap();
        assert!(!json.contains(p.id.as_str()), "a route over it: {json}");
    }
}
