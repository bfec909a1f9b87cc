//! VPC peering connections between networks, with AWS's lifecycle: the requester
//! names the accepter's account and VPC; the accepter accepts or rejects; either
//! side deletes; a pending request expires after 7 days.
//!
//! Each side sees a [`PeeringView`]: of the other side only its account id and VPC
//! id. A peering neither side of which is the caller is not found.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ControlError, ErrorCode, Result};
use crate::ids::{Env, Fresh, PeeringId, TenantId};
use crate::peerable::{PeerableVpc, Specs, find_vpc};
use crate::state::{Change, ControlState, Object, Outcome};
use crate::types::{
    AccepterSide, Peering, PeeringEnd, PeeringRole, PeeringStatus, PeeringView, RequesterSide,
};

/// How long a request waits for the accepter (AWS: 7 days).
pub const PENDING_LIFETIME_SECS: u64 = 7 * 24 * 3600;

/// Why a request to another account failed: AWS's words, the same for a VPC that
/// does not exist in that account and for overlapping blocks.
pub const CROSS_ACCOUNT_FAILURE: &str =
    "Failed due to incorrect VPC-ID, Account ID, or overlapping CIDR range.";

/// `POST /v1/peerings` (AWS's CreateVpcPeeringConnection).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RequestPeering {
    /// The VPC id of one of the caller's networks.
    pub vpc_id: Option<String>,
    /// The accepter's VPC id.
    pub peer_vpc_id: Option<String>,
    /// The accepter's 12-digit account id; the caller's own when omitted.
    pub peer_owner_id: Option<String>,
    /// The requester's tags on the new connection (EC2's `TagSpecifications`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<std::collections::BTreeMap<String, String>>,
}

/// The caller's role in `p`, if it is a side of it.
fn role(p: &Peering, tenant: &TenantId) -> Option<PeeringRole> {
    let req = &p.requester.tenant == tenant;
    let acc = p.accepter.tenant.as_ref() == Some(tenant);
    match (req, acc) {
        (true, true) => Some(PeeringRole::Both),
        (true, false) => Some(PeeringRole::Requester),
        (false, true) => Some(PeeringRole::Accepter),
        (false, false) => None,
    }
}

/// What `role` sees of `p`.
fn view(p: &Peering, role: PeeringRole) -> PeeringView {
    PeeringView {
        id: p.id.clone(),
        status: p.status,
        status_message: p.status_message.clone(),
        role,
        requester: PeeringEnd {
            account_id: p.requester.account_id.clone(),
            vpc_id: p.requester.vpc_id.clone(),
        },
        accepter: PeeringEnd {
            account_id: p.accepter.account_id.clone(),
            vpc_id: p.accepter.vpc_id.clone(),
        },
        created_at: p.created_at,
        updated_at: p.updated_at,
        expires_at: p.expires_at,
        tags: match role {
            PeeringRole::Accepter => p.accepter_tags.clone(),
            PeeringRole::Requester | PeeringRole::Both => p.requester_tags.clone(),
        },
    }
}

/// Tags one connection may carry per account (EC2's limit).
pub const MAX_TAGS: usize = 50;

/// EC2's rules for tags: at most [`MAX_TAGS`], keys of 1–128 characters not
/// starting with `aws:`, values of at most 256.
fn check_tags(tags: &std::collections::BTreeMap<String, String>) -> Result<()> {
    let bad = |message: String, hint: &str| {
        ControlError::field(ErrorCode::InvalidParameterValue, "tags", message, hint)
    };
    if tags.len() > MAX_TAGS {
        return Err(bad(
            format!("{} tags; a connection takes at most {MAX_TAGS}", tags.len()),
            "give fewer tags",
        ));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(bad(
                format!("tag key `{k}` is not 1 to 128 characters"),
                "shorten the key",
            ));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(bad(
                format!("tag key `{k}` starts with `aws:`, which is reserved"),
                "use another prefix",
            ));
        }
        if v.chars().count() > 256 {
            return Err(bad(
                format!("the value of tag `{k}` is longer than 256 characters"),
                "shorten the value",
            ));
        }
    }
    Ok(())
}

