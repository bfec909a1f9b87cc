//! EC2's `DescribeNetworkInterfaces` and `DescribeNatGateways` (pure, read from
//! the validated model): every interface of the tenant (its own, its functions'
//! shared ones, its NAT gateways' and endpoints'), its NAT gateways with their
//! addresses; `CreateNetworkInterface` and `DeleteNetworkInterface`.

use cove_model::ids::resource_id;
use cove_model::model::{EniOwner, NatConnectivity, Network};

use super::addresses::{allocation_id, association_id};
use super::error::Ec2Error;
use super::params::Params;
use super::route_tables::vpc_view;
use super::rules::group_id;
use super::tags::{Tags, tag_set};
use super::view::subnet_id;
use super::vpcs::{Ctx, Done, matches, page};
use super::xml::Xml;

/// ENI `i`'s id.
pub fn eni_id(net: &Network, i: usize) -> String {
    let e = &net.enis[i];
    resource_id(
        "eni",
        e.aws_id.as_deref(),
        &format!("{}/{}", net.vpc_path(e.vpc), e.name),
    )
}

/// NAT gateway `i`'s id.
pub fn nat_id(net: &Network, i: usize) -> String {
    let g = &net.nat_gateways[i];
    resource_id(
        "nat",
        g.aws_id.as_deref(),
        &format!("{}/{}", net.vpc_path(g.vpc), g.name),
    )
}

fn kind(owner: EniOwner) -> &'static str {
    match owner {
        EniOwner::User => "interface",
        EniOwner::Endpoint(_) | EniOwner::Front(_) => "vpc_endpoint",
        EniOwner::NatGateway(_) => "nat_gateway",
        EniOwner::Shared => "lambda",
    }
}

/// `DescribeNetworkInterfaces`.
pub fn describe_interfaces(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let net = ctx.net;
    let ids = p.list("NetworkInterfaceId");
    let filters = p.filters()?;
    let known = [
        "network-interface-id",
        "vpc-id",
        "subnet-id",
        "availability-zone",
        "private-ip-address",
        "addresses.private-ip-address",
        "group-id",
        "interface-type",
        "requester-managed",
        "status",
        "owner-id",
        "description",
    ];
    let mut found = Vec::new();
    for (i, e) in net.enis.iter().enumerate() {
        let Some(vpc) = vpc_view(ctx, e.vpc) else {
            continue;
        };
        // The provider-side front of another tenant's endpoint is the provider's.
        if matches!(e.owner, EniOwner::Front(_)) {
            continue;
        }
        let id = eni_id(net, i);
        if !ids.is_empty() && !ids.contains(&id) {
            continue;
        }
        let groups: Vec<String> = e
            .security_groups
            .iter()
            .map(|g| group_id(net, *g))
            .collect();
        let subnet = subnet_id(net, e.subnet);
        let az = net.subnets[e.subnet.index()].az.clone();
        let managed = !matches!(e.owner, EniOwner::User);
        let ok = matches(&filters, &known, |name| match name {
            "network-interface-id" => vec![id.clone()],
            "vpc-id" => vec![vpc.id.clone()],
            "subnet-id" => vec![subnet.clone()],
            "availability-zone" => vec![az.clone()],
            "private-ip-address" | "addresses.private-ip-address" => {
                vec![e.private_ip.to_string()]
            }
            "group-id" => groups.clone(),
            "interface-type" => vec![kind(e.owner).to_owned()],
            "requester-managed" => vec![managed.to_string()],
            "status" => vec!["in-use".to_owned()],
            "description" => vec![String::new()],
            _ => vec![ctx.account_id.to_owned()],
        })?;
        if ok {
            found.push((i, id, vpc.id.clone(), subnet, az, groups, managed));
        }
    }
    for id in &ids {
        if !found.iter().any(|f| &f.1 == id) {
            return Err(Ec2Error::not_found(
                "InvalidNetworkInterfaceID.NotFound",
                "network interface",
                id,
            ));
        }
    }
    let (items, next) = page(&found, p.max_results(5, 1000)?, p.get("NextToken"))?;
    let mut x = Xml::default();
    x.set(
        "networkInterfaceSet",
        &items,
        |x, (i, id, vpc, subnet, az, groups, managed)| {
            let e = &net.enis[*i];
            x.text("networkInterfaceId", id)
                .text("subnetId", subnet)
                .text("vpcId", vpc)
                .text("availabilityZone", az)
                .text("description", "")
                .text("ownerId", ctx.account_id)
                .text("requesterManaged", if *managed { "true" } else { "false" })
                .text("status", "in-use")
                .text("privateIpAddress", &e.private_ip.to_string())
                .text("sourceDestCheck", "true")
                .text("interfaceType", kind(e.owner));
            let named: Vec<(&String, &str)> = groups
                .iter()
                .zip(&e.security_groups)
                .map(|(id, g)| (id, net.security_groups[g.index()].name.as_str()))
                .collect();
            x.set("groupSet", &named, |x, (id, name)| {
                x.text("groupId", id).text("groupName", name);
            });
            if let Some(ip) = e.public_ip {
                x.node("association", |x| {
                    x.text("publicIp", &ip.to_string())
                        .text("ipOwnerId", ctx.account_id);
                });
            }
            x.set("privateIpAddressesSet", &[e.private_ip], |x, ip| {
                x.text("privateIpAddress", &ip.to_string())
                    .text("primary", "true");
            });
            x.node("tagSet", |_| {});
        },
    );
    if let Some(n) = next {
        x.text("nextToken", &n);
    }
    Ok(Done::Read(x))
}

