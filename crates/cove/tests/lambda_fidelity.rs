//! Lambda fidelity, checked with the real clients: a Python driver
//! (`tests/fidelity/driver.py`, boto3 and the AWS CLI v1) against a real `cove serve`
//! and a python3.11 function on awslambdaric (`tests/fidelity/function`). It invokes by
//! name, partial ARN, full ARN and qualifier; refuses invalid names, client contexts,
//! oversized and malformed payloads with Lambda's error codes; round-trips a client
//! context; reads GetFunctionConfiguration; checks the cold start's `Init Duration`;
//! and follows `Event` invocations through the queue (waiting for the only
//! environment, three attempts on a function error, dropped past the maximum event
//! age). Also: an unsupported runtime version is refused naming only that function.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`). Needs the
//! runtime clients (`scripts/install-runtimes.sh`) and boto3 + awscli (`scripts/test.sh`
//! installs them).

mod common;

use std::path::PathBuf;
use std::process::{Command as Process, Stdio};

use common::Deployment;
use common::functions::{runtimes_ready, serve};

fn fidelity_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fidelity")
}

/// Whether boto3 and the AWS CLI are here; under CI their absence is a failure.
fn clients_ready() -> bool {
    let boto3 = Process::new("python3")
        .args(["-c", "import boto3"])
        .status()
        .is_ok_and(|s| s.success());
    let cli = Process::new("aws")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        (boto3 && cli) || std::env::var("CI").as_deref() != Ok("true"),
        "boto3 or the AWS CLI is missing: pip install boto3 awscli (scripts/test.sh does)"
    );
    boto3 && cli
}

/// Runs the driver's `phase` against `addr`; it must print `OK <phase> <checks>`.
fn drive(d: &Deployment, addr: std::net::SocketAddr, function: &str, phase: &str) -> String {
    let out = Process::new("timeout")
        .arg("600")
        .arg("python3")
        .arg(fidelity_dir().join("driver.py"))
        .arg(phase)
        .env("ENDPOINT", format!("http://{addr}"))
        .env("FUNCTION", function)
        .env("COVE_BIN", assert_cmd::cargo::cargo_bin("cove"))
        .env("COVE_PREFIX", &d.prefix)
        .env("COVE_STATE_DIR", d.state.path())
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains(&format!("OK {phase} ")),
        "driver phase {phase} failed\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn lambda_api_fidelity_with_boto3_and_the_aws_cli() {
    if !cove_probe::privileged("functions") || !runtimes_ready() || !clients_ready() {
        return;
    }
    let d = Deployment::new("hl");
    d.apply_example();
    let function = "hlfid";
    common::deploy(
        &d,
        function,
        "python3.11",
        "app.handler",
        &fidelity_dir().join("function"),
        &[
            "--subnets",
            "functions/private-a",
            "--security-groups",
            "fn",
            "--concurrency",
            "1",
            "--timeout",
            "30",
        ],
    );

    // Retries scaled down: 0.2 s, then 0.4 s (Lambda: 1 and 2 minutes).
    let (serve_main, addr) = serve(&d, &["--async-retry-delay", "0.2"]);
    let out = drive(&d, addr, function, "main");
    eprintln!("{out}");
    drop(serve_main);

    let (serve_age, addr) = serve(&d, &["--max-event-age", "2"]);
    let out = drive(&d, addr, function, "age");
    eprintln!("{out}");
    drop(serve_age);

    // A runtime cove does not really provide is refused, naming only that function.
    let out = d
        .cove()
        .args([
            "fn",
            "deploy",
            "hlrb",
            "--runtime",
            "ruby3.3",
            "--handler",
            "app.handler",
            "--subnets",
            "functions/private-a",
        ])
        .arg("--code")
        .arg(fidelity_dir().join("function"))
        .output()
        .expect("deploy");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "ruby3.3 was deployed: {stderr}");
    assert!(
        stderr.contains("functions[hlrb].runtime")
            && stderr.contains("InvalidParameterValueException")
            && stderr.contains("ruby3.1"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(function),
        "the error names another function: {stderr}"
    );
}
