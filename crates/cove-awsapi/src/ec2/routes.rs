//! EC2's `DescribeRouteTables` and `DescribeInternetGateways` (pure, read from the
//! validated model: the tables' routes with their targets by EC2 id, the
//! associations — explicit ones and the main one — and the gateways' attachments).

use cove_model::ids::resource_id;
use cove_model::model::{RouteDestination, RouteOrigin, RouteTarget};

use super::error::Ec2Error;
use super::params::Params;
use super::vpcs::{Ctx, Done, matches, page};
use super::xml::Xml;

/// `DescribeRouteTables`.
pub fn describe_route_tables(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let net = ctx.net;
    let ids = p.list("RouteTableId");
    let filters = p.filters()?;
    let known = [
        "route-table-id",
        "vpc-id",
        "association.main",
        "association.subnet-id",
    ];
    let mut found = Vec::new();
    for (i, rt) in net.route_tables.iter().enumerate() {
        let Some(vpc) = super::route_tables::vpc_view(ctx, rt.vpc) else {
            continue;
        };
        let id = super::route_tables::table_id(net, i);
        // A subnet on the main table is associated implicitly: EC2 lists only
        // the main association.
        let subnets: Vec<String> = net.vpcs[rt.vpc.index()]
            .subnets
            .iter()
            .filter(|&&s| net.subnets[s.index()].route_table.index() == i && !rt.main)
            .map(|&s| super::view::subnet_id(net, s))
            .collect();
        if !ids.is_empty() && !ids.contains(&id) {
            continue;
        }
        let tags = super::vpcs::spec_vpc(ctx, vpc)
            .and_then(|at| {
                ctx.spec.vpcs[at]
                    .route_tables
                    .iter()
                    .find(|r| r.name == rt.name)
            })
            .map(|r| r.tags.clone())
            .unwrap_or_default();
        let ok = matches(&filters, &known, |name| match name {
            n if super::tags::tag_filter(n, &tags).is_some() => {
                super::tags::tag_filter(n, &tags).unwrap_or_default()
            }
            "route-table-id" => vec![id.clone()],
            "vpc-id" => vec![vpc.id.clone()],
            "association.main" => vec![rt.main.to_string()],
            _ => subnets.clone(),
        })?;
        if ok {
            found.push((i, id, vpc.id.clone(), subnets, tags));
        }
    }
    for id in &ids {
        if !found.iter().any(|f| &f.1 == id) {
            return Err(Ec2Error::not_found(
                "InvalidRouteTableID.NotFound",
                "route table",
                id,
            ));
        }
    }
    let (items, next) = page(&found, p.max_results(5, 100)?, p.get("NextToken"))?;
    let mut x = Xml::default();
    x.set(
        "routeTableSet",
        &items,
        |x, (i, id, vpc_id, subnets, tags)| {
            let rt = &net.route_tables[*i];
            x.text("routeTableId", id)
                .text("vpcId", vpc_id)
                .text("ownerId", ctx.account_id);
            x.set("routeSet", &rt.routes, |x, r| {
                match &r.destination {
                    RouteDestination::Cidr(c) => {
                        x.text("destinationCidrBlock", &c.to_string());
                    }
                    RouteDestination::PrefixList(pl) => {
                        x.text(
                            "destinationPrefixListId",
                            &super::rules::prefix_list_id(net, *pl),
                        );
                    }
                }
                match &r.target {
                    RouteTarget::Local => {
                        x.text("gatewayId", "local");
                    }
                    RouteTarget::InternetGateway(g) => {
                        x.text("gatewayId", &super::gateways::model_igw_id(net, g.index()));
                    }
                    RouteTarget::NatGateway(n) => {
                        x.text("natGatewayId", &super::interfaces::nat_id(net, n.index()));
                    }
                    RouteTarget::Peering(p) => {
                        let pc = &net.peerings[p.index()];
                        x.text(
                            "vpcPeeringConnectionId",
                            &resource_id("pcx", pc.aws_id.as_deref(), &pc.name),
                        );
                    }
                    RouteTarget::GatewayEndpoint(e) => {
                        x.text("gatewayId", &cove_model::ids::endpoint_id(net, *e));
                    }
                    RouteTarget::Blackhole => {}
                    RouteTarget::Unmodeled(id) => {
                        x.text("gatewayId", id);
                    }
                }
                let origin = match r.origin {
                    RouteOrigin::Local | RouteOrigin::Endpoint(_) => "CreateRouteTable",
                    RouteOrigin::Spec(_) => "CreateRoute",
                    RouteOrigin::Propagated(_) => "EnableVgwRoutePropagation",
                };
                let state = if matches!(r.target, RouteTarget::Blackhole) {
                    "blackhole"
                } else {
                    "active"
                };
                x.text("state", state).text("origin", origin);
            });
            let mut assocs: Vec<(String, Option<String>)> = subnets
                .iter()
                .map(|s| {
                    (
                        super::route_tables::association_id(id, Some(s)),
                        Some(s.clone()),
                    )
                })
                .collect();
            if rt.main {
                assocs.push((super::route_tables::association_id(id, None), None));
            }
            x.set("associationSet", &assocs, |x, (aid, subnet)| {
                x.text("routeTableAssociationId", aid)
                    .text("routeTableId", id);
                match subnet {
                    Some(s) => {
                        x.text("subnetId", s).text("main", "false");
                    }
                    None => {
                        x.text("main", "true");
                    }
                }
                x.node("associationState", |x| {
                    x.text("state", "associated");
                });
            });
            x.node("propagatingVgwSet", |_| {});
            super::tags::tag_set(x, tags);
        },
    );
    if let Some(n) = next {
        x.text("nextToken", &n);
    }
    Ok(Done::Read(x))
}
