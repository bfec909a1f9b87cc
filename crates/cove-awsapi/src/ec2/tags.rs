//! EC2's tags on the objects the spec holds (VPCs, subnets, security groups, route
//! tables, network ACLs, internet and NAT gateways, endpoints, prefix lists, flow
//! logs) and on Elastic IPs and peering connections (control-plane objects; a
//! peering's tags are each account's own), pure: `CreateTags`, `DeleteTags`, `DescribeTags`, `TagSpecifications`
//! on creation, `tag:Key` / `tag-key` filters and every answer's `tagSet`.

use std::collections::BTreeMap;

use cove_model::spec::TenantSpec;

use super::error::Ec2Error;
use super::groups::groups;
use super::params::Params;
use super::vpcs::{Ctx, Done, spec_vpc_or_add};
use super::xml::Xml;

/// Tags one resource may have (EC2's limit).
pub const MAX_TAGS: usize = 50;

/// Tags of a resource.
pub type Tags = BTreeMap<String, String>;

/// What a resource id names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Vpc,
    Subnet,
    Group,
    RouteTable,
    Acl,
    Gateway,
    NatGateway,
    ElasticIp,
    Endpoint,
    PrefixList,
    FlowLog,
    Peering,
}

impl Kind {
    fn as_str(&self) -> &'static str {
        match self {
            Kind::Vpc => "vpc",
            Kind::Subnet => "subnet",
            Kind::Group => "security-group",
            Kind::RouteTable => "route-table",
            Kind::Acl => "network-acl",
            Kind::Gateway => "internet-gateway",
            Kind::NatGateway => "natgateway",
            Kind::ElasticIp => "elastic-ip",
            Kind::Endpoint => "vpc-endpoint",
            Kind::PrefixList => "prefix-list",
            Kind::FlowLog => "vpc-flow-log",
            Kind::Peering => "vpc-peering-connection",
        }
    }
}

/// (kind, VPC's name in the desired spec, object's name; none for a VPC).
fn resolve(ctx: &Ctx<'_>, id: &str) -> Option<(Kind, String, Option<String>)> {
    if let Some(v) = ctx.view.vpcs.iter().find(|v| v.id == id) {
        return Some((Kind::Vpc, v.name.clone(), None));
    }
    if let Some(s) = ctx.view.subnets.iter().find(|s| s.id == id) {
        return Some((Kind::Subnet, s.vpc_name.clone(), Some(s.name.clone())));
    }
    groups(ctx)
        .into_iter()
        .find(|g| g.id == id)
        .map(|g| (Kind::Group, g.vpc_name, Some(g.name)))
}

/// `<tagSet>`.
pub fn tag_set(x: &mut Xml, tags: &Tags) {
    let items: Vec<(&String, &String)> = tags.iter().collect();
    x.set("tagSet", &items, |x, (k, v)| {
        x.text("key", k).text("value", v);
    });
}

/// A filter's values of `name` when it is a tag filter (`tag:Key`, `tag-key`).
pub fn tag_filter(name: &str, tags: &Tags) -> Option<Vec<String>> {
    if let Some(key) = name.strip_prefix("tag:") {
        return Some(tags.get(key).cloned().into_iter().collect());
    }
    (name == "tag-key").then(|| tags.keys().cloned().collect())
}

fn check(key: &str, value: &str) -> Result<(), Ec2Error> {
    if key.is_empty() || key.chars().count() > 128 {
        return Err(Ec2Error::new(
            "InvalidParameterValue",
            format!("Tag key '{key}' must be 1 to 128 characters"),
        ));
    }
    if value.chars().count() > 256 {
        return Err(Ec2Error::new(
            "InvalidParameterValue",
            format!("Tag value for '{key}' exceeds 256 characters"),
        ));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(Ec2Error::new(
            "InvalidParameterValue",
            format!("Tag keys starting with 'aws:' are reserved for internal use: '{key}'"),
        ));
    }
    Ok(())
}

