//! Lambda's REST API over HTTP: each call's signature checked, then carried out
//! through cove's own API in-process as the signing tenant.

use axum::Router;
use axum::body::{Bytes, to_bytes};
use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use cove_api::ApiState;
use cove_api::layer::Caller;
use cove_api::local::{LocalIdentity, call_with_headers};
use cove_api::service::Current;
use cove_control::{Actor, TenantId, TokenId};
use cove_model::ids::resource_id;
use cove_model::spec::{FunctionSpec, Scalar, VpcSpec};
use serde_json::{Value, json};

use super::config::{Placement, configuration};
use super::error::{LambdaError, from_api};
use crate::ec2::view::tenant_view;

/// Largest request (a zip in base64 within JSON: Lambda's 50 MB).
const MAX_BODY: usize = 70 << 20;

/// A signed request: who, where, and the state it was checked against.
pub(super) struct Signed {
    pub(super) tenant: TenantId,
    key: String,
    pub(super) region: String,
    cur: std::sync::Arc<Current>,
    body: Bytes,
    parts: Parts,
    /// The tenant's VPCs and subnets in the desired network of `cur`, made on
    /// first use (`ListFunctions` places every function with it).
    view: std::sync::OnceLock<Option<crate::ec2::view::TenantView>>,
}

impl Signed {
    fn who(&self) -> LocalIdentity {
        LocalIdentity::AccessKey {
            tenant: self.tenant.clone(),
            access_key_id: self.key.clone(),
        }
    }

    /// The tenant's EC2 view of `cur` (none when the desired network does not
    /// validate).
    fn tenant_view(&self) -> Option<&crate::ec2::view::TenantView> {
        self.view
            .get_or_init(|| {
                let t = self.cur.state.tenants.get(&self.tenant)?;
                let net = cove_api::spec::desired_network(&self.cur).ok()?;
                Some(tenant_view(&net, &t.name))
            })
            .as_ref()
    }

    pub(super) fn account(&self) -> String {
        self.cur
            .state
            .tenants
            .get(&self.tenant)
            .map(|t| t.account_id.clone())
            .unwrap_or_default()
    }

    /// The same signer over the latest state (after a write made through it).
    pub(super) async fn refreshed(&self, api: &ApiState) -> Result<Signed, LambdaError> {
        Ok(Signed {
            cur: api
                .service
                .current()
                .await
                .map_err(|e| LambdaError::new(500, "ServiceException", e.to_string()))?,
            tenant: self.tenant.clone(),
            key: self.key.clone(),
            region: self.region.clone(),
            body: Bytes::new(),
            parts: self.parts.clone(),
            view: std::sync::OnceLock::new(),
        })
    }

    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub(super) async fn signed(api: &ApiState, req: Request) -> Result<Signed, LambdaError> {
    signed_as_of(api, req, true).await
}

/// [`signed`], the signature checked against the latest state (`fresh`) or the
/// state last read (`Invoke`: its in-process call authenticates the tenant again
/// at the latest generation, so a key removed since is still refused there).
async fn signed_as_of(api: &ApiState, req: Request, fresh: bool) -> Result<Signed, LambdaError> {
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, MAX_BODY).await.map_err(|_| {
        LambdaError::new(
            413,
            "RequestTooLargeException",
            "Request must be smaller than 70167211 bytes for the CreateFunction operation",
        )
    })?;
    let latest = || async {
        api.service
            .current()
            .await
            .map_err(|e| LambdaError::new(500, "ServiceException", e.to_string()))
    };
    let mut cur = if fresh {
        latest().await?
    } else {
        api.service.last_read()
    };
    let mut verified = crate::auth::verify(api, &cur, &parts, &body);
    if !fresh && matches!(verified, Err(crate::sigv4::SigError::UnknownKey)) {
        // A tenant made since the last read.
        cur = latest().await?;
        verified = crate::auth::verify(api, &cur, &parts, &body);
    }
    // Lambda answers every authentication failure with 403.
    let (signer, tenant) =
        verified.map_err(|e| LambdaError::new(403, e.lambda_code(), e.to_string()))?;
    Ok(Signed {
        tenant,
        key: signer.access_key_id,
        region: signer.region,
        cur,
        body,
        parts,
        view: std::sync::OnceLock::new(),
    })
}

