//! AWS objects → spec objects. One module per resource kind; [`build`] runs them in
//! dependency order (VPCs before subnets, subnets before NAT gateways, …).

mod endpoint;
mod eni;
mod nacl;
mod nat;
mod peering;
mod prefix_list;
pub(crate) mod proto;
mod route;
mod sg;
#[cfg(test)]
mod tests;
mod vpc;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;

use crate::files::{Rec, Snapshot};
use crate::net;
use crate::report::Report;
use cove_model::spec::{
    PeeringSpec, PrefixListSpec, QuotasSpec, Scalar, Spec, TenantSpec, VpcSpec,
};
use ipnet::Ipv4Net;

/// An imported VPC being filled in.
#[derive(Debug)]
pub(crate) struct VpcState {
    /// Owning tenant (name).
    pub tenant: String,
    /// Primary and secondary CIDRs.
    pub cidrs: Vec<Ipv4Net>,
    /// Folder it came from.
    pub folder: usize,
    /// Addresses already given to NAT gateways, endpoints and ENIs.
    pub used_ips: BTreeSet<Ipv4Addr>,
    /// The spec object.
    pub spec: VpcSpec,
}

/// An imported subnet.
#[derive(Debug, Clone)]
pub(crate) struct SubnetState {
    /// Owner VPC id.
    pub vpc: String,
    /// Its CIDR.
    pub net: Ipv4Net,
    /// Its availability zone.
    pub az: String,
}

/// An imported peering connection.
#[derive(Debug, Clone)]
pub(crate) struct PeeringState {
    /// Requester VPC id.
    pub requester: String,
    /// Accepter VPC id.
    pub accepter: String,
    /// Whether its status is `active`.
    pub active: bool,
}

/// An imported gateway endpoint: the routes it adds.
#[derive(Debug, Clone)]
pub(crate) struct GatewayEndpointState {
    /// Owner VPC id.
    pub vpc: String,
    /// Its prefix list (`pl-…`).
    pub prefix_list: String,
    /// Route tables it adds routes to.
    pub route_tables: Vec<String>,
}

/// Everything imported so far, by resource id.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    /// The report.
    pub report: Report,
    /// Folder index → account id from an `accounts/ACCOUNT/` path.
    pub folder_accounts: Vec<Option<String>>,
    /// Tenant name → account id.
    pub tenants: BTreeMap<String, Option<String>>,
    /// Imported VPCs.
    pub vpcs: BTreeMap<String, VpcState>,
    /// Imported subnets.
    pub subnets: BTreeMap<String, SubnetState>,
    /// Imported route tables → VPC id.
    pub route_tables: BTreeMap<String, String>,
    /// Imported security groups → VPC id.
    pub security_groups: BTreeMap<String, String>,
    /// Imported peerings.
    pub peerings: BTreeMap<String, PeeringState>,
    /// Imported internet gateways → VPC id.
    pub internet_gateways: BTreeMap<String, String>,
    /// Imported NAT gateways → VPC id.
    pub nat_gateways: BTreeMap<String, String>,
    /// Imported gateway endpoints.
    pub gateway_endpoints: BTreeMap<String, GatewayEndpointState>,
    /// ENIs owned by imported NAT gateways and interface endpoints.
    pub service_enis: BTreeSet<String>,
    /// Prefix-list id → its AWS name (`com.amazonaws.REGION.SERVICE`).
    pub prefix_list_names: BTreeMap<String, String>,
    /// Tenant → its prefix lists by id.
    pub prefix_lists: BTreeMap<String, BTreeMap<String, PrefixListSpec>>,
    /// Imported peerings as spec objects.
    pub peering_specs: Vec<cove_model::spec::PeeringSpec>,
}

