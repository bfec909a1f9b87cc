//! Display names computed once per network, so that an explained query clones
//! strings instead of formatting qualified names again and again.

use cove_model::lookup::index_u32;
use cove_model::{EniId, Network, RouteTableId, SgId, SubnetId};

/// Precomputed display names.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    eni: Vec<String>,
    sg: Vec<String>,
    subnet_acl: Vec<String>,
    route_table: Vec<String>,
}

impl Labels {
    /// Computes the names of every ENI, security group, subnet ACL and route table.
    pub fn new(net: &Network) -> Self {
        let ids = |n: usize| (0..n).map(index_u32);
        Labels {
            eni: ids(net.enis.len())
                .map(|i| net.eni_label(EniId(i)))
                .collect(),
            sg: ids(net.security_groups.len())
                .map(|i| net.sg_label(SgId(i)))
                .collect(),
            subnet_acl: ids(net.subnets.len())
                .map(|i| {
                    let s = SubnetId(i);
                    let acl = net.subnets[s.index()].network_acl;
                    format!("{} of subnet {}", net.nacl_label(acl), net.subnet_label(s))
                })
                .collect(),
            route_table: ids(net.route_tables.len())
                .map(|i| format!("route table {}", net.route_table_label(RouteTableId(i))))
                .collect(),
        }
    }

    /// `tenant/vpc/eni (eni-…)`.
    pub fn eni(&self, id: EniId) -> &str {
        &self.eni[id.index()]
    }

    /// `tenant/vpc/group (sg-…)`.
    pub fn sg(&self, id: SgId) -> &str {
        &self.sg[id.index()]
    }

    /// Several groups, comma-separated.
    pub fn groups(&self, ids: &[SgId]) -> String {
        let mut out = String::new();
        for (i, g) in ids.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(self.sg(*g));
        }
        out
    }

    /// `tenant/vpc/acl (acl-…) of subnet tenant/vpc/subnet (subnet-…)`.
    pub fn subnet_acl(&self, id: SubnetId) -> &str {
        &self.subnet_acl[id.index()]
    }

    /// `route table tenant/vpc/table (rtb-…)`.
    pub fn route_table(&self, id: RouteTableId) -> &str {
        &self.route_table[id.index()]
    }
}
