//! Validation tests: the shipped example is valid and resolves as AWS would; each class
//! of bad input, applied to the valid example, yields exactly one error with the
//! expected code and field path, and no network.

use std::net::Ipv4Addr;

use super::*;
use crate::diag::ErrorCode::*;
use crate::model::*;

pub(super) const EXAMPLE: &str = include_str!("../../../../examples/secure-compute.yaml");

fn example() -> Network {
    let v = validate_text(EXAMPLE);
    let errors: Vec<_> = v.errors().collect();
    assert!(errors.is_empty(), "example has errors: {errors:#?}");
    v.network.expect("valid example gives a network")
}

#[test]
fn example_is_valid_without_warnings() {
    let v = validate_text(EXAMPLE);
    assert!(v.diagnostics.is_empty(), "{:#?}", v.diagnostics);
}

#[test]
fn example_resolves_implicit_objects() {
    let net = example();
    let fns = &net.vpcs[0];
    assert_eq!(net.vpc_path(VpcId(0)), "platform/functions");
    // No table is marked main: an implicit main table with only the local route.
    let main = &net.route_tables[fns.main_route_table.index()];
    assert!(main.main);
    assert_eq!(main.routes.len(), 1);
    assert_eq!(main.routes[0].target, RouteTarget::Local);
    // Default ACL allows everything; default SG references itself.
    let acl = &net.network_acls[fns.default_network_acl.index()];
    assert_eq!(acl.ingress.len(), 1);
    assert_eq!(acl.ingress[0].action, NaclAction::Allow);
    let sg = &net.security_groups[fns.default_security_group.index()];
    assert_eq!(
        sg.ingress[0].peer,
        SgPeer::Group(fns.default_security_group)
    );
}

#[test]
fn example_assigns_addresses_deterministically() {
    let net = example();
    let ip = |q: &str| net.enis[net.find_eni(q).expect(q).index()].private_ip;
    // NAT gateways first, then interface endpoints, then ENIs; +4 is the first usable.
    assert_eq!(ip("functions/nat:nat-a"), Ipv4Addr::new(10, 20, 0, 4));
    assert_eq!(
        ip("functions/endpoint:secrets:private-a"),
        Ipv4Addr::new(10, 20, 1, 4)
    );
    assert_eq!(ip("functions/fn-a"), Ipv4Addr::new(10, 20, 1, 5));
    assert_eq!(ip("functions/fn-b"), Ipv4Addr::new(10, 20, 2, 5));
    assert_eq!(ip("prod/db-1"), Ipv4Addr::new(10, 30, 1, 10));
    let again = example();
    let addrs = |n: &Network| n.enis.iter().map(|e| e.private_ip).collect::<Vec<_>>();
    assert_eq!(addrs(&net), addrs(&again));
}

#[test]
fn gateway_endpoint_adds_prefix_list_routes() {
    let net = example();
    let rt = net
        .route_tables
        .iter()
        .find(|t| t.name == "private-a")
        .expect("table");
    let last = rt.routes.last().expect("routes");
    assert!(matches!(last.destination, RouteDestination::PrefixList(_)));
    assert!(matches!(last.target, RouteTarget::GatewayEndpoint(_)));
    assert!(matches!(last.origin, RouteOrigin::Endpoint(_)));
    // local, two spec routes, one endpoint route
    assert_eq!(rt.routes.len(), 4);
}

#[test]
fn cross_tenant_group_reference_resolves_across_peering() {
    let net = example();
    let db = net
        .security_groups
        .iter()
        .find(|g| g.name == "db")
        .expect("db group");
    let SgPeer::Group(g) = db.ingress[0].peer else {
        panic!("expected a group peer")
    };
    assert_eq!(net.sg_label(g), "platform/functions/fn");
}

/// Applies `from → to` to the example text (exactly once) and validates.
pub(super) fn mutate(from: &str, to: &str) -> Validated {
    assert_eq!(EXAMPLE.matches(from).count(), 1, "`{from}` must occur once");
    validate_text(&EXAMPLE.replacen(from, to, 1))
}

