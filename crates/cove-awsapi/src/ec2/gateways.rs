//! EC2's internet gateways over a tenant's desired spec (pure): create, attach,
//! detach, delete, describe. A detached gateway is kept in the tenant's
//! `internet_gateways`; an attached one is its VPC's `internet_gateway`. A gateway
//! made here has an id of its own (derived from the tenant and its name), so it
//! keeps it when it moves between VPCs; a network's gateway is the network's.

use cove_model::ids::resource_id;
use cove_model::model::Network;
use cove_model::spec::InternetGatewaySpec;

use super::error::Ec2Error;
use super::params::Params;
use super::route_tables::vpc_view;
use super::tags::{specified, tag_set};
use super::vpcs::{Ctx, Done, find_vpc, matches, page, spec_vpc, spec_vpc_or_add};
use super::xml::Xml;

/// The id of gateway `name` of `tenant` (attached to the VPC at `vpc_path`,
/// `tenant/vpc`, if any): imported, or derived from `tenant/name` for a gateway
/// made through EC2 (`ec2-…`), or from its VPC's path and name.
pub fn igw_id(tenant: &str, vpc_path: Option<&str>, name: &str, imported: Option<&str>) -> String {
    match vpc_path {
        Some(path) if !name.starts_with("ec2-") => {
            resource_id("igw", imported, &format!("{path}/{name}"))
        }
        _ => resource_id("igw", imported, &format!("{tenant}/{name}")),
    }
}

/// Gateway `i` of the model's id.
pub fn model_igw_id(net: &Network, i: usize) -> String {
    let g = &net.internet_gateways[i];
    let v = &net.vpcs[g.vpc.index()];
    igw_id(
        &net.tenants[v.tenant.index()].name,
        Some(&net.vpc_path(g.vpc)),
        &g.name,
        g.aws_id.as_deref(),
    )
}

/// One gateway of the tenant: id, name, the VPC it is attached to (EC2 id and
/// name in the desired spec).
struct Gateway {
    id: String,
    name: String,
    vpc: Option<(String, String)>,
}

fn all(ctx: &Ctx<'_>) -> Vec<Gateway> {
    let net = ctx.net;
    let mut out: Vec<Gateway> = net
        .internet_gateways
        .iter()
        .enumerate()
        .filter_map(|(i, g)| {
            let vpc = vpc_view(ctx, g.vpc)?;
            Some(Gateway {
                id: model_igw_id(net, i),
                name: g.name.clone(),
                vpc: Some((vpc.id.clone(), vpc.name.clone())),
            })
        })
        .collect();
    out.extend(ctx.spec.internet_gateways.iter().map(|g| Gateway {
        id: igw_id(ctx.tenant, None, &g.name, None),
        name: g.name.clone(),
        vpc: None,
    }));
    out
}

fn find(ctx: &Ctx<'_>, id: &str) -> Result<Gateway, Ec2Error> {
    all(ctx).into_iter().find(|g| g.id == id).ok_or_else(|| {
        Ec2Error::new(
            "InvalidInternetGatewayID.NotFound",
            format!("The internetGateway ID '{id}' does not exist"),
        )
    })
}

fn gateway_xml(x: &mut Xml, g: &Gateway, account: &str, tags: &super::tags::Tags) {
    x.text("internetGatewayId", &g.id).text("ownerId", account);
    let attached: Vec<&String> = g.vpc.iter().map(|(id, _)| id).collect();
    x.set("attachmentSet", &attached, |x, v| {
        x.text("vpcId", v).text("state", "available");
    });
    tag_set(x, tags);
}

/// Every gateway of the tenant with its tags (`DescribeTags`).
pub(crate) fn all_tags(ctx: &Ctx<'_>) -> Vec<(String, super::tags::Tags)> {
    all(ctx)
        .iter()
        .map(|g| (g.id.clone(), tags_of(ctx, g)))
        .collect()
}

