//! Endpoints and interfaces: gateway endpoints (prefix list + route tables), interface
//! endpoints (an ENI per subnet), NAT-gateway ENIs, user ENIs, and address assignment.
//!
//! Addresses: every fixed address is reserved first (so an assigned one never takes
//! it), then the others are assigned lowest-free in spec order: per VPC, NAT gateways,
//! interface endpoints, ENIs, then shared function ENIs.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use super::scope::{Scopes, VpcScope, next_id};
use super::shared::{self, SharedKey};
use super::{Ctx, Path, parse};
use crate::diag::ErrorCode;
use crate::ipam::{IpamError, SubnetIpam};
use crate::model::*;
use crate::spec::{EndpointSpec, Spec};

/// Pass 3a: resolves endpoint kinds and adds gateway-endpoint routes.
pub(crate) fn endpoints(cx: &mut Ctx, spec: &Spec, sc: &Scopes) {
    for (vi, scope) in sc.vpcs.iter().enumerate() {
        let vid = VpcId(next_id(vi));
        let v = &spec.tenants[scope.tenant_index].vpcs[scope.vpc_index];
        for (ei, e) in v.endpoints.iter().enumerate() {
            let Some(id) = scope.endpoints.get(&e.name) else {
                continue;
            };
            let path = scope.path.item("endpoints", &e.name, ei);
            if e.service.trim().is_empty() {
                cx.error(
                    ErrorCode::MissingParameter,
                    &path.key("service"),
                    "`service` is missing",
                    "name the service, e.g. `com.amazonaws.us-east-1.s3`",
                );
            }
            match e.kind.as_str() {
                "gateway" => gateway_endpoint(cx, sc, scope, vid, id, &path, e),
                "interface" => interface_checks(cx, &path, e),
                other => cx.error(
                    ErrorCode::InvalidParameterValue,
                    &path.key("type"),
                    format!("`{other}` is not an endpoint type"),
                    "use `gateway` (S3, DynamoDB: reached by routes) or `interface` (an ENI per subnet)",
                ),
            }
        }
    }
}

fn forbid(cx: &mut Ctx, path: &Path, field: &str, present: bool, kind: &str) {
    if present {
        cx.error(
            ErrorCode::InvalidParameterCombination,
            &path.key(field),
            format!("`{field}` does not apply to a {kind} endpoint"),
            format!("remove `{field}`, or change `type`"),
        );
    }
}

fn gateway_endpoint(
    cx: &mut Ctx,
    sc: &Scopes,
    scope: &VpcScope,
    vid: VpcId,
    id: EndpointId,
    path: &Path,
    e: &EndpointSpec,
) {
    forbid(cx, path, "subnets", !e.subnets.is_empty(), "gateway");
    forbid(
        cx,
        path,
        "private_ips",
        !e.private_ips.is_empty(),
        "gateway",
    );
    forbid(
        cx,
        path,
        "security_groups",
        !e.security_groups.is_empty(),
        "gateway",
    );
    forbid(
        cx,
        path,
        "private_dns_name",
        e.private_dns_name.is_some(),
        "gateway",
    );
    let tenant = cx.net.vpcs[vid.index()].tenant;
    let Some(pl_name) = &e.prefix_list else {
        cx.error(
            ErrorCode::MissingParameter,
            &path.key("prefix_list"),
            "a gateway endpoint needs the prefix list of its service",
            "add `prefix_list: <name>` naming a prefix list with the service's CIDRs",
        );
        return;
    };
    let Some(pl) = sc.find_prefix_list(tenant, pl_name) else {
        cx.error(
            ErrorCode::InvalidPrefixListIdNotFound,
            &path.key("prefix_list"),
            format!("prefix list `{pl_name}` does not exist"),
            "declare it under the tenant's `prefix_lists`",
        );
        return;
    };
    let mut tables = Vec::new();
    for (i, rt) in e.route_tables.iter().enumerate() {
        match scope.route_tables.get(rt) {
            Some(t) if !tables.contains(&t) => tables.push(t),
            Some(_) => {}
            None => cx.error(
                ErrorCode::InvalidRouteTableIdNotFound,
                &path.key("route_tables").index(i),
                format!("route table `{rt}` does not exist in this VPC"),
                "name a table declared under this VPC's `route_tables`",
            ),
        }
    }
    for t in &tables {
        cx.net.route_tables[t.index()].routes.push(Route {
            destination: RouteDestination::PrefixList(pl),
            target: RouteTarget::GatewayEndpoint(id),
            origin: RouteOrigin::Endpoint(id),
        });
    }
    cx.net.endpoints[id.index()].kind = EndpointKind::Gateway {
        prefix_list: pl,
        route_tables: tables,
    };
}