/// Asserts exactly one error, with this code and path, a hint, and no network.
pub(super) fn expect_one(v: &Validated, code: crate::diag::ErrorCode, path: &str) {
    let errors: Vec<_> = v.errors().collect();
    assert_eq!(errors.len(), 1, "expected one error, got {errors:#?}");
    assert_eq!(errors[0].code, code, "{:#?}", errors[0]);
    assert_eq!(errors[0].path, path, "{:#?}", errors[0]);
    assert!(!errors[0].hint.is_empty());
    assert!(
        v.network.is_none(),
        "an invalid spec must not give a network"
    );
}

const FN_VPC: &str = "tenants[platform].vpcs[functions]";
const PROD: &str = "tenants[customer].vpcs[prod]";

#[test]
fn bad_vpc_cidrs() {
    let v = mutate("cidr: 10.40.0.0/16", "cidr: 10.40.0.0/8");
    expect_one(
        &v,
        InvalidVpcRange,
        "tenants[analytics].vpcs[warehouse].cidr",
    );
    let v = mutate("cidr: 10.40.0.0/16", "cidr: 10.40.0.1/16");
    expect_one(
        &v,
        InvalidParameterValue,
        "tenants[analytics].vpcs[warehouse].cidr",
    );
    let v = mutate("cidr: 10.40.0.0/16", "cidr: 10.40.0.0/29");
    expect_one(
        &v,
        InvalidVpcRange,
        "tenants[analytics].vpcs[warehouse].cidr",
    );
    let v = mutate(
        "cidr: 10.40.0.0/16",
        "cidr: 10.40.0.0/16\n        secondary_cidrs: [192.168.0.0/16]",
    );
    expect_one(
        &v,
        InvalidVpcRange,
        "tenants[analytics].vpcs[warehouse].secondary_cidrs[0]",
    );
    let v = mutate(
        "cidr: 10.40.0.0/16",
        "cidr: 10.40.0.0/16\n        secondary_cidrs: [10.41.0.0/16, 10.42.0.0/16, 10.43.0.0/16, 10.44.0.0/16, 10.45.0.0/16]",
    );
    expect_one(
        &v,
        CidrLimitExceeded,
        "tenants[analytics].vpcs[warehouse].secondary_cidrs",
    );
}

#[test]
fn bad_subnets() {
    let v = mutate("cidr: 10.40.1.0/24", "cidr: 10.50.1.0/24");
    expect_one(
        &v,
        InvalidSubnetRange,
        "tenants[analytics].vpcs[warehouse].subnets[data-a].cidr",
    );
    let v = mutate("cidr: 10.30.2.0/24", "cidr: 10.30.1.128/25");
    expect_one(
        &v,
        InvalidSubnetConflict,
        &format!("{PROD}.subnets[app-a].cidr"),
    );
    let v = mutate("cidr: 10.30.2.0/24", "cidr: 10.30.2.0/29");
    expect_one(
        &v,
        InvalidSubnetRange,
        &format!("{PROD}.subnets[app-a].cidr"),
    );
    let v = mutate("name: app-a, cidr", "name: db-a, cidr");
    assert!(v.errors().any(|d| d.code == DuplicateName));
}

