//! Metering (issue 14): bytes and packets sent per tenant and per function, by
//! path, brought up to the collector's meter when scraped.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// A tenant and a path.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantPath {
    tenant: String,
    path: &'static str,
}

/// A function (`tenant/function`) and a path.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FunctionPath {
    function: String,
    path: &'static str,
}

/// What one tenant or function sent on one path since the process started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentOnPath {
    /// The tenant, or the function (`tenant/function`).
    pub who: String,
    /// `intra-vpc`, `peering`, `endpoint`, `nat-gateway` or `internet-gateway`.
    pub path: &'static str,
    /// IP bytes.
    pub bytes: u64,
    /// Packets.
    pub packets: u64,
}

/// The metering families.
#[derive(Clone, Debug, Default)]
pub struct TransferMetrics {
    tenant_bytes: Family<TenantPath, Counter>,
    tenant_packets: Family<TenantPath, Counter>,
    function_bytes: Family<FunctionPath, Counter>,
    function_packets: Family<FunctionPath, Counter>,
}

impl TransferMetrics {
    pub(crate) fn register(&self, r: &mut Registry) {
        r.register(
            "transfer_bytes",
            "IP bytes each tenant's interfaces sent, by path (intra-vpc, peering, endpoint, nat-gateway, internet-gateway)",
            self.tenant_bytes.clone(),
        );
        r.register(
            "transfer_packets",
            "Packets each tenant's interfaces sent, by path",
            self.tenant_packets.clone(),
        );
        r.register(
            "function_transfer_bytes",
            "IP bytes each function's environments sent, by path",
            self.function_bytes.clone(),
        );
        r.register(
            "function_transfer_packets",
            "Packets each function's environments sent, by path",
            self.function_packets.clone(),
        );
    }

    /// Brings the counters up to the meter's `tenants` and `functions`.
    pub fn observe(&self, tenants: &[SentOnPath], functions: &[SentOnPath]) {
        for s in tenants {
            let l = TenantPath {
                tenant: s.who.clone(),
                path: s.path,
            };
            crate::raise_to(&self.tenant_bytes.get_or_create(&l), s.bytes);
            crate::raise_to(&self.tenant_packets.get_or_create(&l), s.packets);
        }
        for s in functions {
            let l = FunctionPath {
                function: s.who.clone(),
                path: s.path,
            };
            crate::raise_to(&self.function_bytes.get_or_create(&l), s.bytes);
            crate::raise_to(&self.function_packets.get_or_create(&l), s.packets);
        }
    }
}
