//! Imported AWS ids (`id:` fields) are unique across the spec: an AWS resource is one
//! object, so the same id on two objects (one internet gateway attached to two VPCs,
//! one subnet in two places) is EC2's `Resource.AlreadyAssociated`. Prefix lists are
//! exempt: AWS-managed lists are shared by every account, so two tenants may each
//! hold a copy of one.

use std::collections::HashMap;

use super::{Ctx, Path};
use crate::diag::ErrorCode;
use crate::spec::Spec;

/// Pass 5: reports every `id` used by a second object.
pub(crate) fn aws_ids(cx: &mut Ctx, spec: &Spec) {
    let mut uses: Vec<(Path, &str)> = Vec::new();
    let root = Path::root();
    for (ti, t) in spec.tenants.iter().enumerate() {
        let tpath = root.item("tenants", &t.name, ti);
        for (vi, v) in t.vpcs.iter().enumerate() {
            let vpath = tpath.item("vpcs", &v.name, vi);
            if let Some(id) = &v.id {
                uses.push((vpath.key("id"), id.as_str()));
            }
            let items = v
                .subnets
                .iter()
                .enumerate()
                .map(|(i, x)| (vpath.item("subnets", &x.name, i), &x.id))
                .chain(
                    v.route_tables
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (vpath.item("route_tables", &x.name, i), &x.id)),
                )
                .chain(
                    v.security_groups
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (vpath.item("security_groups", &x.name, i), &x.id)),
                )
                .chain(
                    v.network_acls
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (vpath.item("network_acls", &x.name, i), &x.id)),
                )
                .chain(
                    v.internet_gateway
                        .iter()
                        .map(|x| (vpath.key("internet_gateway"), &x.id)),
                )
                .chain(
                    v.nat_gateways
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (vpath.item("nat_gateways", &x.name, i), &x.id)),
                )
                .chain(
                    v.endpoints
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (vpath.item("endpoints", &x.name, i), &x.id)),
                )
                .chain(
                    v.enis
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (vpath.item("enis", &x.name, i), &x.id)),
                );
            for (path, id) in items {
                if let Some(id) = id {
                    uses.push((path.key("id"), id.as_str()));
                }
            }
        }
    }
    for (pi, p) in spec.peerings.iter().enumerate() {
        if let Some(id) = &p.id {
            uses.push((root.item("peerings", &p.name, pi).key("id"), id.as_str()));
        }
    }
    let mut first: HashMap<&str, Path> = HashMap::new();
    for (path, id) in uses {
        if let Some(other) = first.get(id) {
            cx.error(
                ErrorCode::ResourceAlreadyAssociated,
                &path,
                format!("`{id}` is already the id of {}", other.0.trim_end_matches(".id")),
                "an AWS resource is one object: give this one its own id, or remove the second copy (an internet gateway is attached to one VPC)",
            );
        } else {
            first.insert(id, path);
        }
    }
}
