//! The API commands without a server (embedded mode): `cove tenant create|list`,
//! `cove token create`, `cove ip-pool add`, `cove network create|list|show --tenant`,
//! `cove peering request|accept --tenant` on a throwaway state directory and store
//! (SQLite and PostgreSQL, `cove-testdb`): `--json` output, the same refusals (code,
//! field, hint) as through a `cove serve` on the same store, one tenant's network
//! not found for another, the audit log naming the local operator. Privileged
//! (prefix `cvhe…`): an embedded `network create` reaches the kernel (`ready`, its
//! namespaces exist) and an accepted peering becomes `active`, with no server.

use std::path::PathBuf;
use std::process::{Child, Command as Process, Output, Stdio};
use std::time::{Duration, Instant};

use cove_testdb::{Backend, TestDb};
use serde_json::Value;

/// A deployment: a prefix (`cvhe…`), a state directory and a store; destroyed (its
/// namespaces, if any) when dropped, also when the test fails.
struct Env {
    prefix: String,
    state: tempfile::TempDir,
    db: TestDb,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.cove(&["destroy"]);
    }
}

impl Env {
    fn new(tag: &str, backend: Backend) -> Env {
        Env {
            // One prefix per test and backend (the tests run in parallel).
            prefix: format!(
                "cvhe{tag}{}{}",
                &backend.as_str()[..1],
                std::process::id() % 100_000
            ),
            state: tempfile::tempdir().expect("state dir"),
            db: TestDb::of_blocking(backend),
        }
    }

    /// `cove ARGS` on this deployment, no server in the environment; killed after
    /// 120 s (a hang guard).
    fn cove(&self, args: &[&str]) -> Output {
        Process::new("timeout")
            .arg("120")
            .arg(assert_cmd::cargo::cargo_bin("cove"))
            .env("COVE_PREFIX", &self.prefix)
            .env("COVE_STATE_DIR", self.state.path())
            .env("COVE_DATABASE", &self.db.url)
            .env_remove("COVE_SERVER")
            .env_remove("COVE_TOKEN")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run cove")
    }

    /// `cove ARGS --json`, which must succeed; its JSON answer.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.cove(&all);
        serde_json::from_str(&ok(&out)).expect("JSON on stdout")
    }

    /// The store's audit log.
    fn audit(&self) -> Vec<cove_store::AuditEntry> {
        let url = self.db.url.clone();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(async {
                    let store = cove_store::Store::open(&url).await.expect("open the store");
                    store
                        .audit(cove_store::Generation(0), 1000)
                        .await
                        .expect("audit log")
                })
        })
        .join()
        .expect("audit thread")
    }
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

fn s(v: &Value, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("no {k} in {v}"))
        .to_owned()
}

/// A refusal: exit status `code`, stderr naming `what` (and no answer on stdout);
/// the error text without its request id (which differs per request).
fn refused(out: &Output, status: i32, what: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(status), "{err}");
    assert!(
        out.stdout.is_empty(),
        "printed on refusal: {:?}",
        out.stdout
    );
    for w in what {
        assert!(err.contains(w), "{w} not in: {err}");
    }
    match (err.find(", request req-"), err.find(")\nhint:")) {
        (Some(a), Some(b)) if a < b => format!("{}{}", &err[..a], &err[b..]),
        _ => err,
    }
}

