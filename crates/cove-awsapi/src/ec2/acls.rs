//! EC2's network ACLs over a tenant's desired spec (pure): describe, create,
//! delete, entries (create / replace / delete) and subnet associations. Entries are
//! read from the validated model (with the final `*` deny EC2 shows as rule 32767)
//! and written into the spec's `network_acls`; the implicit default ACL (allow all,
//! rule 100 each way) is written out the first time it changes.

use cove_model::ids::resource_id;
use cove_model::model::{NaclAction, NaclEntry};
use cove_model::spec::{NaclEntrySpec, NetworkAclSpec, Scalar, TenantSpec};
use cove_model::traffic::Protocol;

use super::error::Ec2Error;
use super::params::Params;
use super::route_tables::vpc_view;
use super::tags::{Tags, specified, tag_filter, tag_set};
use super::view::{SubnetView, VpcView};
use super::vpcs::{Ctx, Done, find_vpc, matches, page, spec_vpc, spec_vpc_or_add};
use super::xml::Xml;

/// The rule number EC2 shows for the final deny.
const STAR: u16 = 32767;

/// One ACL of the tenant.
struct Acl<'a> {
    index: usize,
    id: String,
    name: String,
    vpc: &'a VpcView,
    default: bool,
}

fn acl_id(ctx: &Ctx<'_>, i: usize) -> String {
    let net = ctx.net;
    let a = &net.network_acls[i];
    resource_id(
        "acl",
        a.aws_id.as_deref(),
        &format!("{}/{}", net.vpc_path(a.vpc), a.name),
    )
}

fn all<'a>(ctx: &'a Ctx<'_>) -> Vec<Acl<'a>> {
    ctx.net
        .network_acls
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            Some(Acl {
                index: i,
                id: acl_id(ctx, i),
                name: a.name.clone(),
                vpc: vpc_view(ctx, a.vpc)?,
                default: a.is_default,
            })
        })
        .collect()
}

fn find<'a>(ctx: &'a Ctx<'_>, id: &str) -> Result<Acl<'a>, Ec2Error> {
    all(ctx).into_iter().find(|a| a.id == id).ok_or_else(|| {
        Ec2Error::new(
            "InvalidNetworkAclID.NotFound",
            format!("The networkAcl ID '{id}' does not exist"),
        )
    })
}

/// The model ACL of subnet `s`.
fn acl_of(ctx: &Ctx<'_>, s: &SubnetView) -> Option<usize> {
    s.index.map(|i| ctx.net.subnets[i].network_acl.index())
}

/// A subnet's association id with ACL `acl`.
fn association_id(acl: &str, subnet: &str) -> String {
    resource_id("aclassoc", None, &format!("{acl}/{subnet}"))
}

fn tags_of(ctx: &Ctx<'_>, a: &Acl<'_>) -> Tags {
    spec_vpc(ctx, a.vpc)
        .and_then(|at| {
            ctx.spec.vpcs[at]
                .network_acls
                .iter()
                .find(|x| x.name == a.name)
        })
        .map(|x| x.tags.clone())
        .unwrap_or_default()
}

fn protocol_number(p: Protocol) -> String {
    match p {
        Protocol::All => "-1".to_owned(),
        Protocol::Tcp => "6".to_owned(),
        Protocol::Udp => "17".to_owned(),
        Protocol::Icmp => "1".to_owned(),
        Protocol::Other(n) => n.to_string(),
    }
}

fn entry_xml(x: &mut Xml, e: &NaclEntry, egress: bool) {
    let t = &e.traffic;
    x.text("ruleNumber", &e.rule.to_string())
        .text("protocol", &protocol_number(t.protocol))
        .text(
            "ruleAction",
            if e.action == NaclAction::Allow {
                "allow"
            } else {
                "deny"
            },
        )
        .text("egress", if egress { "true" } else { "false" })
        .text("cidrBlock", &e.cidr.to_string());
    match t.protocol {
        Protocol::Tcp | Protocol::Udp => {
            x.node("portRange", |x| {
                x.text("from", &t.ports.from.to_string())
                    .text("to", &t.ports.to.to_string());
            });
        }
        Protocol::Icmp => {
            x.node("icmpTypeCode", |x| {
                x.text("code", &t.icmp_code.map_or(-1, i32::from).to_string())
                    .text("type", &t.icmp_type.map_or(-1, i32::from).to_string());
            });
        }
        _ => {}
    }
}

fn star_xml(x: &mut Xml, egress: bool) {
    x.text("ruleNumber", &STAR.to_string())
        .text("protocol", "-1")
        .text("ruleAction", "deny")
        .text("egress", if egress { "true" } else { "false" })
        .text("cidrBlock", "0.0.0.0/0");
}

