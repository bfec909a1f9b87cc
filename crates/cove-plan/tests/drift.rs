//! Drift that keeps every object in place but changes what it does: cove's chains
//! or rules changed under an unchanged generation, a table that is not cove's, an
//! ENI link with another MAC or MTU, a route added with another protocol. Each is
//! planned as a repair, the model kernel converges, and planning again gives
//! nothing. `UPDATE_GOLDEN=1` rewrites `golden/secure-compute.drift.txt`.

use std::path::PathBuf;

use cove_model::validate::validate_text;
use cove_plan::simulate::simulate;
use cove_plan::{
    ForeignTable, HostState, NftWhy, Op, Plan, ROUTE_PROTO_STATIC, Route, RouteKind, desired, diff,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn example() -> HostState {
    let text = std::fs::read_to_string(root().join("../../examples/secure-compute.yaml"))
        .expect("example");
    let net = validate_text(&text).network.expect("valid example");
    desired(&net, "cove").expect("layout")
}

/// The example as the kernel holds it after an apply: the desired state, observed
/// (no veth pairs listed, routers' MACs chosen by the kernel, the firewall's
/// digests read back and equal).
fn applied(want: &HostState) -> HostState {
    let mut o = simulate(HostState::default(), &diff(&HostState::default(), want))
        .expect("the plan from an empty host applies");
    for ns in o.namespaces.values_mut() {
        for s in ns.link_settings.values_mut() {
            s.mac.get_or_insert([0x0a, 0, 0, 0, 0, 1]);
        }
        if let Some(t) = &mut ns.nft {
            t.rules_digest = Some("d1".into());
            t.loaded_digest = Some("d1".into());
        }
    }
    assert!(diff(&o, want).is_empty(), "{}", diff(&o, want));
    o
}

const ROUTER: &str = "cove-router";

/// Applies `plan` to `observed` in the model kernel and checks that nothing is left
/// to do.
fn repairs(observed: &HostState, want: &HostState, plan: &Plan) {
    let after = simulate(observed.clone(), plan).unwrap_or_else(|e| panic!("{e}\n{plan}"));
    let again = diff(&after, want);
    assert!(again.is_empty(), "second plan not empty:\n{again}");
}

#[test]
fn changed_rules_under_the_same_generation_replace_the_table() {
    let want = example();
    let mut o = applied(&want);
    // A flushed chain, an inserted rule, a deleted chain, a changed policy: the
    // digest of what the kernel holds differs from the one recorded at load time.
    o.namespaces
        .get_mut(ROUTER)
        .and_then(|n| n.nft.as_mut())
        .expect("router table")
        .rules_digest = Some("d2".into());
    let plan = diff(&o, &want);
    assert!(
        matches!(
            plan.ops.as_slice(),
            [Op::ReplaceNft { ns, why: NftWhy::RulesChanged, .. }] if ns == ROUTER
        ),
        "{plan}"
    );
    assert!(plan.to_string().contains("not the ones cove loaded"));
    repairs(&o, &want, &plan);

    // Nothing recorded (a load interrupted before the digest was written).
    let mut o = applied(&want);
    o.namespaces
        .get_mut(ROUTER)
        .and_then(|n| n.nft.as_mut())
        .expect("router table")
        .loaded_digest = None;
    let plan = diff(&o, &want);
    assert!(
        matches!(
            plan.ops.as_slice(),
            [Op::ReplaceNft {
                why: NftWhy::RulesChanged,
                ..
            }]
        ),
        "{plan}"
    );
}

#[test]
fn a_foreign_table_is_removed_first() {
    let want = example();
    let mut o = applied(&want);
    let eni_ns = want
        .namespaces
        .iter()
        .find(|(n, s)| n.starts_with("cove-e-") && s.nft.is_none())
        .map(|(n, _)| n.clone())
        .expect("an ENI namespace");
    for ns in [ROUTER, eni_ns.as_str()] {
        o.namespaces
            .get_mut(ns)
            .expect("namespace")
            .foreign_tables
            .insert(ForeignTable {
                family: "ip".into(),
                name: "filter".into(),
            });
    }
    let plan = diff(&o, &want);
    assert_eq!(plan.ops.len(), 2, "{plan}");
    assert!(
        plan.ops
            .iter()
            .all(|op| matches!(op, Op::DeleteForeignNft { table, .. } if table.name == "filter")),
        "{plan}"
    );
    repairs(&o, &want, &plan);
}

#[test]
fn a_changed_mac_or_mtu_is_set_back_and_a_router_mac_is_free() {
    let want = example();
    let o = applied(&want);
    let (eni_ns, fixed) = want
        .namespaces
        .iter()
        .find_map(|(n, s)| {
            let w = s.link_settings.get("eth0")?;
            Some((n.clone(), w.mac?))
        })
        .expect("an ENI with a fixed MAC");
    let mut mac = o.clone();
    let s = mac
        .namespaces
        .get_mut(&eni_ns)
        .and_then(|n| n.link_settings.get_mut("eth0"))
        .expect("eth0");
    s.mac = Some([0x02, 0xde, 0xad, 0xbe, 0xef, 0x01]);
    let plan = diff(&mac, &want);
    assert!(
        matches!(plan.ops.as_slice(),
            [Op::SetLink { ns, name, settings }] if *ns == eni_ns && name == "eth0" && settings.mac == Some(fixed)),
        "{plan}"
    );
    repairs(&mac, &want, &plan);

    let mut mtu = o.clone();
    mtu.namespaces
        .get_mut(&eni_ns)
        .and_then(|n| n.link_settings.get_mut("eth0"))
        .expect("eth0")
        .mtu = 1400;
    let plan = diff(&mtu, &want);
    assert!(
        matches!(plan.ops.as_slice(), [Op::SetLink { settings, .. }] if settings.mtu == 1500),
        "{plan}"
    );
    repairs(&mtu, &want, &plan);

    // The router's ends have no fixed MAC: whatever the kernel chose is fine.
    let mut router = o.clone();
    for s in router
        .namespaces
        .get_mut(ROUTER)
        .expect("router")
        .link_settings
        .values_mut()
    {
        s.mac = Some([0x0a, 1, 2, 3, 4, 5]);
    }
    assert!(diff(&router, &want).is_empty());
}

#[test]
fn a_route_with_another_protocol_is_deleted_by_its_protocol() {
    let want = example();
    let mut o = applied(&want);
    let table = want.namespaces[ROUTER]
        .routes
        .iter()
        .find(|r| r.table != 254)
        .expect("a route table")
        .table;
    let boot = Route {
        table,
        dst: "10.99.0.0/16".parse().expect("cidr"),
        kind: RouteKind::Blackhole,
        proto: 3,
    };
    // One that cove does not want, and one equal to a desired route but for its
    // protocol (someone deleted cove's and added their own).
    let mut same = *want.namespaces[ROUTER]
        .routes
        .iter()
        .find(|r| r.table == table)
        .expect("route");
    let router = o.namespaces.get_mut(ROUTER).expect("router");
    router.routes.remove(&same);
    same.proto = 3;
    router.routes.insert(boot);
    router.routes.insert(same);
    let plan = diff(&o, &want);
    let deleted: Vec<&Route> = plan
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::DeleteRoute { route, .. } => Some(route),
            _ => None,
        })
        .collect();
    let mut expected = vec![&boot, &same];
    expected.sort();
    assert_eq!(deleted, expected, "{plan}");
    assert!(plan.to_string().contains("proto boot"), "{plan}");
    same.proto = ROUTE_PROTO_STATIC;
    assert!(
        plan.ops
            .iter()
            .any(|op| matches!(op, Op::AddRoute { route, .. } if *route == same)),
        "{plan}"
    );
    repairs(&o, &want, &plan);
}