fn interface_checks(cx: &mut Ctx, path: &Path, e: &EndpointSpec) {
    forbid(
        cx,
        path,
        "prefix_list",
        e.prefix_list.is_some(),
        "interface",
    );
    forbid(
        cx,
        path,
        "route_tables",
        !e.route_tables.is_empty(),
        "interface",
    );
    if e.subnets.is_empty() {
        cx.error(
            ErrorCode::MissingParameter,
            &path.key("subnets"),
            "an interface endpoint needs at least one subnet",
            "list the subnets (one per availability zone) where its ENIs live",
        );
    }
    if e.private_ips.len() > e.subnets.len() {
        cx.error(
            ErrorCode::InvalidParameterValue,
            &path.key("private_ips"),
            "more addresses than subnets",
            "give at most one address per subnet, in the order of `subnets`",
        );
    }
}

/// One interface to create, before its address is known.
pub(super) struct Pending {
    pub(super) vpc: VpcId,
    pub(super) subnet: SubnetId,
    pub(super) name: String,
    pub(super) aws_id: Option<String>,
    pub(super) instance: Option<String>,
    pub(super) fixed: Option<(Ipv4Addr, Path)>,
    pub(super) groups: Vec<SgId>,
    pub(super) public_ip: Option<Ipv4Addr>,
    pub(super) owner: EniOwner,
    pub(super) path: Path,
}

/// Pass 3c: NAT, interface-endpoint, user and shared function ENIs with their
/// addresses.
pub(crate) fn addresses(cx: &mut Ctx, spec: &Spec, sc: &Scopes) {
    let mut pending = Vec::new();
    let mut extras = Vec::new();
    for (vi, scope) in sc.vpcs.iter().enumerate() {
        let vid = VpcId(next_id(vi));
        let v = &spec.tenants[scope.tenant_index].vpcs[scope.vpc_index];
        let first = pending.len();
        collect_enis(cx, scope, vid, v, &mut pending);
        shared::extras(cx, spec, vid, &pending[first..], &mut extras);
    }
    let mut ipams: HashMap<SubnetId, SubnetIpam> = HashMap::new();
    let broken: HashSet<SubnetId> = sc
        .vpcs
        .iter()
        .flat_map(|s| s.broken_subnets.iter().copied())
        .collect();
    let mut assigned: Vec<Option<Ipv4Addr>> = vec![None; pending.len()];
    for (i, p) in pending.iter().enumerate() {
        let Some((ip, path)) = &p.fixed else { continue };
        if broken.contains(&p.subnet) {
            continue;
        }
        let cidr = cx.net.subnets[p.subnet.index()].cidr;
        let ipam = ipams
            .entry(p.subnet)
            .or_insert_with(|| SubnetIpam::new(cidr));
        match ipam.reserve(*ip) {
            Ok(()) => assigned[i] = Some(*ip),
            Err(e) => address_error(cx, path, e, &cx.net.subnet_label(p.subnet)),
        }
    }
    for (i, p) in pending.iter().enumerate() {
        if p.fixed.is_some() || broken.contains(&p.subnet) {
            continue;
        }
        let cidr = cx.net.subnets[p.subnet.index()].cidr;
        let ipam = ipams
            .entry(p.subnet)
            .or_insert_with(|| SubnetIpam::new(cidr));
        match ipam.allocate() {
            Ok(ip) => assigned[i] = Some(ip),
            Err(e) if p.owner == EniOwner::Shared => {
                let subnet = cx.net.subnet_label(p.subnet);
                cx.error(
                    ErrorCode::SubnetIpAddressLimitReached,
                    &p.path,
                    format!("{e}: no address is left for the shared function ENI `{}`", p.name),
                    format!("free an address in subnet {subnet}, use a larger subnet, or attach the function to another subnet"),
                );
            }
            Err(e) => address_error(cx, &p.path, e, &cx.net.subnet_label(p.subnet)),
        }
    }
    let mut shared: HashMap<SharedKey, Vec<EniId>> = HashMap::new();
    for (p, ip) in pending.into_iter().zip(assigned) {
        let Some(ip) = ip else { continue };
        push_eni(cx, p, ip, &mut shared);
    }
    nat_secondary_addresses(cx, sc, &broken, &mut ipams);
    // PrivateLink fronts from the top of their services' subnets (before the
    // extra shared ENIs, which come and go with load).
    for p in super::services::fronts(cx, spec) {
        let cidr = cx.net.subnets[p.subnet.index()].cidr;
        let ipam = ipams
            .entry(p.subnet)
            .or_insert_with(|| SubnetIpam::new(cidr));
        match ipam.allocate_highest() {
            Ok(ip) => push_eni(cx, p, ip, &mut shared),
            Err(e) => {
                let subnet = cx.net.subnet_label(p.subnet);
                cx.error(
                    ErrorCode::InsufficientFreeAddressesInSubnet,
                    &p.path,
                    format!("{e}: no address is left in subnet {subnet} for `{}`", p.name),
                    "free an address in the endpoint service's subnet (its first target's), or use a larger subnet",
                );
            }
        }
    }
    // Extra shared ENIs from the top of their subnets, after everything else: more
    // interfaces taken from the bottom move none of them (while the subnet has
    // room), and one that finds no address is not created (its combination keeps
    // the ENIs it has; nothing the user declared is refused for it).
    for p in extras {
        let cidr = cx.net.subnets[p.subnet.index()].cidr;
        let ipam = ipams
            .entry(p.subnet)
            .or_insert_with(|| SubnetIpam::new(cidr));
        if let Ok(ip) = ipam.allocate_highest() {
            push_eni(cx, p, ip, &mut shared);
        }
    }
    // Each function's shared ENIs, per subnet in the order of its subnets (a
    // subnet without a free address has none, and an error says so).
    for f in &mut cx.net.functions {
        f.shared_enis = f
            .subnets
            .iter()
            .filter_map(|s| shared.get(&(*s, f.security_groups.clone())).cloned())
            .collect();
    }
}

