//! VPC peering connections: both ends must exist and differ; overlapping CIDRs make
//! the connection `failed` (as AWS does); one connection per pair of VPCs; at most 50
//! active connections per VPC (`quotas.active_peerings_per_vpc`).

use std::collections::HashMap;

use super::addressing::overlaps;
use super::scope::{Scopes, next_id};
use super::{Ctx, Path, parse};
use crate::diag::ErrorCode;
use crate::model::*;
use crate::spec::Spec;

/// Pass 2: resolves and checks every peering connection.
pub(crate) fn peerings(cx: &mut Ctx, spec: &Spec, sc: &Scopes) {
    let root = Path::root();
    let mut pairs: HashMap<(VpcId, VpcId), String> = HashMap::new();
    let mut active: HashMap<VpcId, usize> = HashMap::new();
    let mut names = super::scope::Names::<PeeringId>::default();
    for (pi, p) in spec.peerings.iter().enumerate() {
        let path = root.item("peerings", &p.name, pi);
        parse::name(cx, &path, &p.name);
        let id = PeeringId(next_id(cx.net.peerings.len()));
        if !names.insert(&p.name, p.id.as_deref(), id) {
            cx.error(
                ErrorCode::DuplicateName,
                &path.key("name"),
                format!("peering `{}` is declared twice", p.name),
                "give each peering a unique name",
            );
        }
        let mut end = |field: &str, text: &str| -> Option<VpcId> {
            let found = sc.find_vpc(None, text);
            if found.is_none() {
                cx.error(
                    ErrorCode::InvalidVpcIdNotFound,
                    &path.key(field),
                    format!("VPC `{text}` does not exist"),
                    "write `tenant/vpc` with names declared under `tenants`",
                );
            }
            found
        };
        let requester = end("requester", &p.requester);
        let accepter = end("accepter", &p.accepter);
        let status_text = p.status.as_deref().unwrap_or("active");
        let mut status = PeeringStatus::parse(status_text).unwrap_or_else(|| {
            cx.error(
                ErrorCode::InvalidParameterValue,
                &path.key("status"),
                format!("`{status_text}` is not a peering status"),
                "use pending-acceptance, active, rejected, failed, expired or deleted",
            );
            PeeringStatus::Active
        });
        let (Some(r), Some(a)) = (requester, accepter) else {
            continue;
        };
        if r == a {
            cx.error(
                ErrorCode::InvalidParameterValue,
                &path.key("accepter"),
                "a VPC cannot be peered with itself",
                "name two different VPCs as requester and accepter",
            );
            continue;
        }
        let mut reason = None;
        if let Some((x, y)) = first_overlap(&cx.net.vpcs[r.index()], &cx.net.vpcs[a.index()]) {
            if status == PeeringStatus::Active || status == PeeringStatus::PendingAcceptance {
                cx.warning(
                    ErrorCode::InvalidParameterValue,
                    &path.key("status"),
                    format!("the VPCs' CIDRs overlap ({x} and {y}), so the peering is `failed`"),
                    "peer VPCs whose CIDR blocks do not overlap (re-address one VPC)",
                );
            }
            status = PeeringStatus::Failed;
            reason = Some(format!("overlapping CIDR blocks {x} and {y}"));
        }
        let live = matches!(
            status,
            PeeringStatus::Active | PeeringStatus::PendingAcceptance
        );
        if live {
            let key = if r < a { (r, a) } else { (a, r) };
            if let Some(other) = pairs.get(&key) {
                cx.error(
                    ErrorCode::VpcPeeringConnectionAlreadyExists,
                    &path,
                    format!("peering `{other}` already connects these two VPCs"),
                    "keep one peering per pair of VPCs; delete or mark the other `deleted`",
                );
            } else {
                pairs.insert(key, p.name.clone());
            }
        }
        if status == PeeringStatus::Active {
            for v in [r, a] {
                let n = active.entry(v).or_default();
                *n += 1;
                let max = cx.quotas.active_peerings_per_vpc;
                if *n == max + 1 {
                    let label = cx.net.vpc_path(v);
                    cx.error(
                        ErrorCode::ActiveVpcPeeringConnectionPerVpcLimitExceeded,
                        &path,
                        format!("VPC {label} would have more than {max} active peerings"),
                        "remove peerings from this VPC (or connect through fewer, larger VPCs), or raise `quotas.active_peerings_per_vpc` (AWS's ceiling is 125)",
                    );
                }
            }
        }
        cx.net.peerings.push(Peering {
            name: p.name.clone(),
            aws_id: p.id.clone(),
            requester: r,
            accepter: a,
            status,
            status_reason: reason,
        });
    }
}

/// The first pair of overlapping blocks of two VPCs.
fn first_overlap(a: &Vpc, b: &Vpc) -> Option<(ipnet::Ipv4Net, ipnet::Ipv4Net)> {
    a.cidrs
        .iter()
        .flat_map(|x| b.cidrs.iter().map(move |y| (*x, *y)))
        .find(|(x, y)| overlaps(*x, *y))
}

/// Finds a peering by name or imported id among the peerings that were added.
pub(crate) fn find_peering(net: &Network, text: &str) -> Option<PeeringId> {
    net.peerings
        .iter()
        .position(|p| p.name == text || p.aws_id.as_deref() == Some(text))
        .map(|i| PeeringId(next_id(i)))
}
