//! VPC and subnet CIDR rules (AWS): blocks from /16 to /28, at most five per VPC,
//! secondary blocks not overlapping the VPC's others nor crossing RFC 1918 ranges;
//! subnets inside one VPC block and not overlapping each other.

use ipnet::Ipv4Net;

use super::scope::{VpcScope, next_id};
use super::{Ctx, Path, parse};
use crate::diag::ErrorCode;
use crate::model::*;
use crate::spec::VpcSpec;

const RFC1918: [(u32, u8); 3] = [
    (0x0A00_0000, 8),  // 10.0.0.0/8
    (0xAC10_0000, 12), // 172.16.0.0/12
    (0xC0A8_0000, 16), // 192.168.0.0/16
];

/// The RFC 1918 range containing `net`, if any.
fn rfc1918_of(net: Ipv4Net) -> Option<Ipv4Net> {
    RFC1918.iter().find_map(|(base, len)| {
        let r = Ipv4Net::new(std::net::Ipv4Addr::from(*base), *len).ok()?;
        r.contains(&net).then_some(r)
    })
}

/// Whether two CIDRs share any address.
pub(crate) fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Parses a VPC or subnet block: a well-formed CIDR whose size is outside /16–/28
/// is `code` (EC2's range code), checked first; anything else malformed (syntax,
/// host bits) is `InvalidParameterValue`.
fn block(cx: &mut Ctx, path: &Path, text: &str, code: ErrorCode, what: &str) -> Option<Ipv4Net> {
    if let Ok(net) = text.trim().parse::<Ipv4Net>() {
        if !(16..=28).contains(&net.prefix_len()) {
            cx.error(
                code,
                path,
                format!("the CIDR `{net}` is invalid: {what} must be between /16 and /28"),
                "choose a block from /16 (65,536 addresses) to /28 (16 addresses), e.g. 10.20.0.0/16",
            );
            return None;
        }
    }
    parse::cidr(cx, path, text)
}

/// Parses and checks a VPC's CIDR blocks. Returns the valid blocks (primary first)
/// and whether all of them were valid.
pub(crate) fn vpc_cidrs(cx: &mut Ctx, path: &Path, v: &VpcSpec) -> (Vec<Ipv4Net>, bool) {
    let mut out = Vec::new();
    let mut ok = true;
    let all = std::iter::once((path.key("cidr"), &v.cidr)).chain(
        v.secondary_cidrs
            .iter()
            .enumerate()
            .map(|(i, c)| (path.key("secondary_cidrs").index(i), c)),
    );
    for (i, (p, text)) in all.enumerate() {
        let Some(net) = block(cx, &p, text, ErrorCode::InvalidVpcRange, "a VPC block") else {
            ok = false;
            continue;
        };
        if !(16..=28).contains(&net.prefix_len()) {
            cx.error(
                ErrorCode::InvalidVpcRange,
                &p,
                format!("the CIDR `{net}` is invalid: a VPC block must be between /16 and /28"),
                "choose a block from /16 (65,536 addresses) to /28 (16 addresses), e.g. 10.20.0.0/16",
            );
            ok = false;
            continue;
        }
        if let Some(prev) = out.iter().find(|o: &&Ipv4Net| overlaps(**o, net)) {
            cx.error(
                ErrorCode::InvalidVpcRange,
                &p,
                format!("`{net}` overlaps `{prev}`, already a block of this VPC"),
                "choose a secondary block that does not overlap the VPC's other blocks",
            );
            ok = false;
            continue;
        }
        if i > 0 {
            if let (Some(primary), Some(r)) = (out.first().copied(), rfc1918_of(net)) {
                if let Some(pr) = rfc1918_of(primary) {
                    if pr != r {
                        cx.error(
                            ErrorCode::InvalidVpcRange,
                            &p,
                            format!(
                                "`{net}` is in the RFC 1918 range {r}, but the primary block `{primary}` is in {pr}"
                            ),
                            format!(
                                "AWS does not associate a secondary block from a different RFC 1918 range; choose one inside {pr} or a publicly routable block"
                            ),
                        );
                        ok = false;
                        continue;
                    }
                }
            }
        }
        out.push(net);
    }
    let max = cx.quotas.cidr_blocks_per_vpc;
    if 1 + v.secondary_cidrs.len() > max {
        cx.error(
            ErrorCode::CidrLimitExceeded,
            &path.key("secondary_cidrs"),
            format!(
                "the VPC has {} CIDR blocks; at most {max} are allowed",
                1 + v.secondary_cidrs.len()
            ),
            "remove secondary blocks, use larger blocks, or raise `quotas.cidr_blocks_per_vpc` (AWS's ceiling is 50)",
        );
        ok = false;
    }
    (out, ok)
}

