//! In-process calls of the API: the CLI's **embedded mode** (`cove tenant|token|
//! ip-pool|network|peering` without `--server`). A call goes through the very same
//! router, middleware (request id, idempotency), handlers, scoping and errors as an
//! HTTP request; only the caller is not a bearer token but a [`LocalIdentity`]: the
//! local operator (root, who can read the store anyway), acting as the admin or as
//! one tenant.
//!
//! The identity travels as a request extension of a type private to this module
//! ([`LocalCall`]): nothing that arrives over HTTP can carry it (hyper builds a
//! request's extensions itself, never from the wire), and no code outside this
//! module can make one, so [`call`] is the only way in. There is no header that
//! picks a tenant and no token is minted for the call, so nothing usable is left in
//! the store if the process dies. The audit log names the actor as
//! [`LOCAL_OPERATOR`] (its token id) with the tenant it acted for.

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use cove_control::{Actor, ControlState, ErrorCode, TenantId, TokenId};
use tower::ServiceExt;

use crate::ApiState;
use crate::error::ApiError;

/// The token id the audit log records for an in-process call.
pub const LOCAL_OPERATOR: &str = "local-operator";

/// Largest answer read back from an in-process call.
const MAX_ANSWER_BYTES: usize = 64 << 20;

/// Who an in-process call acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalIdentity {
    /// The operator (the admin endpoints: tenants, tokens, the IP pool).
    Operator,
    /// The operator acting as one tenant, named by its id (`ten-…`) or name.
    Tenant(String),
    /// A tenant whose request was signed with its access key (the AWS-compatible
    /// APIs, which checked the signature): the audit log names the key.
    AccessKey {
        /// The tenant's id.
        tenant: TenantId,
        /// The access key id that signed.
        access_key_id: String,
    },
}

/// The request extension that carries a [`LocalIdentity`]; private, so only
/// [`call`] sets it.
#[derive(Debug, Clone)]
pub(crate) struct LocalCall(LocalIdentity);

impl LocalCall {
    /// The actor of this call in `state`; a tenant that does not exist is
    /// `InvalidTenantID.NotFound` on the field `tenant`.
    pub(crate) fn actor(&self, state: &ControlState) -> Result<Actor, ApiError> {
        let token = TokenId(LOCAL_OPERATOR.to_owned());
        match &self.0 {
            LocalIdentity::Operator => Ok(Actor::Admin { token }),
            LocalIdentity::AccessKey {
                tenant,
                access_key_id,
            } => match state.tenants.get(tenant) {
                Some(_) => Ok(Actor::Tenant {
                    tenant: tenant.clone(),
                    token: TokenId(format!("access-key:{access_key_id}")),
                }),
                None => Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    ErrorCode::AuthFailure.as_str(),
                    None,
                    "the tenant of this access key is gone",
                    "",
                )),
            },
            LocalIdentity::Tenant(who) => {
                let by_id = state.tenants.get(&TenantId(who.clone()));
                let by_name = state.tenants.values().find(|t| &t.name == who);
                match (by_id, by_name) {
                    // A tenant named like another's id: never guess which one.
                    (Some(a), Some(b)) if a.id != b.id => Err(ApiError::invalid(
                        "tenant",
                        format!("`{who}` is one tenant's id and another tenant's name"),
                        "give the id of the tenant you mean (`cove tenant list`)",
                    )),
                    (Some(t), _) | (None, Some(t)) => Ok(Actor::Tenant {
                        tenant: t.id.clone(),
                        token,
                    }),
                    (None, None) => Err(ApiError::new(
                        StatusCode::NOT_FOUND,
                        ErrorCode::InvalidTenantIdNotFound.as_str(),
                        Some("tenant"),
                        format!("tenant `{who}` does not exist"),
                        "give a tenant's name or id (`cove tenant list`)",
                    )),
                }
            }
        }
    }
}

/// An in-process answer: the status and the body as the HTTP API sends them.
#[derive(Debug, Clone)]
pub struct LocalAnswer {
    /// HTTP status.
    pub status: u16,
    /// The body (JSON, or empty for 204).
    pub body: Vec<u8>,
    /// The answer's headers (names in lower case).
    pub headers: Vec<(String, String)>,
}

/// Failures of an in-process call that are not an API answer.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The request could not be built (a method or path that is not HTTP).
    #[error("cannot build the request {method} {path}")]
    Request {
        /// The method.
        method: String,
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: axum::http::Error,
    },
    /// The answer's body could not be read.
    #[error("cannot read the answer of {method} {path}")]
    Answer {
        /// The method.
        method: String,
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: axum::Error,
    },
}

/// Runs `method path` through the API's router in this process exactly as an HTTP
/// request with `Authorization: Bearer <token>` would (the web console's calls):
/// the same authentication, scoping, idempotency and errors; nothing more.
pub async fn call_bearer(
    api: &ApiState,
    token: &str,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Result<LocalAnswer, LocalError> {
    let auth = format!("Bearer {token}");
    let req = request(method, path, Some(&auth), content_type, body)?;
    answer(api, req, method, path).await
}

/// The request `method path` with an optional `Authorization` and body type.
fn request(
    method: &str,
    path: &str,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Result<Request<Body>, LocalError> {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(a) = authorization {
        req = req.header(header::AUTHORIZATION, a);
    }
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    req.body(Body::from(body))
        .map_err(|source| LocalError::Request {
            method: method.to_owned(),
            path: path.to_owned(),
            source,
        })
}

/// Like [`call`], with more request headers (e.g. `x-amz-invocation-type`).
pub async fn call_with_headers(
    api: &ApiState,
    who: &LocalIdentity,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<LocalAnswer, LocalError> {
    let content_type = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| *v);
    let mut req = request(method, path, None, content_type, body)?;
    for (k, v) in headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("content-type"))
    {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            axum::http::HeaderValue::from_str(v),
        ) {
            req.headers_mut().insert(k, v);
        }
    }
    req.extensions_mut().insert(LocalCall(who.clone()));
    answer(api, req, method, path).await
}

/// Runs `method path` (with a body of `content_type`) through the API's router in
/// this process, as `who`.
pub async fn call(
    api: &ApiState,
    who: &LocalIdentity,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Result<LocalAnswer, LocalError> {
    let mut req = request(method, path, None, content_type, body)?;
    req.extensions_mut().insert(LocalCall(who.clone()));
    answer(api, req, method, path).await
}

async fn answer(
    api: &ApiState,
    req: Request<Body>,
    method: &str,
    path: &str,
) -> Result<LocalAnswer, LocalError> {
    let resp = match crate::router(api.clone()).oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let body = to_bytes(resp.into_body(), MAX_ANSWER_BYTES)
        .await
        .map_err(|source| LocalError::Answer {
            method: method.to_owned(),
            path: path.to_owned(),
            source,
        })?;
    Ok(LocalAnswer {
        status,
        body: body.to_vec(),
        headers,
    })
}
