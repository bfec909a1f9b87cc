//! The reconciler's platform decisions on the kernel model: a second shared ENI
//! for a busy combination (issue 17) and NAT pair failover (issue 11).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use super::tests::{in_sync, reconciler, set_example};
use super::*;
use crate::test_kernel::ModelKernel;

/// A shared function ENI carrying more connections than the limit gets its
/// combination a second ENI with no command: recorded, applied, and the
/// function's environments spread over both; `cove destroy` forgets the record.
#[test]
fn a_busy_shared_eni_gets_a_second_one_for_its_combination() {
    let state = tempfile::tempdir().unwrap();
    let code = state.path().join("code");
    std::fs::create_dir(&code).unwrap();
    std::fs::write(
        code.join("app.py"),
        "def handler(event, context):\n    return 1\n",
    )
    .unwrap();
    let text = format!(
        "tenants:\n  - name: t\n    vpcs:\n      - name: v\n        cidr: 10.9.0.0/16\n\
         \x20       subnets:\n          - {{ name: a, cidr: 10.9.1.0/24, az: a }}\n\
         \x20       security_groups:\n          - {{ name: g }}\n\
         \x20       functions:\n          - {{ name: f, runtime: python3.11, handler: app.handler, code: {}, subnets: [a], security_groups: [g], concurrency: 4 }}\n",
        code.display()
    );
    let mut r = reconciler("scale", state.path());
    {
        let d = r.deployment();
        let lock = d.lock("test").unwrap();
        d.set_spec(&lock, &state.path().join("spec.yaml"), &text)
            .unwrap();
    }
    in_sync(&mut r);
    let net = r.deployment().network().unwrap().unwrap();
    let first = net.enis[net.find_eni("fn:f").unwrap().index()].private_ip;
    assert_eq!(
        net.functions[0].shared_enis,
        [vec![net.find_eni("fn:f").unwrap()]]
    );
    // At the limit: nothing. Past it: a second ENI, applied by the next ticks.
    r.deployment()
        .kernel()
        .connections
        .borrow_mut()
        .insert(first, 20);
    in_sync(&mut r);
    assert_eq!(
        r.deployment().network().unwrap().unwrap().enis.len(),
        net.enis.len()
    );
    r.deployment()
        .kernel()
        .connections
        .borrow_mut()
        .insert(first, 21);
    in_sync(&mut r);
    let after = r.deployment().network().unwrap().unwrap();
    let second = after
        .find_eni("t/v/hpl:a:g:2")
        .expect("a second shared ENI");
    assert_eq!(
        after.enis[second.index()].private_ip,
        "10.9.1.254".parse::<std::net::Ipv4Addr>().unwrap()
    );
    assert_eq!(after.functions[0].environment_eni(1), Some(second));
    let applied = cove_plan::desired(&after, r.deployment().target().prefix().as_str()).unwrap();
    assert_eq!(
        r.deployment().kernel().state.borrow().namespaces,
        applied.namespaces,
        "the kernel holds it"
    );
    // Two ENIs hold 40 together: the same 21 connections ask for nothing more.
    in_sync(&mut r);
    assert_eq!(
        r.deployment().network().unwrap().unwrap().enis.len(),
        after.enis.len()
    );
    // Destroy forgets the record.
    {
        let d = r.deployment();
        let lock = d.lock("test").unwrap();
        d.destroy(&lock).unwrap();
    }
    let snap = r.deployment().store().snapshot().unwrap();
    assert!(
        crate::store::docs::shared_eni_extras_of(&snap)
            .unwrap()
            .is_empty()
    );
}

