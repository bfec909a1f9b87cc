//! Random command sequences from three tenants, with invariants checked after every
//! command: static IPs unique and from the pool, never leaked; no tenant sees
//! another's objects; quotas hold; peerings move only along AWS's lifecycle;
//! networks keep their static IPs; the desired spec validates and its NAT gateways
//! have the networks' static IPs.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::World;
use common::ops::{TENANTS, op, run};
use cove_control::*;
use cove_model::spec::TenantSpec;
use proptest::prelude::*;

/// What tenant `t` must never be shown: the other tenants' ids, names and inner
/// resource ids (account ids and VPC ids are how peers name each other).
fn secrets_of_others(state: &ControlState, t: &TenantId) -> Vec<String> {
    let mut out = Vec::new();
    for (id, tenant) in &state.tenants {
        if id != t {
            out.push(id.0.clone());
            out.push(tenant.name.clone());
        }
    }
    for n in state.networks.values().filter(|n| &n.tenant != t) {
        out.push(n.id.0.clone());
        out.push(format!("\"{}\"", n.name));
        out.push(format!("`{}`", n.name));
        out.push(n.internet_gateway_id.clone());
        out.extend(
            n.subnets
                .iter()
                .flat_map(|s| [s.id.clone(), s.route_table_id.clone()]),
        );
        out.extend(n.nat_gateways.iter().map(|g| g.id.clone()));
        out.extend(n.static_ips.iter().map(|ip| format!("\"{ip}\"")));
    }
    out
}

fn check_invariants(
    w: &World,
    before: &ControlState,
    tenants: &[TenantId],
    specs: &BTreeMap<TenantId, TenantSpec>,
) {
    let s = &w.state;
    // Static IPs: from the pool, unique, one per NAT gateway.
    let mut seen = BTreeSet::new();
    for n in s.networks.values() {
        assert_eq!(
            n.static_ips,
            n.nat_gateways
                .iter()
                .map(|g| g.public_ip)
                .collect::<Vec<_>>()
        );
        assert_eq!(n.static_ips.len(), n.availability_zones.len());
        for ip in &n.static_ips {
            assert!(
                s.ip_pool.blocks.iter().any(|b| b.contains(ip)),
                "{ip} not in the pool"
            );
            assert!(seen.insert(*ip), "{ip} held twice");
        }
        // Stable for the network's life; statuses move forward only.
        if let Some(old) = before.networks.get(&n.id) {
            assert_eq!(old.static_ips, n.static_ips);
            assert_eq!(
                (&old.vpc_id, old.cidr, &old.tenant),
                (&n.vpc_id, n.cidr, &n.tenant)
            );
            let ok = matches!(
                (old.status, n.status),
                (a, b) if a == b
            ) || matches!(
                (old.status, n.status),
                (
                    NetworkStatus::Creating,
                    NetworkStatus::Ready | NetworkStatus::Deleting
                ) | (NetworkStatus::Ready, NetworkStatus::Deleting)
            );
            assert!(ok, "{:?} -> {:?}", old.status, n.status);
        } else {
            assert_eq!(n.status, NetworkStatus::Creating);
        }
    }
    for (id, old) in &before.networks {
        if !s.networks.contains_key(id) {
            assert_eq!(
                old.status,
                NetworkStatus::Deleting,
                "removed without being deleted"
            );
        }
    }
    // Peerings: removed only once ended (kept as long as AWS shows them); only along
    // AWS's lifecycle.
    for (id, old) in &before.peerings {
        let Some(new) = s.peerings.get(id) else {
            assert!(old.status.is_final(), "a {:?} peering removed", old.status);
            continue;
        };
        assert!(
            old.status == new.status || old.status.may_become(new.status),
            "{:?} -> {:?}",
            old.status,
            new.status
        );
    }
    for (id, p) in &s.peerings {
        if !before.peerings.contains_key(id) {
            assert!(
                PeeringStatus::InitiatingRequest.may_become(p.status),
                "new peering {:?}",
                p.status
            );
        }
        if p.status.is_live() {
            assert!(
                p.accepter.network.is_some(),
                "a live peering has a real accepter"
            );
        }
    }
    // Quotas.
    for t in s.tenants.values() {
        let nets = s.networks_of(&t.id);
        assert!(nets.len() <= t.quotas.networks as usize);
        for n in nets {
            let up = s
                .peerings
                .values()
                .filter(|p| {
                    p.status.is_up()
                        && (p.requester.vpc_id == n.vpc_id || p.accepter.vpc_id == n.vpc_id)
                })
                .count();
            assert!(
                up <= t.quotas.peerings_per_network as usize,
                "{up} active peerings"
            );
        }
    }
    // Scoping of listings.
    for t in tenants {
        let forbidden = secrets_of_others(s, t);
        assert!(list_networks(s, t).iter().all(|n| &n.tenant == t));
        let listed = serde_json::to_string(&(list_networks(s, t), list_peerings(s, t))).unwrap();
        for f in &forbidden {
            assert!(
                !listed.contains(f.as_str()),
                "tenant {t} is shown {f}: {listed}"
            );
        }
        for v in list_peerings(s, t) {
            let p = &s.peerings[&v.id];
            assert!(&p.requester.tenant == t || p.accepter.tenant.as_ref() == Some(t));
        }
    }
    // The desired spec validates; its NAT gateways have the live networks' IPs.
    let spec = desired_spec(s, specs);
    let v = cove_model::validate::validate(&spec);
    let errors: Vec<_> = v.errors().collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let net = v.network.unwrap();
    let mut nat: Vec<_> = net
        .nat_gateways
        .iter()
        .flat_map(|g| g.public_ips.clone())
        .collect();
    let mut want: Vec<_> = s
        .networks
        .values()
        .filter(|n| n.status != NetworkStatus::Deleting)
        .flat_map(|n| n.static_ips.clone())
        .collect();
    nat.sort();
    want.sort();
    assert_eq!(nat, want);
    // Every function of the tenants' specs is in it (their networks are never
    // being deleted: the spec would have to let go first).
    let functions: usize = specs
        .values()
        .flat_map(|t| &t.vpcs)
        .map(|v| v.functions.len())
        .sum();
    assert_eq!(net.functions.len(), functions);
    let active = s.peerings.values().filter(|p| p.status.is_up()).count();
    let in_spec = net
        .peerings
        .iter()
        .filter(|p| p.status == cove_model::PeeringStatus::Active)
        .count();
    assert_eq!(active, in_spec);
}

