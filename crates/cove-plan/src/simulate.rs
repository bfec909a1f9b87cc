//! A model of the kernel for tests: applies a [`Plan`] to a [`HostState`] with the
//! kernel's rules (a name must be free to be created, a missing object cannot be
//! deleted, deleting a link takes its addresses, routes and veth peer with it). Used
//! to check that every plan converges; the real executor is `cove-host`.

use crate::plan::{Op, Plan};
use crate::state::{HostState, RouteKind};

/// Why the model kernel refused an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("operation {index} (`{op}`) fails: {reason}")]
pub struct SimError {
    /// Position in the plan.
    pub index: usize,
    /// The operation.
    pub op: String,
    /// Why.
    pub reason: String,
}

/// Applies `plan` to `state` the way the kernel would.
pub fn simulate(mut state: HostState, plan: &Plan) -> Result<HostState, SimError> {
    for (index, op) in plan.ops.iter().enumerate() {
        step(&mut state, op).map_err(|reason| SimError {
            index,
            op: op.to_string(),
            reason,
        })?;
    }
    // Observed state never lists pairs (see `NsState::links`).
    state.veths.clear();
    Ok(state)
}

fn remove_link(state: &mut HostState, ns: &str, name: &str) {
    if let Some(n) = state.namespaces.get_mut(ns) {
        n.links.remove(name);
        n.link_settings.remove(name);
        n.addresses.retain(|a| a.dev.as_str() != name);
        n.routes.retain(|r| match r.kind {
            RouteKind::Dev { dev } | RouteKind::Via { dev, .. } | RouteKind::Local { dev } => {
                dev.as_str() != name
            }
            _ => true,
        });
    }
}

/// Deletes a namespace the way the kernel does: the peers of its veths (in other
/// namespaces) vanish with it, with their addresses and routes. Returns whether it
/// existed.
pub fn delete_namespace(state: &mut HostState, ns: &str) -> bool {
    if state.namespaces.remove(ns).is_none() {
        return false;
    }
    let pairs: Vec<_> = state.veths.iter().cloned().collect();
    for p in pairs {
        if p.a.ns == ns {
            remove_link(state, &p.b.ns, &p.b.name);
            state.veths.remove(&p);
        } else if p.b.ns == ns {
            remove_link(state, &p.a.ns, &p.a.name);
            state.veths.remove(&p);
        }
    }
    true
}

