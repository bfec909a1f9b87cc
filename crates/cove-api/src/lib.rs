//! cove's HTTP API: `router(ApiState)` serves tenants, tokens, the IP pool, Secure
//! Compute networks, peerings, the tenant's spec and reachability, with an OpenAPI
//! 3.1 document generated from the handlers at `/openapi.json`.
//!
//! * [`service`]: the one mapping of cove-control's documents to cove-store's, and
//!   read → decide (pure, cove-control) → commit with the expected generation.
//! * [`layer`]: request ids, `Authorization: Bearer …`, `Idempotency-Key`.
//! * [`error`]: `{ "error": { code, message, field, hint, request_id } }`.
//! * [`local`]: in-process calls through the same router (the CLI's embedded
//!   mode), as the local operator or as one tenant.
//! * [`functions`]: code upload, functions (the tenant spec's `functions`), invoke
//!   and logs over a [`runner::FunctionRunner`] the function service implements.
//!
//! Scoping is cove-control's: another tenant's object is not found (404), never
//! forbidden.

pub mod access_key;
pub mod addresses;
pub mod admin;
pub mod error;
pub mod flowlogs;
pub mod fndecide;
pub mod function_urls;
pub mod functions;
pub mod health;
pub mod kernel_preview;
pub mod layer;
pub mod local;
pub mod networks;
pub mod peerings;
pub mod runner;
pub mod service;
pub mod services;
pub mod spec;
pub mod topology;
pub mod whoami;

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use cove_store::{ChangeMeta, Store};
use serde::de::DeserializeOwned;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::service::{ControlService, ServiceError};

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The control plane over the store.
    pub service: ControlService,
    openapi: Arc<String>,
    /// The deployment's content-addressed code store (`<state>/<prefix>/code`);
    /// none: uploads are refused (503).
    pub code_store: Option<std::path::PathBuf>,
    /// What runs the functions (`cove serve`'s scheduler); none: invoke and logs
    /// are refused (503).
    pub runner: Option<Arc<dyn runner::FunctionRunner>>,
    /// Where the deployment's flow logs are written (`<state>/<prefix>/flow-logs`);
    /// none: `/v1/flow-logs` is refused (503).
    pub flow_logs: Option<std::path::PathBuf>,
    /// Where the month's metering is kept (`<state>/<prefix>/metering`).
    pub metering: Option<std::path::PathBuf>,
    /// The deployment's access-key secret (tenants' keys); none:
    /// `/v1/access-key` is refused (503).
    pub access_keys: Option<cove_objects::KeySecret>,
    /// Access key ids already derived, by tenant (signed requests' lookups).
    pub key_index: Arc<access_key::KeyIndex>,
    /// The host's health (`cove serve`'s reconciler); none: `/v1/health` is
    /// refused (503).
    pub health: Option<Arc<health::HealthBoard>>,
}

impl ApiState {
    /// The state over `store`: every request sees the latest committed generation.
    pub fn new(store: Store) -> ApiState {
        ApiState::with_service(ControlService::new(store))
    }

    /// The state over a configured service (e.g.
    /// [`ControlService::with_max_staleness`]).
    pub fn with_service(service: ControlService) -> ApiState {
        ApiState {
            service,
            openapi: Arc::new(openapi().to_json().unwrap_or_default()),
            code_store: None,
            runner: None,
            flow_logs: None,
            metering: None,
            access_keys: None,
            key_index: Arc::default(),
            health: None,
        }
    }

    /// Uploads go into `dir` (the deployment's code store).
    #[must_use]
    pub fn with_code_store(mut self, dir: std::path::PathBuf) -> ApiState {
        self.code_store = Some(dir);
        self
    }

    /// Flow-log records are read from `flow_logs` and metering from `metering`.
    #[must_use]
    pub fn with_flow_logs(
        mut self,
        flow_logs: std::path::PathBuf,
        metering: std::path::PathBuf,
    ) -> ApiState {
        self.flow_logs = Some(flow_logs);
        self.metering = Some(metering);
        self
    }

    /// Tenants' access keys are derived from `secret`.
    #[must_use]
    pub fn with_access_keys(mut self, secret: cove_objects::KeySecret) -> ApiState {
        self.access_keys = Some(secret);
        self.key_index = Arc::default();
        self
    }

    /// `/v1/health` reports from `board`.
    #[must_use]
    pub fn with_health(mut self, board: Arc<health::HealthBoard>) -> ApiState {
        self.health = Some(board);
        self
    }

    /// Invocations and logs go to `runner`.
    #[must_use]
    pub fn with_runner(mut self, runner: Arc<dyn runner::FunctionRunner>) -> ApiState {
        self.runner = Some(runner);
        self
    }
}

/// Decodes a JSON request body (an empty body is `{}`); errors name the field.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let result: Result<T, serde_json::Error> = T::deserialize(&mut de);
    result.map_err(|e| {
        let msg = e.to_string();
        let field = msg
            .split('`')
            .nth(1)
            .filter(|_| msg.contains("field"))
            .unwrap_or("body")
            .to_owned();
        ApiError::invalid(
            &field,
            format!("the request body is not valid: {msg}"),
            "send a JSON object as the OpenAPI document (/openapi.json) describes",
        )
    })
}

fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(admin::create_tenant, admin::list_tenants))
        .routes(routes!(admin::create_token))
        .routes(routes!(admin::list_tokens))
        .routes(routes!(whoami::whoami))
        .routes(routes!(health::health))
        .routes(routes!(topology::topology))
        .routes(routes!(admin::revoke_token))
        .routes(routes!(
            admin::put_ip_pool,
            admin::get_ip_pool,
            admin::patch_ip_pool
        ))
        .routes(routes!(networks::create_network, networks::list_networks))
        .routes(routes!(
            addresses::allocate_address,
            addresses::list_addresses
        ))
        .routes(routes!(addresses::release_address))
        .routes(routes!(
            networks::get_network,
            networks::patch_network,
            networks::delete_network
        ))
        .routes(routes!(peerings::request_peering, peerings::list_peerings))
        .routes(routes!(peerings::get_peering, peerings::delete_peering))
        .routes(routes!(peerings::accept_peering))
        .routes(routes!(peerings::reject_peering))
        .routes(routes!(flowlogs::flow_logs))
        .routes(routes!(flowlogs::metering))
        .routes(routes!(access_key::access_key))
        .routes(routes!(services::list_services))
        .routes(routes!(services::list_endpoints))
        .routes(routes!(services::accept))
        .routes(routes!(services::reject))
        .routes(routes!(spec::get_spec, spec::put_spec))
        .routes(routes!(spec::reachability))
        .routes(routes!(spec::plan))
        .routes(routes!(functions::upload_code))
        .routes(routes!(
            functions::create_function,
            functions::list_functions
        ))
        .routes(routes!(
            functions::get_function,
            functions::update_function,
            functions::delete_function
        ))
        .routes(routes!(functions::invoke_function))
        .routes(routes!(functions::function_logs))
        .routes(routes!(functions::function_metrics))
        .routes(routes!(
            function_urls::create_function_url,
            function_urls::get_function_url,
            function_urls::update_function_url,
            function_urls::delete_function_url
        ))
}

/// The OpenAPI 3.1 document of every route (generated from the handlers).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = routes().into_openapi();
    doc.info.title = "cove API".to_owned();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.info.description = Some(
        "Private networks for serverless functions: tenants, tokens, Secure Compute \
         networks, peerings, the tenant's spec, functions (code, deploy, invoke, logs) \
         and reachability."
            .to_owned(),
    );
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    doc
}

async fn openapi_json(State(api): State<ApiState>) -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        api.openapi.as_ref().clone(),
    )
}

async fn healthz() -> &'static str {
    "ok"
}

async fn fallback() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        None,
        "no such route",
        "see /openapi.json for the routes",
    )
}

/// Every route, `/openapi.json` and `/healthz`, without state: built once per
/// process (collecting the handlers' OpenAPI items is far dearer than a request),
/// then cloned (an `Arc`) for each router — the AWS-compatible APIs call cove's
/// API in-process through a router per call.
fn stateless_routes() -> Router<ApiState> {
    static ROUTES: std::sync::OnceLock<Router<ApiState>> = std::sync::OnceLock::new();
    ROUTES
        .get_or_init(|| {
            let (router, _) = routes().split_for_parts();
            router
                .route("/openapi.json", axum::routing::get(openapi_json))
                .route("/healthz", axum::routing::get(healthz))
                .fallback(fallback)
        })
        .clone()
}

/// The API's router (state applied): every route, `/openapi.json`, `/healthz`.
pub fn router(api: ApiState) -> Router {
    stateless_routes()
        .layer(axum::middleware::from_fn_with_state(
            api.clone(),
            layer::middleware,
        ))
        .with_state(api)
}

/// Serves the API on `listener` until the task is dropped or the listener fails.
pub async fn serve(listener: tokio::net::TcpListener, api: ApiState) -> std::io::Result<()> {
    axum::serve(listener, router(api)).await
}

/// Failures of [`bootstrap`].
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// Making the admin token failed.
    #[error("cannot create the admin token")]
    Create {
        /// The cause.
        #[source]
        source: ServiceError,
    },
    /// The store has no admin token but the token file exists (from another store).
    #[error(
        "the store has no admin token but {path} exists: move it aside (it belongs to another store) and start again"
    )]
    StaleFile {
        /// The file.
        path: String,
    },
    /// Writing the token file failed.
    #[error("cannot write the admin token to {path}")]
    Write {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// At the first start: creates the operator's admin token and writes its secret to
/// `path` (mode 0600, created new). Answers `Ok(false)` and writes nothing when the
/// store already has a live admin token: the secret is written once and never
/// again, and never logged. A store without one whose `path` already exists is an
/// error (the file is another store's).
pub async fn bootstrap(store: &Store, path: &Path) -> Result<bool, BootstrapError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let svc = ControlService::new(store.clone());
    let cur = svc
        .current()
        .await
        .map_err(|source| BootstrapError::Create { source })?;
    let now = service::os_env()
        .map_err(|source| BootstrapError::Create { source })?
        .now;
    let has_admin = cur
        .state
        .tokens
        .values()
        .any(|t| t.owner == cove_control::TokenOwner::Admin && t.is_live(now));
    if has_admin {
        return Ok(false);
    }
    if path.exists() {
        // A token file of another store: writing over it would lose that secret,
        // and an admin-less store would otherwise stay unusable.
        return Err(BootstrapError::StaleFile {
            path: path.display().to_string(),
        });
    }
    let write_err = |source| BootstrapError::Write {
        path: path.display().to_string(),
        source,
    };
    // The file first (so the secret is never minted without a place to go).
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(write_err)?;
    let meta = ChangeMeta {
        summary: "bootstrap: admin token".to_owned(),
        ..ChangeMeta::default()
    };
    let made = svc
        .run(&meta, |cur, env| {
            cove_control::bootstrap_admin(&cur.state, env)
        })
        .await;
    let token = match made {
        Ok((t, _)) => t,
        Err(source) => {
            let _ = std::fs::remove_file(path);
            return Err(BootstrapError::Create { source });
        }
    };
    file.write_all(format!("{}\n", token.secret).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(write_err)?;
    Ok(true)
}
