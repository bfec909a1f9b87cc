//! Subnet associations (route table, network ACL) and routes.
//!
//! AWS rules checked here: one destination and one target per route; static
//! destinations unique per table (a route propagated by a virtual private gateway may
//! share its destination; the static route wins); no route equal to or more specific than a VPC block (only the
//! implicit `local` route covers the VPC); targets must belong to the table's VPC
//! (NAT, internet gateway, gateway endpoint) or connect it (peering).

use std::collections::HashSet;

use super::peering::find_peering;
use super::scope::{Scopes, VpcScope, next_id};
use super::{Ctx, Path, parse};
use crate::diag::ErrorCode;
use crate::model::*;
use crate::spec::{RouteSpec, Spec};

/// Pass 3: subnet associations and the routes of every table.
pub(crate) fn routes(cx: &mut Ctx, spec: &Spec, sc: &Scopes) {
    for (vi, scope) in sc.vpcs.iter().enumerate() {
        let vid = VpcId(next_id(vi));
        let v = &spec.tenants[scope.tenant_index].vpcs[scope.vpc_index];
        associations(cx, scope, vid, v);
        for (ri, rt) in v.route_tables.iter().enumerate() {
            let Some(id) = scope.route_tables.get(&rt.name) else {
                continue;
            };
            let rpath = scope.path.item("route_tables", &rt.name, ri);
            let mut seen: HashSet<RouteDestination> = cx.net.route_tables[id.index()]
                .routes
                .iter()
                .filter(|r| r.origin == RouteOrigin::Local)
                .map(|r| r.destination.clone())
                .collect();
            let mut added = Vec::new();
            for (i, r) in rt.routes.iter().enumerate() {
                let path = rpath.key("routes").index(i);
                if let Some(route) = route(cx, sc, scope, vid, &path, i, r) {
                    // Propagated routes may share a destination with any route: a
                    // static one wins over them.
                    let propagated = matches!(route.origin, RouteOrigin::Propagated(_));
                    if !propagated && !seen.insert(route.destination.clone()) {
                        cx.error(
                            ErrorCode::RouteAlreadyExists,
                            &path,
                            format!(
                                "the table already has a route for {}",
                                destination_text(&cx.net, &route.destination)
                            ),
                            "keep one route per destination; change the target of the existing route instead",
                        );
                        continue;
                    }
                    added.push(route);
                }
            }
            // Gateway-endpoint routes were appended by the attachments pass; routes
            // written explicitly for the same endpoint replace them.
            let table = &mut cx.net.route_tables[id.index()];
            table.routes.retain(|r| {
                !(matches!(r.origin, RouteOrigin::Endpoint(_))
                    && added
                        .iter()
                        .any(|a| a.destination == r.destination && a.target == r.target))
            });
            let dup_endpoint: Vec<RouteDestination> = table
                .routes
                .iter()
                .filter(|r| matches!(r.origin, RouteOrigin::Endpoint(_)))
                .filter(|r| added.iter().any(|a| a.destination == r.destination))
                .map(|r| r.destination.clone())
                .collect();
            let pos = table
                .routes
                .iter()
                .position(|r| r.origin != RouteOrigin::Local)
                .unwrap_or(table.routes.len());
            table.routes.splice(pos..pos, added);
            for d in dup_endpoint {
                let text = destination_text(&cx.net, &d);
                cx.error(
                    ErrorCode::RouteAlreadyExists,
                    &rpath.key("routes"),
                    format!("a gateway endpoint associated with this table already routes {text}"),
                    "remove the route, or remove the table from the endpoint's `route_tables`",
                );
            }
        }
    }
}

fn associations(cx: &mut Ctx, scope: &VpcScope, vid: VpcId, v: &crate::spec::VpcSpec) {
    let (main, default_acl) = {
        let vpc = &cx.net.vpcs[vid.index()];
        (vpc.main_route_table, vpc.default_network_acl)
    };
    for (si, s) in v.subnets.iter().enumerate() {
        let Some(id) = scope.subnets.get(&s.name) else {
            continue;
        };
        let spath = scope.path.item("subnets", &s.name, si);
        let rt = match &s.route_table {
            None => main,
            Some(name) => scope.route_tables.get(name).unwrap_or_else(|| {
                cx.error(
                    ErrorCode::InvalidRouteTableIdNotFound,
                    &spath.key("route_table"),
                    format!("route table `{name}` does not exist in this VPC"),
                    "name a table declared under this VPC's `route_tables`, or omit the field to use the main table",
                );
                main
            }),
        };
        let acl = match &s.network_acl {
            None => default_acl,
            Some(name) => scope.network_acls.get(name).unwrap_or_else(|| {
                cx.error(
                    ErrorCode::InvalidNetworkAclIdNotFound,
                    &spath.key("network_acl"),
                    format!("network ACL `{name}` does not exist in this VPC"),
                    "name an ACL declared under this VPC's `network_acls`, or omit the field to use the default ACL",
                );
                default_acl
            }),
        };
        let subnet = &mut cx.net.subnets[id.index()];
        subnet.route_table = rt;
        subnet.network_acl = acl;
    }
}