/// Converts a snapshot; returns the spec and the report.
pub(crate) fn build(snap: Snapshot, report: Report) -> (Spec, Report) {
    let mut b = Builder {
        report,
        folder_accounts: snap.folders.iter().map(|f| folder_account(f)).collect(),
        ..Builder::default()
    };
    let Snapshot {
        vpcs,
        subnets,
        route_tables,
        security_groups,
        network_acls,
        network_interfaces,
        instances,
        internet_gateways,
        nat_gateways,
        vpc_endpoints,
        prefix_lists,
        peerings,
        ..
    } = snap;

    let vpcs = unique(vpcs, |v| &v.vpc_id, "vpc", &mut b.report);
    let subnets = unique(subnets, |s| &s.subnet_id, "subnet", &mut b.report);
    let route_tables = unique(
        route_tables,
        |r| &r.route_table_id,
        "route-table",
        &mut b.report,
    );
    let security_groups = unique(
        security_groups,
        |g| &g.group_id,
        "security-group",
        &mut b.report,
    );
    let network_acls = unique(
        network_acls,
        |a| &a.network_acl_id,
        "network-acl",
        &mut b.report,
    );
    let network_interfaces = unique(
        network_interfaces,
        |e| &e.network_interface_id,
        "network-interface",
        &mut b.report,
    );
    let instances = unique(instances, |i| &i.instance_id, "instance", &mut b.report);
    let internet_gateways = unique(
        internet_gateways,
        |g| &g.internet_gateway_id,
        "internet-gateway",
        &mut b.report,
    );
    let nat_gateways = unique(
        nat_gateways,
        |n| &n.nat_gateway_id,
        "nat-gateway",
        &mut b.report,
    );
    let vpc_endpoints = unique(
        vpc_endpoints,
        |e| &e.vpc_endpoint_id,
        "vpc-endpoint",
        &mut b.report,
    );
    // The same peering appears in both accounts' exports: one connection.
    let mut peerings = peerings;
    peerings.sort_by(|a, c| {
        a.item
            .vpc_peering_connection_id
            .cmp(&c.item.vpc_peering_connection_id)
    });
    peerings.dedup_by(|a, c| a.item.vpc_peering_connection_id == c.item.vpc_peering_connection_id);

    vpc::import_vpcs(&mut b, vpcs);
    vpc::import_subnets(&mut b, subnets);
    peering::import(&mut b, peerings);
    vpc::import_internet_gateways(&mut b, internet_gateways);
    prefix_list::import(&mut b, prefix_lists);
    nat::import(&mut b, nat_gateways);
    route::register(&mut b, &route_tables);
    sg::register(&mut b, &security_groups);
    endpoint::import(&mut b, vpc_endpoints, &network_interfaces);
    route::import(&mut b, route_tables);
    sg::import(&mut b, security_groups);
    nacl::import(&mut b, network_acls);
    eni::import(&mut b, network_interfaces, instances);
    assemble(b)
}

/// Sorts by id and keeps one object per id. A second copy identical to the first is
/// the same object; a different one is reported.
fn unique<T>(
    mut recs: Vec<Rec<T>>,
    id: impl Fn(&T) -> &String,
    kind: &str,
    report: &mut Report,
) -> Vec<Rec<T>> {
    recs.sort_by(|a, c| id(&a.item).cmp(id(&c.item)));
    let mut out: Vec<Rec<T>> = Vec::with_capacity(recs.len());
    for rec in recs {
        if let Some(prev) = out.last()
            && id(&prev.item) == id(&rec.item)
        {
            if prev.raw != rec.raw {
                report.add(
                    kind,
                    id(&rec.item).clone(),
                    format!(
                        "another object with the same id (in {}) was imported instead",
                        prev.file.display()
                    ),
                    &rec.file,
                );
            }
            continue;
        }
        out.push(rec);
    }
    out
}

/// The account of an `…/accounts/ACCOUNT/…` folder.
fn folder_account(dir: &Path) -> Option<String> {
    let parts: Vec<_> = dir
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts
        .windows(2)
        .find(|w| w[0] == "accounts")
        .map(|w| w[1].clone())
}

impl Builder {
    /// The tenant for an owner account (or the folder's account), registered on first use.
    pub(crate) fn tenant_for(&mut self, owner: Option<&str>, folder: usize) -> String {
        let account = owner
            .map(str::to_owned)
            .or_else(|| self.folder_accounts.get(folder).cloned().flatten());
        let name = match &account {
            Some(a) if net::valid_name(a) => format!("acct-{a}"),
            _ => "imported".to_owned(),
        };
        self.tenants.entry(name.clone()).or_insert(account);
        name
    }

    /// The imported VPC `vpc_id`, or a report item (`kind`, `id`) saying it is missing.
    pub(crate) fn vpc_of(
        &mut self,
        vpc_id: Option<&String>,
        kind: &str,
        id: &str,
        file: &Path,
    ) -> Option<String> {
        match vpc_id {
            Some(v) if self.vpcs.contains_key(v) => Some(v.clone()),
            Some(v) => {
                self.report.add(
                    kind,
                    id,
                    format!("its VPC {v} is not in the export or was not imported"),
                    file,
                );
                None
            }
            None => {
                self.report.add(kind, id, "it names no VPC", file);
                None
            }
        }
    }

    /// Reports an id that cannot be a spec name; true when the id is usable.
    pub(crate) fn name_ok(&mut self, kind: &str, id: &str, file: &Path) -> bool {
        if net::valid_name(id) {
            return true;
        }
        self.report.add(
            kind,
            id,
            "the id cannot be used as a name (only letters, digits, `.`, `_`, `-`)",
            file,
        );
        false
    }

    /// Whether an active peering connects the two VPCs.
    pub(crate) fn actively_peered(&self, a: &str, b: &str) -> bool {
        self.peerings.values().any(|p| {
            p.active
                && ((p.requester == a && p.accepter == b) || (p.requester == b && p.accepter == a))
        })
    }

