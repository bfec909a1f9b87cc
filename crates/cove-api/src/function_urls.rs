//! Function URLs through the API (`/v1/functions/{name}/url`): make, read,
//! change and remove a function's URL configuration (the tenant spec's
//! `functions[].url`). The URL itself is served by the AWS-compatible layer at
//! `/lambda-url/<url-id>/` on the API's listener.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cove_control::TenantId;
use cove_model::spec::{FunctionUrlSpec, TenantSpec};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::fndecide::{not_found, position, validated};
use crate::layer::Caller;
use crate::service::Current;
use crate::spec::{commit_spec, commit_spec_and};
use crate::{ApiState, parse_json};

/// The path prefix function URLs are served under (then `<url-id>/`).
pub const URL_PREFIX: &str = "/lambda-url/";

/// `POST`/`PATCH /v1/functions/{name}/url`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionUrlRequest {
    /// `NONE` or `AWS_IAM` (required to make one; kept when absent on a change).
    #[serde(default)]
    pub auth_type: Option<String>,
    /// Lambda's CORS settings (`AllowOrigins`, `AllowMethods`, …), applied to the
    /// URL's answers.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub cors: Option<serde_json::Value>,
}

/// A function's URL configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FunctionUrlView {
    /// The function.
    pub function: String,
    /// `<url-id>` (32 hex digits): the same for the function while it exists.
    pub url_id: String,
    /// Where it is served on this listener: `/lambda-url/<url-id>/`.
    pub path: String,
    /// `NONE` or `AWS_IAM`.
    pub auth_type: String,
    /// CORS settings.
    #[schema(value_type = Option<Object>)]
    pub cors: Option<serde_json::Value>,
    /// When it was made (ISO 8601).
    pub created: Option<String>,
}

/// The view of `name`'s URL in `tenant`.
fn view(cur: &Current, tenant: &TenantId, name: &str, u: &FunctionUrlSpec) -> FunctionUrlView {
    let tenant_name = cur
        .state
        .tenants
        .get(tenant)
        .map(|t| t.name.as_str())
        .unwrap_or_default();
    let id = cove_model::ids::function_url_id(tenant_name, name);
    FunctionUrlView {
        function: name.to_owned(),
        path: format!("{URL_PREFIX}{id}/"),
        url_id: id,
        auth_type: u.auth_type.clone(),
        cors: u.cors.clone(),
        created: u.created.clone(),
    }
}

fn no_url(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        Some("name"),
        format!("The resource you requested does not exist: function {name} has no URL"),
        "make one with POST /v1/functions/{name}/url",
    )
}

/// The auth type asked for, checked.
fn auth_type(text: Option<&str>) -> Result<String, ApiError> {
    match text.map(str::trim) {
        Some(t @ ("NONE" | "AWS_IAM")) => Ok(t.to_owned()),
        Some(other) => Err(ApiError::invalid(
            "auth_type",
            format!("`{other}` is not a function URL's auth type"),
            "use NONE (anyone may call the URL) or AWS_IAM (requests signed with your access key)",
        )),
        None => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            Some("auth_type"),
            "`auth_type` is required",
            "give NONE or AWS_IAM",
        )),
    }
}

/// Lambda's checks of a URL's `Cors` (its fields, methods, limits).
fn check_cors(cors: Option<&serde_json::Value>) -> Result<(), ApiError> {
    match cors.map(cove_functions::cors::Cors::parse) {
        Some(Err(e)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            Some("cors"),
            e.to_string(),
            "give Lambda's Cors fields: AllowOrigins, AllowMethods, AllowHeaders, ExposeHeaders (lists of strings), MaxAge (0 to 86400), AllowCredentials",
        )),
        _ => Ok(()),
    }
}

/// The caller's spec with `name`'s URL set by `change` (which answers the new
/// URL from the old one), validated.
fn changed(
    cur: &Current,
    tenant: &TenantId,
    name: &str,
    change: impl FnOnce(Option<&FunctionUrlSpec>) -> Result<Option<FunctionUrlSpec>, ApiError>,
) -> Result<(TenantSpec, Option<FunctionUrlSpec>), ApiError> {
    let mut spec = cur.spec_of(tenant);
    let (vi, fi) = position(&spec, name).ok_or_else(|| not_found(name))?;
    let f = &mut spec.vpcs[vi].functions[fi];
    f.url = change(f.url.as_ref())?;
    let url = f.url.clone();
    Ok((validated(cur, tenant, &spec)?, url))
}

