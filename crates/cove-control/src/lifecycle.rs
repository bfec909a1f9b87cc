//! The system's own transitions: what the reconciler records once the kernel has
//! caught up (networks `creating` → `ready`, `deleting` → gone with their static
//! IPs released, peerings `provisioning` → `active`), and pending peering requests
//! expiring.

use serde::{Deserialize, Serialize};

use crate::ids::{Env, NetworkId, PeeringId};
use crate::state::{Change, ControlState, Kind, Object, ObjectKey, Outcome};
use crate::types::{NetworkStatus, PeeringStatus};

/// The objects waiting for the kernel when a desired spec was computed: take it
/// from the same state as [`crate::desired_spec`], apply that spec, then pass it to
/// [`complete`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// Networks that were `creating`.
    pub created: Vec<NetworkId>,
    /// Networks that were `deleting`.
    pub deleted: Vec<NetworkId>,
    /// Peerings that were `provisioning`.
    pub provisioned: Vec<PeeringId>,
}

impl Applied {
    /// What is waiting for the kernel in `state`.
    pub fn of(state: &ControlState) -> Applied {
        let with = |s: NetworkStatus| -> Vec<NetworkId> {
            state
                .networks
                .values()
                .filter(|n| n.status == s)
                .map(|n| n.id.clone())
                .collect()
        };
        Applied {
            created: with(NetworkStatus::Creating),
            deleted: with(NetworkStatus::Deleting),
            provisioned: state
                .peerings
                .values()
                .filter(|p| p.status == PeeringStatus::Provisioning)
                .map(|p| p.id.clone())
                .collect(),
        }
    }
}

/// Records that the kernel has what `applied` was waiting for. Objects that changed
/// meanwhile (a network deleted while it was being created) are left alone: the
/// next reconcile takes them.
pub fn complete(state: &ControlState, env: &Env, applied: &Applied) -> Outcome<()> {
    let mut changes = Vec::new();
    for id in &applied.created {
        if let Some(n) = state.networks.get(id)
            && n.status == NetworkStatus::Creating
        {
            let mut n = n.clone();
            n.status = NetworkStatus::Ready;
            n.updated_at = env.now;
            changes.push(Change::Put(Object::Network(n)));
        }
    }
    let mut pool = state.ip_pool.clone();
    for id in &applied.deleted {
        if let Some(n) = state.networks.get(id)
            && n.status == NetworkStatus::Deleting
        {
            for ip in &n.static_ips {
                pool.released_at.insert(*ip, env.now);
            }
            changes.push(Change::Delete(ObjectKey {
                kind: Kind::Network,
                key: id.0.clone(),
            }));
        }
    }
    if pool != state.ip_pool {
        changes.push(Change::Put(Object::IpPool(pool)));
    }
    for id in &applied.provisioned {
        if let Some(p) = state.peerings.get(id)
            && p.status == PeeringStatus::Provisioning
        {
            let mut p = p.clone();
            p.status = PeeringStatus::Active;
            p.updated_at = env.now;
            changes.push(Change::Put(Object::Peering(p)));
        }
    }
    Outcome { value: (), changes }
}

/// How long a failed request stays (AWS: visible to the requester for 2 hours).
pub const FAILED_KEPT_SECS: u64 = 2 * 3600;

/// How long a rejected, expired or deleted connection stays (AWS: 2 days).
pub const FINAL_KEPT_SECS: u64 = 2 * 24 * 3600;

/// Expires every pending request whose time is up at `env.now` (answers their ids),
/// and removes connections that ended longer ago than AWS shows them (failed: 2
/// hours; rejected, expired, deleted: 2 days), so that requests nobody can act on
/// do not pile up in the store.
pub fn expire_peerings(state: &ControlState, env: &Env) -> Outcome<Vec<PeeringId>> {
    let mut ids = Vec::new();
    let mut changes = Vec::new();
    for p in state.peerings.values().filter(|p| p.status.is_final()) {
        let kept = if p.status == PeeringStatus::Failed {
            FAILED_KEPT_SECS
        } else {
            FINAL_KEPT_SECS
        };
        if env.now >= p.updated_at.plus(kept) {
            changes.push(Change::Delete(ObjectKey {
                kind: Kind::Peering,
                key: p.id.0.clone(),
            }));
        }
    }
    for p in state.peerings.values() {
        if p.status == PeeringStatus::PendingAcceptance
            && p.expires_at.is_some_and(|e| env.now >= e)
        {
            let mut p = p.clone();
            p.status = PeeringStatus::Expired;
            p.status_message = Some("not accepted within 7 days".to_owned());
            p.expires_at = None;
            p.updated_at = env.now;
            ids.push(p.id.clone());
            changes.push(Change::Put(Object::Peering(p)));
        }
    }
    Outcome {
        value: ids,
        changes,
    }
}
