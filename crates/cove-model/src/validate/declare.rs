//! Pass 1: declare every named object (so later passes can resolve references in any
//! order), check names, parse addresses, and add the implicit AWS objects.

use super::scope::{Scopes, VpcScope, next_id};
use super::{Ctx, Path, addressing, filters, parse};
use crate::diag::ErrorCode;
use crate::model::*;
use crate::spec::{Scalar, Spec, TenantSpec, VpcSpec};

/// Runs pass 1 and returns the name tables.
pub(crate) fn declare(cx: &mut Ctx, spec: &Spec) -> Scopes {
    let mut sc = Scopes::default();
    let root = Path::root();
    for (ti, t) in spec.tenants.iter().enumerate() {
        let tpath = root.item("tenants", &t.name, ti);
        parse::name(cx, &tpath, &t.name);
        let tid = TenantId(next_id(cx.net.tenants.len()));
        if !sc.tenants.insert(&t.name, None, tid) {
            cx.error(
                ErrorCode::DuplicateName,
                &tpath.key("name"),
                format!("tenant `{}` is declared twice", t.name),
                "give each tenant a unique name",
            );
        }
        cx.net.tenants.push(Tenant {
            name: t.name.clone(),
            account_id: t.account_id.as_ref().map(|a| a.text()),
            vpcs: Vec::new(),
            prefix_lists: Vec::new(),
        });
        sc.tenant_vpcs.push(Default::default());
        sc.tenant_prefix_lists.push(Default::default());
        if let Some(a) = &t.account_id {
            let text = a.text();
            if let Scalar::Int(n) = a
                && text.len() != 12
            {
                // YAML reads an unquoted `012345678901` as the number 12345678901.
                cx.error(
                    ErrorCode::InvalidParameterValue,
                    &tpath.key("account_id"),
                    format!(
                        "the account id is not quoted, so YAML read it as the number {n} and dropped any leading zeros"
                    ),
                    format!(
                        "quote it: account_id: \"{}\" (an account id is 12 digits, leading zeros included)",
                        if (0..1_000_000_000_000).contains(n) {
                            format!("{n:012}")
                        } else {
                            "111122223333".to_owned()
                        }
                    ),
                );
            } else if text.len() != 12 || !text.chars().all(|c| c.is_ascii_digit()) {
                cx.error(
                    ErrorCode::InvalidParameterValue,
                    &tpath.key("account_id"),
                    format!("`{text}` is not a 12-digit account id"),
                    "write the account id as 12 digits in quotes, e.g. \"111122223333\"",
                );
            }
        }
        prefix_lists(cx, &mut sc, t, tid, &tpath);
        for (vi, v) in t.vpcs.iter().enumerate() {
            vpc(cx, &mut sc, tid, ti, vi, v, &tpath);
        }
    }
    sc
}

fn prefix_lists(cx: &mut Ctx, sc: &mut Scopes, t: &TenantSpec, tid: TenantId, tpath: &Path) {
    for (pi, pl) in t.prefix_lists.iter().enumerate() {
        let path = tpath.item("prefix_lists", &pl.name, pi);
        parse::name(cx, &path, &pl.name);
        let id = PrefixListId(next_id(cx.net.prefix_lists.len()));
        if !sc.tenant_prefix_lists[tid.index()].insert(&pl.name, pl.id.as_deref(), id) {
            cx.error(
                ErrorCode::DuplicateName,
                &path.key("name"),
                format!("prefix list `{}` is declared twice in this tenant", pl.name),
                "give each prefix list a unique name",
            );
        }
        if let Some(a) = &pl.id {
            sc.prefix_lists_by_id.entry(a.clone()).or_insert(id);
        }
        let cidrs = pl
            .cidrs
            .iter()
            .enumerate()
            .filter_map(|(i, c)| parse::cidr(cx, &path.key("cidrs").index(i), c))
            .collect();
        cx.net.prefix_lists.push(PrefixList {
            tenant: tid,
            name: pl.name.clone(),
            aws_id: pl.id.clone(),
            cidrs,
        });
        cx.net.tenants[tid.index()].prefix_lists.push(id);
    }
}

