//! The tenant's own part of the spec (`GET/PUT /v1/spec`) and reachability
//! (`GET /v1/reachability`), both scoped: messages and hops name only the caller's
//! objects.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use cove_analyze::{Analyzer, Endpoint, Flow, Verdict};
use cove_control::{Tenant, TenantId};
use cove_model::Protocol;
use cove_model::spec::{Spec, TenantSpec};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::layer::Caller;
use crate::service::{Current, Decided};

/// What `GET /v1/spec` answers and `PUT /v1/spec` takes: the caller's tenant in the
/// format of `cove apply` (`name`, `prefix_lists`, `vpcs`), as JSON or YAML. A VPC
/// named like one of the caller's networks (or by its id or VPC id) adds to that
/// network's VPC.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SpecDocument {
    /// The tenant's name (optional in a PUT; must be the caller's).
    #[serde(default)]
    pub name: String,
    /// Prefix lists.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub prefix_lists: Vec<serde_json::Value>,
    /// VPCs, as in `cove apply` (see docs/spec.md).
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub vpcs: Vec<serde_json::Value>,
}

/// The caller's spec.
#[utoipa::path(get, path = "/v1/spec", tag = "spec",
    responses((status = 200, body = SpecDocument), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_spec(
    State(api): State<ApiState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    let tenant = caller.tenant()?;
    let cur = api.service.current().await?;
    let spec = cur.spec_of(tenant);
    serde_json::to_value(&spec)
        .map(Json)
        .map_err(|e| ApiError::internal(&e))
}

/// Replaces the caller's spec after validating it with `cove validate`'s codes and
/// field paths (relative to the document), its networks and quotas.
#[utoipa::path(put, path = "/v1/spec", tag = "spec", request_body = SpecDocument,
    responses((status = 200, body = SpecDocument), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_spec(
    State(api): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let tenant = caller.tenant()?.clone();
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::invalid("body", "the spec is not UTF-8", "send UTF-8 JSON or YAML")
    })?;
    let json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    commit_spec(&api, &caller, "PUT /v1/spec", |cur, tenant| {
        decide_spec(cur, tenant, text, json).map(|spec| (spec, ()))
    })
    .await?;
    let cur = api.service.current().await?;
    serde_json::to_value(cur.spec_of(&tenant))
        .map(Json)
        .map_err(|e| ApiError::internal(&e))
}

/// Every function's code must be a package the tenant uploaded itself: another
/// tenant's digest is not found, exactly as one nobody uploaded.
pub fn check_code_owned(
    cur: &Current,
    tenant: &TenantId,
    own: &TenantSpec,
) -> Result<(), ApiError> {
    for v in &own.vpcs {
        for f in &v.functions {
            let digest = f
                .code
                .strip_prefix(cove_control::CODE_DIGEST_PREFIX)
                .unwrap_or(&f.code);
            if !cur.has_upload(tenant, digest) {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "ResourceNotFoundException",
                    Some(&format!("vpcs[{}].functions[{}].code", v.name, f.name)),
                    format!("code `{}` is not a package you uploaded", f.code),
                    "upload the zip with POST /v1/functions/code and use the `code` it answers",
                ));
            }
        }
    }
    Ok(())
}

/// Runs a decision that answers the caller's new spec; commits the spec. The
/// decision's own error (code, field) is answered as it is.
pub async fn commit_spec<T: Send>(
    api: &ApiState,
    caller: &Caller,
    summary: &str,
    decide: impl Fn(&Current, &TenantId) -> Result<(TenantSpec, T), ApiError>,
) -> Result<T, ApiError> {
    commit_spec_and(api, caller, summary, |cur, t, _env| {
        let (spec, value) = decide(cur, t)?;
        Ok((Some(spec), Vec::new(), value))
    })
    .await
}

