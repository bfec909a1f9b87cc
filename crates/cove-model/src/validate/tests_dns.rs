//! Validation tests for private hosted zones (issue 12): names, associations and
//! record sets as Route 53 checks them; every error names its field.

use super::tests::expect_one;
use super::*;
use crate::diag::ErrorCode::*;
use crate::dns::RecordData;

/// Tenant `t` with VPCs `a` and `b` and the given `hosted_zones:` YAML.
fn with_zones(zones: &str) -> Validated {
    validate_text(&format!(
        "tenants:\n  - name: t\n    vpcs:\n      - {{ name: a, cidr: 10.1.0.0/16, dns_hostnames: true }}\n      - {{ name: b, cidr: 10.2.0.0/16, dns_support: false }}\n    hosted_zones:\n{zones}"
    ))
}

#[test]
fn zones_and_record_sets_resolve_with_canonical_names_and_defaults() {
    let v = with_zones(
        "      - name: DB.Internal
        vpcs: [a, b]
        records:
          - { name: pg.db.internal, type: a, values: [10.1.0.10, 10.1.0.11] }
          - { name: PG6.db.internal., type: AAAA, ttl: 60, values: ['fd00::10'] }
          - { name: alias.db.internal, type: CNAME, values: [pg.db.internal] }
          - { type: TXT, values: [\"v=1\"] }
          - { name: _pg._tcp.db.internal, type: SRV, values: ['10 5 5432 pg.db.internal'] }
          - { type: MX, values: ['10 mail.db.internal'] }
          - { name: '*.db.internal', type: A, values: [10.1.0.99] }
",
    );
    let errors: Vec<_> = v.errors().collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let net = v.network.expect("network");
    assert!(net.vpcs[0].dns_support && net.vpcs[0].dns_hostnames);
    assert!(!net.vpcs[1].dns_support && !net.vpcs[1].dns_hostnames);
    let z = &net.hosted_zones[0];
    assert_eq!(z.name, "db.internal.");
    assert_eq!(z.vpcs.len(), 2);
    assert_eq!(z.records.len(), 7);
    assert_eq!(z.records[0].name, "pg.db.internal.");
    assert_eq!(z.records[0].ttl, 300);
    assert_eq!(
        z.records[0].data,
        RecordData::A(vec![
            "10.1.0.10".parse().expect("ip"),
            "10.1.0.11".parse().expect("ip")
        ])
    );
    assert_eq!(
        (z.records[1].name.as_str(), z.records[1].ttl),
        ("pg6.db.internal.", 60)
    );
    assert_eq!(
        z.records[2].data,
        RecordData::Cname("pg.db.internal.".into())
    );
    assert_eq!(z.records[3].name, "db.internal.");
    assert!(
        matches!(&z.records[4].data, RecordData::Srv(s) if s[0].port == 5432 && s[0].target == "pg.db.internal.")
    );
    assert!(matches!(&z.records[5].data, RecordData::Mx(m) if m[0].preference == 10));
    assert_eq!(z.records[6].name, "*.db.internal.");
}

#[test]
fn every_bad_record_is_an_invalid_change_batch_naming_its_field() {
    let cases: [(&str, &str); 9] = [
        (
            "{ name: pg.other.internal, type: A, values: [10.1.0.1] }",
            "records[0].name",
        ),
        (
            "{ name: 'pg db', type: A, values: [10.1.0.1] }",
            "records[0].name",
        ),
        (
            "{ name: pg.db.internal, type: A, values: [10.1.0.300] }",
            "records[0].values[0]",
        ),
        (
            "{ name: pg.db.internal, type: AAAA, values: [10.1.0.1] }",
            "records[0].values[0]",
        ),
        (
            "{ name: pg.db.internal, type: CNAME, values: [a.db.internal, b.db.internal] }",
            "records[0].values",
        ),
        (
            "{ name: pg.db.internal, type: SRV, values: ['10 5 pg.db.internal'] }",
            "records[0].values[0]",
        ),
        (
            "{ name: pg.db.internal, type: MX, values: ['mail.db.internal'] }",
            "records[0].values[0]",
        ),
        (
            "{ name: pg.db.internal, type: PTR, values: [x.db.internal] }",
            "records[0].type",
        ),
        (
            "{ name: pg.db.internal, type: A, ttl: -1, values: [10.1.0.1] }",
            "records[0].ttl",
        ),
    ];
    for (record, field) in cases {
        let v = with_zones(&format!(
            "      - name: db.internal\n        vpcs: [a]\n        records:\n          - {record}\n"
        ));
        expect_one(
            &v,
            InvalidChangeBatch,
            &format!("tenants[t].hosted_zones[db.internal].{field}"),
        );
    }
    let v = with_zones(
        "      - name: db.internal\n        records:\n          - { name: pg.db.internal, type: A, values: [] }\n",
    );
    expect_one(
        &v,
        InvalidChangeBatch,
        "tenants[t].hosted_zones[db.internal].records[0].values",
    );
}

#[test]
fn duplicate_sets_and_a_cname_beside_other_records_are_refused() {
    let v = with_zones(
        "      - name: db.internal
        records:
          - { name: pg.db.internal, type: A, values: [10.1.0.1] }
          - { name: pg.db.internal, type: A, values: [10.1.0.2] }
          - { name: pg.db.internal, type: CNAME, values: [x.db.internal] }
",
    );
    let errors: Vec<_> = v.errors().collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_eq!(
        errors[0].path,
        "tenants[t].hosted_zones[db.internal].records[1]"
    );
    assert!(
        errors[0].message.contains("second A"),
        "{}",
        errors[0].message
    );
    assert_eq!(
        errors[1].path,
        "tenants[t].hosted_zones[db.internal].records[2]"
    );
    assert!(errors[1].message.contains("CNAME"), "{}", errors[1].message);
}

#[test]
fn zone_names_associations_and_conflicts_are_checked() {
    let v = with_zones("      - { name: 'db internal' }\n");
    expect_one(
        &v,
        InvalidDomainName,
        "tenants[t].hosted_zones[db internal].name",
    );
    let v = with_zones("      - { name: db.internal }\n      - { name: DB.internal. }\n");
    expect_one(
        &v,
        HostedZoneAlreadyExists,
        "tenants[t].hosted_zones[DB.internal.].name",
    );
    let v = with_zones("      - { name: db.internal, vpcs: [c] }\n");
    expect_one(
        &v,
        InvalidVpcIdNotFound,
        "tenants[t].hosted_zones[db.internal].vpcs[0]",
    );
    let v = with_zones("      - { name: db.internal, vpcs: [a, a] }\n");
    expect_one(
        &v,
        ConflictingDomainExists,
        "tenants[t].hosted_zones[db.internal].vpcs[1]",
    );
}

#[test]
fn dns_settings_and_zones_round_trip_through_a_spec_document() {
    let text = "tenants:\n  - name: t\n    vpcs:\n      - { name: a, cidr: 10.1.0.0/16, dns_support: false }\n    hosted_zones:\n      - { name: db.internal, vpcs: [a], records: [{ name: pg.db.internal, type: A, values: [10.1.0.1] }] }\n";
    let (spec, unknown) = crate::decode::decode_spec(text).expect("decodes");
    assert!(unknown.is_empty(), "{unknown:?}");
    assert_eq!(spec.tenants[0].vpcs[0].dns_support, Some(false));
    assert_eq!(spec.tenants[0].hosted_zones[0].records[0].kind, "A");
    let json = serde_json::to_string(&spec).expect("encodes");
    assert!(json.contains("\"type\":\"A\""), "{json}");
    assert!(json.contains("\"dns_support\":false"), "{json}");
}

#[test]
fn another_tenants_vpc_associates_a_zone_only_when_authorized() {
    let spec = |auth: &str, assoc: &str| {
        format!(
            "tenants:
  - name: p
    vpcs:
      - {{ name: a, cidr: 10.1.0.0/16 }}
    hosted_zones:
      - {{ name: db.internal, vpcs: [a], authorizations: [{auth}] }}
  - name: c
    vpcs:
      - {{ name: x, cidr: 10.9.0.0/16, associate_zones: [{assoc}] }}
"
        )
    };
    let v = validate_text(&spec("c/x", "p/db.internal"));
    let errors: Vec<_> = v.errors().collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let net = v.network.expect("network");
    assert_eq!(net.hosted_zones[0].vpcs.len(), 2);
    let v = validate_text(&spec("c/other", "p/db.internal"));
    expect_one(&v, NotAuthorized, "tenants[c].vpcs[x].associate_zones[0]");
    let e = v.errors().next().expect("error");
    assert_eq!(e.code.as_str(), "NotAuthorizedException");
    assert!(e.hint.contains("c/x"), "{}", e.hint);
    let v = validate_text(&spec("c/x", "p/nothing.internal"));
    expect_one(
        &v,
        NoSuchHostedZone,
        "tenants[c].vpcs[x].associate_zones[0]",
    );
    let v = validate_text(&spec("c/x", "db.internal"));
    expect_one(
        &v,
        NoSuchHostedZone,
        "tenants[c].vpcs[x].associate_zones[0]",
    );
}
