//! The API client commands (`cove tenant|token|network|peering`) against a real API
//! server on 127.0.0.1:0 over a SQLite store: text and `--json` output, the server
//! and token from flags or the environment, the API's errors as failures naming the
//! code, field and request id.

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

struct Api {
    base: String,
    admin: String,
    dir: PathBuf,
    _rt: tokio::runtime::Runtime,
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh API server over a store of its own (`tag` tells the tests' apart).
fn api(tag: &str) -> Api {
    let dir = std::env::temp_dir().join(format!("cvap_cli_{}_{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (base, admin) = rt.block_on(async {
        let store = cove_store::Store::open(&format!("sqlite://{}/cove.db", dir.display()))
            .await
            .expect("store");
        let file = dir.join("admin-token");
        cove_api::bootstrap(&store, &file).await.expect("bootstrap");
        let admin = std::fs::read_to_string(&file)
            .expect("token")
            .trim()
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(cove_api::serve(listener, cove_api::ApiState::new(store)));
        (format!("http://{addr}"), admin)
    });
    Api {
        base,
        admin,
        dir,
        _rt: rt,
    }
}

fn cove(api: &Api, token: &str, args: &[&str]) -> Output {
    Command::cargo_bin("cove")
        .expect("binary")
        .env("COVE_SERVER", &api.base)
        .env("COVE_TOKEN", token)
        .args(args)
        .output()
        .expect("run cove")
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn tenants_tokens_networks_and_peerings_from_the_command_line() {
    let api = api("net");
    let a = json(&cove(
        &api,
        &api.admin,
        &["tenant", "create", "alpha", "--json"],
    ));
    let b = json(&cove(
        &api,
        &api.admin,
        &["tenant", "create", "bravo", "--json"],
    ));
    let list = cove(&api, &api.admin, &["tenant", "list"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("alpha") && text.contains("bravo"), "{text}");
    let tok = |t: &Value| {
        let v = json(&cove(
            &api,
            &api.admin,
            &[
                "token",
                "create",
                "--tenant",
                t["id"].as_str().expect("id"),
                "--json",
            ],
        ));
        (
            v["secret"].as_str().expect("secret").to_owned(),
            v["token"]["id"].as_str().expect("id").to_owned(),
        )
    };
    let (ta, _) = tok(&a);
    let (tb, tb_id) = tok(&b);
    // The pool is operator configuration (`cove ip-pool`, tests/ip_pool_cli.rs).
    json(&cove(
        &api,
        &api.admin,
        &["ip-pool", "add", "203.0.113.0/29", "--json"],
    ));
    let na = json(&cove(&api, &ta, &["network", "create", "prod", "--json"]));
    assert_eq!(na["static_ips"].as_array().expect("ips").len(), 2);
    let shown = cove(&api, &ta, &["network", "show", "prod"]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.contains("status: creating") && text.contains("static_ips: 203.0.113."),
        "{text}"
    );
    let nb = json(&cove(
        &api,
        &tb,
        &[
            "network",
            "create",
            "edge",
            "--cidr",
            "10.60.0.0/16",
            "--json",
        ],
    ));
    let p = json(&cove(
        &api,
        &tb,
        &[
            "peering",
            "request",
            "--vpc",
            nb["vpc_id"].as_str().expect("vpc"),
            "--peer-vpc",
            na["vpc_id"].as_str().expect("vpc"),
            "--peer-account",
            a["account_id"].as_str().expect("acct"),
            "--json",
        ],
    ));
    assert_eq!(p["status"], "pending-acceptance");
    let pid = p["id"].as_str().expect("pcx");
    let listed = cove(&api, &ta, &["peering", "list"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains(pid));
    let acc = json(&cove(&api, &ta, &["peering", "accept", pid, "--json"]));
    assert_eq!(acc["status"], "provisioning");
    // B cannot see A's network: the API's 404 is a failure naming code and request.
    let hidden = cove(&api, &tb, &["network", "show", "prod"]);
    assert_eq!(hidden.status.code(), Some(1));
    let err = String::from_utf8_lossy(&hidden.stderr);
    assert!(
        err.contains("InvalidNetworkID.NotFound") && err.contains("request req-"),
        "{err}"
    );
    // Flags win over the environment; a revoked token is refused.
    json(&cove(
        &api,
        &api.admin,
        &["token", "revoke", &tb_id, "--json"],
    ));
    let out = Command::cargo_bin("cove")
        .expect("binary")
        .env("COVE_SERVER", "http://127.0.0.1:1")
        .args([
            "network", "list", "--server", &api.base, "--token", &tb, "--json",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON error");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("AuthFailure"),
        "{doc}"
    );
    json(&cove(&api, &ta, &["network", "create", "tmp", "--json"]));
    let deleted = json(&cove(&api, &ta, &["network", "delete", "tmp", "--json"]));
    assert_eq!(deleted["status"], "deleting");
}

/// `cove plan`, `apply` and `check` with `--server`: the caller's tenant spec
/// through the API (`POST /v1/plan`, `PUT /v1/spec`, `GET /v1/reachability`),
/// answered as the local commands answer (text, `--json`, exit status 3 when
/// blocked); `--server` without a token and `check -f` with `--server` are refused
/// naming the argument.
#[test]
fn plan_apply_and_check_through_the_server() {
    let api = api("spec");
    let t = json(&cove(
        &api,
        &api.admin,
        &["tenant", "create", "charlie", "--json"],
    ));
    let tok = json(&cove(
        &api,
        &api.admin,
        &[
            "token",
            "create",
            "--tenant",
            t["id"].as_str().expect("id"),
            "--json",
        ],
    ))["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    ureq::agent()
        .put(format!("{}/v1/ip-pool", api.base))
        .header("authorization", format!("Bearer {}", api.admin))
        .send_json(serde_json::json!({ "blocks": ["203.0.113.8/29"] }))
        .expect("pool");
    json(&cove(&api, &tok, &["network", "create", "one", "--json"]));
    let spec = api.dir.join("charlie.yaml");
    std::fs::write(
        &spec,
        "vpcs:
  - name: one
    security_groups:
      - name: sg
        ingress:
          - { protocol: tcp, ports: 5432, security_group: sg }
    enis:
      - { name: db, subnet: private-a, security_groups: [sg] }
      - { name: app, subnet: private-b, security_groups: [sg] }
",
    )
    .expect("spec");
    let spec = spec.to_string_lossy().into_owned();
    let planned = cove(&api, &tok, &["plan", "-f", &spec]);
    let text = String::from_utf8_lossy(&planned.stdout);
    assert!(planned.status.success(), "{text}");
    assert!(
        text.contains("+ opens ") && text.contains("/db tcp/5432"),
        "{text}"
    );
    let valid = cove(&api, &tok, &["validate", "-f", &spec]);
    assert_eq!(valid.status.code(), Some(0), "{valid:?}");
    let bad = api.dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "vpcs:\n  - name: one\n    enis: [{ name: db, subnet: nowhere }]\n",
    )
    .expect("spec");
    let invalid = cove(
        &api,
        &tok,
        &["validate", "-f", &bad.to_string_lossy(), "--json"],
    );
    assert_eq!(invalid.status.code(), Some(2), "{invalid:?}");
    let doc: Value = serde_json::from_slice(&invalid.stdout).expect("JSON");
    assert_eq!(doc["valid"], false, "{doc}");
    assert!(
        doc["diagnostics"][0]["path"]
            .as_str()
            .is_some_and(|p| p.contains("subnet")),
        "{doc}"
    );
    let stored = json(&cove(&api, &tok, &["apply", "-f", &spec, "--json"]));
    assert_eq!(stored["vpcs"][0]["enis"].as_array().map(Vec::len), Some(2));
    let again = json(&cove(&api, &tok, &["plan", "-f", &spec, "--json"]));
    assert_eq!(again["opened"], serde_json::json!([]), "{again}");
    let ok = cove(
        &api,
        &tok,
        &[
            "check", "--from", "one/app", "--to", "one/db", "--port", "5432",
        ],
    );
    let text = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with("REACHABLE one/app -> one/db tcp/5432"),
        "{text}"
    );
    let blocked = cove(
        &api,
        &tok,
        &[
            "check", "--from", "one/app", "--to", "one/db", "--port", "22", "--json",
        ],
    );
    assert_eq!(blocked.status.code(), Some(3));
    let doc: Value = serde_json::from_slice(&blocked.stdout).expect("JSON");
    assert_eq!(doc["verdict"]["reachable"], false, "{doc}");
    assert_eq!(
        doc["verdict"]["blocked"]["step"], "security-group-ingress",
        "{doc}"
    );
    // No reconciler behind this API: the network stays `creating`, so not in sync.
    let status = cove(&api, &tok, &["status", "--json"]);
    assert_eq!(status.status.code(), Some(4), "{status:?}");
    let doc: Value = serde_json::from_slice(&status.stdout).expect("JSON");
    assert_eq!(doc["in_sync"], false, "{doc}");
    assert_eq!(doc["networks"][0]["status"], "creating", "{doc}");
    // Misuse is refused before anything is sent.
    let no_token = Command::cargo_bin("cove")
        .expect("binary")
        .env_remove("COVE_TOKEN")
        .args(["apply", "-f", &spec, "--server", &api.base])
        .output()
        .expect("run");
    assert_eq!(no_token.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&no_token.stderr).contains("--token"),
        "{no_token:?}"
    );
    let with_file = cove(
        &api,
        &tok,
        &[
            "check", "-f", &spec, "--from", "one/app", "--to", "one/db", "--port", "5432",
        ],
    );
    assert_eq!(with_file.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&with_file.stderr).contains("--file"),
        "{with_file:?}"
    );
}
