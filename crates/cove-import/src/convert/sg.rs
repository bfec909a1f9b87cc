//! Security groups: one spec rule per peer of each permission.

use std::collections::BTreeSet;
use std::path::Path;

use cove_model::spec::{SecurityGroupSpec, SgRuleSpec};

use super::Builder;
use super::proto::sg_proto;
use crate::aws;
use crate::files::Rec;
use crate::net;

/// Registers the security groups of imported VPCs (so rules, ENIs and endpoints can
/// refer to them).
pub(super) fn register(b: &mut Builder, groups: &[Rec<aws::SecurityGroup>]) {
    for rec in groups {
        let id = &rec.item.group_id;
        if !b.name_ok("security-group", id, &rec.file) {
            continue;
        }
        if let Some(vpc) = b.vpc_of(rec.item.vpc_id.as_ref(), "security-group", id, &rec.file) {
            b.security_groups.insert(id.clone(), vpc);
        }
    }
}

/// Imports the registered security groups with their rules.
pub(super) fn import(b: &mut Builder, groups: Vec<Rec<aws::SecurityGroup>>) {
    for Rec { file, item, .. } in groups {
        let id = item.group_id.clone();
        let Some(vpc_id) = b.security_groups.get(&id).cloned() else {
            continue;
        };
        let ingress = rules(b, &vpc_id, &id, "ingress", &item.ip_permissions, &file);
        let egress = rules(
            b,
            &vpc_id,
            &id,
            "egress",
            &item.ip_permissions_egress,
            &file,
        );
        let description = match (&item.group_name, &item.description) {
            (Some(n), Some(d)) if !d.is_empty() => Some(format!("{n}: {d}")),
            (Some(n), _) => Some(n.clone()),
            (None, d) => d.clone(),
        };
        if let Some(vpc) = b.vpcs.get_mut(&vpc_id) {
            vpc.spec.security_groups.push(SecurityGroupSpec {
                name: id.clone(),
                id: Some(id),
                description,
                ingress,
                // Written out even when empty: an omitted egress means allow-all.
                egress: Some(egress),
                tags: Default::default(),
            });
        }
    }
}

/// Expands permissions into spec rules, reporting what cannot be imported.
pub(crate) fn rules(
    b: &mut Builder,
    vpc_id: &str,
    sg: &str,
    direction: &str,
    perms: &[aws::IpPermission],
    file: &Path,
) -> Vec<SgRuleSpec> {
    let tenant = b
        .vpcs
        .get(vpc_id)
        .map(|v| v.tenant.clone())
        .unwrap_or_default();
    let mut out: Vec<SgRuleSpec> = Vec::new();
    let mut seen = BTreeSet::new();
    for perm in perms {
        let protocol = perm.ip_protocol.as_deref().unwrap_or("");
        let proto = match sg_proto(protocol, perm.from_port, perm.to_port) {
            Ok(p) => p,
            Err(e) => {
                b.report.add(
                    "security-group-rule",
                    sg,
                    format!("{direction} rule ({protocol}) dropped: {e}"),
                    file,
                );
                continue;
            }
        };
        let base = SgRuleSpec {
            protocol: proto.protocol,
            ports: proto.ports,
            icmp_type: proto.icmp_type,
            icmp_code: proto.icmp_code,
            ..SgRuleSpec::default()
        };
        let mut peers: Vec<SgRuleSpec> = Vec::new();
        for r in &perm.ip_ranges {
            let cidr = r.cidr_ip.as_deref().unwrap_or("");
            match net::parse_cidr(cidr) {
                Ok(n) => peers.push(SgRuleSpec {
                    cidr: Some(n.to_string()),
                    description: r.description.clone(),
                    ..base.clone()
                }),
                Err(e) => b.report.add(
                    "security-group-rule",
                    sg,
                    format!("{direction} rule dropped: {e}"),
                    file,
                ),
            }
        }
        for r in &perm.ipv6_ranges {
            b.report.add(
                "security-group-rule",
                sg,
                format!(
                    "{direction} rule for IPv6 peer {} dropped: IPv6 is not modeled",
                    super::text(&r.cidr_ipv6)
                ),
                file,
            );
        }
        for r in &perm.prefix_list_ids {
            let pl = r.prefix_list_id.clone().unwrap_or_default();
            if b.prefix_list(&tenant, &pl).is_some() {
                peers.push(SgRuleSpec {
                    prefix_list: Some(pl),
                    description: r.description.clone(),
                    ..base.clone()
                });
            } else {
                b.report.add(
                    "security-group-rule",
                    sg,
                    format!("{direction} rule dropped: prefix list {pl} is not in the export"),
                    file,
                );
            }
        }
        for r in &perm.user_id_group_pairs {
            let other = r.group_id.clone().unwrap_or_default();
            let reference = match b.security_groups.get(&other) {
                None => Err(format!(
                    "security group {other} is not in the export or was not imported"
                )),
                Some(v) if v != vpc_id && !b.actively_peered(vpc_id, v) => Err(format!(
                    "security group {other} is in {v}, which has no active peering with {vpc_id}"
                )),
                Some(_) => b
                    .sg_ref(vpc_id, &other)
                    .ok_or_else(|| format!("security group {other} cannot be referenced")),
            };
            match reference {
                Ok(reference) => peers.push(SgRuleSpec {
                    security_group: Some(reference),
                    description: r.description.clone(),
                    ..base.clone()
                }),
                Err(e) => b.report.add(
                    "security-group-rule",
                    sg,
                    format!("{direction} rule dropped: {e}"),
                    file,
                ),
            }
        }
        for rule in peers {
            let key = format!(
                "{:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                rule.protocol,
                rule.ports,
                rule.icmp_type,
                rule.icmp_code,
                rule.cidr,
                rule.security_group,
                rule.prefix_list
            );
            if seen.insert(key) {
                out.push(rule);
            } else {
                b.report.add(
                    "security-group-rule",
                    sg,
                    format!("duplicate {direction} rule dropped"),
                    file,
                );
            }
        }
    }
    out
}