    /// The reference to security group `sg` as seen from VPC `from`: `sg`, `vpc/sg` or
    /// `tenant/vpc/sg`.
    pub(crate) fn sg_ref(&self, from: &str, sg: &str) -> Option<String> {
        let vpc = self.security_groups.get(sg)?;
        if vpc == from {
            return Some(sg.to_owned());
        }
        let here = &self.vpcs.get(from)?.tenant;
        let there = &self.vpcs.get(vpc)?.tenant;
        if here == there {
            Some(format!("{vpc}/{sg}"))
        } else {
            Some(format!("{there}/{vpc}/{sg}"))
        }
    }
}

/// Puts the imported VPCs and prefix lists into tenants.
fn assemble(mut b: Builder) -> (Spec, Report) {
    let mut tenants: BTreeMap<String, TenantSpec> = BTreeMap::new();
    for (name, account) in &b.tenants {
        tenants.insert(
            name.clone(),
            TenantSpec {
                name: name.clone(),
                account_id: account.clone().map(Scalar::Str),
                ..TenantSpec::default()
            },
        );
    }
    for (_, mut state) in std::mem::take(&mut b.vpcs) {
        let v = &mut state.spec;
        v.subnets.sort_by(|x, y| x.name.cmp(&y.name));
        v.route_tables.sort_by(|x, y| x.name.cmp(&y.name));
        v.security_groups.sort_by(|x, y| x.name.cmp(&y.name));
        v.network_acls.sort_by(|x, y| x.name.cmp(&y.name));
        v.nat_gateways.sort_by(|x, y| x.name.cmp(&y.name));
        v.endpoints.sort_by(|x, y| x.name.cmp(&y.name));
        v.enis.sort_by(|x, y| x.name.cmp(&y.name));
        if let Some(t) = tenants.get_mut(&state.tenant) {
            t.vpcs.push(state.spec);
        }
    }
    for (tenant, lists) in std::mem::take(&mut b.prefix_lists) {
        if let Some(t) = tenants.get_mut(&tenant) {
            t.prefix_lists = lists.into_values().collect();
        }
    }
    let mut peerings = std::mem::take(&mut b.peering_specs);
    peerings.sort_by(|a, c| a.name.cmp(&c.name));
    let tenants: Vec<TenantSpec> = tenants
        .into_values()
        .filter(|t| !t.vpcs.is_empty())
        .collect();
    let quotas = quotas(&tenants, &peerings);
    let spec = Spec {
        tenants,
        peerings,
        quotas,
        ..Spec::default()
    };
    (spec, b.report)
}

/// The quotas the account must have had raised, where the export exceeds AWS's
/// defaults (most rules in a group, groups on an interface, active peerings of a
/// VPC, blocks of a VPC), so that the spec validates as written.
fn quotas(tenants: &[TenantSpec], peerings: &[PeeringSpec]) -> Option<QuotasSpec> {
    let d = cove_model::validate::Quotas::AWS_DEFAULT;
    let vpcs = || tenants.iter().flat_map(|t| &t.vpcs);
    let rules = vpcs()
        .flat_map(|v| &v.security_groups)
        .map(|g| g.ingress.len().max(g.egress.as_ref().map_or(0, Vec::len)))
        .max()
        .unwrap_or(0);
    let groups = vpcs()
        .flat_map(|v| &v.enis)
        .map(|e| e.security_groups.len())
        .max()
        .unwrap_or(0);
    let blocks = vpcs()
        .map(|v| 1 + v.secondary_cidrs.len())
        .max()
        .unwrap_or(0);
    let mut active: BTreeMap<&str, usize> = BTreeMap::new();
    for p in peerings {
        if p.status.as_deref().is_none_or(|s| s == "active") {
            *active.entry(&p.requester).or_default() += 1;
            *active.entry(&p.accepter).or_default() += 1;
        }
    }
    let peers = active.values().copied().max().unwrap_or(0);
    let raised = |n: usize, default: usize| {
        (n > default).then(|| Scalar::Int(i64::try_from(n).unwrap_or(i64::MAX)))
    };
    let q = QuotasSpec {
        rules_per_security_group: raised(rules, d.rules_per_security_group),
        security_groups_per_interface: raised(groups, d.security_groups_per_interface),
        active_peerings_per_vpc: raised(peers, d.active_peerings_per_vpc),
        cidr_blocks_per_vpc: raised(blocks, d.cidr_blocks_per_vpc),
        shared_enis_per_vpc: None,
    };
    (q != QuotasSpec::default()).then_some(q)
}

/// The text of an optional field for messages.
pub(crate) fn text(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("?")
}

/// Reports the IPv6 parts of an object that cove does not model.
pub(crate) fn report_ipv6(b: &mut Builder, kind: &str, id: &str, what: &[&str], file: &Path) {
    for w in what {
        b.report.add(
            kind,
            id,
            format!("IPv6 is not modeled: {w} is not imported"),
            file,
        );
    }
}

/// Wraps an object as if read from `test.json` (for unit tests).
#[cfg(test)]
pub(crate) fn rec<T>(item: T) -> Rec<T> {
    Rec {
        file: "test.json".into(),
        folder: 0,
        raw: serde_json::Value::Null,
        item,
    }
}
