//! Secure Compute networks (Vercel-shaped): `/v1/connect/networks`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cove_control::{CreateNetwork, Network, PatchNetwork};

use crate::error::{ApiError, ErrorBody};
use crate::layer::Caller;
use crate::{ApiState, parse_json};

/// Creates a network (status `creating` until the kernel has it, then `ready`).
#[utoipa::path(post, path = "/v1/connect/networks", tag = "networks",
    request_body = CreateNetwork,
    responses((status = 201, body = Network), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_network(
    State(api): State<ApiState>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Network>), ApiError> {
    let tenant = caller.tenant()?.clone();
    let req: CreateNetwork = parse_json(&body)?;
    let (n, _) = api
        .service
        .run(&caller.meta("POST /v1/connect/networks"), |cur, env| {
            let spec = cur.spec_of(&tenant);
            cove_control::create_network(&cur.state, &tenant, env, req.clone(), &spec)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(n)))
}

/// A network as `GET` shows it: the network, and its NAT pair's failover state.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct NetworkView {
    /// The network.
    #[serde(flatten)]
    pub network: Network,
    /// Who carries each NAT gateway's static IP now (the network's
    /// `nat_failover` says how they fail over).
    pub failover: NatFailoverView,
}

/// A network's NAT failover (issue 11).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct NatFailoverView {
    /// `pair` (a gateway per zone, paired: one carries the other's static IP
    /// when it fails) or `independent` (one zone: AWS's behaviour).
    pub mode: String,
    /// Each NAT gateway's state.
    pub gateways: Vec<NatGatewayState>,
}

/// One NAT gateway's failover state.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct NatGatewayState {
    /// The gateway's name (`nat-a`, …).
    pub name: String,
    /// Its static IP.
    #[schema(value_type = String)]
    pub public_ip: std::net::Ipv4Addr,
    /// Its partner in the pair.
    pub partner: Option<String>,
    /// Which gateway carries its static IP now: itself, or its partner after a
    /// failure.
    pub carried_by: String,
    /// Since when its partner carries it (Unix seconds).
    pub since: Option<u64>,
    /// Why its partner carries it.
    pub reason: Option<String>,
}

/// The view of `n` with the recorded takeovers (keyed `<tenant name>/<network id>`,
/// the VPC the network becomes).
fn view(cur: &cove_deploy::control_service::Current, n: &Network) -> NetworkView {
    let tenant = cur
        .state
        .tenants
        .get(&n.tenant)
        .map(|t| t.name.clone())
        .unwrap_or_default();
    let vpc = format!("{tenant}/{}", n.id.0);
    let pair = cove_control::desired::network_vpc(n).nat_failover.is_some();
    let mut names: Vec<&str> = n.nat_gateways.iter().map(|g| g.name.as_str()).collect();
    names.sort_unstable();
    let partner_of = |g: &str| -> Option<String> {
        let i = names.iter().position(|x| *x == g)?;
        let j = if i % 2 == 0 { i + 1 } else { i - 1 };
        names.get(j).map(|s| (*s).to_owned())
    };
    let gateways = n
        .nat_gateways
        .iter()
        .map(|g| {
            let record = cur
                .nat_takeovers
                .iter()
                .find(|r| pair && r.vpc == vpc && r.gateway == g.name);
            NatGatewayState {
                name: g.name.clone(),
                public_ip: g.public_ip,
                partner: if pair { partner_of(&g.name) } else { None },
                carried_by: record.map_or_else(|| g.name.clone(), |r| r.carrier.clone()),
                since: record.map(|r| r.since),
                reason: record.map(|r| r.reason.clone()),
            }
        })
        .collect();
    NetworkView {
        network: n.clone(),
        failover: NatFailoverView {
            mode: if pair { "pair" } else { "independent" }.to_owned(),
            gateways,
        },
    }
}

/// The caller's networks, oldest first.
#[utoipa::path(get, path = "/v1/connect/networks", tag = "networks",
    responses((status = 200, body = Vec<NetworkView>), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_networks(
    State(api): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<NetworkView>>, ApiError> {
    let tenant = caller.tenant()?;
    let cur = api.service.current().await?;
    Ok(Json(
        cove_control::list_networks(&cur.state, tenant)
            .into_iter()
            .map(|n| view(&cur, n))
            .collect(),
    ))
}

/// One of the caller's networks, by id or name.
#[utoipa::path(get, path = "/v1/connect/networks/{id}", tag = "networks",
    params(("id" = String, Path, description = "network id or name")),
    responses((status = 200, body = NetworkView), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_network(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<NetworkView>, ApiError> {
    let tenant = caller.tenant()?;
    let cur = api.service.current().await?;
    let n = cove_control::get_network(&cur.state, tenant, &id)?;
    Ok(Json(view(&cur, n)))
}

/// Renames a network (its block, zones and static IPs never change).
#[utoipa::path(patch, path = "/v1/connect/networks/{id}", tag = "networks",
    params(("id" = String, Path, description = "network id or name")),
    request_body = PatchNetwork,
    responses((status = 200, body = Network), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch_network(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Network>, ApiError> {
    let tenant = caller.tenant()?.clone();
    let req: PatchNetwork = parse_json(&body)?;
    let (n, _) = api
        .service
        .run(
            &caller.meta("PATCH /v1/connect/networks/{id}"),
            |cur, env| {
                let net = cove_control::get_network(&cur.state, &tenant, &id)?
                    .id
                    .clone();
                let spec = cur.spec_of(&tenant);
                cove_control::patch_network(&cur.state, &tenant, env, &net, req.clone(), &spec)
            },
        )
        .await?;
    Ok(Json(n))
}

/// Deletes a network: `deleting` until the kernel no longer has it; its static IPs
/// go back to the pool then.
#[utoipa::path(delete, path = "/v1/connect/networks/{id}", tag = "networks",
    params(("id" = String, Path, description = "network id or name")),
    responses((status = 202, body = Network), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_network(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Network>), ApiError> {
    let tenant = caller.tenant()?.clone();
    let (n, _) = api
        .service
        .run(
            &caller.meta("DELETE /v1/connect/networks/{id}"),
            |cur, env| {
                let net = cove_control::get_network(&cur.state, &tenant, &id)?
                    .id
                    .clone();
                let spec = cur.spec_of(&tenant);
                cove_control::delete_network(&cur.state, &tenant, env, &net, &spec)
            },
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(n)))
}