/// The repairs of every kind of drift at once, as `cove status` prints them.
#[test]
fn golden_repairs() {
    let want = example();
    let mut o = applied(&want);
    let router = o.namespaces.get_mut(ROUTER).expect("router");
    router.nft.as_mut().expect("router table").rules_digest = Some("d2".into());
    router.foreign_tables.insert(ForeignTable {
        family: "inet".into(),
        name: "intruder".into(),
    });
    let table = router
        .routes
        .iter()
        .find(|r| r.table != 254)
        .expect("route")
        .table;
    router.routes.insert(Route {
        table,
        dst: "10.99.0.0/16".parse().expect("cidr"),
        kind: RouteKind::Blackhole,
        proto: 3,
    });
    let eni = o
        .namespaces
        .iter_mut()
        .find(|(n, _)| n.starts_with("cove-e-"))
        .map(|(_, s)| s)
        .expect("ENI");
    let s = eni.link_settings.get_mut("eth0").expect("eth0");
    s.mtu = 9000;
    s.mac = Some([2, 0, 0, 0, 0, 9]);
    let plan = diff(&o, &want);
    repairs(&o, &want, &plan);
    let path = root().join("tests/golden/secure-compute.drift.txt");
    let actual = plan.to_string();
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::write(&path, &actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_GOLDEN=1", path.display()));
    assert_eq!(expected, actual, "run with UPDATE_GOLDEN=1 to accept");
}
