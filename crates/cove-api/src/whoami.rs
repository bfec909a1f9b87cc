//! `GET /v1/whoami`: who the caller's token is (the operator, or which tenant):
//! what a client (the web console) asks once after a sign-in.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::layer::Caller;

/// The caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    /// `admin` (the operator) or `tenant`.
    pub kind: String,
    /// The token's id (`tok-…`).
    pub token_id: String,
    /// The tenant's id, for a tenant.
    pub tenant_id: Option<String>,
    /// The tenant's name, for a tenant.
    pub tenant_name: Option<String>,
    /// The tenant's account id, for a tenant.
    pub account_id: Option<String>,
}

/// Who the caller is.
#[utoipa::path(get, path = "/v1/whoami", tag = "admin",
    responses((status = 200, body = WhoAmI), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn whoami(State(api): State<ApiState>, caller: Caller) -> Result<Json<WhoAmI>, ApiError> {
    let token_id = caller.actor.token().0.clone();
    let Some(tenant) = caller.actor.tenant() else {
        return Ok(Json(WhoAmI {
            kind: "admin".to_owned(),
            token_id,
            tenant_id: None,
            tenant_name: None,
            account_id: None,
        }));
    };
    let cur = api.service.current().await?;
    let t = cur.state.tenants.get(tenant);
    Ok(Json(WhoAmI {
        kind: "tenant".to_owned(),
        token_id,
        tenant_id: Some(tenant.0.clone()),
        tenant_name: t.map(|t| t.name.clone()),
        account_id: t.map(|t| t.account_id.clone()),
    }))
}