/// Runs a decision that answers the caller's new spec (`None`: unchanged) and
/// control-plane documents to write with it (an Elastic IP's); commits both in one
/// transaction. The decision's own error (code, field) is answered as it is.
pub async fn commit_spec_and<T: Send>(
    api: &ApiState,
    caller: &Caller,
    summary: &str,
    decide: impl Fn(
        &Current,
        &TenantId,
        &cove_control::Env,
    ) -> Result<(Option<TenantSpec>, Vec<cove_control::Change>, T), ApiError>,
) -> Result<T, ApiError> {
    let tenant = caller.tenant()?.clone();
    let refused: std::sync::Mutex<Option<ApiError>> = std::sync::Mutex::new(None);
    let ran = api
        .service
        .run(&caller.meta(summary), |cur, env| {
            match decide(cur, &tenant, env) {
                Ok((spec, changes, value)) => Ok(Decided {
                    value,
                    changes,
                    specs: spec
                        .map(|s| (tenant.clone(), Some(s)))
                        .into_iter()
                        .collect(),
                    docs: Vec::new(),
                }),
                Err(e) => {
                    let placeholder = cove_control::ControlError::general(
                        cove_control::ErrorCode::InvalidParameterValue,
                        e.message.clone(),
                        e.hint.clone(),
                    );
                    if let Ok(mut slot) = refused.lock() {
                        *slot = Some(e);
                    }
                    Err(placeholder)
                }
            }
        })
        .await;
    match ran {
        Ok((value, _)) => Ok(value),
        Err(e) => {
            let kept = refused.lock().ok().and_then(|mut s| s.take());
            Err(kept.unwrap_or_else(|| e.into()))
        }
    }
}

/// The part of a spec path after the tenant (`tenants[acme].vpcs[app]` → `vpcs[app]`).
fn relative(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("tenants[")?;
    let close = rest.find(']')?;
    Some(rest[close + 1..].trim_start_matches('.'))
}

fn model_error(d: &cove_model::Diagnostic, field: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        d.code.as_str(),
        Some(if field.is_empty() { "spec" } else { field }),
        d.message.clone(),
        d.hint.clone(),
    )
}

