//! What `cove import aws` writes, cove reads back, however large: a generated export
//! of one VPC with 30,000 interfaces and groups at a raised rule quota is imported,
//! written as YAML (as the command writes it), decoded and validated.

use std::fmt::Write as _;
use std::path::PathBuf;

use cove_import::import_aws_dir;
use cove_model::validate::validate_text;

const ENIS: usize = 30_000;
const SUBNETS: usize = 16;
const GROUPS: usize = 20;
const RULES: usize = 80;

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_export() -> TempDir {
    let dir = std::env::temp_dir().join(format!("hn-large-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let put = |name: &str, text: String| std::fs::write(dir.join(name), text).expect("write");
    put(
        "vpcs.json",
        r#"{"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16", "OwnerId": "111122223333"}]}"#
            .to_owned(),
    );
    let subnets: Vec<String> = (0..SUBNETS)
        .map(|s| {
            format!(
                r#"{{"SubnetId": "subnet-{s}", "VpcId": "vpc-1", "CidrBlock": "10.0.{}.0/20", "AvailabilityZone": "az-a"}}"#,
                s * 16
            )
        })
        .collect();
    put(
        "subnets.json",
        format!(r#"{{"Subnets": [{}]}}"#, subnets.join(",")),
    );
    let groups: Vec<String> = (0..GROUPS)
        .map(|g| {
            let ranges: Vec<String> = (0..RULES)
                .map(|r| format!(r#"{{"CidrIp": "172.{}.{r}.0/24"}}"#, 16 + g))
                .collect();
            format!(
                r#"{{"GroupId": "sg-{g}", "GroupName": "g{g}", "VpcId": "vpc-1",
                   "IpPermissions": [{{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{}]}}],
                   "IpPermissionsEgress": [{{"IpProtocol": "-1", "IpRanges": [{{"CidrIp": "0.0.0.0/0"}}]}}]}}"#,
                ranges.join(",")
            )
        })
        .collect();
    put(
        "security-groups.json",
        format!(r#"{{"SecurityGroups": [{}]}}"#, groups.join(",")),
    );
    let mut enis = String::from(r#"{"NetworkInterfaces": ["#);
    for e in 0..ENIS {
        let s = e % SUBNETS;
        let host = 10 + e / SUBNETS;
        let ip = format!("10.0.{}.{}", s * 16 + host / 256, host % 256);
        if e > 0 {
            enis.push(',');
        }
        let _ = write!(
            enis,
            r#"{{"NetworkInterfaceId": "eni-{e}", "VpcId": "vpc-1", "SubnetId": "subnet-{s}", "PrivateIpAddress": "{ip}", "Groups": [{{"GroupId": "sg-{}"}}]}}"#,
            e % GROUPS
        );
    }
    enis.push_str("]}");
    put("network-interfaces.json", enis);
    TempDir(dir)
}

#[test]
fn a_large_import_validates_after_a_round_trip() {
    let dir = write_export();
    let import = import_aws_dir(&dir.0).expect("import");
    let vpc = &import.spec.tenants[0].vpcs[0];
    assert_eq!(vpc.enis.len(), ENIS);
    let yaml = serde_saphyr::to_string(&import.spec).expect("serializes");
    // Larger than the YAML parser's default budget (250,000 nodes) allows.
    let default = serde_saphyr::from_str::<serde_json::Value>(&yaml);
    assert!(
        default.is_err(),
        "the export is too small to test the budget"
    );
    let v = validate_text(&yaml);
    let errors: Vec<_> = v.errors().collect();
    assert!(errors.is_empty(), "{:#?}", &errors[..errors.len().min(5)]);
    let net = v.network.expect("network");
    assert_eq!(net.enis.len(), ENIS);
    // The groups have more rules than AWS's default quota: the import says so.
    assert!(
        yaml.contains("rules_per_security_group: 80"),
        "no quota in the spec"
    );
}