/// `DescribeNatGateways`.
pub fn describe_nat_gateways(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let net = ctx.net;
    let ids = p.list("NatGatewayId");
    let filters = p.filters()?;
    let known = ["nat-gateway-id", "vpc-id", "subnet-id", "state"];
    let mut found = Vec::new();
    for (i, g) in net.nat_gateways.iter().enumerate() {
        let Some(vpc) = vpc_view(ctx, g.vpc) else {
            continue;
        };
        let id = nat_id(net, i);
        if !ids.is_empty() && !ids.contains(&id) {
            continue;
        }
        let subnet = subnet_id(net, g.subnet);
        let tags = nat_tags(ctx, i);
        let ok = matches(&filters, &known, |name| {
            if let Some(v) = super::tags::tag_filter(name, &tags) {
                return v;
            }
            match name {
                "nat-gateway-id" => vec![id.clone()],
                "vpc-id" => vec![vpc.id.clone()],
                "subnet-id" => vec![subnet.clone()],
                _ => vec!["available".to_owned()],
            }
        })?;
        if ok {
            found.push((i, id, vpc.id.clone(), subnet));
        }
    }
    for id in &ids {
        if !found.iter().any(|f| &f.1 == id) {
            return Err(Ec2Error::new(
                "NatGatewayNotFound",
                format!("The Nat Gateway {id} was not found"),
            ));
        }
    }
    let (items, next) = page(&found, p.max_results(5, 1000)?, p.get("NextToken"))?;
    let mut x = Xml::default();
    x.set("natGatewaySet", &items, |x, (i, id, vpc, subnet)| {
        let g = &net.nat_gateways[*i];
        let eni = eni_id(net, g.eni.index());
        let private = std::iter::once(net.enis[g.eni.index()].private_ip)
            .chain(g.secondary_ips.iter().copied())
            .collect::<Vec<_>>();
        x.text("natGatewayId", id)
            .text("vpcId", vpc)
            .text("subnetId", subnet)
            .text("state", "available")
            .text(
                "connectivityType",
                if g.connectivity == NatConnectivity::Public {
                    "public"
                } else {
                    "private"
                },
            );
        let addrs: Vec<(usize, std::net::Ipv4Addr)> = private.into_iter().enumerate().collect();
        x.set("natGatewayAddressSet", &addrs, |x, (k, ip)| {
            x.text("networkInterfaceId", &eni)
                .text("privateIp", &ip.to_string());
            if let Some(public) = g.public_ips.get(*k) {
                let alloc = allocation_id(ctx, *public);
                x.text("allocationId", &alloc)
                    .text("publicIp", &public.to_string())
                    .text("associationId", &association_id(&alloc, &eni));
            }
            x.text("isPrimary", if *k == 0 { "true" } else { "false" })
                .text("status", "succeeded");
        });
        tag_set(x, &nat_tags(ctx, *i));
    });
    if let Some(n) = next {
        x.text("nextToken", &n);
    }
    Ok(Done::Read(x))
}

/// The tags of NAT gateway `i` (a gateway of the tenant's spec; a network's
/// have none).
pub(crate) fn nat_tags(ctx: &Ctx<'_>, i: usize) -> Tags {
    let g = &ctx.net.nat_gateways[i];
    vpc_view(ctx, g.vpc)
        .and_then(|v| super::vpcs::spec_vpc(ctx, v))
        .and_then(|at| {
            ctx.spec.vpcs[at]
                .nat_gateways
                .iter()
                .find(|x| x.name == g.name)
        })
        .map(|x| x.tags.clone())
        .unwrap_or_default()
}

