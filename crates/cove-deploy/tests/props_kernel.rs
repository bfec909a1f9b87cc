//! Issue 10's property on the real kernel, with few cases: any sequence of API
//! operations, applied and reconciled, gives the same kernel state as applying the
//! final desired state from scratch.
//!
//! Random control-plane commands from three tenants (cove-control's property-test
//! commands, `crates/cove-control/tests/common/ops.rs`, without tenants' specs:
//! their functions need uploaded code) are decided purely; after each, the
//! documents are written to the store as the API writes them and the continuous
//! reconciler (`Reconciler`, on the real kernel) ticks until it is in sync, which
//! also records what the kernel was waiting for (`ready`, `active`, networks
//! removed), read back for the next command. At the end the kernel is observed,
//! everything is destroyed, the final documents are written at once to a fresh
//! store and reconciled from scratch: the kernel must be the same. Privileged
//! (root; `CI=true` must not skip); prefix `cvhdpk…`; the deployment is destroyed
//! when the test ends, also when it fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../cove-control/tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::World;
use common::ops::{CIDRS, Op, TENANTS, op, run};
use cove_control::{ControlState, TenantId};
use cove_deploy::{Deployment, Kernel as _, Prefix, Reconciler, ReconcilerConfig, Target, Tick};
use cove_model::spec::TenantSpec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// A deployment under the prefix `cvhdpk<pid>` with its own state directory,
/// destroyed (kernel objects and state) when dropped.
struct Fixture {
    reconciler: Reconciler<cove_deploy::HostKernel>,
    _state: tempfile::TempDir,
}

fn prefix() -> String {
    format!("cvhdpk{}", std::process::id() % 100_000)
}

impl Fixture {
    fn new() -> Fixture {
        let state = tempfile::tempdir().expect("state dir");
        let target = Target::new(
            Prefix::new(&prefix()).expect("prefix"),
            state.path().to_owned(),
            Duration::from_secs(30),
        );
        let deployment = Deployment::open(target).expect("open");
        let config = ReconcilerConfig {
            holder: "props".to_owned(),
            lease_ttl: Duration::from_secs(60),
            poll: Duration::from_millis(10),
            drift_every: Duration::ZERO,
            idempotency_ttl: cove_deploy::reconciler::IDEMPOTENCY_TTL,
            sweep_every: Duration::from_secs(3600),
            scale_every: Duration::from_secs(3600),
            shared_eni_connections: cove_deploy::shared_scale::SHARED_ENI_CONNECTIONS,
            failback_after: cove_deploy::failover::FAILBACK_AFTER,
            dns_upstreams: Vec::new(),
            dns_fast_path: true,
            objects_listen: None,
        };
        Fixture {
            reconciler: Reconciler::new(deployment, config),
            _state: state,
        }
    }

    fn deployment(&self) -> &Deployment {
        self.reconciler.deployment()
    }

    /// Writes `state`'s objects as the store's control documents (one change:
    /// what differs is put, what is gone deleted), as the API does.
    fn write(&self, state: &ControlState) {
        let store = self.deployment().store();
        let snapshot = store.snapshot().expect("snapshot");
        let mut ops = Vec::new();
        let mut kept = std::collections::BTreeSet::new();
        for obj in state.objects() {
            let key = obj.key();
            let id = cove_store::DocId::new(
                key.kind.as_str(),
                obj.tenant().map(|t| t.0.as_str()),
                key.key,
            );
            let body = obj.to_body().expect("json");
            let same = snapshot
                .documents
                .iter()
                .any(|d| d.id == id && d.body.get() == body.get());
            kept.insert(id.clone());
            if !same {
                ops.push(cove_store::DocOp::Put { id, body });
            }
        }
        for d in &snapshot.documents {
            if cove_control::Kind::from_name(&d.id.kind).is_some() && !kept.contains(&d.id) {
                ops.push(cove_store::DocOp::Delete { id: d.id.clone() });
            }
        }
        if ops.is_empty() {
            return;
        }
        let meta = cove_store::ChangeMeta {
            summary: "props_kernel".into(),
            ..Default::default()
        };
        store
            .block_on(
                store
                    .database()
                    .change(&meta, Some(snapshot.generation), &ops),
            )
            .expect("write the documents");
    }

