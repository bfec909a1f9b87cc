//! Metering (issue 14): bytes and packets each tenant's interfaces sent, per
//! path (within a VPC, over a peering, to an endpoint, out through a NAT gateway
//! or the internet gateway), and each function's — from the same per-connection
//! counters as the flow logs, each packet counted once, where it left.

use std::collections::BTreeMap;

use cove_model::Network;

use crate::ct::Counts;
use crate::directory::{Direction, PathKind, Seen};

/// Totals since the meter started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meter {
    /// (tenant, path) → sent.
    pub tenants: BTreeMap<(String, PathKind), Counts>,
    /// (`tenant/function`, path) → sent by the function's environments.
    pub functions: BTreeMap<(String, PathKind), Counts>,
}

impl Meter {
    /// Counts what `seen` sent (egress views only: each packet once). A NAT
    /// gateway's interface is not metered: what it sends on is its clients'
    /// traffic, metered where they sent it (path `nat-gateway`).
    pub fn add(&mut self, net: &Network, seen: &Seen) {
        if seen.direction != Direction::Egress {
            return;
        }
        let eni = &net.enis[seen.eni.index()];
        if matches!(eni.owner, cove_model::EniOwner::NatGateway(_)) {
            return;
        }
        let tenant = net.tenants[net.vpcs[eni.vpc.index()].tenant.index()]
            .name
            .clone();
        bump(
            self.tenants.entry((tenant.clone(), seen.path)).or_default(),
            seen.counts,
        );
        if let Some(f) = seen.function {
            let key = format!("{tenant}/{}", net.functions[f.index()].name);
            bump(
                self.functions.entry((key, seen.path)).or_default(),
                seen.counts,
            );
        }
    }

    /// Private data transfer (peering and endpoints) per tenant, in bytes.
    pub fn private_bytes(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for ((tenant, path), c) in &self.tenants {
            if path.is_private() {
                *out.entry(tenant.clone()).or_default() += c.bytes;
            }
        }
        out
    }
}

fn bump(total: &mut Counts, add: Counts) {
    total.packets += add.packets;
    total.bytes += add.bytes;
}
