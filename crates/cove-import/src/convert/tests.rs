//! Converter tests on small hand-written exports.

use serde_json::{Value, json};

use super::{build, rec};
use crate::files::{Rec, Snapshot};
use crate::report::{Report, ReportItem};
use cove_model::spec::{Scalar, Spec, VpcSpec};

fn typed<T: serde::de::DeserializeOwned>(v: Value) -> Rec<T> {
    let mut r = rec(serde_json::from_value::<T>(v.clone()).expect("fits"));
    r.raw = v;
    r
}

/// One VPC 10.0.0.0/16 with one subnet 10.0.1.0/24.
fn base() -> Snapshot {
    Snapshot {
        folders: vec!["test".into()],
        vpcs: vec![typed(json!({
            "VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16", "OwnerId": "111122223333",
            "CidrBlockAssociationSet": [
                {"CidrBlock": "10.0.0.0/16", "CidrBlockState": {"State": "associated"}},
                {"CidrBlock": "10.1.0.0/16", "AssociationId": "a-2", "CidrBlockState": {"State": "associated"}},
                {"CidrBlock": "10.2.0.0/16", "AssociationId": "a-3", "CidrBlockState": {"State": "disassociated"}}
            ]
        }))],
        subnets: vec![typed(json!({
            "SubnetId": "subnet-1", "VpcId": "vpc-1", "CidrBlock": "10.0.1.0/24",
            "AvailabilityZone": "az-a"
        }))],
        ..Snapshot::default()
    }
}

fn run(snap: Snapshot) -> (Spec, Vec<ReportItem>) {
    let (spec, report) = build(snap, Report::default());
    let v = cove_model::validate::validate(&spec);
    let errors: Vec<_> = v.errors().collect();
    assert!(errors.is_empty(), "{errors:#?}");
    (spec, report.finish())
}

fn vpc(spec: &Spec) -> &VpcSpec {
    &spec.tenants[0].vpcs[0]
}

fn has(report: &[ReportItem], kind: &str, id: &str, text: &str) -> bool {
    report
        .iter()
        .any(|r| r.kind == kind && r.id == id && r.reason.contains(text))
}

#[test]
fn secondary_cidrs_and_tenant() {
    let (spec, report) = run(base());
    assert_eq!(spec.tenants[0].name, "acct-111122223333");
    assert_eq!(
        spec.tenants[0].account_id,
        Some(Scalar::from("111122223333"))
    );
    assert_eq!(vpc(&spec).secondary_cidrs, vec!["10.1.0.0/16".to_owned()]);
    assert!(has(&report, "vpc-cidr", "a-3", "disassociated"));
}

