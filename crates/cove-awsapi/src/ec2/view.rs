//! What EC2's `Describe*` calls show of a tenant (pure): its VPCs and subnets in the
//! validated desired network, with their AWS-style ids (imported, given at
//! creation, or derived from the path as flow logs and policies name them).

use std::collections::HashMap;

use cove_model::ids::resource_id;
use cove_model::model::{Network, SubnetId, VpcId};

/// One VPC as EC2 shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcView {
    /// `vpc-…`.
    pub id: String,
    /// Its name in the desired spec (a network's VPC: the network's id).
    pub name: String,
    /// Its blocks, the primary first.
    pub cidrs: Vec<String>,
    /// Whether DNS resolution is on.
    pub dns_support: bool,
    /// Whether DNS hostnames are on.
    pub dns_hostnames: bool,
}

/// Subnet `sid`'s id (`subnet-…`): imported, or derived from its path.
pub fn subnet_id(net: &Network, sid: SubnetId) -> String {
    let s = &net.subnets[sid.index()];
    resource_id(
        "subnet",
        s.aws_id.as_deref(),
        &format!("{}/{}", net.vpc_path(s.vpc), s.name),
    )
}

/// One subnet as EC2 shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetView {
    /// `subnet-…`.
    pub id: String,
    /// Its name in the desired spec.
    pub name: String,
    /// Its VPC's id.
    pub vpc_id: String,
    /// Its VPC's name in the desired spec.
    pub vpc_name: String,
    /// Block.
    pub cidr: String,
    /// Zone.
    pub az: String,
    /// Addresses left: the block less AWS's five reserved and the ENIs in it.
    pub available: u64,
    /// Its index in the model (none for one a write is making).
    pub index: Option<usize>,
}

/// A tenant's VPCs and subnets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantView {
    /// VPCs.
    pub vpcs: Vec<VpcView>,
    /// Subnets.
    pub subnets: Vec<SubnetView>,
    /// Where each VPC is in `vpcs`, by its index in the model.
    pub vpc_at: HashMap<usize, usize>,
}

impl TenantView {
    /// The tenant's VPC `v` of the model (none: another tenant's).
    pub fn vpc(&self, v: VpcId) -> Option<&VpcView> {
        self.vpc_at.get(&v.index()).map(|&i| &self.vpcs[i])
    }
}

/// `tenant`'s part of `net`.
pub fn tenant_view(net: &Network, tenant: &str) -> TenantView {
    let mut view = TenantView::default();
    let Some(t) = net.tenants.iter().find(|t| t.name == tenant) else {
        return view;
    };
    for &vid in &t.vpcs {
        let v = &net.vpcs[vid.index()];
        let vpc_id = cove_model::ids::vpc_id(net, vid);
        // ENIs per subnet, counted once for the VPC.
        let mut in_subnet: HashMap<usize, usize> = HashMap::new();
        for e in &v.enis {
            *in_subnet
                .entry(net.enis[e.index()].subnet.index())
                .or_default() += 1;
        }
        for &sid in &v.subnets {
            let s = &net.subnets[sid.index()];
            let used = in_subnet.get(&sid.index()).copied().unwrap_or(0);
            let size = 1u64 << (32 - u32::from(s.cidr.prefix_len()));
            view.subnets.push(SubnetView {
                id: subnet_id(net, sid),
                name: s.name.clone(),
                vpc_id: vpc_id.clone(),
                vpc_name: v.name.clone(),
                cidr: s.cidr.to_string(),
                az: s.az.clone(),
                available: size.saturating_sub(5 + used as u64),
                index: Some(sid.index()),
            });
        }
        view.vpc_at.insert(vid.index(), view.vpcs.len());
        view.vpcs.push(VpcView {
            id: vpc_id,
            name: v.name.clone(),
            cidrs: v.cidrs.iter().map(ToString::to_string).collect(),
            dns_support: v.dns_support,
            dns_hostnames: v.dns_hostnames,
        });
    }
    view
}