/// `prefix.N.Key` / `prefix.N.Value` pairs.
fn pairs(p: &Params, prefix: &str) -> Result<Vec<(String, Option<String>)>, Ec2Error> {
    let mut out = Vec::new();
    for n in 1.. {
        let Some(k) = p.get(&format!("{prefix}.{n}.Key")) else {
            break;
        };
        let v = p.get(&format!("{prefix}.{n}.Value")).map(str::to_owned);
        check(k, v.as_deref().unwrap_or(""))?;
        out.push((k.to_owned(), v));
    }
    Ok(out)
}

/// The tags `TagSpecification.N` gives a new resource of `resource_type`.
pub fn specified(p: &Params, resource_type: &str) -> Result<Tags, Ec2Error> {
    let mut tags = Tags::new();
    for n in 1.. {
        let Some(kind) = p.get(&format!("TagSpecification.{n}.ResourceType")) else {
            break;
        };
        if kind != resource_type {
            return Err(Ec2Error::invalid_parameter(format!(
                "'{kind}' is not a valid taggable resource type for this operation."
            )));
        }
        for (k, v) in pairs(p, &format!("TagSpecification.{n}.Tag"))? {
            tags.insert(k, v.unwrap_or_default());
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(Ec2Error::new(
            "TagLimitExceeded",
            format!("The maximum number of tags per resource is {MAX_TAGS}."),
        ));
    }
    Ok(tags)
}

/// The spec's tag map of `id` (a network's VPC gets its spec entry; a default
/// group its declaration).
fn tags_mut<'s>(
    ctx: &Ctx<'_>,
    spec: &'s mut TenantSpec,
    id: &str,
) -> Result<&'s mut Tags, Ec2Error> {
    if id.starts_with("rtb-") {
        return super::route_tables::tags_mut(ctx, spec, id);
    }
    if id.starts_with("acl-") {
        return super::acls::tags_mut(ctx, spec, id);
    }
    if id.starts_with("igw-") {
        return super::gateways::tags_mut(ctx, spec, id);
    }
    if id.starts_with("nat-") {
        return nat_tags_mut(ctx, spec, id);
    }
    if id.starts_with("vpce-") {
        return super::endpoints::endpoint_tags_mut(ctx, spec, id);
    }
    if id.starts_with("pl-") {
        return super::endpoints::prefix_list_tags_mut(ctx, spec, id);
    }
    if id.starts_with("fl-") {
        return super::flow_logs::tags_mut(ctx, spec, id);
    }
    let (kind, vpc, name) = resolve(ctx, id)
        .ok_or_else(|| Ec2Error::new("InvalidID", format!("The ID '{id}' is not valid")))?;
    let view = ctx
        .view
        .vpcs
        .iter()
        .find(|v| v.name == vpc)
        .ok_or_else(|| Ec2Error::new("InvalidID", format!("The ID '{id}' is not valid")))?;
    let at = spec_vpc_or_add(ctx, spec, view);
    match (kind, name) {
        (Kind::Vpc, _) => Ok(&mut spec.vpcs[at].tags),
        (Kind::Subnet, Some(_)) => {
            let s = super::vpcs::find_subnet(ctx, id)?;
            Ok(&mut super::vpcs::subnet_entry(ctx, spec, s)?.tags)
        }
        (Kind::Group, Some(n)) => {
            if !spec.vpcs[at].security_groups.iter().any(|g| g.name == n) {
                spec.vpcs[at]
                    .security_groups
                    .push(super::groups::declaration(ctx, id)?);
            }
            spec.vpcs[at]
                .security_groups
                .iter_mut()
                .find(|g| g.name == n)
                .map(|g| &mut g.tags)
                .ok_or_else(|| Ec2Error::new("InvalidID", format!("The ID '{id}' is not valid")))
        }
        _ => Err(Ec2Error::new(
            "InvalidID",
            format!("The ID '{id}' is not valid"),
        )),
    }
}

