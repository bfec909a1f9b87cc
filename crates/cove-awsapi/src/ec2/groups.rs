//! EC2's security-group actions over a tenant's desired spec (pure): groups and
//! their rules read from the validated model (ids derived as everywhere), changes
//! written into the spec's `security_groups` (a group the spec does not declare —
//! a VPC's default group, a network's — is written out with its current rules
//! first).

use cove_model::model::SgId;
use cove_model::spec::{SecurityGroupSpec, SgRuleSpec};

use super::error::Ec2Error;
use super::params::Params;
use super::rules::{self, Peer, Rule};
use super::tags::{specified, tag_filter, tag_set};
use super::view::VpcView;
use super::vpcs::{Ctx, Done, find_vpc, matches, page, spec_vpc, spec_vpc_or_add};
use super::xml::Xml;

/// AWS's default quota of rules per direction of a group.
pub const RULES_PER_GROUP: usize = 60;

/// One group as EC2 shows it.
#[derive(Debug, Clone)]
pub struct GroupView {
    /// `sg-…`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its VPC's id.
    pub vpc_id: String,
    /// Its VPC's name in the desired spec.
    pub vpc_name: String,
    /// Its description.
    pub description: String,
    /// Whether it is the VPC's default group.
    pub is_default: bool,
    /// Inbound rules.
    pub ingress: Vec<Rule>,
    /// Outbound rules.
    pub egress: Vec<Rule>,
    /// Its tags.
    pub tags: super::tags::Tags,
    /// Its index in the model.
    pub index: usize,
}

fn spec_group<'a>(ctx: &'a Ctx<'_>, vpc: &VpcView, group: &str) -> Option<&'a SecurityGroupSpec> {
    let at = spec_vpc(ctx, vpc)?;
    ctx.spec.vpcs[at]
        .security_groups
        .iter()
        .find(|g| g.name == group)
}

/// The tenant's groups.
pub fn groups(ctx: &Ctx<'_>) -> Vec<GroupView> {
    candidates(ctx)
        .into_iter()
        .map(|(i, vpc)| view_of(ctx, i, vpc))
        .collect()
}

/// The tenant's groups by model index, with their VPCs (nothing derived yet).
fn candidates<'a>(ctx: &'a Ctx<'_>) -> Vec<(usize, &'a VpcView)> {
    ctx.net
        .security_groups
        .iter()
        .enumerate()
        .filter_map(|(i, sg)| ctx.view.vpc(sg.vpc).map(|v| (i, v)))
        .collect()
}

/// Group `i`'s description: the spec's, or AWS's for a default group.
fn description_of(ctx: &Ctx<'_>, i: usize, declared: Option<&SecurityGroupSpec>) -> String {
    declared
        .and_then(|g| g.description.clone())
        .unwrap_or_else(|| {
            if ctx.net.security_groups[i].is_default {
                "default VPC security group".to_owned()
            } else {
                String::new()
            }
        })
}

/// Group `i` (of VPC `vpc`) as EC2 shows it, with its rules.
fn view_of(ctx: &Ctx<'_>, i: usize, vpc: &VpcView) -> GroupView {
    let net = ctx.net;
    let sg = &net.security_groups[i];
    let declared = spec_group(ctx, vpc, &sg.name);
    let described = |list: Option<&Vec<SgRuleSpec>>, index: usize| {
        list.and_then(|l| l.get(index))
            .and_then(|r| r.description.clone())
    };
    let ingress_spec = declared.map(|g| &g.ingress);
    let egress_spec = declared.and_then(|g| g.egress.as_ref());
    GroupView {
        id: rules::group_id(net, SgId(u32::try_from(i).unwrap_or(u32::MAX))),
        name: sg.name.clone(),
        vpc_id: vpc.id.clone(),
        vpc_name: vpc.name.clone(),
        description: description_of(ctx, i, declared),
        is_default: sg.is_default,
        ingress: sg
            .ingress
            .iter()
            .map(|r| rules::from_model(net, r, described(ingress_spec, r.index)))
            .collect(),
        egress: sg
            .egress
            .iter()
            .map(|r| rules::from_model(net, r, described(egress_spec, r.index)))
            .collect(),
        index: i,
        tags: declared.map(|g| g.tags.clone()).unwrap_or_default(),
    }
}

