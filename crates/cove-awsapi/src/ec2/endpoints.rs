//! EC2's VPC endpoints and managed prefix lists over a tenant's desired spec
//! (pure). A gateway endpoint routes its service's prefix list: the tenant's
//! prefix list named like the service (`com.amazonaws.us-east-1.s3`), made with
//! `CreateManagedPrefixList` or in the spec. An interface endpoint gets an ENI in
//! each subnet; with private DNS, `<service>.<region>.amazonaws.com` resolves to
//! them in the VPC.

use cove_model::ids::{endpoint_id, resource_id};
use cove_model::model::{EndpointKind, Network};
use cove_model::spec::{EndpointSpec, PrefixListSpec, TenantSpec};

use super::error::Ec2Error;
use super::interfaces::eni_id;
use super::params::Params;
use super::route_tables::{find_table, vpc_view};
use super::rules::{group_id, prefix_list_id};
use super::tags::{Tags, specified, tag_filter, tag_set};
use super::vpcs::{Ctx, Done, find_vpc, matches, page, spec_vpc, spec_vpc_or_add};
use super::xml::Xml;

/// The tenant's prefix lists: (model index, id).
fn prefix_lists(ctx: &Ctx<'_>) -> Vec<(usize, String)> {
    let net = ctx.net;
    net.prefix_lists
        .iter()
        .enumerate()
        .filter(|(_, l)| net.tenants[l.tenant.index()].name == ctx.tenant)
        .map(|(i, _)| {
            (
                i,
                prefix_list_id(
                    net,
                    cove_model::model::PrefixListId(u32::try_from(i).unwrap_or(u32::MAX)),
                ),
            )
        })
        .collect()
}

/// The model index of the tenant's prefix list `id`.
fn find_prefix_list(ctx: &Ctx<'_>, id: &str) -> Result<usize, Ec2Error> {
    prefix_lists(ctx)
        .into_iter()
        .find(|(_, x)| x == id)
        .map(|(i, _)| i)
        .ok_or_else(|| {
            Ec2Error::new(
                "InvalidPrefixListID.NotFound",
                format!("The prefix list ID '{id}' does not exist"),
            )
        })
}

/// `CreateManagedPrefixList`.
pub fn create_prefix_list(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let name = p.required("PrefixListName")?;
    if p.get("AddressFamily").is_some_and(|f| f != "IPv4") {
        return Err(Ec2Error::invalid_parameter(
            "cove's prefix lists hold IPv4 blocks: AddressFamily must be IPv4".to_owned(),
        ));
    }
    let mut cidrs = Vec::new();
    for n in 1.. {
        let Some(c) = p.get(&format!("Entry.{n}.Cidr")) else {
            break;
        };
        let block: ipnet::Ipv4Net = c.parse().map_err(|_| {
            Ec2Error::invalid_parameter(format!(
                "Value ({c}) for Entry.{n}.Cidr is not a CIDR block."
            ))
        })?;
        cidrs.push(block.trunc().to_string());
    }
    if let Some(max) = p.get("MaxEntries") {
        let max: usize = max.parse().map_err(|_| {
            Ec2Error::invalid_parameter(format!("Value ({max}) for MaxEntries is invalid."))
        })?;
        if cidrs.len() > max {
            return Err(Ec2Error::new(
                "PrefixListMaxEntriesExceeded",
                format!(
                    "The prefix list has {} entries, more than MaxEntries {max}.",
                    cidrs.len()
                ),
            ));
        }
    }
    if ctx.spec.prefix_lists.iter().any(|l| l.name == name) {
        return Err(Ec2Error::new(
            "InvalidParameterValue",
            format!("A prefix list named '{name}' already exists."),
        ));
    }
    let tags = specified(p, "prefix-list")?;
    let mut spec = ctx.spec.clone();
    spec.prefix_lists.push(PrefixListSpec {
        name: name.to_owned(),
        id: None,
        cidrs,
        tags: tags.clone(),
    });
    let id = resource_id("pl", None, &format!("{}/{name}", ctx.tenant));
    let mut x = Xml::default();
    x.node("prefixList", |x| {
        x.text("prefixListId", &id)
            .text("addressFamily", "IPv4")
            .text("state", "create-complete")
            .text("prefixListName", name)
            .text("ownerId", ctx.account_id)
            .text("version", "1");
        tag_set(x, &tags);
    });
    Ok(Done::Write(x, Box::new(spec)))
}

