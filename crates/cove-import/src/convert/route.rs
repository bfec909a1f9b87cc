//! Route tables: main flag, subnet associations and routes.

use std::collections::BTreeSet;
use std::path::Path;

use cove_model::spec::{RouteSpec, RouteTableSpec};

use super::Builder;
use crate::aws;
use crate::files::Rec;
use crate::net;

/// Registers the route tables of imported VPCs (so endpoints can name them).
pub(super) fn register(b: &mut Builder, tables: &[Rec<aws::RouteTable>]) {
    for rec in tables {
        let id = &rec.item.route_table_id;
        if !b.name_ok("route-table", id, &rec.file) {
            continue;
        }
        if let Some(vpc) = b.vpc_of(rec.item.vpc_id.as_ref(), "route-table", id, &rec.file) {
            b.route_tables.insert(id.clone(), vpc);
        }
    }
}

/// Imports the registered route tables with their routes and associations.
pub(super) fn import(b: &mut Builder, tables: Vec<Rec<aws::RouteTable>>) {
    let mut has_main: BTreeSet<String> = BTreeSet::new();
    for Rec { file, item, .. } in tables {
        let id = item.route_table_id.clone();
        let Some(vpc_id) = b.route_tables.get(&id).cloned() else {
            continue;
        };
        let mut main = false;
        for assoc in &item.associations {
            let state = assoc
                .association_state
                .as_ref()
                .and_then(|s| s.state.as_deref())
                .unwrap_or("associated");
            let assoc_id = assoc
                .route_table_association_id
                .clone()
                .unwrap_or_else(|| id.clone());
            if state != "associated" {
                continue; // disassociated: no effect
            }
            if assoc.main {
                if has_main.insert(vpc_id.clone()) {
                    main = true;
                } else {
                    b.report.add(
                        "route-table-association",
                        assoc_id,
                        format!("{vpc_id} already has a main route table"),
                        &file,
                    );
                }
            } else if let Some(subnet) = &assoc.subnet_id {
                associate(b, &vpc_id, subnet, &id, &assoc_id, &file);
            } else if let Some(gw) = &assoc.gateway_id {
                b.report.add(
                    "route-table-association",
                    assoc_id,
                    format!("edge association with gateway {gw} is not modeled"),
                    &file,
                );
            }
        }
        for vgw in &item.propagating_vgws {
            b.report.add(
                "route-propagation",
                &id,
                format!(
                    "route propagation from {} is not modeled",
                    super::text(&vgw.gateway_id)
                ),
                &file,
            );
        }
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for ep in b.gateway_endpoints.values() {
            if ep.route_tables.contains(&id) {
                seen.insert(format!("pl {}", ep.prefix_list));
            }
        }
        let mut routes = Vec::new();
        for route in &item.routes {
            let Some(spec) = convert_route(b, &vpc_id, &id, route, &file) else {
                continue;
            };
            let key = match (&spec.destination, &spec.destination_prefix_list) {
                (Some(c), _) => format!("cidr {c}"),
                (_, Some(p)) => format!("pl {p}"),
                _ => continue,
            };
            // Propagated routes may share a destination with a static one (and with
            // each other): only two static routes to one destination conflict.
            if spec.propagated {
                routes.push(spec);
                continue;
            }
            if !seen.insert(key.clone()) {
                b.report.add(
                    "route",
                    &id,
                    format!("second route to {key} dropped"),
                    &file,
                );
                continue;
            }
            routes.push(spec);
        }
        if let Some(vpc) = b.vpcs.get_mut(&vpc_id) {
            vpc.spec.route_tables.push(RouteTableSpec {
                name: id.clone(),
                id: Some(id),
                main,
                routes,
                tags: Default::default(),
            });
        }
    }
}

/// Associates a subnet with a route table of the same VPC.
fn associate(b: &mut Builder, vpc_id: &str, subnet: &str, rtb: &str, assoc_id: &str, file: &Path) {
    let ok = b.subnets.get(subnet).is_some_and(|s| s.vpc == vpc_id);
    let spec = b
        .vpcs
        .get_mut(vpc_id)
        .and_then(|v| v.spec.subnets.iter_mut().find(|s| s.name == subnet));
    match spec {
        Some(s) if ok && s.route_table.is_none() => s.route_table = Some(rtb.to_owned()),
        Some(_) if ok => b.report.add(
            "route-table-association",
            assoc_id,
            format!("subnet {subnet} is already associated with another route table"),
            file,
        ),
        _ => b.report.add(
            "route-table-association",
            assoc_id,
            format!("subnet {subnet} was not imported in {vpc_id}"),
            file,
        ),
    }
}

