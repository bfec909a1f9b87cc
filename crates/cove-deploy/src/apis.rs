//! The private APIs' plan for one generation (issue 15): every API with its
//! routes' functions (`tenant/name`), CORS and resource policy, and where the
//! gateway listens — the ENIs of interface endpoints to `execute-api`
//! (`com.amazonaws.<region>.execute-api`). Made without I/O from the network;
//! kept running by [`crate::Kernel::apis`] in `cove serve`, which invokes on its
//! scheduler.

use cove_apigw::{ApiConfig, Apis};
use cove_listeners::ListenerConfig;
use cove_model::Network;
use cove_plan::names::Names;

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
    cove_model::dns::execute_api_region(service).is_some()
}

impl ApisPlan {
    /// The plan for `net` under `prefix`, or `None` when it has neither an API
    /// nor an `execute-api` endpoint.
    pub fn new(net: &Network, prefix: &str) -> Option<ApisPlan> {
        let names = Names::new(net, prefix);
        let mut listeners = Vec::new();
        for id in net.vpcs.iter().flat_map(|v| v.endpoints.iter().copied()) {
            if is_execute_api(&net.endpoints[id.index()].service) {
                listeners.extend(crate::endpoint_listeners::interface_listeners(
                    net, &names, id,
                ));
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

    #[test]
    fn the_closed_network_example_has_its_api_behind_its_endpoint() {
        let text = include_str!("../../../examples/closed-network.yaml");
        let net = cove_model::validate::validate_text(text)
            .network
            .expect("valid");
        let plan = ApisPlan::new(&net, "cn").expect("an API");
        let at: Vec<String> = plan
            .listeners
            .iter()
            .map(|l| format!("{}:{}", l.address, l.port))
            .collect();
        assert_eq!(at, ["10.50.1.30:80", "10.50.1.30:443"]);
        let api = &plan.apis["c1o2v3e4a5"];
        assert_eq!(
            api.arn,
            "arn:aws:execute-api:us-east-1:222222222222:c1o2v3e4a5"
        );
        let functions: Vec<&str> = api.routes.iter().map(|r| r.1.as_str()).collect();
        assert_eq!(functions, ["corp/inventory", "corp/inventory"]);
    }
}