/// `DescribeManagedPrefixLists`.
pub fn describe_prefix_lists(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let net = ctx.net;
    let ids = p.list("PrefixListId");
    let filters = p.filters()?;
    let known = ["prefix-list-id", "prefix-list-name", "owner-id"];
    let mut found = Vec::new();
    for (i, id) in prefix_lists(ctx) {
        let l = &net.prefix_lists[i];
        if !ids.is_empty() && !ids.contains(&id) {
            continue;
        }
        let tags = prefix_list_tags(ctx, i);
        let ok = matches(&filters, &known, |name| match name {
            n if tag_filter(n, &tags).is_some() => tag_filter(n, &tags).unwrap_or_default(),
            "prefix-list-id" => vec![id.clone()],
            "prefix-list-name" => vec![l.name.clone()],
            _ => vec![ctx.account_id.to_owned()],
        })?;
        if ok {
            found.push((i, id));
        }
    }
    for id in &ids {
        if !found.iter().any(|f| &f.1 == id) {
            return Err(Ec2Error::new(
                "InvalidPrefixListID.NotFound",
                format!("The prefix list ID '{id}' does not exist"),
            ));
        }
    }
    let (items, next) = page(&found, p.max_results(1, 100)?, p.get("NextToken"))?;
    let mut x = Xml::default();
    x.set("prefixListSet", &items, |x, (i, id)| {
        let l = &net.prefix_lists[*i];
        x.text("prefixListId", id)
            .text("addressFamily", "IPv4")
            .text("state", "create-complete")
            .text("prefixListName", &l.name)
            .text("maxEntries", &l.cidrs.len().max(1).to_string())
            .text("version", "1")
            .text("ownerId", ctx.account_id);
        tag_set(x, &prefix_list_tags(ctx, *i));
    });
    if let Some(n) = next {
        x.text("nextToken", &n);
    }
    Ok(Done::Read(x))
}

/// `GetManagedPrefixListEntries`.
pub fn prefix_list_entries(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let id = p.required("PrefixListId")?;
    let i = find_prefix_list(ctx, id)?;
    let cidrs: Vec<String> = ctx.net.prefix_lists[i]
        .cidrs
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut x = Xml::default();
    x.set("entrySet", &cidrs, |x, c| {
        x.text("cidr", c);
    });
    Ok(Done::Read(x))
}

/// `DeleteManagedPrefixList`.
pub fn delete_prefix_list(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let id = p.required("PrefixListId")?;
    let i = find_prefix_list(ctx, id)?;
    let name = ctx.net.prefix_lists[i].name.clone();
    let used = ctx.spec.vpcs.iter().any(|v| {
        v.endpoints
            .iter()
            .any(|e| e.prefix_list.as_deref() == Some(&name))
            || v.route_tables.iter().any(|t| {
                t.routes
                    .iter()
                    .any(|r| r.destination_prefix_list.as_deref() == Some(&name))
            })
            || v.security_groups.iter().any(|g| {
                g.ingress
                    .iter()
                    .chain(g.egress.iter().flatten())
                    .any(|r| r.prefix_list.as_deref() == Some(&name))
            })
    });
    if used {
        return Err(Ec2Error::new(
            "DependencyViolation",
            format!(
                "The prefix list '{id}' is referenced by an endpoint, a route or a security group."
            ),
        ));
    }
    let mut spec = ctx.spec.clone();
    spec.prefix_lists.retain(|l| l.name != name);
    let mut x = Xml::default();
    x.node("prefixList", |x| {
        x.text("prefixListId", id)
            .text("state", "delete-complete")
            .text("prefixListName", &name);
    });
    Ok(Done::Write(x, Box::new(spec)))
}

/// The tags of the tenant's prefix list at model index `i` (its spec entry's).
fn prefix_list_tags(ctx: &Ctx<'_>, i: usize) -> Tags {
    let name = &ctx.net.prefix_lists[i].name;
    ctx.spec
        .prefix_lists
        .iter()
        .find(|l| &l.name == name)
        .map(|l| l.tags.clone())
        .unwrap_or_default()
}

/// The tags of the tenant's endpoint at model index `i` (its spec entry's).
fn endpoint_tags(ctx: &Ctx<'_>, i: usize) -> Tags {
    let e = &ctx.net.endpoints[i];
    vpc_view(ctx, e.vpc)
        .and_then(|v| spec_vpc(ctx, v))
        .and_then(|at| {
            ctx.spec.vpcs[at]
                .endpoints
                .iter()
                .find(|x| x.name == e.name)
        })
        .map(|x| x.tags.clone())
        .unwrap_or_default()
}

