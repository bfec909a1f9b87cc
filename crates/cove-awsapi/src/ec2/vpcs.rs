//! EC2's VPC, subnet and zone actions over a tenant's desired spec (pure): reads
//! from the [`TenantView`], writes as a changed [`TenantSpec`] that the shell
//! validates and commits exactly as `PUT /v1/spec` would.

use cove_model::ids::resource_id;
use cove_model::spec::{SubnetSpec, TenantSpec, VpcSpec};

use super::error::Ec2Error;
use super::params::{Filter, Params};
use super::tags::{Tags, specified, tag_filter, tag_set};
use super::view::{SubnetView, TenantView, VpcView};
use super::xml::Xml;

/// A Secure Compute network of the tenant, as the EC2 API sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRef {
    /// `net-…` (its VPC's name in the desired spec).
    pub id: String,
    /// Its name.
    pub name: String,
}

/// What an action works on.
pub struct Ctx<'a> {
    /// The tenant's account id.
    pub account_id: &'a str,
    /// The region the request was signed for.
    pub region: &'a str,
    /// What the tenant has now.
    pub view: &'a TenantView,
    /// The validated desired network (the tenant's part is read through `view`
    /// and the group helpers).
    pub net: &'a cove_model::model::Network,
    /// The tenant's spec now.
    pub spec: &'a TenantSpec,
    /// The tenant's networks.
    pub networks: &'a [NetworkRef],
    /// The tenant's name (ids are derived from `tenant/vpc[/subnet]`).
    pub tenant: &'a str,
    /// Where each VPC of `view` (by its name in the desired spec) is declared or
    /// extended in `spec` ([`spec_index`]).
    pub spec_at: &'a std::collections::HashMap<String, usize>,
    /// The control plane's state (the tenant's Elastic IPs).
    pub state: &'a cove_control::ControlState,
    /// The tenant's id.
    pub tenant_id: &'a cove_control::TenantId,
    /// The time and fresh random bytes of this call (new Elastic IPs' ids).
    pub env: &'a cove_control::Env,
    /// The tenant's Elastic IPs by address, made on first use.
    pub eips: std::cell::OnceCell<
        std::collections::HashMap<std::net::Ipv4Addr, &'a cove_control::ElasticIp>,
    >,
    /// A fresh name for an object made here (`ec2-` and 12 hex digits): its id is
    /// derived from its path as every id of an object without an imported one is,
    /// so no call can claim another's id.
    pub new_name: &'a dyn Fn() -> String,
}

/// What an action did.
#[derive(Debug, Clone, PartialEq)]
pub enum Done {
    /// Read only: the answer's body.
    Read(Xml),
    /// A change: the answer's body and the tenant's new spec.
    Write(Xml, Box<TenantSpec>),
    /// A change of control-plane documents (Elastic IPs): the answer's body, the
    /// tenant's new spec if it changes too, and the documents.
    Control(Xml, Option<Box<TenantSpec>>, Vec<cove_control::Change>),
}

/// The zones of `region` (`<region>a` … `<region>f`).
pub fn zones(region: &str) -> Vec<String> {
    ["a", "b", "c", "d", "e", "f"]
        .iter()
        .map(|z| format!("{region}{z}"))
        .collect()
}

/// A page of `items` after `token`, at most `max`; the next page's token.
pub(crate) fn page<T: Clone>(
    items: &[T],
    max: Option<usize>,
    token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), Ec2Error> {
    let start = match token {
        None => 0,
        Some(t) => t
            .strip_prefix("cove-page-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| {
                Ec2Error::new(
                    "InvalidPaginationToken",
                    format!("The pagination token '{t}' is invalid."),
                )
            })?,
    };
    let end = max.map_or(items.len(), |m| (start + m).min(items.len()));
    let next = (end < items.len()).then(|| format!("cove-page-{end}"));
    Ok((items[start..end].to_vec(), next))
}

