//! Where a connection to the store came from, as bucket policies see it.
//!
//! A listener in an S3 *interface* endpoint's ENI namespace knows its endpoint and
//! VPC outright. The listener behind a VPC's *gateway* endpoints (one services
//! namespace per VPC, owning every address of the endpoints' prefix lists) learns
//! the endpoint from the connection: the source address names the subnet, the
//! subnet's route table the gateway endpoint that routes the destination's prefix
//! list — AWS's `aws:SourceVpce` for a gateway endpoint is the one in the route the
//! packet took.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use cove_model::bucket_policy::RequestContext;

/// One route of a subnet's table to an S3 gateway endpoint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GatewayRoute {
    /// The subnet whose table has the route.
    pub subnet: Ipv4Net,
    /// A CIDR of the endpoint's prefix list.
    pub service: Ipv4Net,
    /// The endpoint (`vpce-…`).
    pub vpce: String,
}

/// What a listener knows about its connections' origin.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// An interface endpoint's ENI: every connection came through it.
    Interface {
        /// The endpoint's VPC (`vpc-…`).
        vpc: String,
        /// The endpoint (`vpce-…`).
        vpce: String,
    },
    /// A VPC's gateway endpoints: the endpoint is the one routing the
    /// connection's destination from its source's subnet.
    Gateway {
        /// The VPC (`vpc-…`).
        vpc: String,
        /// Its subnets' routes to S3 gateway endpoints.
        routes: Vec<GatewayRoute>,
    },
    /// Not through an endpoint: the store's host side (benchmarks, the
    /// operator). Policies see the peer as `aws:SourceIp`.
    Direct,
}

impl Origin {
    /// The request context of a connection from `peer` to `local`; `None`
    /// when it cannot have come through this listener's endpoints (a gateway
    /// connection whose subnet routes no S3 prefix list to an endpoint, e.g. one
    /// addressed to another service of the prefix lists) — it is refused.
    pub fn context(&self, peer: Ipv4Addr, local: Ipv4Addr) -> Option<RequestContext> {
        match self {
            Origin::Interface { vpc, vpce } => Some(RequestContext {
                source_vpce: Some(vpce.clone()),
                source_vpc: Some(vpc.clone()),
                vpc_source_ip: Some(peer),
                ..RequestContext::default()
            }),
            Origin::Gateway { vpc, routes } => {
                // The most specific prefix-list CIDR wins, as in the route table.
                let r = routes
                    .iter()
                    .filter(|r| r.subnet.contains(&peer) && r.service.contains(&local))
                    .max_by_key(|r| r.service.prefix_len())?;
                Some(RequestContext {
                    source_vpce: Some(r.vpce.clone()),
                    source_vpc: Some(vpc.clone()),
                    vpc_source_ip: Some(peer),
                    ..RequestContext::default()
                })
            }
            Origin::Direct => Some(RequestContext {
                source_ip: Some(peer),
                ..RequestContext::default()
            }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn a_gateway_connection_names_the_endpoint_of_its_subnets_route() {
        let o = Origin::Gateway {
            vpc: "vpc-1".into(),
            routes: vec![
                GatewayRoute {
                    subnet: net("10.0.1.0/24"),
                    service: net("52.216.0.0/15"),
                    vpce: "vpce-a".into(),
                },
                GatewayRoute {
                    subnet: net("10.0.2.0/24"),
                    service: net("52.216.0.0/15"),
                    vpce: "vpce-b".into(),
                },
            ],
        };
        let s3 = "52.216.0.1".parse().unwrap();
        let c = o.context("10.0.2.9".parse().unwrap(), s3).unwrap();
        assert_eq!(c.source_vpce.as_deref(), Some("vpce-b"));
        assert_eq!(c.source_vpc.as_deref(), Some("vpc-1"));
        assert_eq!(c.vpc_source_ip, Some("10.0.2.9".parse().unwrap()));
        assert_eq!(c.source_ip, None);
        // No route from that subnet, or another service's address: refused.
        assert!(o.context("10.0.3.9".parse().unwrap(), s3).is_none());
        let dynamo = "3.218.180.1".parse().unwrap();
        assert!(o.context("10.0.1.9".parse().unwrap(), dynamo).is_none());
    }

    #[test]
    fn interface_and_direct_connections() {
        let o = Origin::Interface {
            vpc: "vpc-1".into(),
            vpce: "vpce-i".into(),
        };
        let peer = "10.0.1.5".parse().unwrap();
        let c = o.context(peer, "10.0.1.9".parse().unwrap()).unwrap();
        assert_eq!(c.source_vpce.as_deref(), Some("vpce-i"));
        let d = Origin::Direct.context(peer, peer).unwrap();
        assert_eq!((d.source_ip, d.source_vpce), (Some(peer), None));
    }
}