fn find<'a>(all: &'a [GroupView], p: &Params) -> Result<&'a GroupView, Ec2Error> {
    if let Some(id) = p.get("GroupId") {
        return all
            .iter()
            .find(|g| g.id == id)
            .ok_or_else(|| Ec2Error::not_found("InvalidGroup.NotFound", "security group", id));
    }
    let name = p.required("GroupId")?;
    all.iter()
        .find(|g| g.name == name)
        .ok_or_else(|| Ec2Error::not_found("InvalidGroup.NotFound", "security group", name))
}

fn permissions_xml(x: &mut Xml, name: &str, list: &[Rule], account: &str) {
    x.set(name, list, |x, r| {
        x.text("ipProtocol", &r.protocol);
        if let Some(f) = r.from {
            x.int("fromPort", i64::from(f));
        }
        if let Some(t) = r.to {
            x.int("toPort", i64::from(t));
        }
        // One peer per rule: its own list, the other two empty.
        let item = |x: &mut Xml, name: &str, key: &str, value: &str, user: bool| {
            x.node(name, |x| {
                x.node("item", |x| {
                    if user {
                        x.text("userId", account);
                    }
                    x.text(key, value);
                    if let Some(d) = &r.description {
                        x.text("description", d);
                    }
                });
            });
        };
        match &r.peer {
            Peer::Group(g) => item(x, "groups", "groupId", g, true),
            _ => {
                x.node("groups", |_| {});
            }
        }
        match &r.peer {
            Peer::Cidr(c) => item(x, "ipRanges", "cidrIp", c, false),
            _ => {
                x.node("ipRanges", |_| {});
            }
        }
        x.node("ipv6Ranges", |_| {});
        match &r.peer {
            Peer::PrefixList(l) => item(x, "prefixListIds", "prefixListId", l, false),
            _ => {
                x.node("prefixListIds", |_| {});
            }
        }
    });
}

fn rule_xml(x: &mut Xml, g: &GroupView, r: &Rule, egress: bool, account: &str) {
    x.text("securityGroupRuleId", &r.id(&g.id, egress))
        .text("groupId", &g.id)
        .text("groupOwnerId", account)
        .text("isEgress", if egress { "true" } else { "false" })
        .text("ipProtocol", &r.protocol)
        .text("fromPort", &r.from.unwrap_or(-1).to_string())
        .text("toPort", &r.to.unwrap_or(-1).to_string());
    match &r.peer {
        Peer::Cidr(c) => {
            x.text("cidrIpv4", c);
        }
        Peer::Group(id) => {
            x.node("referencedGroupInfo", |x| {
                x.text("groupId", id).text("userId", account);
            });
        }
        Peer::PrefixList(l) => {
            x.text("prefixListId", l);
        }
    }
    if let Some(d) = &r.description {
        x.text("description", d);
    }
    x.node("tagSet", |_| {});
}

/// `DescribeSecurityGroups`.
pub fn describe(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let net = ctx.net;
    let all = candidates(ctx);
    let id_of = |i: usize| rules::group_id(net, SgId(u32::try_from(i).unwrap_or(u32::MAX)));
    let ids = p.list("GroupId");
    let names = p.list("GroupName");
    if !ids.is_empty() {
        let known: std::collections::HashSet<String> = all.iter().map(|(i, _)| id_of(*i)).collect();
        if let Some(id) = ids.iter().find(|id| !known.contains(*id)) {
            return Err(Ec2Error::not_found(
                "InvalidGroup.NotFound",
                "security group",
                id,
            ));
        }
    }
    let filters = p.filters()?;
    let known = [
        "group-id",
        "group-name",
        "vpc-id",
        "description",
        "owner-id",
    ];
    // Each group's id, spec entry and tags are derived only when a filter asks
    // for them: a describe by name reads 1,000 groups of 2,000.
    let mut found = Vec::new();
    for &(i, vpc) in &all {
        let sg = &net.security_groups[i];
        if !names.is_empty() && !names.contains(&sg.name) {
            continue;
        }
        let id = std::cell::OnceCell::new();
        let id = || id.get_or_init(|| id_of(i)).clone();
        if !ids.is_empty() && !ids.contains(&id()) {
            continue;
        }
        let declared = std::cell::OnceCell::new();
        let declared = || *declared.get_or_init(|| spec_group(ctx, vpc, &sg.name));
        let ok = matches(&filters, &known, |name| {
            if name.starts_with("tag") {
                let tags = declared().map(|g| g.tags.clone()).unwrap_or_default();
                return tag_filter(name, &tags).unwrap_or_default();
            }
            match name {
                "group-id" => vec![id()],
                "group-name" => vec![sg.name.clone()],
                "vpc-id" => vec![vpc.id.clone()],
                "description" => vec![description_of(ctx, i, declared())],
                _ => vec![ctx.account_id.to_owned()],
            }
        })?;
        if ok {
            found.push((i, vpc));
        }
    }
    let (items, next) = page(&found, p.max_results(5, 1000)?, p.get("NextToken"))?;
    let mut x = Xml(String::with_capacity(items.len() * 1024));
    x.node("securityGroupInfo", |x| {
        for &(i, vpc) in &items {
            let g = view_of(ctx, i, vpc);
            x.node("item", |x| {
                x.text("ownerId", ctx.account_id)
                    .text("groupId", &g.id)
                    .text("groupName", &g.name)
                    .text("groupDescription", &g.description)
                    .text("vpcId", &g.vpc_id);
                permissions_xml(x, "ipPermissions", &g.ingress, ctx.account_id);
                permissions_xml(x, "ipPermissionsEgress", &g.egress, ctx.account_id);
                tag_set(x, &g.tags);
            });
        }
    });
    if let Some(n) = next {
        x.text("nextToken", &n);
    }
    Ok(Done::Read(x))
}

