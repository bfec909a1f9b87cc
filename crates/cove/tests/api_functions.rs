//! Functions through the API of a real `cove serve` (real HTTP, real kernel, real
//! traffic), under prefixes `cvhf…`:
//!
//! * a tenant uploads the Python test function with `cove fn deploy --server`, into a
//!   network made through the API, invokes it and reads its logs (the CLI's server
//!   mode);
//! * issue 10's two tenants, through the API alone: A's network and static IPs, B's
//!   database ENI (PUT /v1/spec) with a TCP server in its namespace, a peering
//!   requested by A and accepted by B, A's function reaching the database across
//!   it and the internet from one of A's static IPs, every endpoint with the wrong
//!   tenant's token (404), and a revoked token (401).

mod common;

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::Deployment;
use common::functions::{Background, fixture, runtimes_ready};

/// How long any wait may last before the test fails (a guard against hanging, not
/// a performance threshold).
const GUARD: Duration = Duration::from_secs(120);

/// A deployment under `cvhf<tag><pid>`, destroyed on drop.
fn deployment(tag: &str) -> Deployment {
    Deployment {
        prefix: format!("cvhf{tag}{}", std::process::id() % 10_000),
        state: tempfile::tempdir().expect("state dir"),
    }
}

/// A fresh PostgreSQL database for a test (from `COVE_TEST_POSTGRES_URL`, which
/// `scripts/pg-throwaway.sh run -- …` sets), dropped with the test.
struct PgDb {
    admin: String,
    name: String,
    url: String,
}

