//! Functions as the tenant's spec sees them (pure). A function deployed through
//! `/v1/functions` is a `functions:` entry of the tenant spec's VPC that extends the
//! network (added when missing), so `GET /v1/spec` shows it and `PUT /v1/spec` can
//! set it: one source of truth. Every change is validated by [`decide_spec`], with
//! `PUT /v1/spec`'s codes and field paths, quotas and code ownership.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use cove_control::{Network, SubnetTier, TenantId};
use cove_model::spec::{FunctionSpec, Scalar, TenantSpec, VpcSpec};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::service::Current;
use crate::spec::decide_spec;

/// `POST /v1/functions`: a function in one of the caller's networks.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFunction {
    /// Unique within the tenant: 1–64 of `A-Z a-z 0-9 - _`.
    pub name: String,
    /// The network (id or name) whose VPC the function's environments attach to.
    pub network: String,
    /// `python3.11`, `nodejs20`, `go`, `ruby3.1` or `provided`.
    pub runtime: String,
    /// Entry point (`module.function` for Python, …).
    pub handler: String,
    /// `sha256:<64 hex>` as `POST /v1/functions/code` answered.
    pub code: String,
    /// Memory in MB, 128–10240 (default 128).
    #[serde(default)]
    pub memory: Option<i64>,
    /// Timeout in seconds, 1–900 (default 3).
    #[serde(default)]
    pub timeout: Option<i64>,
    /// Environment variables.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Subnet names of the network (default: its private subnets).
    #[serde(default)]
    pub subnets: Option<Vec<String>>,
    /// Security group names of the VPC (default: the VPC's default group).
    #[serde(default)]
    pub security_groups: Option<Vec<String>>,
    /// Reserved concurrency, 1–1000 (default 10): one network slot each.
    #[serde(default)]
    pub concurrency: Option<i64>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

/// `PATCH /v1/functions/{name}`: what to change (absent fields stay).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateFunction {
    /// New runtime.
    #[serde(default)]
    pub runtime: Option<String>,
    /// New handler.
    #[serde(default)]
    pub handler: Option<String>,
    /// New code (`sha256:<64 hex>`).
    #[serde(default)]
    pub code: Option<String>,
    /// New memory in MB.
    #[serde(default)]
    pub memory: Option<i64>,
    /// New timeout in seconds.
    #[serde(default)]
    pub timeout: Option<i64>,
    /// New environment variables (replace all of them).
    #[serde(default)]
    pub environment: Option<BTreeMap<String, String>>,
    /// New subnets.
    #[serde(default)]
    pub subnets: Option<Vec<String>>,
    /// New security groups.
    #[serde(default)]
    pub security_groups: Option<Vec<String>>,
    /// New reserved concurrency.
    #[serde(default)]
    pub concurrency: Option<i64>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
}

/// A function of the caller's, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FunctionView {
    /// Its name.
    pub name: String,
    /// The network's id, if its VPC extends one of the caller's networks.
    pub network: Option<String>,
    /// The VPC's name in the caller's spec.
    pub vpc: String,
    /// Runtime.
    pub runtime: String,
    /// Handler.
    pub handler: String,
    /// Code (`sha256:<64 hex>`).
    pub code: String,
    /// Memory in MB (unset: 128).
    pub memory: Option<String>,
    /// Timeout in seconds (unset: 3).
    pub timeout: Option<String>,
    /// Environment variables.
    pub environment: BTreeMap<String, String>,
    /// Subnets.
    pub subnets: Vec<String>,
    /// Security groups (empty: the VPC's default group).
    pub security_groups: Vec<String>,
    /// Reserved concurrency (unset: 10).
    pub concurrency: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// `Active` when the function service runs exactly this code and configuration
    /// (memory, timeout, concurrency), `Pending` until the change is applied;
    /// absent from a server that runs no functions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