fn vpc(
    cx: &mut Ctx,
    sc: &mut Scopes,
    tid: TenantId,
    ti: usize,
    vi: usize,
    v: &VpcSpec,
    tpath: &Path,
) {
    let path = tpath.item("vpcs", &v.name, vi);
    parse::name(cx, &path, &v.name);
    let vid = VpcId(next_id(cx.net.vpcs.len()));
    if !sc.tenant_vpcs[tid.index()].insert(&v.name, v.id.as_deref(), vid) {
        cx.error(
            ErrorCode::DuplicateName,
            &path.key("name"),
            format!("VPC `{}` is declared twice in this tenant", v.name),
            "give each VPC of a tenant a unique name",
        );
    }
    if let Some(a) = &v.id {
        sc.vpcs_by_id.entry(a.clone()).or_insert(vid);
    }
    let (cidrs, cidrs_ok) = addressing::vpc_cidrs(cx, &path, v);
    cx.net.vpcs.push(Vpc {
        tenant: tid,
        name: v.name.clone(),
        aws_id: v.id.clone(),
        cidrs,
        subnets: Vec::new(),
        route_tables: Vec::new(),
        main_route_table: RouteTableId(u32::MAX),
        security_groups: Vec::new(),
        default_security_group: SgId(u32::MAX),
        network_acls: Vec::new(),
        default_network_acl: NaclId(u32::MAX),
        internet_gateway: None,
        nat_gateways: Vec::new(),
        nat_failover: NatFailover::Independent,
        dns_support: v.dns_support.unwrap_or(true),
        dns_hostnames: v.dns_hostnames.unwrap_or(false),
        endpoints: Vec::new(),
        enis: Vec::new(),
        functions: Vec::new(),
    });
    cx.net.tenants[tid.index()].vpcs.push(vid);
    let mut scope = VpcScope {
        tenant_index: ti,
        vpc_index: vi,
        path: path.clone(),
        cidrs_ok,
        ..Default::default()
    };
    addressing::subnets(cx, &mut scope, vid, v, &path);
    route_tables(cx, &mut scope, vid, v, &path);
    filters::declare_network_acls(cx, &mut scope, vid, v, &path);
    filters::declare_security_groups(cx, sc, &mut scope, vid, v, &path);
    internet_gateway(cx, vid, v, &path);
    nat_gateways(cx, &mut scope, vid, v, &path);
    endpoints(cx, &mut scope, vid, v, &path);
    sc.vpcs.push(scope);
}

fn route_tables(cx: &mut Ctx, scope: &mut VpcScope, vid: VpcId, v: &VpcSpec, path: &Path) {
    let mut main: Option<RouteTableId> = None;
    for (ri, rt) in v.route_tables.iter().enumerate() {
        let rpath = path.item("route_tables", &rt.name, ri);
        parse::name(cx, &rpath, &rt.name);
        let id = RouteTableId(next_id(cx.net.route_tables.len()));
        if !scope.route_tables.insert(&rt.name, rt.id.as_deref(), id) {
            cx.error(
                ErrorCode::DuplicateName,
                &rpath.key("name"),
                format!("route table `{}` is declared twice in this VPC", rt.name),
                "give each route table of a VPC a unique name",
            );
        }
        if rt.main {
            if let Some(first) = main {
                let first_name = cx.net.route_tables[first.index()].name.clone();
                cx.error(
                    ErrorCode::InvalidParameterValue,
                    &rpath.key("main"),
                    format!("VPC already has main route table `{first_name}`"),
                    "mark exactly one route table `main: true`",
                );
            } else {
                main = Some(id);
            }
        }
        cx.net.route_tables.push(RouteTable {
            vpc: vid,
            name: rt.name.clone(),
            aws_id: rt.id.clone(),
            main: rt.main && main == Some(id),
            routes: local_routes(&cx.net.vpcs[vid.index()]),
        });
        cx.net.vpcs[vid.index()].route_tables.push(id);
    }
    let main = main.unwrap_or_else(|| {
        let id = RouteTableId(next_id(cx.net.route_tables.len()));
        let name = if scope.route_tables.get("main").is_none() {
            "main"
        } else {
            "implicit-main"
        };
        scope.route_tables.insert(name, None, id);
        cx.net.route_tables.push(RouteTable {
            vpc: vid,
            name: name.to_owned(),
            aws_id: None,
            main: true,
            routes: local_routes(&cx.net.vpcs[vid.index()]),
        });
        cx.net.vpcs[vid.index()].route_tables.push(id);
        id
    });
    cx.net.vpcs[vid.index()].main_route_table = main;
}

/// The implicit `local` route of every VPC CIDR.
fn local_routes(vpc: &Vpc) -> Vec<Route> {
    vpc.cidrs
        .iter()
        .map(|c| Route {
            destination: RouteDestination::Cidr(*c),
            target: RouteTarget::Local,
            origin: RouteOrigin::Local,
        })
        .collect()
}

fn internet_gateway(cx: &mut Ctx, vid: VpcId, v: &VpcSpec, path: &Path) {
    let Some(igw) = &v.internet_gateway else {
        return;
    };
    let ipath = path.key("internet_gateway");
    parse::name(cx, &ipath, &igw.name);
    let id = IgwId(next_id(cx.net.internet_gateways.len()));
    cx.net.internet_gateways.push(InternetGateway {
        vpc: vid,
        name: igw.name.clone(),
        aws_id: igw.id.clone(),
    });
    cx.net.vpcs[vid.index()].internet_gateway = Some(id);
}

