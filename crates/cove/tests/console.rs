//! The web console in a real browser (issue 16): `cove serve` with its API and
//! console, two tenants and the operator driving it through Debian's headless
//! Chromium (Selenium, `tests/console/browser.py`), under prefixes `cvhfw…`.
//! Screenshots of every page are kept in `target/console-screenshots/` (the test's
//! artifacts; `UPDATE_SCREENSHOTS=1` also copies them to `docs/console/`).

mod common;

use std::process::Command;

use serde_json::json;

use common::api_serve::{Serve, deployment};
use common::functions::{fixture, repo, runtimes_ready};

/// Whether Chromium, its driver and Selenium are installed (the test command
/// installs them; under CI their absence is a failure).
fn browser_ready() -> bool {
    let ok = std::path::Path::new("/usr/bin/chromium").exists()
        && std::path::Path::new("/usr/bin/chromedriver").exists()
        && Command::new("python3")
            .args(["-c", "import selenium"])
            .status()
            .is_ok_and(|s| s.success());
    assert!(
        ok || std::env::var("CI").as_deref() != Ok("true"),
        "chromium, chromium-driver or selenium is missing: run scripts/test.sh (it installs them)"
    );
    ok
}

#[test]
fn two_tenants_and_the_operator_use_the_console_in_a_browser() {
    if !cove_probe::privileged("web console") || !runtimes_ready() || !browser_ready() {
        return;
    }
    let d = deployment("w");
    let s = Serve::start(&d);
    s.ok(
        200,
        "PUT",
        "/v1/ip-pool",
        &s.admin,
        Some(json!({ "blocks": ["198.51.100.0/29"] })),
    );
    let (_, alpha, _) = s.tenant("alpha");
    let (bravo_t, bravo, _) = s.tenant("bravo");
    // bravo's database network (made through the API: the browser makes alpha's).
    let db = s.ok(
        201,
        "POST",
        "/v1/connect/networks",
        &bravo,
        Some(json!({ "name": "db", "region": "us-east-1", "cidr": "10.40.0.0/16" })),
    );
    let db_id = db["id"].as_str().expect("id").to_owned();
    s.ok(
        200,
        "PUT",
        "/v1/spec",
        &bravo,
        Some(json!({ "vpcs": [{ "name": "db", "enis": [
            { "name": "postgres", "subnet": "private-a", "private_ip": "10.40.128.5" }
        ] }] })),
    );
    s.wait_for(
        &format!("/v1/connect/networks/{db_id}"),
        &bravo,
        "status",
        "ready",
    );
    let shots = repo().join("target/console-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    let cfg = d.state.path().join("console.json");
    std::fs::write(
        &cfg,
        json!({
            "base": s.base,
            "alpha_token": alpha,
            "bravo_token": bravo,
            "admin_token": s.admin,
            "bravo_account": bravo_t["account_id"],
            "bravo_vpc": db["vpc_id"],
            "bravo_db": "10.40.128.5",
            "function": "hello",
            "code_dir": fixture("python"),
            "screenshots": shots,
        })
        .to_string(),
    )
    .expect("config");
    let out = Command::new("timeout")
        .args(["600", "python3"])
        .arg(repo().join("crates/cove/tests/console/browser.py"))
        .arg(&cfg)
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser's checks failed:\n{stdout}\n{stderr}\ncove serve's log:\n{}",
        s.log()
    );
    for step in [
        "signed in",
        "session cookie",
        "network created",
        "peering requested",
        "isolated",
        "peering accepted",
        "reachability",
        "function",
        "flow logs",
        "rejected and deleted",
        "operator",
        "signed out",
    ] {
        assert!(
            stdout.contains(&format!("\"step\": \"{step}\"")),
            "step {step} did not run:\n{stdout}"
        );
    }
    // Every page's screenshot, a real PNG.
    let pages = [
        "sign-in",
        "networks",
        "network",
        "peerings-pending",
        "peerings",
        "topology",
        "reachability",
        "functions",
        "function",
        "flow-logs",
        "operator",
    ];
    for page in pages {
        let png = std::fs::read(shots.join(format!("{page}.png"))).expect("screenshot");
        assert!(
            png.len() > 5_000 && png.starts_with(b"\x89PNG"),
            "{page}.png"
        );
    }
    if std::env::var("UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        let docs = repo().join("docs/console");
        std::fs::create_dir_all(&docs).expect("docs/console");
        for page in pages {
            std::fs::copy(
                shots.join(format!("{page}.png")),
                docs.join(format!("{page}.png")),
            )
            .expect("copy");
        }
    }
}
