//! Issue 15's example end to end, in a real browser (prefix `cnt…`):
//! `examples/closed-network/run.sh` deploys `examples/closed-network.yaml` with this
//! build of cove, starts PostgreSQL in the data VPC and `cove serve`, uploads the
//! single-page front end with the AWS CLI through the S3 endpoint, opens it in
//! Debian's headless Chromium (Selenium, chromedriver) on the corporate desktop —
//! the page calls the private API, whose function queries PostgreSQL — saves a
//! screenshot, shows that the internet reaches neither endpoint, and removes
//! everything. The test checks what the page showed: the three rows of the
//! database, read through both API routes.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`). The
//! screenshot is kept as `target/closed-network.png`.

mod common;

use std::process::Command;

#[test]
fn the_closed_network_example_runs_in_a_browser() {
    if !cove_probe::privileged("closed_network") || !common::functions::runtimes_ready() {
        return;
    }
    let repo = common::functions::repo();
    let prefix = format!("cnt{}", std::process::id() % 100_000);
    let state = tempfile::tempdir().expect("state");
    let shot = repo.join("target/closed-network.png");
    let _ = std::fs::remove_file(&shot);
    let out = Command::new("timeout")
        .args(["600", "bash"])
        .arg(repo.join("examples/closed-network/run.sh"))
        .env("COVE_BIN", assert_cmd::cargo::cargo_bin("cove"))
        .env("COVE_PREFIX", &prefix)
        .env("COVE_STATE_DIR", state.path())
        .env("CN_SCREENSHOT", &shot)
        .output()
        .expect("run.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "run.sh failed:\n{stdout}\n{stderr}");
    let result: serde_json::Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|j| serde_json::from_str(j).expect("the browser's JSON"))
        .unwrap_or_else(|| panic!("no RESULT line:\n{stdout}"));
    assert_eq!(result["title"], "Inventory (closed network)");
    assert_eq!(result["state"], "ok", "{result}");
    assert_eq!(
        result["rows"],
        serde_json::json!([
            ["1", "Laptop stand", "12"],
            ["2", "USB-C dock", "7"],
            ["3", "Noise-cancelling headset", "3"]
        ])
    );
    assert!(
        result["status"]
            .as_str()
            .is_some_and(|s| s.starts_with("3 items from PostgreSQL ")),
        "{result}"
    );
    assert_eq!(
        result["detail"],
        "Item 1 read by id: Laptop stand (12 in stock)"
    );
    assert!(
        stdout.contains("UNREACHED internet -> 10.50.1.20:80"),
        "{stdout}"
    );
    assert!(
        stdout.contains("UNREACHED internet -> 10.50.1.30:80"),
        "{stdout}"
    );
    assert!(
        stdout.contains("BLOCKED internet -> 10.50.1.30 tcp/80"),
        "{stdout}"
    );
    let png = std::fs::read(&shot).expect("screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    // Everything was removed.
    let left: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&format!("{prefix}-")))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "namespaces left: {left:?}");
}