/// A `cove serve` (API only, `--no-reconcile`) on the deployment's store; killed
/// when dropped.
struct Serve {
    child: Child,
    base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(env: &Env) -> Serve {
    let log: PathBuf = env.state.path().join("serve.log");
    let file = std::fs::File::create(&log).expect("log");
    let child = Process::new(assert_cmd::cargo::cargo_bin("cove"))
        .env("COVE_PREFIX", &env.prefix)
        .env("COVE_STATE_DIR", env.state.path())
        .env("COVE_DATABASE", &env.db.url)
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
        base: String::new(),
    };
    // A hang guard, not a timing threshold.
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(addr) = text
            .lines()
            .find_map(|l| l.strip_prefix("cove serve: control-plane API on "))
            .and_then(|r| r.split_whitespace().next())
        {
            s.base = addr.to_owned();
            return s;
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
}

fn commands_without_a_server(backend: Backend) {
    let env = Env::new("c", backend);
    // The operator: tenants, a token, the pool.
    let acme = env.json(&["tenant", "create", "acme"]);
    let beta = env.json(&["tenant", "create", "beta"]);
    assert_eq!(s(&acme, "name"), "acme");
    let acme_id = s(&acme, "id");
    assert!(acme_id.starts_with("ten-"), "{acme}");
    let list = env.json(&["tenant", "list"]);
    let names: Vec<String> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|t| s(t, "name"))
        .collect();
    assert_eq!(names.len(), 2, "{list}");
    assert!(names.contains(&"acme".to_owned()) && names.contains(&"beta".to_owned()));
    let token = env.json(&["token", "create", "--tenant", &acme_id]);
    let secret = s(&token, "secret");
    assert!(secret.starts_with("cove_"), "{token}");
    let pool = env.json(&["ip-pool", "add", "203.0.113.0/28"]);
    assert_eq!(pool["blocks"], serde_json::json!(["203.0.113.0/28"]));

    // Tenants' networks, by name and by id; recorded only (no kernel here).
    let a = env.json(&[
        "network",
        "create",
        "app",
        "--tenant",
        "acme",
        "--no-reconcile",
    ]);
    assert_eq!(s(&a, "status"), "creating", "{a}");
    assert_eq!(a["static_ips"].as_array().map(Vec::len), Some(2), "{a}");
    let b = env.json(&[
        "network",
        "create",
        "db",
        "--tenant",
        &s(&beta, "id"),
        "--cidr",
        "10.1.0.0/16",
        "--no-reconcile",
    ]);
    assert_ne!(a["static_ips"], b["static_ips"]);

    // One tenant does not see the other's network: not found, as through the API.
    let other = env.cove(&["network", "show", &s(&a, "id"), "--tenant", "beta"]);
    refused(&other, 1, &["NotFound", "HTTP 404"]);
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(!err.contains("acme") && !err.contains("app"), "{err}");
    let listed = env.json(&["network", "list", "--tenant", "beta"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(s(&listed[0], "id"), s(&b, "id"));

    // A refusal names the field and the fix, as the API's does.
    let bad = [
        "network",
        "create",
        "bad",
        "--cidr",
        "10.0.0.0/8",
        "--no-reconcile",
    ];
    let mut embedded = bad.to_vec();
    embedded.extend(["--tenant", "acme"]);
    let local = refused(
        &env.cove(&embedded),
        1,
        &["InvalidVpc.Range", "field `cidr`", "hint: "],
    );
    let unknown = env.cove(&["network", "list", "--tenant", "nobody"]);
    refused(
        &unknown,
        1,
        &[
            "InvalidTenantID.NotFound",
            "field `tenant`",
            "cove tenant list",
        ],
    );
    // Without --tenant, or with it and a server: a usage error (exit 2).
    refused(&env.cove(&["network", "list"]), 2, &["--tenant"]);
    refused(
        &env.cove(&[
            "network",
            "list",
            "--tenant",
            "acme",
            "--server",
            "http://127.0.0.1:9",
            "--token",
            "cove_x",
        ]),
        2,
        &["--tenant"],
    );
    {
        let srv = serve(&env);
        let mut remote = bad.to_vec();
        remote.extend(["--server", &srv.base, "--token", &secret]);
        let through = refused(&env.cove(&remote), 1, &["InvalidVpc.Range"]);
        assert_eq!(local, through, "embedded and API refusals differ");
        // And the server sees what embedded mode recorded.
        let mut list = vec!["network", "list", "--json"];
        list.extend(["--server", &srv.base, "--token", &secret]);
        let seen: Value = serde_json::from_str(&ok(&env.cove(&list))).expect("json");
        assert_eq!(seen.as_array().map(Vec::len), Some(1), "{seen}");
        assert_eq!(s(&seen[0], "id"), s(&a, "id"));
    }

    // A peering across tenants, requested and accepted in embedded mode.
    let p = env.json(&[
        "peering",
        "request",
        "--tenant",
        "acme",
        "--vpc",
        &s(&a, "vpc_id"),
        "--peer-vpc",
        &s(&b, "vpc_id"),
        "--peer-account",
        &s(&beta, "account_id"),
        "--no-reconcile",
    ]);
    assert_eq!(s(&p, "status"), "pending-acceptance", "{p}");
    let pid = s(&p, "id");
    // The requester cannot accept its own request.
    env.cove(&[
        "peering",
        "accept",
        &pid,
        "--tenant",
        "acme",
        "--no-reconcile",
    ])
    .status
    .success()
    .then(|| panic!("the requester accepted its own request"));
    let accepted = env.json(&[
        "peering",
        "accept",
        &pid,
        "--tenant",
        "beta",
        "--no-reconcile",
    ]);
    assert_eq!(s(&accepted, "status"), "provisioning", "{accepted}");

    // The audit log says who: the local operator, and the tenant it acted for.
    let audit = env.audit();
    let by_local: Vec<_> = audit
        .iter()
        .filter(|e| e.meta.token_id.as_deref() == Some(cove_api::local::LOCAL_OPERATOR))
        .collect();
    assert!(by_local.len() >= 7, "{audit:?}");
    assert!(
        by_local
            .iter()
            .any(|e| e.meta.tenant.as_deref() == Some(acme_id.as_str())),
        "{audit:?}"
    );
    assert!(
        by_local.iter().all(|e| e
            .meta
            .request_id
            .as_deref()
            .is_some_and(|r| r.starts_with("req-"))),
        "{audit:?}"
    );
}

#[test]
fn commands_without_a_server_sqlite() {
    commands_without_a_server(Backend::Sqlite);
}

#[test]
fn commands_without_a_server_postgres() {
    commands_without_a_server(Backend::Postgres);
}

fn privileged() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the embedded kernel test needs root (CI must run it)"
    );
    eprintln!("skipped: needs root");
    false
}

