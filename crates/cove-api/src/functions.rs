//! Functions through the API: code upload (`POST /v1/functions/code`), deploy,
//! update, delete, list, get (`/v1/functions`, the tenant spec's `functions`, see
//! [`crate::fndecide`]), invoke and logs (over the [`FunctionRunner`] of the process
//! that runs them). Another tenant's function — even of the same name — or code is
//! not found (404).

use std::path::Path as FsPath;

use crate::spec::commit_spec;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cove_control::TenantId;
use cove_functions::code::{CodeError, MAX_UNZIPPED_BYTES};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::fndecide::{self, CreateFunction, FunctionView, UpdateFunction};
use crate::layer::Caller;
use crate::runner::{FunctionKey, InvocationType, InvokeCall, RunError};
use crate::service::{Current, Decided, Upload, upload_op};
use crate::{ApiState, parse_json};

/// Lambda's limit on a zipped deployment package uploaded directly (50 MB).
pub const MAX_ZIP_BYTES: usize = 52_428_800;

/// Lambda's limit on a synchronous invocation's payload (6 MB).
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// What an upload answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UploadAnswer {
    /// `sha256:<64 hex>`: the digest of the unpacked code (every file's path, kind,
    /// mode and contents), not of the zip's bytes, so the same code zipped twice
    /// (other timestamps, order or compression) is the same package. Give it as a
    /// function's `code`.
    pub code: String,
    /// Bytes of the unpacked files.
    pub size: u64,
}

fn no_code_store() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceException",
        None,
        "this API server has no code store: it does not run functions",
        "use the API of `cove serve` (the operator runs it with the function service)",
    )
}

fn code_error(e: &CodeError) -> ApiError {
    match e {
        CodeError::Zip { reason, .. } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            Some("body"),
            format!("the zip cannot be unpacked: {reason}"),
            "zip the function's files with paths relative to its top (no `..`, no absolute paths, no links leading out)",
        ),
        CodeError::TooLarge { size, .. } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            Some("body"),
            format!(
                "Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes (this package unpacks to {size})"
            ),
            "leave out what the function does not need",
        ),
        other => ApiError::internal(other),
    }
}

/// Unpacks `zip` into the code store (blocking).
fn snapshot_zip(store: &FsPath, zip: &[u8]) -> Result<cove_functions::config::CodeRef, ApiError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(store)
        .map_err(|e| ApiError::internal(&e))?;
    let mut name = [0u8; 12];
    getrandom::fill(&mut name).map_err(|e| ApiError::internal(&e))?;
    let hex: String = name.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = store.join(format!(".upload-{hex}.zip"));
    let written = std::fs::write(&tmp, zip).map_err(|e| ApiError::internal(&e));
    let snap = written
        .and_then(|()| cove_functions::code::snapshot(&tmp, store).map_err(|e| code_error(&e)));
    let _ = std::fs::remove_file(&tmp);
    snap
}

