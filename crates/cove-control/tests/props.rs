//! Random command sequences from three tenants, with invariants checked after every
//! command: static IPs unique and from the pool, never leaked; no tenant sees
//! another's objects; quotas hold; peerings move only along AWS's lifecycle;
//! networks keep their static IPs; the desired spec validates and its NAT gateways
//! have the networks' static IPs.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::World;
use cove_control::*;
use cove_model::spec::{FunctionSpec, Scalar, SecurityGroupSpec, TenantSpec, VpcSpec};
use proptest::prelude::*;

const TENANTS: usize = 3;
const DAY: u64 = 24 * 3600;

#[derive(Debug, Clone)]
enum Op {
    Create {
        t: usize,
        name: usize,
        cidr: Option<usize>,
        azs: usize,
    },
    Patch {
        t: usize,
        net: usize,
        name: usize,
    },
    Delete {
        t: usize,
        net: usize,
    },
    Request {
        t: usize,
        from: usize,
        to: usize,
        owner: usize,
    },
    Accept {
        t: usize,
        p: usize,
    },
    Reject {
        t: usize,
        p: usize,
    },
    DeletePeering {
        t: usize,
        p: usize,
    },
    /// The accepter of a pending request accepts (or rejects) it.
    Answer {
        p: usize,
        accept: bool,
    },
    /// A side of a live peering deletes it.
    Hangup {
        p: usize,
        accepter: bool,
    },
    /// The tenant's spec adds a function to one of its networks (named by the
    /// network's name or id), or stops adding to it.
    Spec {
        t: usize,
        net: usize,
        by_id: bool,
        on: bool,
    },
    Reconcile,
    Expire {
        days: u64,
    },
}

/// Blocks a request may name: distinct, overlapping, nested, and invalid ones.
const CIDRS: [&str; 7] = [
    "10.0.0.0/16",
    "10.1.0.0/16",
    "10.0.128.0/17",
    "172.16.0.0/20",
    "192.168.0.0/26",
    "10.0.0.0/28",
    "8.8.0.0/16",
];

/// A picked range (often overlapping across tenants), a fixed block, or a block of
/// the tenant's own (index past [`CIDRS`]), most often.
fn cidr() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![
        1 => Just(None),
        2 => (0..CIDRS.len()).prop_map(Some),
        3 => (CIDRS.len()..CIDRS.len() + 4).prop_map(Some),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let t = 0..TENANTS;
    prop_oneof![
        4 => (t.clone(), 0..4usize, cidr(), 1..=3usize)
            .prop_map(|(t, name, cidr, azs)| Op::Create { t, name, cidr, azs }),
        1 => (t.clone(), any::<usize>(), 0..4usize).prop_map(|(t, net, name)| Op::Patch { t, net, name }),
        1 => (t.clone(), any::<usize>()).prop_map(|(t, net)| Op::Delete { t, net }),
        3 => (t.clone(), any::<usize>(), any::<usize>(), 0..3usize)
            .prop_map(|(t, from, to, owner)| Op::Request { t, from, to, owner }),
        2 => (t.clone(), any::<usize>()).prop_map(|(t, p)| Op::Accept { t, p }),
        1 => (t.clone(), any::<usize>()).prop_map(|(t, p)| Op::Reject { t, p }),
        1 => (t.clone(), any::<usize>()).prop_map(|(t, p)| Op::DeletePeering { t, p }),
        3 => (any::<usize>(), prop::bool::weighted(0.8)).prop_map(|(p, accept)| Op::Answer { p, accept }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(p, accepter)| Op::Hangup { p, accepter }),
        2 => (t.clone(), any::<usize>(), any::<bool>(), prop::bool::weighted(0.7))
            .prop_map(|(t, net, by_id, on)| Op::Spec { t, net, by_id, on }),
        2 => Just(Op::Reconcile),
        1 => (0..9u64).prop_map(|days| Op::Expire { days }),
    ]
}

fn pick<T: Clone>(items: &[T], i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[i % items.len()].clone())
}

