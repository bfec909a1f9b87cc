//! Any sequence of API operations, applied and reconciled, gives the same kernel
//! state as applying the final desired state from scratch (issue 10's property),
//! on the model kernel (`cove_plan::simulate`): random control-plane commands from
//! three tenants (networks created, renamed, deleted; peerings requested,
//! accepted, rejected, deleted, expired; tenants' specs put) through cove-control's
//! decisions; after each, the desired spec (`desired_spec`) is laid out
//! (`cove_plan::desired`), diffed against the model host and the plan applied, as
//! the reconciler does, and what the kernel was waiting for is completed; a second
//! model host only ever gets the diffs between successive desired states. At the
//! end both hosts equal the final desired state applied to an empty host, and a
//! further diff is empty.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::World;
use common::ops::{CIDRS, Op, TENANTS, op, run};
use cove_control::*;
use cove_model::spec::TenantSpec;
use cove_plan::state::HostState;
use proptest::prelude::*;

/// The kernel objects' prefix (the planner names namespaces with it).
const PREFIX: &str = "cvhdpk";

/// The desired host state of the control plane's state and the tenants' specs.
fn desired_host(state: &ControlState, specs: &BTreeMap<TenantId, TenantSpec>) -> HostState {
    let spec = desired_spec(state, specs);
    let v = cove_model::validate::validate(&spec);
    let errors: Vec<String> = v.errors().map(|d| format!("{d:?}")).collect();
    let net = v
        .network
        .unwrap_or_else(|| panic!("the desired spec is invalid: {errors:?}"));
    cove_plan::desired(&net, PREFIX).unwrap()
}

/// One reconcile of the model host to `want`: diff, then apply the plan.
fn reconcile(host: HostState, want: &HostState) -> HostState {
    let plan = cove_plan::diff(&host, want);
    cove_plan::simulate::simulate(host, &plan).unwrap_or_else(|e| panic!("the plan fails: {e}"))
}

/// The shared random commands, with more of what makes peerings come up: networks
/// with blocks of their own (no overlap), requests named by the accepter's account,
/// and accepting answers.
fn api_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => op(),
        2 => (0..TENANTS, 0..4usize, 1..=2usize).prop_map(|(t, name, azs)| Op::Create {
            t,
            name,
            cidr: Some(CIDRS.len() + name),
            azs,
        }),
        2 => (0..TENANTS, any::<usize>(), any::<usize>())
            .prop_map(|(t, from, to)| Op::Request { t, from, to, owner: 0 }),
        2 => any::<usize>().prop_map(|p| Op::Answer { p, accept: true }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_sequence_of_operations_reconciled_ends_as_the_final_state_from_scratch(
        ops in proptest::collection::vec(api_op(), 1..40),
        reconcile_every in 1..4usize,
    ) {
        let mut w = World::new();
        let tenants: Vec<TenantId> =
            (0..TENANTS).map(|i| w.tenant(&format!("tenant{i}"))).collect();
        let mut specs: BTreeMap<TenantId, TenantSpec> = BTreeMap::new();
        // `host`: reconciled as the reconciler does (the plan is the diff of what
        // the kernel has and what is desired). `stepped`: each plan is the diff of
        // the previous desired state and the next one, applied to a host that only
        // ever received those plans.
        let mut host = HostState::default();
        let mut stepped = HostState::default();
        let mut previous = HostState::default();
        let step = |host: HostState,
                    stepped: HostState,
                    previous: &mut HostState,
                    want: HostState| {
            let plan = cove_plan::diff(previous, &want);
            let stepped = cove_plan::simulate::simulate(stepped, &plan)
                .unwrap_or_else(|e| panic!("a plan between desired states fails: {e}"));
            *previous = want;
            (reconcile(host, previous), stepped)
        };
        for (i, o) in ops.iter().enumerate() {
            let _ = run(&mut w, &tenants, &mut specs, o);
            // The reconciler does not see every change: sometimes several at once.
            if i % reconcile_every == 0 {
                (host, stepped) = step(host, stepped, &mut previous, desired_host(&w.state, &specs));
                w.reconcile();
            }
        }
        // The last changes reconciled; what waited for the kernel completed (a
        // deleted network goes away), and reconciled again.
        (host, stepped) = step(host, stepped, &mut previous, desired_host(&w.state, &specs));
        w.reconcile();
        let want = desired_host(&w.state, &specs);
        (host, stepped) = step(host, stepped, &mut previous, want.clone());
        let scratch = reconcile(HostState::default(), &want);
        prop_assert_eq!(&host, &scratch);
        prop_assert_eq!(&stepped, &scratch);
        prop_assert!(cove_plan::diff(&host, &want).is_empty(), "still differs after convergence");
        prop_assert!(cove_plan::diff(&scratch, &want).is_empty());
    }
}