impl PgDb {
    fn new(tag: &str) -> PgDb {
        let admin = match std::env::var("COVE_TEST_POSTGRES_URL") {
            Ok(u) if !u.is_empty() => u,
            _ => panic!(
                "COVE_TEST_POSTGRES_URL is not set: run `bash scripts/pg-throwaway.sh run -- cargo test -p cove --test api_functions`"
            ),
        };
        let name = format!("cvhf_{tag}_{}", std::process::id());
        psql(&admin, &format!("DROP DATABASE IF EXISTS {name}"));
        psql(&admin, &format!("CREATE DATABASE {name}"));
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        let url = format!("{base}/{name}");
        PgDb { admin, name, url }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let _ = Process::new("timeout")
            .args([
                "60",
                "psql",
                &self.admin,
                "-qc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

fn psql(url: &str, sql: &str) {
    let out = Process::new("timeout")
        .args(["60", "psql", url, "-qc", sql])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `cove serve` with its API; stopped on drop (SIGTERM: it ends every environment;
/// SIGKILL if it does not exit), before the deployment is destroyed.
struct Serve {
    child: Background,
    log: std::path::PathBuf,
    base: String,
    admin: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let pid = self.child.0.id().to_string();
        let _ = Process::new("kill").args(["-TERM", &pid]).status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if self.child.0.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Serve {
    fn start(d: &Deployment) -> Serve {
        Serve::start_on(d, None)
    }

    /// `cove serve` on the store `database` (a URL), or the default SQLite file.
    fn start_on(d: &Deployment, database: Option<&str>) -> Serve {
        let log = d.state.path().join("serve.log");
        let out = std::fs::File::create(&log).expect("log");
        let err = out.try_clone().expect("log");
        let child = Process::new(assert_cmd::cargo::cargo_bin("cove"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--api-listen",
                "127.0.0.1:0",
            ])
            .env("COVE_PREFIX", &d.prefix)
            .env("COVE_STATE_DIR", d.state.path())
            .env_remove("COVE_SERVER")
            .env_remove("COVE_TOKEN")
            .envs(database.map(|u| ("COVE_DATABASE", u)))
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("cove serve");
        let child = Background(child);
        let started = Instant::now();
        let base = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(b) = text
                .lines()
                .find_map(|l| l.strip_prefix("cove serve: control-plane API on "))
                .and_then(|r| r.split_whitespace().next())
            {
                break b.to_owned();
            }
            assert!(
                started.elapsed() < GUARD,
                "cove serve did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let admin = std::fs::read_to_string(d.state.path().join(&d.prefix).join("admin-token"))
            .expect("admin token")
            .trim()
            .to_owned();
        Serve {
            child,
            log,
            base,
            admin,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `method path` with a JSON body (or raw bytes); answers (status, JSON or text).
    fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let bytes = body.map(|b| b.to_string().into_bytes());
        self.raw(method, path, token, bytes, "application/json")
    }

    fn raw(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Vec<u8>>,
        content_type: &str,
    ) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {token}");
        let resp = match method {
            "GET" => agent.get(&url).header("authorization", &auth).call(),
            "DELETE" => agent.delete(&url).header("authorization", &auth).call(),
            "POST" => agent
                .post(&url)
                .header("authorization", &auth)
                .header("content-type", content_type)
                .send(body.unwrap_or_default()),
            "PATCH" => agent
                .patch(&url)
                .header("authorization", &auth)
                .header("content-type", content_type)
                .send(body.unwrap_or_default()),
            _ => agent
                .put(&url)
                .header("authorization", &auth)
                .header("content-type", content_type)
                .send(body.unwrap_or_default()),
        };
        let mut resp = resp.expect("request");
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, v)
    }

    fn ok(&self, want: u16, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
        let (st, v) = self.call(method, path, token, body);
        assert_eq!(
            st,
            want,
            "{method} {path}: {v}\ncove serve's log:\n{}",
            self.log()
        );
        v
    }

    /// A tenant and its token: (tenant, secret, token id).
    fn tenant(&self, name: &str) -> (Value, String, String) {
        let t = self.ok(
            201,
            "POST",
            "/v1/tenants",
            &self.admin,
            Some(json!({ "name": name })),
        );
        let id = t["id"].as_str().expect("id");
        let tok = self.ok(
            201,
            "POST",
            &format!("/v1/tenants/{id}/tokens"),
            &self.admin,
            Some(json!({})),
        );
        (
            t.clone(),
            tok["secret"].as_str().expect("secret").to_owned(),
            tok["token"]["id"].as_str().expect("token id").to_owned(),
        )
    }

    /// Waits until `GET path` has `key` = `want`.
    fn wait_for(&self, path: &str, token: &str, key: &str, want: &str) -> Value {
        let started = Instant::now();
        loop {
            let (_, v) = self.call("GET", path, token, None);
            if v[key] == want {
                return v;
            }
            assert!(
                started.elapsed() < GUARD,
                "{path}: {key} is not {want} ({v}); cove serve's log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Invokes until the function runs (it answers 409 until the reconciler applied
    /// it and `cove serve` loaded it).
    fn invoke(&self, name: &str, token: &str, event: &Value) -> Value {
        let started = Instant::now();
        loop {
            let (st, v) = self.call(
                "POST",
                &format!("/v1/functions/{name}/invocations"),
                token,
                Some(event.clone()),
            );
            if st != 409 {
                assert_eq!(st, 200, "{v}\ncove serve's log:\n{}", self.log());
                return v;
            }
            assert!(
                started.elapsed() < GUARD,
                "{name} never ran: {v}; cove serve's log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// A directory zipped in memory.
fn zip_dir(dir: &Path) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut buf);
    for e in std::fs::read_dir(dir).expect("dir") {
        let p = e.expect("entry").path();
        if p.is_file() {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            z.start_file(name, zip::write::SimpleFileOptions::default())
                .expect("entry");
            z.write_all(&std::fs::read(&p).expect("read"))
                .expect("write");
        }
    }
    z.finish().expect("finish");
    buf.into_inner()
}

/// The internet stand-in: the address on `lo` of the deployment's outside namespace.
fn internet(d: &Deployment) -> Ipv4Addr {
    let out = Process::new("ip")
        .args([
            "-n",
            &format!("{}-outside", d.prefix),
            "-4",
            "-o",
            "addr",
            "show",
            "dev",
            "lo",
        ])
        .output()
        .expect("ip addr");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|w| w.split('/').next()?.parse::<Ipv4Addr>().ok())
        .find(|ip| !ip.is_loopback())
        .expect("the outside namespace's internet address")
}

/// The namespace of this deployment that holds `ip`.
fn ns_of_ip(d: &Deployment, ip: Ipv4Addr) -> String {
    d.namespaces()
        .into_iter()
        .find(|ns| {
            let out = Process::new("ip")
                .args(["-n", ns, "-4", "-o", "addr"])
                .output()
                .expect("ip addr");
            String::from_utf8_lossy(&out.stdout).contains(&format!(" {ip}/"))
        })
        .unwrap_or_else(|| panic!("no namespace holds {ip}"))
}

/// A Python program in namespace `ns`: an HTTP server answering the client's
/// address (`http`), or a TCP server on `ip:port` that writes each client's
/// address to `seen` (`tcp`).
fn server(ns: &str, script: &str) -> Stopped {
    let child = Process::new("timeout")
        .args(["600", "ip", "netns", "exec", ns, "python3", "-c", script])
        .spawn()
        .expect("server");
    std::thread::sleep(Duration::from_millis(500));
    Stopped(Background(child))
}

/// A `timeout …` process stopped with SIGTERM on drop (which `timeout` hands on to
/// its command; a SIGKILL would leave the command running), then killed.
struct Stopped(Background);

impl Drop for Stopped {
    fn drop(&mut self) {
        let pid = self.0.0.id().to_string();
        let _ = Process::new("kill").args(["-TERM", &pid]).status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if self.0.0.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn http_whoami(ns: &str, ip: Ipv4Addr, port: u16) -> Stopped {
    server(
        ns,
        &format!(
            "import http.server\nclass H(http.server.BaseHTTPRequestHandler):\n  def do_GET(s):\n    b=s.client_address[0].encode()\n    s.send_response(200); s.send_header('Content-Length', str(len(b))); s.end_headers(); s.wfile.write(b)\n  def log_message(s,*a): pass\nhttp.server.HTTPServer(('{ip}', {port}), H).serve_forever()\n"
        ),
    )
}

fn tcp_recorder(ns: &str, ip: Ipv4Addr, port: u16, seen: &Path) -> Stopped {
    server(
        ns,
        &format!(
            "import socket\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('{ip}', {port})); s.listen(16)\nwhile True:\n  c,a=s.accept()\n  open('{}','a').write(a[0]+'\\n'); c.sendall(b'db-ok\\n'); c.close()\n",
            seen.display()
        ),
    )
}

fn private_subnets(net: &Value) -> Vec<Value> {
    net["subnets"]
        .as_array()
        .expect("subnets")
        .iter()
        .filter(|s| s["tier"] == "private")
        .cloned()
        .collect()
}

/// The 10th address of a subnet's block.
fn tenth(cidr: &str) -> Ipv4Addr {
    let base: Ipv4Addr = cidr.split('/').next().expect("cidr").parse().expect("ip");
    Ipv4Addr::from(u32::from(base) + 10)
}

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

#[test]
fn two_tenants_through_the_api_alone() {
    if !cove_probe::privileged("two tenants") || !runtimes_ready() {
        return;
    }
    let d = deployment("t");
    let s = Serve::start(&d);
    two_tenants(&d, &s);
}

#[test]
fn two_tenants_through_the_api_alone_postgres() {
    if !cove_probe::privileged("two tenants (PostgreSQL)") || !runtimes_ready() {
        return;
    }
    let db = PgDb::new("tt");
    let d = deployment("p");
    let s = Serve::start_on(&d, Some(&db.url));
    two_tenants(&d, &s);
    drop(s);
    drop(d);
}

/// Issue 10's two tenants on the `cove serve` `s` of `d`.
fn two_tenants(d: &Deployment, s: &Serve) {
    s.ok(
        200,
        "PUT",
        "/v1/ip-pool",
        &s.admin,
        Some(json!({ "blocks": ["198.51.100.16/29"] })),
    );
    let (ta_doc, ta, ta_tok) = s.tenant("alpha");
    let (tb_doc, tb, _) = s.tenant("bravo");
    // 1. A creates a network and gets its static IP pair.
    let na = s.ok(
        201,
        "POST",
        "/v1/connect/networks",
        &ta,
        Some(json!({ "name": "app", "region": "us-east-1", "cidr": "10.50.0.0/16" })),
    );
    let na_id = na["id"].as_str().expect("id").to_owned();
    let static_ips: Vec<String> = na["static_ips"]
        .as_array()
        .expect("static IPs")
        .iter()
        .map(|v| v.as_str().expect("ip").to_owned())
        .collect();
    assert_eq!(static_ips.len(), 2, "{na}");
    // 2. B has a VPC (its network) with a database ENI, from its spec.
    let nb = s.ok(
        201,
        "POST",
        "/v1/connect/networks",
        &tb,
        Some(json!({ "name": "data", "region": "us-east-1", "cidr": "10.60.0.0/16" })),
    );
    let nb_id = nb["id"].as_str().expect("id").to_owned();
    let db_subnet = private_subnets(&nb)[0].clone();
    let db_ip = tenth(db_subnet["cidr"].as_str().expect("cidr"));
    s.ok(
        200,
        "PUT",
        "/v1/spec",
        &tb,
        Some(json!({ "vpcs": [{
            "name": "data",
            "security_groups": [{ "name": "db", "ingress": [
                { "protocol": "tcp", "ports": 5432, "cidr": "10.50.0.0/16" }] }],
            "enis": [{ "name": "db-1", "subnet": db_subnet["name"], "private_ip": db_ip.to_string(),
                "security_groups": ["db"] }],
        }] })),
    );
    for (id, t) in [(&na_id, &ta), (&nb_id, &tb)] {
        s.wait_for(&format!("/v1/connect/networks/{id}"), t, "status", "ready");
    }
    // A's function, uploaded and deployed through the API.
    let (st, up) = s.raw(
        "POST",
        "/v1/functions/code",
        &ta,
        Some(zip_dir(&fixture("python"))),
        "application/zip",
    );
    assert_eq!(st, 201, "{up}");
    let code = up["code"].as_str().expect("code").to_owned();
    s.ok(
        201,
        "POST",
        "/v1/functions",
        &ta,
        Some(
            json!({ "name": "api", "network": "app", "runtime": "python3.11",
            "handler": "handler.handler", "code": code, "timeout": 10, "concurrency": 2 }),
        ),
    );
    // Pending, then Active once cove serve runs it (the reconciler applied it).
    s.wait_for("/v1/functions/api", &ta, "state", "Active");
    // The database: a TCP server in the ENI's namespace that records its clients.
    let seen = d.state.path().join("db-clients");
    let db_ns = {
        let started = Instant::now();
        loop {
            if let Some(ns) = d.namespaces().into_iter().find(|ns| {
                Process::new("ip")
                    .args(["-n", ns, "-4", "-o", "addr"])
                    .output()
                    .is_ok_and(|o| {
                        String::from_utf8_lossy(&o.stdout).contains(&format!(" {db_ip}/"))
                    })
            }) {
                break ns;
            }
            assert!(
                started.elapsed() < GUARD,
                "B's database ENI never appeared:\n{}",
                s.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    assert_eq!(ns_of_ip(d, db_ip), db_ns);
    let _db = tcp_recorder(&db_ns, db_ip, 5432, &seen);
    let to_db =
        json!({ "op": "connect", "host": db_ip.to_string(), "port": 5432, "timeout_ms": 1500 });
    // No peering yet: the database is out of reach.
    let v = s.invoke("api", &ta, &to_db);
    assert_ne!(
        v["result"], "ok",
        "reached B's database without a peering: {v}"
    );
    // 3. A requests a peering to B's VPC; B accepts.
    let p = s.ok(
        201,
        "POST",
        "/v1/peerings",
        &ta,
        Some(json!({ "vpc_id": na["vpc_id"], "peer_vpc_id": nb["vpc_id"],
            "peer_owner_id": s.ok(200, "GET", "/v1/tenants", &s.admin, None)
                .as_array().expect("tenants").iter()
                .find(|t| t["name"] == "bravo").expect("bravo")["account_id"] })),
    );
    assert_eq!(p["status"], "pending-acceptance", "{p}");
    let pcx = p["id"].as_str().expect("pcx").to_owned();
    s.ok(
        200,
        "POST",
        &format!("/v1/peerings/{pcx}/accept"),
        &tb,
        None,
    );
    s.wait_for(&format!("/v1/peerings/{pcx}"), &ta, "status", "active");
    // 4. A's function reaches B's database across the peering (real TCP), from its
    //    slot in A's block.
    let started = Instant::now();
    loop {
        let v = s.invoke("api", &ta, &to_db);
        if v["result"] == "ok" {
            break;
        }
        assert!(
            started.elapsed() < GUARD,
            "never reached the database: {v}\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The handshake completes in the kernel before the server accepts: wait for
    // its record.
    let started = Instant::now();
    let clients = loop {
        match std::fs::read_to_string(&seen) {
            Ok(c) if c.ends_with('\n') => break c,
            _ => {
                assert!(started.elapsed() < GUARD, "the database never saw a client");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    assert!(
        clients.lines().all(|c| c.starts_with("10.50.")),
        "the database's clients come from A's block: {clients}"
    );
    //    Its internet traffic leaves from one of A's static IPs.
    let host = internet(d);
    let _web = http_whoami(&format!("{}-outside", d.prefix), host, 8080);
    let v = s.invoke(
        "api",
        &ta,
        &json!({ "op": "http", "url": format!("http://{host}:8080/") }),
    );
    let from = v["body"].as_str().unwrap_or_default();
    assert!(
        static_ips.iter().any(|ip| ip == from),
        "arrived from {from}, not {static_ips:?}: {v}"
    );
    //    Its logs, for A.
    let (st, logs) = s.call("GET", "/v1/functions/api/logs", &ta, None);
    assert_eq!(st, 200);
    assert!(
        logs.as_str().is_some_and(|l| l.contains("START RequestId")),
        "{logs}"
    );
    // 5. B can neither see nor change anything of A's (404, as for nothing), nor A
    //    anything of B's.
    let a_things: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/v1/connect/networks/{na_id}"), None),
        (
            "PATCH",
            format!("/v1/connect/networks/{na_id}"),
            Some(json!({ "name": "x" })),
        ),
        ("DELETE", format!("/v1/connect/networks/{na_id}"), None),
        ("GET", "/v1/functions/api".into(), None),
        (
            "PATCH",
            "/v1/functions/api".into(),
            Some(json!({ "memory": 256 })),
        ),
        ("DELETE", "/v1/functions/api".into(), None),
        (
            "POST",
            "/v1/functions/api/invocations".into(),
            Some(json!({})),
        ),
        ("GET", "/v1/functions/api/logs".into(), None),
    ];
    for (method, path, body) in &a_things {
        let (st, v) = s.call(method, path, &tb, body.clone());
        assert_eq!(st, 404, "B: {method} {path}: {v}");
    }
    let b_things: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/v1/connect/networks/{nb_id}"), None),
        (
            "PATCH",
            format!("/v1/connect/networks/{nb_id}"),
            Some(json!({ "name": "x" })),
        ),
        ("DELETE", format!("/v1/connect/networks/{nb_id}"), None),
    ];
    for (method, path, body) in &b_things {
        let (st, v) = s.call(method, path, &ta, body.clone());
        assert_eq!(st, 404, "A: {method} {path}: {v}");
    }
    // Listings and specs show only one's own.
    let b_nets = s.ok(200, "GET", "/v1/connect/networks", &tb, None);
    assert!(!b_nets.to_string().contains(&na_id), "{b_nets}");
    assert_eq!(s.ok(200, "GET", "/v1/functions", &tb, None), json!([]));
    let b_spec = s.ok(200, "GET", "/v1/spec", &tb, None).to_string();
    assert!(
        !b_spec.contains("api") && !b_spec.contains(&code),
        "{b_spec}"
    );
    let a_spec = s.ok(200, "GET", "/v1/spec", &ta, None).to_string();
    assert!(!a_spec.contains("db-1"), "{a_spec}");
    // B cannot deploy A's code (it never uploaded it).
    let (st, v) = s.call(
        "POST",
        "/v1/functions",
        &tb,
        Some(
            json!({ "name": "steal", "network": "data", "runtime": "python3.11",
            "handler": "handler.handler", "code": code }),
        ),
    );
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (404, Some("ResourceNotFoundException")),
        "{v}"
    );
    // B's own function of the same name (the same code, which B uploads itself: the
    //    same digest) runs as B's, and A's as A's: each ARN names its own account,
    //    and each tenant's logs hold only its own invocations.
    let (st, up_b) = s.raw(
        "POST",
        "/v1/functions/code",
        &tb,
        Some(zip_dir(&fixture("python"))),
        "application/zip",
    );
    assert_eq!(
        (st, up_b["code"].as_str()),
        (201, Some(code.as_str())),
        "{up_b}"
    );
    s.ok(
        201,
        "POST",
        "/v1/functions",
        &tb,
        Some(
            json!({ "name": "api", "network": "data", "runtime": "python3.11",
            "handler": "handler.handler", "code": code, "timeout": 10, "concurrency": 1 }),
        ),
    );
    let account = |t: &Value| t["account_id"].as_str().expect("account").to_owned();
    let (acct_a, acct_b) = (account(&ta_doc), account(&tb_doc));
    let vb = s.invoke("api", &tb, &json!({ "op": "echo", "who": "bravo" }));
    let arn_b = vb["invoked_function_arn"].as_str().unwrap_or_default();
    assert!(arn_b.contains(&acct_b) && !arn_b.contains(&acct_a), "{vb}");
    let va = s.invoke("api", &ta, &json!({ "op": "echo", "who": "alpha" }));
    let arn_a = va["invoked_function_arn"].as_str().unwrap_or_default();
    assert!(arn_a.contains(&acct_a) && !arn_a.contains(&acct_b), "{va}");
    let logs_of = |t: &str| {
        let (st, l) = s.call("GET", "/v1/functions/api/logs?tail=10000000", t, None);
        assert_eq!(st, 200, "{l}");
        l.as_str().unwrap_or_default().to_owned()
    };
    let (rid_a, rid_b) = (
        va["request_id"].as_str().expect("request id"),
        vb["request_id"].as_str().expect("request id"),
    );
    let (la, lb) = (logs_of(&ta), logs_of(&tb));
    assert!(la.contains(rid_a) && !la.contains(rid_b), "A's logs:\n{la}");
    assert!(lb.contains(rid_b) && !lb.contains(rid_a), "B's logs:\n{lb}");
    // 6. A revoked token gets 401.
    let id = ta_doc["id"].as_str().expect("id");
    let second = s.ok(
        201,
        "POST",
        &format!("/v1/tenants/{id}/tokens"),
        &s.admin,
        Some(json!({})),
    );
    let second = second["secret"].as_str().expect("secret").to_owned();
    s.ok(
        200,
        "DELETE",
        &format!("/v1/tokens/{ta_tok}"),
        &second,
        None,
    );
    for (method, path) in [
        ("GET", "/v1/functions"),
        ("POST", "/v1/functions/api/invocations"),
    ] {
        let (st, v) = s.call(method, path, &ta, Some(json!({})));
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (401, Some("AuthFailure")),
            "{v}"
        );
    }
    s.ok(200, "GET", "/v1/functions/api", &second, None);
}
