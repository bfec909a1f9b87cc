//! NAT gateways' metrics: port-allocation errors (AWS's `ErrorPortAllocation`)
//! and active connections per public IP, from the gateways' own conntrack tables
//! (sampled every ten seconds by `cove serve`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GatewayLabel {
    gateway: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GatewayIp {
    gateway: String,
    ip: String,
}

/// One NAT gateway's sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatGatewaySample {
    /// `tenant/vpc/name`.
    pub gateway: String,
    /// Connections per public IP.
    pub connections: Vec<(String, u64)>,
    /// Port-allocation errors so far (its namespace's).
    pub port_allocation_errors: u64,
}

/// The NAT families.
#[derive(Clone, Debug, Default)]
pub struct NatMetrics {
    port_errors: Family<GatewayLabel, Counter>,
    connections: Family<GatewayIp, Gauge>,
}

impl NatMetrics {
    pub(crate) fn register(&self, r: &mut Registry) {
        r.register(
            "nat_port_allocation_errors",
            "New connections a NAT gateway could not translate: no free source port towards that destination (AWS's ErrorPortAllocation)",
            self.port_errors.clone(),
        );
        r.register(
            "nat_active_connections",
            "Connections a NAT gateway tracks now, per public IP they leave from",
            self.connections.clone(),
        );
    }

    /// Sets the metrics to `samples` (a gateway not listed has no connections
    /// shown; its error counter stays).
    pub fn observe(&self, samples: &[NatGatewaySample]) {
        self.connections.clear();
        for s in samples {
            crate::raise_to(
                &self.port_errors.get_or_create(&GatewayLabel {
                    gateway: s.gateway.clone(),
                }),
                s.port_allocation_errors,
            );
            for (ip, n) in &s.connections {
                self.connections
                    .get_or_create(&GatewayIp {
                        gateway: s.gateway.clone(),
                        ip: ip.clone(),
                    })
                    .set(i64::try_from(*n).unwrap_or(i64::MAX));
            }
        }
    }
}
