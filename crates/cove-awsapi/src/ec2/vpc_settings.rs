//! EC2's VPC settings over a tenant's desired spec (pure): the DNS attributes
//! (`DescribeVpcAttribute`, `ModifyVpcAttribute`) and secondary blocks
//! (`AssociateVpcCidrBlock`, `DisassociateVpcCidrBlock`).

use cove_model::ids::resource_id;

use super::error::Ec2Error;
use super::params::Params;
use super::vpcs::{Ctx, Done, find_vpc, spec_vpc, spec_vpc_or_add};
use super::xml::Xml;

/// `DescribeVpcAttribute` (`enableDnsSupport`, `enableDnsHostnames`,
/// `enableNetworkAddressUsageMetrics`).
pub fn describe_vpc_attribute(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let vpc = find_vpc(ctx, p.required("VpcId")?)?;
    let attribute = p.required("Attribute")?;
    let value = match attribute {
        "enableDnsSupport" => vpc.dns_support,
        "enableDnsHostnames" => vpc.dns_hostnames,
        "enableNetworkAddressUsageMetrics" => false,
        other => {
            return Err(Ec2Error::invalid_parameter(format!(
                "Value ({other}) for parameter attribute is invalid. Unknown attribute."
            )));
        }
    };
    let mut x = Xml::default();
    x.text("vpcId", &vpc.id).node(attribute, |x| {
        x.text("value", if value { "true" } else { "false" });
    });
    Ok(Done::Read(x))
}

/// `ModifyVpcAttribute`: one of `EnableDnsSupport` / `EnableDnsHostnames` per call,
/// kept in the spec's `dns_support` / `dns_hostnames`.
pub fn modify_vpc_attribute(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let vpc = find_vpc(ctx, p.required("VpcId")?)?;
    let given: Vec<(&str, &str)> = ["EnableDnsSupport", "EnableDnsHostnames"]
        .into_iter()
        .filter_map(|k| p.get(&format!("{k}.Value")).map(|v| (k, v)))
        .collect();
    let [(attribute, value)] = given.as_slice() else {
        return Err(Ec2Error::new(
            if given.is_empty() {
                "MissingParameter"
            } else {
                "InvalidParameterCombination"
            },
            "Give exactly one of EnableDnsSupport and EnableDnsHostnames per call.",
        ));
    };
    let on = match value.to_ascii_lowercase().as_str() {
        "true" => true,
        "false" => false,
        _ => {
            return Err(Ec2Error::invalid_parameter(format!(
                "Invalid value '{value}' for {attribute}: use true or false"
            )));
        }
    };
    if *attribute == "EnableDnsHostnames" && on && !vpc.dns_support {
        return Err(Ec2Error::new(
            "InvalidParameterCombination",
            "Cannot enable DNS hostnames while DNS resolution is off; enable DNS support first.",
        ));
    }
    let mut spec = ctx.spec.clone();
    let at = spec_vpc_or_add(ctx, &mut spec, vpc);
    if *attribute == "EnableDnsSupport" {
        spec.vpcs[at].dns_support = Some(on);
    } else {
        spec.vpcs[at].dns_hostnames = Some(on);
    }
    let mut x = Xml::default();
    x.text("return", "true");
    Ok(Done::Write(x, Box::new(spec)))
}

/// A VPC block's association id.
pub(crate) fn cidr_association_id(vpc_id: &str, cidr: &str) -> String {
    resource_id("vpc-cidr-assoc", None, &format!("{vpc_id}/{cidr}"))
}

/// `AssociateVpcCidrBlock`: a secondary block (validated as the spec's are:
/// `InvalidVpc.Range`, overlaps, the quota of blocks).
pub fn associate_cidr(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let vpc = find_vpc(ctx, p.required("VpcId")?)?;
    let Some(text) = p.get("CidrBlock") else {
        return Err(Ec2Error::missing("CidrBlock"));
    };
    let block: ipnet::Ipv4Net = text.parse().map_err(|_| {
        Ec2Error::invalid_parameter(format!(
            "Value ({text}) for parameter cidrBlock is invalid. This is not a valid CIDR block."
        ))
    })?;
    let cidr = block.trunc().to_string();
    if vpc.cidrs.contains(&cidr) {
        return Err(Ec2Error::new(
            "InvalidVpc.Range",
            format!("The CIDR '{cidr}' is already associated with {}.", vpc.id),
        ));
    }
    let mut spec = ctx.spec.clone();
    let at = spec_vpc_or_add(ctx, &mut spec, vpc);
    spec.vpcs[at].secondary_cidrs.push(cidr.clone());
    let assoc = cidr_association_id(&vpc.id, &cidr);
    let mut x = Xml::default();
    x.text("vpcId", &vpc.id).node("cidrBlockAssociation", |x| {
        x.text("associationId", &assoc)
            .text("cidrBlock", &cidr)
            .node("cidrBlockState", |x| {
                x.text("state", "associating");
            });
    });
    Ok(Done::Write(x, Box::new(spec)))
}

/// `DisassociateVpcCidrBlock`: a secondary block no subnet uses.
pub fn disassociate_cidr(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let id = p.required("AssociationId")?;
    let found = ctx.view.vpcs.iter().find_map(|v| {
        v.cidrs
            .iter()
            .position(|c| cidr_association_id(&v.id, c) == id)
            .map(|i| (v, i))
    });
    let Some((vpc, i)) = found else {
        return Err(Ec2Error::new(
            "InvalidVpcCidrBlockAssociationID.NotFound",
            format!("The vpc CIDR block association ID '{id}' does not exist"),
        ));
    };
    let cidr = vpc.cidrs[i].clone();
    if i == 0 {
        return Err(Ec2Error::new(
            "OperationNotPermitted",
            format!(
                "The vpc CIDR block {cidr} is the VPC's primary block and cannot be disassociated."
            ),
        ));
    }
    let block: ipnet::Ipv4Net = cidr
        .parse()
        .map_err(|_| Ec2Error::new("InternalError", "a VPC block does not parse"))?;
    let used = ctx.view.subnets.iter().any(|s| {
        s.vpc_id == vpc.id
            && s.cidr
                .parse::<ipnet::Ipv4Net>()
                .is_ok_and(|n| block.contains(&n.network()))
    });
    if used {
        return Err(Ec2Error::new(
            "DependencyViolation",
            format!("The vpc CIDR block {cidr} has subnets and cannot be disassociated."),
        ));
    }
    let own = spec_vpc(ctx, vpc).filter(|&at| ctx.spec.vpcs[at].secondary_cidrs.contains(&cidr));
    let Some(at) = own else {
        return Err(Ec2Error::new(
            "OperationNotPermitted",
            format!("The vpc CIDR block {cidr} is part of a Secure Compute network's layout."),
        ));
    };
    let mut spec = ctx.spec.clone();
    spec.vpcs[at].secondary_cidrs.retain(|c| c != &cidr);
    let mut x = Xml::default();
    x.text("vpcId", &vpc.id).node("cidrBlockAssociation", |x| {
        x.text("associationId", id)
            .text("cidrBlock", &cidr)
            .node("cidrBlockState", |x| {
                x.text("state", "disassociating");
            });
    });
    Ok(Done::Write(x, Box::new(spec)))
}
