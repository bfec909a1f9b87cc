//! Security groups (stateful, allow-only rules) and network ACLs (stateless, numbered
//! entries): declaration, rule parsing and reference resolution.

use std::collections::HashSet;

use super::scope::{Scopes, VpcScope, next_id};
use super::{Ctx, Path, parse};
use crate::diag::ErrorCode;
use crate::model::*;
use crate::spec::{NaclEntrySpec, SgRuleSpec, Spec, VpcSpec};
use crate::traffic::TrafficMatch;

/// Highest rule number a user may give (32767 is the implicit `*` entry).
pub(crate) const MAX_NACL_RULE: i64 = 32766;

/// Declares the network ACLs of a VPC, with their entries, and the default ACL.
pub(crate) fn declare_network_acls(
    cx: &mut Ctx,
    scope: &mut VpcScope,
    vid: VpcId,
    v: &VpcSpec,
    path: &Path,
) {
    let mut default: Option<NaclId> = None;
    for (ai, a) in v.network_acls.iter().enumerate() {
        let apath = path.item("network_acls", &a.name, ai);
        parse::name(cx, &apath, &a.name);
        let id = NaclId(next_id(cx.net.network_acls.len()));
        if !scope.network_acls.insert(&a.name, a.id.as_deref(), id) {
            cx.error(
                ErrorCode::DuplicateName,
                &apath.key("name"),
                format!("network ACL `{}` is declared twice in this VPC", a.name),
                "give each network ACL of a VPC a unique name",
            );
        }
        if a.default {
            if default.is_some() {
                cx.error(
                    ErrorCode::InvalidParameterValue,
                    &apath.key("default"),
                    "the VPC already has a default network ACL",
                    "mark at most one network ACL `default: true`",
                );
            } else {
                default = Some(id);
            }
        }
        let ingress = nacl_entries(cx, &apath.key("ingress"), &a.ingress);
        let egress = nacl_entries(cx, &apath.key("egress"), &a.egress);
        cx.net.network_acls.push(NetworkAcl {
            vpc: vid,
            name: a.name.clone(),
            aws_id: a.id.clone(),
            is_default: default == Some(id),
            ingress,
            egress,
        });
        cx.net.vpcs[vid.index()].network_acls.push(id);
    }
    let default = default.unwrap_or_else(|| {
        let id = NaclId(next_id(cx.net.network_acls.len()));
        let name = if scope.network_acls.get("default").is_none() {
            "default"
        } else {
            "implicit-default"
        };
        scope.network_acls.insert(name, None, id);
        let allow_all = vec![NaclEntry {
            rule: 100,
            action: NaclAction::Allow,
            traffic: TrafficMatch::ALL,
            cidr: ipnet::Ipv4Net::default(),
        }];
        cx.net.network_acls.push(NetworkAcl {
            vpc: vid,
            name: name.to_owned(),
            aws_id: None,
            is_default: true,
            ingress: allow_all.clone(),
            egress: allow_all,
        });
        cx.net.vpcs[vid.index()].network_acls.push(id);
        id
    });
    cx.net.vpcs[vid.index()].default_network_acl = default;
}

fn nacl_entries(cx: &mut Ctx, path: &Path, specs: &[NaclEntrySpec]) -> Vec<NaclEntry> {
    let mut out: Vec<NaclEntry> = Vec::new();
    let mut numbers = HashSet::new();
    for (i, e) in specs.iter().enumerate() {
        let epath = path.index(i);
        let rule_text = e.rule.text();
        let rule = match rule_text.trim().parse::<i64>() {
            Ok(n) if (1..=MAX_NACL_RULE).contains(&n) => u16::try_from(n).ok(),
            _ => {
                cx.error(
                    ErrorCode::InvalidParameterValue,
                    &epath.key("rule"),
                    format!("rule number `{rule_text}` is out of range"),
                    format!("use a whole number from 1 to {MAX_NACL_RULE} (32767 is the implicit `*` entry); leave gaps such as 100, 110, 120 to insert entries later"),
                );
                None
            }
        };
        if let Some(r) = rule {
            if !numbers.insert(r) {
                cx.error(
                    ErrorCode::NetworkAclEntryAlreadyExists,
                    &epath.key("rule"),
                    format!("entry number {r} already exists in this direction"),
                    "give every entry of one direction a different number",
                );
            }
        }
        let action = match e.action.trim().to_ascii_lowercase().as_str() {
            "allow" => Some(NaclAction::Allow),
            "deny" => Some(NaclAction::Deny),
            other => {
                cx.error(
                    ErrorCode::InvalidParameterValue,
                    &epath.key("action"),
                    format!("`{other}` is not an action"),
                    "use `allow` or `deny`",
                );
                None
            }
        };
        let traffic = parse::traffic(
            cx,
            &epath,
            parse::TrafficFields {
                protocol: &e.protocol,
                ports: e.ports.as_ref(),
                icmp_type: e.icmp_type,
                icmp_code: e.icmp_code,
            },
        );
        let cidr = parse::cidr(cx, &epath.key("cidr"), &e.cidr);
        if let (Some(rule), Some(action), Some(traffic), Some(cidr)) = (rule, action, traffic, cidr)
        {
            out.push(NaclEntry {
                rule,
                action,
                traffic,
                cidr,
            });
        }
    }
    out.sort_by_key(|e| e.rule);
    out
}

