//! `GET /v1/topology`: the caller's part of the desired network as a picture needs
//! it — its VPCs (networks and the VPCs of its spec) with subnets, ENIs, NAT
//! gateways, endpoints and functions, and its peerings. Nothing of another tenant
//! but what a peering shows (the peer's account and VPC id).

use std::net::Ipv4Addr;

use axum::Json;
use axum::extract::State;
use cove_control::TenantId;
use cove_model::model::{EndpointKind, EniOwner, Network};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::layer::Caller;
use crate::service::Current;

/// The caller's network, for drawing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Topology {
    /// The tenant's name.
    pub tenant: String,
    /// Its VPCs, in the desired network's order.
    pub vpcs: Vec<TopologyVpc>,
    /// Peerings touching its VPCs.
    pub peerings: Vec<TopologyPeering>,
}

/// One VPC.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TopologyVpc {
    /// Its name in the spec (a network's VPC is named by the network's id).
    pub name: String,
    /// The network's name, when the VPC is a Secure Compute network.
    pub network: Option<String>,
    /// Its VPC id (`vpc-…`: imported, the network's, or derived from its path as
    /// EC2's API, flow logs and policies name it).
    pub vpc_id: Option<String>,
    /// Its blocks.
    pub cidrs: Vec<String>,
    /// Whether it has an internet gateway.
    pub internet_gateway: bool,
    /// Subnets, in spec order, with their ENIs.
    pub subnets: Vec<TopologySubnet>,
    /// NAT gateways.
    pub nat_gateways: Vec<TopologyNat>,
    /// VPC endpoints.
    pub endpoints: Vec<TopologyEndpoint>,
    /// Functions attached to the VPC.
    pub functions: Vec<TopologyFunction>,
}

/// One subnet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TopologySubnet {
    /// Name.
    pub name: String,
    /// Block.
    pub cidr: String,
    /// Availability zone.
    pub az: String,
    /// Its route table's name.
    pub route_table: String,
    /// Its network ACL's name.
    pub network_acl: String,
    /// Whether its route table sends `0.0.0.0/0` to an internet gateway.
    pub public: bool,
    /// The ENIs in it.
    pub enis: Vec<TopologyEni>,
}

/// One ENI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TopologyEni {
    /// Name (for endpoint/NAT ENIs: `<owner>-<subnet>`).
    pub name: String,
    /// Its id (`eni-…`), when it has one.
    pub id: Option<String>,
    /// Private address.
    #[schema(value_type = String)]
    pub ip: Ipv4Addr,
    /// Public address, if any.
    #[schema(value_type = Option<String>)]
    pub public_ip: Option<Ipv4Addr>,
    /// `eni`, `endpoint`, `front`, `nat` or `shared` (a function ENI).
    pub kind: String,
    /// Its security groups' names.
    pub security_groups: Vec<String>,
}

/// One NAT gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TopologyNat {
    /// Name.
    pub name: String,
    /// Its subnet's name.
    pub subnet: String,
    /// `public` or `private`.
    pub connectivity: String,
    /// Its static IPs.
    #[schema(value_type = Vec<String>)]
    pub public_ips: Vec<Ipv4Addr>,
    /// Its partner in a pair.
    pub partner: Option<String>,
    /// Who carries its addresses now, when not itself.
    pub carried_by: Option<String>,
}

/// One VPC endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TopologyEndpoint {
    /// Name.
    pub name: String,
    /// Its id (`vpce-…`).
    pub id: Option<String>,
    /// Service name.
    pub service: String,
    /// `gateway` or `interface`.
    pub kind: String,
}

/// One function.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TopologyFunction {
    /// Name.
    pub name: String,
    /// Runtime.
    pub runtime: String,
    /// Its subnets' names.
    pub subnets: Vec<String>,
}

/// One peering as the caller sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TopologyPeering {
    /// Its id (`pcx-…`) or, for a peering of the spec without one, its name.
    pub id: String,
    /// AWS's status code.
    pub status: String,
    /// The caller's VPC (its name in [`Topology::vpcs`]).
    pub local_vpc: String,
    /// The other VPC: its name when it is the caller's too, else its VPC id.
    pub peer_vpc: String,
    /// Whether the other VPC is the caller's.
    pub peer_is_local: bool,
    /// The other side's account, when it is another tenant.
    pub peer_account: Option<String>,
}

