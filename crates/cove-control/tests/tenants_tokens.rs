//! Tenants, quotas, tokens, authentication and the IP pool: each command's happy
//! path and every refusal, with its code and field.

#![allow(clippy::unwrap_used)]

mod common;

use common::{T0, World, expect_error};
use cove_control::*;

fn tenant_actor(w: &mut World, t: &TenantId) -> Actor {
    let admin = w.admin.clone();
    let secret = w
        .run(|s, e| {
            create_token(
                s,
                &admin,
                e,
                CreateToken {
                    tenant: Some(t.clone()),
                    ..Default::default()
                },
            )
        })
        .unwrap()
        .secret;
    authenticate(&w.state, &secret, w.now()).unwrap()
}

#[test]
fn tenants_get_unique_names_and_account_ids_and_only_the_admin_makes_them() {
    let mut w = World::new();
    let a = w.tenant("acme");
    let b = w.tenant("globex");
    let (ta, tb) = (&w.state.tenants[&a], &w.state.tenants[&b]);
    assert_ne!(ta.account_id, tb.account_id);
    assert!(ta.account_id.len() == 12 && ta.account_id.bytes().all(|c| c.is_ascii_digit()));
    assert_eq!(ta.quotas, Quotas::default());
    assert_eq!(ta.quotas.peerings_per_network, 50);
    let names: Vec<_> = list_tenants(&w.state, &w.admin)
        .unwrap()
        .iter()
        .map(|t| t.name.clone())
        .collect();
    assert_eq!(names, ["acme", "globex"]);

    let admin = w.admin.clone();
    let e = w.refused(|s, e| {
        create_tenant(
            s,
            &admin,
            e,
            CreateTenant {
                name: Some("acme".into()),
                quotas: None,
            },
        )
    });
    expect_error(&e, ErrorCode::DuplicateName, Some("name"));
    let e = w.refused(|s, e| create_tenant(s, &admin, e, CreateTenant::default()));
    expect_error(&e, ErrorCode::MissingParameter, Some("name"));
    let e = w.refused(|s, e| {
        create_tenant(
            s,
            &admin,
            e,
            CreateTenant {
                name: Some("a/b".into()),
                quotas: None,
            },
        )
    });
    expect_error(&e, ErrorCode::InvalidParameterValue, Some("name"));
    // Names become path components (log directories): no `..`, no hidden names.
    for name in ["..", ".acme"] {
        let e = w.refused(|s, e| {
            create_tenant(
                s,
                &admin,
                e,
                CreateTenant {
                    name: Some(name.into()),
                    quotas: None,
                },
            )
        });
        expect_error(&e, ErrorCode::InvalidParameterValue, Some("name"));
    }
    let bad = Quotas {
        peerings_per_network: 126,
        ..Quotas::default()
    };
    let e = w.refused(|s, e| {
        create_tenant(
            s,
            &admin,
            e,
            CreateTenant {
                name: Some("x".into()),
                quotas: Some(bad),
            },
        )
    });
    expect_error(
        &e,
        ErrorCode::InvalidParameterValue,
        Some("quotas.peerings_per_network"),
    );
    let bad = Quotas {
        networks: 11,
        ..Quotas::default()
    };
    let e = w.refused(|s, _| set_quotas(s, &admin, &a, bad));
    expect_error(
        &e,
        ErrorCode::InvalidParameterCombination,
        Some("quotas.networks"),
    );

    let actor = tenant_actor(&mut w, &a);
    let e = w.refused(|s, e| {
        create_tenant(
            s,
            &actor,
            e,
            CreateTenant {
                name: Some("evil".into()),
                quotas: None,
            },
        )
    });
    expect_error(&e, ErrorCode::UnauthorizedOperation, None);
    expect_error(
        &list_tenants(&w.state, &actor).unwrap_err(),
        ErrorCode::UnauthorizedOperation,
        None,
    );
    let e = w.refused(|s, _| set_quotas(s, &actor, &a, Quotas::default()));
    expect_error(&e, ErrorCode::UnauthorizedOperation, None);
    // A tenant sees itself, and another tenant is not found.
    assert_eq!(get_tenant(&w.state, &actor, &a).unwrap().name, "acme");
    let e = get_tenant(&w.state, &actor, &b).unwrap_err();
    expect_error(&e, ErrorCode::InvalidTenantIdNotFound, Some("tenant"));
    assert!(!e.message.contains("globex"));

    let q = Quotas {
        networks: 1,
        ..Quotas::default()
    };
    assert_eq!(
        w.run(|s, _| set_quotas(s, &admin, &a, q)).unwrap().quotas,
        q
    );
    let same = set_quotas(&w.state, &admin, &a, q).unwrap();
    assert!(
        same.changes.is_empty(),
        "the same quotas again change nothing"
    );
}