    /// Ticks until in sync (a hang guard of 20 ticks).
    fn reconcile(&mut self) {
        for _ in 0..20 {
            match self.reconciler.tick().expect("tick") {
                Tick::InSync | Tick::Empty => return,
                _ => {}
            }
        }
        panic!("not in sync after 20 ticks");
    }

    /// The control plane's state as the store has it now.
    fn read(&self) -> ControlState {
        let snapshot = self.deployment().store().snapshot().expect("snapshot");
        cove_deploy::store::control_docs::control_from_snapshot(&snapshot)
            .expect("decode")
            .0
    }

    /// The kernel as observed, without the MACs the kernel chose.
    fn observed(&self) -> cove_plan::HostState {
        let d = self.deployment();
        let mut observed = d.kernel().observe().expect("observe");
        let layout = d
            .network()
            .expect("state")
            .map(|net| cove_plan::desired(&net, &prefix()).expect("layout"));
        for (name, ns) in &mut observed.namespaces {
            for (link, settings) in &mut ns.link_settings {
                let wanted = layout
                    .as_ref()
                    .and_then(|l| l.namespaces.get(name))
                    .and_then(|n| n.link_settings.get(link))
                    .and_then(|s| s.mac);
                if wanted.is_none() {
                    settings.mac = None;
                }
            }
        }
        observed
    }

    fn destroy(&self) {
        let d = self.deployment();
        if let Ok(lock) = d.lock("cleanup") {
            let _ = d.destroy(&lock);
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.destroy();
    }
}

/// The shared commands without tenants' specs, weighted towards peerings that
/// come up (networks with blocks of their own, accepted requests).
fn api_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => op().prop_filter("no tenant specs", |o| !matches!(o, Op::Spec { .. })),
        2 => (0..TENANTS, 0..3usize).prop_map(|(t, name)| Op::Create {
            t,
            name,
            cidr: Some(CIDRS.len() + name),
            azs: 1,
        }),
        2 => (0..TENANTS, any::<usize>(), any::<usize>())
            .prop_map(|(t, from, to)| Op::Request { t, from, to, owner: 0 }),
        2 => any::<usize>().prop_map(|p| Op::Answer { p, accept: true }),
    ]
}

fn case(ops: &[Op]) -> Result<(), TestCaseError> {
    // The sequence, each command reconciled; its deployment is destroyed at the
    // end of the block (the same prefix is used from scratch below).
    let (observed, last) = {
        let mut f = Fixture::new();
        let mut w = World::new();
        let tenants: Vec<TenantId> = (0..TENANTS)
            .map(|i| w.tenant(&format!("tenant{i}")))
            .collect();
        let mut specs: BTreeMap<TenantId, TenantSpec> = BTreeMap::new();
        f.write(&w.state);
        f.reconcile();
        // Every case starts with a network per tenant (blocks of their own), so
        // that the few cases have something to peer.
        let prelude: Vec<Op> = (0..TENANTS)
            .map(|t| Op::Create {
                t,
                name: t,
                cidr: Some(CIDRS.len() + t),
                azs: 1,
            })
            .collect();
        for o in prelude.iter().chain(ops) {
            let _ = run(&mut w, &tenants, &mut specs, o);
            f.write(&w.state);
            f.reconcile();
            // What the reconciler recorded (ready, active, removed) is the API's
            // state for the next command.
            w.state = f.read();
        }
        (f.observed(), w.state.clone())
    };
    let mut f = Fixture::new();
    f.write(&last);
    f.reconcile();
    let scratch = f.observed();
    prop_assert_eq!(&observed, &scratch, "ops: {:?}", ops);
    Ok(())
}

#[test]
fn any_sequence_of_api_operations_reconciled_on_the_kernel_ends_as_from_scratch() {
    if !cove_probe::privileged("any_sequence_of_api_operations_reconciled_on_the_kernel") {
        return;
    }
    let mut runner = TestRunner::new(Config {
        cases: 3,
        max_shrink_iters: 8,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&proptest::collection::vec(api_op(), 3..12), |ops| {
        case(&ops)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
