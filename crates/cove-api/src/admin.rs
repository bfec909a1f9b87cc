//! The operator's endpoints (admin token): tenants, tokens and the public IP pool.
//! Tenants may create and revoke their own tokens too.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cove_control::{
    CreateTenant, CreateToken, IpPool, NewToken, Tenant, TenantId, TokenId, TokenInfo, UnixTime,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::layer::Caller;
use crate::{ApiState, parse_json};

/// `POST /v1/tenants/{id}/tokens`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    /// When it stops working (Unix seconds, after now); never when omitted.
    pub expires_at: Option<UnixTime>,
    /// Free text (at most 256 characters).
    pub description: Option<String>,
}

/// `PUT /v1/ip-pool`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IpPoolRequest {
    /// Public addresses (`203.0.113.7`) or blocks (`203.0.113.0/28`).
    pub blocks: Vec<String>,
}

/// `PATCH /v1/ip-pool`: blocks to add and blocks to remove, in one change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IpPoolChange {
    /// Public addresses (`203.0.113.7`) or blocks (`203.0.113.0/28`) to add.
    #[serde(default)]
    pub add: Vec<String>,
    /// Blocks of the pool to remove, as listed (an address is a `/32`).
    #[serde(default)]
    pub remove: Vec<String>,
}

/// Creates a tenant (admin).
#[utoipa::path(post, path = "/v1/tenants", tag = "admin", request_body = CreateTenant,
    responses((status = 201, body = Tenant), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_tenant(
    State(api): State<ApiState>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Tenant>), ApiError> {
    let req: CreateTenant = parse_json(&body)?;
    let (t, _) = api
        .service
        .run(&caller.meta("POST /v1/tenants"), |cur, env| {
            cove_control::create_tenant(&cur.state, &caller.actor, env, req.clone())
        })
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// Lists the tenants (admin).
#[utoipa::path(get, path = "/v1/tenants", tag = "admin",
    responses((status = 200, body = Vec<Tenant>), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_tenants(
    State(api): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<Tenant>>, ApiError> {
    let cur = api.service.current().await?;
    let v = cove_control::list_tenants(&cur.state, &caller.actor)?;
    Ok(Json(v.into_iter().cloned().collect()))
}

/// Creates a token for a tenant (admin, or the tenant itself); the secret is shown
/// this once.
#[utoipa::path(post, path = "/v1/tenants/{id}/tokens", tag = "admin",
    params(("id" = String, Path, description = "tenant id")),
    request_body = NewTokenRequest,
    responses((status = 201, body = NewToken), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_token(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<NewToken>), ApiError> {
    let req: NewTokenRequest = parse_json(&body)?;
    let req = CreateToken {
        tenant: Some(TenantId(id)),
        expires_at: req.expires_at,
        description: req.description,
    };
    let (t, _) = api
        .service
        .run(&caller.meta("POST /v1/tenants/{id}/tokens"), |cur, env| {
            cove_control::create_token(&cur.state, &caller.actor, env, req.clone())
        })
        .await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// Lists the tokens the caller may see (its own, or all for the operator).
#[utoipa::path(get, path = "/v1/tokens", tag = "admin",
    responses((status = 200, body = Vec<TokenInfo>), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_tokens(
    State(api): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    let cur = api.service.current().await?;
    Ok(Json(cove_control::list_tokens(&cur.state, &caller.actor)))
}

/// Revokes a token (at once).
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "admin",
    params(("id" = String, Path, description = "token id")),
    responses((status = 200, body = TokenInfo), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke_token(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TokenInfo>, ApiError> {
    let id = TokenId(id);
    let (t, _) = api
        .service
        .run(&caller.meta("DELETE /v1/tokens/{id}"), |cur, env| {
            cove_control::revoke_token(&cur.state, &caller.actor, env, &id)
        })
        .await?;
    Ok(Json(t))
}

/// Replaces the public IP pool that networks' static IPs come from (admin).
#[utoipa::path(put, path = "/v1/ip-pool", tag = "admin", request_body = IpPoolRequest,
    responses((status = 200, body = IpPool), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_ip_pool(
    State(api): State<ApiState>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<IpPool>, ApiError> {
    let req: IpPoolRequest = parse_json(&body)?;
    let (p, _) = api
        .service
        .run(&caller.meta("PUT /v1/ip-pool"), |cur, _env| {
            cove_control::set_ip_pool(&cur.state, &caller.actor, &req.blocks)
        })
        .await?;
    Ok(Json(p))
}

/// The public IP pool (admin).
#[utoipa::path(get, path = "/v1/ip-pool", tag = "admin",
    responses((status = 200, body = IpPool), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_ip_pool(
    State(api): State<ApiState>,
    caller: Caller,
) -> Result<Json<IpPool>, ApiError> {
    let cur = api.service.current().await?;
    Ok(Json(cove_control::get_ip_pool(&cur.state, &caller.actor)?))
}

/// Adds blocks to the public IP pool and removes blocks from it, decided on the
/// current pool (admin).
#[utoipa::path(patch, path = "/v1/ip-pool", tag = "admin", request_body = IpPoolChange,
    responses((status = 200, body = IpPool), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch_ip_pool(
    State(api): State<ApiState>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<IpPool>, ApiError> {
    let req: IpPoolChange = parse_json(&body)?;
    let (p, _) = api
        .service
        .run(&caller.meta("PATCH /v1/ip-pool"), |cur, _env| {
            cove_control::change_ip_pool(&cur.state, &caller.actor, &req.add, &req.remove)
        })
        .await?;
    Ok(Json(p))
}
