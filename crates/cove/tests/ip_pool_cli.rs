//! `cove ip-pool add|list|remove` against a real `cove serve` (its control-plane
//! API; `--no-reconcile`, so nothing touches the kernel) over a SQLite store: text
//! and `--json` output, the server and token from flags or the environment, the
//! API's refusals as failures naming the code, the field and the request id.

use std::path::PathBuf;
use std::process::{Child, Command as Process, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A `cove serve` process (prefix `cvhd…`), killed when dropped and its prefix
/// destroyed (the function service's cgroup roots go with it); its output goes to a
/// file.
struct Serve {
    child: Child,
    prefix: String,
    log: PathBuf,
    base: String,
    admin: String,
    _state: tempfile::TempDir,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Process::new(assert_cmd::cargo::cargo_bin("cove"))
            .env("COVE_PREFIX", &self.prefix)
            .env("COVE_STATE_DIR", self._state.path())
            .env_remove("COVE_DATABASE")
            .arg("destroy")
            .output();
    }
}

fn serve() -> Serve {
    let state = tempfile::tempdir().expect("state dir");
    let prefix = format!("cvhdip{}", std::process::id() % 100_000);
    let log = state.path().join("serve.log");
    let file = std::fs::File::create(&log).expect("log");
    let child = Process::new(assert_cmd::cargo::cargo_bin("cove"))
        .env("COVE_PREFIX", &prefix)
        .env("COVE_STATE_DIR", state.path())
        .env_remove("COVE_DATABASE")
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--api-listen",
            "127.0.0.1:0",
            "--no-reconcile",
        ])
        .stdout(file.try_clone().expect("dup"))
        .stderr(file)
        .spawn()
        .expect("cove serve");
    let mut s = Serve {
        child,
        prefix: prefix.clone(),
        log,
        base: String::new(),
        admin: String::new(),
        _state: state,
    };
    // A hang guard, not a timing threshold.
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(&s.log).unwrap_or_default();
        if let Some(addr) = text
            .lines()
            .find_map(|l| l.strip_prefix("cove serve: control-plane API on "))
            .and_then(|r| r.split_whitespace().next())
        {
            s.base = addr.to_owned();
            break;
        }
        if let Ok(Some(status)) = s.child.try_wait() {
            panic!("cove serve exited ({status}):\n{text}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "cove serve did not start:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let token = s._state.path().join(&prefix).join("admin-token");
    s.admin = std::fs::read_to_string(token)
        .expect("admin token")
        .trim()
        .to_owned();
    s
}

/// `cove ARGS` with the server and token in the environment.
fn cove(s: &Serve, token: &str, args: &[&str]) -> Output {
    Process::new(assert_cmd::cargo::cargo_bin("cove"))
        .env("COVE_SERVER", &s.base)
        .env("COVE_TOKEN", token)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run cove")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).expect("JSON on stdout")
}

fn blocks(v: &Value) -> Vec<String> {
    v["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .map(|b| b.as_str().expect("block").to_owned())
        .collect()
}

/// A refusal: exit status not 0, stderr naming `code`, `field` and a request id.
fn refused(out: &Output, code: &str, field: Option<&str>) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "succeeded: {err}");
    assert!(
        out.stdout.is_empty(),
        "printed on refusal: {:?}",
        out.stdout
    );
    assert!(err.contains(code), "{err}");
    if let Some(f) = field {
        assert!(err.contains(&format!("field `{f}`")), "{err}");
    }
    assert!(err.contains("request "), "no request id: {err}");
    err
}