/// Declares the security groups of a VPC (rules come later) and its default group.
pub(crate) fn declare_security_groups(
    cx: &mut Ctx,
    sc: &mut Scopes,
    scope: &mut VpcScope,
    vid: VpcId,
    v: &VpcSpec,
    path: &Path,
) {
    let mut default = None;
    for (gi, g) in v.security_groups.iter().enumerate() {
        let gpath = path.item("security_groups", &g.name, gi);
        parse::name(cx, &gpath, &g.name);
        let id = SgId(next_id(cx.net.security_groups.len()));
        if !scope.security_groups.insert(&g.name, g.id.as_deref(), id) {
            cx.error(
                ErrorCode::InvalidGroupDuplicate,
                &gpath.key("name"),
                format!("security group `{}` is declared twice in this VPC", g.name),
                "give each security group of a VPC a unique name",
            );
        }
        if let Some(a) = &g.id {
            sc.groups_by_id.entry(a.clone()).or_insert(id);
        }
        let is_default = g.name == "default";
        if is_default {
            default = Some(id);
        }
        cx.net.security_groups.push(SecurityGroup {
            vpc: vid,
            name: g.name.clone(),
            aws_id: g.id.clone(),
            is_default,
            ingress: Vec::new(),
            egress: Vec::new(),
        });
        cx.net.vpcs[vid.index()].security_groups.push(id);
    }
    let default = default.unwrap_or_else(|| {
        let id = SgId(next_id(cx.net.security_groups.len()));
        scope.security_groups.insert("default", None, id);
        cx.net.security_groups.push(SecurityGroup {
            vpc: vid,
            name: "default".to_owned(),
            aws_id: None,
            is_default: true,
            ingress: vec![SgRule {
                traffic: TrafficMatch::ALL,
                peer: SgPeer::Group(id),
                index: 0,
            }],
            egress: vec![allow_all_egress()],
        });
        cx.net.vpcs[vid.index()].security_groups.push(id);
        id
    });
    cx.net.vpcs[vid.index()].default_security_group = default;
}

fn allow_all_egress() -> SgRule {
    SgRule {
        traffic: TrafficMatch::ALL,
        peer: SgPeer::Cidr(ipnet::Ipv4Net::default()),
        index: 0,
    }
}

/// Pass 3: parses and resolves the rules of every declared security group.
pub(crate) fn security_group_rules(cx: &mut Ctx, spec: &Spec, sc: &Scopes) {
    let quota = cx.quotas.rules_per_security_group;
    for (vi, scope) in sc.vpcs.iter().enumerate() {
        let vid = VpcId(next_id(vi));
        let v = &spec.tenants[scope.tenant_index].vpcs[scope.vpc_index];
        for (gi, g) in v.security_groups.iter().enumerate() {
            let Some(id) = scope.security_groups.get(&g.name) else {
                continue;
            };
            let gpath = scope.path.item("security_groups", &g.name, gi);
            let egress_count = g.egress.as_ref().map_or(0, Vec::len);
            for (dir, count) in [("ingress", g.ingress.len()), ("egress", egress_count)] {
                if count > quota {
                    cx.error(
                        ErrorCode::RulesPerSecurityGroupLimitExceeded,
                        &gpath.key(dir),
                        format!("the group has {count} {dir} rules; the quota is {quota}"),
                        "merge rules (a wider CIDR, a prefix list or a group reference), split the group, or raise `quotas.rules_per_security_group` (AWS's ceiling is 1000)",
                    );
                }
            }
            let ingress = sg_rules(cx, sc, vid, &gpath.key("ingress"), &g.ingress);
            let egress = match &g.egress {
                None => vec![allow_all_egress()],
                Some(rules) => sg_rules(cx, sc, vid, &gpath.key("egress"), rules),
            };
            let group = &mut cx.net.security_groups[id.index()];
            group.ingress = ingress;
            group.egress = egress;
        }
    }
}