/// Decodes and validates a tenant's spec (pure): the document alone, then its
/// networks and quotas, then the whole desired spec it would make. Errors name only
/// the caller's objects; a whole spec that fails outside the caller's part is a
/// generic conflict.
pub fn decide_spec(
    cur: &Current,
    tenant: &TenantId,
    text: &str,
    json: bool,
) -> Result<TenantSpec, ApiError> {
    let t: &Tenant = cur.state.tenants.get(tenant).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "AuthFailure",
            None,
            "the tenant is gone",
            "",
        )
    })?;
    let value: serde_json::Value = if json {
        serde_json::from_str(text).map_err(|e| {
            ApiError::invalid(
                "body",
                format!("the spec is not JSON: {e}"),
                "send a JSON object",
            )
        })?
    } else {
        serde_saphyr::from_str(text).map_err(|e| {
            ApiError::invalid(
                "body",
                format!("the spec is not YAML: {e}"),
                "send a YAML mapping",
            )
        })?
    };
    let mut value = match value {
        serde_json::Value::Object(m) => m,
        _ => {
            return Err(ApiError::invalid(
                "body",
                "the spec is not a mapping",
                "send `{name, prefix_lists, vpcs}`",
            ));
        }
    };
    match value.get("name") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::String(n)) if n.is_empty() || *n == t.name => {}
        Some(_) => {
            return Err(ApiError::invalid(
                "name",
                "`name` is not your tenant's name",
                format!("omit `name`, or write `{}`", t.name),
            ));
        }
    }
    value.insert("name".to_owned(), serde_json::Value::String(t.name.clone()));
    // A VPC that extends a network takes the network's block: `cidr` may be left out
    // (a VPC of its own without one is refused by validation, naming its `cidr`).
    if let Some(serde_json::Value::Array(vpcs)) = value.get_mut("vpcs") {
        for v in vpcs {
            if let serde_json::Value::Object(v) = v {
                v.entry("cidr")
                    .or_insert_with(|| serde_json::Value::String(String::new()));
            }
        }
    }
    let whole = serde_json::json!({ "tenants": [value] }).to_string();
    let (spec, diags): (Spec, _) = cove_model::decode::decode_spec(&whole).map_err(|d| {
        d.first()
            .map(|d| model_error(d, relative(&d.path).unwrap_or("spec")))
            .unwrap_or_else(|| ApiError::invalid("spec", "the spec does not decode", ""))
    })?;
    if let Some(d) = diags
        .iter()
        .find(|d| d.severity == cove_model::Severity::Error)
    {
        return Err(model_error(d, relative(&d.path).unwrap_or("spec")));
    }
    let Some(own) = spec.tenants.into_iter().next() else {
        return Err(ApiError::invalid("spec", "the spec is empty", ""));
    };
    cove_control::check_tenant_spec_since(&cur.state, tenant, &own, cur.specs.get(tenant))?;
    check_code_owned(cur, tenant, &own)?;
    // Bucket names are global: a name another tenant declares is taken (S3's
    // answer to CreateBucket), and the one who declared it first keeps it.
    for b in &own.buckets {
        let taken = cur
            .specs
            .iter()
            .any(|(id, s)| id != tenant && s.buckets.iter().any(|x| x.name == b.name));
        if taken {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "BucketAlreadyExists",
                Some(&format!("buckets[{}].name", b.name)),
                format!("bucket name `{}` is taken", b.name),
                "bucket names are global across tenants: pick another name",
            ));
        }
    }
    // API ids are global: an id another tenant's API has is taken.
    for a in &own.apis {
        let id = cove_model::http_api::api_id(&t.name, a);
        let taken = cur.specs.iter().any(|(other, s)| {
            let Some(o) = cur.state.tenants.get(other).filter(|_| other != tenant) else {
                return false;
            };
            s.apis
                .iter()
                .any(|x| cove_model::http_api::api_id(&o.name, x) == id)
        });
        if taken {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "ConflictException",
                Some(&format!("apis[{}].id", a.name)),
                format!("API id `{id}` is taken"),
                "API ids are global across tenants: pick another id, or leave it out",
            ));
        }
    }
    let mut specs: BTreeMap<TenantId, TenantSpec> = cur.specs.clone();
    specs.insert(tenant.clone(), own.clone());
    let desired = cove_control::desired_spec(&cur.state, &specs);
    let v = cove_model::validate::validate(&desired);
    let prefix = format!("tenants[{}]", t.name);
    // The desired spec names a network's VPC by the network's id: errors are told in
    // the names the tenant's document uses.
    let nets = cur.state.networks_of(tenant);
    let renames: Vec<(String, String)> = own
        .vpcs
        .iter()
        .filter_map(|v| {
            nets.iter()
                .find(|n| v.name == n.name || v.name == n.id.0 || v.name == n.vpc_id)
                .filter(|n| n.id.0 != v.name)
                .map(|n| (format!("vpcs[{}]", n.id), format!("vpcs[{}]", v.name)))
        })
        .collect();
    let told = |text: &str| {
        renames
            .iter()
            .fold(text.to_owned(), |acc, (from, to)| acc.replace(from, to))
    };
    // A reference of the caller's to another tenant's zone or service that does not
    // resolve is the caller's error (the merged spec only warns, so that a provider's
    // change never blocks the platform).
    let cross = [
        cove_model::ErrorCode::InvalidServiceName,
        cove_model::ErrorCode::NoSuchHostedZone,
        cove_model::ErrorCode::NotAuthorized,
    ];
    let own_cross = v.diagnostics.iter().find(|d| {
        cross.contains(&d.code) && (d.path == prefix || d.path.starts_with(&format!("{prefix}.")))
    });
    if let Some(d) = own_cross {
        let mut e = model_error(d, relative(&d.path).unwrap_or("spec"));
        e.field = e.field.map(|f| told(&f));
        e.message = told(&e.message);
        return Err(e);
    }
    let mut others = false;
    for d in v.errors() {
        if d.path == prefix || d.path.starts_with(&format!("{prefix}.")) {
            let mut e = model_error(d, relative(&d.path).unwrap_or("spec"));
            e.field = e.field.map(|f| told(&f));
            e.message = told(&e.message);
            return Err(e);
        }
        others = true;
    }
    if others {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "InvalidParameterCombination",
            Some("spec"),
            "the spec conflicts with the platform's configuration outside your part",
            "change the spec (e.g. other names or blocks); ask the operator if it persists",
        ));
    }
    Ok(own)
}