/// Uploads a function's code: the body is a zip (at most 50 MB, unpacking to at
/// most 250 MB; no entry may lead outside the package). The code is unpacked into
/// the content-addressed code store and recorded as the caller's; only the caller
/// may deploy it.
#[utoipa::path(post, path = "/v1/functions/code", tag = "functions",
    request_body(content = Vec<u8>, content_type = "application/zip"),
    responses((status = 201, body = UploadAnswer), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn upload_code(
    State(api): State<ApiState>,
    caller: Caller,
    body: Body,
) -> Result<(StatusCode, Json<UploadAnswer>), ApiError> {
    let tenant = caller.tenant()?.clone();
    let store = api.code_store.clone().ok_or_else(no_code_store)?;
    let zip = read_limited(body, MAX_ZIP_BYTES).await.ok_or_else(|| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLargeException",
            Some("body"),
            format!("Zipped size must be at most {MAX_ZIP_BYTES} bytes"),
            "leave out what the function does not need",
        )
    })?;
    if zip.is_empty() {
        return Err(ApiError::invalid(
            "body",
            "the request has no body",
            "send the zip file as the body (Content-Type: application/zip)",
        ));
    }
    let zip_size = zip.len() as u64;
    let zip_sha256 = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        sha2::Digest::finalize(sha2::Digest::chain_update(sha2::Sha256::default(), &zip)),
    );
    let snap = tokio::task::spawn_blocking(move || snapshot_zip(&store, &zip))
        .await
        .map_err(|e| ApiError::internal(&e))??;
    let now = crate::service::os_env()?.now;
    let upload = Upload {
        sha256: snap.sha256.clone(),
        size: snap.size,
        zip_size,
        zip_sha256: Some(zip_sha256),
        uploaded_at: now,
    };
    api.service
        .run(&caller.meta("POST /v1/functions/code"), |cur, _env| {
            // The same code again: kept, unless another zip brought it (Lambda's
            // `CodeSha256` and `CodeSize` are the last zip's).
            let known = cur.uploads.get(&tenant).and_then(|u| u.get(&upload.sha256));
            let docs = if known.is_some_and(|u| u.zip_sha256 == upload.zip_sha256) {
                Vec::new()
            } else {
                let mut upload = upload.clone();
                if let Some(first) = known {
                    upload.uploaded_at = first.uploaded_at;
                }
                vec![upload_op(&tenant, &upload).map_err(|e| {
                    cove_control::ControlError::general(
                        cove_control::ErrorCode::InvalidParameterValue,
                        e.to_string(),
                        String::new(),
                    )
                })?]
            };
            Ok(Decided {
                value: (),
                changes: Vec::new(),
                specs: Vec::new(),
                docs,
            })
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(UploadAnswer {
            code: format!("{}{}", cove_control::CODE_DIGEST_PREFIX, snap.sha256),
            size: snap.size,
        }),
    ))
}

