//! Endpoint services (PrivateLink, issue 12) and the interface endpoints that
//! name one (`service: <tenant>/<service>`), checked as EC2 checks
//! `CreateVpcEndpointServiceConfiguration` and `CreateVpcEndpoint`: a service the
//! consumer may not use looks like one that does not exist (`InvalidServiceName`).
//!
//! Two steps: [`services`] (after the endpoints are declared) declares the
//! services and links the endpoints; [`fronts`] (inside address assignment, once
//! the ENIs exist) resolves each service's targets and returns the fronts to
//! address — one per endpoint ENI, in the service's subnet, from its top.

use std::collections::BTreeSet;

use super::attachments::Pending;
use super::scope::{Scopes, next_id};
use super::{Ctx, Path, parse};
use crate::diag::ErrorCode;
use crate::model::{EndpointKind, EniOwner, TenantId};
use crate::privatelink::{EndpointService, LinkState, ServiceLink};
use crate::spec::Spec;

/// Pass 3b: every tenant's endpoint services, then the interface endpoints that
/// name one.
pub(crate) fn services(cx: &mut Ctx, spec: &Spec, sc: &Scopes) {
    // Services refused here: their consumers are not told again.
    let mut refused = BTreeSet::new();
    for (ti, t) in spec.tenants.iter().enumerate() {
        let Some(tid) = sc.tenants.get(&t.name) else {
            continue;
        };
        let tpath = Path::root().item("tenants", &t.name, ti);
        let mut names = BTreeSet::new();
        for (si, s) in t.endpoint_services.iter().enumerate() {
            let path = tpath.item("endpoint_services", &s.name, si);
            parse::name(cx, &path, &s.name);
            if !names.insert(s.name.clone()) {
                cx.error(
                    ErrorCode::DuplicateName,
                    &path.key("name"),
                    format!(
                        "tenant `{}` has two endpoint services named `{}`",
                        t.name, s.name
                    ),
                    "give each endpoint service of a tenant a unique name",
                );
                continue;
            }
            let Some(vpc) = sc
                .find_vpc(Some(tid), &s.vpc)
                .filter(|v| cx.net.vpcs[v.index()].tenant == tid)
            else {
                cx.error(
                    ErrorCode::InvalidVpcIdNotFound,
                    &path.key("vpc"),
                    format!("tenant `{}` has no VPC `{}`", t.name, s.vpc),
                    "name one of this tenant's VPCs: the one its targets are in",
                );
                refused.insert(EndpointService::reference(&t.name, &s.name));
                continue;
            };
            ports(cx, &path, &s.ports);
            if s.targets.is_empty() {
                cx.error(
                    ErrorCode::MissingParameter,
                    &path.key("targets"),
                    "an endpoint service needs at least one target",
                    "list the ENIs (names in its VPC) that serve it",
                );
            }
            let (allowed, allow_all) = principals(cx, sc, &path, &s.allowed_principals);
            if let Some(name) = &s.private_dns_name {
                if let Some(why) = parse::hostname_problem(name) {
                    cx.error(
                        ErrorCode::InvalidParameterValue,
                        &path.key("private_dns_name"),
                        format!("{name:?} is not a valid DNS name: it {why}"),
                        "write a host name such as `pg.provider.example`",
                    );
                }
            }
            cx.net.endpoint_services.push(EndpointService {
                tenant: tid,
                vpc,
                name: s.name.clone(),
                targets: Vec::new(),
                subnet: None,
                ports: s.ports.clone(),
                acceptance_required: s.acceptance_required,
                allowed,
                allow_all,
                private_dns_name: s.private_dns_name.clone(),
            });
        }
    }
    links(cx, spec, sc, &refused);
}

fn ports(cx: &mut Ctx, path: &Path, ports: &[u16]) {
    if ports.is_empty() {
        cx.error(
            ErrorCode::MissingParameter,
            &path.key("ports"),
            "an endpoint service needs at least one port",
            "list the TCP ports it serves, e.g. `ports: [5432]`",
        );
    }
    let mut seen = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        if *p == 0 {
            cx.error(
                ErrorCode::InvalidParameterValue,
                &path.key("ports").index(i),
                "port 0 is not a port",
                "use a TCP port from 1 to 65535",
            );
        } else if !seen.insert(*p) {
            cx.error(
                ErrorCode::InvalidParameterValue,
                &path.key("ports").index(i),
                format!("port {p} is listed twice"),
                "list each port once",
            );
        }
    }
}

fn principals(cx: &mut Ctx, sc: &Scopes, path: &Path, names: &[String]) -> (Vec<TenantId>, bool) {
    let mut allowed = Vec::new();
    let mut all = false;
    for (i, n) in names.iter().enumerate() {
        if n == "*" {
            all = true;
            continue;
        }
        match sc.tenants.get(n) {
            Some(t) if !allowed.contains(&t) => allowed.push(t),
            Some(_) => {}
            None => cx.error(
                ErrorCode::InvalidParameterValue,
                &path.key("allowed_principals").index(i),
                format!("there is no tenant `{n}`"),
                "name a tenant, or `*` for every tenant",
            ),
        }
    }
    (allowed, all)
}