/// The tags of the tenant's NAT gateway `id` (one of its spec's; a network's
/// take none).
fn nat_tags_mut<'s>(
    ctx: &Ctx<'_>,
    spec: &'s mut TenantSpec,
    id: &str,
) -> Result<&'s mut Tags, Ec2Error> {
    let net = ctx.net;
    let not_found = || {
        Ec2Error::new(
            "NatGatewayNotFound",
            format!("The Nat Gateway {id} was not found"),
        )
    };
    let g = (0..net.nat_gateways.len())
        .find(|&i| {
            super::route_tables::vpc_view(ctx, net.nat_gateways[i].vpc).is_some()
                && super::interfaces::nat_id(net, i) == id
        })
        .map(|i| &net.nat_gateways[i])
        .ok_or_else(not_found)?;
    let vpc = super::route_tables::vpc_view(ctx, g.vpc).ok_or_else(not_found)?;
    let at = super::vpcs::spec_vpc(ctx, vpc).ok_or_else(not_found)?;
    spec.vpcs[at]
        .nat_gateways
        .iter_mut()
        .find(|x| x.name == g.name)
        .map(|x| &mut x.tags)
        .ok_or_else(not_found)
}

/// Applies `f` to the tags of each resource of `ids`: the spec's objects in a copy
/// of the spec; Elastic IPs and peerings (the signer's account's own tags) as
/// control-plane changes, `f` applied to their tags now and the difference written.
fn retag(
    ctx: &Ctx<'_>,
    ids: &[String],
    f: impl Fn(&mut Tags) -> Result<(), Ec2Error>,
) -> Result<Done, Ec2Error> {
    let mut spec = ctx.spec.clone();
    let mut changes = Vec::new();
    let mut spec_changed = false;
    let control = |e: cove_control::ControlError| super::addresses::from_control(&e);
    for id in ids {
        let eip = id.starts_with(cove_control::addresses::ALLOCATION_PREFIX);
        if eip || id.starts_with("pcx-") {
            let pid = cove_control::PeeringId(id.clone());
            let now = if eip {
                cove_control::address(ctx.state, ctx.tenant_id, id)
                    .map_err(control)?
                    .tags
                    .clone()
            } else {
                cove_control::get_peering(ctx.state, ctx.tenant_id, &pid)
                    .map_err(control)?
                    .tags
            };
            let mut after = now.clone();
            f(&mut after)?;
            let removed: Vec<(String, Option<String>)> = now
                .keys()
                .filter(|k| !after.contains_key(*k))
                .map(|k| (k.clone(), None))
                .collect();
            let added: Vec<(String, String)> = after.into_iter().collect();
            changes.extend(if eip {
                cove_control::tag_address(ctx.state, ctx.tenant_id, id, &added, &removed)
                    .map_err(control)?
                    .changes
            } else {
                cove_control::tag_peering(ctx.state, ctx.tenant_id, &pid, &added, &removed)
                    .map_err(control)?
                    .changes
            });
            continue;
        }
        f(tags_mut(ctx, &mut spec, id)?)?;
        spec_changed = true;
    }
    let mut x = Xml::default();
    x.text("return", "true");
    Ok(if changes.is_empty() {
        Done::Write(x, Box::new(spec))
    } else {
        Done::Control(x, spec_changed.then(|| Box::new(spec)), changes)
    })
}

/// `CreateTags`.
pub fn create(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let ids = p.list("ResourceId");
    if ids.is_empty() {
        return Err(Ec2Error::missing("ResourceId"));
    }
    let new = pairs(p, "Tag")?;
    if new.is_empty() {
        return Err(Ec2Error::missing("Tag"));
    }
    let add: Vec<(String, String)> = new
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
        .collect();
    retag(ctx, &ids, |tags| {
        for (k, v) in &add {
            tags.insert(k.clone(), v.clone());
        }
        if tags.len() > MAX_TAGS {
            return Err(Ec2Error::new(
                "TagLimitExceeded",
                format!("The maximum number of tags per resource is {MAX_TAGS}."),
            ));
        }
        Ok(())
    })
}

