//! VPC endpoints: gateway endpoints (prefix list + route tables) and interface
//! endpoints (ENIs in subnets).

use std::collections::{BTreeMap, BTreeSet};

use cove_model::spec::EndpointSpec;

use super::{Builder, GatewayEndpointState};
use crate::aws;
use crate::files::Rec;
use crate::net;

/// Imports available gateway and interface endpoints of imported VPCs.
pub(super) fn import(
    b: &mut Builder,
    endpoints: Vec<Rec<aws::VpcEndpoint>>,
    enis: &[Rec<aws::NetworkInterface>],
) {
    let eni_addrs: BTreeMap<&str, (Option<&str>, Option<&str>)> = enis
        .iter()
        .map(|r| {
            (
                r.item.network_interface_id.as_str(),
                (
                    r.item.subnet_id.as_deref(),
                    r.item.private_ip_address.as_deref(),
                ),
            )
        })
        .collect();
    for Rec { file, item, .. } in endpoints {
        let id = item.vpc_endpoint_id.clone();
        if !b.name_ok("vpc-endpoint", &id, &file) {
            continue;
        }
        let state = item.state.as_deref().unwrap_or("available");
        if !state.eq_ignore_ascii_case("available") {
            b.report.add(
                "vpc-endpoint",
                &id,
                format!("its state is `{state}`, not available"),
                &file,
            );
            continue;
        }
        let Some(vpc_id) = b.vpc_of(item.vpc_id.as_ref(), "vpc-endpoint", &id, &file) else {
            continue;
        };
        let tenant = b
            .vpcs
            .get(&vpc_id)
            .map(|v| v.tenant.clone())
            .unwrap_or_default();
        let Some(service) = item.service_name.clone() else {
            b.report
                .add("vpc-endpoint", &id, "it names no service", &file);
            continue;
        };
        let kind = item.vpc_endpoint_type.clone().unwrap_or_default();
        let mut spec = EndpointSpec {
            name: id.clone(),
            id: Some(id.clone()),
            service: service.clone(),
            ..EndpointSpec::default()
        };
        match kind.as_str() {
            "Gateway" => {
                let Some(pl) = b.prefix_list_for_service(&tenant, &service) else {
                    b.report.add(
                        "vpc-endpoint",
                        &id,
                        format!("no prefix list named {service} in the export; routes to it become blackholes"),
                        &file,
                    );
                    continue;
                };
                for rtb in &item.route_table_ids {
                    if b.route_tables.get(rtb) == Some(&vpc_id) {
                        spec.route_tables.push(rtb.clone());
                    } else {
                        b.report.add(
                            "vpc-endpoint",
                            &id,
                            format!("route table {rtb} was not imported in {vpc_id}"),
                            &file,
                        );
                    }
                }
                spec.kind = "gateway".to_owned();
                spec.prefix_list = Some(pl.clone());
                b.gateway_endpoints.insert(
                    id.clone(),
                    GatewayEndpointState {
                        vpc: vpc_id.clone(),
                        prefix_list: pl,
                        route_tables: spec.route_tables.clone(),
                    },
                );
            }
            "Interface" => {
                spec.kind = "interface".to_owned();
                let mut azs = BTreeSet::new();
                for subnet in &item.subnet_ids {
                    match b.subnets.get(subnet) {
                        Some(s) if s.vpc == vpc_id => {
                            if azs.insert(s.az.clone()) {
                                spec.subnets.push(subnet.clone());
                            } else {
                                b.report.add(
                                    "vpc-endpoint",
                                    &id,
                                    format!("subnet {subnet} dropped: a second subnet in {}", s.az),
                                    &file,
                                );
                            }
                        }
                        _ => b.report.add(
                            "vpc-endpoint",
                            &id,
                            format!("subnet {subnet} was not imported in {vpc_id}"),
                            &file,
                        ),
                    }
                }
                if spec.subnets.is_empty() {
                    b.report.add(
                        "vpc-endpoint",
                        &id,
                        "none of its subnets was imported",
                        &file,
                    );
                    continue;
                }
                for g in &item.groups {
                    let g = g.group_id.clone().unwrap_or_default();
                    if b.security_groups.get(&g) == Some(&vpc_id) {
                        spec.security_groups.push(g);
                    } else {
                        b.report.add(
                            "vpc-endpoint",
                            &id,
                            format!("security group {g} was not imported in {vpc_id}"),
                            &file,
                        );
                    }
                }
                if item.private_dns_enabled {
                    // The service's own name (not the `….vpce.amazonaws.com` ones).
                    let names: Vec<&str> = item
                        .dns_entries
                        .iter()
                        .filter_map(|d| d.dns_name.as_deref())
                        .collect();
                    spec.private_dns_name = names
                        .iter()
                        .find(|n| !n.ends_with(".vpce.amazonaws.com"))
                        .or(names.first())
                        .map(|n| (*n).to_owned());
                }
                spec.private_ips = private_ips(b, &vpc_id, &spec.subnets, &item, &eni_addrs);
                if spec.private_ips.is_empty() {
                    b.report.add(
                        "vpc-endpoint",
                        &id,
                        "its interface addresses are not all in the export; cove assigns them",
                        &file,
                    );
                }
                b.service_enis
                    .extend(item.network_interface_ids.iter().cloned());
            }
            other => {
                b.report.add(
                    "vpc-endpoint",
                    &id,
                    format!("endpoint type `{other}` is not modeled"),
                    &file,
                );
                continue;
            }
        }
        if let Some(vpc) = b.vpcs.get_mut(&vpc_id) {
            vpc.spec.endpoints.push(spec);
        }
    }
}

/// The endpoint's ENI addresses in `subnets` order, when every one is known and usable.
fn private_ips(
    b: &mut Builder,
    vpc_id: &str,
    subnets: &[String],
    item: &aws::VpcEndpoint,
    eni_addrs: &BTreeMap<&str, (Option<&str>, Option<&str>)>,
) -> Vec<String> {
    let by_subnet: BTreeMap<&str, &str> = item
        .network_interface_ids
        .iter()
        .filter_map(|e| eni_addrs.get(e.as_str()))
        .filter_map(|(s, ip)| Some(((*s)?, (*ip)?)))
        .collect();
    let mut ips = Vec::new();
    for subnet in subnets {
        let Some(net) = b.subnets.get(subnet).map(|s| s.net) else {
            return Vec::new();
        };
        let Some(ip) = by_subnet.get(subnet.as_str()) else {
            return Vec::new();
        };
        match net::usable_ip(ip, net) {
            Ok(ip) => ips.push(ip),
            Err(_) => return Vec::new(),
        }
    }
    let Some(vpc) = b.vpcs.get_mut(vpc_id) else {
        return Vec::new();
    };
    if ips.iter().any(|ip| vpc.used_ips.contains(ip)) {
        return Vec::new();
    }
    vpc.used_ips.extend(ips.iter().copied());
    ips.iter().map(ToString::to_string).collect()
}