#[test]
fn bad_references() {
    let v = mutate("route_table: private-b }", "route_table: private-c }");
    expect_one(
        &v,
        InvalidRouteTableIdNotFound,
        &format!("{FN_VPC}.subnets[private-b].route_table"),
    );
    let v = mutate("network_acl: db }", "network_acl: dbx }");
    expect_one(
        &v,
        InvalidNetworkAclIdNotFound,
        &format!("{PROD}.subnets[db-a].network_acl"),
    );
    let v = mutate("security_groups: [db] }", "security_groups: [dbx] }");
    expect_one(
        &v,
        InvalidGroupNotFound,
        &format!("{PROD}.enis[db-1].security_groups[0]"),
    );
    let v = mutate(
        "- { destination: 10.20.2.0/24, peering: fn-to-prod }",
        "- { destination: 10.20.2.0/24, peering: nope }",
    );
    expect_one(
        &v,
        InvalidVpcPeeringConnectionIdNotFound,
        &format!("{PROD}.route_tables[main].routes[1].peering"),
    );
    // AWS's spelling: `ID`, as in InvalidVpcID.NotFound (cove-control's API error too).
    assert_eq!(
        InvalidVpcPeeringConnectionIdNotFound.as_str(),
        "InvalidVpcPeeringConnectionID.NotFound"
    );
    let v = mutate("nat_gateway: nat-b }", "nat_gateway: nat-c }");
    expect_one(
        &v,
        InvalidNatGatewayIdNotFound,
        &format!("{FN_VPC}.route_tables[private-b].routes[1].nat_gateway"),
    );
    let v = mutate("internet_gateway: igw }\n", "internet_gateway: igw2 }\n");
    expect_one(
        &v,
        InvalidInternetGatewayIdNotFound,
        &format!("{FN_VPC}.route_tables[public].routes[0].internet_gateway"),
    );
    let v = mutate("prefix_list: s3\n", "prefix_list: s4\n");
    expect_one(
        &v,
        InvalidPrefixListIdNotFound,
        &format!("{FN_VPC}.endpoints[s3].prefix_list"),
    );
    let v = mutate("accepter: customer/prod", "accepter: customer/staging");
    let errors: Vec<_> = v.errors().collect();
    assert_eq!(errors[0].code, InvalidVpcIdNotFound);
    assert_eq!(errors[0].path, "peerings[fn-to-prod].accepter");
}

#[test]
fn bad_routes() {
    let v = mutate(
        "- { destination: 10.20.2.0/24, peering: fn-to-prod }",
        "- { destination: 10.20.1.0/24, peering: fn-to-prod }",
    );
    expect_one(
        &v,
        RouteAlreadyExists,
        &format!("{PROD}.route_tables[main].routes[1]"),
    );
    let v = mutate(
        "- { destination: 10.20.2.0/24, peering: fn-to-prod }",
        "- { destination: 10.30.5.0/24, peering: fn-to-prod }",
    );
    expect_one(
        &v,
        InvalidParameterValue,
        &format!("{PROD}.route_tables[main].routes[1].destination"),
    );
    let v = mutate(
        "- { destination: 10.20.2.0/24, peering: fn-to-prod }",
        "- { destination: 10.20.2.0/24, peering: fn-to-prod, blackhole: true }",
    );
    expect_one(
        &v,
        InvalidParameterCombination,
        &format!("{PROD}.route_tables[main].routes[1]"),
    );
    let v = mutate(
        "- { destination: 10.20.2.0/24, peering: fn-to-prod }",
        "- { peering: fn-to-prod }",
    );
    expect_one(
        &v,
        MissingParameter,
        &format!("{PROD}.route_tables[main].routes[1]"),
    );
}

#[test]
fn bad_nacl_entries() {
    let v = mutate(
        "- { rule: 110, action: allow, protocol: all, cidr: 10.30.0.0/16 }\n            egress",
        "- { rule: 100, action: allow, protocol: all, cidr: 10.30.0.0/16 }\n            egress",
    );
    expect_one(
        &v,
        NetworkAclEntryAlreadyExists,
        &format!("{PROD}.network_acls[db].ingress[1].rule"),
    );
    let v = mutate(
        "- { rule: 100, action: allow, protocol: tcp, ports: 5432, cidr: 10.20.0.0/16 }",
        "- { rule: 32767, action: allow, protocol: tcp, ports: 5432, cidr: 10.20.0.0/16 }",
    );
    expect_one(
        &v,
        InvalidParameterValue,
        &format!("{PROD}.network_acls[db].ingress[0].rule"),
    );
    let v = mutate(
        "- { rule: 100, action: allow, protocol: tcp, ports: 5432, cidr: 10.20.0.0/16 }",
        "- { rule: 100, action: permit, protocol: tcp, ports: 5432, cidr: 10.20.0.0/16 }",
    );
    expect_one(
        &v,
        InvalidParameterValue,
        &format!("{PROD}.network_acls[db].ingress[0].action"),
    );
    let v = mutate(
        "- { rule: 100, action: allow, protocol: tcp, ports: 5432, cidr: 10.20.0.0/16 }",
        "- { rule: 100, action: allow, protocol: tcp, cidr: 10.20.0.0/16 }",
    );
    expect_one(
        &v,
        MissingParameter,
        &format!("{PROD}.network_acls[db].ingress[0].ports"),
    );
}

