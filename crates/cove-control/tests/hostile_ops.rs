//! A hostile tenant against another, outside the spec: peering requests and
//! quotas, tokens, the operator's pool; and a careless operator lowering a quota.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::World;
use cove_control::*;

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

#[test]
fn requests_sent_to_a_network_do_not_use_up_its_own_quota() {
    let (mut w, a, app, b, db) = two();
    let c = w.tenant("initech");
    let lab = w.network(&c, "lab", Some("10.3.0.0/16"));
    let admin = w.admin.clone();
    let mut q = w.state.tenants[&a].quotas;
    q.peerings_per_network = 1;
    w.run(|s, _| set_quotas(s, &admin, &a, q)).unwrap();
    // globex sends acme's `app` a request acme never answers.
    w.request(&b, &db, &app);
    // acme can still request its one peering.
    let p = w.request(&a, &app, &lab);
    assert_eq!(p.status, PeeringStatus::PendingAcceptance);
    // Its own request counts: a second one is over its quota.
    let d = w.network(&c, "lab2", Some("10.5.0.0/16"));
    let account = w.state.tenants[&c].account_id.clone();
    let e = w.refused(|s, e| {
        request_peering(
            s,
            &a,
            e,
            RequestPeering {
                vpc_id: Some(app.vpc_id.clone()),
                peer_vpc_id: Some(d.vpc_id.clone()),
                peer_owner_id: Some(account),
                tags: None,
            },
        )
    });
    assert_eq!(e.code, ErrorCode::VpcPeeringConnectionLimitExceeded);
}

#[test]
fn a_failed_request_to_another_account_does_not_tell_why() {
    let (mut w, _, app, b, _) = two();
    let overlapping = w.network(&b, "clash", Some("10.1.0.0/16"));
    let fail = |w: &mut World, peer_vpc: &str| {
        let account = w.state.tenants.values().find(|t| t.name == "acme").unwrap();
        let account = account.account_id.clone();
        w.run(|s, e| {
            request_peering(
                s,
                &b,
                e,
                RequestPeering {
                    vpc_id: Some(overlapping.vpc_id.clone()),
                    peer_vpc_id: Some(peer_vpc.to_owned()),
                    peer_owner_id: Some(account),
                    tags: None,
                },
            )
        })
        .unwrap()
    };
    let exists = fail(&mut w, &app.vpc_id);
    let missing = fail(&mut w, "vpc-0123456789abcdef0");
    assert_eq!(exists.status, PeeringStatus::Failed);
    assert_eq!(missing.status, PeeringStatus::Failed);
    assert_eq!(exists.status_message, missing.status_message);
}

#[test]
fn a_token_never_outlives_the_token_that_made_it() {
    let mut w = World::new();
    let a = w.tenant("acme");
    let admin = w.admin.clone();
    let end = UnixTime(common::T0 + 3600);
    let first = w
        .run(|s, e| {
            create_token(
                s,
                &admin,
                e,
                CreateToken {
                    tenant: Some(a.clone()),
                    expires_at: Some(end),
                    description: None,
                },
            )
        })
        .unwrap();
    let me = authenticate(&w.state, &first.secret, w.now()).unwrap();
    let own = w
        .run(|s, e| create_token(s, &me, e, CreateToken::default()))
        .unwrap();
    assert_eq!(own.token.expires_at, Some(end));
    let e = w.refused(|s, e| {
        create_token(
            s,
            &me,
            e,
            CreateToken {
                expires_at: Some(end.plus(1)),
                ..Default::default()
            },
        )
    });
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::InvalidParameterValue, Some("expires_at"))
    );
    assert!(authenticate(&w.state, &own.secret, end).is_err());
    // The operator's bootstrap token never expires: neither do its tokens by default.
    let t = w
        .run(|s, e| create_token(s, &admin, e, CreateToken::default()))
        .unwrap();
    assert_eq!(t.token.expires_at, None);
}

