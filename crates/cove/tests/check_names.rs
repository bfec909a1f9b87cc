//! `cove check --to NAME` (issue 12): the name is resolved in the source VPC's
//! view (private zones, ENI hostnames), and a name that does not resolve is
//! blocked at DNS with the reason — the zone not associated with this VPC, the
//! name missing from the zone, the resolver off. No kernel needed.

use assert_cmd::Command;

const SPEC: &str = "tenants:
  - name: t
    vpcs:
      - name: app
        cidr: 10.1.0.0/16
        dns_hostnames: true
        subnets:
          - { name: s, cidr: 10.1.1.0/24, az: us-east-1a }
        enis:
          - { name: fn, subnet: s, private_ip: 10.1.1.5 }
          - { name: db, subnet: s, private_ip: 10.1.1.10 }
      - name: other
        cidr: 10.2.0.0/16
        subnets:
          - { name: s, cidr: 10.2.1.0/24, az: us-east-1a }
        enis:
          - { name: x, subnet: s, private_ip: 10.2.1.5 }
      - name: quiet
        cidr: 10.3.0.0/16
        dns_support: false
        subnets:
          - { name: s, cidr: 10.3.1.0/24, az: us-east-1a }
        enis:
          - { name: y, subnet: s, private_ip: 10.3.1.5 }
    hosted_zones:
      - name: db.internal
        vpcs: [app]
        records:
          - { name: pg.db.internal, type: CNAME, values: [ip-10-1-1-10.ec2.internal] }
";

fn check(spec: &std::path::Path, from: &str, to: &str) -> (Option<i32>, String) {
    let out = Command::cargo_bin("cove")
        .expect("binary")
        .args(["check", "-f"])
        .arg(spec)
        .args([
            "--from", from, "--to", to, "--proto", "tcp", "--port", "5432",
        ])
        .output()
        .expect("cove check");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn names_resolve_in_the_source_vpcs_view_or_are_blocked_at_dns_with_the_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = dir.path().join("spec.yaml");
    std::fs::write(&spec, SPEC).expect("spec");
    // The zone's CNAME to the ENI's hostname, then the flow to its address.
    let (code, text) = check(&spec, "t/app/fn", "pg.db.internal");
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("pg.db.internal resolves in t/app's view: pg.db.internal. CNAME ip-10-1-1-10.ec2.internal. → ip-10-1-1-10.ec2.internal. A 10.1.1.10"),
        "{text}"
    );
    assert!(text.contains("REACHABLE"), "{text}");
    // Not associated with `other`.
    let (code, text) = check(&spec, "t/other/x", "pg.db.internal");
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("at DNS"), "{text}");
    assert!(text.contains("associated only with t/app"), "{text}");
    // Missing from the zone; the resolver off.
    let (code, text) = check(&spec, "t/app/fn", "nope.db.internal");
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("NXDOMAIN"), "{text}");
    let (code, text) = check(&spec, "t/quiet/y", "pg.db.internal");
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("dns_support: false"), "{text}");
}
