//! After the network path, the service's own policy (issue 15): a request to
//! S3 or a private API through an interface endpoint (or to S3 through the
//! gateway endpoint the source subnet routes to), named by its DNS name
//! (`BUCKET.s3.REGION.amazonaws.com`, `s3.REGION.amazonaws.com/BUCKET/…`,
//! `API-ID.execute-api.REGION.amazonaws.com`), is decided by the bucket's policy
//! or the API's resource policy on where it came from — the endpoint, its VPC,
//! the client's address, and (for S3) the account of the client's tenant, whose
//! key signs its requests. Pure; the same decision as the object store's and the
//! gateway's.

use cove_model::bucket_policy::{Decision, RequestContext};
use cove_model::http_api::select;
use cove_model::{EniOwner, Network};

use crate::flow::{Endpoint, Flow};
use crate::verdict::{Blocked, Direction, Hop, Outcome, Step, Verdict};

/// The HTTP request a flow carries to the service.
#[derive(Debug, Clone, Copy)]
pub struct ServiceRequest<'a> {
    /// The name the client addressed (`spa-assets.s3.us-east-1.amazonaws.com`).
    pub name: &'a str,
    /// The method (`GET`).
    pub method: &'a str,
    /// The path (`/index.html`).
    pub path: &'a str,
}

/// What the service is, by the name (the store's and the gateway's own rules,
/// `cove_model::dns`).
enum Target {
    Bucket { bucket: String, key: String },
    Api { id: String },
}

fn target(name: &str, path: &str) -> Option<Target> {
    if let Some(id) = cove_model::dns::api_id_of_host(name) {
        return Some(Target::Api { id });
    }
    let path = path.trim_start_matches('/');
    if let Some(bucket) = cove_model::dns::s3_bucket_of_host(name) {
        return Some(Target::Bucket {
            bucket: bucket.to_owned(),
            key: path.to_owned(),
        });
    }
    // S3's regional name: path-style, the bucket first.
    let name = name.trim_end_matches('.');
    if name.starts_with("s3.") && name.ends_with(".amazonaws.com") {
        let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
        return Some(Target::Bucket {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        });
    }
    None
}

fn s3_action(method: &str, key: &str) -> &'static str {
    match (method, key.is_empty()) {
        (_, true) => "s3:ListBucket",
        ("PUT" | "POST", false) => "s3:PutObject",
        ("DELETE", false) => "s3:DeleteObject",
        _ => "s3:GetObject",
    }
}