/// Whether `values` of an object match every filter; an unknown filter name is
/// refused.
pub(crate) fn matches(
    filters: &[Filter],
    known: &[&str],
    value_of: impl Fn(&str) -> Vec<String>,
) -> Result<bool, Ec2Error> {
    for f in filters {
        let tag = f.name.starts_with("tag:") || f.name == "tag-key";
        if !tag && !known.contains(&f.name.as_str()) {
            return Err(Ec2Error::invalid_parameter(format!(
                "The filter '{}' is invalid",
                f.name
            )));
        }
        let have = value_of(&f.name);
        if !f.values.iter().any(|want| have.iter().any(|h| h == want)) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn vpc_xml(x: &mut Xml, v: &VpcView, account: &str, tags: &Tags) {
    x.text("vpcId", &v.id)
        .text("ownerId", account)
        .text("state", "available")
        .text("cidrBlock", v.cidrs.first().map_or("", String::as_str))
        .set("cidrBlockAssociationSet", &v.cidrs, |x, c| {
            x.text("cidrBlock", c)
                .text(
                    "associationId",
                    &super::vpc_settings::cidr_association_id(&v.id, c),
                )
                .node("cidrBlockState", |x| {
                    x.text("state", "associated");
                });
        })
        .text("dhcpOptionsId", "default")
        .text("instanceTenancy", "default")
        .text("isDefault", "false");
    tag_set(x, tags);
}

fn subnet_xml(x: &mut Xml, s: &SubnetView, account: &str, region: &str, tags: &Tags) {
    x.text("subnetId", &s.id)
        .text(
            "subnetArn",
            &format!("arn:aws:ec2:{region}:{account}:subnet/{}", s.id),
        )
        .text("state", "available")
        .text("ownerId", account)
        .text("vpcId", &s.vpc_id)
        .text("cidrBlock", &s.cidr)
        .text("availableIpAddressCount", &s.available.to_string())
        .text("availabilityZone", &s.az)
        .text("defaultForAz", "false")
        .text("mapPublicIpOnLaunch", "false")
        .text("assignIpv6AddressOnCreation", "false");
    tag_set(x, tags);
}

pub(crate) fn find_vpc<'a>(ctx: &'a Ctx<'_>, id: &str) -> Result<&'a VpcView, Ec2Error> {
    ctx.view
        .vpcs
        .iter()
        .find(|v| v.id == id)
        .ok_or_else(|| Ec2Error::not_found("InvalidVpcID.NotFound", "vpc", id))
}

/// The tenant's subnet `id` (`InvalidSubnetID.NotFound` otherwise).
pub(crate) fn find_subnet<'a>(ctx: &'a Ctx<'_>, id: &str) -> Result<&'a SubnetView, Ec2Error> {
    ctx.view
        .subnets
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| Ec2Error::not_found("InvalidSubnetID.NotFound", "subnet", id))
}

/// The spec's entry of subnet `s` (a network's subnet is written again with its
/// name, block and zone, which sets its association).
pub(crate) fn subnet_entry<'s>(
    ctx: &Ctx<'_>,
    spec: &'s mut TenantSpec,
    s: &SubnetView,
) -> Result<&'s mut SubnetSpec, Ec2Error> {
    let vpc = find_vpc(ctx, &s.vpc_id)?;
    let at = spec_vpc_or_add(ctx, spec, vpc);
    let subnets = &mut spec.vpcs[at].subnets;
    let i = match subnets.iter().position(|x| x.name == s.name) {
        Some(i) => i,
        None => {
            subnets.push(SubnetSpec {
                name: s.name.clone(),
                cidr: s.cidr.clone(),
                az: s.az.clone(),
                ..SubnetSpec::default()
            });
            subnets.len() - 1
        }
    };
    Ok(&mut subnets[i])
}

/// Where each VPC of `view` is in `spec`: the first entry that declares it (by
/// its name in the desired spec) or extends it (a network's VPC, by the
/// network's name or the VPC's id). Built once per call, so that lookups are not
/// quadratic in the number of VPCs.
pub fn spec_index(
    view: &TenantView,
    spec: &TenantSpec,
    networks: &[NetworkRef],
) -> std::collections::HashMap<String, usize> {
    use std::collections::HashMap;
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    for (i, v) in spec.vpcs.iter().enumerate() {
        by_name.entry(v.name.as_str()).or_insert(i);
        if let Some(id) = v.id.as_deref() {
            by_id.entry(id).or_insert(i);
        }
    }
    let nets: HashMap<&str, &NetworkRef> = networks.iter().map(|n| (n.id.as_str(), n)).collect();
    let mut out = HashMap::new();
    for v in &view.vpcs {
        let mut at = by_name.get(v.name.as_str()).copied();
        if let Some(n) = nets.get(v.name.as_str()) {
            for i in [
                by_name.get(n.name.as_str()).copied(),
                by_id.get(v.id.as_str()).copied(),
            ]
            .into_iter()
            .flatten()
            {
                at = Some(at.map_or(i, |a| a.min(i)));
            }
        }
        if let Some(i) = at {
            out.insert(v.name.clone(), i);
        }
    }
    out
}