/// Adds and removes the caller's own tags on its peering `id` (EC2's `CreateTags`
/// and `DeleteTags`; a removal with no value removes the key whatever its value).
/// The other account's tags are neither seen nor touched.
pub fn tag_peering(
    state: &ControlState,
    tenant: &TenantId,
    id: &PeeringId,
    add: &[(String, String)],
    remove: &[(String, Option<String>)],
) -> Result<Outcome<PeeringView>> {
    let (p, r) = find(state, tenant, id)?;
    let mut p = p.clone();
    let tags = match r {
        PeeringRole::Accepter => &mut p.accepter_tags,
        PeeringRole::Requester | PeeringRole::Both => &mut p.requester_tags,
    };
    crate::addresses::retag(tags, add, remove);
    check_tags(tags)?;
    let changes = if Some(&p) == state.peerings.get(id) {
        Vec::new()
    } else {
        vec![Change::Put(Object::Peering(p.clone()))]
    };
    Ok(Outcome {
        value: view(&p, r),
        changes,
    })
}

fn not_found(id: &PeeringId) -> ControlError {
    ControlError::field(
        ErrorCode::InvalidVpcPeeringConnectionIdNotFound,
        "id",
        format!("peering connection `{id}` does not exist"),
        "list your peering connections to find its id",
    )
}

/// The peering and the caller's role in it; not found if the caller is neither side.
fn find<'a>(
    state: &'a ControlState,
    tenant: &TenantId,
    id: &PeeringId,
) -> Result<(&'a Peering, PeeringRole)> {
    let p = state.peerings.get(id).ok_or_else(|| not_found(id))?;
    let r = role(p, tenant).ok_or_else(|| not_found(id))?;
    Ok((p, r))
}

/// Peerings of the caller (either side), oldest first.
pub fn list_peerings(state: &ControlState, tenant: &TenantId) -> Vec<PeeringView> {
    let mut v: Vec<(&Peering, PeeringRole)> = state
        .peerings
        .values()
        .filter_map(|p| role(p, tenant).map(|r| (p, r)))
        .collect();
    v.sort_by(|a, b| (a.0.created_at, &a.0.id).cmp(&(b.0.created_at, &b.0.id)));
    v.into_iter().map(|(p, r)| view(p, r)).collect()
}

/// One peering of the caller.
pub fn get_peering(state: &ControlState, tenant: &TenantId, id: &PeeringId) -> Result<PeeringView> {
    let (p, r) = find(state, tenant, id)?;
    Ok(view(p, r))
}

/// Live peerings (pending, provisioning, active) of a VPC.
fn live_of<'a>(state: &'a ControlState, vpc_id: &'a str) -> impl Iterator<Item = &'a Peering> {
    state.peerings.values().filter(move |p| {
        p.status.is_live() && (p.requester.vpc_id == vpc_id || p.accepter.vpc_id == vpc_id)
    })
}

fn required<'a>(field: &str, v: Option<&'a str>, example: &str) -> Result<&'a str> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Ok(s),
        None => Err(ControlError::field(
            ErrorCode::MissingParameter,
            field,
            format!("the request needs `{field}`"),
            format!("give `{field}`, e.g. `{example}`"),
        )),
    }
}

/// Requests a peering from one of the caller's networks to a VPC of an account.
/// Answers the new connection: `pending-acceptance` (expires in 7 days), or
/// `failed` when the blocks overlap or the account has no such VPC (as AWS does for
/// another account; in the caller's own account a missing VPC is not found).
/// Networks only: [`request_peering_in`] also peers the specs' standalone VPCs.
pub fn request_peering(
    state: &ControlState,
    tenant: &TenantId,
    env: &Env,
    req: RequestPeering,
) -> Result<Outcome<PeeringView>> {
    request_peering_in(state, &Specs::new(), tenant, env, req)
}