#[test]
fn revoking_a_token_revokes_the_tokens_it_made_for_its_owner() {
    let mut w = World::new();
    let a = w.tenant("acme");
    let admin = w.admin.clone();
    let for_acme = |w: &mut World, actor: &Actor| {
        let actor = actor.clone();
        let t = a.clone();
        w.run(move |s, e| {
            create_token(
                s,
                &actor,
                e,
                CreateToken {
                    tenant: Some(t),
                    ..Default::default()
                },
            )
        })
        .unwrap()
    };
    let leaked = for_acme(&mut w, &admin);
    let sibling = for_acme(&mut w, &admin);
    let actor = authenticate(&w.state, &leaked.secret, w.now()).unwrap();
    let copy = for_acme(&mut w, &actor);
    assert_eq!(copy.token.created_by.as_ref(), Some(&leaked.token.id));
    let copy_actor = authenticate(&w.state, &copy.secret, w.now()).unwrap();
    let copy_of_copy = for_acme(&mut w, &copy_actor);
    let revoked = w
        .run(|s, e| revoke_token(s, &admin, e, &leaked.token.id))
        .unwrap();
    assert_eq!(revoked.id, leaked.token.id);
    assert!(revoked.revoked_at.is_some());
    let now = w.now();
    for (what, secret) in [
        ("copy", &copy.secret),
        ("copy of copy", &copy_of_copy.secret),
    ] {
        let e = authenticate(&w.state, secret, now).expect_err(what);
        assert_eq!(e.code, ErrorCode::AuthFailure, "{what}");
    }
    authenticate(&w.state, &sibling.secret, now).expect("a token the operator made stays");
    // An admin token's tenant tokens are not its copies: they stay.
    let second_admin = w
        .run(|s, e| create_token(s, &admin, e, CreateToken::default()))
        .unwrap();
    let op2 = authenticate(&w.state, &second_admin.secret, now).unwrap();
    let made = for_acme(&mut w, &op2);
    w.run(|s, e| revoke_token(s, &admin, e, &second_admin.token.id))
        .unwrap();
    authenticate(&w.state, &made.secret, w.now()).expect("tenant token stays");
}

