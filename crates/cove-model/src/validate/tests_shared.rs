//! Validation tests for shared function ENIs ("Hyperplane", issue 17): one ENI per
//! (subnet, security-group set) of a VPC, shared across functions; the per-VPC
//! quota and subnet exhaustion are Lambda's errors.

use super::tests::expect_one;
use super::*;
use crate::diag::ErrorCode::*;
use crate::model::*;

/// A tenant with one VPC (a /28 subnet `tiny`: 11 usable addresses, and a /24
/// `wide`), groups `a` and `b`, and the given functions (YAML flow mappings).
fn spec_with(functions: &[&str], quotas: &str) -> Validated {
    let mut text = String::from(
        "tenants:\n  - name: t\n    vpcs:\n      - name: v\n        cidr: 10.5.0.0/16\n\
         \x20       subnets:\n\
         \x20         - { name: tiny, cidr: 10.5.1.0/28, az: a }\n\
         \x20         - { name: wide, cidr: 10.5.2.0/24, az: b }\n\
         \x20       security_groups:\n          - { name: a }\n          - { name: b }\n\
         \x20       functions:\n",
    );
    for f in functions {
        text.push_str(&format!(
            "          - {{ runtime: python3.11, handler: app.handler, code: ./c, {f} }}\n"
        ));
    }
    text.push_str(quotas);
    validate_text(&text)
}

fn valid(v: &Validated) -> Network {
    let errors: Vec<_> = v.errors().collect();
    assert!(errors.is_empty(), "{errors:#?}");
    v.network.clone().expect("network")
}

fn shared_names(net: &Network) -> Vec<(String, std::net::Ipv4Addr)> {
    net.enis
        .iter()
        .filter(|e| e.owner == EniOwner::Shared)
        .map(|e| (e.name.clone(), e.private_ip))
        .collect()
}

#[test]
fn functions_with_the_same_subnet_and_groups_share_one_eni() {
    let net = valid(&spec_with(
        &[
            "name: f1, subnets: [wide], security_groups: [a, b], concurrency: 100",
            // The same set written in another order, with a duplicate.
            "name: f2, subnets: [wide], security_groups: [b, a, b], concurrency: 100",
        ],
        "",
    ));
    assert_eq!(
        shared_names(&net),
        [("hpl:wide:a,b".to_owned(), "10.5.2.4".parse().expect("ip"))]
    );
    assert_eq!(net.functions[0].shared_enis, net.functions[1].shared_enis);
}

#[test]
fn another_group_set_or_subnet_is_another_eni_and_adding_one_renumbers_nothing() {
    let before = valid(&spec_with(
        &["name: f1, subnets: [wide, tiny], security_groups: [a]"],
        "",
    ));
    let after = valid(&spec_with(
        &[
            "name: f1, subnets: [wide, tiny], security_groups: [a]",
            "name: f2, subnets: [wide], security_groups: [b]",
            "name: f3, subnets: [tiny], security_groups: [a]",
        ],
        "",
    ));
    let b = shared_names(&before);
    let a = shared_names(&after);
    assert_eq!(b.len(), 2);
    assert_eq!(a.len(), 3);
    assert_eq!(&a[..2], &b[..], "existing shared ENIs keep their addresses");
    assert_eq!(a[2].0, "hpl:wide:b");
    // f1 and f3 share the `tiny` ENI; f1's ENIs follow its subnets' order.
    let f1 = &after.functions[0];
    let f3 = &after.functions[2];
    assert_eq!(f1.shared_enis.len(), 2);
    assert_eq!(f3.shared_enis, [f1.shared_enis[1]]);
    assert_eq!(after.enis[f1.shared_enis[0].index()].name, "hpl:wide:a");
}

#[test]
fn the_per_vpc_quota_of_shared_enis_is_eni_limit_reached() {
    let v = spec_with(
        &[
            "name: f1, subnets: [wide], security_groups: [a]",
            "name: f2, subnets: [wide], security_groups: [b]",
            "name: f3, subnets: [wide], security_groups: [a, b]",
        ],
        "quotas:\n  shared_enis_per_vpc: 2\n",
    );
    expect_one(
        &v,
        EniLimitReached,
        "tenants[t].vpcs[v].functions[f3].subnets",
    );
    let e = v.errors().next().expect("error");
    assert!(e.message.contains("quota"), "{}", e.message);
    assert!(e.hint.contains("shared_enis_per_vpc"), "{}", e.hint);
    // Within the quota, the same three functions are fine.
    valid(&spec_with(
        &[
            "name: f1, subnets: [wide], security_groups: [a]",
            "name: f2, subnets: [wide], security_groups: [b]",
            "name: f3, subnets: [wide], security_groups: [a, b]",
        ],
        "quotas:\n  shared_enis_per_vpc: 3\n",
    ));
}

#[test]
fn a_full_subnet_is_subnet_ip_address_limit_reached() {
    // 11 usable addresses in the /28: ten ENIs and one shared ENI fit, not two.
    let mut text = String::from(
        "tenants:\n  - name: t\n    vpcs:\n      - name: v\n        cidr: 10.5.0.0/16\n\
         \x20       subnets:\n          - { name: tiny, cidr: 10.5.1.0/28, az: a }\n\
         \x20       security_groups:\n          - { name: a }\n          - { name: b }\n\
         \x20       enis:\n",
    );
    for i in 0..10 {
        text.push_str(&format!("          - {{ name: e{i}, subnet: tiny }}\n"));
    }
    text.push_str("        functions:\n");
    for (f, g) in [("f1", "a"), ("f2", "b")] {
        text.push_str(&format!(
            "          - {{ name: {f}, runtime: python3.11, handler: app.handler, code: ./c, subnets: [tiny], security_groups: [{g}] }}\n"
        ));
    }
    let v = validate_text(&text);
    expect_one(
        &v,
        SubnetIpAddressLimitReached,
        "tenants[t].vpcs[v].functions[f2].subnets",
    );
    let e = v.errors().next().expect("error");
    assert_eq!(e.code.as_str(), "SubnetIPAddressLimitReachedException");
    assert!(e.message.contains("hpl:tiny:b"), "{}", e.message);
}
