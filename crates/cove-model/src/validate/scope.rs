//! Name tables used to resolve references: by name within a scope, or by imported
//! resource id anywhere.

use std::collections::HashMap;
use std::hash::Hash;

use super::Path;
use crate::lookup::index_u32;
use crate::model::*;

/// Names (and imported ids) of one kind of object within one scope.
#[derive(Debug)]
pub(crate) struct Names<I> {
    map: HashMap<String, I>,
}

impl<I> Default for Names<I> {
    fn default() -> Self {
        Names {
            map: HashMap::new(),
        }
    }
}

impl<I: Copy + Eq + Hash> Names<I> {
    /// Registers `name` (and `aws_id`); returns false if the name was taken.
    pub(crate) fn insert(&mut self, name: &str, aws_id: Option<&str>, id: I) -> bool {
        if self.map.contains_key(name) {
            return false;
        }
        self.map.insert(name.to_owned(), id);
        if let Some(a) = aws_id {
            self.map.entry(a.to_owned()).or_insert(id);
        }
        true
    }

    /// Looks a name or id up.
    pub(crate) fn get(&self, key: &str) -> Option<I> {
        self.map.get(key).copied()
    }
}

/// Everything declared inside one VPC.
#[derive(Debug, Default)]
pub(crate) struct VpcScope {
    /// Index of the tenant in the spec.
    pub(crate) tenant_index: usize,
    /// Index of the VPC in its tenant's list.
    pub(crate) vpc_index: usize,
    /// Path of the VPC in the spec.
    pub(crate) path: Path,
    pub(crate) subnets: Names<SubnetId>,
    pub(crate) route_tables: Names<RouteTableId>,
    pub(crate) security_groups: Names<SgId>,
    pub(crate) network_acls: Names<NaclId>,
    pub(crate) nat_gateways: Names<NatId>,
    pub(crate) endpoints: Names<EndpointId>,
    /// Subnets whose CIDR did not parse (checks that depend on it are skipped).
    pub(crate) broken_subnets: Vec<SubnetId>,
    /// Whether the VPC's own CIDRs were valid.
    pub(crate) cidrs_ok: bool,
}

impl Default for Path {
    fn default() -> Self {
        Path::root()
    }
}

/// All name tables.
#[derive(Debug, Default)]
pub(crate) struct Scopes {
    pub(crate) tenants: Names<TenantId>,
    /// Per tenant: VPCs by name and id.
    pub(crate) tenant_vpcs: Vec<Names<VpcId>>,
    /// Per tenant: prefix lists by name and id.
    pub(crate) tenant_prefix_lists: Vec<Names<PrefixListId>>,
    /// Prefix lists by imported id, across tenants (AWS-managed lists are shared).
    pub(crate) prefix_lists_by_id: HashMap<String, PrefixListId>,
    /// VPCs by imported id, across tenants.
    pub(crate) vpcs_by_id: HashMap<String, VpcId>,
    /// Security groups by imported id, across VPCs.
    pub(crate) groups_by_id: HashMap<String, SgId>,
    /// Per VPC (indexed by `VpcId`).
    pub(crate) vpcs: Vec<VpcScope>,
}

impl Scopes {
    /// Resolves `tenant/vpc`, `vpc` (in `home` tenant first, then unique across
    /// tenants) or an imported VPC id. Names are looked up before imported ids, so an
    /// `id` written on one VPC can never take over another's name (ids are free text).
    pub(crate) fn find_vpc(&self, home: Option<TenantId>, text: &str) -> Option<VpcId> {
        let by_name = match text.split_once('/') {
            Some((t, v)) => self
                .tenants
                .get(t)
                .and_then(|tid| self.tenant_vpcs[tid.index()].get(v)),
            None => home.and_then(|h| self.tenant_vpcs[h.index()].get(text)),
        };
        if let Some(v) = by_name.or_else(|| self.vpcs_by_id.get(text).copied()) {
            return Some(v);
        }
        if text.contains('/') {
            return None;
        }
        let hits: Vec<VpcId> = self
            .tenant_vpcs
            .iter()
            .filter_map(|names| names.get(text))
            .collect();
        (hits.len() == 1).then(|| hits[0])
    }

    /// Resolves a security group reference from inside VPC `from`: `name`, `vpc/name`
    /// (same tenant), `tenant/vpc/name`, or an imported `sg-…` id. The names (and ids)
    /// of the scope the reference points into come first, then ids anywhere: an `id`
    /// declared in another VPC (another tenant's) never shadows a name.
    pub(crate) fn find_group(&self, net: &Network, from: VpcId, text: &str) -> Option<SgId> {
        let parts: Vec<&str> = text.split('/').collect();
        let tenant = net.vpcs[from.index()].tenant;
        let vpc = match parts.as_slice() {
            [_] => Some(from),
            [v, _] => self.tenant_vpcs[tenant.index()].get(v),
            [t, v, _] => self
                .tenants
                .get(t)
                .and_then(|tid| self.tenant_vpcs[tid.index()].get(v)),
            _ => None,
        };
        let local = vpc.and_then(|v| {
            let name = parts.last()?;
            self.vpcs[v.index()].security_groups.get(name)
        });
        local.or_else(|| self.groups_by_id.get(text).copied())
    }

    /// Resolves a prefix list: a name (or id) in the home tenant, `tenant/name`, or
    /// an id anywhere, in that order: another tenant's list never shadows one of the
    /// home tenant's (prefix-list ids may repeat across tenants).
    pub(crate) fn find_prefix_list(&self, home: TenantId, text: &str) -> Option<PrefixListId> {
        if let Some(p) = self.tenant_prefix_lists[home.index()].get(text) {
            return Some(p);
        }
        if let Some((t, n)) = text.split_once('/')
            && let Some(p) = self
                .tenants
                .get(t)
                .and_then(|tid| self.tenant_prefix_lists[tid.index()].get(n))
        {
            return Some(p);
        }
        self.prefix_lists_by_id.get(text).copied()
    }
}

/// The id a new arena entry will get.
pub(crate) fn next_id(len: usize) -> u32 {
    index_u32(len)
}