/// Every ACL of the tenant with its tags (`DescribeTags`).
pub(crate) fn all_tags(ctx: &Ctx<'_>) -> Vec<(String, Tags)> {
    all(ctx)
        .iter()
        .map(|a| (a.id.clone(), tags_of(ctx, a)))
        .collect()
}

/// The spec's tag map of ACL `id` (the implicit default written out first).
pub(crate) fn tags_mut<'s>(
    ctx: &Ctx<'_>,
    spec: &'s mut TenantSpec,
    id: &str,
) -> Result<&'s mut Tags, Ec2Error> {
    let a = find(ctx, id)?;
    let (at, i) = declared(ctx, spec, &a);
    Ok(&mut spec.vpcs[at].network_acls[i].tags)
}

/// `DescribeNetworkAcls`.
pub fn describe(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let ids = p.list("NetworkAclId");
    let filters = p.filters()?;
    let known = [
        "network-acl-id",
        "vpc-id",
        "default",
        "association.subnet-id",
        "association.association-id",
        "association.network-acl-id",
        "owner-id",
    ];
    let acls = all(ctx);
    for id in &ids {
        if !acls.iter().any(|a| &a.id == id) {
            return Err(Ec2Error::new(
                "InvalidNetworkAclID.NotFound",
                format!("The networkAcl ID '{id}' does not exist"),
            ));
        }
    }
    let mut found = Vec::new();
    for a in &acls {
        if !ids.is_empty() && !ids.contains(&a.id) {
            continue;
        }
        let subnets: Vec<&SubnetView> = ctx
            .view
            .subnets
            .iter()
            .filter(|s| s.vpc_id == a.vpc.id && acl_of(ctx, s) == Some(a.index))
            .collect();
        let tags = tags_of(ctx, a);
        let ok = matches(&filters, &known, |name| match name {
            n if tag_filter(n, &tags).is_some() => tag_filter(n, &tags).unwrap_or_default(),
            "network-acl-id" | "association.network-acl-id" => vec![a.id.clone()],
            "vpc-id" => vec![a.vpc.id.clone()],
            "default" => vec![a.default.to_string()],
            "association.subnet-id" => subnets.iter().map(|s| s.id.clone()).collect(),
            "association.association-id" => subnets
                .iter()
                .map(|s| association_id(&a.id, &s.id))
                .collect(),
            _ => vec![ctx.account_id.to_owned()],
        })?;
        if ok {
            found.push((a, subnets, tags));
        }
    }
    let (items, next) = page(&found, p.max_results(5, 100)?, p.get("NextToken"))?;
    let mut x = Xml::default();
    x.set("networkAclSet", &items, |x, (a, subnets, tags)| {
        let m = &ctx.net.network_acls[a.index];
        x.text("networkAclId", &a.id)
            .text("vpcId", &a.vpc.id)
            .text("default", if a.default { "true" } else { "false" });
        x.node("entrySet", |x| {
            for (egress, list) in [(true, &m.egress), (false, &m.ingress)] {
                for e in list {
                    x.node("item", |x| entry_xml(x, e, egress));
                }
                x.node("item", |x| star_xml(x, egress));
            }
        });
        x.set("associationSet", subnets, |x, s| {
            x.text("networkAclAssociationId", &association_id(&a.id, &s.id))
                .text("networkAclId", &a.id)
                .text("subnetId", &s.id);
        });
        tag_set(x, tags);
        x.text("ownerId", ctx.account_id);
    });
    if let Some(n) = next {
        x.text("nextToken", &n);
    }
    Ok(Done::Read(x))
}

/// `CreateNetworkAcl`: denies everything until entries are added.
pub fn create(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let vpc = find_vpc(ctx, p.required("VpcId")?)?;
    let tags = specified(p, "network-acl")?;
    let name = (ctx.new_name)();
    let mut spec = ctx.spec.clone();
    let at = spec_vpc_or_add(ctx, &mut spec, vpc);
    spec.vpcs[at].network_acls.push(NetworkAclSpec {
        name: name.clone(),
        tags: tags.clone(),
        ..NetworkAclSpec::default()
    });
    let id = resource_id("acl", None, &format!("{}/{}/{name}", ctx.tenant, vpc.name));
    let mut x = Xml::default();
    x.node("networkAcl", |x| {
        x.text("networkAclId", &id)
            .text("vpcId", &vpc.id)
            .text("default", "false");
        x.node("entrySet", |x| {
            for egress in [true, false] {
                x.node("item", |x| star_xml(x, egress));
            }
        });
        x.node("associationSet", |_| {});
        tag_set(x, &tags);
        x.text("ownerId", ctx.account_id);
    });
    Ok(Done::Write(x, Box::new(spec)))
}

