//! What EC2's `Describe*` calls show of a tenant (pure): its VPCs and subnets in the
//! validated desired network, with their AWS-style ids (imported, given at
//! creation, or derived from the path as flow logs and policies name them).

use cove_model::ids::resource_id;
use cove_model::model::Network;

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
}

/// A tenant's VPCs and subnets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantView {
    /// VPCs.
    pub vpcs: Vec<VpcView>,
    /// Subnets.
    pub subnets: Vec<SubnetView>,
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
        let path = net.vpc_path(vid);
        for &sid in &v.subnets {
            let s = &net.subnets[sid.index()];
            let used = v
                .enis
                .iter()
                .filter(|e| net.enis[e.index()].subnet == sid)
                .count();
            let size = 1u64 << (32 - u32::from(s.cidr.prefix_len()));
            view.subnets.push(SubnetView {
                id: resource_id("subnet", s.aws_id.as_deref(), &format!("{path}/{}", s.name)),
                name: s.name.clone(),
                vpc_id: vpc_id.clone(),
                vpc_name: v.name.clone(),
                cidr: s.cidr.to_string(),
                az: s.az.clone(),
                available: size.saturating_sub(5 + used as u64),
            });
        }
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
