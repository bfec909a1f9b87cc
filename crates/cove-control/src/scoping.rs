//! What a tenant's spec may name: its own objects only. The desired spec puts every
//! tenant's part into one [`cove_model::spec::Spec`], where a reference can resolve
//! across tenants (`tenant/vpc/group`, `tenant/list`, an imported `sg-…`/`pl-…` id,
//! a peering by its id) and where public addresses are global. A tenant's spec is
//! refused here before it reaches that spec, with errors that name only what the
//! tenant wrote and read the same whether the other tenant's object exists or not.

use std::collections::BTreeSet;

use cove_model::spec::{TenantSpec, VpcSpec};
use ipnet::Ipv4Net;

use crate::error::{ControlError, ErrorCode, Result};
use crate::network::extends;
use crate::state::ControlState;
use crate::types::{Network, Tenant};

/// Checks that `spec` (the tenant `t`'s) names only its own objects, claims no
/// public address and no id, and adds to at most one network per VPC.
pub(crate) fn check_scope(
    state: &ControlState,
    t: &Tenant,
    spec: &TenantSpec,
    previous: Option<&TenantSpec>,
) -> Result<()> {
    let nets = state.networks_of(&t.id);
    // (VPC name, peering id) of the routes the stored spec has: kept routes may
    // name a connection that has ended since.
    let routed_before: BTreeSet<(&str, &str)> = previous
        .into_iter()
        .flat_map(|p| &p.vpcs)
        .flat_map(|v| {
            v.route_tables
                .iter()
                .flat_map(|t| &t.routes)
                .filter_map(move |r| Some((v.name.as_str(), r.peering.as_deref()?)))
        })
        .collect();
    let own_lists: BTreeSet<&str> = spec
        .prefix_lists
        .iter()
        .flat_map(|p| std::iter::once(p.name.as_str()).chain(p.id.as_deref()))
        .collect();
    for (pi, p) in spec.prefix_lists.iter().enumerate() {
        check_id(
            &format!("prefix_lists[{}].id", label(&p.name, pi)),
            p.id.as_deref(),
            "pl",
        )?;
    }
    let mut associated: BTreeSet<&str> = BTreeSet::new();
    for (vi, v) in spec.vpcs.iter().enumerate() {
        let path = format!("vpcs[{}]", label(&v.name, vi));
        let mine: Vec<&&Network> = nets.iter().filter(|n| extends(v, n)).collect();
        if let [first, second, ..] = mine.as_slice() {
            return Err(ControlError::field(
                ErrorCode::InvalidParameterCombination,
                path,
                format!(
                    "VPC `{}` adds to two networks, `{}` and `{}` (by name, network id or VPC id)",
                    v.name, first.name, second.name
                ),
                "name one network only: give the VPC the network's id as its name and no `id`",
            ));
        }
        let network = mine.first().copied().copied();
        check_ids(&path, v, network)?;
        check_public_ips(state, t, &path, v, &mut associated)?;
        check_code(&path, v)?;
        check_blocks(&path, v)?;
        // The groups of this VPC: of every spec VPC that makes the same VPC.
        let same_vpc = |x: &&VpcSpec| match network {
            Some(n) => extends(x, n),
            None => x.name == v.name,
        };
        let groups: BTreeSet<&str> = spec
            .vpcs
            .iter()
            .filter(same_vpc)
            .flat_map(|x| &x.security_groups)
            .flat_map(|g| std::iter::once(g.name.as_str()).chain(g.id.as_deref()))
            .chain(std::iter::once("default"))
            .collect();
        // The VPC's id: its network's, or the standalone VPC's (a route may name
        // a live peering of that VPC only).
        let vpc_id = network.map_or_else(
            || crate::peerable::standalone_vpc_id(&t.name, v),
            |n| n.vpc_id.clone(),
        );
        let peering_ok = |p: &str| {
            crate::peerable::peering_of_vpc(state, &t.id, &vpc_id, p)
                || routed_before.contains(&(v.name.as_str(), p))
        };
        check_references(&path, v, &peering_ok, &groups, &own_lists)?;
    }
    check_peered_vpcs_kept(state, t, spec)?;
    Ok(())
}