/// Makes a function's URL (Lambda's `CreateFunctionUrlConfig`); 409 if it has one.
#[utoipa::path(post, path = "/v1/functions/{name}/url", tag = "functions",
    params(("name" = String, Path, description = "function name")),
    request_body = FunctionUrlRequest,
    responses((status = 201, body = FunctionUrlView), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_function_url(
    State(api): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<FunctionUrlView>), ApiError> {
    let req: FunctionUrlRequest = parse_json(&body)?;
    let v = commit_spec_and(&api, &caller, "POST /v1/functions/url", |cur, t, env| {
        let kind = auth_type(req.auth_type.as_deref())?;
        check_cors(req.cors.as_ref())?;
        let (spec, url) = changed(cur, t, &name, |old| {
            if old.is_some() {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "ResourceConflictException",
                    Some("name"),
                    format!("Failed to create function url config for [functionArn = {name}]. Error message:  FunctionUrlConfig exists for this Lambda function"),
                    "change it with PATCH /v1/functions/{name}/url, or delete it first",
                ));
            }
            Ok(Some(FunctionUrlSpec {
                auth_type: kind,
                cors: req.cors.clone(),
                created: Some(cove_functions::url::creation_time(env.now.0)),
            }))
        })?;
        let url = url.ok_or_else(|| no_url(&name))?;
        Ok((Some(spec), Vec::new(), view(cur, t, &name, &url)))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// A function's URL (Lambda's `GetFunctionUrlConfig`).
#[utoipa::path(get, path = "/v1/functions/{name}/url", tag = "functions",
    params(("name" = String, Path, description = "function name")),
    responses((status = 200, body = FunctionUrlView), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_function_url(
    State(api): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<FunctionUrlView>, ApiError> {
    let tenant = caller.tenant()?;
    let cur = api.service.current().await?;
    let spec = cur.spec_of(tenant);
    let (vi, fi) = position(&spec, &name).ok_or_else(|| not_found(&name))?;
    let url = spec.vpcs[vi].functions[fi]
        .url
        .as_ref()
        .ok_or_else(|| no_url(&name))?;
    Ok(Json(view(&cur, tenant, &name, url)))
}

/// Changes a function's URL (Lambda's `UpdateFunctionUrlConfig`): absent fields
/// stay.
#[utoipa::path(patch, path = "/v1/functions/{name}/url", tag = "functions",
    params(("name" = String, Path, description = "function name")),
    request_body = FunctionUrlRequest,
    responses((status = 200, body = FunctionUrlView), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_function_url(
    State(api): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<FunctionUrlView>, ApiError> {
    let req: FunctionUrlRequest = parse_json(&body)?;
    let v = commit_spec(&api, &caller, "PATCH /v1/functions/url", |cur, t| {
        check_cors(req.cors.as_ref())?;
        let (spec, url) = changed(cur, t, &name, |old| {
            let mut url = old.cloned().ok_or_else(|| no_url(&name))?;
            if req.auth_type.is_some() {
                url.auth_type = auth_type(req.auth_type.as_deref())?;
            }
            if req.cors.is_some() {
                url.cors.clone_from(&req.cors);
            }
            Ok(Some(url))
        })?;
        let url = url.ok_or_else(|| no_url(&name))?;
        let v = view(cur, t, &name, &url);
        Ok((spec, v))
    })
    .await?;
    Ok(Json(v))
}

/// Removes a function's URL (Lambda's `DeleteFunctionUrlConfig`).
#[utoipa::path(delete, path = "/v1/functions/{name}/url", tag = "functions",
    params(("name" = String, Path, description = "function name")),
    responses((status = 204), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_function_url(
    State(api): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    commit_spec(&api, &caller, "DELETE /v1/functions/url", |cur, t| {
        let (spec, _) = changed(cur, t, &name, |old| {
            old.ok_or_else(|| no_url(&name))?;
            Ok(None)
        })?;
        Ok((spec, ()))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The function a URL id names, and how its URL is served.
#[derive(Debug, Clone)]
pub struct UrlTarget {
    /// The function's tenant.
    pub tenant: TenantId,
    /// The function's name.
    pub name: String,
    /// `NONE` or `AWS_IAM`.
    pub auth_type: String,
    /// Its CORS settings, when they are given and valid.
    pub cors: Option<cove_functions::cors::Cors>,
}

/// The function whose URL has id `url_id` (looked up in the generation's index).
pub fn find_by_url_id(cur: &Current, url_id: &str) -> Option<UrlTarget> {
    let (tenant, name) = cur.function_url(url_id)?;
    let f = cur
        .specs
        .get(tenant)?
        .vpcs
        .iter()
        .flat_map(|v| &v.functions)
        .find(|f| f.name == name)?;
    let u = f.url.as_ref()?;
    Some(UrlTarget {
        tenant: tenant.clone(),
        name: f.name.clone(),
        auth_type: u.auth_type.clone(),
        cors: u
            .cors
            .as_ref()
            .and_then(|c| cove_functions::cors::Cors::parse(c).ok()),
    })
}
