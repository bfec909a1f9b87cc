//! The kernel side of `POST /v1/plan` (pure): what applying a proposed tenant spec
//! would change in the namespaces of the caller's own objects (ENIs, NAT gateways,
//! function slots, gateway-endpoint services), against the kernel the stored spec
//! makes. Changes in the host router, which every tenant shares, are not shown:
//! they mix tenants.

use std::collections::BTreeMap;

use cove_model::{EniId, Network, VpcId};
use cove_plan::names::Names;
use serde::Serialize;
use utoipa::ToSchema;

/// A prefix for names only: the API does not know the deployment's, and the
/// answer names objects, never namespaces.
const PREVIEW_PREFIX: &str = "plan";

/// What a proposed spec does to the kernel objects of one of the caller's objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct KernelChange {
    /// The object: `vpc/eni` (ENIs, NAT gateways' and functions' ENIs), or
    /// `vpc (gateway endpoints)`.
    pub object: String,
    /// `create` (a namespace made), `delete` (removed) or `update`.
    pub action: String,
    /// Kernel operations for it (links, addresses, routes, rules, namespaces).
    pub operations: usize,
}

/// The caller's namespaces in `net`: namespace → object, for tenant `tenant`.
fn own_namespaces(net: &Network, tenant: &str) -> BTreeMap<String, String> {
    let names = Names::new(net, PREVIEW_PREFIX);
    let mut out = BTreeMap::new();
    let mine = |v: VpcId| net.tenants[net.vpcs[v.index()].tenant.index()].name == tenant;
    for (i, eni) in net.enis.iter().enumerate() {
        if mine(eni.vpc) {
            let e = EniId(u32::try_from(i).unwrap_or(u32::MAX));
            let vpc = &net.vpcs[eni.vpc.index()].name;
            out.insert(names.eni_ns(e), format!("{vpc}/{}", eni.name));
        }
    }
    for (i, vpc) in net.vpcs.iter().enumerate() {
        let v = VpcId(u32::try_from(i).unwrap_or(u32::MAX));
        if mine(v) {
            out.insert(
                names.services_ns(v),
                format!("{} (gateway endpoints)", vpc.name),
            );
        }
    }
    out
}

/// The kernel changes of the caller's objects from `old` (the stored spec's
/// network, if any) to `new`, sorted by object. `None` if a network cannot be laid
/// out (it then fails to apply as well, which the caller reports).
pub fn kernel_changes(
    old: Option<&Network>,
    new: &Network,
    tenant: &str,
) -> Option<Vec<KernelChange>> {
    let before = match old {
        Some(n) => cove_plan::desired(n, PREVIEW_PREFIX).ok()?,
        None => cove_plan::HostState::default(),
    };
    let after = cove_plan::desired(new, PREVIEW_PREFIX).ok()?;
    let mut owners = old.map(|n| own_namespaces(n, tenant)).unwrap_or_default();
    owners.extend(own_namespaces(new, tenant));
    let plan = cove_plan::diff(&before, &after);
    let mut by_object: BTreeMap<&str, KernelChange> = BTreeMap::new();
    for op in &plan.ops {
        let mut spaces = vec![op.namespace()];
        if let cove_plan::Op::CreateVeth { pair } = op {
            spaces.push(&pair.b.ns);
        }
        let Some(object) = spaces.iter().find_map(|ns| owners.get(*ns)) else {
            continue;
        };
        let entry = by_object.entry(object).or_insert_with(|| KernelChange {
            object: object.clone(),
            action: "update".to_owned(),
            operations: 0,
        });
        entry.operations += 1;
        match op {
            cove_plan::Op::CreateNamespace { .. } => entry.action = "create".to_owned(),
            cove_plan::Op::DeleteNamespace { .. } => entry.action = "delete".to_owned(),
            _ => {}
        }
    }
    Some(by_object.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> Network {
        let v = cove_model::validate::validate_text_with(text, &[]);
        v.network
            .unwrap_or_else(|| panic!("invalid spec: {:?}", v.diagnostics))
    }

    const TWO: &str = "
tenants:
  - name: alpha
    vpcs:
      - name: one
        cidr: 10.1.0.0/16
        subnets: [{ name: a, cidr: 10.1.1.0/24, az: az1 }]
        enis: [{ name: db, subnet: a }]
  - name: bravo
    vpcs:
      - name: two
        cidr: 10.2.0.0/16
        subnets: [{ name: b, cidr: 10.2.1.0/24, az: az1 }]
        enis: [{ name: web, subnet: b }]
";

    #[test]
    fn only_the_callers_objects_are_shown() {
        let old = net(TWO);
        let new = net(&TWO
            .replace(
                "enis: [{ name: db, subnet: a }]",
                "enis: [{ name: db, subnet: a }, { name: app, subnet: a }]",
            )
            .replace(
                "enis: [{ name: web, subnet: b }]",
                "enis: [{ name: api, subnet: b }]",
            ));
        let alpha = kernel_changes(Some(&old), &new, "alpha").expect("laid out");
        assert_eq!(alpha.len(), 1, "{alpha:?}");
        assert_eq!(
            (alpha[0].object.as_str(), alpha[0].action.as_str()),
            ("one/app", "create")
        );
        let bravo = kernel_changes(Some(&old), &new, "bravo").expect("laid out");
        let shown: Vec<(&str, &str)> = bravo
            .iter()
            .map(|k| (k.object.as_str(), k.action.as_str()))
            .collect();
        assert_eq!(shown, [("two/api", "create"), ("two/web", "delete")]);
        assert!(
            kernel_changes(Some(&new), &new, "alpha")
                .expect("laid out")
                .is_empty()
        );
        let first = kernel_changes(None, &old, "alpha").expect("laid out");
        assert_eq!(first.len(), 1, "{first:?}");
    }
}
