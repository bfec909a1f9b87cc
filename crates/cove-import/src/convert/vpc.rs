//! VPCs (with secondary CIDRs), subnets and internet gateways.

use std::collections::BTreeSet;

use cove_model::spec::{InternetGatewaySpec, SubnetSpec, VpcSpec};
use ipnet::Ipv4Net;

use super::{Builder, SubnetState, VpcState, report_ipv6, text};
use crate::aws;
use crate::files::Rec;
use crate::net;

/// Most IPv4 CIDR blocks a VPC can have (AWS's ceiling of the adjustable quota;
/// above the default of 5, the spec's `quotas:` says so).
const MAX_CIDRS: usize = cove_model::validate::Quotas::AWS_CEILING.cidr_blocks_per_vpc;

/// Imports VPCs: the primary CIDR and every associated, valid secondary CIDR.
pub(super) fn import_vpcs(b: &mut Builder, vpcs: Vec<Rec<aws::Vpc>>) {
    for Rec {
        file, folder, item, ..
    } in vpcs
    {
        let id = item.vpc_id.clone();
        if !b.name_ok("vpc", &id, &file) {
            continue;
        }
        let primary = match item.cidr_block.as_deref().map(net::parse_block) {
            Some(Ok(n)) => n,
            Some(Err(e)) => {
                b.report
                    .add("vpc", &id, format!("primary CIDR: {e}"), &file);
                continue;
            }
            None => {
                b.report.add("vpc", &id, "it has no IPv4 CIDR", &file);
                continue;
            }
        };
        let mut cidrs: Vec<Ipv4Net> = vec![primary];
        let mut secondary = Vec::new();
        for assoc in &item.cidr_block_association_set {
            let Some(cidr) = assoc.cidr_block.as_deref() else {
                continue;
            };
            let assoc_id = assoc.association_id.clone().unwrap_or_else(|| id.clone());
            let state = assoc
                .cidr_block_state
                .state
                .as_deref()
                .unwrap_or("associated");
            if state != "associated" {
                b.report.add(
                    "vpc-cidr",
                    assoc_id,
                    format!("CIDR {cidr} of {id} is {state}, not associated"),
                    &file,
                );
                continue;
            }
            let net = match net::parse_block(cidr) {
                Ok(n) => n,
                Err(e) => {
                    b.report
                        .add("vpc-cidr", assoc_id, format!("CIDR of {id}: {e}"), &file);
                    continue;
                }
            };
            if cidrs.contains(&net) {
                continue; // the primary association
            }
            if let Some(other) = cidrs.iter().find(|c| c.contains(&net) || net.contains(*c)) {
                b.report.add(
                    "vpc-cidr",
                    assoc_id,
                    format!("CIDR {net} of {id} overlaps its CIDR {other}"),
                    &file,
                );
                continue;
            }
            if cidrs.len() >= MAX_CIDRS {
                b.report.add(
                    "vpc-cidr",
                    assoc_id,
                    format!("{id} already has {MAX_CIDRS} CIDR blocks (AWS's limit)"),
                    &file,
                );
                continue;
            }
            cidrs.push(net);
            secondary.push(net.to_string());
        }
        let v6: Vec<String> = item
            .ipv6_cidr_block_association_set
            .iter()
            .map(|a| format!("IPv6 CIDR {}", text(&a.ipv6_cidr_block)))
            .collect();
        let v6: Vec<&str> = v6.iter().map(String::as_str).collect();
        report_ipv6(b, "vpc", &id, &v6, &file);
        let tenant = b.tenant_for(item.owner_id.as_deref(), folder);
        b.vpcs.insert(
            id.clone(),
            VpcState {
                tenant,
                cidrs,
                folder,
                used_ips: BTreeSet::new(),
                spec: VpcSpec {
                    name: id.clone(),
                    id: Some(id),
                    cidr: primary.to_string(),
                    secondary_cidrs: secondary,
                    ..VpcSpec::default()
                },
            },
        );
    }
}