#[test]
fn tokens_are_hashed_shown_once_and_authenticate_until_revoked_or_expired() {
    let mut w = World::new();
    let a = w.tenant("acme");
    let admin = w.admin.clone();
    let expires = UnixTime(T0 + 1000);
    let new = w
        .run(|s, e| {
            create_token(
                s,
                &admin,
                e,
                CreateToken {
                    tenant: Some(a.clone()),
                    expires_at: Some(expires),
                    description: Some("ci".into()),
                },
            )
        })
        .unwrap();
    assert!(
        new.secret.starts_with("cove_") && new.secret.len() == 5 + 52,
        "{}",
        new.secret
    );
    assert!(
        new.secret[5..]
            .bytes()
            .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c))
    );
    // Only the hash is stored, and the stored documents never hold the secret.
    let stored = serde_json::to_string(&w.state.objects()).unwrap();
    assert!(!stored.contains(&new.secret) && !stored.contains(&new.secret[5..]));
    let actor = authenticate(&w.state, &new.secret, w.now()).unwrap();
    assert_eq!(
        actor,
        Actor::Tenant {
            tenant: a.clone(),
            token: new.token.id.clone()
        }
    );
    assert_eq!(actor.tenant(), Some(&a));

    // Expiry: valid just before, refused at and after.
    assert!(authenticate(&w.state, &new.secret, UnixTime(T0 + 999)).is_ok());
    let e = authenticate(&w.state, &new.secret, expires).unwrap_err();
    expect_error(&e, ErrorCode::AuthFailure, None);
    assert_eq!(e.status, 401);
    assert!(e.message.contains("expired"));
    // Unknown, malformed.
    expect_error(
        &authenticate(&w.state, "cove_nope", w.now()).unwrap_err(),
        ErrorCode::AuthFailure,
        None,
    );
    expect_error(
        &authenticate(&w.state, "Bearer x", w.now()).unwrap_err(),
        ErrorCode::AuthFailure,
        None,
    );

    // A tenant makes its own tokens; revocation works at once and twice is a no-op.
    let own = w
        .run(|s, e| create_token(s, &actor, e, CreateToken::default()))
        .unwrap();
    assert_eq!(own.token.owner, TokenOwner::Tenant(a.clone()));
    let revoked = w
        .run(|s, e| revoke_token(s, &actor, e, &own.token.id))
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(w.now()));
    let e = authenticate(&w.state, &own.secret, w.now()).unwrap_err();
    expect_error(&e, ErrorCode::AuthFailure, None);
    assert!(e.message.contains("revoked"));
    let again = w.env();
    assert!(
        revoke_token(&w.state, &actor, &again, &own.token.id)
            .unwrap()
            .changes
            .is_empty()
    );

    // Refusals.
    let e = w.refused(|s, e| {
        create_token(
            s,
            &actor,
            e,
            CreateToken {
                expires_at: Some(UnixTime(T0)),
                ..Default::default()
            },
        )
    });
    expect_error(&e, ErrorCode::InvalidParameterValue, Some("expires_at"));
    let e = w.refused(|s, e| {
        create_token(
            s,
            &actor,
            e,
            CreateToken {
                description: Some("x".repeat(257)),
                ..Default::default()
            },
        )
    });
    expect_error(&e, ErrorCode::InvalidParameterValue, Some("description"));
    let e = w.refused(|s, e| {
        create_token(
            s,
            &admin,
            e,
            CreateToken {
                tenant: Some(TenantId("ten-0".into())),
                ..Default::default()
            },
        )
    });
    expect_error(&e, ErrorCode::InvalidTenantIdNotFound, Some("tenant"));
    let e = w.refused(bootstrap_admin);
    expect_error(&e, ErrorCode::OperationNotPermitted, None);

    // Another tenant's tokens: not found, never listed.
    let b = w.tenant("globex");
    let e = w.refused(|s, e| {
        create_token(
            s,
            &actor,
            e,
            CreateToken {
                tenant: Some(b.clone()),
                ..Default::default()
            },
        )
    });
    expect_error(&e, ErrorCode::InvalidTenantIdNotFound, Some("tenant"));
    let b_token = w
        .run(|s, e| {
            create_token(
                s,
                &admin,
                e,
                CreateToken {
                    tenant: Some(b.clone()),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    let e = w.refused(|s, e| revoke_token(s, &actor, e, &b_token.token.id));
    expect_error(&e, ErrorCode::InvalidTokenIdNotFound, Some("id"));
    let listed = list_tokens(&w.state, &actor);
    assert!(
        listed
            .iter()
            .all(|t| t.owner == TokenOwner::Tenant(a.clone()))
    );
    assert_eq!(listed.len(), 2);
    assert_eq!(list_tokens(&w.state, &admin).len(), w.state.tokens.len());
    // The JSON shown for a token has no hash.
    assert!(!serde_json::to_string(&listed).unwrap().contains("hash"));
}

#[test]
fn a_tenant_has_at_most_100_live_tokens() {
    let mut w = World::new();
    let a = w.tenant("acme");
    let actor = tenant_actor(&mut w, &a);
    for _ in 1..100 {
        w.run(|s, e| create_token(s, &actor, e, CreateToken::default()))
            .unwrap();
    }
    let e = w.refused(|s, e| create_token(s, &actor, e, CreateToken::default()));
    expect_error(&e, ErrorCode::TokenLimitExceeded, None);
}

#[test]
fn the_pool_takes_public_addresses_and_keeps_the_ones_in_use() {
    let mut w = World::new();
    let admin = w.admin.clone();
    let pool = |entries: &[&str]| entries.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases: [(&[&str], &str); 6] = [
        (&["nonsense"], "blocks[0]"),
        (&["198.51.100.0/24", "198.51.100.1/24"], "blocks[1]"),
        (&["10.0.0.1"], "blocks[0]"),
        (&["100.64.0.0/30"], "blocks[0]"),
        (&["198.51.100.0/24", "198.51.100.128/25"], "blocks[1]"),
        (&["198.0.0.0/15"], "blocks[0]"),
    ];
    for (entries, field) in cases {
        let e = w.refused(|s, _| set_ip_pool(s, &admin, &pool(entries)));
        expect_error(&e, ErrorCode::InvalidParameterValue, Some(field));
    }
    let a = w.tenant("acme");
    let n = w.network(&a, "app", None);
    assert_eq!(n.static_ips.len(), 2);
    let e = w.refused(|s, _| set_ip_pool(s, &admin, &pool(&["198.51.100.0/24"])));
    expect_error(&e, ErrorCode::DependencyViolation, Some("blocks"));
    let p = w
        .run(|s, _| set_ip_pool(s, &admin, &pool(&["203.0.113.0/28", "198.51.100.7"])))
        .unwrap();
    assert_eq!(p.blocks.len(), 2);
    let actor = tenant_actor(&mut w, &a);
    let e = w.refused(|s, _| set_ip_pool(s, &actor, &pool(&["198.51.100.7"])));
    expect_error(&e, ErrorCode::UnauthorizedOperation, None);
}

#[test]
fn state_round_trips_as_documents_and_as_json() {
    let mut w = World::new();
    let a = w.tenant("acme");
    let b = w.tenant("globex");
    let na = w.network(&a, "app", None);
    let nb = w.network(&b, "db", Some("10.50.0.0/16"));
    w.request(&a, &na, &nb);
    w.reconcile();
    let id = w.state.networks_of(&a)[0].id.clone();
    w.run(|s, e| delete_network(s, &a, e, &id, &Default::default()))
        .unwrap();
    w.reconcile();
    assert!(!w.state.ip_pool.released_at.is_empty());
    let back = ControlState::from_objects(w.state.objects());
    assert_eq!(back, w.state);
    let json = serde_json::to_string(&w.state).unwrap();
    let again: ControlState = serde_json::from_str(&json).unwrap();
    assert_eq!(again, w.state);
    for o in w.state.objects() {
        let text = serde_json::to_string(&o).unwrap();
        let read: Object = serde_json::from_str(&text).unwrap();
        assert_eq!(read.key(), o.key());
    }
}

/// `PATCH /v1/ip-pool` (`cove ip-pool add|remove`): blocks added and removed on the
/// current pool in one decision, each refusal naming `add[i]` or `remove[i]`; the
/// admin only, reading included.
#[test]
fn the_pool_changes_by_adding_and_removing_blocks() {
    let mut w = World::new();
    let admin = w.admin.clone();
    let list = |entries: &[&str]| entries.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    w.run(|s, _| set_ip_pool(s, &admin, &list(&["203.0.113.0/28"])))
        .unwrap();
    let p = w
        .run(|s, _| change_ip_pool(s, &admin, &list(&["198.51.100.7", "192.0.2.0/30"]), &[]))
        .unwrap();
    let shown: Vec<String> = p.blocks.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        ["203.0.113.0/28", "198.51.100.7/32", "192.0.2.0/30"],
        "added after the pool's own, in order"
    );
    assert_eq!(get_ip_pool(&w.state, &admin).unwrap(), p);
    // Removing an address given as written (a /32) and adding in one change.
    let p = w
        .run(|s, _| {
            change_ip_pool(
                s,
                &admin,
                &list(&["198.51.100.8"]),
                &list(&["198.51.100.7", "192.0.2.0/30"]),
            )
        })
        .unwrap();
    let shown: Vec<String> = p.blocks.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["203.0.113.0/28", "198.51.100.8/32"]);
    // Nothing to change: no document written.
    let same = change_ip_pool(&w.state, &admin, &[], &[]).unwrap();
    assert!(same.changes.is_empty());
    // Refusals name the request's field; nothing changes.
    let cases: [(&[&str], &[&str], ErrorCode, &str); 5] = [
        (
            &["nonsense"],
            &[],
            ErrorCode::InvalidParameterValue,
            "add[0]",
        ),
        (
            &["10.0.0.1"],
            &[],
            ErrorCode::InvalidParameterValue,
            "add[0]",
        ),
        (
            &["192.0.2.0/30", "203.0.113.8/29"],
            &[],
            ErrorCode::InvalidParameterValue,
            "add[1]",
        ),
        (
            &[],
            &["192.0.2.0/30"],
            ErrorCode::InvalidAddressNotFound,
            "remove[0]",
        ),
        (
            &[],
            &["203.0.113.0/29"],
            ErrorCode::InvalidAddressNotFound,
            "remove[0]",
        ),
    ];
    for (add, remove, code, field) in cases {
        let e = w.refused(|s, _| change_ip_pool(s, &admin, &list(add), &list(remove)));
        expect_error(&e, code, Some(field));
    }
    assert_eq!(get_ip_pool(&w.state, &admin).unwrap(), p);
    // An address a network holds stays in the pool.
    let a = w.tenant("acme");
    let n = w.network(&a, "app", None);
    assert!(
        n.static_ips
            .iter()
            .all(|ip| ip.octets()[..3] == [203, 0, 113])
    );
    let e = w.refused(|s, _| change_ip_pool(s, &admin, &[], &list(&["203.0.113.0/28"])));
    expect_error(&e, ErrorCode::DependencyViolation, Some("remove"));
    // A tenant can neither read nor change it.
    let actor = tenant_actor(&mut w, &a);
    let e = get_ip_pool(&w.state, &actor).unwrap_err();
    expect_error(&e, ErrorCode::UnauthorizedOperation, None);
    let e = w.refused(|s, _| change_ip_pool(s, &actor, &list(&["198.51.100.9"]), &[]));
    expect_error(&e, ErrorCode::UnauthorizedOperation, None);
}
