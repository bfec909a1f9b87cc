//! Imports every AWS snapshot under `shared/aws-snapshots`, round-trips the spec
//! through YAML and checks that cove accepts it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cove_import::{Import, import_aws_dir};
use cove_model::Severity;
use cove_model::decode::decode_spec;
use cove_model::spec::Spec;
use cove_model::validate::validate;

/// The snapshot root, beside the repository (`../../../shared/aws-snapshots`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/aws-snapshots")
}

/// The snapshot folder `rel`, or `None` (a failure when `CI=true`) when it is missing.
fn snapshot(rel: &str) -> Option<PathBuf> {
    let dir = root().join(rel);
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "snapshot folder {} is missing",
        dir.display()
    );
    eprintln!("skipping: {} is missing", dir.display());
    None
}

/// Imports `dir`, round-trips through YAML and validates; returns the import.
fn import_and_check(dir: &Path) -> Import {
    let import = import_aws_dir(dir).unwrap_or_else(|e| panic!("import {}: {e}", dir.display()));
    let yaml = serde_saphyr::to_string(&import.spec).expect("serializes");
    let (decoded, diags) = decode_spec(&yaml)
        .unwrap_or_else(|d| panic!("{}: decode failed: {d:?}\n{yaml}", dir.display()));
    assert!(diags.is_empty(), "{}: {diags:?}", dir.display());
    assert_eq!(
        decoded,
        import.spec,
        "{}: YAML round trip changed the spec",
        dir.display()
    );
    let validated = validate(&decoded);
    let errors: Vec<_> = validated
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{}: {errors:#?}\n{yaml}", dir.display());
    assert!(validated.network.is_some(), "{}", dir.display());
    // Deterministic: a second import is identical.
    let again = import_aws_dir(dir).expect("second import");
    assert_eq!(again.spec, import.spec);
    assert_eq!(again.report, import.report);
    import
}

fn vpc_ids(spec: &Spec) -> BTreeSet<String> {
    spec.tenants
        .iter()
        .flat_map(|t| t.vpcs.iter().map(|v| v.name.clone()))
        .collect()
}

fn reported(import: &Import, kind: &str) -> BTreeSet<String> {
    import
        .report
        .iter()
        .filter(|r| r.kind == kind)
        .map(|r| r.id.clone())
        .collect()
}

#[test]
fn every_leaf_folder_imports_and_validates() {
    let Some(root) = snapshot("") else { return };
    let leaves = cove_testgen::json_folders(&root);
    assert!(leaves.len() >= 12, "found only {} folders", leaves.len());
    for leaf in leaves {
        import_and_check(&leaf);
    }
}

#[test]
fn every_top_level_snapshot_imports_and_validates() {
    for rel in [
        "",
        "batfish/test-nat-gateway",
        "batfish/test-public-private-subnet",
        "batfish/test-public-subnet",
        "batfish/test-subnet",
        "batfish/test-vpc-endpoint-gateway",
        "batfish/test-vpc-endpoint-interface",
        "batfish/test-vpc-peering",
        "batfish/test-vpc-peering-multi-account",
        "batfish/unit",
        "hybrid-cloud",
    ] {
        if let Some(dir) = snapshot(rel) {
            import_and_check(&dir);
        }
    }
}

#[test]
fn vpc_peering() {
    let Some(dir) = snapshot("batfish/test-vpc-peering") else {
        return;
    };
    let import = import_and_check(&dir);
    let spec = &import.spec;
    assert_eq!(spec.tenants.len(), 1);
    assert_eq!(spec.tenants[0].name, "acct-554773406868");
    let vpcs = &spec.tenants[0].vpcs;
    assert_eq!(vpcs.len(), 3);
    let cidr = |id: &str| {
        vpcs.iter()
            .find(|v| v.name == id)
            .map(|v| v.cidr.clone())
            .expect("vpc")
    };
    assert_eq!(cidr("vpc-00a31ce9d0c06675c"), "192.168.0.0/16"); // B
    assert_eq!(cidr("vpc-09095dbf2886404ee"), "192.168.0.0/16"); // C
    assert!(vpcs.iter().all(|v| v.secondary_cidrs.is_empty()));
    assert_eq!(
        reported(&import, "vpc-cidr").len(),
        3,
        "disassociated CIDRs"
    );
    let active: Vec<_> = spec
        .peerings
        .iter()
        .filter(|p| p.status.as_deref() == Some("active"))
        .collect();
    assert_eq!(active.len(), 2);
    // B's route to a gone internet gateway is a blackhole.
    let b = vpcs
        .iter()
        .find(|v| v.name == "vpc-00a31ce9d0c06675c")
        .expect("B");
    let rt = &b.route_tables[0];
    assert!(rt.main);
    let hole = rt
        .routes
        .iter()
        .find(|r| r.destination.as_deref() == Some("0.0.0.0/0"))
        .expect("default route");
    assert!(hole.blackhole);
    assert!(
        hole.description
            .as_deref()
            .unwrap_or("")
            .contains("igw-0a2c9ae201b441bff")
    );
}

#[test]
fn multi_account_peering_imported_once() {
    let Some(dir) = snapshot("batfish/test-vpc-peering-multi-account") else {
        return;
    };
    let import = import_and_check(&dir);
    let spec = &import.spec;
    let names: Vec<_> = spec.tenants.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["acct-028403472736", "acct-951601349076"]);
    assert_eq!(spec.peerings.len(), 1);
    let p = &spec.peerings[0];
    assert_eq!(p.name, "pcx-0040f7640e10191f4");
    assert_eq!(p.requester, "acct-028403472736/vpc-0f44fae3468d2b998");
    assert_eq!(p.accepter, "acct-951601349076/vpc-05951c91977125d2e");
    let deleted = reported(&import, "vpc-peering-connection");
    assert!(deleted.contains("pcx-00eeab4f3bd2a40da"));
    assert!(deleted.contains("pcx-07d8d712b329b9337"));
    assert!(reported(&import, "instance").contains("i-022b9fb2c0a0c72c1"));
}

