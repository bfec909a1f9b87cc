//! EC2's Elastic IPs and NAT gateways: `AllocateAddress` and `ReleaseAddress`
//! (control-plane objects: addresses of the operator's pool held by the tenant),
//! `AssociateAddress` and `DisassociateAddress` (an ENI of the tenant's spec names
//! the allocation id), `CreateNatGateway` and `DeleteNatGateway` (a NAT gateway
//! of the tenant's spec with its allocations), and `DescribeAddresses`.

use std::net::Ipv4Addr;

use cove_control::{Change, ControlError, ElasticIp, Object};
use cove_model::ids::resource_id;
use cove_model::model::{EniOwner, Network};
use cove_model::spec::{NatGatewaySpec, TenantSpec};

use super::error::Ec2Error;
use super::interfaces::{eni_id, nat_id};
use super::params::Params;
use super::route_tables::vpc_view;
use super::vpcs::{Ctx, Done, matches, spec_vpc, spec_vpc_or_add};
use super::xml::Xml;

/// A control-plane refusal as EC2's error (the codes are EC2's).
pub(crate) fn from_control(e: &ControlError) -> Ec2Error {
    Ec2Error::new(e.code.as_str(), e.message.clone())
}

/// The tenant's Elastic IP holding `ip`, if one does (the tenant's addresses are
/// indexed once per call: a describe asks for each address it lists).
pub(crate) fn elastic_ip<'a>(ctx: &'a Ctx<'_>, ip: Ipv4Addr) -> Option<&'a ElasticIp> {
    ctx.eips
        .get_or_init(|| {
            cove_control::list_addresses(ctx.state, ctx.tenant_id)
                .into_iter()
                .map(|e| (e.public_ip, e))
                .collect()
        })
        .get(&ip)
        .copied()
}

/// The allocation id of `ip`: its Elastic IP's, or one derived from the tenant and
/// the address (a network's static IP).
pub(crate) fn allocation_id(ctx: &Ctx<'_>, ip: Ipv4Addr) -> String {
    elastic_ip(ctx, ip).map_or_else(
        || resource_id("eipalloc", None, &format!("{}/{ip}", ctx.tenant)),
        |e| e.id.clone(),
    )
}

/// The association of allocation `alloc` with interface `eni` (`eipassoc-…`).
pub(crate) fn association_id(alloc: &str, eni: &str) -> String {
    resource_id("eipassoc", None, &format!("{alloc}/{eni}"))
}

/// The tenant's ENI with public address `ip`, by index.
fn holder(ctx: &Ctx<'_>, ip: Ipv4Addr) -> Option<usize> {
    let net = ctx.net;
    net.nat_gateways
        .iter()
        .find(|g| g.public_ips.first() == Some(&ip) && vpc_view(ctx, g.vpc).is_some())
        .map(|g| g.eni.index())
        .or_else(|| {
            net.enis
                .iter()
                .position(|e| e.public_ip == Some(ip) && vpc_view(ctx, e.vpc).is_some())
        })
}

/// `AllocateAddress`: an address of the operator's pool, held by the tenant.
pub fn allocate(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    if let Some(d) = p.get("Domain").filter(|d| *d != "vpc") {
        return Err(Ec2Error::invalid_parameter(format!(
            "Invalid value '{d}' for domain: only `vpc` addresses exist."
        )));
    }
    if let Some(pool) = p.get("PublicIpv4Pool").filter(|x| *x != "cove") {
        return Err(Ec2Error::new(
            "InvalidPublicIpv4PoolID.NotFound",
            format!(
                "The pool ID '{pool}' does not exist: addresses come from the operator's pool `cove`."
            ),
        ));
    }
    let tags = super::tags::specified(p, "elastic-ip")?;
    let mut o = cove_control::allocate_address(ctx.state, ctx.tenant_id, ctx.env)
        .map_err(|e| from_control(&e))?;
    o.value.tags = tags;
    let eip = o.value;
    let mut x = Xml::default();
    x.text("publicIp", &eip.public_ip.to_string())
        .text("domain", "vpc")
        .text("allocationId", &eip.id)
        .text("publicIpv4Pool", "cove")
        .text("networkBorderGroup", ctx.region);
    Ok(Done::Control(
        x,
        None,
        vec![Change::Put(Object::ElasticIp(eip))],
    ))
}