/// Adds the interface `p` with address `ip` to the network and to its owner.
fn push_eni(cx: &mut Ctx, p: Pending, ip: Ipv4Addr, shared: &mut HashMap<SharedKey, Vec<EniId>>) {
    let id = EniId(next_id(cx.net.enis.len()));
    match p.owner {
        EniOwner::NatGateway(n) => cx.net.nat_gateways[n.index()].eni = id,
        EniOwner::Endpoint(e) => {
            if let EndpointKind::Interface { enis, .. } = &mut cx.net.endpoints[e.index()].kind {
                enis.push(id);
            }
        }
        EniOwner::Shared => {
            shared
                .entry((p.subnet, p.groups.clone()))
                .or_default()
                .push(id);
        }
        EniOwner::Front(e) => {
            if let Some(l) = cx.net.service_links.iter_mut().find(|l| l.endpoint == e) {
                l.fronts.push(id);
            }
        }
        EniOwner::User => {}
    }
    cx.net.vpcs[p.vpc.index()].enis.push(id);
    cx.net.enis.push(Eni {
        vpc: p.vpc,
        subnet: p.subnet,
        name: p.name,
        aws_id: p.aws_id,
        instance: p.instance,
        private_ip: ip,
        ip_assigned: p.fixed.is_none(),
        security_groups: p.groups,
        public_ip: p.public_ip,
        owner: p.owner,
    });
}