fn list_not_found(field: String, p: &str) -> ControlError {
    ControlError::field(
        ErrorCode::InvalidPrefixListIdNotFound,
        field,
        format!("prefix list `{p}` does not exist"),
        "declare it under your spec's `prefix_lists` and name it by its name",
    )
}

/// A standalone VPC with a live peering connection stays in the spec until the
/// connection is deleted (its id would come back with a VPC of the same name).
fn check_peered_vpcs_kept(state: &ControlState, t: &Tenant, spec: &TenantSpec) -> Result<()> {
    let kept: BTreeSet<String> = crate::network::standalone_vpcs(state, &t.id, spec)
        .into_iter()
        .map(|v| crate::peerable::standalone_vpc_id(&t.name, v))
        .collect();
    for p in state.peerings.values().filter(|p| p.status.is_live()) {
        let sides = [
            (
                Some(&p.requester.tenant),
                &p.requester.network,
                &p.requester.vpc_id,
            ),
            (
                p.accepter.tenant.as_ref(),
                &p.accepter.network,
                &p.accepter.vpc_id,
            ),
        ];
        for (tenant, network, vpc_id) in sides {
            if tenant == Some(&t.id) && network.is_none() && !kept.contains(vpc_id) {
                return Err(ControlError::field(
                    ErrorCode::DependencyViolation,
                    "vpcs",
                    format!(
                        "VPC `{vpc_id}` has the {} peering connection `{}` and cannot be removed",
                        p.status.as_str(),
                        p.id
                    ),
                    "delete the peering connection first (or reject the request)",
                ));
            }
        }
    }
    Ok(())
}

/// `name`, or the index when the name is empty (the model's path convention).
fn label(name: &str, index: usize) -> String {
    if name.is_empty() {
        index.to_string()
    } else {
        name.to_owned()
    }
}

/// Ids are the platform's to give out, as AWS gives them out: an `id` written in a
/// spec is looked up across the whole desired spec, so it could stand for another
/// tenant's name, collide with another tenant's id (and the error would then name
/// that tenant's object), or tell which ids exist. A spec names objects by name.
fn check_id(field: &str, id: Option<&str>, prefix: &str) -> Result<()> {
    let Some(id) = id else {
        return Ok(());
    };
    Err(ControlError::field(
        ErrorCode::InvalidParameterValue,
        field,
        format!("`{id}`: ids are given out by the platform; a spec cannot set one"),
        format!(
            "remove `id` and name the object by its name (a network's VPC may be named by its `vpc-…` id, which `id` may repeat; other `{prefix}-…` ids are not yours to choose)"
        ),
    ))
}

fn check_ids(path: &str, v: &VpcSpec, network: Option<&Network>) -> Result<()> {
    // A VPC that names its network by VPC id carries that id: it is the tenant's.
    if network.is_none_or(|n| v.id.as_deref() != Some(n.vpc_id.as_str())) {
        check_id(&format!("{path}.id"), v.id.as_deref(), "vpc")?;
    }
    let items = [
        ("subnets", "subnet", ids(&v.subnets, |x| (&x.name, &x.id))),
        (
            "route_tables",
            "rtb",
            ids(&v.route_tables, |x| (&x.name, &x.id)),
        ),
        (
            "security_groups",
            "sg",
            ids(&v.security_groups, |x| (&x.name, &x.id)),
        ),
        (
            "network_acls",
            "acl",
            ids(&v.network_acls, |x| (&x.name, &x.id)),
        ),
        (
            "nat_gateways",
            "nat",
            ids(&v.nat_gateways, |x| (&x.name, &x.id)),
        ),
        ("endpoints", "vpce", ids(&v.endpoints, |x| (&x.name, &x.id))),
        ("enis", "eni", ids(&v.enis, |x| (&x.name, &x.id))),
    ];
    for (list, prefix, entries) in items {
        for (i, (name, id)) in entries.into_iter().enumerate() {
            let field = format!("{path}.{list}[{}].id", label(name, i));
            check_id(&field, id, prefix)?;
        }
    }
    if let Some(g) = &v.internet_gateway {
        check_id(
            &format!("{path}.internet_gateway.id"),
            g.id.as_deref(),
            "igw",
        )?;
    }
    Ok(())
}