/// Converts one route; `None` for local routes, routes represented by a gateway
/// endpoint, and routes that cannot be imported (reported).
pub(crate) fn convert_route(
    b: &mut Builder,
    vpc_id: &str,
    rtb: &str,
    route: &aws::Route,
    file: &Path,
) -> Option<RouteSpec> {
    if route.gateway_id.as_deref() == Some("local") {
        return None; // cove adds the local routes itself
    }
    let mut spec = RouteSpec::default();
    let tenant = b.vpcs.get(vpc_id)?.tenant.clone();
    if let Some(v6) = &route.destination_ipv6_cidr_block {
        b.report.add(
            "route",
            rtb,
            format!("IPv6 route to {v6} is not modeled"),
            file,
        );
        return None;
    } else if let Some(c) = &route.destination_cidr_block {
        let dest = match net::parse_cidr(c) {
            Ok(d) => d,
            Err(e) => {
                b.report
                    .add("route", rtb, format!("destination: {e}"), file);
                return None;
            }
        };
        let cidrs = &b.vpcs.get(vpc_id)?.cidrs;
        if let Some(vc) = cidrs.iter().find(|vc| vc.contains(&dest)) {
            b.report.add(
                "route",
                rtb,
                format!("route to {dest} is equal to or more specific than the VPC CIDR {vc}; cove does not model such routes"),
                file,
            );
            return None;
        }
        spec.destination = Some(dest.to_string());
    } else if let Some(pl) = &route.destination_prefix_list_id {
        if b.prefix_list(&tenant, pl).is_none() {
            b.report.add(
                "route",
                rtb,
                format!("destination prefix list {pl} is not in the export"),
                file,
            );
            return None;
        }
        spec.destination_prefix_list = Some(pl.clone());
    } else {
        b.report
            .add("route", rtb, "a route without destination", file);
        return None;
    }
    let dest = spec
        .destination
        .clone()
        .or_else(|| spec.destination_prefix_list.clone())
        .unwrap_or_default();
    let target = [
        &route.gateway_id,
        &route.nat_gateway_id,
        &route.vpc_peering_connection_id,
        &route.transit_gateway_id,
        &route.network_interface_id,
        &route.instance_id,
        &route.egress_only_internet_gateway_id,
        &route.carrier_gateway_id,
        &route.local_gateway_id,
        &route.core_network_arn,
    ]
    .into_iter()
    .find_map(|t| t.clone());
    // A route a virtual private gateway propagated: kept as such (a static route of
    // the same destination wins over it), its target unmodeled like any VGW's.
    if route.origin.as_deref() == Some("EnableVgwRoutePropagation") {
        if let Some(vgw) = target.as_ref().filter(|t| t.starts_with("vgw-")) {
            b.report.add(
                "route",
                rtb,
                format!("route to {dest} propagated by {vgw}: the gateway is not modeled; imported as `unmodeled`, `propagated: true`"),
                file,
            );
            spec.unmodeled = Some(vgw.clone());
            spec.propagated = true;
            return Some(spec);
        }
    }
    if route.state.as_deref() == Some("blackhole") {
        spec.blackhole = true;
        spec.description = Some(match &target {
            Some(t) => format!("blackhole in AWS (target {t} is gone)"),
            None => "blackhole in AWS".to_owned(),
        });
        return Some(spec);
    }
    let Some(target) = target else {
        b.report
            .add("route", rtb, format!("route to {dest} has no target"), file);
        return None;
    };
    let missing = |b: &mut Builder, spec: &mut RouteSpec, why: String| {
        b.report.add(
            "route",
            rtb,
            format!("route to {dest}: {why}; imported as a blackhole"),
            file,
        );
        spec.blackhole = true;
        spec.description = Some(format!("target {target} was not imported: {why}"));
    };
    if target.starts_with("igw-") {
        if b.internet_gateways.get(&target).map(String::as_str) == Some(vpc_id) {
            spec.internet_gateway = Some(target.clone());
        } else {
            let why = format!(
                "internet gateway {target} is not in the export or not attached to {vpc_id}"
            );
            missing(b, &mut spec, why);
        }
    } else if target.starts_with("nat-") {
        if b.nat_gateways.get(&target).map(String::as_str) == Some(vpc_id) {
            spec.nat_gateway = Some(target.clone());
        } else {
            let why = format!("NAT gateway {target} is not in the export or not available");
            missing(b, &mut spec, why);
        }
    } else if target.starts_with("vpce-") {
        match b.gateway_endpoints.get(&target) {
            Some(ep) if ep.vpc == vpc_id => {
                let represented = ep.route_tables.iter().any(|r| r == rtb)
                    && spec.destination_prefix_list.as_deref() == Some(ep.prefix_list.as_str());
                if represented {
                    return None; // the endpoint's `route_tables` adds this route
                }
                spec.gateway_endpoint = Some(target.clone());
            }
            _ => {
                let why =
                    format!("gateway endpoint {target} is not in the export or was not imported");
                missing(b, &mut spec, why);
            }
        }
    } else if target.starts_with("pcx-") {
        match b.peerings.get(&target) {
            Some(p) if p.active && (p.requester == vpc_id || p.accepter == vpc_id) => {
                spec.peering = Some(target.clone());
            }
            Some(p) if !p.active => {
                missing(b, &mut spec, format!("peering {target} is not active"));
            }
            _ => {
                let why = format!("peering {target} is not in the export or was not imported");
                missing(b, &mut spec, why);
            }
        }
    } else {
        b.report.add(
            "route",
            rtb,
            format!("route to {dest}: target {target} is not modeled; imported as `unmodeled`"),
            file,
        );
        spec.unmodeled = Some(target);
    }
    Some(spec)
}