fn destination_text(net: &Network, d: &RouteDestination) -> String {
    match d {
        RouteDestination::Cidr(c) => c.to_string(),
        RouteDestination::PrefixList(p) => format!("prefix list {}", net.prefix_list_label(*p)),
    }
}

fn route(
    cx: &mut Ctx,
    sc: &Scopes,
    scope: &VpcScope,
    vid: VpcId,
    path: &Path,
    index: usize,
    r: &RouteSpec,
) -> Option<Route> {
    let tenant = cx.net.vpcs[vid.index()].tenant;
    let destination = match (&r.destination, &r.destination_prefix_list) {
        (Some(c), None) => {
            let net = parse::cidr(cx, &path.key("destination"), c)?;
            let vpc = &cx.net.vpcs[vid.index()];
            if let Some(block) = vpc.cidrs.iter().find(|b| b.contains(&net)) {
                cx.error(
                    ErrorCode::InvalidParameterValue,
                    &path.key("destination"),
                    format!("the destination `{net}` is equal to or more specific than the VPC block {block}"),
                    "traffic inside the VPC always takes the implicit `local` route; remove this route",
                );
                return None;
            }
            RouteDestination::Cidr(net)
        }
        (None, Some(pl)) => match sc.find_prefix_list(tenant, pl) {
            Some(id) => RouteDestination::PrefixList(id),
            None => {
                cx.error(
                    ErrorCode::InvalidPrefixListIdNotFound,
                    &path.key("destination_prefix_list"),
                    format!("prefix list `{pl}` does not exist"),
                    "declare it under the tenant's `prefix_lists`",
                );
                return None;
            }
        },
        (None, None) => {
            cx.error(
                ErrorCode::MissingParameter,
                path,
                "the route has no destination",
                "add `destination: <cidr>` or `destination_prefix_list: <name>`",
            );
            return None;
        }
        (Some(_), Some(_)) => {
            cx.error(
                ErrorCode::InvalidParameterCombination,
                path,
                "the route has both `destination` and `destination_prefix_list`",
                "keep one of them (write two routes for two destinations)",
            );
            return None;
        }
    };
    let targets = [
        r.peering.is_some(),
        r.nat_gateway.is_some(),
        r.internet_gateway.is_some(),
        r.gateway_endpoint.is_some(),
        r.blackhole,
        r.unmodeled.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if targets != 1 {
        let (code, msg) = if targets == 0 {
            (ErrorCode::MissingParameter, "the route has no target")
        } else {
            (
                ErrorCode::InvalidParameterCombination,
                "the route has more than one target",
            )
        };
        cx.error(
            code,
            path,
            msg,
            "give exactly one of `peering`, `nat_gateway`, `internet_gateway`, `gateway_endpoint`, `blackhole: true`",
        );
        return None;
    }
    let target = if let Some(p) = &r.peering {
        peering_target(cx, vid, path, p)?
    } else if let Some(n) = &r.nat_gateway {
        match scope.nat_gateways.get(n) {
            Some(id) => RouteTarget::NatGateway(id),
            None => {
                cx.error(
                    ErrorCode::InvalidNatGatewayIdNotFound,
                    &path.key("nat_gateway"),
                    format!("NAT gateway `{n}` does not exist in this VPC"),
                    "name a NAT gateway declared under this VPC's `nat_gateways` (a route can only use its own VPC's NAT gateway)",
                );
                return None;
            }
        }
    } else if let Some(g) = &r.internet_gateway {
        igw_target(cx, vid, path, g)?
    } else if let Some(e) = &r.gateway_endpoint {
        endpoint_target(cx, scope, path, e, &destination)?
    } else if let Some(u) = &r.unmodeled {
        cx.warning(
            ErrorCode::InvalidParameterValue,
            &path.key("unmodeled"),
            format!("target `{u}` is not modeled by cove; traffic that takes this route is not followed further"),
            "nothing to fix if this mirrors an imported network; otherwise use a modeled target",
        );
        RouteTarget::Unmodeled(u.clone())
    } else {
        RouteTarget::Blackhole
    };
    if r.propagated && !matches!(&target, RouteTarget::Unmodeled(u) if u.starts_with("vgw-")) {
        cx.error(
            ErrorCode::InvalidParameterCombination,
            &path.key("propagated"),
            "only a virtual private gateway propagates routes",
            "remove `propagated: true` (a route to a modeled target is static), or target the gateway with `unmodeled: vgw-…`",
        );
        return None;
    }
    Some(Route {
        destination,
        target,
        origin: if r.propagated {
            RouteOrigin::Propagated(index)
        } else {
            RouteOrigin::Spec(index)
        },
    })
}

fn peering_target(cx: &mut Ctx, vid: VpcId, path: &Path, p: &str) -> Option<RouteTarget> {
    let Some(id) = find_peering(&cx.net, p) else {
        cx.error(
            ErrorCode::InvalidVpcPeeringConnectionIdNotFound,
            &path.key("peering"),
            format!("peering `{p}` does not exist"),
            "name a peering declared under the top-level `peerings`",
        );
        return None;
    };
    let peering = &cx.net.peerings[id.index()];
    if peering.peer_of(vid).is_none() {
        let here = cx.net.vpc_path(vid);
        cx.error(
            ErrorCode::InvalidParameterValue,
            &path.key("peering"),
            format!("peering `{p}` does not connect VPC {here}"),
            "a route can only use a peering whose requester or accepter is this VPC",
        );
        return None;
    }
    if peering.status != PeeringStatus::Active {
        let status = peering.status.as_str();
        cx.warning(
            ErrorCode::InvalidParameterValue,
            &path.key("peering"),
            format!("peering `{p}` is {status}; traffic on this route is dropped"),
            "accept the peering (status: active) or remove the route",
        );
    }
    Some(RouteTarget::Peering(id))
}

fn igw_target(cx: &mut Ctx, vid: VpcId, path: &Path, g: &str) -> Option<RouteTarget> {
    let own = cx.net.vpcs[vid.index()].internet_gateway;
    if let Some(id) = own {
        let igw = &cx.net.internet_gateways[id.index()];
        if igw.name == g || igw.aws_id.as_deref() == Some(g) {
            return Some(RouteTarget::InternetGateway(id));
        }
    }
    let elsewhere = cx
        .net
        .internet_gateways
        .iter()
        .any(|i| i.name == g || i.aws_id.as_deref() == Some(g));
    if elsewhere {
        cx.error(
            ErrorCode::GatewayNotAttached,
            &path.key("internet_gateway"),
            format!("internet gateway `{g}` is not attached to this VPC"),
            "a route can only use the internet gateway of its own VPC; declare `internet_gateway:` on this VPC",
        );
    } else {
        cx.error(
            ErrorCode::InvalidInternetGatewayIdNotFound,
            &path.key("internet_gateway"),
            format!("internet gateway `{g}` does not exist"),
            "declare `internet_gateway: {name: igw}` on this VPC and use that name",
        );
    }
    None
}

fn endpoint_target(
    cx: &mut Ctx,
    scope: &VpcScope,
    path: &Path,
    e: &str,
    destination: &RouteDestination,
) -> Option<RouteTarget> {
    let Some(id) = scope.endpoints.get(e) else {
        cx.error(
            ErrorCode::InvalidVpcEndpointIdNotFound,
            &path.key("gateway_endpoint"),
            format!("endpoint `{e}` does not exist in this VPC"),
            "name an endpoint declared under this VPC's `endpoints`",
        );
        return None;
    };
    match &cx.net.endpoints[id.index()].kind {
        EndpointKind::Gateway { prefix_list, .. } => {
            if *destination != RouteDestination::PrefixList(*prefix_list) {
                let pl = cx.net.prefix_list_label(*prefix_list);
                cx.error(
                    ErrorCode::RouteNotSupported,
                    &path.key("gateway_endpoint"),
                    format!("a route to gateway endpoint `{e}` must have the endpoint's prefix list {pl} as destination"),
                    "use `destination_prefix_list:` with the endpoint's prefix list (or list the table in the endpoint's `route_tables`)",
                );
                return None;
            }
            Some(RouteTarget::GatewayEndpoint(id))
        }
        EndpointKind::Interface { .. } => {
            cx.error(
                ErrorCode::InvalidParameterValue,
                &path.key("gateway_endpoint"),
                format!("endpoint `{e}` is an interface endpoint; routes can only target gateway endpoints"),
                "reach interface endpoints at their ENI addresses (no route needed inside the VPC)",
            );
            None
        }
    }
}