/// cove's API in-process as the signer; the answer's JSON, or Lambda's error.
pub(super) async fn cove(
    api: &ApiState,
    s: &Signed,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<(u16, Value, Vec<(String, String)>, Vec<u8>), LambdaError> {
    let ans = call_with_headers(api, &s.who(), method, path, headers, body)
        .await
        .map_err(|e| LambdaError::new(500, "ServiceException", e.to_string()))?;
    if ans.status >= 400 {
        let json: Value = serde_json::from_slice(&ans.body).unwrap_or(Value::Null);
        let e = &json["error"];
        return Err(from_api(
            ans.status,
            e["code"].as_str().unwrap_or_default(),
            e["message"].as_str().unwrap_or_default(),
            e["field"].as_str(),
        ));
    }
    let json: Value = serde_json::from_slice(&ans.body).unwrap_or(Value::Null);
    Ok((ans.status, json, ans.headers, ans.body))
}

pub(super) fn enc(text: &str) -> String {
    crate::sigv4::uri_encode(text, false)
}

/// A function named by name or ARN.
pub(super) fn function_name(text: &str) -> &str {
    text.rsplit(':').next().unwrap_or(text)
}

/// Where a function (cove's view) is, by EC2 ids, and its role.
fn placement(s: &Signed, view: &Value) -> Placement {
    let mut at = Placement {
        region: s.region.clone(),
        account: s.account(),
        ..Placement::default()
    };
    // The zip's size, from the upload the code came from.
    let digest = view["code"].as_str().unwrap_or_default();
    let digest = digest
        .strip_prefix(cove_control::CODE_DIGEST_PREFIX)
        .unwrap_or(digest);
    let upload = s.cur.uploads.get(&s.tenant).and_then(|u| u.get(digest));
    at.code_size = upload.map_or(0, |u| u.zip_size);
    at.zip_sha256 = upload.and_then(|u| u.zip_sha256.clone());
    let (Some(t), Ok(net), Some(ec2)) = (
        s.cur.state.tenants.get(&s.tenant),
        cove_api::spec::desired_network(&s.cur),
        s.tenant_view(),
    ) else {
        return at;
    };
    let vpc_name = view["vpc"].as_str().unwrap_or_default();
    // The spec names a network's VPC by the network's name or id; the model by id.
    let networks = cove_control::list_networks(&s.cur.state, &s.tenant);
    let model_name = networks
        .iter()
        .find(|n| n.name == vpc_name || n.id.0 == vpc_name)
        .map_or(vpc_name.to_owned(), |n| n.id.0.clone());
    if let Some(v) = ec2.vpcs.iter().find(|v| v.name == model_name) {
        at.vpc_id = v.id.clone();
    }
    let names = |k: &str| -> Vec<String> {
        view[k]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect()
    };
    at.subnet_ids = names("subnets")
        .iter()
        .filter_map(|n| {
            ec2.subnets
                .iter()
                .find(|x| x.vpc_name == model_name && &x.name == n)
                .map(|x| x.id.clone())
        })
        .collect();
    let mut groups = names("security_groups");
    if groups.is_empty() {
        groups.push("default".to_owned());
    }
    at.group_ids = groups
        .iter()
        .map(|g| resource_id_of_group(&net, &t.name, &model_name, g))
        .collect();
    let name = view["name"].as_str().unwrap_or_default();
    at.role = s
        .cur
        .spec_of(&s.tenant)
        .vpcs
        .iter()
        .flat_map(|v| &v.functions)
        .find(|f| f.name == name)
        .and_then(|f| f.role.clone());
    at
}

fn resource_id_of_group(
    net: &cove_model::model::Network,
    tenant: &str,
    vpc: &str,
    group: &str,
) -> String {
    let imported = net.security_groups.iter().find(|g| {
        let v = &net.vpcs[g.vpc.index()];
        g.name == group && v.name == vpc && net.tenants[v.tenant.index()].name == tenant
    });
    resource_id(
        "sg",
        imported.and_then(|g| g.aws_id.as_deref()),
        &format!("{tenant}/{vpc}/{group}"),
    )
}

pub(super) fn json_response(status: u16, v: &Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

/// `result` as an answer: its JSON with `status`, or Lambda's error.
fn respond(status: u16, result: Result<Value, LambdaError>) -> Response {
    match result {
        Ok(v) => json_response(status, &v),
        Err(e) => e.into_response(),
    }
}

pub(super) fn body_json(s: &Signed) -> Result<Value, LambdaError> {
    if s.body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(&s.body).map_err(|e| {
        LambdaError::new(
            400,
            "InvalidRequestContentException",
            format!("Could not parse request body into json: {e}"),
        )
    })
}

/// Uploads a `ZipFile` (base64) as the signer's code: `sha256:…`.
async fn upload(api: &ApiState, s: &Signed, zip_b64: &str) -> Result<String, LambdaError> {
    let zip = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, zip_b64)
        .map_err(|_| LambdaError::invalid("Code.ZipFile is not base64"))?;
    let (_, up, _, _) = cove(
        api,
        s,
        "POST",
        "/v1/functions/code",
        &[("content-type", "application/zip")],
        zip,
    )
    .await?;
    Ok(up["code"].as_str().unwrap_or_default().to_owned())
}

async fn view_of(api: &ApiState, s: &Signed, name: &str) -> Result<Value, LambdaError> {
    let (_, v, _, _) = cove(
        api,
        s,
        "GET",
        &format!("/v1/functions/{}", enc(name)),
        &[],
        Vec::new(),
    )
    .await?;
    Ok(v)
}

macro_rules! signed_or_return {
    ($api:expr, $req:expr) => {
        match signed(&$api, $req).await {
            Ok(s) => s,
            Err(e) => return e.into_response(),
        }
    };
}

/// `CreateFunction`.
async fn create(State(api): State<ApiState>, req: Request) -> Response {
    let s = signed_or_return!(api, req);
    respond(201, create_inner(&api, &s).await)
}

async fn create_inner(api: &ApiState, s: &Signed) -> Result<Value, LambdaError> {
    let b = body_json(s)?;
    let text = |k: &str| b[k].as_str().map(str::to_owned);
    let name =
        text("FunctionName").ok_or_else(|| LambdaError::invalid("FunctionName is required"))?;
    let name = function_name(&name).to_owned();
    if b["PackageType"].as_str().is_some_and(|p| p != "Zip") {
        return Err(LambdaError::invalid(
            "cove runs Zip packages only: give Code.ZipFile",
        ));
    }
    if let Some(a) = b["Architectures"].as_array() {
        if a.iter().any(|x| x != "x86_64") {
            return Err(LambdaError::invalid("cove runs x86_64 functions only"));
        }
    }
    let zip = b["Code"]["ZipFile"].as_str().ok_or_else(|| {
        LambdaError::invalid("Code.ZipFile is required (cove takes the code inline)")
    })?;
    let subnet_ids: Vec<String> = b["VpcConfig"]["SubnetIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    if subnet_ids.is_empty() {
        return Err(LambdaError::invalid(
            "cove runs every function in a VPC: give VpcConfig.SubnetIds (and SecurityGroupIds)",
        ));
    }
    let group_ids: Vec<String> = b["VpcConfig"]["SecurityGroupIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let code = upload(api, s, zip).await?;
    let role = text("Role");
    let caller = Caller {
        actor: Actor::Tenant {
            tenant: s.tenant.clone(),
            token: TokenId(format!("access-key:{}", s.key)),
        },
        request_id: crate::ec2::server::request_id(),
    };
    let region = s.region.clone();
    let account = s.account();
    cove_api::spec::commit_spec(api, &caller, "Lambda CreateFunction", |cur, tenant| {
        let err = |e: LambdaError| cove_api::error::ApiError::new(
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            &e.code,
            None,
            e.message,
            "",
        );
        let t = cur.state.tenants.get(tenant).ok_or_else(|| err(LambdaError::new(403, "UnrecognizedClientException", "the tenant is gone")))?;
        let net = cove_api::spec::desired_network(cur)?;
        let ec2 = tenant_view(&net, &t.name);
        let mut spec = cur.spec_of(tenant);
        if spec.vpcs.iter().flat_map(|v| &v.functions).any(|f| f.name == name) {
            return Err(err(LambdaError::new(
                409,
                "ResourceConflictException",
                format!("Function already exist: {name}"),
            )));
        }
        let subnets: Vec<&crate::ec2::view::SubnetView> = subnet_ids
            .iter()
            .map(|id| {
                ec2.subnets.iter().find(|x| &x.id == id).ok_or_else(|| {
                    err(LambdaError::invalid(format!(
                        "Error occurred while DescribeSubnets. EC2 Error Code: InvalidSubnetID.NotFound. EC2 Error Message: The subnet ID '{id}' does not exist"
                    )))
                })
            })
            .collect::<Result<_, _>>()?;
        let vpc = subnets[0].vpc_name.clone();
        if subnets.iter().any(|x| x.vpc_name != vpc) {
            return Err(err(LambdaError::invalid("Subnets must all be in the same VPC")));
        }
        let groups: Vec<String> = group_ids
            .iter()
            .map(|id| {
                net.security_groups
                    .iter()
                    .find(|g| {
                        let v = &net.vpcs[g.vpc.index()];
                        v.name == vpc
                            && net.tenants[v.tenant.index()].name == t.name
                            && resource_id_of_group(&net, &t.name, &vpc, &g.name) == *id
                    })
                    .map(|g| g.name.clone())
                    .ok_or_else(|| {
                        err(LambdaError::invalid(format!(
                            "Error occurred while DescribeSecurityGroups. EC2 Error Code: InvalidGroup.NotFound. EC2 Error Message: The security group '{id}' does not exist in VPC"
                        )))
                    })
            })
            .collect::<Result<_, _>>()?;
        let networks = cove_control::list_networks(&cur.state, tenant);
        let network = networks.iter().find(|n| n.id.0 == vpc);
        let at = spec.vpcs.iter().position(|v| {
            v.name == vpc || network.is_some_and(|n| v.name == n.name || v.name == n.vpc_id)
        });
        let at = at.unwrap_or_else(|| {
            spec.vpcs.push(VpcSpec {
                name: vpc.clone(),
                ..VpcSpec::default()
            });
            spec.vpcs.len() - 1
        });
        let int = |k: &str| b[k].as_i64().map(Scalar::Int);
        spec.vpcs[at].functions.push(FunctionSpec {
            name: name.clone(),
            runtime: b["Runtime"].as_str().unwrap_or_default().to_owned(),
            handler: b["Handler"].as_str().unwrap_or_default().to_owned(),
            code: code.clone(),
            memory: int("MemorySize"),
            timeout: int("Timeout"),
            environment: b["Environment"]["Variables"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), Scalar::Str(v.as_str().unwrap_or_default().to_owned())))
                        .collect()
                })
                .unwrap_or_default(),
            subnets: subnets.iter().map(|x| x.name.clone()).collect(),
            security_groups: groups,
            concurrency: None,
            description: b["Description"].as_str().map(str::to_owned),
            role: role.clone(),
            url: None,
        });
        let text = serde_json::to_string(&spec).map_err(|e| cove_api::error::ApiError::internal(&e))?;
        let checked = cove_api::spec::decide_spec(cur, tenant, &text, true)?;
        Ok((checked, ()))
    })
    .await
    .map_err(|e| from_api(e.status.as_u16(), &e.code, &e.message, e.field.as_deref()))?;
    let _ = (region, account);
    let fresh = s.refreshed(api).await?;
    let view = view_of(api, &fresh, &name).await?;
    Ok(configuration(&view, &placement(&fresh, &view)))
}