/// A paired NAT gateway whose link disappears is taken over by its partner with no
/// command (recorded and applied in the same tick: the partner holds its address,
/// the router's routes to it use the partner's link); when it is back and healthy
/// for `failback_after`, it gets its address back; `cove destroy` forgets the
/// record.
#[test]
fn a_failed_nat_gateway_of_a_pair_is_taken_over_and_given_back() {
    let state = tempfile::tempdir().unwrap();
    let mut r = reconciler("nat", state.path());
    r.config.failback_after = Duration::from_millis(300);
    set_example(&r);
    in_sync(&mut r);
    let net = r.deployment().network().unwrap().unwrap();
    let prefix = r.deployment().target().prefix().as_str().to_owned();
    let names = cove_plan::names::Names::new(&net, &prefix);
    let gw = |name: &str| {
        net.nat_gateways
            .iter()
            .find(|g| g.name == name)
            .unwrap()
            .clone()
    };
    let (a, b) = (gw("nat-a"), gw("nat-b"));
    let (link_a, link_b) = (names.eni_router_link(a.eni), names.eni_router_link(b.eni));
    let ip_a = net.enis[a.eni.index()].private_ip;
    let ns_b = names.eni_ns(b.eni);
    let b_has_a = |r: &Reconciler<ModelKernel>| {
        r.deployment().kernel().state.borrow().namespaces[&ns_b]
            .addresses
            .iter()
            .any(|x| x.addr.addr() == ip_a)
    };
    let links = |a_up: Option<bool>| {
        let mut l: std::collections::BTreeMap<String, bool> = std::collections::BTreeMap::new();
        l.insert(link_b.clone(), true);
        if let Some(up) = a_up {
            l.insert(link_a.clone(), up);
        }
        Some(l)
    };
    *r.deployment().kernel().links.borrow_mut() = links(Some(true));
    in_sync(&mut r);
    assert!(!b_has_a(&r));
    // nat-a's link is gone: one tick records and applies the takeover.
    *r.deployment().kernel().links.borrow_mut() = links(None);
    let tick = r.tick().unwrap();
    assert!(matches!(tick, Tick::Applied { .. }), "{tick:?}");
    assert!(b_has_a(&r), "nat-b carries nat-a's address");
    let snap = r.deployment().store().snapshot().unwrap();
    let records = crate::store::docs::nat_takeovers_of(&snap).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].gateway.as_str(), records[0].carrier.as_str()),
        ("nat-a", "nat-b")
    );
    let after = r.deployment().network().unwrap().unwrap();
    assert_eq!(
        after
            .nat_gateways
            .iter()
            .find(|g| g.name == "nat-a")
            .unwrap()
            .carried_by,
        Some(cove_model::NatId(1))
    );
    in_sync(&mut r);
    // Back, but not yet healthy for long enough: still carried.
    *r.deployment().kernel().links.borrow_mut() = links(Some(true));
    in_sync(&mut r);
    assert!(b_has_a(&r));
    std::thread::sleep(Duration::from_millis(350));
    in_sync(&mut r);
    assert!(!b_has_a(&r), "fail-back after a healthy failback_after");
    let snap = r.deployment().store().snapshot().unwrap();
    assert!(
        crate::store::docs::nat_takeovers_of(&snap)
            .unwrap()
            .is_empty()
    );
    // Its forwarding turned off (drift, links fine): taken over in the tick that
    // repairs it.
    let ns_a = names.eni_ns(a.eni);
    r.deployment()
        .kernel()
        .state
        .borrow_mut()
        .namespaces
        .get_mut(&ns_a)
        .unwrap()
        .forwarding = false;
    std::thread::sleep(Duration::from_millis(10));
    let tick = r.tick().unwrap();
    assert!(matches!(tick, Tick::Applied { .. }), "{tick:?}");
    assert!(b_has_a(&r), "nat-b carries nat-a's address after its drift");
    assert!(r.deployment().kernel().state.borrow().namespaces[&ns_a].forwarding);
    let snap = r.deployment().store().snapshot().unwrap();
    let records = crate::store::docs::nat_takeovers_of(&snap).unwrap();
    assert!(records[0].reason.contains("drifted"), "{records:?}");
}