/// `CreateNetworkInterface`: an ENI of the tenant's spec in the subnet, with an
/// address given or assigned from the subnet.
pub fn create_interface(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let sid = p.required("SubnetId")?;
    let s = super::vpcs::find_subnet(ctx, sid)?;
    let vpc = super::vpcs::find_vpc(ctx, &s.vpc_id)?;
    let groups = super::groups::groups(ctx);
    let mut names = Vec::new();
    for g in p.list("SecurityGroupId") {
        let found = groups
            .iter()
            .find(|x| x.id == g && x.vpc_id == vpc.id)
            .ok_or_else(|| Ec2Error::not_found("InvalidGroup.NotFound", "security group", &g))?;
        names.push(found.name.clone());
    }
    let ip = match p.get("PrivateIpAddress") {
        None => None,
        Some(text) => {
            let ip: std::net::Ipv4Addr = text.parse().map_err(|_| {
                Ec2Error::invalid_parameter(format!(
                    "Value ({text}) for parameter privateIpAddress is invalid."
                ))
            })?;
            let block: ipnet::Ipv4Net = s
                .cidr
                .parse()
                .map_err(|_| Ec2Error::new("InternalError", "the subnet's block does not parse"))?;
            if !block.contains(&ip) {
                return Err(Ec2Error::new(
                    "InvalidParameterValue",
                    format!("Address {ip} does not fall within the subnet's address range"),
                ));
            }
            if ctx.net.enis.iter().any(|e| e.private_ip == ip) {
                return Err(Ec2Error::new(
                    "InvalidIPAddress.InUse",
                    format!("The specified address is already in use: {ip}"),
                ));
            }
            Some(ip.to_string())
        }
    };
    let name = (ctx.new_name)();
    let mut spec = ctx.spec.clone();
    let at = super::vpcs::spec_vpc_or_add(ctx, &mut spec, vpc);
    spec.vpcs[at].enis.push(cove_model::spec::EniSpec {
        name: name.clone(),
        subnet: s.name.clone(),
        private_ip: ip.clone(),
        security_groups: names,
        description: p.get("Description").map(str::to_owned),
        ..cove_model::spec::EniSpec::default()
    });
    let id = resource_id("eni", None, &format!("{}/{}/{name}", ctx.tenant, vpc.name));
    let mut x = Xml::default();
    x.node("networkInterface", |x| {
        x.text("networkInterfaceId", &id)
            .text("subnetId", &s.id)
            .text("vpcId", &vpc.id)
            .text("availabilityZone", &s.az)
            .text("description", p.get("Description").unwrap_or_default())
            .text("ownerId", ctx.account_id)
            .text("requesterManaged", "false")
            .text("status", "pending")
            .text("interfaceType", "interface");
        if let Some(ip) = &ip {
            x.text("privateIpAddress", ip);
        }
        x.node("tagSet", |_| {});
    });
    Ok(Done::Write(x, Box::new(spec)))
}

/// `DeleteNetworkInterface`: one of the tenant's own ENIs (not a NAT gateway's,
/// an endpoint's or a function's).
pub fn delete_interface(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let net = ctx.net;
    let id = p.required("NetworkInterfaceId")?;
    let found = net.enis.iter().enumerate().find(|(i, e)| {
        vpc_view(ctx, e.vpc).is_some()
            && !matches!(e.owner, EniOwner::Front(_))
            && eni_id(net, *i) == id
    });
    let Some((_, e)) = found else {
        return Err(Ec2Error::not_found(
            "InvalidNetworkInterfaceID.NotFound",
            "network interface",
            id,
        ));
    };
    if !matches!(e.owner, EniOwner::User) {
        return Err(Ec2Error::new(
            "InvalidNetworkInterface.InUse",
            format!(
                "Interface: [{id}] in use: it is managed by its {} (delete that instead).",
                kind(e.owner).replace('_', " ")
            ),
        ));
    }
    let vpc = vpc_view(ctx, e.vpc).ok_or_else(|| {
        Ec2Error::not_found(
            "InvalidNetworkInterfaceID.NotFound",
            "network interface",
            id,
        )
    })?;
    let at = super::vpcs::spec_vpc(ctx, vpc)
        .filter(|&at| ctx.spec.vpcs[at].enis.iter().any(|x| x.name == e.name));
    let Some(at) = at else {
        return Err(Ec2Error::not_found(
            "InvalidNetworkInterfaceID.NotFound",
            "network interface",
            id,
        ));
    };
    let mut spec = ctx.spec.clone();
    spec.vpcs[at].enis.retain(|x| x.name != e.name);
    let mut x = Xml::default();
    x.text("return", "true");
    Ok(Done::Write(x, Box::new(spec)))
}