/// `DeleteNetworkAcl`.
pub fn delete(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let a = find(ctx, p.required("NetworkAclId")?)?;
    if a.default {
        return Err(Ec2Error::invalid_parameter(format!(
            "cannot delete default network ACL {}",
            a.id
        )));
    }
    if ctx
        .view
        .subnets
        .iter()
        .any(|s| s.vpc_id == a.vpc.id && acl_of(ctx, s) == Some(a.index))
    {
        return Err(Ec2Error::new(
            "DependencyViolation",
            format!(
                "The network ACL '{}' has dependencies and cannot be deleted.",
                a.id
            ),
        ));
    }
    let mut spec = ctx.spec.clone();
    let at = spec_vpc(ctx, a.vpc).ok_or_else(|| {
        Ec2Error::new("InternalError", "the ACL's VPC is not in the tenant's spec")
    })?;
    spec.vpcs[at].network_acls.retain(|x| x.name != a.name);
    let mut x = Xml::default();
    x.text("return", "true");
    Ok(Done::Write(x, Box::new(spec)))
}

/// The spec's declaration of `a` (the implicit default written out with its
/// allow-all entries first): (VPC index, ACL index).
fn declared(ctx: &Ctx<'_>, spec: &mut TenantSpec, a: &Acl<'_>) -> (usize, usize) {
    let at = spec_vpc_or_add(ctx, spec, a.vpc);
    let acls = &mut spec.vpcs[at].network_acls;
    if let Some(i) = acls.iter().position(|x| x.name == a.name) {
        return (at, i);
    }
    let allow_all = || NaclEntrySpec {
        rule: Scalar::Int(100),
        action: "allow".to_owned(),
        protocol: Scalar::Str("all".to_owned()),
        cidr: "0.0.0.0/0".to_owned(),
        ..NaclEntrySpec::default()
    };
    acls.push(NetworkAclSpec {
        name: a.name.clone(),
        default: a.default,
        ingress: vec![allow_all()],
        egress: vec![allow_all()],
        ..NetworkAclSpec::default()
    });
    (at, acls.len() - 1)
}

/// The rule number of a request (1–32766).
fn rule_number(p: &Params) -> Result<u16, Ec2Error> {
    let text = p.required("RuleNumber")?;
    text.parse::<u16>()
        .ok()
        .filter(|n| (1..STAR).contains(n))
        .ok_or_else(|| {
            Ec2Error::invalid_parameter(format!(
                "Value ({text}) for parameter ruleNumber is invalid. It must be between 1 and 32766."
            ))
        })
}

/// An entry as the request gives it.
fn entry(p: &Params, rule: u16) -> Result<NaclEntrySpec, Ec2Error> {
    let action = p.required("RuleAction")?.to_ascii_lowercase();
    if action != "allow" && action != "deny" {
        return Err(Ec2Error::invalid_parameter(format!(
            "Value ({action}) for parameter ruleAction is invalid. Use allow or deny."
        )));
    }
    let proto = p.required("Protocol")?;
    let protocol = match proto.to_ascii_lowercase().as_str() {
        "-1" | "all" => "all".to_owned(),
        "6" | "tcp" => "tcp".to_owned(),
        "17" | "udp" => "udp".to_owned(),
        "1" | "icmp" => "icmp".to_owned(),
        n if n.parse::<u8>().is_ok() => n.to_owned(),
        _ => {
            return Err(Ec2Error::invalid_parameter(format!(
                "Value ({proto}) for parameter protocol is invalid. Give a protocol number (6, 17, 1) or -1 for all."
            )));
        }
    };
    let cidr = p.required("CidrBlock")?;
    let block: ipnet::Ipv4Net = cidr.parse().map_err(|_| {
        Ec2Error::invalid_parameter(format!(
            "Value ({cidr}) for parameter cidrBlock is invalid. This is not a valid CIDR block."
        ))
    })?;
    let mut e = NaclEntrySpec {
        rule: Scalar::Int(i64::from(rule)),
        action,
        protocol: Scalar::Str(protocol.clone()),
        cidr: block.trunc().to_string(),
        ..NaclEntrySpec::default()
    };
    match protocol.as_str() {
        "tcp" | "udp" => {
            let (Some(from), Some(to)) = (p.get("PortRange.From"), p.get("PortRange.To")) else {
                return Err(Ec2Error::missing("PortRange"));
            };
            e.ports = Some(Scalar::Str(if from == to {
                from.to_owned()
            } else {
                format!("{from}-{to}")
            }));
        }
        "icmp" => {
            let num = |k: &str| -> Result<Option<i64>, Ec2Error> {
                p.get(k)
                    .map(|v| {
                        v.parse::<i64>().map_err(|_| {
                            Ec2Error::invalid_parameter(format!("Value ({v}) for {k} is invalid."))
                        })
                    })
                    .transpose()
            };
            e.icmp_type = num("Icmp.Type")?.filter(|t| *t != -1);
            e.icmp_code = num("Icmp.Code")?.filter(|c| *c != -1);
        }
        _ => {}
    }
    Ok(e)
}