/// Adds the service's policy hop to `verdict` when `flow` reached an S3 or
/// `execute-api` interface endpoint, or an S3 gateway endpoint's address, and
/// `req` names a bucket or an API; a
/// refusal makes the verdict BLOCKED there. Anything else is left as it is.
pub fn apply(net: &Network, flow: &Flow, req: &ServiceRequest<'_>, verdict: &mut Verdict) {
    if !verdict.reachable {
        return;
    }
    let Endpoint::Eni(src) = flow.src else {
        return;
    };
    let src_eni = &net.enis[src.index()];
    let ep = match flow.dst {
        Endpoint::Eni(dst) => match net.enis[dst.index()].owner {
            EniOwner::Endpoint(ep) => ep,
            _ => return,
        },
        Endpoint::External(ip) => match gateway_endpoint(net, src_eni.subnet, ip) {
            Some(ep) => ep,
            None => return,
        },
    };
    let Some(target) = target(req.name, req.path) else {
        return;
    };
    let endpoint = &net.endpoints[ep.index()];
    let vpce = cove_model::ids::endpoint_id(net, ep);
    let src_tenant = net.vpcs[src_eni.vpc.index()].tenant;
    let mut cx = RequestContext {
        source_vpce: Some(vpce.clone()),
        source_vpc: Some(cove_model::ids::vpc_id(net, endpoint.vpc)),
        vpc_source_ip: Some(src_eni.private_ip),
        ..RequestContext::default()
    };
    let service = &endpoint.service;
    let (component, decided) = match target {
        Target::Bucket { bucket, key } if cove_model::dns::s3_region(service).is_some() => {
            let component = format!("bucket {bucket} (through {vpce})");
            let Some(b) = net.buckets.iter().find(|b| b.name == bucket) else {
                return deny(
                    verdict,
                    component,
                    format!("NoSuchBucket: no bucket is named {bucket}"),
                );
            };
            cx.account = Some(cove_model::ids::account_id(net, src_tenant));
            let owner = b.tenant == src_tenant;
            let action = s3_action(req.method, &key);
            let resource = if key.is_empty() {
                format!("arn:aws:s3:::{bucket}")
            } else {
                format!("arn:aws:s3:::{bucket}/{key}")
            };
            let decision = match &b.policy {
                Some(p) => p.decide(&cx, action, &resource, owner),
                None if owner => Decision::Allow,
                None => Decision::ImplicitDeny,
            };
            let who = if owner {
                "its owner"
            } else {
                "another account"
            };
            (
                component,
                (decision, format!("{action} on {resource} by {who}")),
            )
        }
        Target::Api { id } if cove_model::dns::execute_api_region(service).is_some() => {
            let Some(api) = net.apis.iter().find(|a| a.id == id) else {
                return deny(
                    verdict,
                    format!("API {id} (through {vpce})"),
                    format!("Forbidden: no private API has the id {id}"),
                );
            };
            let component = format!(
                "API {}/{} ({id}, through {vpce})",
                net.tenants[api.tenant.index()].name,
                api.name
            );
            let arn = format!(
                "arn:aws:execute-api:{}:{}:{id}",
                api.region,
                cove_model::ids::account_id(net, api.tenant)
            );
            let resource = format!(
                "{arn}/$default/{}/{}",
                req.method,
                req.path.trim_start_matches('/')
            );
            let decision = api
                .policy
                .decide(&cx, "execute-api:Invoke", &resource, false);
            if decision == Decision::Allow {
                let routes = api.routes.iter().map(|r| (&r.key, r.function));
                let Some((key, f, _)) = select(routes, req.method, req.path) else {
                    return deny(
                        verdict,
                        component,
                        format!(
                            "Not Found: no route of the API matches {} {}",
                            req.method, req.path
                        ),
                    );
                };
                let detail = format!(
                    "the resource policy allows execute-api:Invoke on {resource}; route {key} invokes function {}",
                    net.functions[f.index()].name
                );
                verdict.forward.push(hop(Outcome::Allow, component, detail));
                return;
            }
            (
                component,
                (decision, format!("execute-api:Invoke on {resource}")),
            )
        }
        _ => return,
    };
    let (decision, what) = decided;
    let from = format!("from {} through {vpce}", src_eni.private_ip);
    match decision {
        Decision::Allow => {
            let detail = format!("the policy allows {what}, {from}");
            verdict.forward.push(hop(Outcome::Allow, component, detail));
        }
        Decision::ImplicitDeny => deny(
            verdict,
            component,
            format!("AccessDenied: no statement of the policy allows {what}, {from}"),
        ),
        Decision::ExplicitDeny(sid) => deny(
            verdict,
            component,
            format!("AccessDenied: statement {sid} denies {what}, {from}"),
        ),
    }
}

/// The gateway endpoint that subnet `subnet`'s route table uses for `ip` (an
/// address of the endpoint's prefix list), if any.
fn gateway_endpoint(
    net: &Network,
    subnet: cove_model::SubnetId,
    ip: std::net::Ipv4Addr,
) -> Option<cove_model::EndpointId> {
    let table = &net.route_tables[net.subnets[subnet.index()].route_table.index()];
    table
        .routes
        .iter()
        .find_map(|r| match (&r.destination, &r.target) {
            (
                cove_model::RouteDestination::PrefixList(pl),
                cove_model::RouteTarget::GatewayEndpoint(ep),
            ) if net.prefix_lists[pl.index()]
                .cidrs
                .iter()
                .any(|c| c.contains(&ip)) =>
            {
                Some(*ep)
            }
            _ => None,
        })
}