#[test]
fn routes_blackholes_and_unmodeled_targets() {
    let mut snap = base();
    snap.route_tables.push(typed(json!({
        "RouteTableId": "rtb-1", "VpcId": "vpc-1",
        "Associations": [{"Main": true}, {"SubnetId": "subnet-1", "Main": false}],
        "Routes": [
            {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
            {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-gone", "State": "blackhole"},
            {"DestinationCidrBlock": "192.168.0.0/16", "VpcPeeringConnectionId": "pcx-missing", "State": "active"},
            {"DestinationCidrBlock": "172.16.0.0/12", "TransitGatewayId": "tgw-1", "State": "active"},
            {"DestinationCidrBlock": "10.0.5.0/24", "NetworkInterfaceId": "eni-9", "State": "active"},
            {"DestinationIpv6CidrBlock": "::/0", "GatewayId": "igw-gone", "State": "active"},
            {"DestinationPrefixListId": "pl-nope", "GatewayId": "vpce-1", "State": "active"}
        ]
    })));
    let (spec, report) = run(snap);
    let rt = &vpc(&spec).route_tables[0];
    assert!(rt.main);
    assert_eq!(vpc(&spec).subnets[0].route_table.as_deref(), Some("rtb-1"));
    let r = &rt.routes;
    assert_eq!(r.len(), 3, "{r:#?}");
    assert!(
        r[0].blackhole
            && r[0]
                .description
                .as_deref()
                .is_some_and(|d| d.contains("igw-gone"))
    );
    assert!(r[1].blackhole && r[1].peering.is_none());
    assert_eq!(r[2].unmodeled.as_deref(), Some("tgw-1"));
    assert!(has(&report, "route", "rtb-1", "pcx-missing"));
    assert!(has(&report, "route", "rtb-1", "tgw-1"));
    assert!(has(&report, "route", "rtb-1", "more specific"));
    assert!(has(&report, "route", "rtb-1", "IPv6"));
    assert!(has(&report, "route", "rtb-1", "pl-nope"));
}

#[test]
fn nacl_drops_implicit_deny_and_maps_protocols() {
    let mut snap = base();
    snap.network_acls.push(typed(json!({
        "NetworkAclId": "acl-1", "VpcId": "vpc-1", "IsDefault": true,
        "Associations": [{"SubnetId": "subnet-1"}],
        "Entries": [
            {"CidrBlock": "0.0.0.0/0", "Egress": true, "Protocol": "-1", "RuleAction": "allow", "RuleNumber": 100},
            {"CidrBlock": "0.0.0.0/0", "Egress": true, "Protocol": "-1", "RuleAction": "deny", "RuleNumber": 32767},
            {"CidrBlock": "1.2.3.4/32", "Egress": false, "Protocol": "6", "RuleAction": "deny", "RuleNumber": 100,
             "PortRange": {"From": 3306, "To": 3306}},
            {"CidrBlock": "0.0.0.0/0", "Egress": false, "Protocol": "1", "RuleAction": "allow", "RuleNumber": 200,
             "IcmpTypeCode": {"Type": 0, "Code": 1}},
            {"Ipv6CidrBlock": "::/0", "Egress": false, "Protocol": "-1", "RuleAction": "allow", "RuleNumber": 300},
            {"CidrBlock": "0.0.0.0/0", "Egress": false, "Protocol": "-1", "RuleAction": "deny", "RuleNumber": 32767}
        ]
    })));
    let (spec, report) = run(snap);
    let acl = &vpc(&spec).network_acls[0];
    assert!(acl.default);
    assert_eq!(acl.egress.len(), 1);
    assert_eq!(acl.ingress.len(), 2);
    assert_eq!(acl.ingress[0].protocol, Scalar::from("tcp"));
    assert_eq!(acl.ingress[0].ports, Some(Scalar::Int(3306)));
    assert_eq!(
        (acl.ingress[1].icmp_type, acl.ingress[1].icmp_code),
        (Some(0), Some(1))
    );
    assert_eq!(vpc(&spec).subnets[0].network_acl.as_deref(), Some("acl-1"));
    assert!(has(&report, "network-acl-entry", "acl-1", "IPv6"));
    assert!(!report.iter().any(|r| r.reason.contains("32767")));
}

#[test]
fn security_group_rules_expand_per_peer() {
    let mut snap = base();
    snap.security_groups.push(typed(json!({
        "GroupId": "sg-1", "GroupName": "web", "VpcId": "vpc-1",
        "IpPermissions": [{
            "IpProtocol": "tcp", "FromPort": 80, "ToPort": 443,
            "IpRanges": [{"CidrIp": "1.2.3.0/24"}, {"CidrIp": "5.6.7.8/32"}],
            "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            "UserIdGroupPairs": [{"GroupId": "sg-1"}, {"GroupId": "sg-elsewhere"}]
        }, {
            "IpProtocol": "tcp", "FromPort": -1, "ToPort": 50, "IpRanges": [{"CidrIp": "1.2.3.4/32"}]
        }],
        "IpPermissionsEgress": []
    })));
    let (spec, report) = run(snap);
    let sg = &vpc(&spec).security_groups[0];
    assert_eq!(sg.ingress.len(), 3);
    assert_eq!(sg.ingress[0].ports, Some(Scalar::from("80-443")));
    assert_eq!(sg.ingress[2].security_group.as_deref(), Some("sg-1"));
    assert_eq!(
        sg.egress,
        Some(Vec::new()),
        "egress is explicit even when empty"
    );
    assert!(has(&report, "security-group-rule", "sg-1", "IPv6"));
    assert!(has(&report, "security-group-rule", "sg-1", "sg-elsewhere"));
    assert!(has(
        &report,
        "security-group-rule",
        "sg-1",
        "invalid port range"
    ));
}

#[test]
fn objects_without_vpc_are_reported() {
    let mut snap = base();
    snap.subnets.push(typed(json!({
        "SubnetId": "subnet-2", "VpcId": "vpc-x", "CidrBlock": "10.9.0.0/24", "AvailabilityZone": "a"
    })));
    snap.subnets.push(typed(json!({
        "SubnetId": "subnet-3", "VpcId": "vpc-1", "CidrBlock": "10.0.1.0/25", "AvailabilityZone": "a"
    })));
    let (spec, report) = run(snap);
    assert_eq!(vpc(&spec).subnets.len(), 1);
    assert!(has(&report, "subnet", "subnet-2", "vpc-x"));
    assert!(has(&report, "subnet", "subnet-3", "overlaps"));
}

#[test]
fn unknown_files_are_reported() {
    let dir = std::env::temp_dir().join(format!("cove-import-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let write = |name: &str, v: Value| {
        std::fs::write(dir.join(name), v.to_string()).expect("write");
    };
    write(
        "Route.json",
        json!({"DestinationPrefixListId": "pl-1", "GatewayId": "vpce-1"}),
    );
    write("List.json", json!([1, 2]));
    write(
        "Gizmos.json",
        json!({"Gizmos": [{"GizmoId": "gz-1"}], "NextToken": "x"}),
    );
    write("Empty.json", json!({"VpnGateways": []}));
    write(
        "Zones.json",
        json!({"AvailabilityZones": [{"ZoneName": "a"}]}),
    );
    let import = crate::import_aws_dir(&dir).expect("import");
    std::fs::remove_dir_all(&dir).expect("cleanup");
    let ids: Vec<(&str, &str)> = import
        .report
        .iter()
        .map(|r| (r.kind.as_str(), r.id.as_str()))
        .collect();
    assert_eq!(
        ids,
        vec![
            ("Gizmos", "gz-1"),
            ("file", "List.json"),
            ("file", "Route.json")
        ]
    );
    assert!(import.spec.tenants.is_empty());
}

#[test]
fn propagated_routes_are_kept_beside_static_ones() {
    let mut snap = base();
    snap.route_tables.push(typed(json!({
        "RouteTableId": "rtb-1", "VpcId": "vpc-1",
        "Associations": [{"Main": true}],
        "PropagatingVgws": [{"GatewayId": "vgw-1"}],
        "Routes": [
            {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active", "Origin": "CreateRouteTable"},
            {"DestinationCidrBlock": "172.16.0.0/12", "GatewayId": "vgw-1", "State": "active", "Origin": "EnableVgwRoutePropagation"},
            {"DestinationCidrBlock": "172.16.0.0/12", "TransitGatewayId": "tgw-1", "State": "active", "Origin": "CreateRoute"},
            {"DestinationCidrBlock": "192.168.0.0/16", "GatewayId": "vgw-1", "State": "active", "Origin": "EnableVgwRoutePropagation"},
            {"DestinationCidrBlock": "192.168.0.0/16", "GatewayId": "vgw-1", "State": "active", "Origin": "CreateRoute"}
        ]
    })));
    let (spec, _) = run(snap);
    let routes = &vpc(&spec).route_tables[0].routes;
    let got: Vec<(Option<&str>, Option<&str>, bool)> = routes
        .iter()
        .map(|r| {
            (
                r.destination.as_deref(),
                r.unmodeled.as_deref(),
                r.propagated,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (Some("172.16.0.0/12"), Some("vgw-1"), true),
            (Some("172.16.0.0/12"), Some("tgw-1"), false),
            (Some("192.168.0.0/16"), Some("vgw-1"), true),
            (Some("192.168.0.0/16"), Some("vgw-1"), false),
        ]
    );
}

/// An account with raised quotas (7 groups on an interface, 6 blocks on a VPC)
/// imports to a spec that says so, and validates.
#[test]
fn raised_quotas_are_written_into_the_spec() {
    let mut snap = base();
    let mut groups = Vec::new();
    for g in 0..7 {
        snap.security_groups.push(typed(json!({
            "GroupId": format!("sg-{g}"), "GroupName": format!("g{g}"), "VpcId": "vpc-1",
            "IpPermissions": [], "IpPermissionsEgress": []
        })));
        groups.push(json!({"GroupId": format!("sg-{g}")}));
    }
    snap.network_interfaces.push(typed(json!({
        "NetworkInterfaceId": "eni-1", "VpcId": "vpc-1", "SubnetId": "subnet-1",
        "PrivateIpAddress": "10.0.1.10", "Groups": groups
    })));
    let blocks: Vec<Value> = (0..6)
        .map(|i| json!({"CidrBlock": format!("10.{i}.0.0/16"), "CidrBlockState": {"State": "associated"}}))
        .collect();
    snap.vpcs[0] = typed(json!({
        "VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16", "OwnerId": "111122223333",
        "CidrBlockAssociationSet": blocks
    }));
    let (spec, _) = run(snap);
    assert_eq!(vpc(&spec).enis[0].security_groups.len(), 7);
    let q = spec.quotas.expect("quotas");
    assert_eq!(q.security_groups_per_interface, Some(Scalar::Int(7)));
    assert_eq!(q.cidr_blocks_per_vpc, Some(Scalar::Int(6)));
    assert_eq!(q.rules_per_security_group, None);
}
