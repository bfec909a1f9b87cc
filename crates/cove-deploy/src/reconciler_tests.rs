#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use super::*;
use crate::test_kernel::ModelKernel;

pub(super) fn reconciler(holder: &str, state: &std::path::Path) -> Reconciler<ModelKernel> {
    reconciler_on(holder, state, None)
}

/// A reconciler on the store at `database` (`None`: SQLite in `state`).
fn reconciler_on(
    holder: &str,
    state: &std::path::Path,
    database: Option<String>,
) -> Reconciler<ModelKernel> {
    let target = crate::Target::new(
        crate::Prefix::new("cvrecn").unwrap(),
        state.to_owned(),
        Duration::ZERO,
    )
    .with_database(database);
    let d = Deployment::with_kernel(target, ModelKernel::default()).unwrap();
    Reconciler::new(
        d,
        ReconcilerConfig {
            holder: holder.to_owned(),
            lease_ttl: Duration::from_secs(60),
            poll: Duration::from_millis(10),
            drift_every: Duration::ZERO,
            idempotency_ttl: IDEMPOTENCY_TTL,
            sweep_every: Duration::ZERO,
            scale_every: Duration::ZERO,
            shared_eni_connections: 20,
            failback_after: Duration::from_secs(60),
            dns_upstreams: Vec::new(),
            dns_fast_path: true,
            objects_listen: None,
        },
    )
}

/// Writes the control plane's `changes` as the API does (one change).
fn commit(store: &crate::store::Store, changes: &[cove_control::Change]) {
    let snapshot = store.snapshot().unwrap();
    let (state, _) = crate::store::control_docs::control_from_snapshot(&snapshot).unwrap();
    let ops = crate::store::control_docs::change_ops(&state, changes).unwrap();
    store
        .block_on(store.database().change(
            &cove_store::ChangeMeta {
                summary: "test".into(),
                ..Default::default()
            },
            Some(snapshot.generation),
            &ops,
        ))
        .unwrap();
}

fn control(store: &crate::store::Store) -> cove_control::ControlState {
    crate::store::control_docs::control_from_snapshot(&store.snapshot().unwrap())
        .unwrap()
        .0
}

/// A network created through the control plane's documents reaches the kernel
/// with no command, and is then recorded `ready`; a second reconciler on the same
/// store only follows.
#[test]
fn a_network_in_the_store_reaches_the_kernel_and_becomes_ready() {
    let state = tempfile::tempdir().unwrap();
    let mut r = reconciler("a", state.path());
    let env = cove_control::Env {
        now: cove_control::UnixTime(1_000),
        random: [7; 32],
    };
    let admin = cove_control::Actor::Admin {
        token: cove_control::TokenId("tok-admin".into()),
    };
    let store = r.deployment().store().clone();
    let pool =
        cove_control::set_ip_pool(&control(&store), &admin, &["203.0.113.0/28".into()]).unwrap();
    commit(&store, &pool.changes);
    let tenant = cove_control::create_tenant(
        &control(&store),
        &admin,
        &env,
        cove_control::CreateTenant {
            name: Some("acme".into()),
            quotas: None,
        },
    )
    .unwrap();
    commit(&store, &tenant.changes);
    let net = cove_control::create_network(
        &control(&store),
        &tenant.value.id,
        &cove_control::Env {
            random: [8; 32],
            ..env
        },
        cove_control::CreateNetwork {
            name: Some("web".into()),
            region: Some("us-east-1".into()),
            ..Default::default()
        },
        &cove_model::spec::TenantSpec::default(),
    )
    .unwrap();
    commit(&store, &net.changes);
    assert_eq!(
        control(&store).networks[&net.value.id].status,
        cove_control::NetworkStatus::Creating
    );
    // A reconcile planned before the network existed does not call it ready: the
    // kernel it applied does not have it.
    let now = r.deployment().store().snapshot().unwrap().generation;
    r.complete_control(crate::store::Generation::of(cove_store::Generation(
        now.0 - 1,
    )))
    .unwrap();
    assert_eq!(
        control(&store).networks[&net.value.id].status,
        cove_control::NetworkStatus::Creating,
        "recorded ready by a reconcile that did not apply it"
    );
    let tick = r.tick().unwrap();
    assert!(
        matches!(tick, Tick::Applied { drift: false, ops, .. } if ops > 0),
        "{tick:?}"
    );
    assert!(!r.deployment().kernel().state.borrow().namespaces.is_empty());
    assert_eq!(
        control(&store).networks[&net.value.id].status,
        cove_control::NetworkStatus::Ready
    );
    // The completion is a change: reconciled again, nothing more to do.
    let g = r.deployment().generations().unwrap();
    assert_ne!(g.desired, g.applied);
    assert!(matches!(r.tick().unwrap(), Tick::Applied { ops: 0, .. }));
    assert_eq!(r.tick().unwrap(), Tick::InSync);

    // Another reconciler on the same store follows while the lease is held.
    let mut other = reconciler("b", state.path());
    assert_eq!(
        other.tick().unwrap(),
        Tick::Follower {
            leader: "a".to_owned()
        }
    );
}