/// The spec's tag map of gateway `id` (a network's gateway carries none).
pub(crate) fn tags_mut<'s>(
    ctx: &Ctx<'_>,
    spec: &'s mut cove_model::spec::TenantSpec,
    id: &str,
) -> Result<&'s mut super::tags::Tags, Ec2Error> {
    let g = find(ctx, id)?;
    let network = || {
        Ec2Error::new(
            "OperationNotPermitted",
            format!(
                "The internet gateway '{id}' is part of a Secure Compute network's layout and carries no tags."
            ),
        )
    };
    match &g.vpc {
        None => spec
            .internet_gateways
            .iter_mut()
            .find(|x| x.name == g.name)
            .map(|x| &mut x.tags)
            .ok_or_else(network),
        Some((vpc_id, _)) => {
            let vpc = find_vpc(ctx, vpc_id)?;
            let at = spec_vpc(ctx, vpc).ok_or_else(network)?;
            spec.vpcs[at]
                .internet_gateway
                .as_mut()
                .filter(|x| x.name == g.name)
                .map(|x| &mut x.tags)
                .ok_or_else(network)
        }
    }
}

/// `DescribeInternetGateways`.
pub fn describe(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let ids = p.list("InternetGatewayId");
    let filters = p.filters()?;
    let known = [
        "internet-gateway-id",
        "attachment.vpc-id",
        "attachment.state",
        "owner-id",
    ];
    let gateways = all(ctx);
    for id in &ids {
        if !gateways.iter().any(|g| &g.id == id) {
            return Err(Ec2Error::new(
                "InvalidInternetGatewayID.NotFound",
                format!("The internetGateway ID '{id}' does not exist"),
            ));
        }
    }
    let mut found = Vec::new();
    for g in &gateways {
        if !ids.is_empty() && !ids.contains(&g.id) {
            continue;
        }
        let tags = tags_of(ctx, g);
        let ok = matches(&filters, &known, |name| match name {
            n if super::tags::tag_filter(n, &tags).is_some() => {
                super::tags::tag_filter(n, &tags).unwrap_or_default()
            }
            "internet-gateway-id" => vec![g.id.clone()],
            "attachment.vpc-id" => g.vpc.iter().map(|v| v.0.clone()).collect(),
            "attachment.state" => g.vpc.iter().map(|_| "available".to_owned()).collect(),
            _ => vec![ctx.account_id.to_owned()],
        })?;
        if ok {
            found.push((g, tags));
        }
    }
    let (items, next) = page(&found, p.max_results(5, 1000)?, p.get("NextToken"))?;
    let mut x = Xml::default();
    x.set("internetGatewaySet", &items, |x, (g, tags)| {
        gateway_xml(x, g, ctx.account_id, tags);
    });
    if let Some(n) = next {
        x.text("nextToken", &n);
    }
    Ok(Done::Read(x))
}

/// A gateway's tags (a network's gateway has none).
fn tags_of(ctx: &Ctx<'_>, g: &Gateway) -> super::tags::Tags {
    match &g.vpc {
        None => ctx
            .spec
            .internet_gateways
            .iter()
            .find(|x| x.name == g.name)
            .map(|x| x.tags.clone())
            .unwrap_or_default(),
        Some((_, vpc_name)) => ctx
            .view
            .vpcs
            .iter()
            .find(|v| &v.name == vpc_name)
            .and_then(|v| spec_vpc(ctx, v))
            .and_then(|at| ctx.spec.vpcs[at].internet_gateway.as_ref())
            .filter(|x| x.name == g.name)
            .map(|x| x.tags.clone())
            .unwrap_or_default(),
    }
}

/// `CreateInternetGateway`.
pub fn create(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let tags = specified(p, "internet-gateway")?;
    let name = (ctx.new_name)();
    let mut spec = ctx.spec.clone();
    spec.internet_gateways.push(InternetGatewaySpec {
        name: name.clone(),
        tags: tags.clone(),
        ..InternetGatewaySpec::default()
    });
    let g = Gateway {
        id: igw_id(ctx.tenant, None, &name, None),
        name,
        vpc: None,
    };
    let mut x = Xml::default();
    x.node("internetGateway", |x| {
        gateway_xml(x, &g, ctx.account_id, &tags)
    });
    Ok(Done::Write(x, Box::new(spec)))
}

