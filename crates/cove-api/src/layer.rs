//! What every request goes through: a request id (`x-request-id`, and in every
//! error body), authentication (`Authorization: Bearer …` → [`Caller`], or the
//! identity of an in-process call, [`crate::local`]) and
//! `Idempotency-Key` on POST/PUT/PATCH/DELETE (the first answer replayed, another
//! body refused with 409 `IdempotentParameterMismatch`).

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cove_control::{Actor, ErrorCode, TenantId, UnixTime, authenticate, idempotency};
use cove_store::{ChangeMeta, IdempotencyBegin};

use crate::ApiState;
use crate::error::{ApiError, REQUEST_ID, current_request_id};

/// The request id header.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The idempotency key header.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// Set on a replayed answer.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// Largest request body read (a spec of thousands of objects fits).
pub const MAX_REQUEST_BYTES: usize = 4 << 20;
/// Largest answer kept for a replay.
const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// Paths answered without a token.
const PUBLIC: [&str; 2] = ["/healthz", "/openapi.json"];

/// Who is calling (from the middleware): the authenticated actor and the request id.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's actor.
    pub actor: Actor,
    /// The request's id.
    pub request_id: String,
}

impl Caller {
    /// The tenant a tenant endpoint acts for; the operator's token is refused there.
    pub fn tenant(&self) -> Result<&TenantId, ApiError> {
        self.actor.tenant().ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "UnauthorizedOperation",
                None,
                "this endpoint acts for a tenant; the admin token has no tenant",
                "call it with one of the tenant's tokens (POST /v1/tenants/{id}/tokens)",
            )
        })
    }

    /// The audit metadata of a change made for this caller.
    pub fn meta(&self, summary: impl Into<String>) -> ChangeMeta {
        ChangeMeta {
            tenant: self.actor.tenant().map(|t| t.0.clone()),
            token_id: Some(self.actor.token().0.clone()),
            request_id: Some(self.request_id.clone()),
            summary: summary.into(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Caller, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| auth_error("the request has no token"))
    }
}

fn auth_error(message: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        ErrorCode::AuthFailure.as_str(),
        Some("Authorization"),
        message,
        "send `Authorization: Bearer cove_…` with a valid token",
    )
}

fn new_request_id() -> String {
    let mut b = [0u8; 12];
    if getrandom::fill(&mut b).is_err() {
        // The id only tells requests apart in logs: a counter is good enough.
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        b[..8].copy_from_slice(&n.to_be_bytes());
    }
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("req-{hex}")
}

/// The middleware: request id, then authentication, then idempotency.
pub async fn middleware(State(api): State<ApiState>, req: Request, next: Next) -> Response {
    let id = new_request_id();
    let mut resp = REQUEST_ID
        .scope(id.clone(), async move {
            match handle(api, req, next).await {
                Ok(r) => as_json_error(r).await,
                Err(e) => e.into_response(),
            }
        })
        .await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    resp
}

/// axum's own refusals (405, a malformed query or path) are plain text: they are
/// answered as the API's JSON error like every other.
async fn as_json_error(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let text = to_bytes(resp.into_body(), 64 << 10)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let (code, hint) = if status == StatusCode::METHOD_NOT_ALLOWED {
        (
            "MethodNotAllowed",
            "see /openapi.json for the methods of each route",
        )
    } else {
        (
            "InvalidParameterValue",
            "see /openapi.json for the route's parameters",
        )
    };
    let message = if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("refused").to_owned()
    } else {
        text.trim().to_owned()
    };
    ApiError::new(status, code, None, message, hint).into_response()
}