impl FunctionView {
    /// Sets [`FunctionView::state`] from what the runner runs (`None`: nothing).
    pub fn with_state(mut self, running: Option<&crate::runner::Running>) -> FunctionView {
        let num = |v: &Option<String>, default: u32| {
            v.as_deref()
                .and_then(|t| t.trim().parse::<u32>().ok())
                .unwrap_or(default)
        };
        let active = running.is_some_and(|r| {
            self.code.strip_prefix(cove_control::CODE_DIGEST_PREFIX) == Some(&r.code_sha256)
                && num(&self.memory, cove_model::DEFAULT_FUNCTION_MEMORY_MB) == r.memory_mb
                && num(&self.timeout, cove_model::DEFAULT_FUNCTION_TIMEOUT_S) == r.timeout_s
                && num(&self.concurrency, cove_model::DEFAULT_FUNCTION_CONCURRENCY) == r.concurrency
        });
        self.state = Some(if active { "Active" } else { "Pending" }.to_owned());
        self
    }
}

/// The network a spec VPC extends (by name, id or VPC id), among `tenant`'s.
fn network_of<'a>(cur: &'a Current, tenant: &TenantId, vpc: &VpcSpec) -> Option<&'a Network> {
    cur.state
        .networks_of(tenant)
        .into_iter()
        .find(|n| vpc.name == n.name || vpc.name == n.id.0 || vpc.name == n.vpc_id)
}

fn view(cur: &Current, tenant: &TenantId, vpc: &VpcSpec, f: &FunctionSpec) -> FunctionView {
    FunctionView {
        name: f.name.clone(),
        network: network_of(cur, tenant, vpc).map(|n| n.id.0.clone()),
        vpc: vpc.name.clone(),
        runtime: f.runtime.clone(),
        handler: f.handler.clone(),
        code: f.code.clone(),
        memory: f.memory.as_ref().map(Scalar::text),
        timeout: f.timeout.as_ref().map(Scalar::text),
        environment: f
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.text()))
            .collect(),
        subnets: f.subnets.clone(),
        security_groups: f.security_groups.clone(),
        concurrency: f.concurrency.as_ref().map(Scalar::text),
        description: f.description.clone(),
        state: None,
    }
}

/// Every function of the caller's spec, in spec order.
pub fn list(cur: &Current, tenant: &TenantId) -> Vec<FunctionView> {
    let spec = cur.spec_of(tenant);
    spec.vpcs
        .iter()
        .flat_map(|v| v.functions.iter().map(move |f| (v, f)))
        .map(|(v, f)| view(cur, tenant, v, f))
        .collect()
}

/// Lambda's answer for a function the caller does not have (also another
/// tenant's).
pub fn not_found(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        Some("name"),
        format!("Function not found: {name}"),
        "GET /v1/functions lists your functions",
    )
}

/// One of the caller's functions.
pub fn get(cur: &Current, tenant: &TenantId, name: &str) -> Result<FunctionView, ApiError> {
    list(cur, tenant)
        .into_iter()
        .find(|f| f.name == name)
        .ok_or_else(|| not_found(name))
}

/// `(vpc index, function index)` of `name` in `spec`.
pub fn position(spec: &TenantSpec, name: &str) -> Option<(usize, usize)> {
    spec.vpcs.iter().enumerate().find_map(|(vi, v)| {
        v.functions
            .iter()
            .position(|f| f.name == name)
            .map(|fi| (vi, fi))
    })
}

fn int(n: Option<i64>) -> Option<Scalar> {
    n.map(Scalar::Int)
}

fn env(e: BTreeMap<String, String>) -> BTreeMap<String, Scalar> {
    e.into_iter().map(|(k, v)| (k, Scalar::Str(v))).collect()
}

/// The caller's spec after validating `spec` as `PUT /v1/spec` would.
pub(crate) fn validated(
    cur: &Current,
    tenant: &TenantId,
    spec: &TenantSpec,
) -> Result<TenantSpec, ApiError> {
    let text = serde_json::to_string(spec).map_err(|e| ApiError::internal(&e))?;
    decide_spec(cur, tenant, &text, true)
}

