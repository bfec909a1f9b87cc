//! Issue 10's two tenants through the API of a real `cove serve` alone (real HTTP,
//! real kernel, real traffic), under prefixes `cvhf…`: A's network and static IPs,
//! B's database ENI (PUT /v1/spec) with a TCP server in its namespace, a peering
//! requested by A and accepted by B, A's function reaching the database across it
//! and the internet from one of A's static IPs, every endpoint with the wrong
//! tenant's token (404), and a revoked token (401); on SQLite and PostgreSQL.

mod common;

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command as Process;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::Deployment;
use common::api_serve::{GUARD, Serve, deployment, zip_dir};
use common::functions::{Background, fixture, runtimes_ready};

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
    // A fresh database of the throwaway server (`COVE_TEST_POSTGRES_URL`), dropped
    // with the test.
    let db = cove_testdb::TestDb::postgres_blocking();
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