/// Links every interface endpoint whose service is `tenant/service` to it.
fn links(cx: &mut Ctx, spec: &Spec, sc: &Scopes, refused: &BTreeSet<String>) {
    for scope in &sc.vpcs {
        let t = &spec.tenants[scope.tenant_index];
        let v = &t.vpcs[scope.vpc_index];
        for (ei, e) in v.endpoints.iter().enumerate() {
            if e.kind != "interface" {
                continue;
            }
            let Some((provider, name)) = e.service.split_once('/') else {
                continue;
            };
            let Some(eid) = scope.endpoints.get(&e.name) else {
                continue;
            };
            if refused.contains(&e.service) {
                continue;
            }
            let path = scope.path.item("endpoints", &e.name, ei);
            let consumer = cx.net.vpcs[cx.net.endpoints[eid.index()].vpc.index()].tenant;
            let found =
                cx.net.endpoint_services.iter().position(|s| {
                    s.name == name && cx.net.tenants[s.tenant.index()].name == provider
                });
            let usable = found.filter(|i| {
                let s = &cx.net.endpoint_services[*i];
                s.tenant == consumer || s.allow_all || s.allowed.contains(&consumer)
            });
            let Some(service) = usable else {
                cx.cross_tenant(
                    spec.cross_tenant_lenient,
                    ErrorCode::InvalidServiceName,
                    &path.key("service"),
                    format!(
                        "the endpoint service `{}` does not exist, or tenant `{}` may not use it",
                        e.service, t.name
                    ),
                    format!(
                        "name a service as `<provider tenant>/<service>`; its provider lists `{}` in the service's `allowed_principals`",
                        t.name
                    ),
                );
                continue;
            };
            let me = format!("{}/{}/{}", t.name, v.name, e.name);
            let s = &cx.net.endpoint_services[service];
            let accepted = spec
                .tenants
                .iter()
                .find(|p| p.name == provider)
                .and_then(|p| p.endpoint_services.iter().find(|x| x.name == name))
                .is_some_and(|x| {
                    x.accepted
                        .iter()
                        .any(|a| *a == me || Some(a.as_str()) == alias(&me, &v.id).as_deref())
                });
            let state = if !s.acceptance_required || accepted {
                LinkState::Available
            } else {
                LinkState::Pending
            };
            cx.net.service_links.push(ServiceLink {
                endpoint: eid,
                service,
                state,
                fronts: Vec::new(),
            });
        }
    }
}

/// `tenant/<vpc id>/endpoint` for an endpoint whose VPC has an id (the control
/// plane names a network's VPC by its id).
fn alias(me: &str, vpc_id: &Option<String>) -> Option<String> {
    let id = vpc_id.as_deref()?;
    let mut parts = me.splitn(3, '/');
    let (t, _, e) = (parts.next()?, parts.next()?, parts.next()?);
    Some(format!("{t}/{id}/{e}"))
}

/// Inside address assignment, once every ENI exists: each service's targets
/// (ENIs of its VPC, by name) and subnet, each link's private DNS name, and the
/// fronts to address (one per endpoint ENI, in the service's subnet).
pub(super) fn fronts(cx: &mut Ctx, spec: &Spec) -> Vec<Pending> {
    for si in 0..cx.net.endpoint_services.len() {
        let (tenant, name, vpc) = {
            let s = &cx.net.endpoint_services[si];
            (
                cx.net.tenants[s.tenant.index()].name.clone(),
                s.name.clone(),
                s.vpc,
            )
        };
        let Some((ti, t)) = spec
            .tenants
            .iter()
            .enumerate()
            .find(|(_, t)| t.name == tenant)
        else {
            continue;
        };
        let Some((k, s)) = t
            .endpoint_services
            .iter()
            .enumerate()
            .find(|(_, s)| s.name == name)
        else {
            continue;
        };
        let path = Path::root()
            .item("tenants", &t.name, ti)
            .item("endpoint_services", &s.name, k);
        let mut targets = Vec::new();
        for (i, target) in s.targets.iter().enumerate() {
            let hit = cx
                .net
                .enis
                .iter()
                .position(|e| e.vpc == vpc && e.name == *target && e.owner == EniOwner::User);
            match hit {
                Some(e) => targets.push(crate::model::EniId(next_id(e))),
                None => cx.error(
                    ErrorCode::InvalidNetworkInterfaceIdNotFound,
                    &path.key("targets").index(i),
                    format!("VPC {} has no ENI `{target}`", cx.net.vpc_path(vpc)),
                    "name an ENI declared under the service's VPC",
                ),
            }
        }
        let subnet = targets.first().map(|e| cx.net.enis[e.index()].subnet);
        let svc = &mut cx.net.endpoint_services[si];
        svc.targets = targets;
        svc.subnet = subnet;
    }
    let mut out = Vec::new();
    for l in 0..cx.net.service_links.len() {
        let link = &cx.net.service_links[l];
        let svc = &cx.net.endpoint_services[link.service];
        let eid = link.endpoint;
        let endpoint = &cx.net.endpoints[eid.index()];
        let EndpointKind::Interface {
            enis,
            private_dns_name,
        } = &endpoint.kind
        else {
            continue;
        };
        let Some(subnet) = svc.subnet else { continue };
        let dns = private_dns_name
            .clone()
            .or_else(|| svc.private_dns_name.clone());
        let label = format!("{}/{}", cx.net.vpc_path(endpoint.vpc), endpoint.name);
        let pending: Vec<Pending> = (0..enis.len())
            .map(|k| Pending {
                vpc: svc.vpc,
                subnet,
                name: format!("front:{label}:{k}"),
                aws_id: None,
                instance: None,
                fixed: None,
                groups: Vec::new(),
                public_ip: None,
                owner: EniOwner::Front(eid),
                path: Path::root(),
            })
            .collect();
        out.extend(pending);
        if let EndpointKind::Interface {
            private_dns_name, ..
        } = &mut cx.net.endpoints[eid.index()].kind
        {
            *private_dns_name = dns;
        }
    }
    out
}