/// `ListFunctions` (`Marker`, `MaxItems`).
async fn list(State(api): State<ApiState>, req: Request) -> Response {
    let s = signed_or_return!(api, req);
    let all = match cove(&api, &s, "GET", "/v1/functions", &[], Vec::new()).await {
        Ok((_, v, _, _)) => v,
        Err(e) => return e.into_response(),
    };
    let all: Vec<Value> = all.as_array().cloned().unwrap_or_default();
    let query = s.parts.uri.query().unwrap_or("");
    let param = |k: &str| {
        query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(a, _)| *a == k)
            .map(|(_, v)| v.to_owned())
    };
    let start: usize = param("Marker").and_then(|m| m.parse().ok()).unwrap_or(0);
    let max: usize = param("MaxItems")
        .and_then(|m| m.parse().ok())
        .unwrap_or(50)
        .clamp(1, 10_000);
    let end = (start + max).min(all.len());
    let functions: Vec<Value> = all
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(|v| configuration(v, &placement(&s, v)))
        .collect();
    let mut out = json!({ "Functions": functions });
    if end < all.len() {
        out["NextMarker"] = json!(end.to_string());
    }
    json_response(200, &out)
}

/// `GetFunction`.
async fn get_function(
    State(api): State<ApiState>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    let s = signed_or_return!(api, req);
    match view_of(&api, &s, function_name(&name)).await {
        Ok(v) => {
            let c = configuration(&v, &placement(&s, &v));
            let concurrency = v["concurrency"]
                .as_str()
                .and_then(|c| c.parse::<u64>().ok());
            let mut out = json!({
                "Configuration": c,
                "Code": { "RepositoryType": "S3", "Location": "" },
            });
            if let Some(n) = concurrency {
                out["Concurrency"] = json!({ "ReservedConcurrentExecutions": n });
            }
            json_response(200, &out)
        }
        Err(e) => e.into_response(),
    }
}