fn ids<'a, T>(
    items: &'a [T],
    f: impl Fn(&'a T) -> (&'a String, &'a Option<String>),
) -> Vec<(&'a str, Option<&'a str>)> {
    items
        .iter()
        .map(|x| {
            let (n, i) = f(x);
            (n.as_str(), i.as_deref())
        })
        .collect()
}

/// Public addresses come from the operator's pool only: as a network's static IPs,
/// or as the tenant's Elastic IPs, named by allocation id (`eipalloc-…`, written
/// as the address in the desired spec). An address written in a spec could be
/// another network's static IP, a pool address not handed out yet (the next
/// network's: the whole desired spec would then be invalid), or any internet
/// address, whose traffic from other tenants' functions the ENI would then
/// receive. One allocation is associated once in the whole spec (`seen`).
fn check_public_ips<'a>(
    state: &ControlState,
    t: &Tenant,
    path: &str,
    v: &'a VpcSpec,
    seen: &mut BTreeSet<&'a str>,
) -> Result<()> {
    for (field, text) in crate::addresses::vpc_associations(path, v) {
        let text = text.trim();
        if !text.starts_with(crate::addresses::ALLOCATION_PREFIX) {
            return Err(ControlError::field(
                ErrorCode::InvalidAddressNotFound,
                field,
                "a spec cannot claim public addresses: they are the operator's, handed out as a network's static IPs or as your Elastic IPs",
                "allocate an Elastic IP (AllocateAddress) and write its allocation id (`eipalloc-…`), or run the workload in a network's private subnets (its NAT gateways use the network's static IPs)",
            ));
        }
        crate::addresses::address(state, &t.id, text).map_err(|mut e| {
            e.field = Some(field.clone());
            e
        })?;
        if !seen.insert(text) {
            return Err(ControlError::field(
                ErrorCode::ResourceAlreadyAssociated,
                field,
                format!("Elastic IP `{text}` is associated twice"),
                "associate an Elastic IP with one network interface or NAT gateway only",
            ));
        }
    }
    Ok(())
}

/// How a function of a tenant's spec names its code: the SHA-256 of a code package
/// uploaded through the API, `sha256:` and 64 hex digits.
pub const CODE_DIGEST_PREFIX: &str = "sha256:";

/// A function's `code` in `cove apply`'s spec is a path on the host (copied when
/// applied): from a tenant it would copy any file of the host (`/root`, cove's
/// state, another tenant's code snapshot) into a function the tenant runs. A
/// tenant names uploaded code by its digest only.
fn check_code(path: &str, v: &VpcSpec) -> Result<()> {
    for (i, f) in v.functions.iter().enumerate() {
        let code = f.code.trim();
        let ok = code
            .strip_prefix(CODE_DIGEST_PREFIX)
            .is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()));
        if !ok {
            return Err(ControlError::field(
                ErrorCode::InvalidParameterValue,
                format!("{path}.functions[{}].code", label(&f.name, i)),
                "a function's code is named by the digest of a code package you uploaded, not by a path",
                "upload the package through the functions API and write `code: sha256:<its 64 hex digits>`",
            ));
        }
    }
    Ok(())
}