/// The allocation a call names: `AllocationId`, or the tenant's Elastic IP
/// with `PublicIp`.
fn named_allocation<'a>(ctx: &'a Ctx<'_>, p: &Params) -> Result<&'a ElasticIp, Ec2Error> {
    if let Some(id) = p.get("AllocationId") {
        return cove_control::address(ctx.state, ctx.tenant_id, id).map_err(|e| from_control(&e));
    }
    let Some(text) = p.get("PublicIp") else {
        return Err(Ec2Error::missing("AllocationId"));
    };
    text.parse::<Ipv4Addr>()
        .ok()
        .and_then(|ip| elastic_ip(ctx, ip))
        .ok_or_else(|| {
            Ec2Error::new(
                "InvalidAddress.NotFound",
                format!("Address '{text}' not found."),
            )
        })
}

/// `ReleaseAddress`: back to the pool, once nothing is associated with it.
pub fn release(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let eip = named_allocation(ctx, p)?;
    let o = cove_control::release_address(ctx.state, ctx.tenant_id, ctx.spec, &eip.id, ctx.env)
        .map_err(|e| from_control(&e))?;
    let mut x = Xml::default();
    x.text("return", "true");
    Ok(Done::Control(x, None, o.changes))
}

/// Where the tenant's spec declares its ENI `i` of the model: (VPC entry, ENI).
fn spec_eni(ctx: &Ctx<'_>, i: usize) -> Option<(usize, usize)> {
    let e = &ctx.net.enis[i];
    let vpc = vpc_view(ctx, e.vpc)?;
    let at = spec_vpc(ctx, vpc)?;
    let k = ctx.spec.vpcs[at]
        .enis
        .iter()
        .position(|x| x.name == e.name)?;
    Some((at, k))
}

/// `AssociateAddress`: the tenant's Elastic IP to one of its own network
/// interfaces (`NetworkInterfaceId`, or the imported instance's `InstanceId`).
/// An allocation associated elsewhere moves only with `AllowReassociation`; one a
/// NAT gateway uses never does.
pub fn associate(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let eip = named_allocation(ctx, p)?;
    let net = ctx.net;
    let own = |i: &usize| {
        let e = &net.enis[*i];
        e.owner == EniOwner::User && vpc_view(ctx, e.vpc).is_some()
    };
    let target = match (p.get("NetworkInterfaceId"), p.get("InstanceId")) {
        (Some(id), _) => (0..net.enis.len())
            .filter(own)
            .find(|&i| eni_id(net, i) == id)
            .ok_or_else(|| {
                Ec2Error::not_found(
                    "InvalidNetworkInterfaceID.NotFound",
                    "network interface",
                    id,
                )
            })?,
        (None, Some(id)) => (0..net.enis.len())
            .filter(own)
            .find(|&i| net.enis[i].instance.as_deref() == Some(id))
            .ok_or_else(|| {
                Ec2Error::new(
                    "InvalidInstanceID.NotFound",
                    format!("The instance ID '{id}' does not exist"),
                )
            })?,
        (None, None) => {
            return Err(Ec2Error::new(
                "MissingParameter",
                "Either instance ID or network interface id must be specified",
            ));
        }
    };
    let Some((at, k)) = spec_eni(ctx, target) else {
        return Err(Ec2Error::not_found(
            "InvalidNetworkInterfaceID.NotFound",
            "network interface",
            &eni_id(net, target),
        ));
    };
    let reassociate = p.flag("AllowReassociation")?;
    let mut spec: TenantSpec = ctx.spec.clone();
    for (vi, v) in spec.vpcs.iter_mut().enumerate() {
        if v.nat_gateways
            .iter()
            .any(|g| g.public_ips.iter().any(|a| a.trim() == eip.id))
        {
            return Err(Ec2Error::new(
                "Resource.AlreadyAssociated",
                format!(
                    "resource {} is already associated with a NAT gateway",
                    eip.id
                ),
            ));
        }
        for (ki, e) in v.enis.iter_mut().enumerate() {
            let here = (vi, ki) == (at, k);
            if e.public_ip.as_deref().map(str::trim) == Some(eip.id.as_str()) && !here {
                if !reassociate {
                    return Err(Ec2Error::new(
                        "Resource.AlreadyAssociated",
                        format!(
                            "resource {} is already associated with network interface {}",
                            eip.id, e.name
                        ),
                    ));
                }
                e.public_ip = None;
            }
        }
    }
    spec.vpcs[at].enis[k].public_ip = Some(eip.id.clone());
    let mut x = Xml::default();
    x.text("return", "true").text(
        "associationId",
        &association_id(&eip.id, &eni_id(net, target)),
    );
    Ok(Done::Write(x, Box::new(spec)))
}

