//! Validation tests for buckets (issue 15): what S3 refuses for `CreateBucket`
//! and `PutBucketPolicy` is refused with its code, at the field.

use super::tests::expect_one;
use super::*;
use crate::diag::ErrorCode::*;

/// Tenants `a` and `b`, with `a`'s and `b`'s bucket lists (YAML list items).
fn spec(a: &str, b: &str) -> Validated {
    validate_text(&format!(
        "tenants:
  - name: a
    buckets:
{a}
  - name: b
    buckets:
{b}
"
    ))
}

const NONE: &str = "      []";

#[test]
fn a_bucket_with_a_policy_as_mapping_or_as_text() {
    let v = spec(
        "      - name: spa-assets
        policy:
          Version: '2012-10-17'
          Statement:
            - Sid: OnlyThroughTheEndpoint
              Effect: Deny
              Principal: '*'
              Action: 's3:*'
              Resource: ['arn:aws:s3:::spa-assets', 'arn:aws:s3:::spa-assets/*']
              Condition: { StringNotEquals: { 'aws:SourceVpce': vpce-0aaa } }
      - name: plain",
        r#"      - name: reports
        policy: '{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"}}'"#,
    );
    let net = v.network.unwrap_or_else(|| panic!("{:#?}", v.diagnostics));
    let names: Vec<(&str, &str)> = net
        .buckets
        .iter()
        .map(|b| (net.tenants[b.tenant.index()].name.as_str(), b.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [("a", "spa-assets"), ("a", "plain"), ("b", "reports")]
    );
    let spa = &net.buckets[0];
    let p = spa.policy.as_ref().expect("policy");
    assert_eq!(
        p.statements[0].sid.as_deref(),
        Some("OnlyThroughTheEndpoint")
    );
    assert!(
        spa.policy_document
            .as_deref()
            .is_some_and(|d| d.contains("\"aws:SourceVpce\":\"vpce-0aaa\"")),
        "{:?}",
        spa.policy_document
    );
    assert!(net.buckets[1].policy.is_none());
    assert!(net.buckets[2].policy.is_some());
}

#[test]
fn bad_names_and_taken_names() {
    expect_one(
        &spec("      - name: Upper_Case", NONE),
        InvalidBucketName,
        "tenants[a].buckets[Upper_Case].name",
    );
    expect_one(
        &spec("      - name: shared", "      - name: shared"),
        BucketAlreadyExists,
        "tenants[b].buckets[shared].name",
    );
    expect_one(
        &spec("      - name: twice\n      - name: twice", NONE),
        BucketAlreadyOwnedByYou,
        "tenants[a].buckets[twice].name",
    );
}

#[test]
fn a_bad_policy_is_named_inside_the_document() {
    expect_one(
        &spec(
            "      - name: spa
        policy: { Statement: [ { Effect: Perhaps, Principal: '*', Action: 's3:*', Resource: 'arn:aws:s3:::spa' } ] }",
            NONE,
        ),
        MalformedPolicy,
        "tenants[a].buckets[spa].policy.Statement[0].Effect",
    );
    // Another bucket's objects: S3's "Policy has invalid resource".
    expect_one(
        &spec(
            "      - name: spa
        policy: { Statement: [ { Effect: Allow, Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::other/*' } ] }",
            NONE,
        ),
        MalformedPolicy,
        "tenants[a].buckets[spa].policy.Statement[0].Resource",
    );
    expect_one(
        &spec("      - name: spa\n        policy: 'not json'", NONE),
        MalformedPolicy,
        "tenants[a].buckets[spa].policy",
    );
}