#[test]
fn bad_security_group_rules() {
    let v = mutate(
        "- { protocol: tcp, ports: 443, security_group: fn }",
        "- { protocol: tcpp, ports: 443, security_group: fn }",
    );
    expect_one(
        &v,
        InvalidParameterValue,
        &format!("{FN_VPC}.security_groups[endpoints].ingress[0].protocol"),
    );
    let v = mutate(
        "- { protocol: tcp, ports: 443, security_group: fn }",
        "- { protocol: tcp, ports: 443, security_group: fn, cidr: 10.0.0.0/8 }",
    );
    expect_one(
        &v,
        InvalidParameterCombination,
        &format!("{FN_VPC}.security_groups[endpoints].ingress[0]"),
    );
    let v = mutate(
        "- { protocol: tcp, ports: 443, security_group: fn }",
        "- { protocol: tcp, ports: 443-80, security_group: fn }",
    );
    expect_one(
        &v,
        InvalidParameterValue,
        &format!("{FN_VPC}.security_groups[endpoints].ingress[0].ports"),
    );
    // A group of a VPC that is not peered cannot be referenced.
    let v = mutate(
        "- { protocol: all, security_group: app }",
        "- { protocol: all, security_group: analytics/warehouse/default }",
    );
    expect_one(
        &v,
        InvalidGroupNotFound,
        &format!("{PROD}.security_groups[db].ingress[1].security_group"),
    );
    let v = mutate(
        "- { protocol: all, security_group: app }",
        "- { protocol: tcp, ports: 5432, security_group: platform/functions/fn }",
    );
    expect_one(
        &v,
        InvalidPermissionDuplicate,
        &format!("{PROD}.security_groups[db].ingress[1]"),
    );
}

#[test]
fn bad_addresses() {
    let v = mutate("private_ip: 10.30.2.20", "private_ip: 10.30.1.10");
    expect_one(
        &v,
        InvalidParameterValue,
        &format!("{PROD}.enis[app-1].private_ip"),
    );
    let v = mutate(
        "- { name: app-1, subnet: app-a, private_ip: 10.30.2.20",
        "- { name: app-1, subnet: db-a, private_ip: 10.30.1.10",
    );
    expect_one(
        &v,
        InvalidIpAddressInUse,
        &format!("{PROD}.enis[app-1].private_ip"),
    );
    let v = mutate("private_ip: 10.30.2.20", "private_ip: 10.30.2.3");
    expect_one(
        &v,
        InvalidParameterValue,
        &format!("{PROD}.enis[app-1].private_ip"),
    );
    let v = mutate("private_ip: 10.30.2.20", "private_ip: 10.30.2.255");
    expect_one(
        &v,
        InvalidParameterValue,
        &format!("{PROD}.enis[app-1].private_ip"),
    );
    let v = mutate("private_ip: 10.30.2.20", "private_ip: 10.30.2.300");
    expect_one(
        &v,
        InvalidParameterValue,
        &format!("{PROD}.enis[app-1].private_ip"),
    );
}

#[test]
fn subnet_exhaustion_is_reported() {
    let v = mutate("cidr: 10.40.1.0/24", "cidr: 10.40.1.0/28\n          ");
    assert!(v.network.is_some());
    let many: String = (0..12)
        .map(|i| format!("          - {{ name: w{i}, subnet: data-a }}\n"))
        .collect();
    let text = EXAMPLE
        .replacen("cidr: 10.40.1.0/24", "cidr: 10.40.1.0/28", 1)
        .replacen(
            "          - { name: dw-1, subnet: data-a, private_ip: 10.40.1.10 }\n",
            &many,
            1,
        );
    let v = validate_text(&text);
    expect_one(
        &v,
        InsufficientFreeAddressesInSubnet,
        "tenants[analytics].vpcs[warehouse].enis[w11]",
    );
}

