//! VPC peering connections (one spec object per connection, even when both accounts'
//! exports list it).

use std::collections::BTreeMap;

use cove_model::spec::PeeringSpec;

use super::{Builder, PeeringState};
use crate::aws;
use crate::files::Rec;

/// Maps an AWS status code onto cove's statuses; the flag says the mapping is
/// approximate (and gets a report line).
pub(crate) fn map_status(code: &str) -> Option<(&'static str, bool)> {
    Some(match code {
        "pending-acceptance" => ("pending-acceptance", false),
        "active" => ("active", false),
        "rejected" => ("rejected", false),
        "failed" => ("failed", false),
        "expired" => ("expired", false),
        "deleted" => ("deleted", false),
        "provisioning" | "initiating-request" => ("pending-acceptance", true),
        "deleting" => ("deleted", true),
        _ => return None,
    })
}

/// Imports peerings whose two VPCs were imported. At most one peering per pair of
/// VPCs is kept (an active one first).
pub(super) fn import(b: &mut Builder, mut peerings: Vec<Rec<aws::VpcPeeringConnection>>) {
    let code = |p: &aws::VpcPeeringConnection| {
        p.status
            .as_ref()
            .and_then(|s| s.code.clone())
            .unwrap_or_default()
    };
    peerings.sort_by(|x, y| {
        (code(&x.item) != "active", &x.item.vpc_peering_connection_id)
            .cmp(&(code(&y.item) != "active", &y.item.vpc_peering_connection_id))
    });
    let mut pairs: BTreeMap<(String, String), String> = BTreeMap::new();
    for Rec { file, item, .. } in peerings {
        let id = item.vpc_peering_connection_id.clone();
        if !b.name_ok("vpc-peering-connection", &id, &file) {
            continue;
        }
        let code = code(&item);
        let Some((status, approximate)) = map_status(&code) else {
            b.report.add(
                "vpc-peering-connection",
                &id,
                format!("unknown status `{code}`"),
                &file,
            );
            continue;
        };
        let mut sides = Vec::new();
        for (side, info) in [
            ("requester", &item.requester_vpc_info),
            ("accepter", &item.accepter_vpc_info),
        ] {
            let vpc = info.as_ref().and_then(|i| i.vpc_id.clone());
            match vpc {
                Some(v) if b.vpcs.contains_key(&v) => sides.push(v),
                Some(v) => {
                    let region = info
                        .as_ref()
                        .and_then(|i| i.region.clone())
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default();
                    b.report.add(
                        "vpc-peering-connection",
                        &id,
                        format!(
                            "its {side} VPC {v}{region} is not in the export or was not imported; routes to it become blackholes"
                        ),
                        &file,
                    );
                }
                None => b.report.add(
                    "vpc-peering-connection",
                    &id,
                    format!("it names no {side} VPC"),
                    &file,
                ),
            }
        }
        let [requester, accepter] = sides.as_slice() else {
            continue;
        };
        if requester == accepter {
            b.report.add(
                "vpc-peering-connection",
                &id,
                "it connects a VPC with itself",
                &file,
            );
            continue;
        }
        let key = if requester < accepter {
            (requester.clone(), accepter.clone())
        } else {
            (accepter.clone(), requester.clone())
        };
        if let Some(other) = pairs.get(&key) {
            b.report.add(
                "vpc-peering-connection",
                &id,
                format!("peering {other} between the same VPCs was imported instead"),
                &file,
            );
            continue;
        }
        if status == "active" && overlap(b, requester, accepter) {
            b.report.add(
                "vpc-peering-connection",
                &id,
                "the CIDRs of its VPCs overlap, which AWS does not allow for an active peering",
                &file,
            );
            continue;
        }
        if approximate {
            b.report.add(
                "vpc-peering-connection",
                &id,
                format!("status `{code}` imported as `{status}`"),
                &file,
            );
        }
        pairs.insert(key, id.clone());
        let side_ref = |b: &Builder, v: &str| {
            let tenant = b.vpcs.get(v).map(|s| s.tenant.clone()).unwrap_or_default();
            format!("{tenant}/{v}")
        };
        b.peering_specs.push(PeeringSpec {
            name: id.clone(),
            id: Some(id.clone()),
            requester: side_ref(b, requester),
            accepter: side_ref(b, accepter),
            status: Some(status.to_owned()),
        });
        b.peerings.insert(
            id,
            PeeringState {
                requester: requester.clone(),
                accepter: accepter.clone(),
                active: status == "active",
            },
        );
    }
}

/// Whether any CIDR of VPC `a` overlaps any CIDR of VPC `b`.
fn overlap(b: &Builder, x: &str, y: &str) -> bool {
    let (Some(x), Some(y)) = (b.vpcs.get(x), b.vpcs.get(y)) else {
        return false;
    };
    x.cidrs
        .iter()
        .any(|c| y.cidrs.iter().any(|d| c.contains(d) || d.contains(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(map_status("active"), Some(("active", false)));
        assert_eq!(
            map_status("provisioning"),
            Some(("pending-acceptance", true))
        );
        assert_eq!(map_status("deleting"), Some(("deleted", true)));
        assert_eq!(map_status("weird"), None);
    }
}