fn nat_gateways(cx: &mut Ctx, scope: &mut VpcScope, vid: VpcId, v: &VpcSpec, path: &Path) {
    for (ni, n) in v.nat_gateways.iter().enumerate() {
        let npath = path.item("nat_gateways", &n.name, ni);
        parse::name(cx, &npath, &n.name);
        let id = NatId(next_id(cx.net.nat_gateways.len()));
        if !scope.nat_gateways.insert(&n.name, n.id.as_deref(), id) {
            cx.error(
                ErrorCode::DuplicateName,
                &npath.key("name"),
                format!("NAT gateway `{}` is declared twice in this VPC", n.name),
                "give each NAT gateway of a VPC a unique name",
            );
        }
        let subnet = scope.subnets.get(&n.subnet);
        if subnet.is_none() {
            cx.error(
                ErrorCode::InvalidSubnetIdNotFound,
                &npath.key("subnet"),
                format!("subnet `{}` does not exist in this VPC", n.subnet),
                "name a subnet declared under this VPC's `subnets` (usually a public one)",
            );
        }
        let connectivity = match n.connectivity.as_deref().unwrap_or("public") {
            "public" => NatConnectivity::Public,
            "private" => NatConnectivity::Private,
            other => {
                cx.error(
                    ErrorCode::InvalidParameterValue,
                    &npath.key("connectivity"),
                    format!("`{other}` is not a NAT connectivity type"),
                    "use `public` or `private`",
                );
                NatConnectivity::Public
            }
        };
        let public_ips: Vec<_> = n
            .public_ips
            .iter()
            .enumerate()
            .filter_map(|(i, ip)| parse::public_ip(cx, &npath.key("public_ips").index(i), ip))
            .collect();
        match connectivity {
            NatConnectivity::Public if n.public_ips.is_empty() => cx.error(
                ErrorCode::MissingParameter,
                &npath.key("public_ips"),
                "a public NAT gateway needs at least one static public IP",
                "add `public_ips: [203.0.113.10, 203.0.113.11]` (the addresses backends allow-list), or set `connectivity: private`",
            ),
            NatConnectivity::Private if !n.public_ips.is_empty() => cx.error(
                ErrorCode::InvalidParameterCombination,
                &npath.key("public_ips"),
                "a private NAT gateway has no public IPs",
                "remove `public_ips`, or set `connectivity: public`",
            ),
            _ if n.public_ips.len() > MAX_NAT_PUBLIC_IPS => cx.error(
                ErrorCode::InvalidParameterValue,
                &npath.key("public_ips"),
                format!(
                    "{} public IPs; a NAT gateway has at most {MAX_NAT_PUBLIC_IPS}",
                    n.public_ips.len()
                ),
                "use at most 8 (AWS's limit), or spread the subnets over more NAT gateways",
            ),
            _ => {}
        }
        cx.net.nat_gateways.push(NatGateway {
            vpc: vid,
            subnet: subnet.unwrap_or(SubnetId(u32::MAX)),
            name: n.name.clone(),
            aws_id: n.id.clone(),
            connectivity,
            eni: EniId(u32::MAX),
            public_ips,
            secondary_ips: Vec::new(),
            partner: None,
            carried_by: None,
        });
        cx.net.vpcs[vid.index()].nat_gateways.push(id);
    }
}

/// Most public IPs of one NAT gateway (AWS's ceiling: one primary and seven
/// secondary addresses, each with an Elastic IP).
pub const MAX_NAT_PUBLIC_IPS: usize = 8;

fn endpoints(cx: &mut Ctx, scope: &mut VpcScope, vid: VpcId, v: &VpcSpec, path: &Path) {
    for (ei, e) in v.endpoints.iter().enumerate() {
        let epath = path.item("endpoints", &e.name, ei);
        parse::name(cx, &epath, &e.name);
        let id = EndpointId(next_id(cx.net.endpoints.len()));
        if !scope.endpoints.insert(&e.name, e.id.as_deref(), id) {
            cx.error(
                ErrorCode::DuplicateName,
                &epath.key("name"),
                format!("endpoint `{}` is declared twice in this VPC", e.name),
                "give each endpoint of a VPC a unique name",
            );
        }
        // The kind is filled in by the attachments pass, once prefix lists, route
        // tables, subnets and groups can be resolved.
        cx.net.endpoints.push(Endpoint {
            vpc: vid,
            name: e.name.clone(),
            aws_id: e.id.clone(),
            service: e.service.clone(),
            kind: EndpointKind::Interface {
                enis: Vec::new(),
                private_dns_name: None,
            },
        });
        cx.net.vpcs[vid.index()].endpoints.push(id);
    }
}