#[test]
fn overlapping_peering_is_failed_not_invalid() {
    let text = "tenants:
  - name: t
    vpcs:
      - { name: a, cidr: 10.0.0.0/16 }
      - { name: b, cidr: 10.0.128.0/17 }
peerings:
  - { name: ab, requester: t/a, accepter: t/b }
";
    let v = validate_text(text);
    assert_eq!(v.errors().count(), 0, "{:#?}", v.diagnostics);
    let warning = &v.diagnostics[0];
    assert_eq!(warning.severity, crate::diag::Severity::Warning);
    assert_eq!(warning.path, "peerings[ab].status");
    let net = v.network.expect("valid");
    assert_eq!(net.peerings[0].status, PeeringStatus::Failed);
    assert!(
        net.peerings[0]
            .status_reason
            .as_deref()
            .is_some_and(|r| r.contains("10.0.128.0/17"))
    );
}

#[test]
fn unknown_fields_are_all_reported_with_semantic_errors() {
    let text = EXAMPLE
        .replacen(
            "az: us-east-1a, route_table: public",
            "zone: us-east-1a, az: x, route_table: public",
            1,
        )
        .replacen(
            "cidr: 10.40.0.0/16",
            "cidr: 10.40.0.0/8\n        colour: red",
            1,
        );
    let v = validate_text(&text);
    let codes: Vec<_> = v.errors().map(|d| (d.code, d.path.clone())).collect();
    assert!(codes.contains(&(UnknownParameter, format!("{FN_VPC}.subnets[public-a].zone"))));
    assert!(codes.contains(&(
        UnknownParameter,
        "tenants[analytics].vpcs[warehouse].colour".to_owned()
    )));
    assert!(codes.contains(&(
        InvalidVpcRange,
        "tenants[analytics].vpcs[warehouse].cidr".to_owned()
    )));
    assert!(v.network.is_none());
}

#[test]
fn peering_limits_and_duplicates() {
    let text = format!(
        "{EXAMPLE}  - {{ name: again, requester: customer/prod, accepter: platform/functions }}\n"
    );
    let v = validate_text(&text);
    expect_one(&v, VpcPeeringConnectionAlreadyExists, "peerings[again]");
    let text = format!(
        "{EXAMPLE}  - {{ name: self, requester: customer/prod, accepter: customer/prod }}\n"
    );
    let v = validate_text(&text);
    expect_one(&v, InvalidParameterValue, "peerings[self].accepter");
    // 51 active peerings on one VPC.
    let mut text = String::from(
        "tenants:\n  - name: t\n    vpcs:\n      - { name: hub, cidr: 10.0.0.0/16 }\n",
    );
    for i in 1..=51 {
        text.push_str(&format!("      - {{ name: s{i}, cidr: 10.{i}.0.0/16 }}\n"));
    }
    text.push_str("peerings:\n");
    for i in 1..=51 {
        text.push_str(&format!(
            "  - {{ name: p{i}, requester: t/hub, accepter: t/s{i} }}\n"
        ));
    }
    let v = validate_text(&text);
    expect_one(
        &v,
        ActiveVpcPeeringConnectionPerVpcLimitExceeded,
        "peerings[p51]",
    );
}

/// The example with one function added to the platform VPC (`fields` is the rest of
/// its YAML flow mapping).
fn with_function(fields: &str) -> Validated {
    mutate(
        "          - { name: fn-b, subnet: private-b, security_groups: [fn] }\n",
        &format!(
            "          - {{ name: fn-b, subnet: private-b, security_groups: [fn] }}\n        functions:\n          - {{ {fields} }}\n"
        ),
    )
}

const GOOD_FN: &str = "name: api, runtime: python3.11, handler: app.handler, code: ./api, subnets: [private-a, private-b], security_groups: [fn]";