/// What a proposed spec would change: the flows between the caller's ENIs (and the
/// internet) it opens and closes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlanAnswer {
    /// Flows blocked now and reachable with the proposed spec.
    #[schema(value_type = Vec<Object>)]
    pub opened: Vec<cove_analyze::FlowChange>,
    /// Flows reachable now and blocked with the proposed spec.
    #[schema(value_type = Vec<Object>)]
    pub closed: Vec<cove_analyze::FlowChange>,
    /// The kernel changes of the caller's objects (their namespaces), against
    /// the kernel the stored spec makes; the shared router's are not shown.
    pub kernel: Vec<crate::kernel_preview::KernelChange>,
}

/// Validates a proposed spec (as `PUT /v1/spec`, without storing it) and answers the
/// reachability delta between the caller's ENIs and the internet, like `cove plan`.
#[utoipa::path(post, path = "/v1/plan", tag = "spec", request_body = SpecDocument,
    responses((status = 200, body = PlanAnswer), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn plan(
    State(api): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<PlanAnswer>, ApiError> {
    let tenant = caller.tenant()?;
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::invalid("body", "the spec is not UTF-8", "send UTF-8 JSON or YAML")
    })?;
    let json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let cur = api.service.current().await?;
    Ok(Json(plan_spec(&cur, tenant, text, json)?))
}

/// The plan (pure): the proposal validated, then the delta limited to flows whose
/// both ends are the caller's ENIs or the internet.
pub fn plan_spec(
    cur: &Current,
    tenant: &TenantId,
    text: &str,
    json: bool,
) -> Result<PlanAnswer, ApiError> {
    let proposed = decide_spec(cur, tenant, text, json)?;
    let name = cur
        .state
        .tenants
        .get(tenant)
        .map(|t| t.name.clone())
        .unwrap_or_default();
    let old =
        cove_model::validate::validate(&cove_control::desired_spec(&cur.state, &cur.specs)).network;
    let mut specs = cur.specs.clone();
    specs.insert(tenant.clone(), proposed);
    let new = cove_model::validate::validate(&cove_control::desired_spec(&cur.state, &specs))
        .network
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "InvalidParameterCombination",
                Some("spec"),
                "the spec conflicts with the platform's configuration outside your part",
                "change the spec; ask the operator if it persists",
            )
        })?;
    let own = |end: &str| end == "internet" || end.starts_with(&format!("{name}/"));
    let kernel =
        crate::kernel_preview::kernel_changes(old.as_ref(), &new, &name).ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "InvalidParameterCombination",
                Some("spec"),
                "the spec cannot be laid out on the host (too many VPCs, route tables or peerings)",
                "remove VPCs, route tables or peerings; ask the operator about the host's limits",
            )
        })?;
    let mut answer = PlanAnswer {
        opened: Vec::new(),
        closed: Vec::new(),
        kernel,
    };
    for f in cove_analyze::reachability_delta(old.as_ref(), &new) {
        if !(own(&f.from) && own(&f.to)) {
            continue;
        }
        match f.change {
            cove_analyze::Change::Opened => answer.opened.push(f),
            cove_analyze::Change::Closed => answer.closed.push(f),
        }
    }
    Ok(answer)
}

/// `GET /v1/reachability` parameters.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReachQuery {
    /// Source: one of your ENIs (`vpc/eni`, `eni-…`, its private IP).
    pub from: String,
    /// Destination: one of your ENIs, a peered ENI's private IP, or an internet
    /// address.
    pub to: String,
    /// `tcp`, `udp`, `icmp` or an IP protocol number (default `tcp`).
    pub protocol: Option<String>,
    /// Destination port (TCP/UDP).
    pub port: Option<u16>,
}

/// The analyzer's answer, limited to the caller's hops.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Reachability {
    /// Whether the flow works, replies included.
    pub reachable: bool,
    /// The verdict: forward and return hops; hops on another tenant's side show
    /// only their step and outcome.
    #[schema(value_type = Object)]
    pub verdict: Verdict,
}

