//! The control plane's documents both ways: round trips, strict deletes, and
//! uploads kept per tenant.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cove_control::{Actor, CreateNetwork, CreateTenant, TokenId};
use cove_store::Generation;

use super::*;

fn env(n: u8) -> cove_control::Env {
    cove_control::Env {
        now: UnixTime(1_000 + u64::from(n)),
        random: [n; 32],
    }
}

fn admin() -> Actor {
    Actor::Admin {
        token: TokenId("tok-admin".into()),
    }
}

/// Applies `ops` to `docs` (puts replace, deletes remove), as the store would.
fn apply(docs: &mut Vec<Document>, ops: &[DocOp]) {
    for op in ops {
        match op {
            DocOp::Put { id, body } | DocOp::Create { id, body } => {
                docs.retain(|d| &d.id != id);
                docs.push(Document {
                    id: id.clone(),
                    body: body.clone(),
                    generation: Generation(1),
                });
            }
            DocOp::Delete { id } => {
                let before = docs.len();
                docs.retain(|d| &d.id != id);
                assert_eq!(docs.len() + 1, before, "delete of a missing document {id}");
            }
        }
    }
}

fn snapshot(docs: &[Document]) -> Snapshot {
    Snapshot {
        generation: Generation(1),
        applied: Generation::ZERO,
        documents: docs.to_vec(),
    }
}

/// Runs `changes` on `state` and on `docs`; the documents must read back as the
/// state.
fn step(state: &mut ControlState, docs: &mut Vec<Document>, changes: &[Change]) {
    let ops = change_ops(state, changes).expect("ops");
    apply(docs, &ops);
    state.apply(changes);
    let (back, _) = control_from_snapshot(&snapshot(docs)).expect("decode");
    assert_eq!(&back, state);
}

#[test]
fn every_kind_round_trips_and_deletes_name_the_owners_document() {
    let mut state = ControlState::default();
    let mut docs = Vec::new();
    let boot = cove_control::bootstrap_admin(&state, &env(1)).expect("boot");
    step(&mut state, &mut docs, &boot.changes);
    let pool =
        cove_control::set_ip_pool(&state, &admin(), &["203.0.113.0/28".into()]).expect("pool");
    step(&mut state, &mut docs, &pool.changes);
    let t = cove_control::create_tenant(
        &state,
        &admin(),
        &env(2),
        CreateTenant {
            name: Some("acme".into()),
            quotas: None,
        },
    )
    .expect("tenant");
    step(&mut state, &mut docs, &t.changes);
    let tenant = t.value.id.clone();
    let spec = TenantSpec {
        name: "acme".into(),
        ..TenantSpec::default()
    };
    let n = cove_control::create_network(
        &state,
        &tenant,
        &env(3),
        CreateNetwork {
            name: Some("app".into()),
            region: Some("us-east-1".into()),
            ..CreateNetwork::default()
        },
        &spec,
    )
    .expect("network");
    step(&mut state, &mut docs, &n.changes);
    let net_doc = docs
        .iter()
        .find(|d| d.id.kind == "network")
        .expect("network document");
    assert_eq!(net_doc.id.tenant.as_deref(), Some(tenant.as_str()));
    assert!(
        docs.iter()
            .any(|d| d.id.kind == "ip_pool" && d.id.tenant.is_none())
    );

    // Deleted: `deleting`, then gone once the kernel caught up; the delete names
    // the tenant's document (apply() asserts it existed).
    let del =
        cove_control::delete_network(&state, &tenant, &env(4), &n.value.id, &spec).expect("delete");
    step(&mut state, &mut docs, &del.changes);
    let done = cove_control::complete(&state, &env(5), &cove_control::Applied::of(&state));
    assert!(
        done.changes
            .iter()
            .any(|c| matches!(c, Change::Delete(k) if k.kind == Kind::Network))
    );
    step(&mut state, &mut docs, &done.changes);
    assert!(!docs.iter().any(|d| d.id.kind == "network"));

    // Specs: written, read back under their tenant, removed.
    apply(
        &mut docs,
        &spec_ops(&[(tenant.clone(), Some(spec.clone()))]).unwrap(),
    );
    let (back, specs) = control_from_snapshot(&snapshot(&docs)).unwrap();
    assert_eq!(back, state);
    assert_eq!(specs.get(&tenant), Some(&spec));
    apply(&mut docs, &spec_ops(&[(tenant.clone(), None)]).unwrap());
    assert!(
        control_from_snapshot(&snapshot(&docs))
            .unwrap()
            .1
            .is_empty()
    );
}