/// [`request_peering`] between any VPCs: networks and the standalone VPCs of the
/// tenants' `specs`.
pub fn request_peering_in(
    state: &ControlState,
    specs: &Specs,
    tenant: &TenantId,
    env: &Env,
    req: RequestPeering,
) -> Result<Outcome<PeeringView>> {
    let me = state.tenant(tenant)?;
    let vpc_id = required("vpc_id", req.vpc_id.as_deref(), "vpc-0a1b2c3d4e5f67890")?;
    let peer_vpc_id = required(
        "peer_vpc_id",
        req.peer_vpc_id.as_deref(),
        "vpc-0a1b2c3d4e5f67890",
    )?;
    if let Some(tags) = &req.tags {
        check_tags(tags)?;
    }
    let own = find_vpc(state, specs, tenant, vpc_id).ok_or_else(|| {
        ControlError::field(
            ErrorCode::InvalidVpcIdNotFound,
            "vpc_id",
            format!("VPC `{vpc_id}` does not exist"),
            "give the `vpc_id` of one of your VPCs",
        )
    })?;
    if own.deleting {
        return Err(ControlError::field(
            ErrorCode::IncorrectState,
            "vpc_id",
            format!("network `{}` is being deleted", own.name),
            "request the peering from another network",
        ));
    }
    let peer_owner = req
        .peer_owner_id
        .as_deref()
        .map(str::trim)
        .unwrap_or(&me.account_id);
    if peer_owner.len() != 12 || !peer_owner.chars().all(|c| c.is_ascii_digit()) {
        return Err(ControlError::field(
            ErrorCode::InvalidParameterValue,
            "peer_owner_id",
            format!("`{peer_owner}` is not a 12-digit account id"),
            "give the accepter's account id (12 digits), or omit it for your own account",
        ));
    }
    let well_formed = peer_vpc_id
        .strip_prefix("vpc-")
        .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()));
    if !well_formed {
        return Err(ControlError::field(
            ErrorCode::InvalidParameterValue,
            "peer_vpc_id",
            format!("`{peer_vpc_id}` is not a VPC id"),
            "give the accepter's VPC id, `vpc-` and hex digits",
        ));
    }
    if peer_vpc_id == vpc_id {
        return Err(ControlError::field(
            ErrorCode::InvalidParameterValue,
            "peer_vpc_id",
            "a VPC cannot be peered with itself",
            "name another VPC",
        ));
    }
    let accepter: Option<PeerableVpc> = state
        .tenants
        .values()
        .find(|t| t.account_id == peer_owner)
        .and_then(|t| find_vpc(state, specs, &t.id, peer_vpc_id))
        .filter(|v| !v.deleting);
    if accepter.is_none() && peer_owner == me.account_id {
        return Err(ControlError::field(
            ErrorCode::InvalidVpcIdNotFound,
            "peer_vpc_id",
            format!("VPC `{peer_vpc_id}` does not exist"),
            "give the `vpc_id` of one of your VPCs, or `peer_owner_id` for another account's VPC",
        ));
    }
    let quota = me.quotas.peerings_per_network;
    // Requests other accounts sent to this VPC do not count: they would let anyone
    // use up a VPC's quota (the accepter's quota is checked when it accepts).
    let counted = live_of(state, vpc_id)
        .filter(|p| p.status.is_up() || p.requester.vpc_id == vpc_id)
        .count();
    if counted >= quota as usize {
        return Err(ControlError::field(
            ErrorCode::VpcPeeringConnectionLimitExceeded,
            "vpc_id",
            format!(
                "VPC `{}` already has {quota} live peering connections, its quota",
                own.name
            ),
            "delete peering connections it no longer needs, or ask the operator to raise `peerings_per_network`",
        ));
    }
    // Failed requests are not live, but each is a stored document: as many as the
    // quota per 2 hours (as long as AWS shows them), so nobody fills the store.
    let failed = state
        .peerings
        .values()
        .filter(|p| p.requester.vpc_id == vpc_id && p.status == PeeringStatus::Failed)
        .filter(|p| env.now < p.created_at.plus(crate::lifecycle::FAILED_KEPT_SECS))
        .count();
    if failed >= quota as usize {
        return Err(ControlError::field(
            ErrorCode::VpcPeeringConnectionLimitExceeded,
            "vpc_id",
            format!(
                "{failed} peering requests from VPC `{}` failed in the last 2 hours, its quota",
                own.name
            ),
            "check the accepter's account id, VPC id and CIDR block, then try again later",
        ));
    }
    if let Some(dup) = live_of(state, vpc_id)
        .find(|p| p.requester.vpc_id == peer_vpc_id || p.accepter.vpc_id == peer_vpc_id)
    {
        return Err(ControlError::field(
            ErrorCode::VpcPeeringConnectionAlreadyExists,
            "peer_vpc_id",
            format!(
                "the {} peering connection `{}` already connects these VPCs",
                dup.status.as_str(),
                dup.id
            ),
            "use it, or delete it first",
        ));
    }
    let (status, message, expires_at) = match &accepter {
        // Another account: one message for both failures, as AWS words it, so a
        // request tells nothing of whether that account has that VPC.
        None => (
            PeeringStatus::Failed,
            Some(CROSS_ACCOUNT_FAILURE.to_owned()),
            None,
        ),
        Some(a) if own.overlaps(a) && a.tenant != *tenant => (
            PeeringStatus::Failed,
            Some(CROSS_ACCOUNT_FAILURE.to_owned()),
            None,
        ),
        Some(a) if own.overlaps(a) => (
            PeeringStatus::Failed,
            Some("the VPCs' CIDR blocks overlap".to_owned()),
            None,
        ),
        Some(_) => (
            PeeringStatus::PendingAcceptance,
            None,
            Some(env.now.plus(PENDING_LIFETIME_SECS)),
        ),
    };
    // A failed request never reached the accepter: as AWS, only the requester sees
    // it (so nobody can fill another account's list with failed requests).
    let seen_by = accepter
        .as_ref()
        .filter(|a| status != PeeringStatus::Failed || a.tenant == *tenant);
    let taken = state.taken_ids();
    let mut fresh = Fresh::new(env, &taken);
    let p = Peering {
        id: PeeringId(fresh.id(PeeringId::PREFIX)),
        status,
        status_message: message,
        requester: RequesterSide {
            tenant: tenant.clone(),
            account_id: me.account_id.clone(),
            network: own.network.clone(),
            vpc_id: own.vpc_id.clone(),
        },
        accepter: AccepterSide {
            account_id: peer_owner.to_owned(),
            vpc_id: peer_vpc_id.to_owned(),
            tenant: seen_by.map(|a| a.tenant.clone()),
            network: seen_by.and_then(|a| a.network.clone()),
        },
        created_at: env.now,
        updated_at: env.now,
        expires_at,
        requester_tags: req.tags.clone().unwrap_or_default(),
        accepter_tags: std::collections::BTreeMap::new(),
    };
    let r = role(&p, tenant).unwrap_or(PeeringRole::Requester);
    Ok(Outcome {
        value: view(&p, r),
        changes: vec![Change::Put(Object::Peering(p))],
    })
}