fn not_found(field: &str, text: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "InvalidNetworkInterfaceID.NotFound",
        Some(field),
        format!("`{text}` is none of your network interfaces"),
        "name one of your ENIs as `vpc/eni`, by id, or by its private IP",
    )
}

/// Can `from` reach `to`? The analyzer's hop-by-hop answer on the desired network.
#[utoipa::path(get, path = "/v1/reachability", tag = "spec", params(ReachQuery),
    responses((status = 200, body = Reachability), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn reachability(
    State(api): State<ApiState>,
    caller: Caller,
    Query(q): Query<ReachQuery>,
) -> Result<Json<Reachability>, ApiError> {
    let tenant = caller.tenant()?;
    let cur = api.service.current().await?;
    Ok(Json(reach(&cur, tenant, &q)?))
}

/// The answer (pure).
pub fn reach(cur: &Current, tenant: &TenantId, q: &ReachQuery) -> Result<Reachability, ApiError> {
    let t = cur
        .state
        .tenants
        .get(tenant)
        .ok_or_else(|| not_found("from", &q.from))?;
    let proto_text = q.protocol.as_deref().unwrap_or("tcp");
    let proto = Protocol::parse(proto_text)
        .and_then(Protocol::number)
        .ok_or_else(|| {
            ApiError::invalid(
                "protocol",
                format!("unknown protocol `{proto_text}`"),
                "use tcp, udp, icmp or a number 0-255",
            )
        })?;
    let port = match (Protocol::from_number(proto).has_ports(), q.port) {
        (true, Some(p)) => p,
        (true, None) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "MissingParameter",
                Some("port"),
                format!("protocol `{proto_text}` needs a port"),
                "add `port=5432` (the destination port)",
            ));
        }
        (false, _) => 0,
    };
    let net = desired_network(cur)?;
    let owner = |e: Endpoint| -> Option<&str> {
        match e {
            Endpoint::Eni(id) => {
                let vpc = &net.vpcs[net.enis[id.index()].vpc.index()];
                Some(net.tenants[vpc.tenant.index()].name.as_str())
            }
            Endpoint::External(_) => None,
        }
    };
    // Names resolve inside the caller's tenant only (`vpc/eni` → `tenant/vpc/eni`); a
    // network is named by its name or id (its VPC is named by the id).
    let scoped = |text: &str| -> String {
        // `fn:NAME[@SUBNET]`: the caller's function of that name (names are unique
        // per tenant), never another tenant's.
        if let Some(rest) = text.strip_prefix("fn:") {
            let name = rest.split_once('@').map_or(rest, |(n, _)| n);
            let own = net.functions.iter().find(|f| {
                f.name == name && net.tenants[net.vpcs[f.vpc.index()].tenant.index()].name == t.name
            });
            return match own {
                Some(f) => format!("{}/{}/{text}", t.name, net.vpcs[f.vpc.index()].name),
                None => format!("{}/-/{text}", t.name),
            };
        }
        match text.split_once('/') {
            Some((vpc, eni))
                if !eni.contains('/') && vpc.parse::<std::net::Ipv4Addr>().is_err() =>
            {
                let vpc = cove_control::get_network(&cur.state, tenant, vpc)
                    .map_or(vpc, |n| n.id.as_str());
                format!("{}/{vpc}/{eni}", t.name)
            }
            _ => text.to_owned(),
        }
    };
    let an = Analyzer::new(&net);
    let src = an
        .resolve_source(&scoped(&q.from))
        .map_err(|_| not_found("from", &q.from))?;
    if owner(src) != Some(t.name.as_str()) {
        return Err(not_found("from", &q.from));
    }
    let dst = an
        .resolve_destination(src, &scoped(&q.to))
        .map_err(|_| not_found("to", &q.to))?;
    if let (Some(o), Endpoint::Eni(eni)) = (owner(dst), dst) {
        // Another tenant's ENI: only by address, and only in a VPC peered (up) with
        // one of the caller's.
        let by_address = q.to.parse::<std::net::Ipv4Addr>().is_ok();
        let vpc = net.vpcs[net.enis[eni.index()].vpc.index()]
            .aws_id
            .as_deref();
        let peered = cove_control::list_peerings(&cur.state, tenant)
            .iter()
            .any(|p| {
                p.status.is_up()
                    && (Some(p.accepter.vpc_id.as_str()) == vpc
                        || Some(p.requester.vpc_id.as_str()) == vpc)
            });
        if o != t.name && !(by_address && peered) {
            return Err(not_found("to", &q.to));
        }
    }
    let mut verdict = an.check(&Flow {
        src,
        dst,
        protocol: proto,
        port,
        src_port: None,
        icmp: (8, 0),
    });
    // Hops on another tenant's objects show only step and outcome; a peer VPC named
    // in one of the caller's hops is shown by its VPC id (what a peering shows).
    let others: Vec<&str> = net
        .tenants
        .iter()
        .map(|x| x.name.as_str())
        .filter(|n| *n != t.name)
        .collect();
    let peer_vpcs: Vec<(String, String)> = net
        .vpcs
        .iter()
        .filter(|v| net.tenants[v.tenant.index()].name != t.name)
        .map(|v| {
            let name = &net.tenants[v.tenant.index()].name;
            let shown = v.aws_id.clone().unwrap_or_else(|| "a peer VPC".to_owned());
            (format!("{name}/{}", v.name), shown)
        })
        .collect();
    let hide = |component: &mut String, detail: &mut String| {
        if others.iter().any(|o| mentions(component, o)) {
            *component = "(the peer's side)".to_owned();
            detail.clear();
            return;
        }
        for (path, shown) in &peer_vpcs {
            *detail = peer_shown(detail, path, shown);
        }
        if others.iter().any(|o| mentions(detail, o)) {
            detail.clear();
        }
    };
    for h in verdict.forward.iter_mut().chain(verdict.ret.iter_mut()) {
        hide(&mut h.component, &mut h.detail);
    }
    if let Some(b) = verdict.blocked.as_mut() {
        hide(&mut b.component, &mut b.reason);
    }
    Ok(Reachability {
        reachable: verdict.reachable,
        verdict,
    })
}