/// The caller's topology.
#[utoipa::path(get, path = "/v1/topology", tag = "spec",
    responses((status = 200, body = Topology), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn topology(
    State(api): State<ApiState>,
    caller: Caller,
) -> Result<Json<Topology>, ApiError> {
    let tenant = caller.tenant()?;
    let cur = api.service.current().await?;
    Ok(Json(topology_of(&cur, tenant)?))
}

/// The topology of `tenant` in the current desired network (pure).
pub fn topology_of(cur: &Current, tenant: &TenantId) -> Result<Topology, ApiError> {
    let Some(t) = cur.state.tenants.get(tenant) else {
        return Ok(Topology::default());
    };
    let net = crate::spec::desired_network(cur)?;
    let networks = cove_control::list_networks(&cur.state, tenant);
    let mut topo = extract(&net, &t.name, |vpc| {
        networks
            .iter()
            .find(|n| n.id.0 == vpc)
            .map(|n| n.name.clone())
    });
    // Peerings of networks (the control plane's, any status), by VPC id.
    for p in cove_control::list_peerings(&cur.state, tenant) {
        let (mine, other) = match p.role {
            cove_control::PeeringRole::Accepter => (&p.accepter, &p.requester),
            _ => (&p.requester, &p.accepter),
        };
        let local = topo
            .vpcs
            .iter()
            .find(|v| v.vpc_id.as_deref() == Some(mine.vpc_id.as_str()));
        let Some(local) = local else { continue };
        let local_name = local.name.clone();
        let peer_local = topo
            .vpcs
            .iter()
            .find(|v| v.vpc_id.as_deref() == Some(other.vpc_id.as_str()))
            .map(|v| v.name.clone());
        let status = serde_json::to_value(p.status)
            .ok()
            .and_then(|s| s.as_str().map(str::to_owned))
            .unwrap_or_default();
        topo.peerings.retain(|x| x.id != p.id.0);
        topo.peerings.push(TopologyPeering {
            id: p.id.0.clone(),
            status,
            local_vpc: local_name,
            peer_is_local: peer_local.is_some(),
            peer_vpc: peer_local.unwrap_or_else(|| other.vpc_id.clone()),
            peer_account: (other.account_id != t.account_id).then(|| other.account_id.clone()),
        });
    }
    Ok(topo)
}

/// The part of `net` that tenant `name` owns (pure); `network_name` names a VPC
/// that is a Secure Compute network.
pub fn extract(
    net: &Network,
    name: &str,
    network_name: impl Fn(&str) -> Option<String>,
) -> Topology {
    let mut topo = Topology {
        tenant: name.to_owned(),
        ..Topology::default()
    };
    let Some(tid) = net.tenants.iter().position(|t| t.name == name) else {
        return topo;
    };
    let mine = |vpc: cove_model::model::VpcId| net.vpcs[vpc.index()].tenant.index() == tid;
    for &vid in &net.tenants[tid].vpcs {
        let vpc = &net.vpcs[vid.index()];
        let subnet_name = |s: cove_model::model::SubnetId| net.subnets[s.index()].name.clone();
        let subnets = vpc
            .subnets
            .iter()
            .map(|&sid| {
                let s = &net.subnets[sid.index()];
                let rt = &net.route_tables[s.route_table.index()];
                let public = rt.routes.iter().any(|r| {
                    matches!(r.target, cove_model::model::RouteTarget::InternetGateway(_))
                        && matches!(r.destination, cove_model::model::RouteDestination::Cidr(c) if c.prefix_len() == 0)
                });
                let enis = vpc
                    .enis
                    .iter()
                    .map(|e| &net.enis[e.index()])
                    .filter(|e| e.subnet == sid)
                    .map(|e| TopologyEni {
                        name: e.name.clone(),
                        id: e.aws_id.clone(),
                        ip: e.private_ip,
                        public_ip: e.public_ip,
                        kind: match e.owner {
                            EniOwner::User => "eni",
                            EniOwner::Endpoint(_) => "endpoint",
                            EniOwner::Front(_) => "front",
                            EniOwner::NatGateway(_) => "nat",
                            EniOwner::Shared => "shared",
                        }
                        .to_owned(),
                        security_groups: e
                            .security_groups
                            .iter()
                            .map(|g| net.security_groups[g.index()].name.clone())
                            .collect(),
                    })
                    .collect();
                TopologySubnet {
                    name: s.name.clone(),
                    cidr: s.cidr.to_string(),
                    az: s.az.clone(),
                    route_table: rt.name.clone(),
                    network_acl: net.network_acls[s.network_acl.index()].name.clone(),
                    public,
                    enis,
                }
            })
            .collect();
        let nat_name = |n: cove_model::model::NatId| net.nat_gateways[n.index()].name.clone();
        topo.vpcs.push(TopologyVpc {
            name: vpc.name.clone(),
            network: network_name(&vpc.name),
            vpc_id: Some(cove_model::ids::vpc_id(net, vid)),
            cidrs: vpc.cidrs.iter().map(ToString::to_string).collect(),
            internet_gateway: vpc.internet_gateway.is_some(),
            subnets,
            nat_gateways: vpc
                .nat_gateways
                .iter()
                .map(|n| &net.nat_gateways[n.index()])
                .map(|n| TopologyNat {
                    name: n.name.clone(),
                    subnet: subnet_name(n.subnet),
                    connectivity: match n.connectivity {
                        cove_model::model::NatConnectivity::Public => "public",
                        cove_model::model::NatConnectivity::Private => "private",
                    }
                    .to_owned(),
                    public_ips: n.public_ips.clone(),
                    partner: n.partner.map(nat_name),
                    carried_by: n.carried_by.map(nat_name),
                })
                .collect(),
            endpoints: vpc
                .endpoints
                .iter()
                .map(|e| &net.endpoints[e.index()])
                .map(|e| TopologyEndpoint {
                    name: e.name.clone(),
                    id: e.aws_id.clone(),
                    service: e.service.clone(),
                    kind: match e.kind {
                        EndpointKind::Gateway { .. } => "gateway",
                        EndpointKind::Interface { .. } => "interface",
                    }
                    .to_owned(),
                })
                .collect(),
            functions: vpc
                .functions
                .iter()
                .map(|f| &net.functions[f.index()])
                .map(|f| TopologyFunction {
                    name: f.name.clone(),
                    runtime: f.runtime.clone(),
                    subnets: f.subnets.iter().map(|&s| subnet_name(s)).collect(),
                })
                .collect(),
        });
    }
    // Peerings of the spec: both sides shown by name when both are the tenant's;
    // otherwise the other side by its VPC id only.
    for p in &net.peerings {
        let (local, other) = if mine(p.requester) {
            (p.requester, p.accepter)
        } else if mine(p.accepter) {
            (p.accepter, p.requester)
        } else {
            continue;
        };
        let o = &net.vpcs[other.index()];
        let peer_is_local = mine(other);
        topo.peerings.push(TopologyPeering {
            id: p.aws_id.clone().unwrap_or_else(|| p.name.clone()),
            status: p.status.as_str().to_owned(),
            local_vpc: net.vpcs[local.index()].name.clone(),
            peer_vpc: if peer_is_local {
                o.name.clone()
            } else {
                o.aws_id.clone().unwrap_or_else(|| "a peer VPC".to_owned())
            },
            peer_is_local,
            peer_account: if peer_is_local {
                None
            } else {
                net.tenants[o.tenant.index()].account_id.clone()
            },
        });
    }
    topo
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> Network {
        let spec: cove_model::spec::Spec = serde_saphyr::from_str(text).expect("spec parses");
        let v = cove_model::validate::validate(&spec);
        v.network.expect("spec validates")
    }

    const TWO_TENANTS: &str = r#"
tenants:
  - name: a
    vpcs:
      - name: app
        cidr: 10.0.0.0/16
        internet_gateway: { name: igw }
        subnets:
          - { name: pub, cidr: 10.0.0.0/24, az: us-east-1a, route_table: public }
          - { name: priv, cidr: 10.0.1.0/24, az: us-east-1a }
        route_tables:
          - name: public
            routes: [{ destination: 0.0.0.0/0, internet_gateway: igw }]
        enis:
          - { name: web, subnet: priv, private_ip: 10.0.1.10 }
  - name: b
    vpcs:
      - name: secret
        cidr: 10.9.0.0/16
        subnets:
          - { name: s, cidr: 10.9.0.0/24, az: us-east-1a }
        enis:
          - { name: db, subnet: s, private_ip: 10.9.0.5 }
"#;

    #[test]
    fn shows_only_the_tenants_own_vpcs_and_enis() {
        let n = net(TWO_TENANTS);
        let t = extract(&n, "a", |_| None);
        assert_eq!(t.vpcs.len(), 1);
        assert_eq!(t.vpcs[0].name, "app");
        assert!(t.vpcs[0].internet_gateway);
        let subnets: Vec<(&str, bool)> = t.vpcs[0]
            .subnets
            .iter()
            .map(|s| (s.name.as_str(), s.public))
            .collect();
        assert_eq!(subnets, [("pub", true), ("priv", false)]);
        assert_eq!(t.vpcs[0].subnets[1].enis[0].name, "web");
        let text = serde_json::to_string(&t).expect("serializes");
        assert!(!text.contains("10.9.0.5"), "b's ENI leaked: {text}");
        assert!(!text.contains("secret"), "b's VPC leaked: {text}");
    }

    #[test]
    fn an_unknown_tenant_has_an_empty_topology() {
        let n = net(TWO_TENANTS);
        let t = extract(&n, "nobody", |_| None);
        assert!(t.vpcs.is_empty() && t.peerings.is_empty());
    }
}
