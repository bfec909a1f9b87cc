//! Endpoint services (PrivateLink, issue 12) through the API: a provider lists its
//! services with the consumers' endpoints connected to them (EC2's
//! `DescribeVpcEndpointConnections`) and accepts or rejects them
//! (`AcceptVpcEndpointConnections` / `RejectVpcEndpointConnections`). The services
//! themselves, and consumers' endpoints, are parts of each tenant's spec
//! (`PUT /v1/spec`); accepting edits the provider's spec (`accepted`), through the
//! same validation and commit as `PUT /v1/spec`.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::layer::Caller;
use crate::service::Current;
use crate::spec::{commit_spec, decide_spec};

/// One consumer's endpoint connected to a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConnectionView {
    /// The endpoint, as the provider accepts it: `tenant/network/endpoint`.
    pub endpoint: String,
    /// The consumer tenant.
    pub tenant: String,
    /// `pending` (waiting for acceptance) or `available`.
    pub state: String,
}

/// One of the caller's endpoint services and its connections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EndpointServiceView {
    /// Its name (consumers write `<provider tenant>/<name>`).
    pub name: String,
    /// The service name consumers use.
    pub service_name: String,
    /// The TCP ports it serves.
    pub ports: Vec<u16>,
    /// Whether consumers' endpoints wait for acceptance.
    pub acceptance_required: bool,
    /// Tenants allowed to connect (`*`: every tenant).
    pub allowed_principals: Vec<String>,
    /// Its private DNS name, if any.
    pub private_dns_name: Option<String>,
    /// The consumers' endpoints connected to it.
    pub connections: Vec<ConnectionView>,
}

/// One of the caller's interface endpoints linked to an endpoint service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct EndpointView {
    /// The endpoint: `network/endpoint` (a VPC of the spec by its name).
    pub endpoint: String,
    /// The service it connects to (`<provider tenant>/<service>`).
    pub service: String,
    /// `pending` (waiting for the provider's acceptance) or `available`.
    pub state: String,
    /// The endpoint's addresses in the caller's VPC (one per subnet).
    pub addresses: Vec<String>,
    /// The name that resolves to them in the VPC, if any.
    pub private_dns_name: Option<String>,
}

/// The endpoints to accept or reject.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ConnectionsRequest {
    /// `tenant/network/endpoint` of each (as listed in `connections`).
    pub endpoints: Vec<String>,
}

/// The caller's endpoint services (pure): from its spec and the merged network.
pub fn services_of(cur: &Current, tenant: &cove_control::TenantId) -> Vec<EndpointServiceView> {
    let Some(t) = cur.state.tenants.get(tenant) else {
        return Vec::new();
    };
    let spec = cur.spec_of(tenant);
    let net =
        cove_model::validate::validate(&cove_control::desired_spec(&cur.state, &cur.specs)).network;
    spec.endpoint_services
        .iter()
        .map(|s| {
            let connections = net
                .as_ref()
                .map(|net| connections(cur, net, &t.name, &s.name))
                .unwrap_or_default();
            EndpointServiceView {
                name: s.name.clone(),
                service_name: cove_model::privatelink::EndpointService::reference(&t.name, &s.name),
                ports: s.ports.clone(),
                acceptance_required: s.acceptance_required,
                allowed_principals: s.allowed_principals.clone(),
                private_dns_name: s.private_dns_name.clone(),
                connections,
            }
        })
        .collect()
}

/// The endpoints linked to service `name` of tenant `provider`, named as the
/// provider accepts them (a network's VPC by the network's name).
fn connections(
    cur: &Current,
    net: &cove_model::Network,
    provider: &str,
    name: &str,
) -> Vec<ConnectionView> {
    net.service_links
        .iter()
        .filter(|l| {
            let s = &net.endpoint_services[l.service];
            s.name == name && net.tenants[s.tenant.index()].name == provider
        })
        .map(|l| {
            let e = &net.endpoints[l.endpoint.index()];
            let vpc = &net.vpcs[e.vpc.index()];
            let tenant = net.tenants[vpc.tenant.index()].name.clone();
            let network = cur
                .state
                .networks
                .values()
                .find(|n| n.id.0 == vpc.name)
                .map_or_else(|| vpc.name.clone(), |n| n.name.clone());
            ConnectionView {
                endpoint: format!("{tenant}/{network}/{}", e.name),
                tenant,
                state: state_text(l.state),
            }
        })
        .collect()
}

/// The caller's interface endpoints linked to endpoint services (pure).
pub fn endpoints_of(cur: &Current, tenant: &cove_control::TenantId) -> Vec<EndpointView> {
    let Some(t) = cur.state.tenants.get(tenant) else {
        return Vec::new();
    };
    let Some(net) =
        cove_model::validate::validate(&cove_control::desired_spec(&cur.state, &cur.specs)).network
    else {
        return Vec::new();
    };
    net.service_links
        .iter()
        .filter_map(|l| {
            let e = &net.endpoints[l.endpoint.index()];
            let vpc = &net.vpcs[e.vpc.index()];
            if net.tenants[vpc.tenant.index()].name != t.name {
                return None;
            }
            let svc = &net.endpoint_services[l.service];
            let network = cur
                .state
                .networks
                .values()
                .find(|n| n.id.0 == vpc.name)
                .map_or_else(|| vpc.name.clone(), |n| n.name.clone());
            let cove_model::EndpointKind::Interface {
                enis,
                private_dns_name,
            } = &e.kind
            else {
                return None;
            };
            Some(EndpointView {
                endpoint: format!("{network}/{}", e.name),
                service: cove_model::privatelink::EndpointService::reference(
                    &net.tenants[svc.tenant.index()].name,
                    &svc.name,
                ),
                state: state_text(l.state),
                addresses: enis
                    .iter()
                    .map(|x| net.enis[x.index()].private_ip.to_string())
                    .collect(),
                private_dns_name: private_dns_name.clone(),
            })
        })
        .collect()
}

