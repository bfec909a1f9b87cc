//! Elastic IPs through cove's own API (`/v1/connect/addresses`): allocate one from
//! the operator's pool, list them (with what each is associated with in the
//! tenant's spec), release one. EC2's `AllocateAddress`, `DescribeAddresses` and
//! `ReleaseAddress` answer the same objects.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cove_control::ElasticIp;
use serde::Serialize;
use utoipa::ToSchema;

use crate::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::layer::Caller;

/// An Elastic IP as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AddressView {
    /// The Elastic IP.
    #[serde(flatten)]
    pub address: ElasticIp,
    /// The spec field that associates it (`vpcs[app].enis[web].public_ip`), if one
    /// does.
    pub associated: Option<String>,
}

fn view_of(spec: &cove_model::spec::TenantSpec, e: &ElasticIp) -> AddressView {
    AddressView {
        associated: cove_control::addresses::associations(spec)
            .into_iter()
            .find(|(_, a)| *a == e.id)
            .map(|(field, _)| field),
        address: e.clone(),
    }
}

/// Allocates an Elastic IP from the operator's pool (counted in the `static_ips`
/// quota with the networks' static IPs).
#[utoipa::path(post, path = "/v1/connect/addresses", tag = "networks",
    responses((status = 201, body = AddressView), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn allocate_address(
    State(api): State<ApiState>,
    caller: Caller,
) -> Result<(StatusCode, Json<AddressView>), ApiError> {
    let tenant = caller.tenant()?.clone();
    let (e, _) = api
        .service
        .run(&caller.meta("POST /v1/connect/addresses"), |cur, env| {
            cove_control::allocate_address(&cur.state, &tenant, env)
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(AddressView {
            address: e,
            associated: None,
        }),
    ))
}

/// The caller's Elastic IPs, oldest first.
#[utoipa::path(get, path = "/v1/connect/addresses", tag = "networks",
    responses((status = 200, body = Vec<AddressView>), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_addresses(
    State(api): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<AddressView>>, ApiError> {
    let tenant = caller.tenant()?;
    let cur = api.service.current().await?;
    let spec = cur.spec_of(tenant);
    Ok(Json(
        cove_control::list_addresses(&cur.state, tenant)
            .into_iter()
            .map(|e| view_of(&spec, e))
            .collect(),
    ))
}

/// Releases one of the caller's Elastic IPs (refused while its spec associates it).
#[utoipa::path(delete, path = "/v1/connect/addresses/{id}", tag = "networks",
    params(("id" = String, Path, description = "allocation id (`eipalloc-…`)")),
    responses((status = 204), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn release_address(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant()?.clone();
    api.service
        .run(&caller.meta("DELETE /v1/connect/addresses"), |cur, env| {
            let spec = cur.spec_of(&tenant);
            cove_control::release_address(&cur.state, &tenant, &spec, &id, env)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