fn sg_rules(
    cx: &mut Ctx,
    sc: &Scopes,
    vid: VpcId,
    path: &Path,
    specs: &[SgRuleSpec],
) -> Vec<SgRule> {
    let mut out: Vec<SgRule> = Vec::new();
    for (i, r) in specs.iter().enumerate() {
        let rpath = path.index(i);
        let traffic = parse::traffic(
            cx,
            &rpath,
            parse::TrafficFields {
                protocol: &r.protocol,
                ports: r.ports.as_ref(),
                icmp_type: r.icmp_type,
                icmp_code: r.icmp_code,
            },
        );
        let peer = sg_peer(cx, sc, vid, &rpath, r);
        if let (Some(traffic), Some(peer)) = (traffic, peer) {
            if out.iter().any(|o| o.traffic == traffic && o.peer == peer) {
                cx.error(
                    ErrorCode::InvalidPermissionDuplicate,
                    &rpath,
                    "this rule duplicates an earlier rule of the same list",
                    "remove the duplicate rule",
                );
                continue;
            }
            out.push(SgRule {
                traffic,
                peer,
                index: i,
            });
        }
    }
    out
}

fn sg_peer(cx: &mut Ctx, sc: &Scopes, vid: VpcId, path: &Path, r: &SgRuleSpec) -> Option<SgPeer> {
    let given = [
        r.cidr.is_some(),
        r.security_group.is_some(),
        r.prefix_list.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if given != 1 {
        let (code, msg) = if given == 0 {
            (ErrorCode::MissingParameter, "the rule names no peer")
        } else {
            (
                ErrorCode::InvalidParameterCombination,
                "the rule names more than one peer",
            )
        };
        cx.error(
            code,
            path,
            msg,
            "give exactly one of `cidr`, `security_group` or `prefix_list` (write several rules for several peers)",
        );
        return None;
    }
    if let Some(c) = &r.cidr {
        return parse::cidr(cx, &path.key("cidr"), c).map(SgPeer::Cidr);
    }
    let tenant = cx.net.vpcs[vid.index()].tenant;
    if let Some(p) = &r.prefix_list {
        return match sc.find_prefix_list(tenant, p) {
            Some(id) => Some(SgPeer::PrefixList(id)),
            None => {
                cx.error(
                    ErrorCode::InvalidPrefixListIdNotFound,
                    &path.key("prefix_list"),
                    format!("prefix list `{p}` does not exist"),
                    "declare it under the tenant's `prefix_lists`, or reference `tenant/name`",
                );
                None
            }
        };
    }
    let g = r.security_group.as_deref().unwrap_or_default();
    let Some(id) = sc.find_group(&cx.net, vid, g) else {
        cx.error(
            ErrorCode::InvalidGroupNotFound,
            &path.key("security_group"),
            format!("security group `{g}` does not exist"),
            "name a group of this VPC, `vpc/group` for a peered VPC of this tenant, or `tenant/vpc/group`",
        );
        return None;
    };
    let other = cx.net.security_groups[id.index()].vpc;
    if other != vid && !actively_peered(&cx.net, vid, other) {
        let here = cx.net.vpc_path(vid);
        let there = cx.net.vpc_path(other);
        cx.error(
            ErrorCode::InvalidGroupNotFound,
            &path.key("security_group"),
            format!("security group `{g}` belongs to VPC {there}, which is not peered with {here}"),
            "a rule can reference a group of another VPC only across an active peering; add the peering or use the other VPC's CIDR",
        );
        return None;
    }
    Some(SgPeer::Group(id))
}

/// Whether an active peering connects two VPCs.
pub(crate) fn actively_peered(net: &Network, a: VpcId, b: VpcId) -> bool {
    net.peerings
        .iter()
        .any(|p| p.status == PeeringStatus::Active && p.peer_of(a) == Some(b))
}
