//! Random control-plane commands from three tenants (create, rename and delete
//! networks; request, accept, reject and delete peerings; put tenants' specs;
//! reconcile; expire), shared by the property tests (`props.rs`,
//! `props_kernel.rs`).

use std::collections::BTreeMap;

use cove_control::*;
use cove_model::spec::{FunctionSpec, Scalar, SecurityGroupSpec, TenantSpec, VpcSpec};
use proptest::prelude::*;

use super::World;

pub const TENANTS: usize = 3;
pub const DAY: u64 = 24 * 3600;

#[derive(Debug, Clone)]
pub enum Op {
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
pub const CIDRS: [&str; 7] = [
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
pub fn cidr() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![
        1 => Just(None),
        2 => (0..CIDRS.len()).prop_map(Some),
        3 => (CIDRS.len()..CIDRS.len() + 4).prop_map(Some),
    ]
}

pub fn op() -> impl Strategy<Value = Op> {
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

pub fn pick<T: Clone>(items: &[T], i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[i % items.len()].clone())
}

/// Runs one op as tenant `t`; answers what the tenant was shown (JSON) and the ids
/// it typed (which an answer may echo).
pub fn run(
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
                nat_failover: None,
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
                tags: None,
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
pub fn function_in(n: &Network, by_id: bool) -> VpcSpec {
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