/// Tags by resource id.
pub(crate) type TagsById = Vec<(String, Tags)>;

/// Every tag of the tenant's prefix lists and endpoints, by id (`DescribeTags`).
pub(crate) fn all_tags(ctx: &Ctx<'_>) -> (TagsById, TagsById) {
    let lists = prefix_lists(ctx)
        .into_iter()
        .map(|(i, id)| (id, prefix_list_tags(ctx, i)))
        .collect();
    let endpoints = endpoints(ctx)
        .into_iter()
        .map(|(i, id)| (id, endpoint_tags(ctx, i)))
        .collect();
    (lists, endpoints)
}

/// The spec's tag map of the tenant's prefix list `id`.
pub(crate) fn prefix_list_tags_mut<'s>(
    ctx: &Ctx<'_>,
    spec: &'s mut TenantSpec,
    id: &str,
) -> Result<&'s mut Tags, Ec2Error> {
    let i = find_prefix_list(ctx, id)?;
    let name = &ctx.net.prefix_lists[i].name;
    spec.prefix_lists
        .iter_mut()
        .find(|l| &l.name == name)
        .map(|l| &mut l.tags)
        .ok_or_else(|| {
            Ec2Error::new(
                "InvalidPrefixListID.NotFound",
                format!("The prefix list ID '{id}' does not exist"),
            )
        })
}

/// The spec's tag map of the tenant's endpoint `id` (one of its spec's; a
/// network's own take none).
pub(crate) fn endpoint_tags_mut<'s>(
    ctx: &Ctx<'_>,
    spec: &'s mut TenantSpec,
    id: &str,
) -> Result<&'s mut Tags, Ec2Error> {
    let not_found = || {
        Ec2Error::new(
            "InvalidVpcEndpointId.NotFound",
            format!("The Vpc Endpoint Id '{id}' does not exist"),
        )
    };
    let (i, _) = endpoints(ctx)
        .into_iter()
        .find(|(_, x)| x == id)
        .ok_or_else(not_found)?;
    let e = &ctx.net.endpoints[i];
    let at = vpc_view(ctx, e.vpc)
        .and_then(|v| spec_vpc(ctx, v))
        .ok_or_else(not_found)?;
    spec.vpcs[at]
        .endpoints
        .iter_mut()
        .find(|x| x.name == e.name)
        .map(|x| &mut x.tags)
        .ok_or_else(not_found)
}

/// The tenant's endpoints: (model index, id).
fn endpoints(ctx: &Ctx<'_>) -> Vec<(usize, String)> {
    let net = ctx.net;
    net.endpoints
        .iter()
        .enumerate()
        .filter(|(_, e)| vpc_view(ctx, e.vpc).is_some())
        .map(|(i, _)| {
            (
                i,
                endpoint_id(
                    net,
                    cove_model::model::EndpointId(u32::try_from(i).unwrap_or(u32::MAX)),
                ),
            )
        })
        .collect()
}

fn endpoint_xml(x: &mut Xml, ctx: &Ctx<'_>, net: &Network, i: usize, id: &str) {
    let e = &net.endpoints[i];
    let vpc = vpc_view(ctx, e.vpc)
        .map(|v| v.id.clone())
        .unwrap_or_default();
    x.text("vpcEndpointId", id)
        .text("vpcId", &vpc)
        .text("serviceName", &e.service)
        .text("state", "available")
        .text("ownerId", ctx.account_id)
        .text("requesterManaged", "false");
    match &e.kind {
        EndpointKind::Gateway { route_tables, .. } => {
            let ids: Vec<String> = route_tables
                .iter()
                .map(|t| super::route_tables::table_id(net, t.index()))
                .collect();
            x.text("vpcEndpointType", "Gateway")
                .set("routeTableIdSet", &ids, |x, t| {
                    x.value(t);
                })
                .node("subnetIdSet", |_| {})
                .node("groupSet", |_| {})
                .text("privateDnsEnabled", "false");
        }
        EndpointKind::Interface {
            enis,
            private_dns_name,
        } => {
            let subnets: Vec<String> = enis
                .iter()
                .map(|n| super::view::subnet_id(net, net.enis[n.index()].subnet))
                .collect();
            let ids: Vec<String> = enis.iter().map(|n| eni_id(net, n.index())).collect();
            let groups: Vec<String> = enis
                .first()
                .map(|n| {
                    net.enis[n.index()]
                        .security_groups
                        .iter()
                        .map(|g| group_id(net, *g))
                        .collect()
                })
                .unwrap_or_default();
            x.text("vpcEndpointType", "Interface")
                .node("routeTableIdSet", |_| {})
                .set("subnetIdSet", &subnets, |x, s| {
                    x.value(s);
                })
                .set("networkInterfaceIdSet", &ids, |x, s| {
                    x.value(s);
                })
                .set("groupSet", &groups, |x, g| {
                    x.text("groupId", g);
                })
                .text(
                    "privateDnsEnabled",
                    if private_dns_name.is_some() {
                        "true"
                    } else {
                        "false"
                    },
                );
            if let Some(name) = private_dns_name {
                x.set("dnsEntrySet", std::slice::from_ref(name), |x, n| {
                    x.text("dnsName", n);
                });
            }
        }
    }
    tag_set(x, &endpoint_tags(ctx, i));
}

