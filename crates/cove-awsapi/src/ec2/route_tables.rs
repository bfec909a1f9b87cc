//! EC2's route-table writes over a tenant's desired spec (pure): create and delete
//! tables, create / replace / delete routes, associate subnets, move the main
//! association. Ids are found in the validated model (as `DescribeRouteTables`
//! shows them) and written into the spec by name; a network's own tables get
//! routes through the spec's entry that extends the network, and its own routes
//! cannot be removed.

use cove_model::ids::resource_id;
use cove_model::model::{Network, RouteDestination, RouteTarget, VpcId};
use cove_model::spec::{RouteSpec, RouteTableSpec, TenantSpec};

use super::error::Ec2Error;
use super::params::Params;
use super::tags::{specified, tag_set};
use super::view::{SubnetView, VpcView};
use super::vpcs::{Ctx, Done, find_vpc, spec_vpc, spec_vpc_or_add, subnet_entry};
use super::xml::Xml;

/// A route table of the tenant, found by its EC2 id.
pub(crate) struct TableRef<'a> {
    /// Its index in the model.
    pub index: usize,
    /// `rtb-…`.
    pub id: String,
    /// Its VPC.
    pub vpc: &'a VpcView,
    /// Its name in the spec.
    pub name: String,
    /// Whether it is the VPC's main table.
    pub main: bool,
}

/// A route table's id.
pub(crate) fn table_id(net: &Network, i: usize) -> String {
    let rt = &net.route_tables[i];
    resource_id(
        "rtb",
        rt.aws_id.as_deref(),
        &format!("{}/{}", net.vpc_path(rt.vpc), rt.name),
    )
}

/// A subnet's association id with table `rtb` (`main` for the main association).
pub(crate) fn association_id(rtb: &str, subnet: Option<&str>) -> String {
    resource_id(
        "rtbassoc",
        None,
        &format!("{rtb}/{}", subnet.unwrap_or("main")),
    )
}

/// The tenant's VPC `v` of the model, as EC2 shows it (none: another tenant's).
pub(crate) fn vpc_view<'a>(ctx: &'a Ctx<'_>, v: VpcId) -> Option<&'a VpcView> {
    ctx.view.vpc(v)
}

/// The tenant's route table `id`.
pub(crate) fn find_table<'a>(ctx: &'a Ctx<'_>, id: &str) -> Result<TableRef<'a>, Ec2Error> {
    let net = ctx.net;
    for (i, rt) in net.route_tables.iter().enumerate() {
        let Some(vpc) = vpc_view(ctx, rt.vpc) else {
            continue;
        };
        if table_id(net, i) == id {
            return Ok(TableRef {
                index: i,
                id: id.to_owned(),
                vpc,
                name: rt.name.clone(),
                main: rt.main,
            });
        }
    }
    Err(Ec2Error::not_found(
        "InvalidRouteTableID.NotFound",
        "routeTable",
        id,
    ))
}

/// The spec's entry for table `t` (VPC index, table index), added when the spec
/// has none (a network's table, or the implicit main table, written out empty:
/// its routes stay the network's).
fn table_entry(ctx: &Ctx<'_>, spec: &mut TenantSpec, t: &TableRef<'_>) -> (usize, usize) {
    let at = spec_vpc_or_add(ctx, spec, t.vpc);
    let tables = &mut spec.vpcs[at].route_tables;
    let ti = match tables.iter().position(|r| r.name == t.name) {
        Some(i) => i,
        None => {
            tables.push(RouteTableSpec {
                name: t.name.clone(),
                main: t.main,
                ..RouteTableSpec::default()
            });
            tables.len() - 1
        }
    };
    (at, ti)
}

/// Every route table of the tenant with its tags (`DescribeTags`).
pub(crate) fn all_tags(ctx: &Ctx<'_>) -> Vec<(String, super::tags::Tags)> {
    let net = ctx.net;
    (0..net.route_tables.len())
        .filter_map(|i| {
            let vpc = vpc_view(ctx, net.route_tables[i].vpc)?;
            let name = &net.route_tables[i].name;
            let tags = spec_vpc(ctx, vpc)
                .and_then(|at| {
                    ctx.spec.vpcs[at]
                        .route_tables
                        .iter()
                        .find(|r| &r.name == name)
                })
                .map(|r| r.tags.clone())
                .unwrap_or_default();
            Some((table_id(net, i), tags))
        })
        .collect()
}

