//! Validation tests for network fidelity: EC2's error codes for malformed CIDRs,
//! gateway-endpoint routes, reused ids and the rules-per-group quota; public
//! addresses; DNS names; propagated routes.

use super::tests::{EXAMPLE, expect_one, mutate};
use super::*;
use crate::diag::ErrorCode::*;
use crate::model::*;

const FN_VPC: &str = "tenants[platform].vpcs[functions]";
const PROD: &str = "tenants[customer].vpcs[prod]";
const WAREHOUSE: &str = "tenants[analytics].vpcs[warehouse]";

fn expect_valid(v: &Validated) -> Network {
    let errors: Vec<_> = v.errors().collect();
    assert!(errors.is_empty(), "{errors:#?}");
    v.network.clone().expect("network")
}

#[test]
fn malformed_cidrs_are_invalid_parameter_value_for_vpcs_and_subnets() {
    let vpc = format!("{WAREHOUSE}.cidr");
    for bad in ["1000.1.0.0/20", "10.40.0.0/33", "10.40.0.1/16", "ten"] {
        let v = mutate("cidr: 10.40.0.0/16", &format!("cidr: {bad}"));
        expect_one(&v, InvalidParameterValue, &vpc);
    }
    // Well-formed but the wrong size: the range code.
    let v = mutate("cidr: 10.40.0.0/16", "cidr: 10.40.0.0/29");
    expect_one(&v, InvalidVpcRange, &vpc);
    let subnet = format!("{WAREHOUSE}.subnets[data-a].cidr");
    let v = mutate("cidr: 10.40.1.0/24", "cidr: 1000.1.0.0/20");
    expect_one(&v, InvalidParameterValue, &subnet);
    let v = mutate("cidr: 10.40.1.0/24", "cidr: 10.40.1.0/30");
    expect_one(&v, InvalidSubnetRange, &subnet);
}

#[test]
fn gateway_endpoint_route_to_another_destination_is_route_not_supported() {
    let v = mutate(
        "      - { destination: 0.0.0.0/0, internet_gateway: igw }",
        "      - { destination: 0.0.0.0/0, internet_gateway: igw }\n              - { destination: 52.0.0.0/8, gateway_endpoint: s3 }",
    );
    expect_one(
        &v,
        RouteNotSupported,
        &format!("{FN_VPC}.route_tables[public].routes[1].gateway_endpoint"),
    );
}

#[test]
fn one_aws_id_on_two_objects_is_resource_already_associated() {
    let v = validate_text(
        &EXAMPLE
            .replacen(
                "internet_gateway: { name: igw }",
                "internet_gateway: { name: igw, id: igw-1 }",
                1,
            )
            .replacen(
                "        cidr: 10.40.0.0/16\n",
                "        cidr: 10.40.0.0/16\n        internet_gateway: { name: igw, id: igw-1 }\n",
                1,
            ),
    );
    expect_one(
        &v,
        ResourceAlreadyAssociated,
        &format!("{WAREHOUSE}.internet_gateway.id"),
    );
    let e = v.errors().next().expect("error");
    assert!(
        e.message.contains(&format!("{FN_VPC}.internet_gateway")),
        "{e:#?}"
    );
    // The same id on objects of different kinds is one resource too.
    let v = mutate("name: db-a, cidr", "name: db-a, id: x-1, cidr");
    assert!(v.network.is_some());
    let v = validate_text(
        &EXAMPLE
            .replacen("name: db-a, cidr", "name: db-a, id: x-1, cidr", 1)
            .replacen("name: dw-1, subnet", "name: dw-1, id: x-1, subnet", 1),
    );
    expect_one(
        &v,
        ResourceAlreadyAssociated,
        &format!("{WAREHOUSE}.enis[dw-1].id"),
    );
}

fn with_rules(n: usize, quota: Option<&str>) -> Validated {
    let rules: String = (0..n)
        .map(|i| {
            format!(
                "\n              - {{ protocol: tcp, ports: {}, cidr: 10.0.0.0/8 }}",
                1000 + i
            )
        })
        .collect();
    let mut text = EXAMPLE.replacen(
        "            ingress:\n              - { protocol: tcp, ports: 443, security_group: fn }",
        &format!("            ingress:{rules}"),
        1,
    );
    if let Some(q) = quota {
        text.push_str(&format!("quotas:\n  rules_per_security_group: {q}\n"));
    }
    validate_text(&text)
}

#[test]
fn more_rules_than_the_quota_is_rules_per_security_group_limit_exceeded() {
    expect_valid(&with_rules(60, None));
    let path = format!("{FN_VPC}.security_groups[endpoints].ingress");
    expect_one(
        &with_rules(61, None),
        RulesPerSecurityGroupLimitExceeded,
        &path,
    );
    // The quota is configurable.
    expect_valid(&with_rules(61, Some("100")));
    expect_one(
        &with_rules(11, Some("10")),
        RulesPerSecurityGroupLimitExceeded,
        &path,
    );
    expect_one(
        &with_rules(1, Some("0")),
        InvalidParameterValue,
        "quotas.rules_per_security_group",
    );
}