/// The index of the spec entry that declares (or extends) `vpc`.
pub(crate) fn spec_vpc(ctx: &Ctx<'_>, vpc: &VpcView) -> Option<usize> {
    ctx.spec_at.get(&vpc.name).copied()
}

/// The tags of `vpc`.
pub(crate) fn vpc_tags(ctx: &Ctx<'_>, vpc: &VpcView) -> Tags {
    spec_vpc(ctx, vpc).map_or_else(Tags::new, |i| ctx.spec.vpcs[i].tags.clone())
}

/// The tags of `subnet`.
pub(crate) fn subnet_tags(ctx: &Ctx<'_>, subnet: &SubnetView) -> Tags {
    ctx.spec_at
        .get(&subnet.vpc_name)
        .and_then(|&i| {
            ctx.spec.vpcs[i]
                .subnets
                .iter()
                .find(|s| s.name == subnet.name)
        })
        .map_or_else(Tags::new, |s| s.tags.clone())
}

/// The index of the spec entry of `vpc` in `spec`, added (empty: it extends a
/// network's VPC) when the spec has none yet.
pub(crate) fn spec_vpc_or_add(ctx: &Ctx<'_>, spec: &mut TenantSpec, vpc: &VpcView) -> usize {
    // An entry this call already added (tags on two resources of one VPC).
    let added = || {
        spec.vpcs
            .iter()
            .skip(ctx.spec.vpcs.len())
            .position(|v| v.name == vpc.name)
            .map(|i| i + ctx.spec.vpcs.len())
    };
    spec_vpc(ctx, vpc).or_else(added).unwrap_or_else(|| {
        spec.vpcs.push(VpcSpec {
            name: vpc.name.clone(),
            ..VpcSpec::default()
        });
        spec.vpcs.len() - 1
    })
}

/// `DescribeVpcs`.
pub fn describe_vpcs(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let ids = p.list("VpcId");
    for id in &ids {
        find_vpc(ctx, id)?;
    }
    let filters = p.filters()?;
    let known = [
        "vpc-id",
        "cidr",
        "cidr-block-association.cidr-block",
        "state",
        "is-default",
        "owner-id",
        "dhcp-options-id",
    ];
    let mut found = Vec::new();
    for v in &ctx.view.vpcs {
        if !ids.is_empty() && !ids.contains(&v.id) {
            continue;
        }
        let tags = vpc_tags(ctx, v);
        let ok = matches(&filters, &known, |name| match name {
            n if tag_filter(n, &tags).is_some() => tag_filter(n, &tags).unwrap_or_default(),
            "vpc-id" => vec![v.id.clone()],
            "cidr" => v.cidrs.first().cloned().into_iter().collect(),
            "cidr-block-association.cidr-block" => v.cidrs.clone(),
            "state" => vec!["available".to_owned()],
            "is-default" => vec!["false".to_owned()],
            "owner-id" => vec![ctx.account_id.to_owned()],
            _ => vec!["default".to_owned()],
        })?;
        if ok {
            found.push(v);
        }
    }
    let (items, next) = page(&found, p.max_results(5, 1000)?, p.get("NextToken"))?;
    let mut x = Xml::default();
    x.set("vpcSet", &items, |x, v| {
        vpc_xml(x, v, ctx.account_id, &vpc_tags(ctx, v));
    });
    if let Some(n) = next {
        x.text("nextToken", &n);
    }
    Ok(Done::Read(x))
}

/// `CreateVpc`.
pub fn create_vpc(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let cidr = p.required("CidrBlock")?;
    let net: ipnet::Ipv4Net = cidr.parse().map_err(|_| {
        Ec2Error::invalid_parameter(format!(
            "Value ({cidr}) for parameter cidrBlock is invalid. This is not a valid CIDR block."
        ))
    })?;
    if net.trunc() != net {
        return Err(Ec2Error::invalid_parameter(format!(
            "Value ({cidr}) for parameter cidrBlock is invalid. This is not a valid CIDR block."
        )));
    }
    let tags = specified(p, "vpc")?;
    let name = (ctx.new_name)();
    let id = resource_id("vpc", None, &format!("{}/{name}", ctx.tenant));
    let mut spec = ctx.spec.clone();
    spec.vpcs.push(VpcSpec {
        name: name.clone(),
        cidr: net.to_string(),
        tags: tags.clone(),
        ..VpcSpec::default()
    });
    let view = VpcView {
        id,
        name,
        cidrs: vec![net.to_string()],
        dns_support: true,
        dns_hostnames: false,
    };
    let mut x = Xml::default();
    x.node("vpc", |x| vpc_xml(x, &view, ctx.account_id, &tags));
    Ok(Done::Write(x, Box::new(spec)))
}