/// Declares the subnets of a VPC and checks their ranges and overlaps.
pub(crate) fn subnets(cx: &mut Ctx, scope: &mut VpcScope, vid: VpcId, v: &VpcSpec, path: &Path) {
    let mut placed: Vec<(Ipv4Net, String)> = Vec::new();
    let vpc_cidrs = cx.net.vpcs[vid.index()].cidrs.clone();
    for (si, s) in v.subnets.iter().enumerate() {
        let spath = path.item("subnets", &s.name, si);
        parse::name(cx, &spath, &s.name);
        let id = SubnetId(next_id(cx.net.subnets.len()));
        if !scope.subnets.insert(&s.name, s.id.as_deref(), id) {
            cx.error(
                ErrorCode::DuplicateName,
                &spath.key("name"),
                format!("subnet `{}` is declared twice in this VPC", s.name),
                "give each subnet of a VPC a unique name",
            );
        }
        if s.az.trim().is_empty() {
            cx.error(
                ErrorCode::MissingParameter,
                &spath.key("az"),
                "`az` is missing or empty",
                "set the availability-zone label, e.g. `az: us-east-1a`",
            );
        }
        let cpath = spath.key("cidr");
        let net = block(
            cx,
            &cpath,
            &s.cidr,
            ErrorCode::InvalidSubnetRange,
            "a subnet",
        );
        let net = net.filter(|net| subnet_range_ok(cx, &cpath, *net, &vpc_cidrs, scope.cidrs_ok));
        if let Some(net) = net {
            if let Some((other, oname)) = placed.iter().find(|(o, _)| overlaps(*o, net)) {
                cx.error(
                    ErrorCode::InvalidSubnetConflict,
                    &cpath,
                    format!("the CIDR `{net}` conflicts with subnet `{oname}` ({other})"),
                    "choose a block that does not overlap another subnet of this VPC",
                );
                scope.broken_subnets.push(id);
            } else {
                placed.push((net, s.name.clone()));
            }
        } else {
            scope.broken_subnets.push(id);
        }
        cx.net.subnets.push(Subnet {
            vpc: vid,
            name: s.name.clone(),
            aws_id: s.id.clone(),
            cidr: net.unwrap_or_else(|| Ipv4Net::from(std::net::Ipv4Addr::UNSPECIFIED)),
            az: s.az.clone(),
            route_table: RouteTableId(u32::MAX),
            network_acl: NaclId(u32::MAX),
        });
        cx.net.vpcs[vid.index()].subnets.push(id);
    }
}

fn subnet_range_ok(
    cx: &mut Ctx,
    path: &Path,
    net: Ipv4Net,
    vpc_cidrs: &[Ipv4Net],
    vpc_ok: bool,
) -> bool {
    if !(16..=28).contains(&net.prefix_len()) {
        cx.error(
            ErrorCode::InvalidSubnetRange,
            path,
            format!("the CIDR `{net}` is invalid: a subnet must be between /16 and /28"),
            "choose a block from /16 to /28, e.g. a /24",
        );
        return false;
    }
    if vpc_cidrs.iter().any(|c| c.contains(&net)) {
        return true;
    }
    if vpc_ok {
        let blocks: Vec<String> = vpc_cidrs.iter().map(ToString::to_string).collect();
        cx.error(
            ErrorCode::InvalidSubnetRange,
            path,
            format!(
                "the CIDR `{net}` is not inside one of the VPC's blocks ({})",
                blocks.join(", ")
            ),
            "choose a block inside one VPC block, or add a secondary block to the VPC",
        );
    }
    false
}