/// The operator's spec and a tenant of the control plane with the same name are
/// refused, naming the tenant.
#[test]
fn a_tenant_in_both_specs_is_refused() {
    let spec = cove_model::spec::Spec {
        tenants: vec![cove_model::spec::TenantSpec {
            name: "acme".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let v = crate::desired::validate_desired(
        Some("tenants:\n  - name: acme\n"),
        &[],
        Some(spec),
        &Default::default(),
    )
    .expect("validated");
    assert!(v.network.is_none());
    assert!(
        v.diagnostics
            .iter()
            .any(|d| d.path == "tenants[acme]" && d.message.contains("both")),
        "{:?}",
        v.diagnostics
    );
}

/// A kernel change that takes longer than the lease's TTL still records the
/// applied generation (the lease is renewed after the change), so the repair is
/// not lost and redone.
#[test]
fn an_apply_longer_than_the_lease_is_recorded() {
    let state = tempfile::tempdir().unwrap();
    let mut r = reconciler("slow", state.path());
    r.config.lease_ttl = Duration::from_millis(100);
    r.deployment()
        .kernel()
        .apply_delay
        .set(Duration::from_millis(300));
    set_example(&r);
    let tick = r.tick().unwrap();
    assert!(
        matches!(tick, Tick::Applied { ops, .. } if ops > 0),
        "{tick:?}"
    );
    let g = r.deployment().generations().unwrap();
    assert_eq!(g.applied, g.desired);
}

/// The leader sweeps idempotency records older than their TTL (database clock),
/// and only those; a follower sweeps nothing.
fn idempotency_records_are_swept(db: cove_testdb::TestDb) {
    let state = tempfile::tempdir().unwrap();
    let mut r = reconciler_on("a", state.path(), Some(db.url.clone()));
    let store = r.deployment().store().clone();
    let begin = |key: &str| {
        store
            .block_on(
                store
                    .database()
                    .idempotency_begin(Some("acme"), key, "hash"),
            )
            .unwrap()
    };
    let finish = |key: &str| {
        store
            .block_on(
                store
                    .database()
                    .idempotency_finish(Some("acme"), key, "hash", 201, "{}"),
            )
            .unwrap()
    };
    assert_eq!(begin("k1"), cove_store::IdempotencyBegin::Started);
    finish("k1");
    let replayed = |key: &str| matches!(begin(key), cove_store::IdempotencyBegin::Replay(_));
    // Younger than the TTL (24 h): kept.
    r.tick().unwrap();
    assert!(replayed("k1"), "a record younger than its TTL was swept");

    // A follower never sweeps, even with a tiny TTL.
    let other_state = tempfile::tempdir().unwrap();
    let mut other = reconciler_on("b", other_state.path(), Some(db.url.clone()));
    other.config.idempotency_ttl = Duration::from_millis(1);
    std::thread::sleep(Duration::from_millis(20));
    assert!(matches!(other.tick().unwrap(), Tick::Follower { .. }));
    assert!(replayed("k1"), "a follower swept");

    // The leader with a 1 ms TTL: the record is older, swept; the key is new again.
    r.config.idempotency_ttl = Duration::from_millis(1);
    r.tick().unwrap();
    assert_eq!(
        begin("k1"),
        cove_store::IdempotencyBegin::Started,
        "the expired record was not swept"
    );
    // Not due again before `sweep_every`.
    finish("k1");
    r.config.sweep_every = Duration::from_secs(3600);
    std::thread::sleep(Duration::from_millis(20));
    r.tick().unwrap();
    assert!(replayed("k1"), "swept before sweep_every passed");
}

#[test]
fn idempotency_records_older_than_their_ttl_are_swept_sqlite() {
    idempotency_records_are_swept(cove_testdb::TestDb::sqlite());
}

#[test]
fn idempotency_records_older_than_their_ttl_are_swept_postgres() {
    idempotency_records_are_swept(cove_testdb::TestDb::postgres_blocking());
}

/// A tenant with two networks in the store (the pool, the tenant, `web` and `db`
/// with non-overlapping blocks) and a pending peering request from `web` to `db`,
/// all at time `now`; the reconciler has applied them and is in sync.
fn two_networks_and_a_request(
    r: &mut Reconciler<ModelKernel>,
    now: u64,
) -> (cove_control::TenantId, cove_control::PeeringView) {
    let store = r.deployment().store().clone();
    let env = |n: u8| cove_control::Env {
        now: cove_control::UnixTime(now),
        random: [n; 32],
    };
    let admin = cove_control::Actor::Admin {
        token: cove_control::TokenId("tok-admin".into()),
    };
    let pool =
        cove_control::set_ip_pool(&control(&store), &admin, &["203.0.113.0/28".into()]).unwrap();
    commit(&store, &pool.changes);
    let tenant = cove_control::create_tenant(
        &control(&store),
        &admin,
        &env(1),
        cove_control::CreateTenant {
            name: Some("acme".into()),
            quotas: None,
        },
    )
    .unwrap();
    commit(&store, &tenant.changes);
    let t = tenant.value.id.clone();
    let mut vpcs = Vec::new();
    for (i, (name, cidr)) in [("web", "10.10.0.0/16"), ("db", "10.20.0.0/16")]
        .into_iter()
        .enumerate()
    {
        let net = cove_control::create_network(
            &control(&store),
            &t,
            &env(2 + u8::try_from(i).unwrap()),
            cove_control::CreateNetwork {
                name: Some(name.into()),
                cidr: Some(cidr.into()),
                region: Some("us-east-1".into()),
                ..Default::default()
            },
            &cove_model::spec::TenantSpec::default(),
        )
        .unwrap();
        commit(&store, &net.changes);
        vpcs.push(net.value.vpc_id.clone());
    }
    let p = cove_control::request_peering(
        &control(&store),
        &t,
        &env(9),
        cove_control::RequestPeering {
            vpc_id: Some(vpcs[0].clone()),
            peer_vpc_id: Some(vpcs[1].clone()),
            peer_owner_id: None,
            tags: None,
        },
    )
    .unwrap();
    commit(&store, &p.changes);
    assert_eq!(
        p.value.status,
        cove_control::PeeringStatus::PendingAcceptance
    );
    in_sync(r);
    (t, p.value)
}

/// Ticks until the reconciler is in sync (a hang guard of 10 ticks).
/// Records the shipped example as the operator's spec.
pub(super) fn set_example(r: &Reconciler<ModelKernel>) {
    let text = std::fs::read_to_string(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/secure-compute.yaml"),
    )
    .unwrap();
    let d = r.deployment();
    let lock = d.lock("test").unwrap();
    d.set_spec(&lock, std::path::Path::new("spec.yaml"), &text)
        .unwrap();
}

pub(super) fn in_sync(r: &mut Reconciler<ModelKernel>) {
    for _ in 0..10 {
        if r.tick().unwrap() == Tick::InSync {
            return;
        }
    }
    panic!("not in sync after 10 ticks");
}

fn peering_status(
    store: &crate::store::Store,
    id: &cove_control::PeeringId,
) -> cove_control::PeeringStatus {
    control(store).peerings[id].status
}

/// A pending request whose time is up is expired by the leader even when nothing
/// else changes (no reconcile would record it), not before its time; the clock is
/// the test's, set a second before and at the expiry.
#[test]
fn a_pending_request_expires_on_a_quiet_store() {
    let state = tempfile::tempdir().unwrap();
    let now = Arc::new(std::sync::atomic::AtomicU64::new(1_000));
    let clock = now.clone();
    let mut r =
        reconciler("a", state.path()).with_clock(Arc::new(move || clock.load(Ordering::Relaxed)));
    let (_, p) = two_networks_and_a_request(&mut r, 1_000);
    let store = r.deployment().store().clone();
    let expires = p.expires_at.expect("a pending request expires").0;
    assert_eq!(
        expires,
        1_000 + cove_control::peering::PENDING_LIFETIME_SECS
    );
    now.store(expires - 1, Ordering::Relaxed);
    assert_eq!(r.tick().unwrap(), Tick::InSync);
    assert_eq!(
        peering_status(&store, &p.id),
        cove_control::PeeringStatus::PendingAcceptance
    );
    let before = r.deployment().generations().unwrap();
    now.store(expires, Ordering::Relaxed);
    r.tick().unwrap();
    assert_eq!(
        peering_status(&store, &p.id),
        cove_control::PeeringStatus::Expired
    );
    assert!(r.deployment().generations().unwrap().desired > before.desired);
    in_sync(&mut r);
    // Two days later AWS no longer shows it: removed from the store.
    now.store(
        expires + cove_control::lifecycle::FINAL_KEPT_SECS,
        Ordering::Relaxed,
    );
    r.tick().unwrap();
    assert!(!control(&store).peerings.contains_key(&p.id));
}

/// A peering accepted but not yet provisioned (`provisioning`: the reconciler has
/// not applied it) can be deleted; the reconciler then never makes it `active`
/// and the kernel stays as it was while it was pending (no routes over it).
#[test]
fn a_provisioning_peering_deleted_never_reaches_the_kernel() {
    let state = tempfile::tempdir().unwrap();
    let mut r = reconciler("a", state.path());
    let now = cove_control::UnixTime(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    );
    let (t, p) = two_networks_and_a_request(&mut r, now.0);
    let store = r.deployment().store().clone();
    let pending_kernel = r.deployment().kernel().state.borrow().clone();
    let env = cove_control::Env {
        now,
        random: [0; 32],
    };
    let accepted = cove_control::accept_peering(&control(&store), &t, &env, &p.id).unwrap();
    commit(&store, &accepted.changes);
    assert_eq!(
        peering_status(&store, &p.id),
        cove_control::PeeringStatus::Provisioning
    );
    let deleted = cove_control::delete_peering(&control(&store), &t, &env, &p.id).unwrap();
    commit(&store, &deleted.changes);
    in_sync(&mut r);
    assert_eq!(
        peering_status(&store, &p.id),
        cove_control::PeeringStatus::Deleted
    );
    assert!(
        *r.deployment().kernel().state.borrow() == pending_kernel,
        "the kernel changed for a peering deleted before it was provisioned"
    );
    // Accepted and applied (active), then deleted: its routes go again.
    let p2 = cove_control::request_peering(
        &control(&store),
        &t,
        &env,
        cove_control::RequestPeering {
            vpc_id: Some(p.requester.vpc_id.clone()),
            peer_vpc_id: Some(p.accepter.vpc_id.clone()),
            peer_owner_id: None,
            tags: None,
        },
    )
    .unwrap();
    commit(&store, &p2.changes);
    in_sync(&mut r);
    let accepted = cove_control::accept_peering(&control(&store), &t, &env, &p2.value.id).unwrap();
    commit(&store, &accepted.changes);
    in_sync(&mut r);
    assert_eq!(
        peering_status(&store, &p2.value.id),
        cove_control::PeeringStatus::Active
    );
    assert!(*r.deployment().kernel().state.borrow() != pending_kernel);
    let deleted = cove_control::delete_peering(&control(&store), &t, &env, &p2.value.id).unwrap();
    commit(&store, &deleted.changes);
    in_sync(&mut r);
    assert!(*r.deployment().kernel().state.borrow() == pending_kernel);
}

/// A tenant function's `sha256:` code becomes its uploaded snapshot in the code
/// store; code the tenant did not upload (another tenant did) is never run: the
/// function is left out of the desired spec.
#[test]
fn a_tenant_runs_only_code_it_uploaded() {
    let state = tempfile::tempdir().unwrap();
    let r = reconciler("code", state.path());
    let env = cove_control::Env {
        now: cove_control::UnixTime(1_000),
        random: [7; 32],
    };
    let admin = cove_control::Actor::Admin {
        token: cove_control::TokenId("tok-admin".into()),
    };
    let store = r.deployment().store().clone();
    let pool =
        cove_control::set_ip_pool(&control(&store), &admin, &["203.0.113.0/28".into()]).unwrap();
    commit(&store, &pool.changes);
    let mut tenants = Vec::new();
    for (i, name) in ["acme", "evil"].into_iter().enumerate() {
        let t = cove_control::create_tenant(
            &control(&store),
            &admin,
            &cove_control::Env {
                random: [10 + u8::try_from(i).unwrap(); 32],
                ..env
            },
            cove_control::CreateTenant {
                name: Some(name.into()),
                quotas: None,
            },
        )
        .unwrap();
        commit(&store, &t.changes);
        tenants.push(t.value.id);
    }
    let net = cove_control::create_network(
        &control(&store),
        &tenants[0],
        &cove_control::Env {
            random: [8; 32],
            ..env
        },
        cove_control::CreateNetwork {
            name: Some("web".into()),
            region: Some("us-east-1".into()),
            ..Default::default()
        },
        &cove_model::spec::TenantSpec::default(),
    )
    .unwrap();
    commit(&store, &net.changes);
    let (mine, theirs) = ("a".repeat(64), "b".repeat(64));
    let function = |name: &str, hex: &str| cove_model::spec::FunctionSpec {
        name: name.into(),
        runtime: "python3.11".into(),
        handler: "app.handler".into(),
        code: format!("sha256:{hex}"),
        subnets: vec!["private-a".into()],
        ..Default::default()
    };
    let spec = cove_model::spec::TenantSpec {
        name: "acme".into(),
        vpcs: vec![cove_model::spec::VpcSpec {
            name: net.value.id.0.clone(),
            functions: vec![function("own", &mine), function("stolen", &theirs)],
            ..Default::default()
        }],
        ..Default::default()
    };
    let upload = |tenant: &cove_control::TenantId, hex: &str| {
        crate::store::control_docs::upload_op(
            tenant,
            &crate::store::control_docs::Upload {
                sha256: hex.to_owned(),
                size: 1,
                zip_size: 1,
                zip_sha256: None,
                uploaded_at: cove_control::UnixTime(1),
            },
        )
        .unwrap()
    };
    let ops = vec![
        cove_store::DocOp::put(
            cove_store::DocId::new("spec", Some(tenants[0].as_str()), "spec"),
            &spec,
        )
        .unwrap(),
        upload(&tenants[0], &mine),
        upload(&tenants[1], &theirs),
    ];
    let snapshot = store.snapshot().unwrap();
    store
        .block_on(store.database().change(
            &cove_store::ChangeMeta::default(),
            Some(snapshot.generation),
            &ops,
        ))
        .unwrap();
    let code_store = std::path::Path::new("/state/p/code");
    let desired = crate::desired::control_spec(&store.snapshot().unwrap(), code_store)
        .unwrap()
        .expect("a desired spec");
    let functions: Vec<(String, String)> = desired
        .tenants
        .iter()
        .flat_map(|t| &t.vpcs)
        .flat_map(|v| &v.functions)
        .map(|f| (f.name.clone(), f.code.clone()))
        .collect();
    assert_eq!(
        functions,
        [("own".to_owned(), format!("/state/p/code/{mine}"))]
    );
}
