//! cove's web console, served by `cove serve` next to the API: a tenant signs in
//! with an API token and runs its networks (static IP pair, subnets, NAT failover),
//! peerings, functions, reachability checks and flow logs in a browser; the
//! operator sees the tenants and the host's health.
//!
//! * Pages are rendered on the server (askama templates compiled into the binary);
//!   htmx (vendored, embedded) only makes navigation and forms smoother: every
//!   page works without script.
//! * Every page calls the control plane's API with the session's token through
//!   the API's own router ([`client`]): the console sees exactly what that token
//!   sees over HTTP, no more.
//! * [`session`]: the token stays on the server; the browser holds an
//!   `HttpOnly`, `Secure`, `SameSite=Strict` session cookie; every form carries a
//!   CSRF token.
//! * [`topology`]: the tenant's network as SVG, laid out on the server (pure).

pub mod assets;
pub mod client;
mod pages;
pub mod session;
pub mod topology;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use cove_api::ApiState;

/// What the console's handlers share.
#[derive(Debug, Clone)]
pub struct Console {
    /// The API it calls.
    pub api: ApiState,
    /// Signed-in sessions.
    pub sessions: Arc<session::Sessions>,
}

/// Largest upload (a function's zip, as the API takes it: 50 MB).
const MAX_UPLOAD_BYTES: usize = 50 << 20;

/// The console's routes, under `/console`.
pub fn router(api: ApiState) -> Router {
    let console = Console {
        api,
        sessions: Arc::default(),
    };
    Router::new()
        .route("/console", get(pages::auth::index))
        .route("/console/", get(pages::auth::index))
        .route(
            "/console/sign-in",
            get(pages::auth::sign_in_form).post(pages::auth::sign_in),
        )
        .route("/console/sign-out", post(pages::auth::sign_out))
        .route("/console/assets/{hash}/{name}", get(pages::asset))
        .route(
            "/console/networks",
            get(pages::networks::list).post(pages::networks::create),
        )
        .route("/console/networks/{id}", get(pages::networks::show))
        .route(
            "/console/networks/{id}/delete",
            post(pages::networks::delete),
        )
        .route("/console/topology", get(pages::topology::show))
        .route(
            "/console/peerings",
            get(pages::peerings::list).post(pages::peerings::request),
        )
        .route(
            "/console/peerings/{id}/{action}",
            post(pages::peerings::act),
        )
        .route(
            "/console/functions",
            get(pages::functions::list).post(pages::functions::deploy),
        )
        .route("/console/functions/{name}", get(pages::functions::show))
        .route(
            "/console/functions/{name}/invoke",
            post(pages::functions::invoke),
        )
        .route(
            "/console/functions/{name}/delete",
            post(pages::functions::delete),
        )
        .route("/console/reachability", get(pages::reach::show))
        .route("/console/flow-logs", get(pages::flows::show))
        .route("/console/operator", get(pages::operator::show))
        .route("/console/{*rest}", get(pages::not_found))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
        .layer(axum::middleware::from_fn(security_headers))
        .layer(axum::middleware::from_fn(compress))
        .with_state(console)
}

/// The API and the console on one listener: `/console/…` is the console, `GET /`
/// leads there, `extra`'s routes (the AWS-compatible APIs: `POST /` is EC2's) are
/// theirs, everything else is the API.
pub fn app(api: ApiState, extra: Router) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/console/") }),
        )
        .merge(extra)
        .merge(router(api.clone()))
        .fallback_service(cove_api::router(api))
}

/// Serves [`app`] on `listener` until the task is dropped or the listener fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    api: ApiState,
    extra: Router,
) -> std::io::Result<()> {
    serve_wrapped(listener, api, extra, |app| app).await
}

/// [`serve`], the whole app passed through `wrap` first (a layer over every
/// route, e.g. function URLs served by host name).
pub async fn serve_wrapped(
    listener: tokio::net::TcpListener,
    api: ApiState,
    extra: Router,
    wrap: impl FnOnce(Router) -> Router,
) -> std::io::Result<()> {
    // The client's address reaches handlers that report it (a function URL's
    // `sourceIp`).
    axum::serve(
        listener,
        wrap(app(api, extra)).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
}

/// Headers every console answer carries: no framing, no sniffing, no referrer, and
/// a content security policy that allows only the console's own files.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    for (k, v) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    resp
}

/// Gzips HTML answers for browsers that take it (the assets are gzip'd once, at
/// start).
async fn compress(req: Request, next: Next) -> Response {
    let gzip_ok = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let resp = next.run(req).await;
    let html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !gzip_ok || !html || resp.headers().contains_key(header::CONTENT_ENCODING) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 << 20).await else {
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    let z = assets::gzip(&bytes);
    parts
        .headers
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    Response::from_parts(parts, axum::body::Body::from(z))
}
