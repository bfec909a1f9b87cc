//! Buckets through the API (issue 15), against SQLite and PostgreSQL: a tenant
//! declares its buckets (with a policy) in its spec; bucket names are global, so
//! another tenant's declaration of a taken name is refused with S3's
//! `BucketAlreadyExists`, and nothing changes; bad names and policies are refused
//! at their field. Each tenant reads its own access key (`GET /v1/access-key`).

mod common;

use serde_json::json;

use common::Server;
use cove_testdb::{TestDb, both};

both!(bucket_names_are_global_and_policies_validated);
both!(each_tenant_has_its_own_access_key);

fn spec(bucket: &str, policy: serde_json::Value) -> serde_json::Value {
    json!({ "buckets": [{ "name": bucket, "policy": policy }] })
}

fn deny_unless(bucket: &str) -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
            "Condition": { "StringNotEquals": { "aws:SourceVpce": "vpce-0aaa" } }
        }]
    })
}

async fn bucket_names_are_global_and_policies_validated(db: TestDb) {
    let srv = Server::start(db).await;
    let (_, a, _) = srv.tenant("acme", None).await;
    let (_, b, _) = srv.tenant("bolt", None).await;
    srv.ok(
        200,
        "PUT",
        "/v1/spec",
        &a,
        Some(spec("spa-assets", deny_unless("spa-assets"))),
    )
    .await;
    let mine = srv.ok(200, "GET", "/v1/spec", &a, None).await;
    assert_eq!(mine["buckets"][0]["name"], "spa-assets", "{mine}");
    // The same name from another tenant: taken.
    let taken = srv
        .send(
            "PUT",
            "/v1/spec",
            Some(&b),
            Some(&spec("spa-assets", json!(null))),
            None,
        )
        .await;
    assert_eq!((taken.status, taken.code()), (409, "BucketAlreadyExists"));
    assert_eq!(taken.json["error"]["field"], "buckets[spa-assets].name");
    let theirs = srv.ok(200, "GET", "/v1/spec", &b, None).await;
    assert!(
        theirs["buckets"].is_null() || theirs["buckets"] == json!([]),
        "{theirs}"
    );
    // A name S3 refuses, and a policy naming another bucket's objects.
    let bad = srv
        .send(
            "PUT",
            "/v1/spec",
            Some(&b),
            Some(&spec("Bolt_Files", json!(null))),
            None,
        )
        .await;
    assert_eq!((bad.status, bad.code()), (400, "InvalidBucketName"));
    assert_eq!(bad.json["error"]["field"], "buckets[Bolt_Files].name");
    let bad = srv
        .send(
            "PUT",
            "/v1/spec",
            Some(&b),
            Some(&spec("bolt-files", deny_unless("spa-assets"))),
            None,
        )
        .await;
    assert_eq!((bad.status, bad.code()), (400, "MalformedPolicy"));
    assert_eq!(
        bad.json["error"]["field"],
        "buckets[bolt-files].policy.Statement[0].Resource"
    );
    // Its own name and policy: fine.
    srv.ok(
        200,
        "PUT",
        "/v1/spec",
        &b,
        Some(spec("bolt-files", deny_unless("bolt-files"))),
    )
    .await;
}

async fn each_tenant_has_its_own_access_key(db: TestDb) {
    let srv = Server::start(db).await;
    let (ta, a, _) = srv.tenant("acme", None).await;
    let (_, b, _) = srv.tenant("bolt", None).await;
    let ka = srv.ok(200, "GET", "/v1/access-key", &a, None).await;
    let kb = srv.ok(200, "GET", "/v1/access-key", &b, None).await;
    let id = ka["access_key_id"].as_str().unwrap_or_default();
    assert!(id.starts_with("AKIA") && id.len() == 20, "{ka}");
    assert_eq!(ka["secret_access_key"].as_str().map(str::len), Some(40));
    assert_eq!(ka["account_id"], ta["account_id"]);
    assert_ne!(ka["access_key_id"], kb["access_key_id"]);
    assert_ne!(ka["secret_access_key"], kb["secret_access_key"]);
    assert_eq!(srv.ok(200, "GET", "/v1/access-key", &a, None).await, ka);
    // The operator has no tenant, so no key.
    let admin = srv
        .send("GET", "/v1/access-key", Some(&srv.admin), None, None)
        .await;
    assert_eq!((admin.status, admin.code()), (403, "UnauthorizedOperation"));
}