/// `DeleteTags` (a tag given with a value is deleted only when the value matches;
/// no tag given deletes them all).
pub fn delete(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let ids = p.list("ResourceId");
    if ids.is_empty() {
        return Err(Ec2Error::missing("ResourceId"));
    }
    let gone = pairs(p, "Tag")?;
    // No tag given: every tag of each resource.
    let all = gone.is_empty();
    retag(ctx, &ids, |tags| {
        if all {
            tags.clear();
        }
        for (k, v) in &gone {
            if v.as_ref().is_none_or(|v| tags.get(k) == Some(v)) {
                tags.remove(k);
            }
        }
        Ok(())
    })
}

/// The tenant's NAT gateways' tags, by id.
fn nat_tags(ctx: &Ctx<'_>) -> Vec<(String, Tags)> {
    (0..ctx.net.nat_gateways.len())
        .filter(|&i| super::route_tables::vpc_view(ctx, ctx.net.nat_gateways[i].vpc).is_some())
        .map(|i| {
            (
                super::interfaces::nat_id(ctx.net, i),
                super::interfaces::nat_tags(ctx, i),
            )
        })
        .collect()
}

/// `DescribeTags`.
pub fn describe(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let filters = p.filters()?;
    let mut ids: Vec<(String, Kind, Tags)> = ctx
        .view
        .vpcs
        .iter()
        .map(|v| (v.id.clone(), Kind::Vpc, super::vpcs::vpc_tags(ctx, v)))
        .collect();
    ids.extend(
        ctx.view
            .subnets
            .iter()
            .map(|s| (s.id.clone(), Kind::Subnet, super::vpcs::subnet_tags(ctx, s))),
    );
    ids.extend(groups(ctx).into_iter().map(|g| (g.id, Kind::Group, g.tags)));
    let (lists, endpoints) = super::endpoints::all_tags(ctx);
    for (kind, list) in [
        (Kind::RouteTable, super::route_tables::all_tags(ctx)),
        (Kind::Acl, super::acls::all_tags(ctx)),
        (Kind::Gateway, super::gateways::all_tags(ctx)),
        (Kind::NatGateway, nat_tags(ctx)),
        (Kind::PrefixList, lists),
        (Kind::Endpoint, endpoints),
        (Kind::FlowLog, super::flow_logs::all_tags(ctx)),
        (
            Kind::Peering,
            cove_control::list_peerings(ctx.state, ctx.tenant_id)
                .into_iter()
                .map(|p| (p.id.0, p.tags))
                .collect(),
        ),
        (
            Kind::ElasticIp,
            cove_control::list_addresses(ctx.state, ctx.tenant_id)
                .into_iter()
                .map(|e| (e.id.clone(), e.tags.clone()))
                .collect(),
        ),
    ] {
        ids.extend(list.into_iter().map(|(id, tags)| (id, kind.clone(), tags)));
    }
    let mut found = Vec::new();
    for (id, kind, tags) in ids {
        for (k, v) in tags {
            let ok = super::vpcs::matches(
                &filters,
                &["resource-id", "resource-type", "key", "value"],
                |name| match name {
                    "resource-id" => vec![id.clone()],
                    "resource-type" => vec![kind.as_str().to_owned()],
                    "key" => vec![k.clone()],
                    _ => vec![v.clone()],
                },
            )?;
            if ok {
                found.push((id.clone(), kind.as_str(), k, v));
            }
        }
    }
    let (items, next) = super::vpcs::page(&found, p.max_results(5, 1000)?, p.get("NextToken"))?;
    let mut x = Xml::default();
    x.set("tagSet", &items, |x, (id, kind, k, v)| {
        x.text("resourceId", id)
            .text("resourceType", kind)
            .text("key", k)
            .text("value", v);
    });
    if let Some(n) = next {
        x.text("nextToken", &n);
    }
    Ok(Done::Read(x))
}