/// `GetFunctionConfiguration`.
async fn get_configuration(
    State(api): State<ApiState>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    let s = signed_or_return!(api, req);
    match view_of(&api, &s, function_name(&name)).await {
        Ok(v) => json_response(200, &configuration(&v, &placement(&s, &v))),
        Err(e) => e.into_response(),
    }
}

async fn patch(
    api: &ApiState,
    s: &Signed,
    name: &str,
    change: Value,
) -> Result<Value, LambdaError> {
    let path = format!("/v1/functions/{}", enc(name));
    cove(
        api,
        s,
        "PATCH",
        &path,
        &[("content-type", "application/json")],
        change.to_string().into_bytes(),
    )
    .await?;
    // The answer shows what the change wrote (its upload too): the latest state.
    let fresh = s.refreshed(api).await?;
    let v = view_of(api, &fresh, name).await?;
    Ok(configuration(&v, &placement(&fresh, &v)))
}

/// `UpdateFunctionConfiguration` (memory, timeout, environment, handler, runtime,
/// description).
async fn update_configuration(
    State(api): State<ApiState>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    let s = signed_or_return!(api, req);
    let b = match body_json(&s) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let mut change = json!({});
    for (from, to) in [
        ("MemorySize", "memory"),
        ("Timeout", "timeout"),
        ("Handler", "handler"),
        ("Runtime", "runtime"),
        ("Description", "description"),
    ] {
        if !b[from].is_null() {
            change[to] = b[from].clone();
        }
    }
    if let Some(vars) = b["Environment"]["Variables"].as_object() {
        change["environment"] = Value::Object(vars.clone());
    }
    respond(200, patch(&api, &s, function_name(&name), change).await)
}

