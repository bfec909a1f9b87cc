//! The object store's plan for one generation (issue 15): the buckets with their
//! owners' accounts and policies, every tenant's key, and where the store
//! listens — the ENIs of interface endpoints to S3 (`com.amazonaws.<region>.s3`)
//! and the services namespace of each VPC with S3 gateway endpoints. Made
//! without I/O from the network; kept running by [`crate::Kernel::objects`] in
//! `cove serve`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use cove_listeners::{GatewayRoute, ListenerConfig, Origin};
use cove_model::{EndpointKind, Network, RouteDestination, RouteTarget};
use cove_objects::{Bucket, KeySecret, Keys};
use cove_plan::names::Names;

/// What the store serves for one generation.
#[derive(Debug)]
pub struct ObjectsPlan {
    /// Where its objects are kept (`<state>/<prefix>/objects`).
    pub root: PathBuf,
    /// The declared buckets.
    pub buckets: BTreeMap<String, Bucket>,
    /// Every tenant's key, with its account.
    pub keys: Keys,
    /// Its listeners, in a stable order.
    pub listeners: Vec<ListenerConfig>,
}

/// Whether `service` is S3 (`com.amazonaws.<region>.s3`).
pub fn is_s3(service: &str) -> bool {
    cove_model::dns::s3_region(service).is_some()
}

impl ObjectsPlan {
    /// The plan for `net` under `prefix`, or `None` when the network has
    /// neither a bucket nor an endpoint to S3 (then no store runs).
    pub fn new(
        net: &Network,
        prefix: &str,
        root: PathBuf,
        secret: &KeySecret,
    ) -> Option<ObjectsPlan> {
        let names = Names::new(net, prefix);
        let mut listeners = Vec::new();
        let mut gateway: BTreeMap<cove_model::VpcId, Vec<GatewayRoute>> = BTreeMap::new();
        for id in net.vpcs.iter().flat_map(|v| v.endpoints.iter().copied()) {
            let e = &net.endpoints[id.index()];
            if !is_s3(&e.service) {
                continue;
            }
            match &e.kind {
                EndpointKind::Interface { .. } => {
                    listeners.extend(crate::endpoint_listeners::interface_listeners(
                        net, &names, id,
                    ));
                }
                EndpointKind::Gateway { prefix_list, .. } => {
                    let vpce = cove_model::ids::endpoint_id(net, id);
                    let routes = gateway.entry(e.vpc).or_default();
                    for s in net.vpcs[e.vpc.index()].subnets.iter() {
                        let subnet = &net.subnets[s.index()];
                        let table = &net.route_tables[subnet.route_table.index()];
                        let routed = table.routes.iter().any(|r| {
                            r.target == RouteTarget::GatewayEndpoint(id)
                                && r.destination == RouteDestination::PrefixList(*prefix_list)
                        });
                        if !routed {
                            continue;
                        }
                        for c in &net.prefix_lists[prefix_list.index()].cidrs {
                            routes.push(GatewayRoute {
                                subnet: subnet.cidr,
                                service: *c,
                                vpce: vpce.clone(),
                            });
                        }
                    }
                }
            }
        }
        for (v, mut routes) in gateway {
            routes.sort();
            for port in crate::endpoint_listeners::PORTS {
                listeners.push(ListenerConfig {
                    ns: names.services_ns(v),
                    address: Ipv4Addr::UNSPECIFIED,
                    port,
                    origin: Origin::Gateway {
                        vpc: cove_model::ids::vpc_id(net, v),
                        routes: routes.clone(),
                    },
                });
            }
        }
        if listeners.is_empty() && net.buckets.is_empty() {
            return None;
        }
        listeners.sort();
        let buckets = net
            .buckets
            .iter()
            .map(|b| {
                let bucket = Bucket {
                    owner: cove_model::ids::account_id(net, b.tenant),
                    policy: b.policy.clone(),
                };
                (b.name.clone(), bucket)
            })
            .collect();
        let keys = Keys(
            (0..net.tenants.len())
                .filter_map(|t| u32::try_from(t).ok())
                .map(|t| {
                    let t = cove_model::TenantId(t);
                    let key = secret.tenant_key(&net.tenants[t.index()].name);
                    let account = cove_model::ids::account_id(net, t);
                    (key.access_key_id, (key.secret_access_key, account))
                })
                .collect(),
        );
        Some(ObjectsPlan {
            root,
            buckets,
            keys,
            listeners,
        })
    }
}

impl ObjectsPlan {
    /// Also listens at `addr` on this host, outside every VPC (none: not).
    pub fn listen_on_host(&mut self, addr: Option<std::net::SocketAddrV4>) {
        let Some(addr) = addr else { return };
        self.listeners.push(ListenerConfig {
            ns: String::new(),
            address: *addr.ip(),
            port: addr.port(),
            origin: Origin::Direct,
        });
        self.listeners.sort();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn only_s3_endpoints_get_listeners() {
        assert!(is_s3("com.amazonaws.us-east-1.s3"));
        assert!(!is_s3("com.amazonaws.us-east-1.s3express"));
        assert!(!is_s3("com.amazonaws.us-east-1.secretsmanager"));
    }

    #[test]
    fn the_examples_gateway_endpoint_gets_a_services_listener_per_port() {
        let net = crate::example_network();
        let secret = KeySecret::from_bytes([1; 32]);
        let plan = ObjectsPlan::new(&net, "cove", "/x".into(), &secret).expect("an S3 endpoint");
        assert_eq!(plan.listeners.len(), 2, "{:?}", plan.listeners);
        let l = &plan.listeners[0];
        assert!(l.ns.starts_with("cove-s-"), "{}", l.ns);
        let Origin::Gateway { routes, .. } = &l.origin else {
            panic!("{l:?}")
        };
        assert!(!routes.is_empty());
        assert!(routes.iter().all(|r| r.vpce.starts_with("vpce-")));
        assert_eq!(plan.keys.0.len(), net.tenants.len());
    }

    #[test]
    fn the_closed_network_example_has_its_s3_endpoint_and_a_host_side() {
        let text = include_str!("../../../examples/closed-network.yaml");
        let net = cove_model::validate::validate_text(text)
            .network
            .expect("valid");
        let secret = KeySecret::from_bytes([2; 32]);
        let mut plan = ObjectsPlan::new(&net, "cn", "/x".into(), &secret).expect("a bucket");
        let at: Vec<(String, u16)> = plan
            .listeners
            .iter()
            .map(|l| (l.address.to_string(), l.port))
            .collect();
        assert_eq!(
            at,
            [
                ("10.50.1.20".to_owned(), 80),
                ("10.50.1.20".to_owned(), 443)
            ]
        );
        let app = net.vpcs.iter().position(|v| v.name == "app").unwrap();
        let app = cove_model::VpcId(u32::try_from(app).unwrap());
        assert_eq!(
            plan.listeners[0].origin,
            Origin::Interface {
                vpc: cove_model::ids::vpc_id(&net, app),
                vpce: "vpce-0c105ed0000000001".into(),
            }
        );
        assert_eq!(plan.buckets["spa-assets"].owner, "222222222222");
        plan.listen_on_host(Some("127.0.0.1:9100".parse().unwrap()));
        assert!(
            plan.listeners
                .iter()
                .any(|l| l.ns.is_empty() && l.port == 9100 && l.origin == Origin::Direct)
        );
    }
}