/// `DescribeVpcEndpoints`.
pub fn describe(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let net = ctx.net;
    let ids = p.list("VpcEndpointId");
    let filters = p.filters()?;
    let known = [
        "vpc-endpoint-id",
        "vpc-id",
        "service-name",
        "vpc-endpoint-type",
        "vpc-endpoint-state",
    ];
    let mut found = Vec::new();
    for (i, id) in endpoints(ctx) {
        let e = &net.endpoints[i];
        if !ids.is_empty() && !ids.contains(&id) {
            continue;
        }
        let vpc = vpc_view(ctx, e.vpc)
            .map(|v| v.id.clone())
            .unwrap_or_default();
        let kind = match e.kind {
            EndpointKind::Gateway { .. } => "Gateway",
            EndpointKind::Interface { .. } => "Interface",
        };
        let tags = endpoint_tags(ctx, i);
        let ok = matches(&filters, &known, |name| match name {
            n if tag_filter(n, &tags).is_some() => tag_filter(n, &tags).unwrap_or_default(),
            "vpc-endpoint-id" => vec![id.clone()],
            "vpc-id" => vec![vpc.clone()],
            "service-name" => vec![e.service.clone()],
            "vpc-endpoint-type" => vec![kind.to_owned()],
            _ => vec!["available".to_owned()],
        })?;
        if ok {
            found.push((i, id));
        }
    }
    for id in &ids {
        if !found.iter().any(|f| &f.1 == id) {
            return Err(Ec2Error::new(
                "InvalidVpcEndpointId.NotFound",
                format!("The Vpc Endpoint Id '{id}' does not exist"),
            ));
        }
    }
    let (items, next) = page(&found, p.max_results(5, 1000)?, p.get("NextToken"))?;
    let mut x = Xml::default();
    x.set("vpcEndpointSet", &items, |x, (i, id)| {
        endpoint_xml(x, ctx, net, *i, id);
    });
    if let Some(n) = next {
        x.text("nextToken", &n);
    }
    Ok(Done::Read(x))
}

/// The short name of an AWS service (`com.amazonaws.us-east-1.s3` → `s3`).
fn short_service(service: &str) -> Option<&str> {
    service
        .strip_prefix("com.amazonaws.")
        .and_then(|rest| rest.split_once('.'))
        .map(|(_, s)| s)
}

