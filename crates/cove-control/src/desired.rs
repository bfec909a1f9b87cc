//! The desired spec: networks become VPCs with the standard layout (named by the
//! network's id) in their tenant's part of a [`Spec`], merged with what the tenant's
//! own spec adds to them (a spec VPC named like the network, or by its id or VPC id);
//! the tenant's other VPCs are kept as written; live peerings become peering
//! objects with AWS's status, and an active one gets routes in its networks'
//! private route tables.

use std::collections::BTreeMap;

use cove_model::spec::{
    InternetGatewaySpec, NatGatewaySpec, PeeringSpec, QuotasSpec, RouteSpec, RouteTableSpec,
    Scalar, Spec, SubnetSpec, TenantSpec, VpcSpec,
};

use crate::error::{ControlError, ErrorCode, Result};
use crate::ids::TenantId;
use crate::network::{extends, standalone_vpcs};
use crate::peerable::{peering_of_vpc, standalone_vpc_id};
use crate::state::ControlState;
use crate::types::{Network, NetworkStatus, PeeringStatus, SubnetTier, Tenant};

/// cove-model's default of active peerings per VPC.
const MODEL_DEFAULT_PEERINGS: u32 = 50;

/// Function slots of a function whose spec gives no concurrency (cove-model's
/// default).
const DEFAULT_CONCURRENCY: u64 = 10;

/// The VPC of a network, standard layout only. It is named by the network's id,
/// which never changes: the kernel's objects are named from resource paths, so a
/// network renamed with PATCH keeps its namespaces (and its functions keep running).
pub fn network_vpc(n: &Network) -> VpcSpec {
    let mut route_tables: Vec<RouteTableSpec> = Vec::new();
    for s in &n.subnets {
        if route_tables.iter().any(|r| r.name == s.route_table) {
            continue;
        }
        let route = match s.tier {
            SubnetTier::Public => RouteSpec {
                destination: Some("0.0.0.0/0".to_owned()),
                internet_gateway: Some("igw".to_owned()),
                ..Default::default()
            },
            SubnetTier::Private => {
                let nat = n
                    .nat_gateways
                    .iter()
                    .find(|g| g.availability_zone == s.availability_zone)
                    .map(|g| g.name.clone());
                RouteSpec {
                    destination: Some("0.0.0.0/0".to_owned()),
                    nat_gateway: nat,
                    ..Default::default()
                }
            }
        };
        route_tables.push(RouteTableSpec {
            name: s.route_table.clone(),
            id: Some(s.route_table_id.clone()),
            main: false,
            routes: vec![route],
            tags: Default::default(),
        });
    }
    VpcSpec {
        name: n.id.0.clone(),
        id: Some(n.vpc_id.clone()),
        cidr: n.cidr.to_string(),
        subnets: n
            .subnets
            .iter()
            .map(|s| SubnetSpec {
                name: s.name.clone(),
                id: Some(s.id.clone()),
                cidr: s.cidr.to_string(),
                az: s.availability_zone.clone(),
                route_table: Some(s.route_table.clone()),
                network_acl: None,
                tags: Default::default(),
            })
            .collect(),
        route_tables,
        internet_gateway: Some(InternetGatewaySpec {
            name: "igw".to_owned(),
            id: Some(n.internet_gateway_id.clone()),
            tags: Default::default(),
        }),
        nat_gateways: n
            .nat_gateways
            .iter()
            .map(|g| NatGatewaySpec {
                name: g.name.clone(),
                id: Some(g.id.clone()),
                subnet: g.subnet.clone(),
                connectivity: None,
                private_ip: None,
                public_ips: vec![g.public_ip.to_string()],
                tags: Default::default(),
            })
            .collect(),
        // The static IP pair fails over as a pair (issue 11): AWS's independent
        // gateways only when the network has no pair (one availability zone).
        // Secure Compute networks resolve their ENIs' hostnames, as AWS's default
        // VPCs do.
        dns_hostnames: Some(true),
        nat_failover: (n.nat_failover == crate::types::NatFailoverMode::Pair
            && n.nat_gateways.len().is_multiple_of(2)
            && !n.nat_gateways.is_empty())
        .then(|| "pair".to_owned()),
        ..Default::default()
    }
}

