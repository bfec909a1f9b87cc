//! One VPC, one subnet, one security group with many CIDR rules, and many ENIs in
//! it: the shape of the data-plane benchmarks (attach, rule change).

use cove_model::spec::*;

/// `enis` ENIs named `e0…` in one /16 subnet of VPC `t/v` (10.70.0.0/16), all in
/// security group `fn`, which allows TCP port `1000 + i` from `172.16.x.y/32` for
/// `i < rules` (rule `changed`, if any, uses port 60,000 instead), everything from
/// its own members, and everything from 10.0.0.0/8.
pub fn flat_vpc(enis: usize, rules: usize, changed: Option<usize>) -> Spec {
    let ingress = (0..rules)
        .map(|i| {
            let port = if Some(i) == changed { 60_000 } else { 1000 + i };
            SgRuleSpec {
                protocol: "tcp".into(),
                ports: Some(Scalar::Int(i64::try_from(port).unwrap_or(0))),
                cidr: Some(format!(
                    "172.{}.{}.{}/32",
                    16 + i / 62_500,
                    (i / 250) % 250,
                    i % 250
                )),
                ..Default::default()
            }
        })
        .chain([
            SgRuleSpec {
                protocol: "all".into(),
                security_group: Some("fn".into()),
                ..Default::default()
            },
            SgRuleSpec {
                protocol: "all".into(),
                cidr: Some("10.0.0.0/8".into()),
                ..Default::default()
            },
        ])
        .collect();
    Spec {
        tenants: vec![TenantSpec {
            name: "t".into(),
            vpcs: vec![VpcSpec {
                name: "v".into(),
                cidr: "10.70.0.0/16".into(),
                subnets: vec![SubnetSpec {
                    name: "s".into(),
                    cidr: "10.70.0.0/16".into(),
                    az: "z".into(),
                    ..Default::default()
                }],
                security_groups: vec![SecurityGroupSpec {
                    name: "fn".into(),
                    ingress,
                    ..Default::default()
                }],
                enis: (0..enis)
                    .map(|i| EniSpec {
                        name: format!("e{i}"),
                        subnet: "s".into(),
                        security_groups: vec!["fn".into()],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use cove_model::validate::validate;

    use super::*;

    #[test]
    fn validates_and_changes_one_rule() {
        let a = validate(&flat_vpc(3, 10, None)).network.expect("valid");
        let b = validate(&flat_vpc(3, 10, Some(4))).network.expect("valid");
        assert_eq!(a.enis.len(), 3);
        let rules = |n: &cove_model::Network| {
            n.security_groups
                .iter()
                .map(|g| g.ingress.len())
                .sum::<usize>()
        };
        assert_eq!(rules(&a), rules(&b));
        let fn_rules = |n: &cove_model::Network| {
            n.security_groups
                .iter()
                .find(|g| g.name == "fn")
                .map(|g| g.ingress.clone())
                .expect("group fn")
        };
        assert_eq!(fn_rules(&a).len(), 12);
        assert_ne!(fn_rules(&a), fn_rules(&b));
    }
}