/// `DeleteVpc`.
pub fn delete_vpc(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let id = p.required("VpcId")?;
    let vpc = find_vpc(ctx, id)?;
    if ctx.networks.iter().any(|n| n.id == vpc.name) {
        return Err(Ec2Error::new(
            "OperationNotPermitted",
            format!("The vpc '{id}' is a Secure Compute network's; delete the network instead."),
        ));
    }
    if ctx.view.subnets.iter().any(|s| s.vpc_id == vpc.id) {
        return Err(Ec2Error::new(
            "DependencyViolation",
            format!("The vpc '{id}' has dependencies and cannot be deleted."),
        ));
    }
    let at = spec_vpc(ctx, vpc)
        .ok_or_else(|| Ec2Error::not_found("InvalidVpcID.NotFound", "vpc", id))?;
    let mut spec = ctx.spec.clone();
    let removed = spec.vpcs.remove(at);
    let depends = !removed.enis.is_empty()
        || !removed.functions.is_empty()
        || !removed.endpoints.is_empty()
        || removed.internet_gateway.is_some()
        || !removed.nat_gateways.is_empty()
        || removed.security_groups.iter().any(|g| g.name != "default");
    if depends {
        return Err(Ec2Error::new(
            "DependencyViolation",
            format!("The vpc '{id}' has dependencies and cannot be deleted."),
        ));
    }
    let mut x = Xml::default();
    x.text("return", "true");
    Ok(Done::Write(x, Box::new(spec)))
}

/// `DescribeSubnets`.
pub fn describe_subnets(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let ids = p.list("SubnetId");
    for id in &ids {
        if !ctx.view.subnets.iter().any(|s| &s.id == id) {
            return Err(Ec2Error::not_found(
                "InvalidSubnetID.NotFound",
                "subnet",
                id,
            ));
        }
    }
    let filters = p.filters()?;
    let known = [
        "subnet-id",
        "vpc-id",
        "cidr-block",
        "cidr",
        "cidrBlock",
        "availability-zone",
        "availabilityZone",
        "state",
        "default-for-az",
        "defaultForAz",
        "owner-id",
    ];
    let mut found = Vec::new();
    for s in &ctx.view.subnets {
        if !ids.is_empty() && !ids.contains(&s.id) {
            continue;
        }
        let tags = subnet_tags(ctx, s);
        let ok = matches(&filters, &known, |name| match name {
            n if tag_filter(n, &tags).is_some() => tag_filter(n, &tags).unwrap_or_default(),
            "subnet-id" => vec![s.id.clone()],
            "vpc-id" => vec![s.vpc_id.clone()],
            "cidr-block" | "cidr" | "cidrBlock" => vec![s.cidr.clone()],
            "availability-zone" | "availabilityZone" => vec![s.az.clone()],
            "state" => vec!["available".to_owned()],
            "owner-id" => vec![ctx.account_id.to_owned()],
            _ => vec!["false".to_owned()],
        })?;
        if ok {
            found.push(s);
        }
    }
    let (items, next) = page(&found, p.max_results(5, 1000)?, p.get("NextToken"))?;
    let mut x = Xml::default();
    x.set("subnetSet", &items, |x, s| {
        subnet_xml(x, s, ctx.account_id, ctx.region, &subnet_tags(ctx, s));
    });
    if let Some(n) = next {
        x.text("nextToken", &n);
    }
    Ok(Done::Read(x))
}

/// `CreateSubnet`.
pub fn create_subnet(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let vpc_id = p.required("VpcId")?;
    let cidr = p.required("CidrBlock")?;
    let vpc = find_vpc(ctx, vpc_id)?;
    let net: ipnet::Ipv4Net = cidr
        .parse()
        .ok()
        .filter(|n: &ipnet::Ipv4Net| n.trunc() == *n)
        .ok_or_else(|| {
            Ec2Error::invalid_parameter(format!(
                "Value ({cidr}) for parameter cidrBlock is invalid. This is not a valid CIDR block."
            ))
        })?;
    let zones = zones(ctx.region);
    let az = match p.get("AvailabilityZone") {
        None => zones[0].clone(),
        Some(z) if zones.iter().any(|x| x == z) => z.to_owned(),
        Some(z) => {
            return Err(Ec2Error::invalid_parameter(format!(
                "Value ({z}) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: {}.",
                zones.join(", ")
            )));
        }
    };
    let tags = specified(p, "subnet")?;
    let name = (ctx.new_name)();
    let id = resource_id(
        "subnet",
        None,
        &format!("{}/{}/{name}", ctx.tenant, vpc.name),
    );
    let mut spec = ctx.spec.clone();
    let at = spec_vpc_or_add(ctx, &mut spec, vpc);
    spec.vpcs[at].subnets.push(SubnetSpec {
        name: name.clone(),
        cidr: net.to_string(),
        az: az.clone(),
        tags: tags.clone(),
        ..SubnetSpec::default()
    });
    let view = SubnetView {
        id,
        name,
        vpc_id: vpc.id.clone(),
        vpc_name: vpc.name.clone(),
        cidr: net.to_string(),
        az,
        available: (1u64 << (32 - u32::from(net.prefix_len()))).saturating_sub(5),
        index: None,
    };
    let mut x = Xml::default();
    x.node("subnet", |x| {
        subnet_xml(x, &view, ctx.account_id, ctx.region, &tags);
    });
    Ok(Done::Write(x, Box::new(spec)))
}