#[test]
fn hybrid_cloud_reports_transit_gateways() {
    let Some(dir) = snapshot("hybrid-cloud") else {
        return;
    };
    let import = import_and_check(&dir);
    assert_eq!(vpc_ids(&import.spec).len(), 4);
    let tgws = reported(&import, "transit-gateway");
    assert!(tgws.contains("tgw-06b348adabd13452d"), "{tgws:?}");
    assert_eq!(tgws.len(), 2);
    assert!(!reported(&import, "vpn-connection").is_empty());
    assert!(!reported(&import, "customer-gateway").is_empty());
    // Routes to the transit gateway stay, as `unmodeled`.
    let unmodeled = import
        .spec
        .tenants
        .iter()
        .flat_map(|t| &t.vpcs)
        .flat_map(|v| &v.route_tables)
        .flat_map(|r| &r.routes)
        .filter(|r| r.unmodeled.is_some())
        .count();
    assert!(unmodeled >= 3);
}

#[test]
fn nat_gateway_snapshot() {
    let Some(dir) = snapshot("batfish/test-nat-gateway") else {
        return;
    };
    let import = import_and_check(&dir);
    let vpc = &import.spec.tenants[0].vpcs[0];
    assert_eq!(vpc.nat_gateways.len(), 1);
    let nat = &vpc.nat_gateways[0];
    assert_eq!(nat.private_ip.as_deref(), Some("10.1.250.210"));
    assert_eq!(nat.public_ips, vec!["3.135.127.225".to_owned()]);
    // The NAT gateway's own interface is not duplicated as an ENI.
    assert_eq!(vpc.enis.len(), 3);
    assert!(vpc.internet_gateway.is_some());
    let acl = vpc
        .network_acls
        .iter()
        .find(|a| a.name == "acl-0792adae678b88f85")
        .expect("acl");
    assert_eq!(acl.ingress.len(), 2, "the 32767 entries are dropped");
    assert_eq!(acl.ingress[0].protocol, "icmp".into());
}

#[test]
fn gateway_endpoint_snapshot() {
    let Some(dir) = snapshot("batfish/test-vpc-endpoint-gateway") else {
        return;
    };
    let import = import_and_check(&dir);
    let t = &import.spec.tenants[0];
    assert_eq!(t.prefix_lists.len(), 2);
    let ep = &t.vpcs[0].endpoints[0];
    assert_eq!(ep.kind, "gateway");
    assert_eq!(ep.prefix_list.as_deref(), Some("pl-63a5400a"));
    assert_eq!(ep.route_tables.len(), 2);
    // The explicit prefix-list routes are the endpoint's own routes: not repeated.
    assert!(
        t.vpcs[0]
            .route_tables
            .iter()
            .flat_map(|r| &r.routes)
            .all(|r| r.destination_prefix_list.is_none())
    );
    assert_eq!(reported(&import, "vpc-endpoint-service").len(), 77);
}

#[test]
fn interface_endpoint_snapshot() {
    let Some(dir) = snapshot("batfish/test-vpc-endpoint-interface") else {
        return;
    };
    let import = import_and_check(&dir);
    let vpc = &import.spec.tenants[0].vpcs[0];
    let ep = &vpc.endpoints[0];
    assert_eq!(ep.kind, "interface");
    assert_eq!(ep.subnets, vec!["subnet-0bb8615d8368ece31".to_owned()]);
    assert_eq!(ep.private_ips, vec!["10.1.101.97".to_owned()]);
    assert_eq!(
        ep.private_dns_name.as_deref(),
        Some("cloudtrail.us-east-1.amazonaws.com")
    );
    assert_eq!(vpc.enis.len(), 2);
}

#[test]
fn unit_folder_is_reported() {
    let Some(dir) = snapshot("batfish/unit") else {
        return;
    };
    let import = import_and_check(&dir);
    assert!(import.spec.tenants.is_empty(), "no VPCs in the unit files");
    assert!(reported(&import, "file").contains("RoutePrefixListId.json"));
    assert!(reported(&import, "security-group").contains("sg-0de0ddfa8a5a12348"));
}