fn hop(outcome: Outcome, component: String, detail: String) -> Hop {
    Hop {
        step: Step::EndpointPolicy,
        direction: Direction::Forward,
        outcome,
        component,
        detail,
    }
}

fn deny(verdict: &mut Verdict, component: String, reason: String) {
    verdict
        .forward
        .push(hop(Outcome::Deny, component.clone(), reason.clone()));
    verdict.reachable = false;
    verdict.blocked = Some(Blocked {
        step: Step::EndpointPolicy,
        direction: Direction::Forward,
        component,
        reason,
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn example() -> Network {
        let text = include_str!("../../../examples/closed-network.yaml");
        cove_model::validate::validate_text(text)
            .network
            .expect("valid")
    }

    fn check(net: &Network, from: &str, to: &str, name: &str, method: &str, path: &str) -> Verdict {
        let an = crate::Analyzer::new(net);
        let src = an.resolve_source(from).unwrap();
        let flow = Flow {
            src,
            dst: an.resolve_destination(src, to).unwrap(),
            protocol: 6,
            port: 80,
            src_port: None,
            icmp: (8, 0),
        };
        let mut v = an.check(&flow);
        apply(net, &flow, &ServiceRequest { name, method, path }, &mut v);
        v
    }

    #[test]
    fn the_bucket_policy_decides_after_the_network_path() {
        let net = example();
        let v = check(
            &net,
            "corp/onprem/desktop",
            "10.50.1.20",
            "spa-assets.s3.us-east-1.amazonaws.com",
            "GET",
            "/index.html",
        );
        assert!(v.reachable, "{v:#?}");
        let last = v.forward.last().unwrap();
        assert_eq!(
            (last.step, last.outcome),
            (Step::EndpointPolicy, Outcome::Allow)
        );
        assert!(
            last.detail
                .contains("s3:GetObject on arn:aws:s3:::spa-assets/index.html"),
            "{}",
            last.detail
        );
        // Path-style, deleting: the owner may (the Deny names other endpoints only).
        let v = check(
            &net,
            "corp/onprem/desktop",
            "10.50.1.20",
            "s3.us-east-1.amazonaws.com",
            "DELETE",
            "/spa-assets/index.html",
        );
        assert!(v.reachable, "{v:#?}");
        // A bucket that does not exist.
        let v = check(
            &net,
            "corp/onprem/desktop",
            "10.50.1.20",
            "nothing.s3.us-east-1.amazonaws.com",
            "GET",
            "/x",
        );
        let b = v.blocked.unwrap();
        assert_eq!(b.step, Step::EndpointPolicy);
        assert!(b.reason.starts_with("NoSuchBucket"), "{}", b.reason);
    }

    #[test]
    fn the_api_resource_policy_and_its_routes() {
        let net = example();
        let name = "c1o2v3e4a5.execute-api.us-east-1.amazonaws.com";
        let v = check(
            &net,
            "corp/onprem/desktop",
            "10.50.1.30",
            name,
            "GET",
            "/items/2",
        );
        assert!(v.reachable, "{v:#?}");
        let last = v.forward.last().unwrap();
        assert!(
            last.detail
                .contains("route GET /items/{id} invokes function inventory"),
            "{}",
            last.detail
        );
        let v = check(
            &net,
            "corp/onprem/desktop",
            "10.50.1.30",
            name,
            "POST",
            "/items",
        );
        assert!(v.blocked.unwrap().reason.starts_with("Not Found"));
        let v = check(
            &net,
            "corp/onprem/desktop",
            "10.50.1.30",
            "zzzzzzzzzz.execute-api.us-east-1.amazonaws.com",
            "GET",
            "/items",
        );
        assert!(v.blocked.unwrap().reason.starts_with("Forbidden"));
    }

    #[test]
    fn another_endpoint_is_refused_by_the_policy() {
        // The same API and bucket through a second VPC's endpoints: the policies
        // name only the first ones.
        let text = include_str!("../../../examples/closed-network.yaml").replace(
            "            private_dns_name: execute-api.us-east-1.amazonaws.com\n",
            "            private_dns_name: execute-api.us-east-1.amazonaws.com\n          - { name: api2, type: interface, service: com.amazonaws.us-east-1.execute-api, subnets: [private-a], private_ips: [10.50.1.31], security_groups: [endpoints] }\n          - { name: s3b, type: interface, service: com.amazonaws.us-east-1.s3, subnets: [private-a], private_ips: [10.50.1.21], security_groups: [endpoints] }\n",
        );
        let net = cove_model::validate::validate_text(&text)
            .network
            .expect("valid");
        let v = check(
            &net,
            "corp/onprem/desktop",
            "10.50.1.31",
            "c1o2v3e4a5.execute-api.us-east-1.amazonaws.com",
            "GET",
            "/items",
        );
        let b = v.blocked.unwrap();
        assert!(
            b.reason
                .starts_with("AccessDenied: no statement of the policy allows execute-api:Invoke"),
            "{}",
            b.reason
        );
        let v = check(
            &net,
            "corp/onprem/desktop",
            "10.50.1.21",
            "spa-assets.s3.us-east-1.amazonaws.com",
            "GET",
            "/index.html",
        );
        let b = v.blocked.unwrap();
        assert!(
            b.reason
                .starts_with("AccessDenied: statement NothingFromAnywhereElse denies s3:GetObject"),
            "{}",
            b.reason
        );
    }

    #[test]
    fn a_gateway_endpoint_is_the_one_the_sources_subnet_routes() {
        let text = "tenants:
  - name: t
    prefix_lists:
      - { name: s3, cidrs: [52.216.0.0/15] }
    buckets:
      - name: lake
        policy:
          Statement:
            - { Sid: OnlyTheGateway, Effect: Deny, Principal: '*', Action: 's3:*', Resource: ['arn:aws:s3:::lake/*'],
                Condition: { StringNotEquals: { 'aws:SourceVpce': vpce-0ga7e0000000000a1 } } }
    vpcs:
      - name: v
        cidr: 10.1.0.0/16
        subnets:
          - { name: a, cidr: 10.1.1.0/24, az: us-east-1a, route_table: ra }
          - { name: b, cidr: 10.1.2.0/24, az: us-east-1a, route_table: rb }
        route_tables:
          - { name: ra }
          - { name: rb }
        enis:
          - { name: ca, subnet: a, private_ip: 10.1.1.5 }
          - { name: cb, subnet: b, private_ip: 10.1.2.5 }
        endpoints:
          - { name: ga, id: vpce-0ga7e0000000000a1, type: gateway, service: com.amazonaws.us-east-1.s3, prefix_list: s3, route_tables: [ra] }
          - { name: gb, type: gateway, service: com.amazonaws.us-east-1.s3, prefix_list: s3, route_tables: [rb] }
";
        let net = cove_model::validate::validate_text(text)
            .network
            .expect("valid");
        let name = "lake.s3.us-east-1.amazonaws.com";
        let v = check(&net, "t/v/ca", "52.216.0.1", name, "GET", "/k");
        assert!(v.reachable, "{v:#?}");
        assert_eq!(v.forward.last().unwrap().step, Step::EndpointPolicy);
        let v = check(&net, "t/v/cb", "52.216.0.1", name, "GET", "/k");
        let b = v.blocked.expect("the other gateway endpoint");
        assert!(
            b.reason
                .starts_with("AccessDenied: statement OnlyTheGateway denies"),
            "{}",
            b.reason
        );
    }
}
