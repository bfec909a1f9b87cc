//! Network ACLs. The implicit final deny entries (rule 32767) are dropped: cove adds
//! the final `*` deny itself.

use std::collections::BTreeSet;
use std::path::Path;

use cove_model::spec::{NaclEntrySpec, NetworkAclSpec, Scalar};

use super::Builder;
use super::proto::nacl_proto;
use crate::aws;
use crate::files::Rec;
use crate::net;

/// The number of AWS's implicit final deny entry.
const IMPLICIT_DENY: i64 = 32767;

/// Imports the ACLs of imported VPCs and their subnet associations.
pub(super) fn import(b: &mut Builder, acls: Vec<Rec<aws::NetworkAcl>>) {
    let mut has_default: BTreeSet<String> = BTreeSet::new();
    for Rec { file, item, .. } in acls {
        let id = item.network_acl_id.clone();
        if !b.name_ok("network-acl", &id, &file) {
            continue;
        }
        let Some(vpc_id) = b.vpc_of(item.vpc_id.as_ref(), "network-acl", &id, &file) else {
            continue;
        };
        let mut default = item.is_default;
        if default && !has_default.insert(vpc_id.clone()) {
            b.report.add(
                "network-acl",
                &id,
                format!("{vpc_id} already has a default ACL; imported as a non-default ACL"),
                &file,
            );
            default = false;
        }
        let (ingress, egress) = entries(b, &id, &item.entries, &file);
        for assoc in &item.associations {
            if let Some(subnet) = &assoc.subnet_id {
                associate(b, &vpc_id, subnet, &id, &file);
            }
        }
        if let Some(vpc) = b.vpcs.get_mut(&vpc_id) {
            vpc.spec.network_acls.push(NetworkAclSpec {
                name: id.clone(),
                id: Some(id),
                default,
                ingress,
                egress,
                tags: Default::default(),
            });
        }
    }
}

/// Associates a subnet with an ACL of the same VPC.
fn associate(b: &mut Builder, vpc_id: &str, subnet: &str, acl: &str, file: &Path) {
    let ok = b.subnets.get(subnet).is_some_and(|s| s.vpc == vpc_id);
    let spec = b
        .vpcs
        .get_mut(vpc_id)
        .and_then(|v| v.spec.subnets.iter_mut().find(|s| s.name == subnet));
    match spec {
        Some(s) if ok && s.network_acl.is_none() => s.network_acl = Some(acl.to_owned()),
        Some(_) if ok => b.report.add(
            "network-acl-association",
            acl,
            format!("subnet {subnet} is already associated with another ACL"),
            file,
        ),
        _ => b.report.add(
            "network-acl-association",
            acl,
            format!("subnet {subnet} was not imported in {vpc_id}"),
            file,
        ),
    }
}

/// Converts the entries into (ingress, egress), sorted by rule number.
pub(crate) fn entries(
    b: &mut Builder,
    acl: &str,
    entries: &[aws::AclEntry],
    file: &Path,
) -> (Vec<NaclEntrySpec>, Vec<NaclEntrySpec>) {
    let mut ingress: Vec<(i64, NaclEntrySpec)> = Vec::new();
    let mut egress: Vec<(i64, NaclEntrySpec)> = Vec::new();
    for e in entries {
        let dir = if e.egress { "egress" } else { "ingress" };
        let rule = e.rule_number.unwrap_or(0);
        if rule == IMPLICIT_DENY {
            continue;
        }
        let mut skip = |why: String| {
            b.report.add(
                "network-acl-entry",
                acl,
                format!("{dir} entry {rule} dropped: {why}"),
                file,
            );
        };
        if !(1..IMPLICIT_DENY).contains(&rule) {
            skip("rule numbers run from 1 to 32766".to_owned());
            continue;
        }
        if let Some(v6) = &e.ipv6_cidr_block {
            skip(format!("IPv6 CIDR {v6} is not modeled"));
            continue;
        }
        let cidr = match net::parse_cidr(e.cidr_block.as_deref().unwrap_or("")) {
            Ok(c) => c,
            Err(err) => {
                skip(err);
                continue;
            }
        };
        let action = e.rule_action.as_deref().unwrap_or("").to_ascii_lowercase();
        if action != "allow" && action != "deny" {
            skip(format!("unknown action `{action}`"));
            continue;
        }
        let proto = match nacl_proto(
            e.protocol.as_deref().unwrap_or(""),
            e.port_range.as_ref().map(|r| (r.from, r.to)),
            e.icmp_type_code.as_ref().map(|i| (i.kind, i.code)),
        ) {
            Ok(p) => p,
            Err(err) => {
                skip(err);
                continue;
            }
        };
        let list = if e.egress { &mut egress } else { &mut ingress };
        if list.iter().any(|(n, _)| *n == rule) {
            skip("a second entry with this number".to_owned());
            continue;
        }
        list.push((
            rule,
            NaclEntrySpec {
                rule: Scalar::Int(rule),
                action,
                protocol: proto.protocol,
                ports: proto.ports,
                icmp_type: proto.icmp_type,
                icmp_code: proto.icmp_code,
                cidr: cidr.to_string(),
            },
        ));
    }
    ingress.sort_by_key(|(n, _)| *n);
    egress.sort_by_key(|(n, _)| *n);
    (
        ingress.into_iter().map(|(_, e)| e).collect(),
        egress.into_iter().map(|(_, e)| e).collect(),
    )
}