fn step(state: &mut HostState, op: &Op) -> Result<(), String> {
    let missing = |ns: &str| format!("namespace {ns} does not exist");
    match op {
        Op::CreateNamespace { ns } => {
            if state.namespaces.contains_key(ns) {
                return Err("namespace exists".into());
            }
            state.namespaces.insert(ns.clone(), Default::default());
        }
        Op::DeleteNamespace { ns } => {
            if !delete_namespace(state, ns) {
                return Err(missing(ns));
            }
        }
        Op::SetForwarding { ns, enabled } => {
            state
                .namespaces
                .get_mut(ns)
                .ok_or_else(|| missing(ns))?
                .forwarding = *enabled;
        }
        Op::SetLocalRuleLast { ns, last } => {
            state
                .namespaces
                .get_mut(ns)
                .ok_or_else(|| missing(ns))?
                .local_rule_last = *last;
        }
        Op::CreateVeth { pair } => {
            for end in [&pair.a, &pair.b] {
                let n = state
                    .namespaces
                    .get(&end.ns)
                    .ok_or_else(|| missing(&end.ns))?;
                if n.links.contains(&end.name) {
                    return Err(format!("link {} exists in {}", end.name, end.ns));
                }
            }
            for end in [&pair.a, &pair.b] {
                if let Some(n) = state.namespaces.get_mut(&end.ns) {
                    n.links.insert(end.name.clone());
                    n.link_settings.insert(
                        end.name.clone(),
                        crate::state::LinkSettings {
                            mac: end.mac,
                            mtu: crate::state::VETH_MTU,
                        },
                    );
                }
            }
            state.veths.insert(pair.clone());
        }
        Op::DeleteLink { ns, name } => {
            let present = state
                .namespaces
                .get(ns)
                .is_some_and(|n| n.links.contains(name));
            if present {
                remove_link(state, ns, name);
                let peer = state.veths.iter().find_map(|p| {
                    if p.a.ns == *ns && p.a.name == *name {
                        Some((p.b.ns.clone(), p.b.name.clone()))
                    } else if p.b.ns == *ns && p.b.name == *name {
                        Some((p.a.ns.clone(), p.a.name.clone()))
                    } else {
                        None
                    }
                });
                if let Some((pns, pname)) = peer {
                    remove_link(state, &pns, &pname);
                }
                state.veths.retain(|p| {
                    !((p.a.ns == *ns && p.a.name == *name) || (p.b.ns == *ns && p.b.name == *name))
                });
            }
        }
        Op::AddAddress { ns, address } => {
            let n = state.namespaces.get_mut(ns).ok_or_else(|| missing(ns))?;
            let dev = address.dev.as_str();
            if dev != "lo" && !n.links.contains(dev) {
                return Err(format!("no link {dev}"));
            }
            if !n.addresses.insert(*address) {
                return Err("address exists".into());
            }
        }
        Op::DeleteAddress { ns, address } => {
            let n = state.namespaces.get_mut(ns).ok_or_else(|| missing(ns))?;
            if !n.addresses.remove(address) {
                return Err("no such address".into());
            }
            // Removing an interface's last IPv4 address flushes its routes.
            let dev = address.dev;
            if !n.addresses.iter().any(|a| a.dev == dev) {
                n.routes.retain(|r| match r.kind {
                    RouteKind::Dev { dev: d }
                    | RouteKind::Via { dev: d, .. }
                    | RouteKind::Local { dev: d } => d != dev,
                    _ => true,
                });
            }
        }
        Op::AddRoute { ns, route } => {
            let n = state.namespaces.get_mut(ns).ok_or_else(|| missing(ns))?;
            if let RouteKind::Dev { dev } | RouteKind::Via { dev, .. } | RouteKind::Local { dev } =
                route.kind
            {
                if dev.as_str() != "lo" && !n.links.contains(dev.as_str()) {
                    return Err(format!("no link {dev}"));
                }
            }
            if n.routes
                .iter()
                .any(|r| r.table == route.table && r.dst == route.dst)
            {
                return Err("a route for this destination exists in the table".into());
            }
            n.routes.insert(*route);
        }
        Op::DeleteRoute { ns, route } => {
            let n = state.namespaces.get_mut(ns).ok_or_else(|| missing(ns))?;
            if !n.routes.remove(route) {
                return Err("no such route".into());
            }
        }
        Op::AddRule { ns, rule } => {
            let n = state.namespaces.get_mut(ns).ok_or_else(|| missing(ns))?;
            if !n.rules.insert(*rule) {
                return Err("rule exists".into());
            }
        }
        Op::DeleteRule { ns, rule } => {
            let n = state.namespaces.get_mut(ns).ok_or_else(|| missing(ns))?;
            if !n.rules.remove(rule) {
                return Err("no such rule".into());
            }
        }
        Op::SetLink { ns, name, settings } => {
            let n = state.namespaces.get_mut(ns).ok_or_else(|| missing(ns))?;
            if !n.links.contains(name) {
                return Err(format!("no link {name}"));
            }
            n.link_settings.insert(name.clone(), *settings);
        }
        // The model holds no connection tracking.
        Op::ForgetNatFlows { ns, .. } => {
            state.namespaces.get(ns).ok_or_else(|| missing(ns))?;
        }
        Op::DeleteForeignNft { ns, table } => {
            let n = state.namespaces.get_mut(ns).ok_or_else(|| missing(ns))?;
            if !n.foreign_tables.remove(table) {
                return Err(format!("no table {} {}", table.family, table.name));
            }
        }
        Op::ReplaceNft { ns, table, .. } => {
            let n = state.namespaces.get_mut(ns).ok_or_else(|| missing(ns))?;
            let mut t = table.clone();
            t.elements.retain(|_, v| !v.is_empty());
            n.nft = Some(t);
        }
        Op::NftElements {
            ns, add, delete, ..
        } => {
            let n = state.namespaces.get_mut(ns).ok_or_else(|| missing(ns))?;
            let t = n.nft.as_mut().ok_or("no table")?;
            for (set, elems) in delete {
                let have = t.elements.entry(set.clone()).or_default();
                for e in elems {
                    if !have.remove(e) {
                        return Err(format!("element {e} not in {set}"));
                    }
                }
            }
            for (set, elems) in add {
                let have = t.elements.entry(set.clone()).or_default();
                for e in elems {
                    if !have.insert(e.clone()) {
                        return Err(format!("element {e} already in {set}"));
                    }
                }
            }
            t.elements.retain(|_, v| !v.is_empty());
        }
        Op::DeleteNft { ns, .. } => {
            let n = state.namespaces.get_mut(ns).ok_or_else(|| missing(ns))?;
            n.nft = None;
        }
    }
    Ok(())
}