/// A tenant's VPC blocks (its own VPCs', and the secondary blocks it adds to a
/// network) are private only: a public
/// block would hold the operator's pool addresses (other networks' static IPs, and
/// the next network's: the whole desired spec would be invalid) or internet
/// addresses other tenants' functions connect to.
fn check_blocks(path: &str, v: &VpcSpec) -> Result<()> {
    let blocks = std::iter::once((format!("{path}.cidr"), &v.cidr)).chain(
        v.secondary_cidrs
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("{path}.secondary_cidrs[{i}]"), c)),
    );
    for (field, text) in blocks {
        // A malformed block is `cove validate`'s to report, naming the same field.
        let Ok(net) = text.trim().parse::<Ipv4Net>() else {
            continue;
        };
        if !TENANT_RANGES
            .iter()
            .filter_map(|r| r.parse::<Ipv4Net>().ok())
            .any(|r| r.contains(&net))
        {
            return Err(ControlError::field(
                ErrorCode::InvalidVpcRange,
                field,
                format!("`{net}` is not inside a private range"),
                "choose a block inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10",
            ));
        }
    }
    Ok(())
}

/// The ranges a tenant's own VPC blocks must lie in: RFC 1918 and the shared
/// address space AWS also allows.
const TENANT_RANGES: [&str; 4] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
];

/// References stay in the tenant's part: a group is one of this VPC's (a rule
/// naming another VPC's group would break the whole desired spec once the peering
/// between them is deleted), a prefix list one of the tenant's, a peering one of
/// this VPC's (`peering_ok`).
fn check_references(
    path: &str,
    v: &VpcSpec,
    peering_ok: &dyn Fn(&str) -> bool,
    groups: &BTreeSet<&str>,
    own_lists: &BTreeSet<&str>,
) -> Result<()> {
    let group_ok = |r: &str| groups.contains(r);
    let list_ok = |r: &str| own_lists.contains(r);
    for (gi, g) in v.security_groups.iter().enumerate() {
        let gpath = format!("{path}.security_groups[{}]", label(&g.name, gi));
        let rules = g
            .ingress
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("{gpath}.ingress[{i}]"), r))
            .chain(
                g.egress
                    .iter()
                    .flatten()
                    .enumerate()
                    .map(|(i, r)| (format!("{gpath}.egress[{i}]"), r)),
            );
        for (rpath, r) in rules {
            if let Some(s) = r.security_group.as_deref().filter(|s| !group_ok(s)) {
                return Err(ControlError::field(
                    ErrorCode::InvalidGroupNotFound,
                    format!("{rpath}.security_group"),
                    format!("security group `{s}` does not exist"),
                    "name a security group of this VPC by its name; for traffic from a peered VPC allow that VPC's CIDR",
                ));
            }
            if let Some(p) = r.prefix_list.as_deref().filter(|p| !list_ok(p)) {
                return Err(list_not_found(format!("{rpath}.prefix_list"), p));
            }
        }
    }
    for (ei, e) in v.endpoints.iter().enumerate() {
        if let Some(p) = e.prefix_list.as_deref().filter(|p| !list_ok(p)) {
            let field = format!("{path}.endpoints[{}].prefix_list", label(&e.name, ei));
            return Err(list_not_found(field, p));
        }
    }
    for (ri, rt) in v.route_tables.iter().enumerate() {
        let rtpath = format!("{path}.route_tables[{}]", label(&rt.name, ri));
        for (i, r) in rt.routes.iter().enumerate() {
            if let Some(p) = r.destination_prefix_list.as_deref().filter(|p| !list_ok(p)) {
                return Err(list_not_found(
                    format!("{rtpath}.routes[{i}].destination_prefix_list"),
                    p,
                ));
            }
            if let Some(p) = r.peering.as_deref()
                && !peering_ok(p)
            {
                return Err(ControlError::field(
                    ErrorCode::InvalidVpcPeeringConnectionIdNotFound,
                    format!("{rtpath}.routes[{i}].peering"),
                    format!("peering connection `{p}` does not exist"),
                    "name a live peering connection (`pcx-…`) of this VPC",
                ));
            }
        }
    }
    Ok(())
}