/// NAT gateways' secondary addresses (one per public IP after the first), after
/// every interface: adding a public IP renumbers nothing.
fn nat_secondary_addresses(
    cx: &mut Ctx,
    sc: &Scopes,
    broken: &HashSet<SubnetId>,
    ipams: &mut HashMap<SubnetId, SubnetIpam>,
) {
    for n in 0..cx.net.nat_gateways.len() {
        let nat = &cx.net.nat_gateways[n];
        let extra = nat.public_ips.len().saturating_sub(1);
        if extra == 0 || nat.subnet.0 == u32::MAX || broken.contains(&nat.subnet) {
            continue;
        }
        let subnet = nat.subnet;
        let cidr = cx.net.subnets[subnet.index()].cidr;
        let path = sc.vpcs[nat.vpc.index()]
            .path
            .item("nat_gateways", &nat.name, 0)
            .key("public_ips");
        let ipam = ipams.entry(subnet).or_insert_with(|| SubnetIpam::new(cidr));
        let mut got = Vec::new();
        let mut failed = None;
        for _ in 0..extra {
            match ipam.allocate() {
                Ok(ip) => got.push(ip),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            let label = cx.net.subnet_label(subnet);
            address_error(cx, &path, e, &label);
        }
        cx.net.nat_gateways[n].secondary_ips = got;
    }
}

fn address_error(cx: &mut Ctx, path: &Path, e: IpamError, subnet: &str) {
    let (code, hint) = match &e {
        IpamError::OutsideSubnet { .. } => (
            ErrorCode::InvalidParameterValue,
            format!("choose an address inside subnet {subnet}, or omit it to have one assigned"),
        ),
        IpamError::Reserved { .. } => (
            ErrorCode::InvalidParameterValue,
            "the first four addresses and the last address of every subnet are reserved; choose another".to_owned(),
        ),
        IpamError::InUse { .. } => (
            ErrorCode::InvalidIpAddressInUse,
            "give every interface its own address, or omit it to have one assigned".to_owned(),
        ),
        IpamError::Exhausted { .. } => (
            ErrorCode::InsufficientFreeAddressesInSubnet,
            format!("use a larger subnet than {subnet}, or place interfaces in another subnet"),
        ),
    };
    cx.error(code, path, e.to_string(), hint);
}

fn collect_enis(
    cx: &mut Ctx,
    scope: &VpcScope,
    vid: VpcId,
    v: &crate::spec::VpcSpec,
    out: &mut Vec<Pending>,
) {
    for (ni, n) in v.nat_gateways.iter().enumerate() {
        let Some(nid) = scope.nat_gateways.get(&n.name) else {
            continue;
        };
        let subnet = cx.net.nat_gateways[nid.index()].subnet;
        if subnet.0 == u32::MAX {
            continue;
        }
        let path = scope.path.item("nat_gateways", &n.name, ni);
        let fixed = n.private_ip.as_ref().and_then(|t| {
            parse::ip(cx, &path.key("private_ip"), t).map(|ip| (ip, path.key("private_ip")))
        });
        out.push(Pending {
            vpc: vid,
            subnet,
            name: format!("nat:{}", n.name),
            aws_id: None,
            instance: None,
            fixed,
            groups: Vec::new(),
            public_ip: None,
            owner: EniOwner::NatGateway(nid),
            path,
        });
    }
    for (ei, e) in v.endpoints.iter().enumerate() {
        if e.kind != "interface" {
            continue;
        }
        let Some(eid) = scope.endpoints.get(&e.name) else {
            continue;
        };
        let path = scope.path.item("endpoints", &e.name, ei);
        let groups = groups(cx, scope, vid, &path, &e.security_groups);
        if let Some(name) = &e.private_dns_name {
            if let Some(why) = parse::hostname_problem(name) {
                cx.error(
                    ErrorCode::InvalidParameterValue,
                    &path.key("private_dns_name"),
                    format!("{name:?} is not a valid DNS name: it {why}"),
                    "write a host name such as `secretsmanager.us-east-1.amazonaws.com` (labels of letters, digits and `-`, separated by dots)",
                );
            }
        }
        if let EndpointKind::Interface {
            private_dns_name, ..
        } = &mut cx.net.endpoints[eid.index()].kind
        {
            private_dns_name.clone_from(&e.private_dns_name);
        }
        let mut azs: HashMap<String, String> = HashMap::new();
        for (si, s) in e.subnets.iter().enumerate() {
            let spath = path.key("subnets").index(si);
            let Some(subnet) = scope.subnets.get(s) else {
                cx.error(
                    ErrorCode::InvalidSubnetIdNotFound,
                    &spath,
                    format!("subnet `{s}` does not exist in this VPC"),
                    "name a subnet declared under this VPC's `subnets`",
                );
                continue;
            };
            let az = cx.net.subnets[subnet.index()].az.clone();
            if let Some(other) = azs.insert(az.clone(), s.clone()) {
                cx.error(
                    ErrorCode::InvalidParameterValue,
                    &spath,
                    format!(
                        "subnet `{other}` of this endpoint is already in availability zone {az}"
                    ),
                    "choose at most one subnet per availability zone",
                );
                continue;
            }
            let fixed = e.private_ips.get(si).and_then(|t| {
                let p = path.key("private_ips").index(si);
                parse::ip(cx, &p, t).map(|ip| (ip, p))
            });
            out.push(Pending {
                vpc: vid,
                subnet,
                name: format!("endpoint:{}:{s}", e.name),
                aws_id: None,
                instance: None,
                fixed,
                groups: groups.clone(),
                public_ip: None,
                owner: EniOwner::Endpoint(eid),
                path: spath,
            });
        }
    }
    let mut names: HashSet<&str> = HashSet::new();
    for (ii, e) in v.enis.iter().enumerate() {
        let path = scope.path.item("enis", &e.name, ii);
        parse::name(cx, &path, &e.name);
        let Some(subnet) = scope.subnets.get(&e.subnet) else {
            cx.error(
                ErrorCode::InvalidSubnetIdNotFound,
                &path.key("subnet"),
                format!("subnet `{}` does not exist in this VPC", e.subnet),
                "name a subnet declared under this VPC's `subnets`",
            );
            continue;
        };
        if !names.insert(e.name.as_str()) {
            cx.error(
                ErrorCode::DuplicateName,
                &path.key("name"),
                format!("ENI `{}` is declared twice in this VPC", e.name),
                "give each ENI of a VPC a unique name",
            );
        }
        let groups = groups(cx, scope, vid, &path, &e.security_groups);
        let fixed = e.private_ip.as_ref().and_then(|t| {
            parse::ip(cx, &path.key("private_ip"), t).map(|ip| (ip, path.key("private_ip")))
        });
        let public_ip = e
            .public_ip
            .as_ref()
            .and_then(|t| parse::public_ip(cx, &path.key("public_ip"), t));
        if public_ip.is_some() && cx.net.vpcs[vid.index()].internet_gateway.is_none() {
            cx.warning(
                ErrorCode::GatewayNotAttached,
                &path.key("public_ip"),
                "the VPC has no internet gateway, so the public address is unreachable",
                "declare `internet_gateway:` on the VPC, or remove `public_ip`",
            );
        }
        out.push(Pending {
            vpc: vid,
            subnet,
            name: e.name.clone(),
            aws_id: e.id.clone(),
            instance: e.instance.clone(),
            fixed,
            groups,
            public_ip,
            owner: EniOwner::User,
            path,
        });
    }
    super::shared::shared_enis(cx, scope, vid, v, out);
}

/// Resolves the security groups of an interface (the VPC's default group when empty).
pub(crate) fn groups(
    cx: &mut Ctx,
    scope: &VpcScope,
    vid: VpcId,
    path: &Path,
    names: &[String],
) -> Vec<SgId> {
    if names.is_empty() {
        return vec![cx.net.vpcs[vid.index()].default_security_group];
    }
    let max = cx.quotas.security_groups_per_interface;
    if names.len() > max {
        cx.error(
            ErrorCode::SecurityGroupsPerInterfaceLimitExceeded,
            &path.key("security_groups"),
            format!(
                "{} security groups; an interface can have at most {max}",
                names.len()
            ),
            "merge the rules into fewer groups, or raise `quotas.security_groups_per_interface` (AWS's ceiling is 16)",
        );
    }
    let mut out = Vec::new();
    for (i, n) in names.iter().enumerate() {
        match scope.security_groups.get(n) {
            Some(g) if !out.contains(&g) => out.push(g),
            Some(_) => {}
            None => cx.error(
                ErrorCode::InvalidGroupNotFound,
                &path.key("security_groups").index(i),
                format!("security group `{n}` does not exist in this VPC"),
                "an interface can only use security groups of its own VPC; declare it under `security_groups`",
            ),
        }
    }
    out
}