fn rule_of(e: &NaclEntrySpec) -> Option<i64> {
    match &e.rule {
        Scalar::Int(n) => Some(*n),
        other => other.text().trim().parse().ok(),
    }
}

/// `CreateNetworkAclEntry` (`replace`: `ReplaceNetworkAclEntry`).
pub fn create_entry(ctx: &Ctx<'_>, p: &Params, replace: bool) -> Result<Done, Ec2Error> {
    change_entry(
        ctx,
        p,
        if replace {
            Change::Replace
        } else {
            Change::Create
        },
    )
}

/// `DeleteNetworkAclEntry`.
pub fn delete_entry(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    change_entry(ctx, p, Change::Delete)
}

/// What an entry call does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    Create,
    Replace,
    Delete,
}

/// Creates, replaces or deletes the entry `RuleNumber` of one direction.
fn change_entry(ctx: &Ctx<'_>, p: &Params, change: Change) -> Result<Done, Ec2Error> {
    let a = find(ctx, p.required("NetworkAclId")?)?;
    let rule = rule_number(p)?;
    let egress = p.flag("Egress")?;
    let new = match change {
        Change::Delete => None,
        _ => Some(entry(p, rule)?),
    };
    let m = &ctx.net.network_acls[a.index];
    let list = if egress { &m.egress } else { &m.ingress };
    let exists = list.iter().any(|e| e.rule == rule);
    if exists && change == Change::Create {
        return Err(Ec2Error::new(
            "NetworkAclEntryAlreadyExists",
            format!("The network acl entry identified by {rule} already exists."),
        ));
    }
    if !exists && change != Change::Create {
        return Err(Ec2Error::new(
            "InvalidNetworkAclEntry.NotFound",
            format!(
                "The network acl entry identified by {rule} does not exist in {} ({}).",
                a.id,
                if egress { "egress" } else { "ingress" }
            ),
        ));
    }
    let mut spec = ctx.spec.clone();
    let (at, i) = declared(ctx, &mut spec, &a);
    let acl = &mut spec.vpcs[at].network_acls[i];
    let list = if egress {
        &mut acl.egress
    } else {
        &mut acl.ingress
    };
    list.retain(|e| rule_of(e) != Some(i64::from(rule)));
    list.extend(new);
    let mut x = Xml::default();
    x.text("return", "true");
    Ok(Done::Write(x, Box::new(spec)))
}

/// `ReplaceNetworkAclAssociation`.
pub fn replace_association(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let id = p.required("AssociationId")?;
    let to = find(ctx, p.required("NetworkAclId")?)?;
    let acls = all(ctx);
    let subnet = ctx.view.subnets.iter().find(|s| {
        acl_of(ctx, s)
            .and_then(|i| acls.iter().find(|a| a.index == i))
            .is_some_and(|a| association_id(&a.id, &s.id) == id)
    });
    let Some(s) = subnet else {
        return Err(Ec2Error::new(
            "InvalidAssociationID.NotFound",
            format!("The association ID '{id}' does not exist"),
        ));
    };
    if s.vpc_id != to.vpc.id {
        return Err(Ec2Error::invalid_parameter(format!(
            "network ACL {} and subnet {} belong to different networks",
            to.id, s.id
        )));
    }
    let mut spec = ctx.spec.clone();
    // The implicit default ACL is named by no name (a subnet without one has it).
    let implicit = to.default
        && spec_vpc(ctx, to.vpc).is_none_or(|at| {
            !ctx.spec.vpcs[at]
                .network_acls
                .iter()
                .any(|x| x.name == to.name)
        });
    super::vpcs::subnet_entry(ctx, &mut spec, s)?.network_acl =
        (!implicit).then(|| to.name.clone());
    let mut x = Xml::default();
    x.text("newAssociationId", &association_id(&to.id, &s.id));
    Ok(Done::Write(x, Box::new(spec)))
}
