//! The VPCs a peering connection can join: each tenant's Secure Compute networks
//! and the standalone VPCs of its spec (made with EC2's `CreateVpc` or written in
//! the spec). A standalone VPC's id is derived from `tenant/vpc` as the model
//! derives it, so the id EC2 shows is the id a peering names.

use std::collections::BTreeMap;

use cove_model::spec::{TenantSpec, VpcSpec};
use ipnet::Ipv4Net;

use crate::ids::{NetworkId, TenantId};
use crate::network::standalone_vpcs;
use crate::state::ControlState;
use crate::types::NetworkStatus;

/// Each tenant's spec, by tenant (what the store holds beside the control state).
pub type Specs = BTreeMap<TenantId, TenantSpec>;

/// A VPC a peering connection may join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerableVpc {
    /// Its owner.
    pub tenant: TenantId,
    /// Its id (`vpc-…`).
    pub vpc_id: String,
    /// Its network, when it is a network's VPC.
    pub network: Option<NetworkId>,
    /// The network's name, or the spec VPC's name.
    pub name: String,
    /// Its blocks (primary first).
    pub cidrs: Vec<Ipv4Net>,
    /// Whether it is a network being deleted.
    pub deleting: bool,
}

impl PeerableVpc {
    /// Whether any block of `self` overlaps any of `other`'s.
    pub fn overlaps(&self, other: &PeerableVpc) -> bool {
        self.cidrs.iter().any(|a| {
            other
                .cidrs
                .iter()
                .any(|b| a.contains(&b.network()) || b.contains(&a.network()))
        })
    }
}

/// The id of `v`, a standalone VPC of tenant `tenant_name`'s spec.
pub fn standalone_vpc_id(tenant_name: &str, v: &VpcSpec) -> String {
    cove_model::ids::resource_id("vpc", v.id.as_deref(), &format!("{tenant_name}/{}", v.name))
}

/// The VPC `vpc_id` of `tenant`: one of its networks', else a standalone VPC of
/// its spec (one that adds to no network).
pub fn find_vpc(
    state: &ControlState,
    specs: &Specs,
    tenant: &TenantId,
    vpc_id: &str,
) -> Option<PeerableVpc> {
    let nets = state.networks_of(tenant);
    if let Some(n) = nets.iter().find(|n| n.vpc_id == vpc_id) {
        return Some(PeerableVpc {
            tenant: tenant.clone(),
            vpc_id: n.vpc_id.clone(),
            network: Some(n.id.clone()),
            name: n.name.clone(),
            cidrs: vec![n.cidr],
            deleting: n.status == NetworkStatus::Deleting,
        });
    }
    let t = state.tenants.get(tenant)?;
    let v = standalone_vpcs(state, tenant, specs.get(tenant)?)
        .into_iter()
        .find(|v| standalone_vpc_id(&t.name, v) == vpc_id)?;
    let cidrs = std::iter::once(&v.cidr)
        .chain(&v.secondary_cidrs)
        .filter_map(|c| c.parse::<Ipv4Net>().ok())
        .collect();
    Some(PeerableVpc {
        tenant: tenant.clone(),
        vpc_id: vpc_id.to_owned(),
        network: None,
        name: v.name.clone(),
        cidrs,
        deleting: false,
    })
}

/// Whether `id` is a live peering connection one of whose sides is `tenant`'s VPC
/// `vpc_id` (a route of that VPC may name it).
pub fn peering_of_vpc(state: &ControlState, tenant: &TenantId, vpc_id: &str, id: &str) -> bool {
    state
        .peerings
        .get(&crate::ids::PeeringId(id.to_owned()))
        .is_some_and(|p| {
            p.status.is_live()
                && ((p.requester.tenant == *tenant && p.requester.vpc_id == vpc_id)
                    || (p.accepter.tenant.as_ref() == Some(tenant) && p.accepter.vpc_id == vpc_id))
        })
}
