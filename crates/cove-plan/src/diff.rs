//! Observed state + desired state → plan.
//!
//! Order: namespaces cove no longer wants are deleted first; then new namespaces,
//! forwarding and the place of the `lookup local` rule, stale links, new veth pairs (a pair with only one end left is
//! recreated), then per namespace addresses (additions first, so an interface never
//! loses its last address and with it its routes), routes and rules (removals before
//! additions, so a changed route never collides with its old self), then the
//! firewall tables (tables that are not cove's removed first). A link that stays
//! but lost its MAC or MTU is set back after the new pairs. Objects that vanish with a deleted or recreated link (its
//! addresses and routes) are not deleted twice.

use std::collections::BTreeSet;

use crate::plan::{NatBinding, NftWhy, Op, Plan};
use crate::state::{DevName, HostState, NftTable, NsState, RouteKind, VethPair};

fn pair_present(observed: &HostState, pair: &VethPair) -> bool {
    let has = |ns: &str, name: &str| {
        observed
            .namespaces
            .get(ns)
            .is_some_and(|n| n.links.contains(name))
    };
    has(&pair.a.ns, &pair.a.name) && has(&pair.b.ns, &pair.b.name)
}

/// The plan that turns `observed` into `desired`.
pub fn diff(observed: &HostState, desired: &HostState) -> Plan {
    let mut ops = Vec::new();
    let empty = NsState::default();
    for ns in observed.namespaces.keys() {
        if !desired.namespaces.contains_key(ns) {
            ops.push(Op::DeleteNamespace { ns: ns.clone() });
        }
    }
    for ns in desired.namespaces.keys() {
        if !observed.namespaces.contains_key(ns) {
            ops.push(Op::CreateNamespace { ns: ns.clone() });
        }
    }
    for (ns, want) in &desired.namespaces {
        let have = observed.namespaces.get(ns).unwrap_or(&empty);
        if want.forwarding != have.forwarding {
            ops.push(Op::SetForwarding {
                ns: ns.clone(),
                enabled: want.forwarding,
            });
        }
        if want.local_rule_last != have.local_rule_last {
            ops.push(Op::SetLocalRuleLast {
                ns: ns.clone(),
                last: want.local_rule_last,
            });
        }
    }
    // Links: which pairs must be (re)created, which links removed.
    let create: Vec<&VethPair> = desired
        .veths
        .iter()
        .filter(|p| !pair_present(observed, p))
        .collect();
    // Links that disappear (deleted, or recreated) per namespace.
    let mut gone: BTreeSet<(String, String)> = BTreeSet::new();
    for pair in &create {
        for end in [&pair.a, &pair.b] {
            gone.insert((end.ns.clone(), end.name.clone()));
        }
    }
    for (ns, have) in &observed.namespaces {
        let Some(want) = desired.namespaces.get(ns) else {
            continue;
        };
        for link in &have.links {
            let stale = !want.links.contains(link);
            let half = gone.contains(&(ns.clone(), link.clone()));
            if stale || half {
                ops.push(Op::DeleteLink {
                    ns: ns.clone(),
                    name: link.clone(),
                });
                gone.insert((ns.clone(), link.clone()));
                // Deleting one end of a veth deletes its peer too.
                if let Some(p) = observed_or_desired_peer(desired, ns, link) {
                    gone.insert(p);
                }
            }
        }
    }
    for pair in create {
        ops.push(Op::CreateVeth { pair: pair.clone() });
    }
    // Links that stay: a MAC or MTU someone changed is set back (anti-spoofing
    // drops whatever an ENI sends from another MAC).
    for (ns, want) in &desired.namespaces {
        let Some(have) = observed.namespaces.get(ns) else {
            continue;
        };
        for (link, w) in &want.link_settings {
            let stays = have.links.contains(link) && !gone.contains(&(ns.clone(), link.clone()));
            if !stays {
                continue;
            }
            let differs = have
                .link_settings
                .get(link)
                .is_none_or(|h| h.mtu != w.mtu || w.mac.is_some_and(|m| h.mac != Some(m)));
            if differs {
                ops.push(Op::SetLink {
                    ns: ns.clone(),
                    name: link.clone(),
                    settings: *w,
                });
            }
        }
    }
    // Per-namespace configuration.
    for (ns, want) in &desired.namespaces {
        let have = observed.namespaces.get(ns).unwrap_or(&empty);
        let vanished = |dev: &DevName| gone.contains(&(ns.clone(), dev.as_str().to_owned()));
        let route_vanishes = |k: &RouteKind| match k {
            RouteKind::Dev { dev } | RouteKind::Via { dev, .. } | RouteKind::Local { dev } => {
                vanished(dev)
            }
            RouteKind::Blackhole | RouteKind::Unreachable => false,
        };
        let have_addrs: BTreeSet<_> = have
            .addresses
            .iter()
            .filter(|a| !vanished(&a.dev))
            .copied()
            .collect();
        // New addresses before old ones go: the kernel flushes the routes through
        // an interface when its last IPv4 address is removed.
        for a in want.addresses.difference(&have_addrs) {
            ops.push(Op::AddAddress {
                ns: ns.clone(),
                address: *a,
            });
        }
        for a in have_addrs.difference(&want.addresses) {
            ops.push(Op::DeleteAddress {
                ns: ns.clone(),
                address: *a,
            });
        }
        let have_routes: BTreeSet<_> = have
            .routes
            .iter()
            .filter(|r| !route_vanishes(&r.kind))
            .copied()
            .collect();
        for r in have_routes.difference(&want.routes) {
            ops.push(Op::DeleteRoute {
                ns: ns.clone(),
                route: *r,
            });
        }
        for r in want.routes.difference(&have_routes) {
            ops.push(Op::AddRoute {
                ns: ns.clone(),
                route: *r,
            });
        }
        for r in have.rules.difference(&want.rules) {
            ops.push(Op::DeleteRule {
                ns: ns.clone(),
                rule: *r,
            });
        }
        for r in want.rules.difference(&have.rules) {
            ops.push(Op::AddRule {
                ns: ns.clone(),
                rule: *r,
            });
        }
        // Tables that are not cove's go first: one of them can drop what cove's
        // table accepts.
        for t in &have.foreign_tables {
            ops.push(Op::DeleteForeignNft {
                ns: ns.clone(),
                table: t.clone(),
            });
        }
        match (&have.nft, &want.nft) {
            (Some(h), Some(w)) if h.same(w) => {
                let mut add = std::collections::BTreeMap::new();
                let mut delete = std::collections::BTreeMap::new();
                let empty = std::collections::BTreeSet::new();
                let sets: BTreeSet<&String> = h.elements.keys().chain(w.elements.keys()).collect();
                for set in sets {
                    let hv = h.elements.get(set).unwrap_or(&empty);
                    let wv = w.elements.get(set).unwrap_or(&empty);
                    let a: BTreeSet<String> = wv.difference(hv).cloned().collect();
                    let d: BTreeSet<String> = hv.difference(wv).cloned().collect();
                    if !a.is_empty() {
                        add.insert(set.clone(), a);
                    }
                    if !d.is_empty() {
                        delete.insert(set.clone(), d);
                    }
                }
                if !add.is_empty() || !delete.is_empty() {
                    ops.push(Op::NftElements {
                        ns: ns.clone(),
                        table: w.name.clone(),
                        add,
                        delete,
                    });
                }
            }
            (h, Some(w)) => ops.push(Op::ReplaceNft {
                ns: ns.clone(),
                table: w.clone(),
                why: match h {
                    None => NftWhy::Missing,
                    Some(h) if h.name == w.name && h.generation == w.generation => {
                        NftWhy::RulesChanged
                    }
                    Some(_) => NftWhy::Generation,
                },
            }),
            (Some(h), None) => ops.push(Op::DeleteNft {
                ns: ns.clone(),
                name: h.name.clone(),
            }),
            (None, None) => {}
        }
        // After the new bindings are in place: flows of the old ones end.
        let bindings = removed_nat_bindings(have.nft.as_ref(), want.nft.as_ref());
        if !bindings.is_empty() {
            ops.push(Op::ForgetNatFlows {
                ns: ns.clone(),
                bindings,
            });
        }
    }
    Plan { ops }
}