fn state_text(s: cove_model::privatelink::LinkState) -> String {
    match s {
        cove_model::privatelink::LinkState::Pending => "pending",
        cove_model::privatelink::LinkState::Available => "available",
    }
    .to_owned()
}

/// The caller's interface endpoints to endpoint services (the consumer's side),
/// with their state and addresses.
#[utoipa::path(get, path = "/v1/endpoint-connections", tag = "endpoint-services",
    responses((status = 200, body = Vec<EndpointView>), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_endpoints(
    State(api): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<EndpointView>>, ApiError> {
    let tenant = caller.tenant()?;
    let cur = api.service.current().await?;
    Ok(Json(endpoints_of(&cur, tenant)))
}

/// The caller's endpoint services, each with the consumers' endpoints connected
/// to it and their state.
#[utoipa::path(get, path = "/v1/endpoint-services", tag = "endpoint-services",
    responses((status = 200, body = Vec<EndpointServiceView>), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_services(
    State(api): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<EndpointServiceView>>, ApiError> {
    let tenant = caller.tenant()?;
    let cur = api.service.current().await?;
    Ok(Json(services_of(&cur, tenant)))
}

/// Accepts consumers' endpoints to one of the caller's services: their traffic
/// flows once the kernel has the translation.
#[utoipa::path(post, path = "/v1/endpoint-services/{name}/accept", tag = "endpoint-services",
    params(("name" = String, Path, description = "the service's name")),
    request_body = ConnectionsRequest,
    responses((status = 200, body = EndpointServiceView), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn accept(
    State(api): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(req): Json<ConnectionsRequest>,
) -> Result<Json<EndpointServiceView>, ApiError> {
    change(&api, &caller, &name, &req, true).await
}

/// Rejects (or revokes) consumers' endpoints to one of the caller's services: no
/// traffic passes.
#[utoipa::path(post, path = "/v1/endpoint-services/{name}/reject", tag = "endpoint-services",
    params(("name" = String, Path, description = "the service's name")),
    request_body = ConnectionsRequest,
    responses((status = 200, body = EndpointServiceView), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn reject(
    State(api): State<ApiState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(req): Json<ConnectionsRequest>,
) -> Result<Json<EndpointServiceView>, ApiError> {
    change(&api, &caller, &name, &req, false).await
}

async fn change(
    api: &ApiState,
    caller: &Caller,
    name: &str,
    req: &ConnectionsRequest,
    accept: bool,
) -> Result<Json<EndpointServiceView>, ApiError> {
    let tenant = caller.tenant()?.clone();
    if req.endpoints.is_empty() {
        return Err(ApiError::invalid(
            "endpoints",
            "no endpoint is named",
            "list the endpoints as `tenant/network/endpoint`, as GET /v1/endpoint-services shows them",
        ));
    }
    let summary = if accept {
        "POST /v1/endpoint-services/{name}/accept"
    } else {
        "POST /v1/endpoint-services/{name}/reject"
    };
    commit_spec(api, caller, summary, |cur, tenant| {
        let mut spec = cur.spec_of(tenant);
        let listed = services_of(cur, tenant);
        let Some(svc) = spec.endpoint_services.iter_mut().find(|s| s.name == name) else {
            return Err(not_found(name));
        };
        let known = listed
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.connections.clone())
            .unwrap_or_default();
        for (i, e) in req.endpoints.iter().enumerate() {
            if accept && !known.iter().any(|c| c.endpoint == *e) {
                return Err(ApiError::new(
                    axum::http::StatusCode::NOT_FOUND,
                    "InvalidVpcEndpointId.NotFound",
                    Some(&format!("endpoints[{i}]")),
                    format!("no endpoint `{e}` is connected to service `{name}`"),
                    "name one listed under the service's `connections` (GET /v1/endpoint-services)",
                ));
            }
            if accept {
                if !svc.accepted.contains(e) {
                    svc.accepted.push(e.clone());
                }
            } else {
                svc.accepted.retain(|a| a != e);
            }
        }
        let text = serde_json::to_string(&spec).map_err(|e| ApiError::internal(&e))?;
        decide_spec(cur, tenant, &text, true).map(|s| (s, ()))
    })
    .await?;
    let cur = api.service.current().await?;
    services_of(&cur, &tenant)
        .into_iter()
        .find(|s| s.name == name)
        .map(Json)
        .ok_or_else(|| not_found(name))
}

fn not_found(name: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "InvalidVpcEndpointServiceId.NotFound",
        Some("name"),
        format!("you have no endpoint service `{name}`"),
        "name one of your services (GET /v1/endpoint-services); publish one under `endpoint_services` in your spec",
    )
}
