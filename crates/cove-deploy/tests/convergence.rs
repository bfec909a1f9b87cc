//! On the real kernel: a sequence of desired states, each reconciled, leaves the
//! kernel (as observed) exactly as reconciling the last state from scratch does.
//! Privileged (root; `CI=true` must not skip).

use std::path::PathBuf;
use std::time::Duration;

use cove_deploy::{Deployment, Kernel as _, Prefix, Target};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/secure-compute.yaml")
}

/// A deployment under a unique `cvre…` prefix, destroyed when dropped.
struct Fixture {
    deployment: Deployment,
    _state: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let state = tempfile::tempdir().expect("state dir");
        let prefix = format!("cvrecv{}", std::process::id() % 100_000);
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
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Ok(lock) = self.deployment.lock("cleanup") {
            let _ = self.deployment.destroy(&lock);
        }
    }
}

/// `observed` without the MACs the kernel chose (where cove lets it choose, the
/// desired layout has none: they differ with every link made).
fn chosen_by_cove(d: &Deployment, mut observed: cove_plan::HostState) -> cove_plan::HostState {
    let net = d.network().expect("state").expect("a network");
    let layout = cove_plan::desired(&net, d.target().prefix().as_str()).expect("layout");
    for (name, ns) in &mut observed.namespaces {
        for (link, settings) in &mut ns.link_settings {
            let wanted = layout
                .namespaces
                .get(name)
                .and_then(|n| n.link_settings.get(link))
                .and_then(|s| s.mac);
            if wanted.is_none() {
                settings.mac = None;
            }
        }
    }
    observed
}

#[test]
fn a_sequence_of_changes_ends_where_the_last_state_from_scratch_does() {
    if !cove_probe::privileged("a_sequence_of_changes_ends_where_the_last_state_from_scratch_does")
    {
        return;
    }
    let f = Fixture::new();
    let d = &f.deployment;
    let dir = f._state.path();
    let example_text = std::fs::read_to_string(example()).expect("example");
    let with_subnet = example_text.replacen(
        "        subnets:\n",
        "        subnets:\n          - { name: extra, cidr: 10.20.99.0/24, az: us-east-1a }\n",
        1,
    );
    let flat = serde_saphyr::to_string(&cove_testgen::flat_vpc(6, 4, None)).expect("yaml");
    let random = serde_saphyr::to_string(&cove_testgen::random_network(7)).expect("yaml");
    let sequence = [
        &example_text,
        &flat,
        &with_subnet,
        &random,
        &example_text,
        &with_subnet,
    ];
    let lock = d.lock("test").expect("lock");
    let file = dir.join("spec.yaml");
    for (i, text) in sequence.iter().enumerate() {
        d.set_spec(&lock, &file, text)
            .unwrap_or_else(|e| panic!("step {i}: {e}"));
        d.reconcile(&lock)
            .unwrap_or_else(|e| panic!("step {i}: {e}"));
    }
    let after_sequence = chosen_by_cove(d, d.kernel().observe().expect("observe"));
    d.destroy(&lock).expect("destroy");
    d.set_spec(&lock, &file, sequence[sequence.len() - 1])
        .expect("spec");
    d.reconcile(&lock).expect("from scratch");
    let from_scratch = chosen_by_cove(d, d.kernel().observe().expect("observe"));
    assert_eq!(after_sequence, from_scratch);
}
