//! Public addresses (ENIs' public IPs, NAT gateways' Elastic IPs) across the whole
//! spec: each is used once, and none is inside a VPC block of the spec (there it
//! would be one of the network's private addresses). Whether each is a public
//! unicast address at all is checked where it is parsed ([`super::parse::public_ip`]).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use super::parse::public_ip_problem;
use super::scope::{Scopes, next_id};
use super::{Ctx, Path};
use crate::diag::ErrorCode;
use crate::model::VpcId;
use crate::spec::Spec;

/// Pass 4: every public address is outside every VPC block and used once (NAT
/// gateways first, then ENIs, in spec order; the later use is the error).
pub(crate) fn public_addresses(cx: &mut Ctx, spec: &Spec, sc: &Scopes) {
    let mut uses: Vec<(Path, &str, String)> = Vec::new();
    for scope in &sc.vpcs {
        let v = &spec.tenants[scope.tenant_index].vpcs[scope.vpc_index];
        let vpc = format!("{}/{}", spec.tenants[scope.tenant_index].name, v.name);
        for (ni, n) in v.nat_gateways.iter().enumerate() {
            let npath = scope.path.item("nat_gateways", &n.name, ni);
            for (i, text) in n.public_ips.iter().enumerate() {
                let who = format!("NAT gateway `{}` of VPC {vpc}", n.name);
                uses.push((npath.key("public_ips").index(i), text, who));
            }
        }
        for (ei, e) in v.enis.iter().enumerate() {
            if let Some(text) = &e.public_ip {
                let path = scope.path.item("enis", &e.name, ei).key("public_ip");
                uses.push((path, text, format!("ENI `{}` of VPC {vpc}", e.name)));
            }
        }
    }
    let mut used: HashMap<Ipv4Addr, String> = HashMap::new();
    for (path, text, who) in uses {
        // Malformed and non-public addresses were reported where they were parsed.
        let Ok(ip) = text.trim().parse::<Ipv4Addr>() else {
            continue;
        };
        if public_ip_problem(ip).is_some() {
            continue;
        }
        let inside = cx.net.vpcs.iter().enumerate().find_map(|(i, v)| {
            let block = v.cidrs.iter().find(|c| c.contains(&ip))?;
            Some((*block, VpcId(next_id(i))))
        });
        if let Some((block, vid)) = inside {
            let vpc = cx.net.vpc_path(vid);
            cx.error(
                ErrorCode::InvalidParameterValue,
                &path,
                format!("`{ip}` is inside the block {block} of VPC {vpc}: it is one of the network's private addresses, not a public IP"),
                "choose a public address outside every VPC block of the spec",
            );
            continue;
        }
        if let Some(other) = used.get(&ip) {
            cx.error(
                ErrorCode::InvalidIpAddressInUse,
                &path,
                format!("public address {ip} is already used by {other}"),
                "give every interface and NAT gateway its own public address",
            );
            continue;
        }
        used.insert(ip, who);
    }
}
