#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use super::*;

use crate::test_kernel::ModelKernel;

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/secure-compute.yaml")
}

fn deployment() -> (tempfile::TempDir, Deployment<ModelKernel>) {
    let state = tempfile::tempdir().unwrap();
    let target = Target::new(
        crate::Prefix::new("cvdeu").unwrap(),
        state.path().to_owned(),
        Duration::ZERO,
    );
    (
        state,
        Deployment::with_kernel(target, ModelKernel::default()).unwrap(),
    )
}

fn example_text() -> String {
    std::fs::read_to_string(example()).unwrap()
}

/// The example with one more subnet: a different desired state.
fn example_b() -> String {
    example_text().replacen(
        "        subnets:\n",
        "        subnets:\n          - { name: extra, cidr: 10.20.99.0/24, az: us-east-1a }\n",
        1,
    )
}

#[test]
fn applying_the_same_state_twice_changes_nothing() {
    let (_state, d) = deployment();
    let lock = d.lock("test").unwrap();
    let change = d.set_spec(&lock, &example(), &example_text()).unwrap();
    assert_eq!(change.generation, Generation(1));
    let first = d.reconcile(&lock).unwrap();
    assert!(first.changes > 0);
    assert_eq!(first.generation, Generation(1));
    let audit = |d: &Deployment<ModelKernel>| {
        let db = d.store().database();
        d.store()
            .block_on(db.audit(cove_store::Generation::ZERO, 100))
            .unwrap()
            .len()
    };
    let before = audit(&d);
    // The same spec again: no new generation, an empty plan, nothing applied.
    let again = d.set_spec(&lock, &example(), &example_text()).unwrap();
    assert_eq!(again.generation, Generation(1));
    let second = d.reconcile(&lock).unwrap();
    assert_eq!(second.changes, 0);
    assert_eq!(d.kernel().applied.borrow().as_slice(), &[first.changes]);
    // No new change in the store.
    assert_eq!(audit(&d), before);
    assert_eq!(
        d.generations().unwrap(),
        Generations {
            desired: Generation(1),
            applied: Generation(1)
        }
    );
}

