//! Tenants and their quotas (the operator's commands).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ControlError, ErrorCode, Result};
use crate::ids::{Env, Fresh, TenantId};
use crate::state::{Actor, Change, ControlState, Object, Outcome};
use crate::types::{Quotas, Tenant};

/// Longest tenant or network name.
pub const MAX_NAME_LEN: usize = 64;

/// Ceiling of `peerings_per_network` (AWS's ceiling of active peerings per VPC).
pub const MAX_PEERINGS_PER_NETWORK: u32 = 125;

/// `POST /v1/tenants`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreateTenant {
    /// Unique name (letters, digits, `.`, `_`, `-`; at most 64).
    pub name: Option<String>,
    /// Quotas; the defaults when omitted.
    pub quotas: Option<Quotas>,
}

/// Checks a name field: present, at most 64 of `A-Z a-z 0-9 . _ -`, not starting
/// with `.`.
pub(crate) fn check_name(field: &str, name: Option<&str>, what: &str) -> Result<String> {
    let Some(name) = name.map(str::trim) else {
        return Err(ControlError::field(
            ErrorCode::MissingParameter,
            field,
            format!("the {what} needs a `{field}`"),
            format!("give the {what} a name of letters, digits, `.`, `_` or `-`"),
        ));
    };
    if name.is_empty() {
        return Err(ControlError::field(
            ErrorCode::MissingParameter,
            field,
            format!("the {what}'s `{field}` is empty"),
            format!("give the {what} a name of letters, digits, `.`, `_` or `-`"),
        ));
    }
    // A leading `.` is refused too: names become path components (log
    // directories), where `.`/`..` and hidden names must never appear.
    if name.len() > MAX_NAME_LEN
        || name.starts_with('.')
        || !cove_model::validate::is_valid_name(name)
    {
        return Err(ControlError::field(
            ErrorCode::InvalidParameterValue,
            field,
            format!("`{name}` is not a valid {what} name"),
            format!(
                "use 1 to {MAX_NAME_LEN} letters, digits, `.`, `_` and `-`, not starting with `.`"
            ),
        ));
    }
    Ok(name.to_owned())
}

/// Checks quota values.
fn check_quotas(q: &Quotas) -> Result<()> {
    if !(1..=MAX_PEERINGS_PER_NETWORK).contains(&q.peerings_per_network) {
        return Err(ControlError::field(
            ErrorCode::InvalidParameterValue,
            "quotas.peerings_per_network",
            format!(
                "{} peerings per network is out of range",
                q.peerings_per_network
            ),
            format!("use 1 to {MAX_PEERINGS_PER_NETWORK} (AWS's default is 50)"),
        ));
    }
    if q.networks > q.vpcs {
        return Err(ControlError::field(
            ErrorCode::InvalidParameterCombination,
            "quotas.networks",
            format!(
                "{} networks exceed the {} VPCs allowed: every network is a VPC",
                q.networks, q.vpcs
            ),
            "raise `quotas.vpcs` to at least `quotas.networks`",
        ));
    }
    Ok(())
}

/// Creates a tenant (admin only) with a fresh account id.
pub fn create_tenant(
    state: &ControlState,
    actor: &Actor,
    env: &Env,
    req: CreateTenant,
) -> Result<Outcome<Tenant>> {
    actor.require_admin("creating a tenant")?;
    let name = check_name("name", req.name.as_deref(), "tenant")?;
    if state.tenants.values().any(|t| t.name == name) {
        return Err(ControlError::field(
            ErrorCode::DuplicateName,
            "name",
            format!("a tenant named `{name}` already exists"),
            "choose another name",
        ));
    }
    let quotas = req.quotas.unwrap_or_default();
    check_quotas(&quotas)?;
    let taken = state.taken_ids();
    let mut fresh = Fresh::new(env, &taken);
    let tenant = Tenant {
        id: TenantId(fresh.id(TenantId::PREFIX)),
        name,
        account_id: fresh.account_id(),
        quotas,
        created_at: env.now,
    };
    Ok(Outcome {
        changes: vec![Change::Put(Object::Tenant(tenant.clone()))],
        value: tenant,
    })
}

/// Every tenant, oldest first (admin only).
pub fn list_tenants<'a>(state: &'a ControlState, actor: &Actor) -> Result<Vec<&'a Tenant>> {
    actor.require_admin("listing tenants")?;
    let mut v: Vec<&Tenant> = state.tenants.values().collect();
    v.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(v)
}

/// The caller's own tenant record (a tenant sees its quotas and account id).
pub fn get_tenant<'a>(state: &'a ControlState, actor: &Actor, id: &TenantId) -> Result<&'a Tenant> {
    if let Some(own) = actor.tenant()
        && own != id
    {
        return Err(tenant_not_found(id));
    }
    state.tenants.get(id).ok_or_else(|| tenant_not_found(id))
}

/// Replaces a tenant's quotas (admin only). Lowering a quota below what the tenant
/// has is allowed: it only stops new objects, as AWS does.
pub fn set_quotas(
    state: &ControlState,
    actor: &Actor,
    tenant: &TenantId,
    quotas: Quotas,
) -> Result<Outcome<Tenant>> {
    actor.require_admin("changing quotas")?;
    let mut t = state
        .tenants
        .get(tenant)
        .ok_or_else(|| tenant_not_found(tenant))?
        .clone();
    check_quotas(&quotas)?;
    if t.quotas == quotas {
        return Ok(Outcome {
            value: t,
            changes: Vec::new(),
        });
    }
    t.quotas = quotas;
    Ok(Outcome {
        changes: vec![Change::Put(Object::Tenant(t.clone()))],
        value: t,
    })
}

/// `InvalidTenantID.NotFound`.
pub(crate) fn tenant_not_found(id: &TenantId) -> ControlError {
    ControlError::field(
        ErrorCode::InvalidTenantIdNotFound,
        "tenant",
        format!("tenant `{id}` does not exist"),
        "list tenants with the admin token to find its id",
    )
}