/// `DisassociateAddress`: by `AssociationId` (or the address, `PublicIp`).
pub fn disassociate(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let net = ctx.net;
    let wanted = match (p.get("AssociationId"), p.get("PublicIp")) {
        (Some(a), _) => a.to_owned(),
        (None, Some(ip)) => {
            let eip = named_allocation(ctx, p)?;
            let Some(i) = holder(ctx, eip.public_ip) else {
                return Err(Ec2Error::new(
                    "InvalidAssociationID.NotFound",
                    format!("The address '{ip}' is not associated"),
                ));
            };
            association_id(&eip.id, &eni_id(net, i))
        }
        (None, None) => return Err(Ec2Error::missing("AssociationId")),
    };
    let found = (0..net.enis.len()).find(|&i| {
        let e = &net.enis[i];
        e.owner == EniOwner::User
            && vpc_view(ctx, e.vpc).is_some()
            && e.public_ip
                .and_then(|ip| elastic_ip(ctx, ip))
                .is_some_and(|a| association_id(&a.id, &eni_id(net, i)) == wanted)
    });
    let Some((at, k)) = found.and_then(|i| spec_eni(ctx, i)) else {
        return Err(Ec2Error::new(
            "InvalidAssociationID.NotFound",
            format!("The association ID '{wanted}' does not exist"),
        ));
    };
    let mut spec = ctx.spec.clone();
    spec.vpcs[at].enis[k].public_ip = None;
    let mut x = Xml::default();
    x.text("return", "true");
    Ok(Done::Write(x, Box::new(spec)))
}