#[test]
fn a_plan_for_an_older_generation_is_refused() {
    let (_state, d) = deployment();
    let lock = d.lock("test").unwrap();
    d.set_spec(&lock, &example(), &example_text()).unwrap();
    // Two interleaved changes: a plan is made for generation 1, then the desired
    // state changes to generation 2 before the plan is applied.
    let stale = d.plan().unwrap();
    assert_eq!(stale.stamp, Stamp::Generation(Generation(1)));
    let change = d.set_spec(&lock, &example(), &example_b()).unwrap();
    assert_eq!(change.generation, Generation(2));
    let e = d.apply(&lock, &stale).unwrap_err();
    assert!(
        matches!(
            e,
            DeployError::StalePlan {
                planned: Generation(1),
                desired: Generation(2),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(d.kernel().applied.borrow().is_empty(), "the stale plan ran");
    assert_eq!(d.generations().unwrap().applied, Generation(0));
    // A fresh plan is for generation 2 and applies.
    let fresh = d.plan().unwrap();
    assert_eq!(fresh.stamp, Stamp::Generation(Generation(2)));
    assert_eq!(d.apply(&lock, &fresh).unwrap().generation, Generation(2));
    assert_eq!(d.generations().unwrap().applied, Generation(2));
}

#[test]
fn a_preview_is_never_applied() {
    let (_state, d) = deployment();
    let lock = d.lock("test").unwrap();
    let net = d.validate_spec(&example(), &example_text()).unwrap();
    let preview = d.preview(net).unwrap();
    assert!(!preview.changes.is_empty());
    assert!(matches!(
        d.apply(&lock, &preview),
        Err(DeployError::PreviewPlan { .. })
    ));
    // Nothing was recorded either.
    assert_eq!(d.generations().unwrap(), Generations::default());
    assert!(d.network().unwrap().is_none());
}

#[test]
fn destroy_forgets_the_state_and_outdates_older_plans() {
    let (_state, d) = deployment();
    let lock = d.lock("test").unwrap();
    d.set_spec(&lock, &example(), &example_text()).unwrap();
    d.reconcile(&lock).unwrap();
    let before = d.plan().unwrap();
    let destroyed = d.destroy(&lock).unwrap();
    assert!(destroyed.namespaces > 0);
    assert!(d.network().unwrap().is_none());
    assert!(matches!(
        d.apply(&lock, &before),
        Err(DeployError::StalePlan { .. })
    ));
}

#[test]
fn deploying_and_deleting_functions_are_changes() {
    let (_state, d) = deployment();
    let lock = d.lock("test").unwrap();
    // Functions attach to an applied VPC.
    let function = |memory: i64| cove_model::spec::DeployedFunction {
        vpc: "platform/functions".into(),
        function: cove_model::spec::FunctionSpec {
            name: "orders".into(),
            runtime: "python3.11".into(),
            handler: "app.handler".into(),
            code: PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../examples/functions/orders")
                .display()
                .to_string(),
            memory: Some(cove_model::spec::Scalar::Int(memory)),
            subnets: vec!["private-a".into()],
            concurrency: Some(cove_model::spec::Scalar::Int(2)),
            ..Default::default()
        },
    };
    assert!(matches!(
        d.deploy_function(&lock, function(128)),
        Err(DeployError::NothingApplied { .. })
    ));
    d.set_spec(&lock, &example(), &example_text()).unwrap();
    d.reconcile(&lock).unwrap();
    let deployed = d.deploy_function(&lock, function(128)).unwrap();
    assert_eq!(deployed.generation, Generation(2));
    let applied = d.reconcile(&lock).unwrap();
    assert!(applied.changes > 0, "the slots are attached");
    assert_eq!(d.functions().unwrap().len(), 1);
    // An update of the same function replaces it (a new generation, no new slots).
    let updated = d.deploy_function(&lock, function(256)).unwrap();
    assert_eq!(updated.generation, Generation(3));
    assert_eq!(d.reconcile(&lock).unwrap().changes, 0);
    assert_eq!(d.functions().unwrap()[0].memory_mb, 256);
    // Deleting it is a change; deleting it again is ResourceNotFoundException.
    assert_eq!(
        d.delete_function(&lock, "orders", None).unwrap().generation,
        Generation(4)
    );
    assert!(d.reconcile(&lock).unwrap().changes > 0);
    let e = d.delete_function(&lock, "orders", None).unwrap_err();
    assert!(e.to_string().contains("ResourceNotFoundException"), "{e}");
    assert!(d.functions().unwrap().is_empty());
}

#[test]
fn errors_name_only_the_functions_they_are_about() {
    let error = |path: &str| {
        cove_model::Diagnostic::error(
            cove_model::diag::ErrorCode::LambdaInvalidParameterValue,
            path,
            "m",
            "h",
        )
    };
    let diags = [
        error("tenants[p].vpcs[v].functions[rb].runtime"),
        error("tenants[p].vpcs[v].functions[rb].handler"),
        error("tenants[p].vpcs[v].subnets[a].cidr"),
    ];
    assert_eq!(functions_in_errors(&diags), ["rb"]);
    assert!(functions_in_errors(&diags[2..]).is_empty());
}

/// Property: any sequence of desired states, each recorded and reconciled on the
/// model kernel, leaves the kernel exactly as reconciling the last one from scratch
/// (random networks of `cove-testgen`; 24 sequences of 2–5 states, the same
/// seeds every run).
#[test]
fn any_sequence_of_changes_converges_to_the_last_state_from_scratch() {
    let mut rng = cove_testgen::SplitMix64::new(0x5eed_0010);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("spec.yaml");
    for case in 0..24 {
        let steps = 2 + rng.index(4);
        let (_s1, d) = deployment();
        let lock = d.lock("test").unwrap();
        let mut last = String::new();
        for _ in 0..steps {
            let spec = cove_testgen::random_network(rng.next_u64());
            last = serde_saphyr::to_string(&spec).unwrap();
            d.set_spec(&lock, &file, &last).unwrap();
            d.reconcile(&lock).unwrap();
        }
        let (_s2, fresh) = deployment();
        let fresh_lock = fresh.lock("test").unwrap();
        fresh.set_spec(&fresh_lock, &file, &last).unwrap();
        fresh.reconcile(&fresh_lock).unwrap();
        assert_eq!(
            *d.kernel().state.borrow(),
            *fresh.kernel().state.borrow(),
            "case {case}: {steps} changes do not end where the last state from scratch does"
        );
        // And nothing is left to do.
        assert!(d.plan().unwrap().changes.is_empty(), "case {case}");
    }
}