/// Deploys a function into one of the caller's networks (its VPC's `functions` in
/// the caller's spec). It runs once the reconciler applied it: until then an
/// invocation answers 409.
#[utoipa::path(post, path = "/v1/functions", tag = "functions",
    request_body = CreateFunction,
    responses((status = 201, body = FunctionView), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_function(
    State(api): State<ApiState>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<FunctionView>), ApiError> {
    let req: CreateFunction = parse_json(&body)?;
    let v = commit_spec(&api, &caller, "POST /v1/functions", |cur, t| {
        fndecide::create(cur, t, &req)
    })
    .await?;
    let cur = api.service.current().await?;
    Ok((
        StatusCode::CREATED,
        Json(with_state(&api, &cur, caller.tenant()?, v)),
    ))
}

/// The caller's functions.
#[utoipa::path(get, path = "/v1/functions", tag = "functions",
    responses((status = 200, body = Vec<FunctionView>), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_functions(
    State(api): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<FunctionView>>, ApiError> {
    let tenant = caller.tenant()?;
    let cur = api.service.current().await?;
    let views = fndecide::list(&cur, tenant);
    Ok(Json(
        views
            .into_iter()
            .map(|v| with_state(&api, &cur, tenant, v))
            .collect(),
    ))
}

/// The view with its state, when this server runs functions.
fn with_state(api: &ApiState, cur: &Current, tenant: &TenantId, v: FunctionView) -> FunctionView {
    let (Some(runner), Some(t)) = (&api.runner, cur.state.tenants.get(tenant)) else {
        return v;
    };
    let running = runner.running(&FunctionKey {
        tenant: t.name.clone(),
        name: v.name.clone(),
    });
    v.with_state(running.as_ref())
}

/// One of the caller's functions.
#[utoipa::path(get, path = "/v1/functions/{name}", tag = "functions",
    params(("name" = String, Path, description = "function name")),
    responses((status = 200, body = FunctionView), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_function(
    State(api): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<FunctionView>, ApiError> {
    let tenant = caller.tenant()?;
    let cur = api.service.current().await?;
    let v = fndecide::get(&cur, tenant, &name)?;
    Ok(Json(with_state(&api, &cur, tenant, v)))
}

/// Changes a function's code or configuration.
#[utoipa::path(patch, path = "/v1/functions/{name}", tag = "functions",
    params(("name" = String, Path, description = "function name")),
    request_body = UpdateFunction,
    responses((status = 200, body = FunctionView), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_function(
    State(api): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<FunctionView>, ApiError> {
    let req: UpdateFunction = parse_json(&body)?;
    let v = commit_spec(&api, &caller, "PATCH /v1/functions", |cur, t| {
        fndecide::update(cur, t, &name, &req)
    })
    .await?;
    let cur = api.service.current().await?;
    Ok(Json(with_state(&api, &cur, caller.tenant()?, v)))
}

/// Deletes a function (its environments end once the reconciler applied it).
#[utoipa::path(delete, path = "/v1/functions/{name}", tag = "functions",
    params(("name" = String, Path, description = "function name")),
    responses((status = 204), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_function(
    State(api): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    commit_spec(&api, &caller, "DELETE /v1/functions", |cur, t| {
        fndecide::delete(cur, t, &name).map(|s| (s, ()))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn no_runner() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceException",
        None,
        "this API server does not run functions",
        "use the API of `cove serve` (the operator runs it with the function service)",
    )
}

/// The runner's refusal as an API error; a function the runner does not run yet
/// (deployed, not applied) is Lambda's `ResourceConflictException` (Pending).
fn run_error(name: &str, e: RunError) -> ApiError {
    if e.status == 404 {
        return ApiError::new(
            StatusCode::CONFLICT,
            "ResourceConflictException",
            Some("name"),
            format!(
                "The operation cannot be performed at this time. The function {name} is currently in the following state: Pending"
            ),
            "retry once the deployment is applied (a moment)",
        );
    }
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    ApiError::new(status, &e.code, None, e.message, "")
}

/// The caller's function as the runner names it (404 if the caller has none).
async fn key_of(api: &ApiState, caller: &Caller, name: &str) -> Result<FunctionKey, ApiError> {
    let tenant = caller.tenant()?;
    let cur = api.service.current().await?;
    // Only whether the caller has it: no copy of its spec, no views.
    let has = cur
        .specs
        .get(tenant)
        .is_some_and(|s| fndecide::position(s, name).is_some());
    if !has {
        return Err(fndecide::not_found(name));
    }
    let t = cur
        .state
        .tenants
        .get(tenant)
        .ok_or_else(|| fndecide::not_found(name))?;
    Ok(FunctionKey {
        tenant: t.name.clone(),
        name: name.to_owned(),
    })
}

/// Invokes one of the caller's functions, as Lambda's Invoke: the body is the
/// event; `X-Amz-Invocation-Type` `RequestResponse` (default: the answer, with
/// `X-Amz-Function-Error: Unhandled` and the error document when the function
/// failed) or `Event` (202, queued, retried twice).
#[utoipa::path(post, path = "/v1/functions/{name}/invocations", tag = "functions",
    params(("name" = String, Path, description = "function name"),
        ("X-Amz-Invocation-Type" = Option<String>, Header, description = "RequestResponse (default) or Event")),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, description = "the function's answer"), (status = 202),
        (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn invoke_function(
    State(api): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    invoke_as(&api, &caller, &name, &headers, body).await
}

/// [`invoke_function`] for a caller authenticated in this process (Lambda's
/// `Invoke`, which checked the request's signature): the same checks and
/// answer, without a pass through the router.
pub async fn invoke_as(
    api: &ApiState,
    caller: &Caller,
    name: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let function = key_of(api, caller, name).await?;
    // Lambda's 6 MB limit of a synchronous payload (the runner checks an event's
    // 1 MB); read here, past the router's default body limit.
    let body = read_limited(body, MAX_PAYLOAD_BYTES)
        .await
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestTooLargeException",
                Some("body"),
                format!(
                    "Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the InvokeFunction operation"
                ),
                "send a smaller event (or a reference to the data)",
            )
        })?;
    let kind = match headers
        .get("x-amz-invocation-type")
        .map(|v| v.to_str().unwrap_or("?"))
    {
        None | Some("RequestResponse") => InvocationType::RequestResponse,
        Some("Event") => InvocationType::Event,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                Some("X-Amz-Invocation-Type"),
                format!("X-Amz-Invocation-Type `{other}` is not one of RequestResponse, Event"),
                "leave the header out for a synchronous invocation",
            ));
        }
    };
    let runner = api.runner.clone().ok_or_else(no_runner)?;
    let answer = runner
        .invoke(InvokeCall {
            function,
            payload: body.to_vec(),
            kind,
            request_id: caller.request_id.clone(),
        })
        .await
        .map_err(|e| run_error(name, e))?;
    let status = match kind {
        InvocationType::RequestResponse => StatusCode::OK,
        InvocationType::Event => StatusCode::ACCEPTED,
    };
    let mut resp = (status, answer.payload).into_response();
    let h = resp.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        "x-amz-executed-version",
        HeaderValue::from_static("$LATEST"),
    );
    if let Ok(v) = HeaderValue::from_str(&answer.request_id) {
        h.insert("x-amzn-requestid", v);
    }
    if let Some(fe) = answer
        .function_error
        .and_then(|f| HeaderValue::from_str(&f).ok())
    {
        h.insert("x-amz-function-error", fe);
    }
    Ok(resp)
}

/// How much of the logs.
#[derive(Debug, Clone, Deserialize, IntoParams)]
pub struct LogsQuery {
    /// Only the last N bytes (default 65,536, at most 16 MiB).
    pub tail: Option<u64>,
}

/// The end of the logs of one of the caller's functions (every environment's
/// output and the platform's START/END/REPORT lines), as text.
#[utoipa::path(get, path = "/v1/functions/{name}/logs", tag = "functions",
    params(("name" = String, Path, description = "function name"), LogsQuery),
    responses((status = 200, description = "the logs", content_type = "text/plain"),
        (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn function_logs(
    State(api): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<LogsQuery>,
) -> Result<Response, ApiError> {
    let function = key_of(&api, &caller, &name).await?;
    let tail = q.tail.unwrap_or(65_536).min(16 << 20);
    let runner = api.runner.clone().ok_or_else(no_runner)?;
    let text = runner
        .logs(function, tail)
        .await
        .map_err(|e| run_error(&name, e))?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// One of the caller's functions' totals since this server started: invocations,
/// errors, throttles, cold starts, durations, GB-seconds, environments (zeros for
/// a function that has not run).
#[utoipa::path(get, path = "/v1/functions/{name}/metrics", tag = "functions",
    params(("name" = String, Path, description = "function name")),
    responses((status = 200, body = crate::runner::FunctionStats), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn function_metrics(
    State(api): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<crate::runner::FunctionStats>, ApiError> {
    let function = key_of(&api, &caller, &name).await?;
    let runner = api.runner.clone().ok_or_else(no_runner)?;
    Ok(Json(runner.stats(&function).unwrap_or_default()))
}

/// How much of a too-large body is still read (and dropped) before the refusal is
/// sent: a client that is still sending then reads the 413 instead of finding its
/// connection reset under it. A longer body is cut off.
const DRAIN_BYTES: usize = 16 << 20;

/// Reads `body` whole if it is at most `limit` bytes; `None` if it is longer (or
/// broken off), after reading and dropping up to [`DRAIN_BYTES`] more of it.
async fn read_limited(mut body: Body, limit: usize) -> Option<axum::body::Bytes> {
    use http_body_util::BodyExt;
    let mut kept: Vec<u8> = Vec::new();
    let mut dropped = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.ok()?.into_data() else {
            continue;
        };
        if dropped == 0 && kept.len() + data.len() <= limit {
            kept.extend_from_slice(&data);
            continue;
        }
        dropped += kept.len() + data.len();
        kept = Vec::new();
        if dropped > limit + DRAIN_BYTES {
            return None;
        }
    }
    (dropped == 0).then(|| kept.into())
}
