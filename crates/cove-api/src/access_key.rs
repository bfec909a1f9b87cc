//! `GET /v1/access-key`: the caller's tenant's access key pair for the object
//! store (issue 15) — what its functions get as `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY`, and what a tenant's own tools (the AWS CLI on its
//! corporate network) sign requests with. Derived from the deployment's secret,
//! so it is the same on every call; the key identifies the tenant and its account.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::layer::Caller;

/// A tenant's access key pair.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccessKey {
    /// `AWS_ACCESS_KEY_ID` (`AKIA…`).
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// The tenant's account id (bucket policies' principals).
    pub account_id: String,
}

/// The caller's tenant's access key pair.
#[utoipa::path(get, path = "/v1/access-key", tag = "objects",
    responses((status = 200, body = AccessKey), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn access_key(
    State(api): State<ApiState>,
    caller: Caller,
) -> Result<Json<AccessKey>, ApiError> {
    let tenant = caller.tenant()?.clone();
    let secret = api.access_keys.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            None,
            "this server holds no access-key secret",
            "ask the `cove serve` that reconciles the deployment",
        )
    })?;
    let cur = api.service.current().await?;
    let t = cur.state.tenants.get(&tenant).ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "UnauthorizedOperation",
            None,
            "the token's tenant no longer exists",
            "sign in with a token of an existing tenant",
        )
    })?;
    let key = secret.tenant_key(&t.name);
    Ok(Json(AccessKey {
        access_key_id: key.access_key_id,
        secret_access_key: key.secret_access_key,
        account_id: t.account_id.clone(),
    }))
}
