//! Functions through the API of a real `cove serve` (real HTTP, real kernel, real
//! traffic), under prefixes `cvhf…`: a tenant uploads the Python test function with
//! `cove fn deploy --server`, into a network made through the API, invokes it and
//! reads its logs (the CLI's server mode). Issue 10's two tenants are in
//! `two_tenants.rs`.

mod common;

use serde_json::{Value, json};

use common::api_serve::{GUARD, Serve, deployment};
use common::functions::{fixture, runtimes_ready};

#[test]
fn a_tenant_deploys_invokes_and_reads_logs_with_the_cli() {
    if !cove_probe::privileged("api functions") || !runtimes_ready() {
        return;
    }
    let d = deployment("c");
    let s = Serve::start(&d);
    s.ok(
        200,
        "PUT",
        "/v1/ip-pool",
        &s.admin,
        Some(json!({ "blocks": ["198.51.100.0/29"] })),
    );
    let (_, token, _) = s.tenant("acme");
    let net = s.ok(
        201,
        "POST",
        "/v1/connect/networks",
        &token,
        Some(json!({ "name": "web", "region": "us-east-1", "cidr": "10.70.0.0/16" })),
    );
    let id = net["id"].as_str().expect("id").to_owned();
    s.wait_for(
        &format!("/v1/connect/networks/{id}"),
        &token,
        "status",
        "ready",
    );
    let cli = |args: &[&str]| {
        let out = assert_cmd::Command::cargo_bin("cove")
            .expect("cove")
            .env("COVE_SERVER", &s.base)
            .env("COVE_TOKEN", &token)
            .env("COVE_PREFIX", "cvhfnone")
            .timeout(GUARD)
            .args(args)
            .output()
            .expect("cove");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let code = fixture("python");
    let (st, out, err) = cli(&[
        "fn",
        "deploy",
        "hello",
        "--runtime",
        "python3.11",
        "--handler",
        "handler.handler",
        "--code",
        code.to_str().expect("path"),
        "--network",
        "web",
        "--timeout",
        "10",
        "--concurrency",
        "2",
        "--json",
    ]);
    assert_eq!(st, Some(0), "{out}\n{err}");
    let f: Value = serde_json::from_str(&out).expect("JSON");
    assert!(
        f["code"].as_str().is_some_and(|c| c.starts_with("sha256:")),
        "{f}"
    );
    assert_eq!(f["network"], id.as_str());
    let (st, out, _) = cli(&["fn", "list"]);
    assert_eq!(st, Some(0));
    assert!(out.contains("hello") && out.contains("python3.11"), "{out}");
    // The function runs once the reconciler applied it (409 Pending until then).
    let v = s.invoke("hello", &token, &json!({ "op": "echo", "marker": "cli-1" }));
    assert_eq!(v["function_name"], "hello", "{v}");
    assert_eq!(v["event"]["marker"], "cli-1");
    let (st, out, err) = cli(&[
        "fn",
        "invoke",
        "hello",
        "--payload",
        r#"{"op":"echo","marker":"cli-2"}"#,
    ]);
    assert_eq!(st, Some(0), "{out}\n{err}");
    let v: Value = serde_json::from_str(out.trim()).expect("answer");
    assert_eq!(v["event"]["marker"], "cli-2");
    // Applied: `cove status --server` is in sync (network ready, function active).
    s.wait_for("/v1/functions/hello", &token, "state", "Active");
    let (st, out, err) = cli(&["status"]);
    assert_eq!(st, Some(0), "{out}\n{err}");
    assert!(
        out.starts_with("in sync: 1 network(s) ready, 1 function(s) active"),
        "{out}"
    );
    // A function error: exit 5, the error document.
    let (st, out, _) = cli(&["fn", "invoke", "hello", "--payload", r#"{"op":"error"}"#]);
    assert_eq!(st, Some(5), "{out}");
    assert!(out.contains("errorMessage"), "{out}");
    let (st, out, err) = cli(&["fn", "logs", "hello"]);
    assert_eq!(st, Some(0), "{err}");
    assert!(
        out.contains("START RequestId") && out.contains("END RequestId"),
        "{out}"
    );
    let (st, out, _) = cli(&["fn", "logs", "hello", "--json"]);
    assert_eq!(st, Some(0));
    let v: Value = serde_json::from_str(&out).expect("json");
    assert!(
        v["logs"]
            .as_str()
            .is_some_and(|l| l.contains("REPORT RequestId")),
        "{v}"
    );
    let (st, _, err) = cli(&["fn", "delete", "hello"]);
    assert_eq!(st, Some(0), "{err}");
    let (st, _, err) = cli(&["fn", "invoke", "hello", "--payload", "{}"]);
    assert_eq!(st, Some(1), "{err}");
    assert!(err.contains("ResourceNotFoundException"), "{err}");
}