/// `UpdateFunctionCode` (`ZipFile`).
async fn update_code(
    State(api): State<ApiState>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    let s = signed_or_return!(api, req);
    let result = async {
        let b = body_json(&s)?;
        let zip = b["ZipFile"]
            .as_str()
            .ok_or_else(|| LambdaError::invalid("ZipFile is required"))?;
        let name = function_name(&name).to_owned();
        view_of(&api, &s, &name).await?;
        let code = upload(&api, &s, zip).await?;
        patch(&api, &s, &name, json!({ "code": code })).await
    }
    .await;
    respond(200, result)
}

/// `DeleteFunction`.
async fn delete(State(api): State<ApiState>, Path(name): Path<String>, req: Request) -> Response {
    let s = signed_or_return!(api, req);
    let path = format!("/v1/functions/{}", enc(function_name(&name)));
    match cove(&api, &s, "DELETE", &path, &[], Vec::new()).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

/// `Invoke` (`RequestResponse`, `Event`, `DryRun`).
async fn invoke(State(api): State<ApiState>, Path(name): Path<String>, req: Request) -> Response {
    // A key unknown to the state last read is checked against the latest.
    let s = match signed_as_of(&api, req, false).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let name = function_name(&name).to_owned();
    let kind = s
        .header("x-amz-invocation-type")
        .unwrap_or("RequestResponse")
        .to_owned();
    if kind == "DryRun" {
        return match view_of(&api, &s, &name).await {
            Ok(_) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => e.into_response(),
        };
    }
    let mut headers = axum::http::HeaderMap::new();
    if kind == "Event" {
        headers.insert("x-amz-invocation-type", HeaderValue::from_static("Event"));
    } else if kind != "RequestResponse" {
        return LambdaError::invalid(format!(
            "Invalid invocation type {kind}: use RequestResponse, Event or DryRun"
        ))
        .into_response();
    }
    // The signature identified the tenant: cove's invocation runs directly, as
    // the request through cove's API would (no second pass through a router).
    let caller = Caller {
        actor: Actor::Tenant {
            tenant: s.tenant.clone(),
            token: TokenId(format!("access-key:{}", s.key)),
        },
        request_id: crate::ec2::server::request_id(),
    };
    let body = axum::body::Body::from(s.body.clone());
    let answer = match cove_api::functions::invoke_as(&api, &caller, &name, &headers, body).await {
        Ok(r) => r,
        Err(e) => {
            return from_api(e.status.as_u16(), &e.code, &e.message, e.field.as_deref())
                .into_response();
        }
    };
    let (parts, body) = answer.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY).await else {
        return LambdaError::new(500, "ServiceException", "the answer could not be read")
            .into_response();
    };
    let mut r = (parts.status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        "x-amz-executed-version",
        HeaderValue::from_static("$LATEST"),
    );
    for k in ["x-amz-function-error", "x-amzn-requestid"] {
        if let Some(v) = parts.headers.get(k) {
            h.insert(k, v.clone());
        }
    }
    r
}

