//! The private APIs' plan for one generation (issue 15): every API with its
//! routes' functions (`tenant/name`), CORS and resource policy, and where the
//! gateway listens — the ENIs of interface endpoints to `execute-api`
//! (`com.amazonaws.<region>.execute-api`). Made without I/O from the network;
//! kept running by [`crate::Kernel::apis`] in `cove serve`, which invokes on its
//! scheduler.

use cove_apigw::{ApiConfig, Apis};
use cove_listeners::{ListenerConfig, Origin};
use cove_model::{EndpointKind, Network};
use cove_plan::names::Names;

/// The ports the gateway answers on (plain HTTP on both, as the stand-ins).
pub const PORTS: [u16; 2] = [80, 443];

/// What the gateway serves for one generation.
#[derive(Debug)]
pub struct ApisPlan {
    /// The APIs by id.
    pub apis: Apis,
    /// Its listeners, in a stable order.
    pub listeners: Vec<ListenerConfig>,
}

/// Whether `service` is API Gateway's (`com.amazonaws.<region>.execute-api`).
pub fn is_execute_api(service: &str) -> bool {
    service
        .strip_prefix("com.amazonaws.")
        .and_then(|s| s.strip_suffix(".execute-api"))
        .is_some_and(|r| !r.is_empty() && !r.contains('.'))
}

impl ApisPlan {
    /// The plan for `net` under `prefix`, or `None` when it has neither an API
    /// nor an `execute-api` endpoint.
    pub fn new(net: &Network, prefix: &str) -> Option<ApisPlan> {
        let names = Names::new(net, prefix);
        let mut listeners = Vec::new();
        for id in net.vpcs.iter().flat_map(|v| v.endpoints.iter().copied()) {
            let e = &net.endpoints[id.index()];
            let EndpointKind::Interface { enis, .. } = &e.kind else {
                continue;
            };
            if !is_execute_api(&e.service) {
                continue;
            }
            let origin = Origin::Interface {
                vpc: cove_model::ids::vpc_id(net, e.vpc),
                vpce: cove_model::ids::endpoint_id(net, id),
            };
            for eni in enis {
                for port in PORTS {
                    listeners.push(ListenerConfig {
                        ns: names.eni_ns(*eni),
                        address: net.enis[eni.index()].private_ip,
                        port,
                        origin: origin.clone(),
                    });
                }
            }
        }
        if listeners.is_empty() && net.apis.is_empty() {
            return None;
        }
        listeners.sort();
        let apis = net
            .apis
            .iter()
            .map(|a| {
                let tenant = &net.tenants[a.tenant.index()].name;
                let account = cove_model::ids::account_id(net, a.tenant);
                let config = ApiConfig {
                    id: a.id.clone(),
                    arn: format!("arn:aws:execute-api:{}:{account}:{}", a.region, a.id),
                    account,
                    routes: a
                        .routes
                        .iter()
                        .map(|r| {
                            let f = &net.functions[r.function.index()];
                            (r.key.clone(), format!("{tenant}/{}", f.name))
                        })
                        .collect(),
                    cors: a.cors.clone(),
                    policy: a.policy.clone(),
                };
                (a.id.clone(), config)
            })
            .collect();
        Some(ApisPlan { apis, listeners })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_execute_api_endpoints_get_gateway_listeners() {
        assert!(is_execute_api("com.amazonaws.us-east-1.execute-api"));
        assert!(!is_execute_api("com.amazonaws.us-east-1.s3"));
        assert!(!is_execute_api("com.amazonaws..execute-api"));
        // The shipped example has neither APIs nor execute-api endpoints.
        assert!(ApisPlan::new(&crate::example_network(), "cove").is_none());
    }
}
