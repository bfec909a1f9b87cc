//! Every plan converges: from an empty host, from a host where parts are missing
//! (a namespace, one end of a link, an address, a route, a rule, a firewall table),
//! and from the state of a different network (a spec change), applying the plan to
//! the model kernel (`simulate`) gives exactly the desired state, and planning again
//! gives nothing to do.

use cove_model::validate::validate;
use cove_plan::simulate::{delete_namespace, simulate};
use cove_plan::{HostState, desired, diff};
use cove_testgen::{SplitMix64, add_functions, random_network, random_network_overlapping};

fn as_observed(s: &HostState) -> HostState {
    let mut o = s.clone();
    o.veths.clear();
    o
}

fn layout(seed: u64) -> HostState {
    let mut spec = random_network(seed);
    add_functions(&mut spec, seed);
    let net = validate(&spec)
        .network
        .expect("generated networks are valid");
    desired(&net, "t").expect("layout")
}

/// Plans from `kernel` (which keeps its veth pairs, as the kernel does) to `want`,
/// applies the plan to the model kernel and checks convergence.
fn converges(kernel: &HostState, want: &HostState, what: &str) {
    let plan = diff(&as_observed(kernel), want);
    let after = simulate(kernel.clone(), &plan).unwrap_or_else(|e| panic!("{what}: {e}\n{plan}"));
    assert_eq!(after, as_observed(want), "{what}:\n{plan}");
    let again = diff(&after, want);
    assert!(again.is_empty(), "{what}: second plan not empty:\n{again}");
}

#[test]
fn overlapping_vpcs_from_empty_host_and_to_each_other() {
    let mut previous = HostState::default();
    for seed in 0..100 {
        let net = validate(&random_network_overlapping(seed))
            .network
            .expect("generated networks are valid");
        let want = desired(&net, "t").expect("layout");
        converges(&HostState::default(), &want, &format!("seed {seed}"));
        converges(
            &previous,
            &want,
            &format!("seed {seed} after the previous one"),
        );
        previous = want;
    }
}

#[test]
fn from_empty_host() {
    for seed in 0..100 {
        converges(
            &HostState::default(),
            &layout(seed),
            &format!("seed {seed}"),
        );
    }
}

#[test]
fn from_partly_missing_state() {
    let mut rng = SplitMix64::new(99);
    for seed in 0..100 {
        let want = layout(seed);
        let mut kernel = want.clone();
        let names: Vec<String> = kernel.namespaces.keys().cloned().collect();
        for _ in 0..3 {
            let ns = &names[rng.index(names.len())];
            match rng.below(6) {
                0 => {
                    delete_namespace(&mut kernel, ns);
                }
                1 => {
                    if let Some(n) = kernel.namespaces.get_mut(ns) {
                        n.nft = None;
                    }
                }
                2 => {
                    if let Some(n) = kernel.namespaces.get_mut(ns) {
                        let first = n.routes.iter().next().copied();
                        if let Some(r) = first {
                            n.routes.remove(&r);
                        }
                    }
                }
                3 => {
                    if let Some(n) = kernel.namespaces.get_mut(ns) {
                        let first = n.rules.iter().next().copied();
                        if let Some(r) = first {
                            n.rules.remove(&r);
                        }
                    }
                }
                4 => {
                    if let Some(n) = kernel.namespaces.get_mut(ns) {
                        let first = n.addresses.iter().next().copied();
                        if let Some(a) = first {
                            n.addresses.remove(&a);
                        }
                    }
                }
                _ => {
                    if let Some(n) = kernel.namespaces.get_mut(ns) {
                        n.forwarding = !n.forwarding;
                    }
                }
            }
        }
        converges(&kernel, &want, &format!("seed {seed}"));
    }
}

#[test]
fn from_another_network() {
    for seed in 0..60 {
        let before = layout(seed);
        let after = layout(seed + 1000);
        converges(&before, &after, &format!("seed {seed} -> {}", seed + 1000));
    }
}

#[test]
fn from_everything_to_nothing() {
    let before = layout(7);
    let plan = diff(&as_observed(&before), &HostState::default());
    assert!(
        plan.ops
            .iter()
            .all(|op| matches!(op, cove_plan::Op::DeleteNamespace { .. }))
    );
    assert_eq!(plan.ops.len(), before.namespaces.len());
}
