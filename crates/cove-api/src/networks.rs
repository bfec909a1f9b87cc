//! Secure Compute networks (Vercel-shaped): `/v1/connect/networks`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cove_control::{CreateNetwork, Network, PatchNetwork};

use crate::error::{ApiError, ErrorBody};
use crate::layer::Caller;
use crate::{ApiState, parse_json};

/// Creates a network (status `creating` until the kernel has it, then `ready`).
#[utoipa::path(post, path = "/v1/connect/networks", tag = "networks",
    request_body = CreateNetwork,
    responses((status = 201, body = Network), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_network(
    State(api): State<ApiState>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Network>), ApiError> {
    let tenant = caller.tenant()?.clone();
    let req: CreateNetwork = parse_json(&body)?;
    let (n, _) = api
        .service
        .run(&caller.meta("POST /v1/connect/networks"), |cur, env| {
            let spec = cur.spec_of(&tenant);
            cove_control::create_network(&cur.state, &tenant, env, req.clone(), &spec)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(n)))
}

/// The caller's networks, oldest first.
#[utoipa::path(get, path = "/v1/connect/networks", tag = "networks",
    responses((status = 200, body = Vec<Network>), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_networks(
    State(api): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<Network>>, ApiError> {
    let tenant = caller.tenant()?;
    let cur = api.service.current().await?;
    Ok(Json(
        cove_control::list_networks(&cur.state, tenant)
            .into_iter()
            .cloned()
            .collect(),
    ))
}

/// One of the caller's networks, by id or name.
#[utoipa::path(get, path = "/v1/connect/networks/{id}", tag = "networks",
    params(("id" = String, Path, description = "network id or name")),
    responses((status = 200, body = Network), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_network(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Network>, ApiError> {
    let tenant = caller.tenant()?;
    let cur = api.service.current().await?;
    Ok(Json(
        cove_control::get_network(&cur.state, tenant, &id)?.clone(),
    ))
}

/// Renames a network (its block, zones and static IPs never change).
#[utoipa::path(patch, path = "/v1/connect/networks/{id}", tag = "networks",
    params(("id" = String, Path, description = "network id or name")),
    request_body = PatchNetwork,
    responses((status = 200, body = Network), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch_network(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Network>, ApiError> {
    let tenant = caller.tenant()?.clone();
    let req: PatchNetwork = parse_json(&body)?;
    let (n, _) = api
        .service
        .run(
            &caller.meta("PATCH /v1/connect/networks/{id}"),
            |cur, env| {
                let net = cove_control::get_network(&cur.state, &tenant, &id)?
                    .id
                    .clone();
                let spec = cur.spec_of(&tenant);
                cove_control::patch_network(&cur.state, &tenant, env, &net, req.clone(), &spec)
            },
        )
        .await?;
    Ok(Json(n))
}

/// Deletes a network: `deleting` until the kernel no longer has it; its static IPs
/// go back to the pool then.
#[utoipa::path(delete, path = "/v1/connect/networks/{id}", tag = "networks",
    params(("id" = String, Path, description = "network id or name")),
    responses((status = 202, body = Network), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_network(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Network>), ApiError> {
    let tenant = caller.tenant()?.clone();
    let (n, _) = api
        .service
        .run(
            &caller.meta("DELETE /v1/connect/networks/{id}"),
            |cur, env| {
                let net = cove_control::get_network(&cur.state, &tenant, &id)?
                    .id
                    .clone();
                let spec = cur.spec_of(&tenant);
                cove_control::delete_network(&cur.state, &tenant, env, &net, &spec)
            },
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(n)))
}