/// The namespaces of `prefix`.
fn namespaces(prefix: &str) -> Vec<String> {
    let out = Process::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("{prefix}-")))
        .map(str::to_owned)
        .collect()
}

fn network_reaches_the_kernel(backend: Backend) {
    if !privileged() {
        return;
    }
    let env = Env::new("k", backend);
    let beta = env.json(&["tenant", "create", "beta"]);
    env.json(&["tenant", "create", "acme"]);
    env.json(&["ip-pool", "add", "203.0.113.16/28"]);
    assert!(namespaces(&env.prefix).is_empty());
    let a = env.json(&["network", "create", "app", "--tenant", "acme"]);
    // One reconciler tick in the command: ready, with no server.
    assert_eq!(s(&a, "status"), "ready", "{a}");
    let ns = namespaces(&env.prefix);
    assert!(ns.contains(&format!("{}-router", env.prefix)), "{ns:?}");
    // Two NAT gateways' namespaces.
    assert_eq!(ns.iter().filter(|n| n.contains("-n-")).count(), 2, "{ns:?}");
    let b = env.json(&[
        "network",
        "create",
        "db",
        "--tenant",
        "beta",
        "--cidr",
        "10.1.0.0/16",
    ]);
    assert_eq!(s(&b, "status"), "ready", "{b}");
    let p = env.json(&[
        "peering",
        "request",
        "--tenant",
        "acme",
        "--vpc",
        &s(&a, "vpc_id"),
        "--peer-vpc",
        &s(&b, "vpc_id"),
        "--peer-account",
        &s(&beta, "account_id"),
    ]);
    let accepted = env.json(&["peering", "accept", &s(&p, "id"), "--tenant", "beta"]);
    assert_eq!(s(&accepted, "status"), "active", "{accepted}");
    // The deletion reaches the kernel too: the network's namespaces go.
    env.json(&["peering", "delete", &s(&p, "id"), "--tenant", "acme"]);
    let before = namespaces(&env.prefix).len();
    env.json(&["network", "delete", &s(&b, "id"), "--tenant", "beta"]);
    let listed = env.json(&["network", "list", "--tenant", "beta"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "{listed}");
    let after = namespaces(&env.prefix).len();
    assert!(after < before, "{before} -> {after}");
}

#[test]
fn network_reaches_the_kernel_sqlite() {
    network_reaches_the_kernel(Backend::Sqlite);
}

#[test]
fn network_reaches_the_kernel_postgres() {
    network_reaches_the_kernel(Backend::Postgres);
}