/// `AttachInternetGateway`.
pub fn attach(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let g = find(ctx, p.required("InternetGatewayId")?)?;
    let vpc = find_vpc(ctx, p.required("VpcId")?)?;
    if let Some((attached, _)) = &g.vpc {
        return Err(Ec2Error::new(
            "Resource.AlreadyAssociated",
            format!(
                "resource {} is already attached to network {attached}",
                g.id
            ),
        ));
    }
    if let Some(other) = all(ctx)
        .iter()
        .find(|x| x.vpc.as_ref().is_some_and(|v| v.0 == vpc.id))
    {
        return Err(Ec2Error::new(
            "Resource.AlreadyAssociated",
            format!(
                "resource {} is already attached to network gateway {}",
                vpc.id, other.id
            ),
        ));
    }
    let mut spec = ctx.spec.clone();
    let i = spec
        .internet_gateways
        .iter()
        .position(|x| x.name == g.name)
        .ok_or_else(|| Ec2Error::new("InternalError", "the detached gateway is gone"))?;
    let gw = spec.internet_gateways.remove(i);
    let at = spec_vpc_or_add(ctx, &mut spec, vpc);
    spec.vpcs[at].internet_gateway = Some(gw);
    let mut x = Xml::default();
    x.text("return", "true");
    Ok(Done::Write(x, Box::new(spec)))
}

/// `DetachInternetGateway`.
pub fn detach(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let g = find(ctx, p.required("InternetGatewayId")?)?;
    let vpc = find_vpc(ctx, p.required("VpcId")?)?;
    if g.vpc.as_ref().is_none_or(|v| v.0 != vpc.id) {
        return Err(Ec2Error::new(
            "Gateway.NotAttached",
            format!("resource {} is not attached to network {}", g.id, vpc.id),
        ));
    }
    let own = spec_vpc(ctx, vpc).filter(|&at| {
        ctx.spec.vpcs[at]
            .internet_gateway
            .as_ref()
            .is_some_and(|x| x.name == g.name)
    });
    let Some(at) = own else {
        return Err(Ec2Error::new(
            "OperationNotPermitted",
            format!(
                "The internet gateway '{}' is part of a Secure Compute network's layout; delete the network instead.",
                g.id
            ),
        ));
    };
    let v = &ctx.spec.vpcs[at];
    if let Some(eni) = v.enis.iter().find(|e| e.public_ip.is_some()) {
        return Err(Ec2Error::new(
            "DependencyViolation",
            format!(
                "Network {} has some mapped public address(es) (ENI {}). Please unmap those public address(es) before detaching the gateway.",
                vpc.id, eni.name
            ),
        ));
    }
    let routed: Vec<&str> = v
        .route_tables
        .iter()
        .filter(|t| {
            t.routes
                .iter()
                .any(|r| r.internet_gateway.as_deref() == Some(&g.name))
        })
        .map(|t| t.name.as_str())
        .collect();
    if !routed.is_empty() {
        return Err(Ec2Error::new(
            "DependencyViolation",
            format!(
                "The internet gateway '{}' is the target of routes in route table(s) {}; delete those routes first.",
                g.id,
                routed.join(", ")
            ),
        ));
    }
    let mut spec = ctx.spec.clone();
    if let Some(gw) = spec.vpcs[at].internet_gateway.take() {
        spec.internet_gateways.push(gw);
    }
    let mut x = Xml::default();
    x.text("return", "true");
    Ok(Done::Write(x, Box::new(spec)))
}

/// `DeleteInternetGateway`.
pub fn delete(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let g = find(ctx, p.required("InternetGatewayId")?)?;
    if g.vpc.is_some() {
        return Err(Ec2Error::new(
            "DependencyViolation",
            format!(
                "The internetGateway '{}' has dependencies and cannot be deleted.",
                g.id
            ),
        ));
    }
    let mut spec = ctx.spec.clone();
    spec.internet_gateways.retain(|x| x.name != g.name);
    let mut x = Xml::default();
    x.text("return", "true");
    Ok(Done::Write(x, Box::new(spec)))
}