#[test]
fn the_operator_adds_lists_and_removes_pool_blocks() {
    let s = serve();
    let admin = s.admin.clone();
    // Empty at first.
    let v = json_of(&cove(&s, &admin, &["ip-pool", "list", "--json"]));
    assert!(blocks(&v).is_empty(), "{v}");
    assert!(ok(&cove(&s, &admin, &["ip-pool", "list"])).contains("empty"));
    // Add: an address and a block (the server and token as flags this time).
    let out = Process::new(assert_cmd::cargo::cargo_bin("cove"))
        .env_remove("COVE_SERVER")
        .env_remove("COVE_TOKEN")
        .args([
            "ip-pool",
            "add",
            "203.0.113.0/29",
            "198.51.100.7",
            "--json",
            "--server",
            &s.base,
            "--token",
            &admin,
        ])
        .output()
        .expect("run cove");
    let v = json_of(&out);
    assert_eq!(blocks(&v), ["203.0.113.0/29", "198.51.100.7/32"]);
    let text = ok(&cove(&s, &admin, &["ip-pool", "list"]));
    assert_eq!(text, "203.0.113.0/29\n198.51.100.7/32\n");

    // Refusals name the code and the field, and change nothing.
    refused(
        &cove(&s, &admin, &["ip-pool", "add", "nonsense"]),
        "InvalidParameterValue",
        Some("add[0]"),
    );
    refused(
        &cove(&s, &admin, &["ip-pool", "add", "10.0.0.0/30"]),
        "InvalidParameterValue",
        Some("add[0]"),
    );
    refused(
        &cove(&s, &admin, &["ip-pool", "add", "203.0.113.4/30"]),
        "InvalidParameterValue",
        Some("add[0]"),
    );
    refused(
        &cove(&s, &admin, &["ip-pool", "remove", "192.0.2.0/30"]),
        "InvalidAddress.NotFound",
        Some("remove[0]"),
    );
    let bad = Process::new(assert_cmd::cargo::cargo_bin("cove"))
        .env("COVE_SERVER", &s.base)
        .env("COVE_TOKEN", &admin)
        .args(["ip-pool", "add"])
        .output()
        .expect("run cove");
    assert!(!bad.status.success(), "add without a block");
    let v = json_of(&cove(&s, &admin, &["ip-pool", "list", "--json"]));
    assert_eq!(blocks(&v), ["203.0.113.0/29", "198.51.100.7/32"]);

    // A tenant can neither read nor change the pool.
    let tenant = json_of(&cove(&s, &admin, &["tenant", "create", "acme", "--json"]));
    let tok = json_of(&cove(
        &s,
        &admin,
        &[
            "token",
            "create",
            "--tenant",
            tenant["id"].as_str().expect("id"),
            "--json",
        ],
    ));
    let secret = tok["secret"].as_str().expect("secret").to_owned();
    for args in [
        &["ip-pool", "list"][..],
        &["ip-pool", "add", "198.51.100.9"][..],
        &["ip-pool", "remove", "198.51.100.7"][..],
    ] {
        let err = refused(&cove(&s, &secret, args), "UnauthorizedOperation", None);
        assert!(err.contains("HTTP 403"), "{err}");
    }

    // A network's static IPs come from the pool; those addresses cannot be removed.
    let net = json_of(&cove(&s, &secret, &["network", "create", "prod", "--json"]));
    let ips = net["static_ips"].as_array().expect("static IPs").clone();
    assert_eq!(ips.len(), 2, "{net}");
    assert!(
        ips.iter()
            .all(|ip| ip.as_str().is_some_and(|ip| ip.starts_with("203.0.113."))),
        "{net}"
    );
    refused(
        &cove(&s, &admin, &["ip-pool", "remove", "203.0.113.0/29"]),
        "DependencyViolation",
        Some("remove"),
    );
    // Removing the unused address; the answer is the pool.
    let v = json_of(&cove(
        &s,
        &admin,
        &["ip-pool", "remove", "198.51.100.7", "--json"],
    ));
    assert_eq!(blocks(&v), ["203.0.113.0/29"]);
    let v = json_of(&cove(&s, &admin, &["ip-pool", "list", "--json"]));
    assert_eq!(blocks(&v), ["203.0.113.0/29"]);
}