/// The spec's tag map of route table `id` (a table the spec does not hold is
/// written out first, without routes of its own).
pub(crate) fn tags_mut<'s>(
    ctx: &Ctx<'_>,
    spec: &'s mut TenantSpec,
    id: &str,
) -> Result<&'s mut super::tags::Tags, Ec2Error> {
    let t = find_table(ctx, id)?;
    let (at, ti) = table_entry(ctx, spec, &t);
    Ok(&mut spec.vpcs[at].route_tables[ti].tags)
}

/// The destination of a route request, as the spec writes it.
fn destination(ctx: &Ctx<'_>, p: &Params) -> Result<(Option<String>, Option<String>), Ec2Error> {
    match (
        p.get("DestinationCidrBlock"),
        p.get("DestinationPrefixListId"),
    ) {
        (Some(c), None) => {
            let net: ipnet::Ipv4Net = c.parse().map_err(|_| {
                Ec2Error::invalid_parameter(format!(
                    "Value ({c}) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block."
                ))
            })?;
            Ok((Some(net.trunc().to_string()), None))
        }
        (None, Some(pl)) => {
            let net = ctx.net;
            let found = net.prefix_lists.iter().enumerate().find(|(i, l)| {
                net.tenants[l.tenant.index()].name == ctx.tenant
                    && super::rules::prefix_list_id(
                        net,
                        cove_model::model::PrefixListId(u32::try_from(*i).unwrap_or(u32::MAX)),
                    ) == pl
            });
            match found {
                Some((_, l)) => Ok((None, Some(l.name.clone()))),
                None => Err(Ec2Error::not_found(
                    "InvalidPrefixListID.NotFound",
                    "prefix list",
                    pl,
                )),
            }
        }
        (None, None) => Err(Ec2Error::missing("DestinationCidrBlock")),
        (Some(_), Some(_)) => Err(Ec2Error::new(
            "InvalidParameterCombination",
            "Specify either DestinationCidrBlock or DestinationPrefixListId, not both.",
        )),
    }
}

/// Whether model route `r` has the destination `(cidr, prefix list)`.
fn same_destination(
    net: &Network,
    r: &RouteDestination,
    d: &(Option<String>, Option<String>),
) -> bool {
    match r {
        RouteDestination::Cidr(c) => d.0.as_deref() == Some(c.to_string().as_str()),
        RouteDestination::PrefixList(pl) => {
            d.1.as_deref() == Some(net.prefix_lists[pl.index()].name.as_str())
        }
    }
}

/// The route's target in `vpc`, by EC2 id, as the spec writes it.
fn target(ctx: &Ctx<'_>, vpc: &VpcView, p: &Params) -> Result<RouteSpec, Ec2Error> {
    let net = ctx.net;
    let given: Vec<(&str, &str)> = [
        "GatewayId",
        "NatGatewayId",
        "VpcPeeringConnectionId",
        "TransitGatewayId",
        "NetworkInterfaceId",
        "InstanceId",
        "VpcEndpointId",
        "EgressOnlyInternetGatewayId",
        "CarrierGatewayId",
        "LocalGatewayId",
        "CoreNetworkArn",
    ]
    .into_iter()
    .filter_map(|k| p.get(k).map(|v| (k, v)))
    .collect();
    let (kind, id) = match given.as_slice() {
        [one] => *one,
        [] => {
            return Err(Ec2Error::missing(
                "GatewayId, NatGatewayId or VpcPeeringConnectionId",
            ));
        }
        _ => {
            return Err(Ec2Error::new(
                "InvalidParameterCombination",
                "The request must contain exactly one route target.",
            ));
        }
    };
    let here = |v: VpcId| vpc_view(ctx, v).is_some_and(|x| x.id == vpc.id);
    let mut route = RouteSpec::default();
    match kind {
        "GatewayId" => {
            let igw = net
                .internet_gateways
                .iter()
                .enumerate()
                .find(|(i, g)| here(g.vpc) && super::gateways::model_igw_id(net, *i) == id)
                .map(|(_, g)| g.name.clone());
            if let Some(name) = igw {
                route.internet_gateway = Some(name);
            } else if id.starts_with("igw-") {
                return Err(Ec2Error::new(
                    "InvalidGatewayID.NotFound",
                    format!("The gateway ID '{id}' does not exist"),
                ));
            } else {
                return Err(Ec2Error::new(
                    "InvalidGatewayID.NotFound",
                    format!(
                        "The gateway ID '{id}' does not exist (give an internet gateway attached to {})",
                        vpc.id
                    ),
                ));
            }
        }
        "NatGatewayId" => {
            let nat = net
                .nat_gateways
                .iter()
                .find(|g| {
                    here(g.vpc)
                        && resource_id(
                            "nat",
                            g.aws_id.as_deref(),
                            &format!("{}/{}", net.vpc_path(g.vpc), g.name),
                        ) == id
                })
                .ok_or_else(|| {
                    Ec2Error::new(
                        "InvalidNatGatewayID.NotFound",
                        format!("The natGateway ID '{id}' does not exist"),
                    )
                })?;
            route.nat_gateway = Some(nat.name.clone());
        }
        "VpcPeeringConnectionId" => {
            let vid = net
                .vpcs
                .iter()
                .position(|v| {
                    v.name == vpc.name && net.tenants[v.tenant.index()].name == ctx.tenant
                })
                .map(|i| VpcId(u32::try_from(i).unwrap_or(u32::MAX)));
            let pcx = net
                .peerings
                .iter()
                .find(|pc| {
                    resource_id("pcx", pc.aws_id.as_deref(), &pc.name) == id
                        && vid.is_some_and(|v| pc.peer_of(v).is_some())
                })
                .ok_or_else(|| {
                    Ec2Error::new(
                        "InvalidVpcPeeringConnectionID.NotFound",
                        format!("The vpcPeeringConnection ID '{id}' does not exist"),
                    )
                })?;
            route.peering = Some(pcx.name.clone());
        }
        other => {
            return Err(Ec2Error::new(
                "InvalidParameterValue",
                format!(
                    "cove does not model the target {other}: route to an internet gateway, a NAT gateway or a peering connection"
                ),
            ));
        }
    }
    Ok(route)
}