#[test]
fn public_ips_must_be_public_unicast_and_unused() {
    let nat = format!("{FN_VPC}.nat_gateways[nat-a].public_ips[0]");
    for bad in [
        "0.0.0.0",
        "255.255.255.255",
        "224.0.0.1",
        "127.0.0.1",
        "169.254.1.1",
        "10.99.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "240.0.0.1",
    ] {
        let v = mutate(
            "public_ips: [203.0.113.10]",
            &format!("public_ips: [{bad}]"),
        );
        expect_one(&v, InvalidParameterValue, &nat);
    }
    // A public address inside a VPC block of the spec (here a VPC with a public block).
    let v = validate_text(
        &EXAMPLE
            .replacen("public_ips: [203.0.113.10]", "public_ips: [8.8.1.10]", 1)
            .replacen(
                "        cidr: 10.40.0.0/16\n",
                "        cidr: 10.40.0.0/16\n        secondary_cidrs: [8.8.0.0/16]\n",
                1,
            ),
    );
    expect_one(&v, InvalidParameterValue, &nat);
    // Two NAT gateways with one address.
    let v = mutate("public_ips: [203.0.113.11]", "public_ips: [203.0.113.10]");
    expect_one(
        &v,
        InvalidIpAddressInUse,
        &format!("{FN_VPC}.nat_gateways[nat-b].public_ips[0]"),
    );
    // An ENI with a NAT gateway's address, and with a bad one.
    let eni = format!("{FN_VPC}.enis[fn-a].public_ip");
    let v = mutate(
        "{ name: fn-a, subnet: private-a, security_groups: [fn] }",
        "{ name: fn-a, subnet: private-a, security_groups: [fn], public_ip: 203.0.113.10 }",
    );
    expect_one(&v, InvalidIpAddressInUse, &eni);
    let v = mutate(
        "{ name: fn-a, subnet: private-a, security_groups: [fn] }",
        "{ name: fn-a, subnet: private-a, security_groups: [fn], public_ip: 10.30.1.10 }",
    );
    expect_one(&v, InvalidParameterValue, &eni);
    for good in ["198.51.100.7", "198.18.0.7", "8.8.8.8"] {
        let v = mutate(
            "{ name: fn-a, subnet: private-a, security_groups: [fn] }",
            &format!(
                "{{ name: fn-a, subnet: private-a, security_groups: [fn], public_ip: {good} }}"
            ),
        );
        expect_valid(&v);
    }
    for ip in 0..=u32::from(u16::MAX) {
        let ip = std::net::Ipv4Addr::from(ip.wrapping_mul(65_537).wrapping_add(ip << 7));
        assert_eq!(
            public_ip_problem(ip).is_some(),
            crate::lookup::is_special_purpose(ip),
            "{ip}"
        );
    }
}

#[test]
fn dns_names_must_be_host_names() {
    let path = format!("{FN_VPC}.endpoints[secrets].private_dns_name");
    for bad in [
        "\"secrets\\nmanager.amazonaws.com\"",
        "\"a..b\"",
        "\"-a.example.com\"",
        "\"a_b.example.com\"",
        "\"\"",
    ] {
        let v = mutate(
            "private_dns_name: secretsmanager.us-east-1.amazonaws.com",
            &format!("private_dns_name: {bad}"),
        );
        expect_one(&v, InvalidParameterValue, &path);
    }
    let long = format!("{}.com", "a".repeat(64));
    let v = mutate(
        "private_dns_name: secretsmanager.us-east-1.amazonaws.com",
        &format!("private_dns_name: {long}"),
    );
    expect_one(&v, InvalidParameterValue, &path);
    let v = mutate(
        "private_dns_name: secretsmanager.us-east-1.amazonaws.com",
        "private_dns_name: \"*.s3.us-east-1.amazonaws.com\"",
    );
    expect_valid(&v);
    // 253 characters and a trailing dot are allowed; 255 are not.
    assert_eq!(hostname_problem(&"a.".repeat(127)), None);
    assert!(hostname_problem(&format!("{}a", "a.".repeat(127))).is_some());
}

const PROD_ROUTES: &str = "              - { destination: 10.20.2.0/24, peering: fn-to-prod }\n";

fn prod_routes(extra: &str) -> Validated {
    mutate(PROD_ROUTES, &format!("{PROD_ROUTES}{extra}"))
}

#[test]
fn propagated_routes_may_share_a_static_destination() {
    let net = expect_valid(&prod_routes(
        "              - { destination: 10.20.2.0/24, unmodeled: vgw-1, propagated: true }\n\
         \x20             - { destination: 172.16.0.0/12, unmodeled: vgw-1, propagated: true }\n\
         \x20             - { destination: 172.16.0.0/12, unmodeled: vgw-2, propagated: true }\n",
    ));
    let main = net
        .route_tables
        .iter()
        .find(|t| t.name == "main" && net.vpc_path(t.vpc) == "customer/prod")
        .expect("table");
    let origins: Vec<_> = main.routes.iter().map(|r| r.origin).collect();
    assert!(origins.contains(&RouteOrigin::Propagated(2)), "{origins:?}");
    assert!(origins.contains(&RouteOrigin::Spec(1)), "{origins:?}");
    // Two static routes with one destination remain an error.
    let v = prod_routes("              - { destination: 10.20.2.0/24, blackhole: true }\n");
    expect_one(
        &v,
        RouteAlreadyExists,
        &format!("{PROD}.route_tables[main].routes[2]"),
    );
    // Only a virtual private gateway propagates.
    let v = prod_routes(
        "              - { destination: 172.16.0.0/12, peering: fn-to-prod, propagated: true }\n",
    );
    expect_one(
        &v,
        InvalidParameterCombination,
        &format!("{PROD}.route_tables[main].routes[2].propagated"),
    );
}

