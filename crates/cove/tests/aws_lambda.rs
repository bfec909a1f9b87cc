//! Lambda's and EC2's APIs of a real `cove serve` (issue 13), driven by the AWS
//! CLI and boto3 (`tests/aws_lambda.py`): a function created with
//! `aws lambda create-function` into a network found through EC2's API, run by the
//! real function service, invoked, updated, refused with Lambda's codes, deleted.
//! Prefixes `cvhfl…`.

mod common;

use serde_json::json;

use common::api_serve::{Serve, deployment};
use common::functions::{fixture, runtimes_ready};

#[test]
fn the_aws_cli_and_boto3_create_and_invoke_a_function_in_a_network() {
    if !cove_probe::privileged("aws lambda api") || !runtimes_ready() {
        return;
    }
    let d = deployment("l");
    let s = Serve::start(&d);
    s.ok(
        200,
        "PUT",
        "/v1/ip-pool",
        &s.admin,
        Some(json!({ "blocks": ["198.51.100.0/29"] })),
    );
    let (t, token, _) = s.tenant("alpha");
    let (_, other, _) = s.tenant("bravo");
    let net = s.ok(
        201,
        "POST",
        "/v1/connect/networks",
        &token,
        Some(json!({ "name": "web", "region": "us-east-1", "cidr": "10.71.0.0/16" })),
    );
    let id = net["id"].as_str().expect("id").to_owned();
    s.wait_for(
        &format!("/v1/connect/networks/{id}"),
        &token,
        "status",
        "ready",
    );
    let key = s.ok(200, "GET", "/v1/access-key", &token, None);
    let other_key = s.ok(200, "GET", "/v1/access-key", &other, None);
    let cfg = d.state.path().join("aws.json");
    std::fs::write(
        &cfg,
        json!({
            "endpoint": s.base,
            "account": t["account_id"],
            "vpc_id": net["vpc_id"],
            "key": key["access_key_id"],
            "secret": key["secret_access_key"],
            "other_key": other_key["access_key_id"],
            "other_secret": other_key["secret_access_key"],
            "code_dir": fixture("python"),
        })
        .to_string(),
    )
    .expect("config");
    s.run_checks(
        "aws_lambda.py",
        &cfg,
        &[
            "found",
            "created",
            "active",
            "invoked",
            "updated",
            "url",
            "url by host",
            "url cors",
            "url signed",
            "url deleted",
            "refusals",
            "deleted",
        ],
    );
    // cove's own API saw all of it and has nothing left.
    let fns = s.ok(200, "GET", "/v1/functions", &token, None);
    assert_eq!(fns, json!([]), "{fns}");
}