/// `DescribeSecurityGroupRules`.
pub fn describe_rules(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let all = groups(ctx);
    let ids = p.list("SecurityGroupRuleId");
    let filters = p.filters()?;
    let known = ["group-id", "security-group-rule-id"];
    let mut found = Vec::new();
    for g in &all {
        for (egress, list) in [(false, &g.ingress), (true, &g.egress)] {
            for r in list {
                let rid = r.id(&g.id, egress);
                if !ids.is_empty() && !ids.contains(&rid) {
                    continue;
                }
                let ok = matches(&filters, &known, |name| match name {
                    "group-id" => vec![g.id.clone()],
                    _ => vec![rid.clone()],
                })?;
                if ok {
                    found.push((g, r, egress));
                }
            }
        }
    }
    for id in &ids {
        if !found.iter().any(|(g, r, e)| &r.id(&g.id, *e) == id) {
            return Err(Ec2Error::not_found(
                "InvalidSecurityGroupRuleId.NotFound",
                "security group rule",
                id,
            ));
        }
    }
    let (items, next) = page(&found, p.max_results(5, 1000)?, p.get("NextToken"))?;
    let mut x = Xml::default();
    x.set("securityGroupRuleSet", &items, |x, (g, r, egress)| {
        rule_xml(x, g, r, *egress, ctx.account_id);
    });
    if let Some(n) = next {
        x.text("nextToken", &n);
    }
    Ok(Done::Read(x))
}

/// `CreateSecurityGroup`.
pub fn create(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let name = p.required("GroupName")?;
    let description = p.required("GroupDescription")?;
    let vpc_id = p
        .get("VpcId")
        .ok_or_else(|| Ec2Error::new("VPCIdNotSpecified", "No default VPC for this user"))?;
    let vpc = find_vpc(ctx, vpc_id)?;
    if name.eq_ignore_ascii_case("default") {
        return Err(Ec2Error::invalid_parameter(
            "Cannot use reserved security group name: default".to_owned(),
        ));
    }
    if groups(ctx)
        .iter()
        .any(|g| g.vpc_id == vpc.id && g.name == name)
    {
        return Err(Ec2Error::new(
            "InvalidGroup.Duplicate",
            format!(
                "The security group '{name}' already exists for VPC '{}'",
                vpc.id
            ),
        ));
    }
    let mut spec = ctx.spec.clone();
    let at = spec_vpc_or_add(ctx, &mut spec, vpc);
    let tags = specified(p, "security-group")?;
    spec.vpcs[at].security_groups.push(SecurityGroupSpec {
        name: name.to_owned(),
        description: Some(description.to_owned()),
        tags: tags.clone(),
        ..SecurityGroupSpec::default()
    });
    let id =
        cove_model::ids::resource_id("sg", None, &format!("{}/{}/{name}", ctx.tenant, vpc.name));
    let mut x = Xml::default();
    x.text("return", "true").text("groupId", &id);
    tag_set(&mut x, &tags);
    Ok(Done::Write(x, Box::new(spec)))
}