/// `CreateVpcEndpoint`.
pub fn create(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let vpc = find_vpc(ctx, p.required("VpcId")?)?;
    let service = p.required("ServiceName")?.to_owned();
    let kind = p.get("VpcEndpointType").unwrap_or("Gateway");
    let name = (ctx.new_name)();
    let tags = specified(p, "vpc-endpoint")?;
    let mut e = EndpointSpec {
        name: name.clone(),
        service: service.clone(),
        tags: tags.clone(),
        ..EndpointSpec::default()
    };
    let names_in = |ids: Vec<String>, what: &str| -> Result<Vec<String>, Ec2Error> {
        ids.iter()
            .map(|id| match what {
                "subnet" => ctx
                    .view
                    .subnets
                    .iter()
                    .find(|s| &s.id == id && s.vpc_id == vpc.id)
                    .map(|s| s.name.clone())
                    .ok_or_else(|| Ec2Error::not_found("InvalidSubnetID.NotFound", "subnet", id)),
                "group" => super::groups::groups(ctx)
                    .into_iter()
                    .find(|g| &g.id == id && g.vpc_id == vpc.id)
                    .map(|g| g.name)
                    .ok_or_else(|| {
                        Ec2Error::not_found("InvalidGroup.NotFound", "security group", id)
                    }),
                _ => find_table(ctx, id).and_then(|t| {
                    if t.vpc.id == vpc.id {
                        Ok(t.name)
                    } else {
                        Err(Ec2Error::not_found(
                            "InvalidRouteTableID.NotFound",
                            "routeTable",
                            id,
                        ))
                    }
                }),
            })
            .collect()
    };
    match kind {
        "Gateway" => {
            let short = short_service(&service).unwrap_or(&service);
            let list = ctx
                .net
                .prefix_lists
                .iter()
                .filter(|l| ctx.net.tenants[l.tenant.index()].name == ctx.tenant)
                .find(|l| l.name == service || l.name == short)
                .ok_or_else(|| {
                    Ec2Error::new(
                        "InvalidServiceName",
                        format!(
                            "The Vpc Endpoint Service '{service}' has no prefix list: make one named '{service}' with the service's blocks (CreateManagedPrefixList)."
                        ),
                    )
                })?;
            e.kind = "gateway".to_owned();
            e.prefix_list = Some(list.name.clone());
            e.route_tables = names_in(p.list("RouteTableId"), "table")?;
        }
        "Interface" => {
            e.kind = "interface".to_owned();
            e.subnets = names_in(p.list("SubnetId"), "subnet")?;
            if e.subnets.is_empty() {
                return Err(Ec2Error::missing("SubnetId"));
            }
            e.security_groups = names_in(p.list("SecurityGroupId"), "group")?;
            let dns = match p.get("PrivateDnsEnabled") {
                Some(v) => v.eq_ignore_ascii_case("true"),
                None => short_service(&service).is_some(),
            };
            if dns {
                let short = short_service(&service).ok_or_else(|| {
                    Ec2Error::invalid_parameter(format!(
                        "Private DNS can only be enabled for an AWS service's endpoint, not '{service}'."
                    ))
                })?;
                e.private_dns_name = Some(format!("{short}.{}.amazonaws.com", ctx.region));
            }
        }
        other => {
            return Err(Ec2Error::invalid_parameter(format!(
                "Value ({other}) for parameter VpcEndpointType is invalid: Gateway or Interface (cove has no GatewayLoadBalancer)."
            )));
        }
    }
    let mut spec = ctx.spec.clone();
    let at = spec_vpc_or_add(ctx, &mut spec, vpc);
    spec.vpcs[at].endpoints.push(e);
    let id = resource_id("vpce", None, &format!("{}/{}/{name}", ctx.tenant, vpc.name));
    let mut x = Xml::default();
    x.node("vpcEndpoint", |x| {
        x.text("vpcEndpointId", &id)
            .text("vpcEndpointType", kind)
            .text("vpcId", &vpc.id)
            .text("serviceName", &service)
            .text("state", "pending")
            .text("ownerId", ctx.account_id);
        tag_set(x, &tags);
    });
    Ok(Done::Write(x, Box::new(spec)))
}

/// `DeleteVpcEndpoints`: answers the ids it could not delete.
pub fn delete(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let ids = p.list("VpcEndpointId");
    if ids.is_empty() {
        return Err(Ec2Error::missing("VpcEndpointId"));
    }
    let all = endpoints(ctx);
    let mut spec = ctx.spec.clone();
    let mut unsuccessful = Vec::new();
    for id in &ids {
        let found = all.iter().find(|(_, x)| x == id).and_then(|(i, _)| {
            let e = &ctx.net.endpoints[*i];
            let vpc = vpc_view(ctx, e.vpc)?;
            let at = spec_vpc(ctx, vpc)?;
            ctx.spec.vpcs[at]
                .endpoints
                .iter()
                .any(|x| x.name == e.name)
                .then(|| (at, e.name.clone()))
        });
        match found {
            Some((at, name)) => spec.vpcs[at].endpoints.retain(|x| x.name != name),
            None => unsuccessful.push(id.clone()),
        }
    }
    let mut x = Xml::default();
    x.set("unsuccessful", &unsuccessful, |x, id| {
        x.node("error", |x| {
            x.text("code", "InvalidVpcEndpoint.NotFound").text(
                "message",
                &format!("The VPC endpoint '{id}' does not exist"),
            );
        })
        .text("resourceId", id);
    });
    Ok(Done::Write(x, Box::new(spec)))
}
