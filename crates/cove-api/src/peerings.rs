//! Peering connections with AWS's lifecycle: `/v1/peerings`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cove_control::{
    ControlError, ControlState, Env, Outcome, PeeringId, PeeringView, RequestPeering, TenantId,
};

use crate::error::{ApiError, ErrorBody};
use crate::layer::Caller;
use crate::{ApiState, parse_json};

/// Requests a peering from one of the caller's VPCs (a network's, or a standalone
/// VPC of its spec) to an account's VPC: the
/// accepter sees it `pending-acceptance`.
#[utoipa::path(post, path = "/v1/peerings", tag = "peerings", request_body = RequestPeering,
    responses((status = 201, body = PeeringView), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn request_peering(
    State(api): State<ApiState>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<PeeringView>), ApiError> {
    let tenant = caller.tenant()?.clone();
    let req: RequestPeering = parse_json(&body)?;
    let (p, _) = api
        .service
        .run(&caller.meta("POST /v1/peerings"), |cur, env| {
            cove_control::request_peering_in(&cur.state, &cur.specs, &tenant, env, req.clone())
        })
        .await?;
    Ok((StatusCode::CREATED, Json(p)))
}

/// The caller's peerings (either side), oldest first.
#[utoipa::path(get, path = "/v1/peerings", tag = "peerings",
    responses((status = 200, body = Vec<PeeringView>), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_peerings(
    State(api): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<PeeringView>>, ApiError> {
    let tenant = caller.tenant()?;
    let cur = api.service.current().await?;
    Ok(Json(cove_control::list_peerings(&cur.state, tenant)))
}

/// One of the caller's peerings.
#[utoipa::path(get, path = "/v1/peerings/{id}", tag = "peerings",
    params(("id" = String, Path, description = "peering id (pcx-…)")),
    responses((status = 200, body = PeeringView), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_peering(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PeeringView>, ApiError> {
    let tenant = caller.tenant()?;
    let cur = api.service.current().await?;
    Ok(Json(cove_control::get_peering(
        &cur.state,
        tenant,
        &PeeringId(id),
    )?))
}

type Step =
    fn(&ControlState, &TenantId, &Env, &PeeringId) -> Result<Outcome<PeeringView>, ControlError>;

async fn step(
    api: &ApiState,
    caller: &Caller,
    id: String,
    summary: &str,
    f: Step,
) -> Result<Json<PeeringView>, ApiError> {
    let tenant = caller.tenant()?.clone();
    let id = PeeringId(id);
    let (p, _) = api
        .service
        .run(&caller.meta(summary), |cur, env| {
            f(&cur.state, &tenant, env, &id)
        })
        .await?;
    Ok(Json(p))
}

/// Accepts a pending request (the accepter): `provisioning`, then `active` once the
/// kernel has the routes.
#[utoipa::path(post, path = "/v1/peerings/{id}/accept", tag = "peerings",
    params(("id" = String, Path, description = "peering id (pcx-…)")),
    responses((status = 200, body = PeeringView), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn accept_peering(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PeeringView>, ApiError> {
    let tenant = caller.tenant()?.clone();
    let id = PeeringId(id);
    let (p, _) = api
        .service
        .run(&caller.meta("POST /v1/peerings/{id}/accept"), |cur, env| {
            cove_control::accept_peering_in(&cur.state, &cur.specs, &tenant, env, &id)
        })
        .await?;
    Ok(Json(p))
}

/// Rejects a pending request (the accepter).
#[utoipa::path(post, path = "/v1/peerings/{id}/reject", tag = "peerings",
    params(("id" = String, Path, description = "peering id (pcx-…)")),
    responses((status = 200, body = PeeringView), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn reject_peering(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PeeringView>, ApiError> {
    step(
        &api,
        &caller,
        id,
        "POST /v1/peerings/{id}/reject",
        cove_control::reject_peering,
    )
    .await
}

/// Deletes a peering (either side an active one; the requester a pending one).
#[utoipa::path(delete, path = "/v1/peerings/{id}", tag = "peerings",
    params(("id" = String, Path, description = "peering id (pcx-…)")),
    responses((status = 200, body = PeeringView), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_peering(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PeeringView>, ApiError> {
    step(
        &api,
        &caller,
        id,
        "DELETE /v1/peerings/{id}",
        cove_control::delete_peering,
    )
    .await
}