#[test]
fn functions_use_shared_enis_one_per_subnet_and_group_set() {
    let v = with_function(&format!("{GOOD_FN}, concurrency: 300, memory: 256"));
    let errors: Vec<_> = v.errors().collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let net = v.network.expect("network");
    let f = &net.functions[0];
    assert_eq!((f.memory_mb, f.timeout_s, f.concurrency), (256, 3, 300));
    // 300 environments, two subnets: two addresses, not 300.
    let shared: Vec<_> = net
        .enis
        .iter()
        .filter(|e| e.owner == EniOwner::Shared)
        .collect();
    assert_eq!(shared.len(), 2);
    let subnets: Vec<_> = f
        .first_shared_enis()
        .map(|e| {
            net.subnets[net.enis[e.index()].subnet.index()]
                .name
                .as_str()
        })
        .collect();
    assert_eq!(subnets, ["private-a", "private-b"]);
    let fn_sg = net.find_eni("functions/fn-a").expect("fn-a");
    for s in f.first_shared_enis() {
        let eni = &net.enis[s.index()];
        assert_eq!(eni.owner, EniOwner::Shared);
        assert_eq!(eni.security_groups, net.enis[fn_sg.index()].security_groups);
    }
    assert_eq!(
        net.enis[f.shared_enis[0][0].index()].name,
        "hpl:private-a:fn"
    );
    // Shared ENIs come after every other interface: the user ENIs keep their addresses.
    let ip = |q: &str| net.enis[net.find_eni(q).expect(q).index()].private_ip;
    assert_eq!(ip("functions/fn-a"), Ipv4Addr::new(10, 20, 1, 5));
    assert_eq!(ip("functions/fn:api"), Ipv4Addr::new(10, 20, 1, 6));
    assert_eq!(
        ip("functions/fn:api@private-b"),
        Ipv4Addr::new(10, 20, 2, 6)
    );
    assert_eq!(
        ip("platform/functions/fn:api@private-a"),
        Ipv4Addr::new(10, 20, 1, 6)
    );
    assert!(net.find_enis("fn:api@nowhere").is_empty());
    assert!(net.find_enis("other/fn:api").is_empty());
    // The shared ENIs stand for the function in matrices and plan deltas.
    let workloads: Vec<_> = net
        .workload_enis()
        .into_iter()
        .map(|e| net.enis[e.index()].name.clone())
        .filter(|n| n.starts_with("hpl:"))
        .collect();
    assert_eq!(workloads, ["hpl:private-a:fn", "hpl:private-b:fn"]);
    assert_eq!(net.find_eni("fn:api").expect("fn:api"), f.shared_enis[0][0]);
}

#[test]
fn bad_functions() {
    let path = format!("{FN_VPC}.functions[api]");
    let v = with_function(&GOOD_FN.replace("python3.11", "cobol"));
    expect_one(&v, LambdaValidation, &format!("{path}.runtime"));
    let v = with_function(&GOOD_FN.replace("python3.11", "java21"));
    expect_one(&v, LambdaInvalidParameterValue, &format!("{path}.runtime"));
    // A version cove would only approximate (Ruby 3.3 on Ruby 3.1) is refused too.
    let v = with_function(&GOOD_FN.replace("python3.11", "ruby3.3"));
    expect_one(&v, LambdaInvalidParameterValue, &format!("{path}.runtime"));
    let v = with_function(&format!("{GOOD_FN}, memory: 64"));
    expect_one(&v, LambdaInvalidParameterValue, &format!("{path}.memory"));
    let v = with_function(&format!("{GOOD_FN}, timeout: 901"));
    expect_one(&v, LambdaInvalidParameterValue, &format!("{path}.timeout"));
    let v = with_function(&format!("{GOOD_FN}, concurrency: 0"));
    expect_one(
        &v,
        LambdaInvalidParameterValue,
        &format!("{path}.concurrency"),
    );
    let v = with_function(&GOOD_FN.replace("private-b]", "nowhere]"));
    expect_one(&v, InvalidSubnetIdNotFound, &format!("{path}.subnets[1]"));
    let v = with_function(&GOOD_FN.replace("[fn]", "[nope]"));
    expect_one(
        &v,
        InvalidGroupNotFound,
        &format!("{path}.security_groups[0]"),
    );
    let v = with_function(&GOOD_FN.replace("app.handler", "'app handler'"));
    expect_one(&v, LambdaValidation, &format!("{path}.handler"));
    let v = with_function(&GOOD_FN.replace("app.handler", "app"));
    expect_one(&v, LambdaInvalidParameterValue, &format!("{path}.handler"));
    let v = with_function(&format!("{GOOD_FN}, environment: {{ AWS_REGION: x }}"));
    expect_one(
        &v,
        LambdaInvalidParameterValue,
        &format!("{path}.environment"),
    );
    let v = with_function(&format!("{GOOD_FN}, environment: {{ 1X: x }}"));
    expect_one(&v, LambdaValidation, &format!("{path}.environment.1X"));
    let v = with_function(&GOOD_FN.replace("name: api", "name: 'a/b'"));
    expect_one(
        &v,
        LambdaInvalidParameterValue,
        &format!("{FN_VPC}.functions[a/b].name"),
    );
    // More environments than the subnet has addresses: they share one ENI.
    let v = with_function(&format!(
        "{}, concurrency: 1000",
        GOOD_FN.replace("[private-a, private-b]", "[private-a]")
    ));
    let errors: Vec<_> = v.errors().collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let net = v.network.expect("network");
    assert_eq!(net.functions[0].shared_enis.len(), 1);
}