fn local_routes_xml(x: &mut Xml, vpc: &VpcView) {
    x.set("routeSet", &vpc.cidrs, |x, c| {
        x.text("destinationCidrBlock", c)
            .text("gatewayId", "local")
            .text("state", "active")
            .text("origin", "CreateRouteTable");
    });
}

/// `CreateRouteTable`.
pub fn create(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let vpc = find_vpc(ctx, p.required("VpcId")?)?;
    let tags = specified(p, "route-table")?;
    let name = (ctx.new_name)();
    let mut spec = ctx.spec.clone();
    let at = spec_vpc_or_add(ctx, &mut spec, vpc);
    spec.vpcs[at].route_tables.push(RouteTableSpec {
        name: name.clone(),
        tags: tags.clone(),
        ..RouteTableSpec::default()
    });
    let id = resource_id("rtb", None, &format!("{}/{}/{name}", ctx.tenant, vpc.name));
    let mut x = Xml::default();
    x.node("routeTable", |x| {
        x.text("routeTableId", &id)
            .text("vpcId", &vpc.id)
            .text("ownerId", ctx.account_id);
        local_routes_xml(x, vpc);
        x.node("associationSet", |_| {});
        x.node("propagatingVgwSet", |_| {});
        tag_set(x, &tags);
    });
    Ok(Done::Write(x, Box::new(spec)))
}

/// `DeleteRouteTable`.
pub fn delete(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let t = find_table(ctx, p.required("RouteTableId")?)?;
    let net = ctx.net;
    let associated = net.subnets.iter().any(|s| s.route_table.index() == t.index);
    if t.main || associated {
        return Err(Ec2Error::new(
            "DependencyViolation",
            format!(
                "The routeTable '{}' has dependencies and cannot be deleted.",
                t.id
            ),
        ));
    }
    let own = net.route_tables[t.index].aws_id.is_none();
    let at = spec_vpc(ctx, t.vpc).filter(|_| own);
    let Some((at, ti)) = at.and_then(|at| {
        ctx.spec.vpcs[at]
            .route_tables
            .iter()
            .position(|r| r.name == t.name)
            .map(|ti| (at, ti))
    }) else {
        return Err(Ec2Error::new(
            "OperationNotPermitted",
            format!(
                "The routeTable '{}' is part of a Secure Compute network's layout; delete the network instead.",
                t.id
            ),
        ));
    };
    let mut spec = ctx.spec.clone();
    spec.vpcs[at].route_tables.remove(ti);
    // A gateway endpoint's list of tables loses it too (as AWS removes the route).
    for e in &mut spec.vpcs[at].endpoints {
        e.route_tables.retain(|r| r != &t.name);
    }
    let mut x = Xml::default();
    x.text("return", "true");
    Ok(Done::Write(x, Box::new(spec)))
}

