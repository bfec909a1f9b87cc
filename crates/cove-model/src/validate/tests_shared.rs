//! Validation tests for shared function ENIs ("Hyperplane", issue 17): one ENI per
//! (subnet, security-group set) of a VPC, shared across functions; the per-VPC
//! quota and subnet exhaustion are Lambda's errors.

use super::tests::expect_one;
use super::*;
use crate::diag::ErrorCode::*;
use crate::model::*;

/// A tenant with one VPC (a /28 subnet `tiny`: 11 usable addresses, and a /24
/// `wide`), groups `a` and `b`, and the given functions (YAML flow mappings).
fn spec_text(functions: &[&str], quotas: &str) -> String {
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
    text
}

/// [`spec_text`], validated.
fn spec_with(functions: &[&str], quotas: &str) -> Validated {
    validate_text(&spec_text(functions, quotas))
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
    assert_eq!(f3.shared_enis, [f1.shared_enis[1].clone()]);
    assert_eq!(after.enis[f1.shared_enis[0][0].index()].name, "hpl:wide:a");
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

/// The spec of [`spec_with`] with the given extra shared ENIs (what cove's store
/// holds), validated.
fn with_extras(functions: &[&str], quotas: &str, extras: &[(&str, &str)]) -> Validated {
    let text = spec_text(functions, quotas);
    let (mut spec, unknown) = crate::decode::decode_spec(&text).expect("decodes");
    assert!(unknown.is_empty());
    spec.shared_eni_extras = extras
        .iter()
        .map(|(vpc, eni)| crate::spec::SharedEniExtra {
            vpc: (*vpc).to_owned(),
            eni: (*eni).to_owned(),
        })
        .collect();
    validate(&spec)
}

#[test]
fn extra_shared_enis_come_from_the_top_of_the_subnet_and_spread_environments_within_their_key() {
    let fns = [
        "name: f1, subnets: [wide, tiny], security_groups: [a], concurrency: 8",
        "name: f2, subnets: [wide], security_groups: [b]",
    ];
    let before = valid(&with_extras(&fns, "", &[]));
    let after = valid(&with_extras(
        &fns,
        "",
        &[
            ("t/v", "hpl:wide:a"),
            ("t/v", "hpl:wide:a"),
            ("t/v", "hpl:tiny:a"),
        ],
    ));
    let b = shared_names(&before);
    let a = shared_names(&after);
    assert_eq!(&a[..3], &b[..], "the first ENIs keep their addresses");
    let ip = |s: &str| s.parse::<std::net::Ipv4Addr>().expect("ip");
    assert_eq!(
        &a[3..],
        [
            ("hpl:wide:a:2".to_owned(), ip("10.5.2.254")),
            ("hpl:wide:a:3".to_owned(), ip("10.5.2.253")),
            ("hpl:tiny:a:2".to_owned(), ip("10.5.1.14")),
        ]
    );
    let f1 = &after.functions[0];
    assert_eq!(f1.shared_enis.len(), 2);
    assert_eq!(f1.shared_enis[0].len(), 3);
    assert_eq!(f1.shared_enis[1].len(), 2);
    // Environment k: subnet k mod 2, then ENI (k / 2) mod n of that subnet's key.
    let name = |k: u32| {
        after.enis[f1.environment_eni(k).expect("eni").index()]
            .name
            .clone()
    };
    let got: Vec<String> = (0..8).map(name).collect();
    assert_eq!(
        got,
        [
            "hpl:wide:a",
            "hpl:tiny:a",
            "hpl:wide:a:2",
            "hpl:tiny:a:2",
            "hpl:wide:a:3",
            "hpl:tiny:a",
            "hpl:wide:a",
            "hpl:tiny:a:2",
        ]
    );
    // f2's key has no extra ENI.
    assert_eq!(after.functions[1].shared_enis[0].len(), 1);
    // The analyzer's `fn:f1` is still the first ENI of the first subnet.
    assert_eq!(
        after.enis[after.find_eni("fn:f1").expect("fn:f1").index()].name,
        "hpl:wide:a"
    );
    // The extra ENIs carry the key's groups and subnet.
    let extra = after.find_eni("t/v/hpl:wide:a:2").expect("extra");
    let first = f1.shared_enis[0][0];
    assert_eq!(
        after.enis[extra.index()].security_groups,
        after.enis[first.index()].security_groups
    );
    assert_eq!(
        after.enis[extra.index()].subnet,
        after.enis[first.index()].subnet
    );
}

#[test]
fn extras_of_unused_keys_other_vpcs_or_past_the_quota_are_ignored() {
    let fns = [
        "name: f1, subnets: [wide], security_groups: [a]",
        "name: f2, subnets: [wide], security_groups: [b]",
    ];
    let net = valid(&with_extras(
        &fns,
        "quotas:\n  shared_enis_per_vpc: 3\n",
        &[
            // No function uses group b in `tiny`; another VPC; then one within
            // the quota (2 first ENIs + 1) and one past it.
            ("t/v", "hpl:tiny:b"),
            ("t/other", "hpl:wide:a"),
            ("t/v", "hpl:wide:b"),
            ("t/v", "hpl:wide:a"),
        ],
    ));
    let names: Vec<String> = shared_names(&net).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["hpl:wide:a", "hpl:wide:b", "hpl:wide:b:2"]);
}

#[test]
fn an_extra_that_finds_no_address_is_not_created_and_refuses_nothing() {
    // `tiny` has 11 addresses: ten ENIs and f1's first shared ENI take them all,
    // so the extra ENI has nowhere to go and is simply absent.
    let text = {
        let mut t = String::from(
            "tenants:\n  - name: t\n    vpcs:\n      - name: v\n        cidr: 10.5.0.0/16\n\
             \x20       subnets:\n          - { name: tiny, cidr: 10.5.1.0/28, az: a }\n\
             \x20       security_groups:\n          - { name: a }\n\
             \x20       enis:\n",
        );
        for i in 0..10 {
            t.push_str(&format!("          - {{ name: e{i}, subnet: tiny }}\n"));
        }
        t.push_str("        functions:\n          - { name: f1, runtime: python3.11, handler: app.handler, code: ./c, subnets: [tiny], security_groups: [a] }\n");
        t
    };
    let (mut spec, _) = crate::decode::decode_spec(&text).expect("decodes");
    spec.shared_eni_extras = vec![crate::spec::SharedEniExtra {
        vpc: "t/v".to_owned(),
        eni: "hpl:tiny:a".to_owned(),
    }];
    let net = valid(&validate(&spec));
    let names: Vec<String> = shared_names(&net).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["hpl:tiny:a"]);
    assert_eq!(
        net.functions[0].shared_enis,
        [vec![net.find_eni("fn:f1").expect("f1")]]
    );
}

#[test]
fn extras_are_never_read_from_or_written_to_a_spec_document() {
    let text = "tenants: []\nshared_eni_extras:\n  - { vpc: t/v, eni: hpl:wide:a }\n";
    let (spec, unknown) = crate::decode::decode_spec(text).expect("decodes");
    assert!(spec.shared_eni_extras.is_empty());
    assert!(
        !unknown.is_empty(),
        "the field is unknown to a spec document"
    );
    let mut spec = Spec::default();
    spec.shared_eni_extras.push(crate::spec::SharedEniExtra {
        vpc: "t/v".to_owned(),
        eni: "hpl:wide:a".to_owned(),
    });
    let yaml = serde_json::to_string(&spec).expect("encodes");
    assert!(!yaml.contains("shared_eni_extras"), "{yaml}");
}