#[test]
fn raised_quotas_admit_more_groups_blocks_and_peerings() {
    let six =
        "{ name: fn-a, subnet: private-a, security_groups: [fn, endpoints, default, g4, g5, g6] }";
    let groups = "          - name: fn\n";
    let text = EXAMPLE
        .replacen("{ name: fn-a, subnet: private-a, security_groups: [fn] }", six, 1)
        .replacen(
            groups,
            &format!("{groups}          - {{ name: g4 }}\n          - {{ name: g5 }}\n          - {{ name: g6 }}\n          - name: fn-x\n"),
            1,
        );
    let path = format!("{FN_VPC}.enis[fn-a].security_groups");
    expect_one(
        &validate_text(&text),
        SecurityGroupsPerInterfaceLimitExceeded,
        &path,
    );
    let raised = format!("{text}quotas:\n  security_groups_per_interface: 6\n");
    expect_valid(&validate_text(&raised));
    let too_high = format!("{text}quotas:\n  security_groups_per_interface: 17\n");
    let v = validate_text(&too_high);
    assert!(
        v.errors()
            .any(|d| d.code == InvalidParameterValue
                && d.path == "quotas.security_groups_per_interface"),
        "{:#?}",
        v.diagnostics
    );

    let blocks = "        cidr: 10.40.0.0/16\n        secondary_cidrs: [10.41.0.0/16, 10.42.0.0/16, 10.43.0.0/16, 10.44.0.0/16, 10.45.0.0/16]\n";
    let text = EXAMPLE.replacen("        cidr: 10.40.0.0/16\n", blocks, 1);
    expect_one(
        &validate_text(&text),
        CidrLimitExceeded,
        &format!("{WAREHOUSE}.secondary_cidrs"),
    );
    expect_valid(&validate_text(&format!(
        "{text}quotas:\n  cidr_blocks_per_vpc: 6\n"
    )));

    // 51 active peerings of one VPC.
    let mut text = String::from("tenants:\n  - name: t\n    vpcs:\n");
    for v in 0..52 {
        text.push_str(&format!("      - {{ name: v{v}, cidr: 10.{v}.0.0/16 }}\n"));
    }
    text.push_str("peerings:\n");
    for v in 1..52 {
        text.push_str(&format!(
            "  - {{ name: p{v}, requester: t/v0, accepter: t/v{v} }}\n"
        ));
    }
    expect_one(
        &validate_text(&text),
        ActiveVpcPeeringConnectionPerVpcLimitExceeded,
        "peerings[p51]",
    );
    expect_valid(&validate_text(&format!(
        "{text}quotas:\n  active_peerings_per_vpc: 51\n"
    )));
}

#[test]
fn nat_gateway_public_ips_get_secondary_addresses_after_every_interface() {
    let before = expect_valid(&mutate("cidr: 10.40.0.0/16", "cidr: 10.40.0.0/16"));
    let after = expect_valid(&mutate(
        "public_ips: [203.0.113.10]",
        "public_ips: [203.0.113.10, 203.0.113.20, 203.0.113.21]",
    ));
    let nat = |n: &Network| {
        n.nat_gateways
            .iter()
            .find(|g| g.name == "nat-a")
            .cloned()
            .expect("nat-a")
    };
    assert!(nat(&before).secondary_ips.is_empty());
    let a = nat(&after);
    assert_eq!(a.secondary_ips.len(), 2);
    let eni_ip = after.enis[a.eni.index()].private_ip;
    let private = a.private_ips(eni_ip);
    assert_eq!(private.len(), a.public_ips.len());
    let subnet = after.subnets[a.subnet.index()].cidr;
    for ip in &a.secondary_ips {
        assert!(subnet.contains(ip), "{ip} outside {subnet}");
        assert!(
            after.enis.iter().all(|e| e.private_ip != *ip),
            "{ip} is also an interface's"
        );
    }
    // Every interface keeps its address.
    let addrs = |n: &Network| n.enis.iter().map(|e| e.private_ip).collect::<Vec<_>>();
    assert_eq!(addrs(&before), addrs(&after));
    // At most eight.
    let nine: Vec<String> = (0..9).map(|i| format!("203.0.113.{}", 100 + i)).collect();
    let v = mutate(
        "public_ips: [203.0.113.10]",
        &format!("public_ips: [{}]", nine.join(", ")),
    );
    expect_one(
        &v,
        InvalidParameterValue,
        &format!("{FN_VPC}.nat_gateways[nat-a].public_ips"),
    );
}
