#![allow(missing_docs, clippy::unwrap_used)]
//! EC2's Query API driven by the real boto3 (`tests/ec2_boto3.py`) against a real
//! HTTP server (EC2 at `POST /`, cove's API beside it) over a SQLite store.

use std::process::Command;

use axum::Router;
use cove_testdb::TestDb;
use serde_json::{Value, json};

async fn call(base: &str, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
    let client = reqwest::Client::new();
    let mut req = client
        .request(method.parse().unwrap(), format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {path}: {status} {v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_drives_vpcs_and_subnets_with_ec2s_codes() {
    let ok = Command::new("python3")
        .args(["-c", "import boto3"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok || std::env::var("CI").as_deref() != Ok("true"),
        "boto3 is missing: run scripts/test.sh (it installs it)"
    );
    if !ok {
        return;
    }
    let db = TestDb::sqlite();
    let store = db.open().await;
    let dir = std::env::temp_dir().join(format!("cvaws_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("admin-token");
    let _ = std::fs::remove_file(&token_file);
    cove_api::bootstrap(&store, &token_file).await.unwrap();
    let admin = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();
    let state = cove_api::ApiState::new(store)
        .with_access_keys(cove_objects::KeySecret::from_bytes([7; 32]));
    let app: Router =
        cove_awsapi::ec2::server::router(state.clone()).fallback_service(cove_api::router(state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let mut keys = Vec::new();
    for name in ["alpha", "bravo"] {
        let t = call(
            &base,
            "POST",
            "/v1/tenants",
            &admin,
            Some(json!({ "name": name })),
        )
        .await;
        let id = t["id"].as_str().unwrap();
        let tok = call(
            &base,
            "POST",
            &format!("/v1/tenants/{id}/tokens"),
            &admin,
            Some(json!({})),
        )
        .await;
        let secret = tok["secret"].as_str().unwrap().to_owned();
        let key = call(&base, "GET", "/v1/access-key", &secret, None).await;
        keys.push((t, secret, key));
    }
    let cfg = dir.join("ec2.json");
    std::fs::write(
        &cfg,
        json!({
            "endpoint": base,
            "api": base,
            "token": keys[0].1,
            "account": keys[0].0["account_id"],
            "key": keys[0].2["access_key_id"],
            "secret": keys[0].2["secret_access_key"],
            "other_key": keys[1].2["access_key_id"],
            "other_secret": keys[1].2["secret_access_key"],
            "other_account": keys[1].0["account_id"],
            "other_token": keys[1].1,
            "admin": admin,
        })
        .to_string(),
    )
    .unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ec2_boto3.py");
    let out = tokio::process::Command::new("timeout")
        .args(["300", "python3"])
        .arg(&script)
        .arg(&cfg)
        .output()
        .await
        .unwrap();
    server.abort();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "boto3's checks failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in [
        "zones",
        "vpc",
        "subnet",
        "tags",
        "refusals",
        "security groups",
        "routes",
        "associations",
        "gateways deleted",
        "acls",
        "flow logs",
        "acls deleted",
        "addresses allocated",
        "nat pair",
        "address associations",
        "address limits",
        "addresses released",
        "peering requested",
        "peering accepted",
        "peering refusals",
        "peering deleted",
        "standalone peering",
        "standalone peering deleted",
        "tags on endpoints, prefix lists, flow logs",
        "tags on peerings",
        "pages",
        "isolated",
        "deleted",
        "signatures",
    ] {
        assert!(
            stdout.contains(&format!("\"step\": \"{step}\"")),
            "{step} did not run:\n{stdout}"
        );
    }
}