#[test]
fn lowering_a_quota_below_what_is_up_keeps_the_desired_spec_valid() {
    let mut w = World::new();
    let admin = w.admin.clone();
    w.run(|s, _| set_ip_pool(s, &admin, &["198.51.100.0/24".to_owned()]))
        .unwrap();
    let a = w.tenant("acme");
    let raised = Quotas {
        networks: 60,
        vpcs: 60,
        peerings_per_network: 60,
        static_ips: 120,
        ..Quotas::default()
    };
    w.run(|s, _| set_quotas(s, &admin, &a, raised)).unwrap();
    let hub = w.network(&a, "hub", None);
    for i in 0..55 {
        let spoke = w.network(&a, &format!("spoke-{i}"), None);
        let p = w.request(&a, &spoke, &hub);
        w.run(|s, e| accept_peering(s, &a, e, &p.id)).unwrap();
    }
    w.reconcile();
    // The operator lowers the quota back to AWS's default.
    let lowered = Quotas {
        peerings_per_network: 50,
        ..raised
    };
    w.run(|s, _| set_quotas(s, &admin, &a, lowered)).unwrap();
    let v = cove_model::validate::validate(&desired_spec(&w.state, &BTreeMap::new()));
    let errors: Vec<_> = v.errors().collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn no_tenant_takes_the_whole_pool() {
    let mut w = World::new();
    let admin = w.admin.clone();
    let a = w.tenant("acme");
    let b = w.tenant("globex");
    let q = Quotas {
        static_ips: 4,
        ..Quotas::default()
    };
    w.run(|s, _| set_quotas(s, &admin, &a, q)).unwrap();
    w.network(&a, "one", None);
    w.network(&a, "two", None);
    let e = w.refused(|s, e| {
        create_network(
            s,
            &a,
            e,
            CreateNetwork {
                name: Some("three".into()),
                region: Some("us-east-1".into()),
                ..Default::default()
            },
            &cove_model::spec::TenantSpec::default(),
        )
    });
    assert_eq!((e.code, e.status), (ErrorCode::AddressLimitExceeded, 400));
    // The pool (16 addresses) still serves the next tenant.
    w.network(&b, "db", None);
    // By default a tenant's ten networks in two zones fit; an eleventh network's
    // addresses would not, whatever its `networks` quota.
    assert_eq!(Quotas::default().static_ips, 20);
}

/// A command on an id that must be refused.
type Refusal<'a, I> = Box<dyn Fn(&I) -> ControlError + 'a>;

/// The same error, with the named id replaced: nothing tells "yours" from "none".
fn same_shape(theirs: &ControlError, t: &str, none: &ControlError, n: &str) {
    assert_eq!(
        (theirs.code, &theirs.field, theirs.status, &theirs.hint),
        (none.code, &none.field, none.status, &none.hint)
    );
    assert_eq!(theirs.message.replace(t, "X"), none.message.replace(n, "X"));
}

#[test]
fn another_tenants_object_answers_exactly_like_a_missing_one() {
    let (mut w, a, app, b, db) = two();
    let p = w.request(&a, &app, &db);
    let c = w.tenant("initech");
    let admin = w.admin.clone();
    let tok = w
        .run(|s, e| {
            create_token(
                s,
                &admin,
                e,
                CreateToken {
                    tenant: Some(a.clone()),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    let before = w.state.clone();
    let env = w.env();
    let s = &w.state;
    let spec = cove_model::spec::TenantSpec::default();
    // Networks, by id (and name) of acme's against one that never existed.
    let (n, m) = (app.id.clone(), NetworkId("net-0123456789abcdef0".into()));
    let net_ops: Vec<(&str, Refusal<NetworkId>)> = vec![
        (
            "get",
            Box::new(|id| get_network(s, &b, id.as_str()).unwrap_err()),
        ),
        (
            "patch",
            Box::new(|id| {
                patch_network(s, &b, &env, id, PatchNetwork::default(), &spec).unwrap_err()
            }),
        ),
        (
            "delete",
            Box::new(|id| delete_network(s, &b, &env, id, &spec).unwrap_err()),
        ),
    ];
    for (what, op) in &net_ops {
        let (x, y) = (op(&n), op(&m));
        assert_eq!(x.code, ErrorCode::InvalidNetworkIdNotFound, "{what}");
        same_shape(&x, n.as_str(), &y, m.as_str());
    }
    same_shape(
        &get_network(s, &b, "app").unwrap_err(),
        "app",
        &get_network(s, &b, "nope").unwrap_err(),
        "nope",
    );
    // A peering between acme and globex, seen from initech.
    let (q, r) = (p.id.clone(), PeeringId("pcx-0123456789abcdef0".into()));
    let peer_ops: Vec<Refusal<PeeringId>> = vec![
        Box::new(|id| get_peering(s, &c, id).unwrap_err()),
        Box::new(|id| accept_peering(s, &c, &env, id).unwrap_err()),
        Box::new(|id| reject_peering(s, &c, &env, id).unwrap_err()),
        Box::new(|id| delete_peering(s, &c, &env, id).unwrap_err()),
    ];
    for op in &peer_ops {
        let (x, y) = (op(&q), op(&r));
        assert_eq!(x.code, ErrorCode::InvalidVpcPeeringConnectionIdNotFound);
        same_shape(&x, q.as_str(), &y, r.as_str());
    }
    assert!(list_peerings(s, &c).is_empty());
    // Requesting from acme's VPC as if it were globex's own.
    let from = |vpc: &str| {
        request_peering(
            s,
            &b,
            &env,
            RequestPeering {
                vpc_id: Some(vpc.to_owned()),
                peer_vpc_id: Some(db.vpc_id.clone()),
                peer_owner_id: None,
                tags: None,
            },
        )
        .unwrap_err()
    };
    same_shape(
        &from(&app.vpc_id),
        &app.vpc_id,
        &from("vpc-0123456789abcdef0"),
        "vpc-0123456789abcdef0",
    );
    // acme's token and tenant, from globex.
    let me = Actor::Tenant {
        tenant: b.clone(),
        token: TokenId("tok-x".into()),
    };
    let missing_tok = TokenId("tok-0123456789abcdef0".into());
    same_shape(
        &revoke_token(s, &me, &env, &tok.token.id).unwrap_err(),
        tok.token.id.as_str(),
        &revoke_token(s, &me, &env, &missing_tok).unwrap_err(),
        missing_tok.as_str(),
    );
    let missing_ten = TenantId("ten-0123456789abcdef0".into());
    same_shape(
        &get_tenant(s, &me, &a).unwrap_err(),
        a.as_str(),
        &get_tenant(s, &me, &missing_ten).unwrap_err(),
        missing_ten.as_str(),
    );
    let make_for = |t: &TenantId| {
        create_token(
            s,
            &me,
            &env,
            CreateToken {
                tenant: Some(t.clone()),
                ..Default::default()
            },
        )
        .unwrap_err()
    };
    same_shape(
        &make_for(&a),
        a.as_str(),
        &make_for(&missing_ten),
        missing_ten.as_str(),
    );
    assert_eq!(w.state, before);
}

#[test]
fn failed_requests_do_not_pile_up() {
    let (mut w, _, _, b, db) = two();
    let admin = w.admin.clone();
    let mut q = w.state.tenants[&b].quotas;
    q.peerings_per_network = 2;
    w.run(|s, _| set_quotas(s, &admin, &b, q)).unwrap();
    let ask = |w: &mut World, n: u8| {
        w.run(|s, e| {
            request_peering(
                s,
                &b,
                e,
                RequestPeering {
                    vpc_id: Some(db.vpc_id.clone()),
                    peer_vpc_id: Some(format!("vpc-0123456789abcde{n:02x}")),
                    peer_owner_id: Some("999999999999".into()),
                    tags: None,
                },
            )
        })
    };
    for n in 0..2 {
        assert_eq!(ask(&mut w, n).unwrap().status, PeeringStatus::Failed);
    }
    let e = ask(&mut w, 2).unwrap_err();
    assert_eq!(
        (e.code, e.field.as_deref()),
        (ErrorCode::VpcPeeringConnectionLimitExceeded, Some("vpc_id"))
    );
    // Two hours on, the reconciler's sweep removes them and requests go through.
    w.tick += lifecycle::FAILED_KEPT_SECS;
    w.run(|s, e| Ok(expire_peerings(s, e))).unwrap();
    assert!(w.state.peerings.is_empty());
    assert_eq!(ask(&mut w, 3).unwrap().status, PeeringStatus::Failed);
}

#[test]
fn rotating_a_token_keeps_the_new_one() {
    let mut w = World::new();
    let a = w.tenant("acme");
    let admin = w.admin.clone();
    let old = {
        let t = a.clone();
        w.run(move |s, e| {
            create_token(
                s,
                &admin,
                e,
                CreateToken {
                    tenant: Some(t),
                    ..Default::default()
                },
            )
        })
        .unwrap()
    };
    let old_actor = authenticate(&w.state, &old.secret, w.now()).unwrap();
    let new = {
        let t = a.clone();
        w.run(move |s, e| {
            create_token(
                s,
                &old_actor,
                e,
                CreateToken {
                    tenant: Some(t),
                    ..Default::default()
                },
            )
        })
        .unwrap()
    };
    let new_actor = authenticate(&w.state, &new.secret, w.now()).unwrap();
    let old_id = old.token.id.clone();
    w.run(move |s, e| revoke_token(s, &new_actor, e, &old_id))
        .unwrap();
    let now = w.now();
    let e = authenticate(&w.state, &old.secret, now).expect_err("old is revoked");
    assert_eq!(e.code, ErrorCode::AuthFailure);
    authenticate(&w.state, &new.secret, now).expect("the caller's new token stays");
}
