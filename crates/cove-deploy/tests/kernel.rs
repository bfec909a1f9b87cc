//! The workflow against this host's kernel: generations, idempotent reconciles, a
//! stale plan refused before it touches anything, functions' slots attached and
//! removed, destroy leaving nothing. Privileged (root; `CI=true` must not skip).

use std::path::PathBuf;
use std::time::Duration;

use cove_deploy::{DeployError, Deployment, Generation, Kernel as _, Prefix, Stamp, Target};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/secure-compute.yaml")
}

/// A deployment under a unique `cvde…` prefix, destroyed when dropped (also when
/// the test fails).
struct Fixture {
    deployment: Deployment,
    _state: tempfile::TempDir,
}

impl Fixture {
    fn new(tag: &str) -> Fixture {
        let state = tempfile::tempdir().expect("state dir");
        let prefix = format!("cvde{tag}{}", std::process::id() % 10_000);
        let target = Target::new(
            Prefix::new(&prefix).expect("prefix"),
            state.path().to_owned(),
            Duration::from_secs(30),
        );
        Fixture {
            deployment: Deployment::open(target).expect("open"),
            _state: state,
        }
    }

    fn namespaces(&self) -> Vec<String> {
        let mine = format!("{}-", self.deployment.target().prefix());
        std::fs::read_dir(cove_host::NETNS_DIR)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(&mine))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Ok(lock) = self.deployment.lock("cleanup") {
            let _ = self.deployment.destroy(&lock);
        }
    }
}

fn example_text() -> String {
    std::fs::read_to_string(example()).expect("example")
}

#[test]
fn reconcile_is_idempotent_and_refuses_a_stale_plan() {
    if !cove_probe::privileged("reconcile_is_idempotent_and_refuses_a_stale_plan") {
        return;
    }
    let f = Fixture::new("r");
    let d = &f.deployment;
    let lock = d.lock("test").expect("lock");
    assert_eq!(
        d.set_spec(&lock, &example(), &example_text())
            .expect("spec")
            .generation,
        Generation(1)
    );
    let first = d.reconcile(&lock).expect("reconcile");
    assert!(first.changes > 0);
    assert_eq!(first.namespaces, f.namespaces().len());
    let observed = d.kernel().observe().expect("observe");
    // The same state again: no generation, nothing to do, the kernel as it was.
    assert_eq!(
        d.set_spec(&lock, &example(), &example_text())
            .expect("spec")
            .generation,
        Generation(1)
    );
    let second = d.reconcile(&lock).expect("reconcile");
    assert_eq!((second.changes, second.generation), (0, Generation(1)));
    assert_eq!(d.kernel().observe().expect("observe"), observed);

    // Two interleaved changes: a plan for generation 2 (a new subnet), then a third
    // change (the subnet removed again) before the plan is applied.
    let with_subnet = example_text().replacen(
        "        subnets:\n",
        "        subnets:\n          - { name: extra, cidr: 10.20.99.0/24, az: us-east-1a }\n",
        1,
    );
    let spec_b = f._state.path().join("b.yaml");
    std::fs::write(&spec_b, &with_subnet).expect("write");
    d.set_spec(&lock, &spec_b, &with_subnet).expect("spec b");
    let stale = d.plan().expect("plan");
    assert_eq!(stale.stamp, Stamp::Generation(Generation(2)));
    d.set_spec(&lock, &example(), &example_text())
        .expect("spec a");
    let e = d.apply(&lock, &stale).expect_err("a stale plan");
    assert!(
        matches!(
            e,
            DeployError::StalePlan {
                planned: Generation(2),
                desired: Generation(3),
                ..
            }
        ),
        "{e:?}"
    );
    // Refused before anything changed: the kernel still holds generation 1's state.
    assert_eq!(d.kernel().observe().expect("observe"), observed);
    assert_eq!(d.generations().expect("generations").applied, Generation(1));
    let third = d.reconcile(&lock).expect("reconcile");
    assert_eq!((third.changes, third.generation), (0, Generation(3)));

    let destroyed = d.destroy(&lock).expect("destroy");
    assert_eq!(destroyed.namespaces, observed.namespaces.len());
    assert!(f.namespaces().is_empty(), "{:?}", f.namespaces());
    assert!(d.network().expect("state").is_none());
}

#[test]
fn deploying_a_function_attaches_its_slots_and_deleting_it_removes_them() {
    if !cove_probe::privileged(
        "deploying_a_function_attaches_its_slots_and_deleting_it_removes_them",
    ) {
        return;
    }
    let f = Fixture::new("f");
    let d = &f.deployment;
    let lock = d.lock("test").expect("lock");
    d.set_spec(&lock, &example(), &example_text())
        .expect("spec");
    d.reconcile(&lock).expect("reconcile");
    let before = f.namespaces().len();
    let code = cove_deploy::code::snapshot_given(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/functions/orders"),
        &d.target().code_store(),
    )
    .expect("code");
    let function = cove_model::spec::DeployedFunction {
        vpc: "platform/functions".into(),
        function: cove_model::spec::FunctionSpec {
            name: "orders".into(),
            runtime: "python3.11".into(),
            handler: "app.handler".into(),
            code: code.dir.display().to_string(),
            subnets: vec!["private-a".into(), "private-b".into()],
            concurrency: Some(cove_model::spec::Scalar::Int(3)),
            ..Default::default()
        },
    };
    let change = d.deploy_function(&lock, function).expect("deploy");
    assert_eq!(change.generation, Generation(2));
    let applied = d.reconcile(&lock).expect("reconcile");
    assert_eq!(applied.generation, Generation(2));
    assert_eq!(f.namespaces().len(), before + 3, "one namespace per slot");
    let functions = d.functions().expect("functions");
    assert_eq!(functions.len(), 1);
    assert_eq!(functions[0].code, code);
    d.delete_function(&lock, "orders", None).expect("delete");
    let applied = d.reconcile(&lock).expect("reconcile");
    assert_eq!(applied.generation, Generation(3));
    assert_eq!(f.namespaces().len(), before);
}