/// Where `g` is in `spec` (written out with its current rules when the spec does
/// not declare it yet): (VPC index, group index).
fn declared(
    ctx: &Ctx<'_>,
    spec: &mut cove_model::spec::TenantSpec,
    g: &GroupView,
) -> Result<(usize, usize), Ec2Error> {
    let vpc = find_vpc(ctx, &g.vpc_id)?;
    let at = spec_vpc_or_add(ctx, spec, vpc);
    if let Some(i) = spec.vpcs[at]
        .security_groups
        .iter()
        .position(|x| x.name == g.name)
    {
        return Ok((at, i));
    }
    spec.vpcs[at].security_groups.push(declaration(ctx, &g.id)?);
    Ok((at, spec.vpcs[at].security_groups.len() - 1))
}

/// The spec's declaration of group `id` as it is now (for a group the spec does not
/// declare: a VPC's default group, a network's).
pub fn declaration(ctx: &Ctx<'_>, id: &str) -> Result<SecurityGroupSpec, Ec2Error> {
    let all = groups(ctx);
    let g = all
        .iter()
        .find(|g| g.id == id)
        .ok_or_else(|| Ec2Error::not_found("InvalidGroup.NotFound", "security group", id))?;
    let name_of = |id: &str| {
        all.iter()
            .find(|x| x.id == id && x.vpc_id == g.vpc_id)
            .map(|x| x.name.clone())
    };
    let list_name = |id: &str| list_name(ctx, id);
    let ingress = g
        .ingress
        .iter()
        .map(|r| rules::to_spec(r, name_of, list_name))
        .collect::<Result<Vec<_>, _>>()?;
    let egress = g
        .egress
        .iter()
        .map(|r| rules::to_spec(r, name_of, list_name))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SecurityGroupSpec {
        name: g.name.clone(),
        description: None,
        ingress,
        egress: Some(egress),
        ..SecurityGroupSpec::default()
    })
}

/// The tenant's prefix list of id `id`, by name.
fn list_name(ctx: &Ctx<'_>, id: &str) -> Option<String> {
    let net = ctx.net;
    net.prefix_lists.iter().enumerate().find_map(|(i, pl)| {
        let pid = cove_model::model::PrefixListId(u32::try_from(i).ok()?);
        (net.tenants[pl.tenant.index()].name == ctx.tenant && rules::prefix_list_id(net, pid) == id)
            .then(|| pl.name.clone())
    })
}

/// `AuthorizeSecurityGroupIngress` / `…Egress`.
pub fn authorize(ctx: &Ctx<'_>, p: &Params, egress: bool) -> Result<Done, Ec2Error> {
    let all = groups(ctx);
    let g = find(&all, p)?;
    let new = rules::permissions(p)?;
    let have = if egress { &g.egress } else { &g.ingress };
    for r in &new {
        if have.iter().any(|h| h.key() == r.key())
            || new.iter().filter(|n| n.key() == r.key()).count() > 1
        {
            return Err(Ec2Error::new(
                "InvalidPermission.Duplicate",
                format!(
                    "the specified rule \"peer: {:?}, {}, ALLOW\" already exists",
                    r.peer, r.protocol
                ),
            ));
        }
    }
    if have.len() + new.len() > RULES_PER_GROUP {
        return Err(Ec2Error::new(
            "RulesPerSecurityGroupLimitExceeded",
            format!(
                "The maximum number of rules per security group has been reached ({RULES_PER_GROUP})."
            ),
        ));
    }
    let mut spec = ctx.spec.clone();
    let (at, i) = declared(ctx, &mut spec, g)?;
    let name_of = |id: &str| {
        all.iter()
            .find(|x| x.id == id && x.vpc_id == g.vpc_id)
            .map(|x| x.name.clone())
    };
    let converted = new
        .iter()
        .map(|r| rules::to_spec(r, name_of, |id| list_name(ctx, id)))
        .collect::<Result<Vec<_>, _>>()?;
    let sg = &mut spec.vpcs[at].security_groups[i];
    if egress {
        // A group without egress rules in the spec allows all outbound: written
        // out first, as EC2 shows it.
        let list = sg.egress.get_or_insert_with(|| {
            vec![SgRuleSpec {
                protocol: cove_model::spec::Scalar::Str("all".to_owned()),
                cidr: Some("0.0.0.0/0".to_owned()),
                ..SgRuleSpec::default()
            }]
        });
        list.extend(converted);
    } else {
        sg.ingress.extend(converted);
    }
    let mut x = Xml::default();
    x.text("return", "true");
    x.set("securityGroupRuleSet", &new, |x, r| {
        rule_xml(x, g, r, egress, ctx.account_id)
    });
    Ok(Done::Write(x, Box::new(spec)))
}