/// The map of the internet gateways' 1:1 NAT (`"link" . private : public`), written
/// by `nft.rs`.
const NAT_MAP: &str = "private_to_public";

/// The 1:1 NAT bindings in `have` that `want` no longer holds.
fn removed_nat_bindings(have: Option<&NftTable>, want: Option<&NftTable>) -> BTreeSet<NatBinding> {
    let bindings = |t: Option<&NftTable>| -> BTreeSet<NatBinding> {
        t.and_then(|t| t.elements.get(NAT_MAP))
            .into_iter()
            .flatten()
            .filter_map(|e| nat_binding(e))
            .collect()
    };
    let want = bindings(want);
    bindings(have).difference(&want).copied().collect()
}

/// `"link" . 10.0.0.5 : 198.51.100.7` → the binding 10.0.0.5 ↔ 198.51.100.7.
fn nat_binding(element: &str) -> Option<NatBinding> {
    let (key, public) = element.split_once(" : ")?;
    let (_, private) = key.rsplit_once(" . ")?;
    Some(NatBinding {
        private: private.trim().parse().ok()?,
        public: public.trim().parse().ok()?,
    })
}

/// The other end of the desired veth pair that has `(ns, link)` as an end.
fn observed_or_desired_peer(desired: &HostState, ns: &str, link: &str) -> Option<(String, String)> {
    desired.veths.iter().find_map(|p| {
        if p.a.ns == ns && p.a.name == link {
            Some((p.b.ns.clone(), p.b.name.clone()))
        } else if p.b.ns == ns && p.b.name == link {
            Some((p.a.ns.clone(), p.a.name.clone()))
        } else {
            None
        }
    })
}