/// `PutFunctionConcurrency`.
async fn put_concurrency(
    State(api): State<ApiState>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    let s = signed_or_return!(api, req);
    let result = async {
        let b = body_json(&s)?;
        let n = b["ReservedConcurrentExecutions"]
            .as_i64()
            .ok_or_else(|| LambdaError::invalid("ReservedConcurrentExecutions is required"))?;
        patch(&api, &s, function_name(&name), json!({ "concurrency": n })).await?;
        Ok::<_, LambdaError>(json!({ "ReservedConcurrentExecutions": n }))
    }
    .await;
    respond(200, result)
}

/// `DeleteFunctionConcurrency`: back to cove's default reservation (10).
async fn delete_concurrency(
    State(api): State<ApiState>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    let s = signed_or_return!(api, req);
    match patch(&api, &s, function_name(&name), json!({ "concurrency": 10 })).await {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GetFunctionConcurrency`.
async fn get_concurrency(
    State(api): State<ApiState>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    let s = signed_or_return!(api, req);
    match view_of(&api, &s, function_name(&name)).await {
        Ok(v) => {
            let n = v["concurrency"]
                .as_str()
                .and_then(|c| c.parse::<u64>().ok());
            json_response(
                200,
                &n.map_or(json!({}), |n| json!({ "ReservedConcurrentExecutions": n })),
            )
        }
        Err(e) => e.into_response(),
    }
}

/// Lambda's routes (state applied).
pub fn router(api: ApiState) -> Router {
    Router::new()
        .route("/2015-03-31/functions", post(create).get(list))
        .route("/2015-03-31/functions/", post(create).get(list))
        .route(
            "/2015-03-31/functions/{name}",
            get(get_function).delete(delete),
        )
        .route(
            "/2015-03-31/functions/{name}/configuration",
            get(get_configuration).put(update_configuration),
        )
        .route("/2015-03-31/functions/{name}/code", put(update_code))
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .route(
            "/2017-10-31/functions/{name}/concurrency",
            put(put_concurrency).delete(delete_concurrency),
        )
        .route(
            "/2019-09-30/functions/{name}/concurrency",
            get(get_concurrency),
        )
        .merge(super::urls::routes())
        .with_state(api)
}
