//! Functions in the private network, end to end, with the real runtime clients:
//! the Secure Compute story (a function reaches a real PostgreSQL server in the
//! customer's VPC across the peering, only because the database's security group
//! allows the function's group; another port is blocked and `cove check` names the
//! rule; outbound traffic leaves from the NAT gateway's static IP) and the documented
//! failure results (handler error, timeout, crash, out of memory). The function
//! service (`cove serve`) is tested in `function_service.rs`.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`). Needs the
//! runtime clients (`scripts/install-runtimes.sh`, which `scripts/test.sh` runs) and
//! Debian's `postgresql`.

mod common;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use common::functions::{Background, deploy_python, runtimes_ready, slot_ips};
use common::{Deployment, check_blocked, invoke};
use serde_json::json;

fn postgres(ns: &str, ip: Ipv4Addr, dir: &std::path::Path) -> Background {
    let bin = PathBuf::from("/usr/lib/postgresql/15/bin");
    let data = dir.join("pgdata");
    std::fs::create_dir_all(&data).expect("pgdata");
    let chown = Process::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(dir)
        .status()
        .expect("chown");
    assert!(chown.success());
    let init = Process::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin.join("initdb"))
        .args(["-A", "trust", "-U", "postgres", "-D"])
        .arg(&data)
        .stdout(Stdio::null())
        .status()
        .expect("initdb");
    assert!(init.success(), "initdb failed");
    std::fs::write(
        data.join("pg_hba.conf"),
        "local all all trust\nhost all all 10.20.0.0/16 trust\n",
    )
    .expect("hba");
    let child = Process::new("ip")
        .args(["netns", "exec", ns, "runuser", "-u", "postgres", "--"])
        .arg(bin.join("postgres"))
        .arg("-D")
        .arg(&data)
        .args(["-c", &format!("listen_addresses={ip}"), "-c"])
        .arg(format!("unix_socket_directories={}", data.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("postgres");
    let pg = Background(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = Process::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("pg_isready"))
            .arg("-h")
            .arg(&data)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return pg;
        }
        assert!(Instant::now() < deadline, "postgres did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// An HTTP server in namespace `ns` on `ip:port` that answers with the client's address.
fn whoami_server(ns: &str, ip: Ipv4Addr, port: u16) -> Background {
    let script = format!(
        "import http.server\nclass H(http.server.BaseHTTPRequestHandler):\n  def do_GET(s):\n    b=s.client_address[0].encode()\n    s.send_response(200); s.send_header('Content-Length', str(len(b))); s.end_headers(); s.wfile.write(b)\n  def log_message(s,*a): pass\nhttp.server.HTTPServer(('{ip}', {port}), H).serve_forever()\n"
    );
    let child = Process::new("ip")
        .args(["netns", "exec", ns, "python3", "-c", &script])
        .spawn()
        .expect("http server");
    std::thread::sleep(Duration::from_millis(500));
    Background(child)
}

#[test]
fn secure_compute_story() {
    if !cove_probe::privileged("functions") || !runtimes_ready() {
        return;
    }
    let d = Deployment::new("fs");
    d.apply_example();
    let net = common::example_network();
    let db_ns = cove_plan::names::Names::new(&net, &d.prefix)
        .eni_ns(net.find_eni("prod/db-1").expect("db"));
    let work = tempfile::tempdir().expect("tmp");
    let _pg = postgres(&db_ns, Ipv4Addr::new(10, 30, 1, 10), work.path());

    deploy_python(
        &d,
        "api",
        &[
            "--subnets",
            "functions/private-a,functions/private-b",
            "--security-groups",
            "fn",
            "--concurrency",
            "2",
            "--timeout",
            "10",
        ],
    );
    // The same code, but in the VPC's default group, which the database does not allow.
    deploy_python(
        &d,
        "other",
        &[
            "--subnets",
            "functions/private-a",
            "--concurrency",
            "1",
            "--timeout",
            "10",
        ],
    );
    let ips = slot_ips(&d, "api");

    // 1. A real PostgreSQL session across the peering, from the function's own address.
    let (code, v) = invoke(
        &d,
        "api",
        &json!({"op": "pg", "dsn": "postgresql://postgres@10.30.1.10:5432/postgres"}),
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["one"], 1, "{v}");
    let client = v["client_addr"].as_str().expect("client address");
    assert!(
        ips.iter().any(|ip| ip == client),
        "{client} is not one of the function's slots {ips:?}"
    );

    // 2. Another port of the database host: dropped, and cove check says by what.
    let (_, v) = invoke(
        &d,
        "api",
        &json!({"op": "connect", "host": "10.30.1.10", "port": 6379, "timeout_ms": 1500}),
    );
    assert_eq!(v["result"], "timeout", "{v}");
    let why = check_blocked(&d, "fn:api", "prod/db-1", 6379);
    assert!(
        why.contains("blocked at network-acl-ingress by customer/prod/db"),
        "{why}"
    );

    // 3. A function whose security group the database does not allow: no session,
    //    and the analyzer names the database's group.
    let (_, v) = invoke(
        &d,
        "other",
        &json!({"op": "connect", "host": "10.30.1.10", "port": 5432, "timeout_ms": 1500}),
    );
    assert_eq!(v["result"], "timeout", "{v}");
    let why = check_blocked(&d, "fn:other", "prod/db-1", 5432);
    assert!(
        why.contains("blocked at security-group-ingress by customer/prod/db"),
        "{why}"
    );

    // 4. Outbound to a host on the internet: it arrives from a NAT gateway's static IP.
    let outside = format!("{}-outside", d.prefix);
    let host = net.internet_stand_in();
    let _web = whoami_server(&outside, host, 8080);
    let (code, v) = invoke(
        &d,
        "api",
        &json!({"op": "http", "url": format!("http://{host}:8080/")}),
    );
    assert_eq!(code, 0, "{v}");
    let seen = v["body"].as_str().expect("body");
    assert!(
        ["203.0.113.10", "203.0.113.11"].contains(&seen),
        "arrived from {seen}: {v}"
    );

    // 5. Each environment's Runtime API is its own: reachable on its loopback, not on
    //    another slot's address, not from the host.
    let (_, v) = invoke(
        &d,
        "api",
        &json!({"op": "connect", "host": "127.0.0.1", "port": 9001, "timeout_ms": 1500}),
    );
    assert_eq!(v["result"], "ok", "{v}");
    for ip in &ips {
        let (_, v) = invoke(
            &d,
            "api",
            &json!({"op": "connect", "host": ip, "port": 9001, "timeout_ms": 1000}),
        );
        assert_ne!(v["result"], "ok", "the Runtime API answered on {ip}: {v}");
    }
    assert!(
        std::net::TcpStream::connect_timeout(
            &"127.0.0.1:9001".parse().expect("addr"),
            Duration::from_millis(300)
        )
        .is_err(),
        "the host reaches a Runtime API"
    );

    // 6. What the function sees of itself.
    let (_, v) = invoke(&d, "api", &json!({"op": "echo"}));
    assert_eq!(v["function_name"], "api");
    assert_eq!(v["env"]["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001");
    assert_eq!(v["env"]["LAMBDA_TASK_ROOT"], "/var/task");
    assert_ne!(v["uid"], 0, "functions never run as root");
}

#[test]
fn failures_give_lambdas_results() {
    if !cove_probe::privileged("functions") || !runtimes_ready() {
        return;
    }
    let d = Deployment::new("ff");
    d.apply_example();
    deploy_python(
        &d,
        "f",
        &[
            "--subnets",
            "functions/private-a",
            "--security-groups",
            "fn",
            "--concurrency",
            "1",
            "--timeout",
            "2",
            "--memory",
            "128",
        ],
    );
    let (code, v) = invoke(&d, "f", &json!({"op": "error"}));
    assert_eq!(code, 5, "{v}");
    // `--log-type Tail` prints the invocation's log: the platform's lines and the
    // runtime's report of the exception.
    let out = d
        .cove()
        .args([
            "fn",
            "invoke",
            "f",
            "--log-type",
            "Tail",
            "--payload",
            r#"{"op":"error"}"#,
        ])
        .output()
        .expect("invoke");
    let tail = String::from_utf8_lossy(&out.stderr);
    assert!(
        tail.contains("START RequestId: ")
            && tail.contains("requested error")
            && tail.contains("REPORT RequestId: "),
        "{tail}"
    );
    // The runtime's own report of the exception is in the function's log.
    let logs = d.cove().args(["fn", "logs", "f"]).output().expect("logs");
    assert!(logs.status.success());
    assert!(
        String::from_utf8_lossy(&logs.stdout).contains("requested error"),
        "{}",
        String::from_utf8_lossy(&logs.stdout)
    );
    assert_eq!(v["errorType"], "FixtureError", "{v}");
    assert_eq!(v["errorMessage"], "requested error", "{v}");
    assert!(v["stackTrace"].is_array(), "{v}");

    let (code, v) = invoke(&d, "f", &json!({"op": "sleep", "ms": 5000}));
    assert_eq!(code, 5, "{v}");
    assert_eq!(v["errorType"], "Sandbox.Timedout", "{v}");
    let msg = v["errorMessage"].as_str().unwrap_or_default();
    assert!(msg.contains("Task timed out after 2.00 seconds"), "{v}");

    let (code, v) = invoke(&d, "f", &json!({"op": "exit", "code": 3}));
    assert_eq!(code, 5, "{v}");
    assert_eq!(v["errorType"], "Runtime.ExitError", "{v}");
    assert!(
        v["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("exit status 3"),
        "{v}"
    );

    let (code, v) = invoke(&d, "f", &json!({"op": "oom", "limit_mb": 4096}));
    assert_eq!(code, 5, "{v}");
    assert_eq!(v["errorType"], "Runtime.OutOfMemory", "{v}");

    // Each failure replaced the environment; the function still works.
    let (code, v) = invoke(&d, "f", &json!({"op": "echo"}));
    assert_eq!((code, &v["function_name"]), (0, &json!("f")), "{v}");
}