/// `RevokeSecurityGroupIngress` / `…Egress`: by `IpPermissions` or by
/// `SecurityGroupRuleId`.
pub fn revoke(ctx: &Ctx<'_>, p: &Params, egress: bool) -> Result<Done, Ec2Error> {
    let all = groups(ctx);
    let g = find(&all, p)?;
    let have = if egress { &g.egress } else { &g.ingress };
    let ids = p.list("SecurityGroupRuleId");
    let gone: Vec<Rule> = if ids.is_empty() {
        let asked = rules::permissions(p)?;
        for r in &asked {
            if !have.iter().any(|h| h.key() == r.key()) {
                return Err(Ec2Error::new(
                    "InvalidPermission.NotFound",
                    "The specified rule does not exist in this security group.",
                ));
            }
        }
        asked
    } else {
        ids.iter()
            .map(|id| {
                have.iter()
                    .find(|h| &h.id(&g.id, egress) == id)
                    .cloned()
                    .ok_or_else(|| {
                        Ec2Error::not_found(
                            "InvalidSecurityGroupRuleId.NotFound",
                            "security group rule",
                            id,
                        )
                    })
            })
            .collect::<Result<_, _>>()?
    };
    let mut spec = ctx.spec.clone();
    let (at, i) = declared(ctx, &mut spec, g)?;
    // The spec's rules in EC2's shape, to find the ones to drop.
    let name_of = |id: &str| {
        all.iter()
            .find(|x| x.id == id && x.vpc_id == g.vpc_id)
            .map(|x| x.name.clone())
    };
    let drop: Vec<SgRuleSpec> = gone
        .iter()
        .map(|r| rules::to_spec(r, name_of, |id| list_name(ctx, id)))
        .collect::<Result<_, _>>()?;
    let same = |a: &SgRuleSpec, b: &SgRuleSpec| {
        let strip = |r: &SgRuleSpec| SgRuleSpec {
            description: None,
            ..r.clone()
        };
        strip(a) == strip(b)
    };
    let sg = &mut spec.vpcs[at].security_groups[i];
    let list = if egress {
        sg.egress.get_or_insert_with(Vec::new)
    } else {
        &mut sg.ingress
    };
    let before = list.len();
    list.retain(|r| !drop.iter().any(|d| same(r, d)));
    if list.len() + drop.len() != before {
        return Err(Ec2Error::new(
            "InvalidPermission.NotFound",
            "The specified rule does not exist in this security group (it is written differently in the spec; revoke it through cove's API).",
        ));
    }
    let mut x = Xml::default();
    x.text("return", "true");
    Ok(Done::Write(x, Box::new(spec)))
}

/// `DeleteSecurityGroup`.
pub fn delete(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let all = groups(ctx);
    let g = find(&all, p)?;
    if g.is_default {
        return Err(Ec2Error::new(
            "CannotDelete",
            format!(
                "the specified group: \"{}\" name: \"default\" cannot be deleted by a user",
                g.id
            ),
        ));
    }
    let referenced = all.iter().any(|o| {
        o.id != g.id
            && o.ingress
                .iter()
                .chain(&o.egress)
                .any(|r| r.peer == Peer::Group(g.id.clone()))
    });
    let vpc = find_vpc(ctx, &g.vpc_id)?;
    let at = spec_vpc(ctx, vpc);
    let used = at.is_some_and(|at| {
        let v = &ctx.spec.vpcs[at];
        v.enis.iter().any(|e| e.security_groups.contains(&g.name))
            || v.functions
                .iter()
                .any(|f| f.security_groups.contains(&g.name))
            || v.endpoints
                .iter()
                .any(|e| e.security_groups.contains(&g.name))
    });
    if referenced || used {
        return Err(Ec2Error::new(
            "DependencyViolation",
            format!("resource {} has a dependent object", g.id),
        ));
    }
    let Some(at) = at else {
        return Err(Ec2Error::new(
            "OperationNotPermitted",
            format!(
                "The security group '{}' belongs to a network's layout.",
                g.id
            ),
        ));
    };
    let mut spec = ctx.spec.clone();
    let Some(i) = spec.vpcs[at]
        .security_groups
        .iter()
        .position(|x| x.name == g.name)
    else {
        return Err(Ec2Error::new(
            "OperationNotPermitted",
            format!(
                "The security group '{}' belongs to a network's layout.",
                g.id
            ),
        ));
    };
    spec.vpcs[at].security_groups.remove(i);
    let mut x = Xml::default();
    x.text("return", "true").text("groupId", &g.id);
    Ok(Done::Write(x, Box::new(spec)))
}