#[test]
fn other_kinds_are_skipped_and_a_corrupt_document_is_named() {
    let mut docs = vec![Document {
        id: DocId::new("function", None, "t/v/f"),
        body: serde_json::value::to_raw_value(&serde_json::json!({"x": 1})).unwrap(),
        generation: Generation(1),
    }];
    let (state, specs) = control_from_snapshot(&snapshot(&docs)).unwrap();
    assert_eq!(state, ControlState::default());
    assert!(specs.is_empty());
    docs.push(Document {
        id: DocId::new("network", Some("ten-a"), "net-1"),
        body: serde_json::value::to_raw_value(&serde_json::json!({"id": 3})).unwrap(),
        generation: Generation(1),
    });
    let e = control_from_snapshot(&snapshot(&docs)).expect_err("corrupt");
    assert!(
        matches!(&e, ControlDocsError::Decode { id, kind: "network", .. } if id.contains("net-1")),
        "{e:?}"
    );
}

#[test]
fn a_delete_of_an_unknown_object_is_an_error_and_nothing_is_written() {
    let del = Change::Delete(ObjectKey {
        kind: Kind::Network,
        key: "net-1".into(),
    });
    let boot = cove_control::bootstrap_admin(&ControlState::default(), &env(1)).unwrap();
    // A valid put before it: still all or nothing.
    let mut changes = boot.changes.clone();
    changes.push(del);
    let e = change_ops(&ControlState::default(), &changes).expect_err("unknown");
    assert!(
        matches!(&e, ControlDocsError::DeleteUnknown { kind: "network", key } if key == "net-1"),
        "{e:?}"
    );
    assert!(e.to_string().contains("net-1"), "{e}");
}

#[test]
fn uploads_round_trip_per_tenant_and_another_tenants_upload_is_not_this_tenants() {
    let a = TenantId("ten-a".into());
    let b = TenantId("ten-b".into());
    let hex = "ab".repeat(32);
    let up = Upload {
        sha256: hex.clone(),
        size: 10,
        zip_size: 5,
        zip_sha256: None,
        uploaded_at: UnixTime(7),
    };
    let mut docs = Vec::new();
    apply(&mut docs, &[upload_op(&b, &up).unwrap()]);
    // An upload document without a tenant is nobody's.
    docs.push(Document {
        id: DocId::new(UPLOAD_KIND, None, "cd".repeat(32)),
        body: serde_json::value::to_raw_value(&up).unwrap(),
        generation: Generation(1),
    });
    let uploads = uploads_from_snapshot(&snapshot(&docs)).unwrap();
    assert_eq!(uploads.get(&b).and_then(|u| u.get(&hex)), Some(&up));
    assert!(!uploads.contains_key(&a), "{uploads:?}");
    assert_eq!(uploads.len(), 1);
    // Uploads are not control objects or specs.
    let (state, specs) = control_from_snapshot(&snapshot(&docs)).unwrap();
    assert_eq!(state, ControlState::default());
    assert!(specs.is_empty());
    // A corrupt upload is an error, named.
    docs.push(Document {
        id: DocId::new(UPLOAD_KIND, Some("ten-a"), "x"),
        body: serde_json::value::to_raw_value(&serde_json::json!([1])).unwrap(),
        generation: Generation(1),
    });
    let e = uploads_from_snapshot(&snapshot(&docs)).expect_err("corrupt");
    assert!(
        matches!(
            e,
            ControlDocsError::Decode {
                kind: UPLOAD_KIND,
                ..
            }
        ),
        "{e:?}"
    );
}
