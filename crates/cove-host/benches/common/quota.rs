//! The attach and rule-change benchmarks' network within AWS's quotas: validation
//! refuses a group of more than 1,000 rules (`quotas.rules_per_security_group`,
//! AWS's ceiling), so the 10,000 rules of `cove_testgen::flat_vpc`'s one group are
//! split over groups of 1,000 that every ENI carries. The ENIs still have one
//! combination of groups, whose rules are the same 10,000 firewall elements.

use cove_model::spec::{QuotasSpec, Scalar, SecurityGroupSpec, Spec};

/// Most rules of one group (AWS's ceiling).
const PER_GROUP: usize = 1000;

/// [`cove_testgen::flat_vpc`] (`enis` ENIs, `rules` CIDR rules, rule `changed` on
/// another port) with its group split into groups of at most [`PER_GROUP`] rules,
/// all on every ENI, and the quotas raised to allow that.
pub fn flat_vpc(enis: usize, rules: usize, changed: Option<usize>) -> Spec {
    let mut spec = cove_testgen::flat_vpc(enis, rules, changed);
    let vpc = &mut spec.tenants[0].vpcs[0];
    let first = vpc.security_groups.remove(0);
    let chunks: Vec<_> = first.ingress.chunks(PER_GROUP).map(<[_]>::to_vec).collect();
    let names: Vec<String> = (0..chunks.len())
        .map(|i| {
            if i == 0 {
                first.name.clone()
            } else {
                format!("{}{i}", first.name)
            }
        })
        .collect();
    for (name, ingress) in names.iter().zip(chunks) {
        vpc.security_groups.push(SecurityGroupSpec {
            name: name.clone(),
            ingress,
            ..first.clone()
        });
    }
    for eni in &mut vpc.enis {
        eni.security_groups = names.clone();
    }
    spec.quotas = Some(QuotasSpec {
        rules_per_security_group: Some(Scalar::Int(1000)),
        security_groups_per_interface: Some(Scalar::Int(16)),
        ..Default::default()
    });
    spec
}
