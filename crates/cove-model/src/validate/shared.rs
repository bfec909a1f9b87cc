//! Shared function ENIs (Hyperplane ENIs, issue 17): one per (subnet,
//! security-group set) that a function of the VPC uses, named by that key, plus the
//! extra ENIs cove added for a busy key ([`crate::spec::SharedEniExtra`]).

use super::Ctx;
use super::attachments::Pending;
use super::scope::VpcScope;
use crate::diag::ErrorCode;
use crate::model::*;
use crate::spec::Spec;

/// The key of a shared function ENI within a VPC: the subnet and the sorted set
/// of security groups.
pub(super) type SharedKey = (SubnetId, Vec<SgId>);

/// Shared function ENIs last, one per (subnet, security-group set) that a function
/// of the VPC uses, in the order functions first use them: adding a function never
/// renumbers another interface (see [`shared_eni_name`]). Each function learns the
/// ENIs of its subnets in [`addresses`].
pub(super) fn shared_enis(
    cx: &mut Ctx,
    scope: &VpcScope,
    vid: VpcId,
    v: &crate::spec::VpcSpec,
    out: &mut Vec<Pending>,
) {
    let mut keys: Vec<SharedKey> = Vec::new();
    let quota = cx.quotas.shared_enis_per_vpc;
    for fid in cx.net.vpcs[vid.index()].functions.clone() {
        let f = &cx.net.functions[fid.index()];
        let fi = v
            .functions
            .iter()
            .position(|s| s.name == f.name)
            .unwrap_or(0);
        let path = scope.path.item("functions", &f.name, fi);
        let (name, subnets, groups) =
            (f.name.clone(), f.subnets.clone(), f.security_groups.clone());
        for subnet in subnets {
            let key = (subnet, groups.clone());
            if keys.contains(&key) {
                continue;
            }
            if keys.len() == quota {
                cx.error(
                    ErrorCode::EniLimitReached,
                    &path.key("subnets"),
                    format!(
                        "function `{name}` needs a shared ENI for subnet {} with its security groups, and VPC {} already has {quota}, its quota of shared function ENIs",
                        cx.net.subnet_label(subnet),
                        cx.net.vpc_path(vid)
                    ),
                    "give functions of this VPC the same subnets and security groups (they then share ENIs), or raise `quotas.shared_enis_per_vpc` (at most 1000)",
                );
                continue;
            }
            keys.push(key);
            let group_names: Vec<&str> = groups
                .iter()
                .map(|g| cx.net.security_groups[g.index()].name.as_str())
                .collect();
            out.push(Pending {
                vpc: vid,
                subnet,
                name: shared_eni_name(&cx.net.subnets[subnet.index()].name, &group_names),
                aws_id: None,
                instance: None,
                fixed: None,
                groups: groups.clone(),
                public_ip: None,
                owner: EniOwner::Shared,
                path: path.key("subnets"),
            });
        }
    }
}

/// The name of the shared function ENI of a subnet and a set of security groups:
/// `hpl:<subnet>:<group>,<group>…` (`:` cannot appear in a user ENI's name, so
/// shared ENIs never collide with declared interfaces).
pub fn shared_eni_name(subnet: &str, groups: &[&str]) -> String {
    let mut groups = groups.to_vec();
    groups.sort_unstable();
    format!("hpl:{subnet}:{}", groups.join(","))
}

/// The extra shared ENIs of VPC `vid` that the spec's
/// [`Spec::shared_eni_extras`] ask for, given the VPC's `pending` interfaces (its
/// first shared ENIs among them): the `n`-th extra of a key is named
/// `<first ENI>:<n + 1>`. An entry whose key no function uses any more, or past the
/// VPC's quota of shared ENIs, is ignored (cove asked for it; the user cannot
/// correct it, and the combination still has its first ENI).
pub(super) fn extras(
    cx: &Ctx,
    spec: &Spec,
    vid: VpcId,
    pending: &[Pending],
    out: &mut Vec<Pending>,
) {
    if spec.shared_eni_extras.is_empty() {
        return;
    }
    let vpc = cx.net.vpc_path(vid);
    let firsts: Vec<&Pending> = pending
        .iter()
        .filter(|p| p.owner == EniOwner::Shared)
        .collect();
    let mut count = firsts.len();
    let mut per_key: Vec<usize> = vec![1; firsts.len()];
    for e in spec.shared_eni_extras.iter().filter(|e| e.vpc == vpc) {
        let Some(i) = firsts.iter().position(|p| p.name == e.eni) else {
            continue;
        };
        if count >= cx.quotas.shared_enis_per_vpc {
            break;
        }
        count += 1;
        per_key[i] += 1;
        let p = firsts[i];
        out.push(Pending {
            vpc: vid,
            subnet: p.subnet,
            name: format!("{}:{}", p.name, per_key[i]),
            aws_id: None,
            instance: None,
            fixed: None,
            groups: p.groups.clone(),
            public_ip: None,
            owner: EniOwner::Shared,
            path: p.path.clone(),
        });
    }
}