/// `text` with every `path` (`tenant/vpc` of a peer), and the name of the peer's
/// object after it (`tenant/vpc/name`), shown as `shown` (the VPC id): a peer's
/// ENIs, groups and tables are its own business, not their names.
fn peer_shown(text: &str, path: &str, shown: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(path) {
        out.push_str(&rest[..i]);
        out.push_str(shown);
        let mut after = &rest[i + path.len()..];
        if let Some(name) = after.strip_prefix('/') {
            let end = name
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
                .unwrap_or(name.len());
            after = &name[end..];
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The platform's desired network as of `cur`, validated; 409 `IncorrectState`
/// when it does not validate (another tenant's part is never named).
pub fn desired_network(
    cur: &Current,
) -> Result<std::sync::Arc<cove_model::model::Network>, ApiError> {
    cur.desired_network().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "IncorrectState",
            None,
            "the platform's desired network does not validate right now",
            "fix your spec (GET /v1/spec); ask the operator if it persists",
        )
    })
}

/// Whether `text` names something of tenant `name` (`name/…` at a word start).
fn mentions(text: &str, name: &str) -> bool {
    let needle = format!("{name}/");
    text.match_indices(&needle).any(|(i, _)| {
        text[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    })
}

#[cfg(test)]
mod tests {
    use super::peer_shown;

    #[test]
    fn a_peers_object_names_are_shown_as_its_vpc_id() {
        assert_eq!(
            peer_shown(
                "allows tcp/5432 to 10.40.128.5 (bravo/net-1/postgres) via bravo/net-1",
                "bravo/net-1",
                "vpc-0b"
            ),
            "allows tcp/5432 to 10.40.128.5 (vpc-0b) via vpc-0b"
        );
        assert_eq!(
            peer_shown("nothing here", "bravo/net-1", "vpc-0b"),
            "nothing here"
        );
    }
}