/// `CreateNatGateway`: in a subnet of a VPC of the tenant's own (a network's NAT
/// gateways are its layout's), public with its Elastic IPs (`AllocationId`, and
/// `SecondaryAllocationId.N`) or private with none.
pub fn create_nat_gateway(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let sid = p.required("SubnetId")?;
    let s = super::vpcs::find_subnet(ctx, sid)?;
    let vpc = super::vpcs::find_vpc(ctx, &s.vpc_id)?;
    if ctx.networks.iter().any(|n| n.id == vpc.name) {
        return Err(Ec2Error::new(
            "OperationNotPermitted",
            format!(
                "VPC {} is a Secure Compute network's: its NAT gateways are its layout's (with the network's static IPs); create NAT gateways in a VPC made with CreateVpc",
                vpc.id
            ),
        ));
    }
    let connectivity = p.get("ConnectivityType").unwrap_or("public");
    if !matches!(connectivity, "public" | "private") {
        return Err(Ec2Error::invalid_parameter(format!(
            "Value ({connectivity}) for parameter connectivityType is invalid. Use public or private."
        )));
    }
    // cove's NAT gateway translates to one private address (a private one) or to
    // its Elastic IPs (a public one): secondary private addresses are refused, not
    // ignored.
    if p.get("SecondaryPrivateIpAddressCount").is_some()
        || !p.list("SecondaryPrivateIpAddress").is_empty()
    {
        return Err(Ec2Error::new(
            "UnsupportedOperation",
            "cove's NAT gateways have one private address: leave out SecondaryPrivateIpAddressCount and SecondaryPrivateIpAddress (a public NAT gateway takes more Elastic IPs with SecondaryAllocationId).",
        ));
    }
    let mut allocations: Vec<&str> = p.get("AllocationId").into_iter().collect();
    let secondary = p.list("SecondaryAllocationId");
    allocations.extend(secondary.iter().map(String::as_str));
    match (connectivity, allocations.is_empty()) {
        ("public", true) => return Err(Ec2Error::missing("AllocationId")),
        ("private", false) => {
            return Err(Ec2Error::new(
                "InvalidParameterCombination",
                "A private NAT gateway takes no Elastic IP: leave out AllocationId.",
            ));
        }
        _ => {}
    }
    let associated = cove_control::addresses::associations(ctx.spec);
    let mut public = Vec::new();
    for a in &allocations {
        let eip =
            cove_control::address(ctx.state, ctx.tenant_id, a).map_err(|e| from_control(&e))?;
        if associated.iter().any(|(_, x)| *x == eip.id) || public.contains(&eip) {
            return Err(Ec2Error::new(
                "Resource.AlreadyAssociated",
                format!("Elastic IP address [{}] is already associated", eip.id),
            ));
        }
        public.push(eip);
    }
    let name = (ctx.new_name)();
    let tags = super::tags::specified(p, "natgateway")?;
    let mut spec = ctx.spec.clone();
    let at = spec_vpc_or_add(ctx, &mut spec, vpc);
    spec.vpcs[at].nat_gateways.push(NatGatewaySpec {
        name: name.clone(),
        subnet: s.name.clone(),
        connectivity: Some(connectivity.to_owned()),
        private_ip: p.get("PrivateIpAddress").map(str::to_owned),
        public_ips: public.iter().map(|e| e.id.clone()).collect(),
        tags: tags.clone(),
        ..NatGatewaySpec::default()
    });
    let id = resource_id("nat", None, &format!("{}/{}/{name}", ctx.tenant, vpc.name));
    let mut x = Xml::default();
    x.text("clientToken", p.get("ClientToken").unwrap_or_default());
    x.node("natGateway", |x| {
        x.text("natGatewayId", &id)
            .text("subnetId", &s.id)
            .text("vpcId", &vpc.id)
            .text("state", "pending")
            .text("connectivityType", connectivity);
        x.set("natGatewayAddressSet", &public, |x, e| {
            x.text("allocationId", &e.id)
                .text("publicIp", &e.public_ip.to_string())
                .text("status", "associating");
        });
        super::tags::tag_set(x, &tags);
    });
    Ok(Done::Write(x, Box::new(spec)))
}

/// `DeleteNatGateway`: routes through it stay, as blackholes (AWS's route state
/// `blackhole`); its Elastic IPs are free again.
pub fn delete_nat_gateway(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let net: &Network = ctx.net;
    let id = p.required("NatGatewayId")?;
    let not_found = || {
        Ec2Error::new(
            "NatGatewayNotFound",
            format!("The Nat Gateway {id} was not found"),
        )
    };
    let (_, g) = net
        .nat_gateways
        .iter()
        .enumerate()
        .find(|(i, g)| vpc_view(ctx, g.vpc).is_some() && nat_id(net, *i) == id)
        .ok_or_else(not_found)?;
    let vpc = vpc_view(ctx, g.vpc).ok_or_else(not_found)?;
    if ctx.networks.iter().any(|n| n.id == vpc.name) {
        return Err(Ec2Error::new(
            "OperationNotPermitted",
            format!("NAT gateway {id} is a Secure Compute network's: it goes with the network"),
        ));
    }
    let mut spec = ctx.spec.clone();
    let at = spec_vpc(ctx, vpc)
        .filter(|&at| spec.vpcs[at].nat_gateways.iter().any(|x| x.name == g.name))
        .ok_or_else(not_found)?;
    let v = &mut spec.vpcs[at];
    v.nat_gateways.retain(|x| x.name != g.name);
    for r in v.route_tables.iter_mut().flat_map(|t| t.routes.iter_mut()) {
        if r.nat_gateway.as_deref() == Some(g.name.as_str()) {
            r.nat_gateway = None;
            r.blackhole = true;
        }
    }
    let mut x = Xml::default();
    x.text("natGatewayId", id);
    Ok(Done::Write(x, Box::new(spec)))
}

/// One address as `DescribeAddresses` lists it.
struct Listed {
    public: String,
    alloc: String,
    /// (ENI id, private address) when associated.
    at: Option<(String, String)>,
    tags: super::tags::Tags,
}