/// `CreateRoute` (`replace`: `ReplaceRoute`).
pub fn create_route(ctx: &Ctx<'_>, p: &Params, replace: bool) -> Result<Done, Ec2Error> {
    let t = find_table(ctx, p.required("RouteTableId")?)?;
    let dest = destination(ctx, p)?;
    let mut route = target(ctx, t.vpc, p)?;
    let net = ctx.net;
    let shown = dest
        .0
        .clone()
        .or_else(|| p.get("DestinationPrefixListId").map(str::to_owned));
    let shown = shown.unwrap_or_default();
    let existing = net.route_tables[t.index]
        .routes
        .iter()
        .find(|r| same_destination(net, &r.destination, &dest));
    if let Some(r) = existing {
        if matches!(r.target, RouteTarget::Local) {
            return Err(Ec2Error::invalid_parameter(format!(
                "The destination {shown} is the VPC's local route and cannot be changed."
            )));
        }
        if !replace {
            return Err(Ec2Error::new(
                "RouteAlreadyExists",
                format!("The route identified by {shown} already exists."),
            ));
        }
    } else if replace {
        return Err(Ec2Error::new(
            "InvalidRoute.NotFound",
            format!(
                "There is no route defined for '{shown}' in the route table '{}'. Use CreateRoute instead.",
                t.id
            ),
        ));
    }
    route.destination = dest.0.clone();
    route.destination_prefix_list = dest.1.clone();
    let mut spec = ctx.spec.clone();
    let (at, ti) = table_entry(ctx, &mut spec, &t);
    let routes = &mut spec.vpcs[at].route_tables[ti].routes;
    let mine = routes
        .iter()
        .position(|r| r.destination == dest.0 && r.destination_prefix_list == dest.1);
    match (replace, mine) {
        (true, Some(i)) => routes[i] = route,
        (true, None) => {
            return Err(Ec2Error::new(
                "OperationNotPermitted",
                format!(
                    "The route to {shown} in '{}' is part of a Secure Compute network's layout and cannot be replaced.",
                    t.id
                ),
            ));
        }
        (false, _) => routes.push(route),
    }
    let mut x = Xml::default();
    x.text("return", "true");
    Ok(Done::Write(x, Box::new(spec)))
}

/// `DeleteRoute`.
pub fn delete_route(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let t = find_table(ctx, p.required("RouteTableId")?)?;
    let dest = destination(ctx, p)?;
    let net = ctx.net;
    let shown = dest
        .0
        .clone()
        .or_else(|| p.get("DestinationPrefixListId").map(str::to_owned))
        .unwrap_or_default();
    let existing = net.route_tables[t.index]
        .routes
        .iter()
        .find(|r| same_destination(net, &r.destination, &dest));
    match existing.map(|r| &r.target) {
        None => {
            return Err(Ec2Error::new(
                "InvalidRoute.NotFound",
                format!(
                    "no route with destination-cidr-block {shown} in route table {}",
                    t.id
                ),
            ));
        }
        Some(RouteTarget::Local) => {
            return Err(Ec2Error::invalid_parameter(format!(
                "cannot remove local route {shown} in route table {}",
                t.id
            )));
        }
        Some(_) => {}
    }
    let mut spec = ctx.spec.clone();
    let found = spec_vpc(ctx, t.vpc).and_then(|at| {
        let ti = spec.vpcs[at]
            .route_tables
            .iter()
            .position(|r| r.name == t.name)?;
        let ri = spec.vpcs[at].route_tables[ti]
            .routes
            .iter()
            .position(|r| r.destination == dest.0 && r.destination_prefix_list == dest.1)?;
        Some((at, ti, ri))
    });
    let Some((at, ti, ri)) = found else {
        return Err(Ec2Error::new(
            "OperationNotPermitted",
            format!(
                "The route to {shown} in '{}' is part of a Secure Compute network's layout (or a gateway endpoint's) and cannot be deleted here.",
                t.id
            ),
        ));
    };
    spec.vpcs[at].route_tables[ti].routes.remove(ri);
    let mut x = Xml::default();
    x.text("return", "true");
    Ok(Done::Write(x, Box::new(spec)))
}

/// The model's table of subnet `s` and whether it is explicit (not the main).
fn table_of(ctx: &Ctx<'_>, s: &SubnetView) -> (usize, bool) {
    let net = ctx.net;
    let m = s.index.map_or(0, |i| net.subnets[i].route_table.index());
    (m, !net.route_tables[m].main)
}