/// The caller's spec with `req` added to the VPC that extends its network (added
/// if the spec has none): defaults are the network's private subnets and the VPC's
/// default security group.
pub fn create(
    cur: &Current,
    tenant: &TenantId,
    req: &CreateFunction,
) -> Result<(TenantSpec, FunctionView), ApiError> {
    let mut spec = cur.spec_of(tenant);
    if position(&spec, &req.name).is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "ResourceConflictException",
            Some("name"),
            format!("Function already exist: {}", req.name),
            "choose another name, or change it with PATCH /v1/functions/{name}",
        ));
    }
    if req.network.is_empty() {
        return Err(ApiError::invalid(
            "network",
            "`network` is missing",
            "give the id or name of one of your networks (GET /v1/connect/networks)",
        ));
    }
    let net = cove_control::get_network(&cur.state, tenant, &req.network).map_err(|e| {
        let mut e = ApiError::from(e);
        e.field = Some("network".to_owned());
        e
    })?;
    let vi = match spec
        .vpcs
        .iter()
        .position(|v| v.name == net.name || v.name == net.id.0 || v.name == net.vpc_id)
    {
        Some(i) => i,
        None => {
            spec.vpcs.push(VpcSpec {
                name: net.id.0.clone(),
                ..VpcSpec::default()
            });
            spec.vpcs.len() - 1
        }
    };
    let subnets = req.subnets.clone().unwrap_or_else(|| {
        net.subnets
            .iter()
            .filter(|s| s.tier == SubnetTier::Private)
            .map(|s| s.name.clone())
            .collect()
    });
    spec.vpcs[vi].functions.push(FunctionSpec {
        name: req.name.clone(),
        runtime: req.runtime.clone(),
        handler: req.handler.clone(),
        code: req.code.clone(),
        memory: int(req.memory),
        timeout: int(req.timeout),
        environment: env(req.environment.clone()),
        subnets,
        security_groups: req.security_groups.clone().unwrap_or_default(),
        concurrency: int(req.concurrency),
        description: req.description.clone(),
        role: None,
        url: None,
    });
    let spec = validated(cur, tenant, &spec)?;
    let (vi, fi) = position(&spec, &req.name).ok_or_else(|| not_found(&req.name))?;
    let v = view(cur, tenant, &spec.vpcs[vi], &spec.vpcs[vi].functions[fi]);
    Ok((spec, v))
}

/// The caller's spec with `name` changed by `req`.
pub fn update(
    cur: &Current,
    tenant: &TenantId,
    name: &str,
    req: &UpdateFunction,
) -> Result<(TenantSpec, FunctionView), ApiError> {
    let mut spec = cur.spec_of(tenant);
    let (vi, fi) = position(&spec, name).ok_or_else(|| not_found(name))?;
    let f = &mut spec.vpcs[vi].functions[fi];
    let r = req.clone();
    if let Some(x) = r.runtime {
        f.runtime = x;
    }
    if let Some(x) = r.handler {
        f.handler = x;
    }
    if let Some(x) = r.code {
        f.code = x;
    }
    if r.memory.is_some() {
        f.memory = int(r.memory);
    }
    if r.timeout.is_some() {
        f.timeout = int(r.timeout);
    }
    if let Some(x) = r.environment {
        f.environment = env(x);
    }
    if let Some(x) = r.subnets {
        f.subnets = x;
    }
    if let Some(x) = r.security_groups {
        f.security_groups = x;
    }
    if r.concurrency.is_some() {
        f.concurrency = int(r.concurrency);
    }
    if r.description.is_some() {
        f.description = r.description;
    }
    let spec = validated(cur, tenant, &spec)?;
    let (vi, fi) = position(&spec, name).ok_or_else(|| not_found(name))?;
    let v = view(cur, tenant, &spec.vpcs[vi], &spec.vpcs[vi].functions[fi]);
    Ok((spec, v))
}

/// The caller's spec without `name`; a VPC entry left with nothing in it is removed
/// too (it only named the network, and would keep it from being deleted).
pub fn delete(cur: &Current, tenant: &TenantId, name: &str) -> Result<TenantSpec, ApiError> {
    let mut spec = cur.spec_of(tenant);
    let (vi, fi) = position(&spec, name).ok_or_else(|| not_found(name))?;
    spec.vpcs[vi].functions.remove(fi);
    let v = &spec.vpcs[vi];
    let empty = VpcSpec {
        name: v.name.clone(),
        cidr: v.cidr.clone(),
        ..VpcSpec::default()
    };
    if *v == empty && network_of(cur, tenant, v).is_some() {
        spec.vpcs.remove(vi);
    }
    validated(cur, tenant, &spec)
}