fn transition(p: &Peering, to: PeeringStatus, env: &Env, message: Option<&str>) -> Peering {
    let mut p = p.clone();
    p.status = to;
    p.status_message = message.map(str::to_owned);
    p.updated_at = env.now;
    if to != PeeringStatus::PendingAcceptance {
        p.expires_at = None;
    }
    p
}

fn must_be_pending(p: &Peering, env: &Env, verb: &str) -> Result<()> {
    if p.status != PeeringStatus::PendingAcceptance {
        return Err(ControlError::field(
            ErrorCode::InvalidStateTransition,
            "id",
            format!(
                "peering connection `{}` is `{}`; only a `pending-acceptance` request can be {verb}",
                p.id,
                p.status.as_str()
            ),
            "list your peering connections to see their status",
        ));
    }
    if p.expires_at.is_some_and(|e| env.now >= e) {
        return Err(ControlError::field(
            ErrorCode::InvalidStateTransition,
            "id",
            format!("peering connection `{}` has expired", p.id),
            "request a new peering connection",
        ));
    }
    Ok(())
}

fn accepter_only(p: &Peering, r: PeeringRole, instead: &str) -> Result<()> {
    if r == PeeringRole::Requester {
        return Err(ControlError::field(
            ErrorCode::OperationNotPermitted,
            "id",
            format!(
                "only the accepter (account {}) can do this to peering connection `{}`",
                p.accepter.account_id, p.id
            ),
            instead.to_owned(),
        ));
    }
    Ok(())
}

/// Accepts a pending request (the accepter only): `provisioning` until the kernel
/// has its routes, then `active` ([`crate::complete`]). Both VPCs' quotas of active
/// connections are checked. Networks only: see [`accept_peering_in`].
pub fn accept_peering(
    state: &ControlState,
    tenant: &TenantId,
    env: &Env,
    id: &PeeringId,
) -> Result<Outcome<PeeringView>> {
    accept_peering_in(state, &Specs::new(), tenant, env, id)
}