/// `DeleteSubnet`.
pub fn delete_subnet(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let id = p.required("SubnetId")?;
    let s = ctx
        .view
        .subnets
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| Ec2Error::not_found("InvalidSubnetID.NotFound", "subnet", id))?;
    let vpc = find_vpc(ctx, &s.vpc_id)?;
    let at = spec_vpc(ctx, vpc);
    let sub_at = at.and_then(|at| {
        ctx.spec.vpcs[at]
            .subnets
            .iter()
            .position(|x| x.name == s.name)
            .map(|i| (at, i))
    });
    let Some((at, i)) = sub_at else {
        return Err(Ec2Error::new(
            "OperationNotPermitted",
            format!(
                "The subnet '{id}' is part of a Secure Compute network's layout; delete the network instead."
            ),
        ));
    };
    let v = &ctx.spec.vpcs[at];
    let used = v.enis.iter().any(|e| e.subnet == s.name)
        || v.functions.iter().any(|f| f.subnets.contains(&s.name))
        || v.nat_gateways.iter().any(|n| n.subnet == s.name)
        || v.endpoints.iter().any(|e| e.subnets.contains(&s.name));
    if used {
        return Err(Ec2Error::new(
            "DependencyViolation",
            format!("The subnet '{id}' has dependencies and cannot be deleted."),
        ));
    }
    let mut spec = ctx.spec.clone();
    spec.vpcs[at].subnets.remove(i);
    let mut x = Xml::default();
    x.text("return", "true");
    Ok(Done::Write(x, Box::new(spec)))
}

/// `DescribeAvailabilityZones`.
pub fn describe_availability_zones(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let names = p.list("ZoneName");
    let filters = p.filters()?;
    let known = ["zone-name", "state", "region-name", "zone-type", "zone-id"];
    let mut found = Vec::new();
    for (i, z) in zones(ctx.region).into_iter().enumerate() {
        let zone_id = format!("{}-az{}", short_region(ctx.region), i + 1);
        if !names.is_empty() && !names.contains(&z) {
            continue;
        }
        let ok = matches(&filters, &known, |name| match name {
            "zone-name" => vec![z.clone()],
            "state" => vec!["available".to_owned()],
            "region-name" => vec![ctx.region.to_owned()],
            "zone-type" => vec!["availability-zone".to_owned()],
            _ => vec![zone_id.clone()],
        })?;
        if ok {
            found.push((z, zone_id));
        }
    }
    for n in &names {
        if !found.iter().any(|(z, _)| z == n) && !zones(ctx.region).contains(n) {
            return Err(Ec2Error::invalid_parameter(format!(
                "The availability zone '{n}' is not in region {}",
                ctx.region
            )));
        }
    }
    let mut x = Xml::default();
    x.set("availabilityZoneInfo", &found, |x, (z, id)| {
        x.text("zoneName", z)
            .text("zoneState", "available")
            .text("regionName", ctx.region)
            .text("zoneId", id)
            .text("zoneType", "availability-zone")
            .text("optInStatus", "opt-in-not-required")
            .text("groupName", ctx.region)
            .text("networkBorderGroup", ctx.region)
            .node("messageSet", |_| {});
    });
    Ok(Done::Read(x))
}

/// `us-east-1` → `use1` (zone ids' prefix).
fn short_region(region: &str) -> String {
    let parts: Vec<&str> = region.split('-').collect();
    match parts.as_slice() {
        [a, b, n] => format!("{a}{}{n}", b.chars().next().unwrap_or('x')),
        _ => region.to_owned(),
    }
}