/// Adds what a tenant's spec VPC declares to its network's VPC: subnets (of
/// secondary blocks), routes (into route tables of the same name) and route
/// tables, security groups, ACLs, endpoints, ENIs, functions, flow logs. The layout itself
/// (block, internet and NAT gateways) is the network's ([`check_tenant_spec`]
/// refuses a spec that sets them).
fn merge(v: &mut VpcSpec, ext: &VpcSpec) {
    v.secondary_cidrs
        .extend(ext.secondary_cidrs.iter().cloned());
    // A subnet of the network's, written again (same name, block and zone), sets
    // its route table, network ACL and tags (EC2's associations and tags on a
    // network's subnet); any other subnet is added.
    for s in &ext.subnets {
        let same = |x: &&mut SubnetSpec| x.name == s.name && x.cidr == s.cidr && x.az == s.az;
        match v.subnets.iter_mut().find(same) {
            Some(x) => {
                if s.route_table.is_some() {
                    x.route_table.clone_from(&s.route_table);
                }
                if s.network_acl.is_some() {
                    x.network_acl.clone_from(&s.network_acl);
                }
                x.tags
                    .extend(s.tags.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            None => v.subnets.push(s.clone()),
        }
    }
    for rt in &ext.route_tables {
        match v.route_tables.iter_mut().find(|r| r.name == rt.name) {
            Some(r) => r.routes.extend(rt.routes.iter().cloned()),
            None => v.route_tables.push(rt.clone()),
        }
    }
    v.security_groups
        .extend(ext.security_groups.iter().cloned());
    v.network_acls.extend(ext.network_acls.iter().cloned());
    v.endpoints.extend(ext.endpoints.iter().cloned());
    v.enis.extend(ext.enis.iter().cloned());
    v.functions.extend(ext.functions.iter().cloned());
    v.flow_logs.extend(ext.flow_logs.iter().cloned());
    v.associate_zones
        .extend(ext.associate_zones.iter().cloned());
    // `enableDnsSupport` / `enableDnsHostnames`, when the tenant sets them.
    if ext.dns_support.is_some() {
        v.dns_support = ext.dns_support;
    }
    if ext.dns_hostnames.is_some() {
        v.dns_hostnames = ext.dns_hostnames;
    }
}

fn tenants_in_order(state: &ControlState) -> Vec<&Tenant> {
    let mut v: Vec<&Tenant> = state.tenants.values().collect();
    v.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    v
}

/// `tenant/network[/rest]` (`parts` slash-separated parts) with the network named
/// by its id, as the desired spec names its VPC; `None` when it names no network.
fn by_network_id(state: &ControlState, reference: &str, parts: usize) -> Option<String> {
    let mut it = reference.splitn(parts, '/');
    let (tenant, vpc) = (it.next()?, it.next()?);
    let rest: Vec<&str> = it.collect();
    if rest.len() + 2 != parts {
        return None;
    }
    let owner = state.tenants.values().find(|x| x.name == tenant)?;
    let net = state
        .networks_of(&owner.id)
        .into_iter()
        .find(|n| n.name == vpc || n.id.0 == vpc)?;
    let mut out = format!("{tenant}/{}", net.id.0);
    for r in rest {
        out.push('/');
        out.push_str(r);
    }
    Some(out)
}

/// The spec the kernel should have: every tenant (oldest first) with its networks
/// (not those being deleted) merged with its spec (`specs`, keyed by tenant), the
/// rest of its spec's VPCs, and the live peerings between networks.
pub fn desired_spec(state: &ControlState, specs: &BTreeMap<TenantId, TenantSpec>) -> Spec {
    let empty = TenantSpec::default();
    // Where a VPC is in the spec: `tenant/network`, and its VPC, by VPC id.
    let mut place: BTreeMap<String, (String, usize, usize)> = BTreeMap::new();
    // The standalone VPCs among them (no automatic peering routes).
    let mut standalone: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let mut spec = Spec {
        // One tenant's change never invalidates another's references: they are
        // dropped with a warning (a tenant's own new reference is refused by the API).
        cross_tenant_lenient: true,
        ..Spec::default()
    };
    for (ti, t) in tenants_in_order(state).into_iter().enumerate() {
        let own = specs.get(&t.id).unwrap_or(&empty);
        let nets = state.networks_of(&t.id);
        let mut ts = TenantSpec {
            name: t.name.clone(),
            // Bucket names are global: the API refuses a name another tenant
            // declares (`BucketAlreadyExists`), so none repeats here.
            buckets: own.buckets.clone(),
            // API ids are global too: the API refuses one another tenant uses
            // (`ConflictException`).
            apis: own.apis.clone(),
            account_id: Some(Scalar::Str(t.account_id.clone())),
            // A detached internet gateway carries no traffic: the kernel has none.
            internet_gateways: Vec::new(),
            prefix_lists: own.prefix_lists.clone(),
            vpcs: Vec::new(),
            // A zone names a network by its name or id; in the desired spec the
            // network's VPC is named by its id.
            hosted_zones: own
                .hosted_zones
                .iter()
                .map(|z| {
                    let mut z = z.clone();
                    for v in &mut z.vpcs {
                        if let Some(n) = nets.iter().find(|n| n.name == *v || n.id.0 == *v) {
                            *v = n.id.0.clone();
                        }
                    }
                    // `tenant/network` authorizations name the network's VPC too.
                    for a in &mut z.authorizations {
                        if let Some(named) = by_network_id(state, a, 2) {
                            *a = named;
                        }
                    }
                    z
                })
                .collect(),
            // An endpoint service names its VPC, and accepted endpoints their
            // VPCs (`tenant/vpc/endpoint`), by network name or id: in the desired
            // spec, by the network's VPC id.
            endpoint_services: own
                .endpoint_services
                .iter()
                .map(|svc| {
                    let mut svc = svc.clone();
                    if let Some(n) = nets.iter().find(|n| n.name == svc.vpc || n.id.0 == svc.vpc) {
                        svc.vpc = n.id.0.clone();
                    }
                    for a in &mut svc.accepted {
                        if let Some(named) = by_network_id(state, a, 3) {
                            *a = named;
                        }
                    }
                    svc
                })
                .collect(),
        };
        for n in nets.iter().filter(|n| n.status != NetworkStatus::Deleting) {
            let mut v = network_vpc(n);
            for ext in own.vpcs.iter().filter(|x| extends(x, n)) {
                merge(&mut v, ext);
            }
            blackhole_gone_peerings(&mut v, |p| peering_of_vpc(state, &t.id, &n.vpc_id, p));
            crate::addresses::resolve(state, &t.id, &mut v);
            place.insert(
                n.vpc_id.clone(),
                (format!("{}/{}", t.name, n.id), ti, ts.vpcs.len()),
            );
            ts.vpcs.push(v);
        }
        for x in own
            .vpcs
            .iter()
            .filter(|x| !nets.iter().any(|n| extends(x, n)))
        {
            let mut x = x.clone();
            let vpc_id = standalone_vpc_id(&t.name, &x);
            blackhole_gone_peerings(&mut x, |p| peering_of_vpc(state, &t.id, &vpc_id, p));
            crate::addresses::resolve(state, &t.id, &mut x);
            // A peering names it by its id: its place, with no network (its routes
            // are the tenant's to write, as in AWS).
            standalone.insert(vpc_id.clone());
            place.insert(
                vpc_id,
                (format!("{}/{}", t.name, x.name), ti, ts.vpcs.len()),
            );
            ts.vpcs.push(x);
        }
        spec.tenants.push(ts);
    }
    let mut peerings: Vec<_> = state
        .peerings
        .values()
        .filter(|p| p.status.is_live())
        .collect();
    peerings.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    for p in peerings {
        let (Some(r), Some(a)) = (
            place.get(p.requester.vpc_id.as_str()).cloned(),
            place.get(p.accepter.vpc_id.as_str()).cloned(),
        ) else {
            continue;
        };
        let status = match p.status {
            PeeringStatus::PendingAcceptance | PeeringStatus::InitiatingRequest => {
                "pending-acceptance"
            }
            _ => "active",
        };
        if p.status.is_up() {
            let (rc, ac) = (
                spec.tenants[r.1].vpcs[r.2].cidr.clone(),
                spec.tenants[a.1].vpcs[a.2].cidr.clone(),
            );
            // A network's private tables get the route; a standalone VPC's routes
            // are its owner's to write (`CreateRoute … VpcPeeringConnectionId`).
            if !standalone.contains(&p.requester.vpc_id) {
                add_peering_routes(&mut spec.tenants[r.1].vpcs[r.2], &ac, p.id.as_str());
            }
            if !standalone.contains(&p.accepter.vpc_id) {
                add_peering_routes(&mut spec.tenants[a.1].vpcs[a.2], &rc, p.id.as_str());
            }
        }
        spec.peerings.push(PeeringSpec {
            name: p.id.0.clone(),
            // EC2's id is the control plane's (`pcx-…`), not one derived from it.
            id: Some(p.id.0.clone()),
            requester: r.0,
            accepter: a.0,
            status: Some(status.to_owned()),
        });
    }
    // The quota checks new peerings; what is up stays valid after the operator
    // lowered a quota (as AWS keeps them): the limit is never below the most any
    // VPC has, or the whole spec would be invalid for every tenant.
    let mut up: BTreeMap<&str, u32> = BTreeMap::new();
    for p in state.peerings.values().filter(|p| p.status.is_up()) {
        for v in [&p.requester.vpc_id, &p.accepter.vpc_id] {
            *up.entry(v.as_str()).or_default() += 1;
        }
    }
    let most = state
        .tenants
        .values()
        .map(|t| t.quotas.peerings_per_network)
        .chain(up.into_values())
        .max()
        .unwrap_or(MODEL_DEFAULT_PEERINGS);
    if most > MODEL_DEFAULT_PEERINGS {
        spec.quotas = Some(QuotasSpec {
            active_peerings_per_vpc: Some(Scalar::Int(i64::from(most))),
            ..Default::default()
        });
    }
    spec
}

/// Turns a route of the tenant's spec whose peering connection is no longer live
/// (deleted, expired, rejected by the peer — or never the VPC's) into a `blackhole`
/// route, as AWS shows a route whose target is gone. Otherwise the other side
/// deleting the peering would make the whole desired spec invalid for everyone.
fn blackhole_gone_peerings(v: &mut VpcSpec, live: impl Fn(&str) -> bool) {
    for r in v.route_tables.iter_mut().flat_map(|t| t.routes.iter_mut()) {
        if r.peering.as_deref().is_some_and(|p| !live(p)) {
            r.peering = None;
            r.blackhole = true;
        }
    }
}

/// A route to `peer_cidr` over the peering in each private route table of `v` that
/// has no route to that destination yet (two peers with one block: the older
/// peering keeps the route, as AWS refuses a second route to one destination).
fn add_peering_routes(v: &mut VpcSpec, peer_cidr: &str, peering: &str) {
    for rt in v
        .route_tables
        .iter_mut()
        .filter(|r| r.name.starts_with("private-"))
    {
        if rt
            .routes
            .iter()
            .any(|x| x.destination.as_deref() == Some(peer_cidr))
        {
            continue;
        }
        rt.routes.push(RouteSpec {
            destination: Some(peer_cidr.to_owned()),
            peering: Some(peering.to_owned()),
            ..Default::default()
        });
    }
}

/// Checks a tenant's spec against its networks and quotas before it is stored: a
/// VPC that extends a network may not set the network's block or gateways, nor add
/// to a network being deleted; the
/// VPCs, network interfaces (ENIs and function slots), functions and reserved
/// concurrency stay within the tenant's quotas.
pub fn check_tenant_spec(state: &ControlState, tenant: &TenantId, spec: &TenantSpec) -> Result<()> {
    check_tenant_spec_since(state, tenant, spec, None)
}

/// [`check_tenant_spec`] of a spec replacing `previous` (the one stored): a route
/// it already had may keep naming a peering connection that has ended since (it
/// is a `blackhole` route, as AWS keeps it), so the tenant's next write is not
/// refused for what the other side did.
pub fn check_tenant_spec_since(
    state: &ControlState,
    tenant: &TenantId,
    spec: &TenantSpec,
    previous: Option<&TenantSpec>,
) -> Result<()> {
    let t = state.tenant(tenant)?;
    let q = t.quotas;
    crate::scoping::check_scope(state, t, spec, previous)?;
    let nets = state.networks_of(tenant);
    for v in &spec.vpcs {
        let Some(n) = nets.iter().find(|n| extends(v, n)) else {
            continue;
        };
        let path = format!("vpcs[{}]", v.name);
        if n.status == NetworkStatus::Deleting {
            return Err(ControlError::field(
                ErrorCode::IncorrectState,
                path,
                format!("network `{}` is being deleted", n.name),
                "remove this VPC from your spec, or add to another network",
            ));
        }
        if !v.cidr.trim().is_empty() && v.cidr.trim().parse::<ipnet::Ipv4Net>().ok() != Some(n.cidr)
        {
            return Err(ControlError::field(
                ErrorCode::InvalidParameterCombination,
                format!("{path}.cidr"),
                format!(
                    "VPC `{}` is your network's; its block is {}",
                    v.name, n.cidr
                ),
                "leave `cidr` empty (or write the network's block) in a VPC that extends a network",
            ));
        }
        if v.internet_gateway.is_some() || !v.nat_gateways.is_empty() || v.nat_failover.is_some() {
            let field = if v.internet_gateway.is_some() {
                "internet_gateway"
            } else if v.nat_gateways.is_empty() {
                "nat_failover"
            } else {
                "nat_gateways"
            };
            return Err(ControlError::field(
                ErrorCode::InvalidParameterCombination,
                format!("{path}.{field}"),
                format!(
                    "VPC `{}` is your network's: its gateways are the network's",
                    v.name
                ),
                format!(
                    "remove `{field}`; the network has an internet gateway and a NAT gateway per zone"
                ),
            ));
        }
    }
    let vpcs = nets.len() + standalone_vpcs(state, tenant, spec).len();
    let functions: Vec<_> = spec.vpcs.iter().flat_map(|v| &v.functions).collect();
    // Saturating: a concurrency of 2^64-1 twice must not wrap around to a small sum.
    let concurrency: u64 = functions
        .iter()
        .map(|f| {
            f.concurrency
                .as_ref()
                .and_then(|c| c.text().trim().parse::<u64>().ok())
                .unwrap_or(DEFAULT_CONCURRENCY)
        })
        .fold(0, u64::saturating_add);
    let enis = spec
        .vpcs
        .iter()
        .flat_map(|v| {
            // Interface endpoints have an ENI in each of their subnets.
            let endpoints = v
                .endpoints
                .iter()
                .filter(|e| e.kind.trim() != "gateway")
                .map(|e| e.subnets.len());
            std::iter::once(v.enis.len()).chain(endpoints)
        })
        .map(|n| n as u64)
        .fold(concurrency, u64::saturating_add);
    let limits = [
        (
            vpcs as u64,
            q.vpcs,
            ErrorCode::VpcLimitExceeded,
            "VPCs (networks included)",
            "vpcs",
        ),
        (
            enis,
            q.enis,
            ErrorCode::NetworkInterfaceLimitExceeded,
            "network interfaces (ENIs, function slots and interface endpoints)",
            "enis",
        ),
        (
            functions.len() as u64,
            q.functions,
            ErrorCode::FunctionLimitExceeded,
            "functions",
            "functions",
        ),
        (
            concurrency,
            q.concurrency,
            ErrorCode::ConcurrencyLimitExceeded,
            "reserved concurrency",
            "concurrency",
        ),
    ];
    for (used, quota, code, what, name) in limits {
        if used > u64::from(quota) {
            return Err(ControlError::field(
                code,
                "vpcs",
                format!("the spec needs {used} {what}; your quota is {quota}"),
                format!("declare less, or ask the operator to raise your `{name}` quota"),
            ));
        }
    }
    Ok(())
}