/// Runs one op as tenant `t`; answers what the tenant was shown (JSON) and the ids
/// it typed (which an answer may echo).
fn run(
    w: &mut World,
    tenants: &[TenantId],
    specs: &mut BTreeMap<TenantId, TenantSpec>,
    op: &Op,
) -> Option<(usize, String, Vec<String>)> {
    let spec_of = |t: usize| specs.get(&tenants[t]).cloned().unwrap_or_default();
    let nets: Vec<Network> = w.state.networks.values().cloned().collect();
    let pcxs: Vec<PeeringId> = w.state.peerings.keys().cloned().collect();
    let ghost_net = NetworkId("net-00000000000000000".into());
    let ghost_pcx = PeeringId("pcx-00000000000000000".into());
    fn shown<T: serde::Serialize>(r: Result<T, ControlError>) -> String {
        match r {
            Ok(v) => serde_json::to_string(&v).unwrap(),
            Err(e) => serde_json::to_string(&e).unwrap(),
        }
    }
    let mut typed: Vec<String> = Vec::new();
    let (t, out) = match op {
        Op::Create { t, name, cidr, azs } => {
            let zones = ["us-east-1a", "us-east-1b", "us-east-1c"][..*azs]
                .iter()
                .map(|s| s.to_string())
                .collect();
            let req = CreateNetwork {
                name: Some(format!("t{t}-n{name}")),
                // Past the fixed list: a block of its own per tenant and name.
                cidr: cidr.map(|c| {
                    CIDRS
                        .get(c)
                        .map_or(format!("10.{}.0.0/16", 100 + t * 10 + name), |s| {
                            s.to_string()
                        })
                }),
                region: Some("us-east-1".into()),
                availability_zones: Some(zones),
            };
            (
                *t,
                shown(w.run(|s, e| create_network(s, &tenants[*t], e, req, &spec_of(*t)))),
            )
        }
        Op::Patch { t, net, name } => {
            let id = pick(&nets, *net).map_or(ghost_net.clone(), |n| n.id);
            typed.push(id.0.clone());
            let req = PatchNetwork {
                name: Some(format!("t{t}-n{name}")),
                ..Default::default()
            };
            (
                *t,
                shown(w.run(|s, e| patch_network(s, &tenants[*t], e, &id, req, &spec_of(*t)))),
            )
        }
        Op::Delete { t, net } => {
            let id = pick(&nets, *net).map_or(ghost_net.clone(), |n| n.id);
            typed.push(id.0.clone());
            (
                *t,
                shown(w.run(|s, e| delete_network(s, &tenants[*t], e, &id, &spec_of(*t)))),
            )
        }
        Op::Request { t, from, to, owner } => {
            let mine: Vec<Network> = nets
                .iter()
                .filter(|n| n.tenant == tenants[*t])
                .cloned()
                .collect();
            let from = pick(&mine, *from).or_else(|| pick(&nets, *from));
            let to = pick(&nets, *to);
            let (Some(from), Some(to)) = (from, to) else {
                return None;
            };
            let owner = match owner {
                0 => Some(w.state.tenants[&to.tenant].account_id.clone()),
                1 => None,
                _ => Some("000000000000".to_owned()),
            };
            let req = RequestPeering {
                vpc_id: Some(from.vpc_id),
                peer_vpc_id: Some(to.vpc_id),
                peer_owner_id: owner,
            };
            (
                *t,
                shown(w.run(|s, e| request_peering(s, &tenants[*t], e, req))),
            )
        }
        Op::Accept { t, p } | Op::Reject { t, p } | Op::DeletePeering { t, p } => {
            let id = pick(&pcxs, *p).unwrap_or(ghost_pcx.clone());
            typed.push(id.0.clone());
            let tenant = &tenants[*t];
            let r = match op {
                Op::Accept { .. } => w.run(|s, e| accept_peering(s, tenant, e, &id)),
                Op::Reject { .. } => w.run(|s, e| reject_peering(s, tenant, e, &id)),
                _ => w.run(|s, e| delete_peering(s, tenant, e, &id)),
            };
            (*t, shown(r))
        }
        Op::Answer { p, accept } => {
            let pending: Vec<Peering> = w
                .state
                .peerings
                .values()
                .filter(|x| x.status == PeeringStatus::PendingAcceptance)
                .cloned()
                .collect();
            let x = pick(&pending, *p)?;
            let t = tenants
                .iter()
                .position(|t| Some(t) == x.accepter.tenant.as_ref())?;
            let r = if *accept {
                w.run(|s, e| accept_peering(s, &tenants[t], e, &x.id))
            } else {
                w.run(|s, e| reject_peering(s, &tenants[t], e, &x.id))
            };
            (t, shown(r))
        }
        Op::Hangup { p, accepter } => {
            let live: Vec<Peering> = w
                .state
                .peerings
                .values()
                .filter(|x| x.status.is_live())
                .cloned()
                .collect();
            let x = pick(&live, *p)?;
            let side = if *accepter {
                x.accepter.tenant.clone()?
            } else {
                x.requester.tenant.clone()
            };
            let t = tenants.iter().position(|t| *t == side)?;
            (
                t,
                shown(w.run(|s, e| delete_peering(s, &tenants[t], e, &x.id))),
            )
        }
        Op::Spec { t, net, by_id, on } => {
            let mine: Vec<Network> = w
                .state
                .networks_of(&tenants[*t])
                .into_iter()
                .cloned()
                .collect();
            let n = pick(&mine, *net)?;
            let mut spec = spec_of(*t);
            spec.vpcs
                .retain(|v| v.name != n.name && v.name != n.id.as_str());
            if *on {
                spec.vpcs.push(function_in(&n, *by_id));
            }
            match check_tenant_spec(&w.state, &tenants[*t], &spec) {
                Ok(()) => {
                    specs.insert(tenants[*t].clone(), spec);
                    return None;
                }
                Err(e) => (*t, serde_json::to_string(&e).unwrap()),
            }
        }
        Op::Reconcile => {
            w.reconcile();
            return None;
        }
        Op::Expire { days } => {
            w.tick += days * DAY;
            w.run(|s, e| Ok(expire_peerings(s, e))).unwrap();
            return None;
        }
    };
    Some((t, out, typed))
}

/// A spec VPC adding a function (one slot, in `private-a`) to network `n`.
fn function_in(n: &Network, by_id: bool) -> VpcSpec {
    VpcSpec {
        name: if by_id {
            n.id.0.clone()
        } else {
            n.name.clone()
        },
        security_groups: vec![SecurityGroupSpec {
            name: "fn".into(),
            ..Default::default()
        }],
        functions: vec![FunctionSpec {
            name: format!("f-{}", n.id),
            runtime: "python3.11".into(),
            handler: "app.handler".into(),
            code: "sha256:abababababababababababababababababababababababababababababababab".into(),
            subnets: vec!["private-a".into()],
            security_groups: vec!["fn".into()],
            concurrency: Some(Scalar::Int(1)),
            ..Default::default()
        }],
        ..Default::default()
    }
}

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