/// `AssociateRouteTable`.
pub fn associate(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let t = find_table(ctx, p.required("RouteTableId")?)?;
    let sid = p.required("SubnetId")?;
    let s = super::vpcs::find_subnet(ctx, sid)?;
    if s.vpc_id != t.vpc.id {
        return Err(Ec2Error::invalid_parameter(format!(
            "route table {} and subnet {sid} belong to different networks",
            t.id
        )));
    }
    let (current, explicit) = table_of(ctx, s);
    if explicit {
        return Err(Ec2Error::new(
            "Resource.AlreadyAssociated",
            format!(
                "the specified association for route table {} conflicts with an existing association (subnet {sid} is associated with {})",
                t.id,
                table_id(ctx.net, current)
            ),
        ));
    }
    let mut spec = ctx.spec.clone();
    // A table the spec does not hold yet (the implicit main, a network's) is
    // written out first, so that the subnet names it.
    table_entry(ctx, &mut spec, &t);
    subnet_entry(ctx, &mut spec, s)?.route_table = Some(t.name.clone());
    let mut x = Xml::default();
    x.text("associationId", &association_id(&t.id, Some(sid)))
        .node("associationState", |x| {
            x.text("state", "associated");
        });
    Ok(Done::Write(x, Box::new(spec)))
}

/// An association id of the tenant: the subnet it is for (none: a main
/// association) and its table.
fn find_association<'a>(
    ctx: &'a Ctx<'_>,
    id: &str,
) -> Result<(Option<&'a SubnetView>, TableRef<'a>), Ec2Error> {
    for s in &ctx.view.subnets {
        let (i, explicit) = table_of(ctx, s);
        let rtb = table_id(ctx.net, i);
        if explicit && association_id(&rtb, Some(&s.id)) == id {
            return Ok((Some(s), find_table(ctx, &rtb)?));
        }
    }
    for (i, rt) in ctx.net.route_tables.iter().enumerate() {
        if rt.main && vpc_view(ctx, rt.vpc).is_some() {
            let rtb = table_id(ctx.net, i);
            if association_id(&rtb, None) == id {
                return Ok((None, find_table(ctx, &rtb)?));
            }
        }
    }
    Err(Ec2Error::new(
        "InvalidAssociationID.NotFound",
        format!("The association ID '{id}' does not exist"),
    ))
}

/// Whether the VPC named `vpc_name` in the desired spec is a network's.
fn network_vpc(ctx: &Ctx<'_>, vpc_name: &str) -> bool {
    ctx.networks.iter().any(|n| n.id == vpc_name)
}

/// `DisassociateRouteTable`.
pub fn disassociate(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let id = p.required("AssociationId")?;
    let (subnet, _) = find_association(ctx, id)?;
    let Some(s) = subnet else {
        return Err(Ec2Error::invalid_parameter(format!(
            "cannot disassociate the main route table association {id}"
        )));
    };
    if network_vpc(ctx, &s.vpc_name) {
        return Err(Ec2Error::new(
            "OperationNotPermitted",
            format!(
                "The association '{id}' is of a Secure Compute network's subnet, which always has a table of its own; associate it with another table instead (ReplaceRouteTableAssociation)."
            ),
        ));
    }
    let mut spec = ctx.spec.clone();
    subnet_entry(ctx, &mut spec, s)?.route_table = None;
    let mut x = Xml::default();
    x.text("return", "true");
    Ok(Done::Write(x, Box::new(spec)))
}

/// `ReplaceRouteTableAssociation`.
pub fn replace_association(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let id = p.required("AssociationId")?;
    let to = find_table(ctx, p.required("RouteTableId")?)?;
    let (subnet, from) = find_association(ctx, id)?;
    if from.vpc.id != to.vpc.id {
        return Err(Ec2Error::invalid_parameter(format!(
            "route table {} is not in the VPC of association {id}",
            to.id
        )));
    }
    let mut spec = ctx.spec.clone();
    table_entry(ctx, &mut spec, &to);
    match subnet {
        Some(s) => {
            subnet_entry(ctx, &mut spec, s)?.route_table = Some(to.name.clone());
        }
        None => {
            // The main association moves: the old main table stays, not main.
            let (at, from_i) = table_entry(ctx, &mut spec, &from);
            spec.vpcs[at].route_tables[from_i].main = false;
            let to_i = spec.vpcs[at]
                .route_tables
                .iter()
                .position(|r| r.name == to.name)
                .unwrap_or(from_i);
            spec.vpcs[at].route_tables[to_i].main = true;
        }
    }
    let mut x = Xml::default();
    x.text(
        "newAssociationId",
        &association_id(&to.id, subnet.map(|s| s.id.as_str())),
    )
    .node("associationState", |x| {
        x.text("state", "associated");
    });
    Ok(Done::Write(x, Box::new(spec)))
}
