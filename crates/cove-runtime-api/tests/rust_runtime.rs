//! AWS's Rust runtime client (`lambda_runtime` 1.x, unmodified, in the
//! `echo_provided` example) against the endpoint: responses and a handler error.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Stdio;

use common::{invocation, serve, within};
use cove_runtime_api::{InvokeOutcome, RuntimeApi};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// The example binary, built by `cargo test` (or here, when only this test runs).
fn example() -> PathBuf {
    let profile_dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    let path = profile_dir.join("examples").join("echo_provided");
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut build = std::process::Command::new(cargo);
        build.args([
            "build",
            "-p",
            "cove-runtime-api",
            "--example",
            "echo_provided",
        ]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        assert!(
            build.status().unwrap().success(),
            "building the echo_provided example failed"
        );
    }
    path
}

fn start(api: &RuntimeApi) -> Child {
    let info = api.function();
    Command::new(example())
        .env("AWS_LAMBDA_RUNTIME_API", api.local_addr().to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &info.function_name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", &info.version)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/echo")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "cvapi")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn rust_lambda_runtime_round_trip_and_error() {
    within(async {
        let api = serve();
        let _runtime = start(&api);
        api.ready().await.expect("the Rust client asks for an invocation");
        let mut inv = invocation("3e7a9c52-2222-4000-8000-000000000001", r#"{"hello":"rust"}"#);
        inv.deadline_ms = u64::MAX / 4;
        let InvokeOutcome::Response { body, .. } = api.invoke(inv).await.unwrap() else {
            panic!("expected a response")
        };
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            json!({"event": {"hello": "rust"}, "request_id": "3e7a9c52-2222-4000-8000-000000000001"})
        );
        let mut inv = invocation("3e7a9c52-2222-4000-8000-000000000002", r#"{"fail":"no good"}"#);
        inv.deadline_ms = u64::MAX / 4;
        let InvokeOutcome::FunctionError { body, .. } = api.invoke(inv).await.unwrap() else {
            panic!("expected a function error")
        };
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["errorMessage"], "no good");
        assert!(body["errorType"].is_string(), "{body}");
    })
    .await;
}