/// Deletes everything, then checks that every pool address can be handed out again.
fn check_nothing_leaked(w: &mut World, tenants: &[TenantId]) {
    // The tenants' specs are emptied first (they keep networks in use).
    w.reconcile();
    let ids: Vec<(PeeringId, TenantId)> = w
        .state
        .peerings
        .values()
        .map(|p| (p.id.clone(), p.requester.tenant.clone()))
        .collect();
    for (id, t) in ids {
        let _ = w.run(|s, e| delete_peering(s, &t, e, &id));
    }
    for t in tenants {
        for id in w
            .state
            .networks_of(t)
            .iter()
            .map(|n| n.id.clone())
            .collect::<Vec<_>>()
        {
            w.run(|s, e| delete_network(s, t, e, &id, &TenantSpec::default()))
                .unwrap();
        }
    }
    w.reconcile();
    assert!(w.state.networks.is_empty());
    let admin = w.admin.clone();
    let big = Quotas {
        networks: 100,
        vpcs: 100,
        ..Quotas::default()
    };
    let t = &tenants[0];
    w.run(|s, _| set_quotas(s, &admin, t, big)).unwrap();
    let mut made = 0;
    loop {
        let req = CreateNetwork {
            name: Some(format!("leak{made}")),
            cidr: Some("10.0.0.0/16".into()),
            region: Some("us-east-1".into()),
            availability_zones: Some(vec!["us-east-1a".into()]),
            nat_failover: None,
        };
        match w.run(|s, e| create_network(s, t, e, req, &TenantSpec::default())) {
            Ok(_) => made += 1,
            Err(e) => {
                assert_eq!(e.code, ErrorCode::InsufficientAddressCapacity);
                break;
            }
        }
    }
    assert_eq!(made, 16, "every address of the pool is free again");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_commands_keep_every_invariant(ops in proptest::collection::vec(op(), 1..60)) {
        let mut w = World::new();
        let admin = w.admin.clone();
        let tenants: Vec<TenantId> = (0..TENANTS).map(|i| w.tenant(&format!("tenant{i}"))).collect();
        let small = Quotas { networks: 3, vpcs: 3, peerings_per_network: 2, ..Quotas::default() };
        for t in &tenants {
            w.run(|s, _| set_quotas(s, &admin, t, small)).unwrap();
        }
        let mut specs: BTreeMap<TenantId, TenantSpec> = BTreeMap::new();
        for op in &ops {
            let before = w.state.clone();
            if let Some((t, shown, typed)) = run(&mut w, &tenants, &mut specs, op) {
                let forbidden = secrets_of_others(&before, &tenants[t])
                    .into_iter()
                    .chain(secrets_of_others(&w.state, &tenants[t]))
                    .filter(|f| !typed.contains(f));
                for f in forbidden {
                    prop_assert!(!shown.contains(f.as_str()), "{op:?} showed {f} to tenant {t}: {shown}");
                }
            }
            check_invariants(&w, &before, &tenants, &specs);
        }
        check_nothing_leaked(&mut w, &tenants);
    }
}