/// `DescribeAddresses`: the tenant's Elastic IPs (associated or not) and its
/// networks' static IPs, as addresses of the `vpc` domain.
pub fn describe(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let net = ctx.net;
    let ips = p.list("PublicIp");
    let allocations = p.list("AllocationId");
    let filters = p.filters()?;
    let known = [
        "public-ip",
        "allocation-id",
        "association-id",
        "network-interface-id",
        "private-ip-address",
        "domain",
        "network-border-group",
    ];
    let mut all: Vec<Listed> = Vec::new();
    // Addresses in use: NAT gateways' (primary and secondary) and ENIs'.
    for g in &net.nat_gateways {
        if vpc_view(ctx, g.vpc).is_none() {
            continue;
        }
        let eni = eni_id(net, g.eni.index());
        let private = std::iter::once(net.enis[g.eni.index()].private_ip)
            .chain(g.secondary_ips.iter().copied());
        for (public, private) in g.public_ips.iter().zip(private) {
            all.push(Listed {
                public: public.to_string(),
                alloc: allocation_id(ctx, *public),
                at: Some((eni.clone(), private.to_string())),
                tags: elastic_ip(ctx, *public)
                    .map(|e| e.tags.clone())
                    .unwrap_or_default(),
            });
        }
    }
    for (i, e) in net.enis.iter().enumerate() {
        if let (Some(public), Some(_)) = (e.public_ip, vpc_view(ctx, e.vpc)) {
            all.push(Listed {
                public: public.to_string(),
                alloc: allocation_id(ctx, public),
                at: Some((eni_id(net, i), e.private_ip.to_string())),
                tags: elastic_ip(ctx, public)
                    .map(|e| e.tags.clone())
                    .unwrap_or_default(),
            });
        }
    }
    // Elastic IPs associated with nothing.
    let in_use: std::collections::HashSet<String> = all.iter().map(|l| l.public.clone()).collect();
    for e in cove_control::list_addresses(ctx.state, ctx.tenant_id) {
        let ip = e.public_ip.to_string();
        if !in_use.contains(&ip) {
            all.push(Listed {
                public: ip,
                alloc: e.id.clone(),
                at: None,
                tags: e.tags.clone(),
            });
        }
    }
    let mut found = Vec::new();
    for l in all {
        if (!ips.is_empty() && !ips.contains(&l.public))
            || (!allocations.is_empty() && !allocations.contains(&l.alloc))
        {
            continue;
        }
        let assoc = l.at.as_ref().map(|(eni, _)| association_id(&l.alloc, eni));
        let ok = matches(&filters, &known, |name| {
            if let Some(v) = super::tags::tag_filter(name, &l.tags) {
                return v;
            }
            match name {
                "public-ip" => vec![l.public.clone()],
                "allocation-id" => vec![l.alloc.clone()],
                "association-id" => assoc.iter().cloned().collect(),
                "network-interface-id" => l.at.iter().map(|a| a.0.clone()).collect(),
                "private-ip-address" => l.at.iter().map(|a| a.1.clone()).collect(),
                "network-border-group" => vec![ctx.region.to_owned()],
                _ => vec!["vpc".to_owned()],
            }
        })?;
        if ok {
            found.push((l, assoc));
        }
    }
    for ip in &ips {
        if !found.iter().any(|(l, _)| &l.public == ip) {
            return Err(Ec2Error::new(
                "InvalidAddress.NotFound",
                format!("Address '{ip}' not found."),
            ));
        }
    }
    for a in &allocations {
        if !found.iter().any(|(l, _)| &l.alloc == a) {
            return Err(Ec2Error::new(
                "InvalidAllocationID.NotFound",
                format!("The allocation ID '{a}' does not exist"),
            ));
        }
    }
    let mut x = Xml::default();
    x.set("addressesSet", &found, |x, (l, assoc)| {
        x.text("publicIp", &l.public)
            .text("allocationId", &l.alloc)
            .text("domain", "vpc");
        if let (Some((eni, private)), Some(assoc)) = (&l.at, assoc) {
            x.text("associationId", assoc)
                .text("networkInterfaceId", eni)
                .text("networkInterfaceOwnerId", ctx.account_id)
                .text("privateIpAddress", private);
        }
        x.text("publicIpv4Pool", "cove")
            .text("networkBorderGroup", ctx.region);
        super::tags::tag_set(x, &l.tags);
    });
    Ok(Done::Read(x))
}
