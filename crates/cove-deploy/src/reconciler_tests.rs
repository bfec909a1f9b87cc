#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use super::*;
use crate::test_kernel::ModelKernel;

fn reconciler(holder: &str, state: &std::path::Path) -> Reconciler<ModelKernel> {
    let target = crate::Target::new(
        crate::Prefix::new("cvrecn").unwrap(),
        state.to_owned(),
        Duration::ZERO,
    );
    let d = Deployment::with_kernel(target, ModelKernel::default()).unwrap();
    Reconciler::new(
        d,
        ReconcilerConfig {
            holder: holder.to_owned(),
            lease_ttl: Duration::from_secs(60),
            poll: Duration::from_millis(10),
            drift_every: Duration::ZERO,
        },
    )
}

/// Writes the control plane's `changes` as the API does (one change).
fn commit(store: &crate::store::Store, changes: &[cove_control::Change]) {
    let snapshot = store.snapshot().unwrap();
    let ops = control_ops(&snapshot, changes);
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
    crate::store::docs::control_from_snapshot(&store.snapshot().unwrap())
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
    let v = crate::desired::validate_desired(Some("tenants:\n  - name: acme\n"), &[], Some(spec))
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
    let text = std::fs::read_to_string(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/secure-compute.yaml"),
    )
    .unwrap();
    {
        let d = r.deployment();
        let lock = d.lock("test").unwrap();
        d.set_spec(&lock, std::path::Path::new("spec.yaml"), &text)
            .unwrap();
    }
    let tick = r.tick().unwrap();
    assert!(
        matches!(tick, Tick::Applied { ops, .. } if ops > 0),
        "{tick:?}"
    );
    let g = r.deployment().generations().unwrap();
    assert_eq!(g.applied, g.desired);
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
        cove_store::DocOp::put(
            cove_store::DocId::new(crate::desired::UPLOAD_KIND, Some(tenant.as_str()), hex),
            &serde_json::json!({ "sha256": hex }),
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