/// Imports subnets whose VPC was imported: canonical /16–/28, inside a VPC CIDR, not
/// overlapping an earlier subnet (by id).
pub(super) fn import_subnets(b: &mut Builder, subnets: Vec<Rec<aws::Subnet>>) {
    for Rec { file, item, .. } in subnets {
        let id = item.subnet_id.clone();
        if !b.name_ok("subnet", &id, &file) {
            continue;
        }
        let Some(vpc_id) = b.vpc_of(item.vpc_id.as_ref(), "subnet", &id, &file) else {
            continue;
        };
        let net = match item.cidr_block.as_deref().map(net::parse_block) {
            Some(Ok(n)) => n,
            Some(Err(e)) => {
                b.report.add("subnet", &id, format!("CIDR: {e}"), &file);
                continue;
            }
            None => {
                b.report.add("subnet", &id, "it has no IPv4 CIDR", &file);
                continue;
            }
        };
        let Some(az) = item.availability_zone.clone().filter(|a| !a.is_empty()) else {
            b.report
                .add("subnet", &id, "it has no availability zone", &file);
            continue;
        };
        let Some(vpc) = b.vpcs.get(&vpc_id) else {
            continue;
        };
        if !vpc.cidrs.iter().any(|c| c.contains(&net)) {
            b.report.add(
                "subnet",
                &id,
                format!("its CIDR {net} is not inside a CIDR of {vpc_id}"),
                &file,
            );
            continue;
        }
        let clash = b
            .subnets
            .iter()
            .find(|(_, s)| s.vpc == vpc_id && (s.net.contains(&net) || net.contains(&s.net)));
        if let Some((other, _)) = clash {
            b.report.add(
                "subnet",
                &id,
                format!("its CIDR {net} overlaps subnet {other}"),
                &file,
            );
            continue;
        }
        let v6: Vec<String> = item
            .ipv6_cidr_block_association_set
            .iter()
            .map(|a| format!("IPv6 CIDR {}", text(&a.ipv6_cidr_block)))
            .collect();
        let v6: Vec<&str> = v6.iter().map(String::as_str).collect();
        report_ipv6(b, "subnet", &id, &v6, &file);
        b.subnets.insert(
            id.clone(),
            SubnetState {
                vpc: vpc_id.clone(),
                net,
                az: az.clone(),
            },
        );
        if let Some(vpc) = b.vpcs.get_mut(&vpc_id) {
            vpc.spec.subnets.push(SubnetSpec {
                name: id.clone(),
                id: Some(id),
                cidr: net.to_string(),
                az,
                ..SubnetSpec::default()
            });
        }
    }
}

/// Imports internet gateways attached to an imported VPC.
pub(super) fn import_internet_gateways(b: &mut Builder, igws: Vec<Rec<aws::InternetGateway>>) {
    for Rec { file, item, .. } in igws {
        let id = item.internet_gateway_id.clone();
        if !b.name_ok("internet-gateway", &id, &file) {
            continue;
        }
        let attached: Vec<&aws::IgwAttachment> = item
            .attachments
            .iter()
            .filter(|a| matches!(a.state.as_deref(), Some("available" | "attached") | None))
            .collect();
        let Some(att) = attached.first() else {
            b.report.add(
                "internet-gateway",
                &id,
                "it is not attached to a VPC",
                &file,
            );
            continue;
        };
        let Some(vpc_id) = b.vpc_of(att.vpc_id.as_ref(), "internet-gateway", &id, &file) else {
            continue;
        };
        let Some(vpc) = b.vpcs.get_mut(&vpc_id) else {
            continue;
        };
        if let Some(other) = &vpc.spec.internet_gateway {
            let other = other.name.clone();
            b.report.add(
                "internet-gateway",
                &id,
                format!("{vpc_id} already has internet gateway {other}"),
                &file,
            );
            continue;
        }
        vpc.spec.internet_gateway = Some(InternetGatewaySpec {
            name: id.clone(),
            id: Some(id.clone()),
            tags: Default::default(),
        });
        b.internet_gateways.insert(id, vpc_id);
    }
}