/// [`accept_peering`] between any VPCs: networks and the standalone VPCs of the
/// tenants' `specs`.
pub fn accept_peering_in(
    state: &ControlState,
    specs: &Specs,
    tenant: &TenantId,
    env: &Env,
    id: &PeeringId,
) -> Result<Outcome<PeeringView>> {
    let (p, r) = find(state, tenant, id)?;
    accepter_only(p, r, "wait for the accepter to accept it, or delete it")?;
    must_be_pending(p, env, "accepted")?;
    let up = |vpc: &str| {
        state
            .peerings
            .values()
            .filter(|x| x.status.is_up())
            .filter(|x| x.requester.vpc_id == vpc || x.accepter.vpc_id == vpc)
            .count()
    };
    let accepter_vpc = p
        .accepter
        .tenant
        .as_ref()
        .and_then(|t| find_vpc(state, specs, t, &p.accepter.vpc_id))
        .filter(|v| !v.deleting);
    let requester_vpc =
        find_vpc(state, specs, &p.requester.tenant, &p.requester.vpc_id).filter(|v| !v.deleting);
    let (Some(acc), Some(req)) = (accepter_vpc, requester_vpc) else {
        return Err(ControlError::field(
            ErrorCode::IncorrectState,
            "id",
            format!("a VPC of peering connection `{id}` is being deleted"),
            "the request can no longer be accepted; reject it",
        ));
    };
    for (net, whose) in [(&acc, "your"), (&req, "the requester's")] {
        let quota = state
            .tenants
            .get(&net.tenant)
            .map_or(0, |t| t.quotas.peerings_per_network);
        if up(&net.vpc_id) >= quota as usize {
            return Err(ControlError::field(
                ErrorCode::ActiveVpcPeeringConnectionPerVpcLimitExceeded,
                "id",
                format!(
                    "{whose} VPC `{}` has reached its limit of active peering connections",
                    net.vpc_id
                ),
                "delete an active peering connection of that VPC first, or have the operator raise `peerings_per_network`",
            ));
        }
    }
    let p = transition(p, PeeringStatus::Provisioning, env, None);
    Ok(Outcome {
        value: view(&p, r),
        changes: vec![Change::Put(Object::Peering(p))],
    })
}

/// Rejects a pending request (the accepter only).
pub fn reject_peering(
    state: &ControlState,
    tenant: &TenantId,
    env: &Env,
    id: &PeeringId,
) -> Result<Outcome<PeeringView>> {
    let (p, r) = find(state, tenant, id)?;
    accepter_only(p, r, "delete it instead")?;
    must_be_pending(p, env, "rejected")?;
    let p = transition(
        p,
        PeeringStatus::Rejected,
        env,
        Some("rejected by the accepter"),
    );
    Ok(Outcome {
        value: view(&p, r),
        changes: vec![Change::Put(Object::Peering(p))],
    })
}

/// Deletes a connection (AWS's DeleteVpcPeeringConnection: either owner, at any
/// time): either side an active or `provisioning` one (accepted, its routes not yet
/// in the kernel: they are never added, or removed again); the requester a pending
/// one (the accepter rejects it instead). It goes through `deleting` to `deleted`.
/// An ended one (rejected, failed, expired, deleted) cannot be deleted.
pub fn delete_peering(
    state: &ControlState,
    tenant: &TenantId,
    env: &Env,
    id: &PeeringId,
) -> Result<Outcome<PeeringView>> {
    let (p, r) = find(state, tenant, id)?;
    match p.status {
        PeeringStatus::PendingAcceptance if r == PeeringRole::Accepter => {
            return Err(ControlError::field(
                ErrorCode::OperationNotPermitted,
                "id",
                format!("peering connection `{id}` is a pending request to you"),
                "reject it instead",
            ));
        }
        PeeringStatus::PendingAcceptance | PeeringStatus::Provisioning | PeeringStatus::Active => {}
        other => {
            return Err(ControlError::field(
                ErrorCode::InvalidStateTransition,
                "id",
                format!(
                    "peering connection `{id}` is `{}` and cannot be deleted",
                    other.as_str()
                ),
                "nothing to do: it no longer connects anything",
            ));
        }
    }
    let by = match r {
        PeeringRole::Requester => "deleted by the requester",
        PeeringRole::Accepter => "deleted by the accepter",
        PeeringRole::Both => "deleted by the owner",
    };
    let p = transition(p, PeeringStatus::Deleted, env, Some(by));
    Ok(Outcome {
        value: view(&p, r),
        changes: vec![Change::Put(Object::Peering(p))],
    })
}
