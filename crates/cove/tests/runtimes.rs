//! Every runtime deploys into a VPC slot and answers through cove's Runtime API with
//! its official or shipped client: Python (`awslambdaric`), Node.js
//! (`aws-lambda-ric`), Go and Ruby (cove's standard-library clients), `provided` (a
//! std-Rust bootstrap, and AWS's Rust `lambda_runtime`). Each gives Lambda's result
//! for a handler error, a timeout, a crash and a failed init.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use common::functions::{fixture, repo};
use common::{Deployment, invoke};
use serde_json::json;

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo().join("target"), PathBuf::from)
}

/// Builds the Rust test functions (a no-op when they are built already).
fn build_rust_functions() {
    let status = Process::new(env!("CARGO"))
        .current_dir(repo())
        .args([
            "build",
            "-p",
            "cove-runtimes",
            "--bin",
            "cove-fixture-provided",
            "-p",
            "cove-runtime-api",
            "--example",
            "echo_provided",
        ])
        .status()
        .expect("cargo build");
    assert!(status.success(), "building the Rust test functions failed");
}

/// A code directory holding `files` (copied) under the given names.
fn code_dir(base: &Path, name: &str, files: &[(&Path, &str)]) -> PathBuf {
    let dir = base.join(name);
    std::fs::create_dir_all(&dir).expect("code dir");
    for (src, as_name) in files {
        std::fs::copy(src, dir.join(as_name)).expect("copy");
    }
    dir
}

fn go_build(out: &Path) {
    let status = Process::new("go")
        .current_dir(fixture("go"))
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("CGO_ENABLED", "0")
        .env("GOCACHE", std::env::temp_dir().join("cove-go-cache"))
        .args(["build", "-o"])
        .arg(out)
        .arg(".")
        .status()
        .expect("go build");
    assert!(status.success(), "go build failed");
}

fn deploy(d: &Deployment, name: &str, runtime: &str, handler: &str, code: &Path) {
    let extra = [
        "--subnets",
        "functions/private-a",
        "--security-groups",
        "fn",
    ];
    let limits = ["--concurrency", "1", "--timeout", "2"];
    common::deploy(
        d,
        name,
        runtime,
        handler,
        code,
        &[&extra[..], &limits[..]].concat(),
    );
}

#[test]
fn every_runtime_through_the_runtime_api() {
    if !cove_probe::privileged("runtimes") {
        return;
    }
    build_rust_functions();
    let d = Deployment::new("rt");
    d.apply_example();
    let work = tempfile::tempdir().expect("tmp");
    let go_dir = work.path().join("go");
    std::fs::create_dir_all(&go_dir).expect("go dir");
    go_build(&go_dir.join("handler"));
    std::fs::copy(go_dir.join("handler"), go_dir.join("broken")).expect("copy");
    let provided = code_dir(
        work.path(),
        "provided",
        &[(
            &target_dir().join("debug/cove-fixture-provided"),
            "bootstrap",
        )],
    );
    let ric = code_dir(
        work.path(),
        "lambda-runtime",
        &[(
            &target_dir().join("debug/examples/echo_provided"),
            "bootstrap",
        )],
    );
    // (function, runtime, handler, code, broken handler)
    let cases: Vec<(&str, &str, &str, PathBuf, Option<&str>)> = vec![
        (
            "py",
            "python3.11",
            "handler.handler",
            fixture("python"),
            Some("broken.handler"),
        ),
        (
            "node",
            "nodejs20",
            "handler.handler",
            fixture("node"),
            Some("broken.handler"),
        ),
        (
            "rb",
            "ruby3.1",
            "handler.handler",
            fixture("ruby"),
            Some("broken.handler"),
        ),
        ("go", "go", "handler", go_dir.clone(), Some("broken")),
        ("rs", "provided", "bootstrap", provided, None),
    ];
    for (name, runtime, handler, code, broken) in &cases {
        deploy(&d, name, runtime, handler, code);
        if let Some(b) = broken {
            deploy(&d, &format!("{name}-broken"), runtime, b, code);
        }
    }
    deploy(&d, "ric", "provided.al2023", "bootstrap", &ric);

    for (name, runtime, ..) in &cases {
        let (code, v) = invoke(&d, name, &json!({"op": "echo", "n": 7}));
        assert_eq!(code, 0, "{runtime}: {v}");
        assert_eq!(v["event"]["n"], 7, "{runtime}: {v}");
        assert_eq!(v["function_name"], *name, "{runtime}: {v}");
        assert_eq!(v["memory_limit"], 128, "{runtime}: {v}");
        assert_ne!(v["uid"], 0, "{runtime} runs as root: {v}");
        assert_eq!(
            v["env"]["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001",
            "{runtime}: {v}"
        );
        assert!(
            v["remaining_ms"]
                .as_i64()
                .is_some_and(|ms| ms > 0 && ms <= 2000),
            "{runtime}: {v}"
        );

        let (code, v) = invoke(&d, name, &json!({"op": "error"}));
        assert_eq!(code, 5, "{runtime}: {v}");
        assert!(
            v["errorType"]
                .as_str()
                .unwrap_or_default()
                .contains("FixtureError"),
            "{runtime}: {v}"
        );
        assert_eq!(v["errorMessage"], "requested error", "{runtime}: {v}");

        let (code, v) = invoke(&d, name, &json!({"op": "sleep", "ms": 4000}));
        assert_eq!(
            (code, &v["errorType"]),
            (5, &json!("Sandbox.Timedout")),
            "{runtime}: {v}"
        );

        let (code, v) = invoke(&d, name, &json!({"op": "exit", "code": 3}));
        assert_eq!(
            (code, &v["errorType"]),
            (5, &json!("Runtime.ExitError")),
            "{runtime}: {v}"
        );
        assert!(
            v["errorMessage"]
                .as_str()
                .unwrap_or_default()
                .contains("exit status 3"),
            "{runtime}: {v}"
        );

        // Replaced after each failure: still answers.
        let (code, v) = invoke(&d, name, &json!({"op": "echo"}));
        assert_eq!(code, 0, "{runtime}: {v}");
    }
    for (name, runtime, _, _, broken) in &cases {
        if broken.is_none() {
            continue;
        }
        let (code, v) = invoke(&d, &format!("{name}-broken"), &json!({"op": "echo"}));
        assert_eq!(code, 5, "{runtime} init error: {v}");
        let kind = v["errorType"].as_str().unwrap_or_default();
        assert!(
            !kind.is_empty() && kind != "Runtime.Unknown",
            "{runtime} init error: {v}"
        );
    }
    // AWS's own Rust client, unmodified.
    let (code, v) = invoke(&d, "ric", &json!({"hello": "lambda_runtime"}));
    assert_eq!(code, 0, "{v}");
    assert!(v.to_string().contains("lambda_runtime"), "{v}");
}