async fn handle(api: ApiState, mut req: Request, next: Next) -> Result<Response, ApiError> {
    if PUBLIC.contains(&req.uri().path()) {
        return Ok(next.run(req).await);
    }
    let cur = api.service.current().await?;
    let now = crate::service::os_env()?.now;
    // An in-process call (the CLI's embedded mode) carries its identity as a
    // private request extension that no HTTP request can have; any other request
    // authenticates with its bearer token.
    let local = req.extensions().get::<crate::local::LocalCall>().cloned();
    let actor = match local {
        Some(local) => local.actor(&cur.state)?,
        None => {
            let secret = req
                .headers()
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(|s| s.trim().to_owned())
                .ok_or_else(|| auth_error("the request has no `Authorization: Bearer …` token"))?;
            authenticate(&cur.state, &secret, now).map_err(ApiError::from)?
        }
    };
    let caller = Caller {
        actor,
        request_id: current_request_id(),
    };
    req.extensions_mut().insert(caller.clone());
    let mutating = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let key = req
        .headers()
        .get(IDEMPOTENCY_HEADER)
        .map(|v| v.to_str().map(str::to_owned));
    // An upload is content-addressed, so repeating it is harmless, and its body may
    // be far larger than what idempotency records keep.
    let upload = req.uri().path() == "/v1/functions/code";
    match key {
        Some(key) if mutating && !upload => {
            let key = key.map_err(|_| {
                ApiError::invalid(
                    "Idempotency-Key",
                    "the idempotency key is not visible ASCII",
                    "send a fresh random value (e.g. a UUID) per logical request",
                )
            })?;
            idempotent(api, caller, key, now, req, next).await
        }
        _ => Ok(next.run(req).await),
    }
}

async fn idempotent(
    api: ApiState,
    caller: Caller,
    key: String,
    now: UnixTime,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    idempotency::check_key(&key)?;
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, MAX_REQUEST_BYTES).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLarge",
            None,
            format!("the request body is larger than {MAX_REQUEST_BYTES} bytes"),
            "send a smaller document",
        )
    })?;
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
    let hash = idempotency::request_hash(parts.method.as_str(), &path, &bytes);
    let tenant = caller.actor.tenant().map(|t| t.0.clone());
    let store = &api.service.store;
    let begun = store
        .idempotency_begin(tenant.as_deref(), &key, &hash)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    match begun {
        IdempotencyBegin::Replay(r) => {
            let stored = idempotency::IdempotencyRecord {
                request_hash: r.request_hash,
                status: r.status,
                response: r.response,
                created_at: now,
            };
            // The store matched the hash; the core decides (and would refuse) alike.
            idempotency::decide(Some(&stored), &hash, now)?;
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
            let mut resp = (
                status,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                stored.response,
            )
                .into_response();
            resp.headers_mut()
                .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
            Ok(resp)
        }
        IdempotencyBegin::Mismatch { stored_hash } => {
            let stored = idempotency::IdempotencyRecord {
                request_hash: stored_hash,
                status: 0,
                response: String::new(),
                created_at: now,
            };
            idempotency::decide(Some(&stored), &hash, now)?;
            Err(ApiError::internal(&std::io::Error::other(
                "the store reported a mismatch for an equal request hash",
            )))
        }
        IdempotencyBegin::InProgress => Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::IncorrectState.as_str(),
            Some("Idempotency-Key"),
            "a request with this idempotency key is still being handled",
            "wait for its answer, then resend the request to get it again",
        )),
        IdempotencyBegin::Started => {
            let req = Request::from_parts(parts, Body::from(bytes));
            let resp = next.run(req).await;
            let (rparts, rbody) = resp.into_parts();
            let rbytes: Bytes = match to_bytes(rbody, MAX_RESPONSE_BYTES).await {
                Ok(b) => b,
                Err(e) => {
                    let _ = store
                        .idempotency_abandon(tenant.as_deref(), &key, &hash)
                        .await;
                    return Err(ApiError::internal(&e));
                }
            };
            if rparts.status.is_success() {
                let text = String::from_utf8_lossy(&rbytes);
                store
                    .idempotency_finish(
                        tenant.as_deref(),
                        &key,
                        &hash,
                        rparts.status.as_u16(),
                        &text,
                    )
                    .await
                    .map_err(|e| ApiError::internal(&e))?;
            } else {
                // A refused request changed nothing: a retry with the key runs again.
                store
                    .idempotency_abandon(tenant.as_deref(), &key, &hash)
                    .await
                    .map_err(|e| ApiError::internal(&e))?;
            }
            Ok(Response::from_parts(rparts, Body::from(rbytes)))
        }
    }
}