#[test]
fn function_names_are_unique_per_tenant() {
    let v = mutate(
        "          - { name: fn-b, subnet: private-b, security_groups: [fn] }\n",
        &format!(
            "          - {{ name: fn-b, subnet: private-b, security_groups: [fn] }}\n        functions:\n          - {{ {GOOD_FN} }}\n          - {{ {GOOD_FN} }}\n"
        ),
    );
    let errors: Vec<_> = v.errors().collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].code, ResourceConflict);
    assert_eq!(errors[0].path, format!("{FN_VPC}.functions[api].name"));
}

#[test]
fn unquoted_account_id_with_a_leading_zero_says_to_quote_it() {
    let v = mutate("account_id: \"111111111111\"", "account_id: 012345678901");
    expect_one(&v, InvalidParameterValue, "tenants[platform].account_id");
    let e = v.errors().next().expect("one error");
    assert!(e.message.contains("not quoted"), "{}", e.message);
    assert!(e.hint.contains("\"012345678901\""), "{}", e.hint);
    // Quoted, it is fine; unquoted without a leading zero too.
    assert!(
        mutate(
            "account_id: \"111111111111\"",
            "account_id: \"012345678901\""
        )
        .network
        .is_some()
    );
    assert!(
        mutate("account_id: \"111111111111\"", "account_id: 111111111111")
            .network
            .is_some()
    );
}

/// An `id` written in one tenant's part is free text: it must never take over a name
/// another tenant (or VPC) uses, or the other's rules would point at its objects.
#[test]
fn names_resolve_before_imported_ids_of_other_tenants() {
    let text = r#"
tenants:
  - name: acme
    prefix_lists:
      - { name: corp, cidrs: [10.9.0.0/16] }
    vpcs:
      - name: app
        cidr: 10.1.0.0/16
        security_groups:
          - name: db
          - name: api
            ingress:
              - { protocol: tcp, ports: 5432, security_group: db }
              - { protocol: tcp, ports: 443, prefix_list: corp }
  - name: evil
    prefix_lists:
      - { name: mine, id: corp, cidrs: [0.0.0.0/0] }
    vpcs:
      - name: x
        cidr: 10.2.0.0/16
        security_groups:
          - { name: g, id: db }
"#;
    let v = validate_text(text);
    let errors: Vec<_> = v.errors().collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let net = v.network.expect("valid");
    let api = net
        .security_groups
        .iter()
        .find(|g| g.name == "api")
        .expect("api");
    let SgPeer::Group(g) = api.ingress[0].peer else {
        panic!("{:?}", api.ingress[0].peer)
    };
    assert_eq!(net.security_groups[g.index()].vpc, api.vpc);
    assert_eq!(net.security_groups[g.index()].name, "db");
    let SgPeer::PrefixList(p) = api.ingress[1].peer else {
        panic!("{:?}", api.ingress[1].peer)
    };
    assert_eq!(net.prefix_lists[p.index()].name, "corp");
    assert_eq!(net.prefix_lists[p.index()].tenant, TenantId(0));
}
