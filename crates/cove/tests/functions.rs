//! Functions in the private network, end to end, with the real runtime clients:
//! the Secure Compute story (a function reaches a real PostgreSQL server in the
//! customer's VPC across the peering, only because the database's security group
//! allows the function's group; another port is blocked and `cove check` names the
//! rule; outbound traffic leaves from the NAT gateway's static IP), the documented
//! failure results (handler error, timeout, crash, out of memory), concurrency and
//! throttling through `cove serve`, and nothing left behind.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`). Needs the
//! runtime clients (`scripts/install-runtimes.sh`, which `scripts/test.sh` runs) and
//! Debian's `postgresql`.

mod common;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use common::{Deployment, check_blocked, invoke};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(runtime: &str) -> PathBuf {
    repo().join("crates/cove-runtimes/fixtures").join(runtime)
}

/// The runtime clients must be installed; under CI a missing install is a failure.
fn runtimes_ready() -> bool {
    let dir = cove_runtimes::fs::runtime_dir();
    let ok = dir.join("python/awslambdaric").is_dir() && dir.join("python/pg8000").is_dir();
    assert!(
        ok || std::env::var("CI").as_deref() != Ok("true"),
        "runtime clients missing in {}: run scripts/install-runtimes.sh",
        dir.display()
    );
    ok
}

fn deploy(d: &Deployment, name: &str, extra: &[&str]) {
    common::deploy(
        d,
        name,
        "python3.11",
        "handler.handler",
        &fixture("python"),
        extra,
    );
}

/// A process killed on drop.
struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A PostgreSQL server on `ip` inside namespace `ns`, trusting the platform VPC.
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

fn slot_ips(d: &Deployment, name: &str) -> Vec<String> {
    let out = d
        .cove()
        .args(["fn", "list", "--json"])
        .output()
        .expect("list");
    let fns: Value = serde_json::from_slice(&out.stdout).expect("json");
    fns.as_array()
        .expect("array")
        .iter()
        .find(|f| f["name"] == name)
        .expect("function listed")["slot_ips"]
        .as_array()
        .expect("ips")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect()
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

    deploy(
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
    deploy(
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
    deploy(
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

/// `cove serve` for a deployment, on a free port; killed on drop.
struct Serve {
    child: Background,
    addr: std::net::SocketAddr,
}

fn serve(d: &Deployment) -> Serve {
    serve_with(d, &[])
}

fn serve_with(d: &Deployment, extra: &[&str]) -> Serve {
    let bin = assert_cmd::cargo::cargo_bin("cove");
    let addr_file = d.state.path().join(&d.prefix).join("serve.addr");
    let _ = std::fs::remove_file(&addr_file);
    let child = Process::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env("COVE_PREFIX", &d.prefix)
        .env("COVE_STATE_DIR", d.state.path())
        .stdout(Stdio::null())
        .spawn()
        .expect("cove serve");
    let child = Background(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(addr) = std::fs::read_to_string(&addr_file)
            .ok()
            .and_then(|a| a.trim().parse().ok())
        {
            return Serve { child, addr };
        }
        assert!(Instant::now() < deadline, "cove serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One HTTP/1.1 request → (status, headers, body).
fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    http_with(addr, method, path, "", body)
}

/// [`http`] with extra header lines (each ending in `\r\n`).
fn http_with(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .expect("write");
    s.write_all(body).expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    (status, head, raw[split + 4..].to_vec())
}

/// Distinct environment cgroups of the deployment.
fn environments(d: &Deployment) -> std::collections::BTreeSet<String> {
    d.cgroups()
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect()
}

/// Processes inside the deployment's function slots.
fn environment_processes(d: &Deployment) -> usize {
    use std::os::unix::fs::MetadataExt;
    let slots: std::collections::BTreeSet<(u64, u64)> = d
        .namespaces()
        .iter()
        .filter(|n| n.starts_with(&format!("{}-f-", d.prefix)))
        .filter_map(|n| std::fs::metadata(format!("/run/netns/{n}")).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect();
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
                .filter_map(|e| std::fs::metadata(e.path().join("ns/net")).ok())
                .filter(|m| slots.contains(&(m.dev(), m.ino())))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn concurrency_throttling_and_no_leaks() {
    if !cove_probe::privileged("functions") || !runtimes_ready() {
        return;
    }
    let d = Deployment::new("fc");
    d.apply_example();
    deploy(
        &d,
        "slow",
        &[
            "--subnets",
            "functions/private-a,functions/private-b",
            "--security-groups",
            "fn",
            "--concurrency",
            "50",
            "--timeout",
            "60",
        ],
    );
    let s = serve(&d);
    let invoke_path = "/2015-03-31/functions/slow/invocations";

    // 50 concurrent invocations: 50 environments, every one answers.
    let sleep = json!({"op": "sleep", "ms": 8000}).to_string();
    let workers: Vec<_> = (0..50)
        .map(|_| {
            let body = sleep.clone();
            let addr = s.addr;
            std::thread::spawn(move || http(addr, "POST", invoke_path, body.as_bytes()))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while environments(&d).len() < 50 {
        assert!(
            Instant::now() < deadline,
            "only {} environments started",
            environments(&d).len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The 51st while all 50 are busy: throttled as Lambda does.
    let (status, head, body) = http(s.addr, "POST", invoke_path, sleep.as_bytes());
    assert_eq!(status, 429, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("x-amzn-errortype: toomanyrequestsexception"),
        "{head}"
    );
    let err: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        err["Reason"],
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
    for w in workers {
        let (status, head, body) = w.join().expect("worker");
        assert_eq!(status, 200, "{head}");
        let v: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["slept_ms"], 8000, "{v}");
    }
    assert_eq!(environments(&d).len(), 50, "warm environments are kept");

    // Warm: another round reuses them (no new environment).
    let before = environments(&d);
    let (status, _, _) = http(s.addr, "POST", invoke_path, br#"{"op":"echo"}"#);
    assert_eq!(status, 200);
    assert_eq!(environments(&d), before);

    // kill -9 of cove: the environments outlive it, and the next cove removes them.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(s.child.0.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("kill");
    drop(s);
    assert_eq!(environments(&d).len(), 50);
    let s = serve(&d);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !environments(&d).is_empty() || environment_processes(&d) > 0 {
        assert!(
            Instant::now() < deadline,
            "leftovers of the killed cove were not removed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, _, body) = http(s.addr, "POST", invoke_path, br#"{"op":"echo"}"#);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));

    // A clean stop ends every environment.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(s.child.0.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("term");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !environments(&d).is_empty() || environment_processes(&d) > 0 {
        assert!(
            Instant::now() < deadline,
            "environments left after cove serve stopped"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(s);
}

#[test]
fn invoke_api_and_function_urls() {
    if !cove_probe::privileged("functions") || !runtimes_ready() {
        return;
    }
    let d = Deployment::new("fu");
    d.apply_example();
    let code = tempfile::tempdir().expect("code");
    std::fs::write(
        code.path().join("web.py"),
        "import json\n\
         def handler(event, context):\n\
         \x20   return {'statusCode': 201, 'headers': {'x-from': 'cove'}, 'cookies': ['a=1'],\n\
         \x20           'body': json.dumps({'path': event['rawPath'], 'q': event.get('queryStringParameters'),\n\
         \x20                               'method': event['requestContext']['http']['method'], 'body': event.get('body'),\n\
         \x20                               'version': event['version']})}\n",
    )
    .expect("code");
    let out = d
        .cove()
        .args([
            "fn",
            "deploy",
            "web",
            "--runtime",
            "python3.11",
            "--handler",
            "web.handler",
        ])
        .arg("--code")
        .arg(code.path())
        .args([
            "--subnets",
            "functions/private-a",
            "--security-groups",
            "fn",
            "--concurrency",
            "2",
        ])
        .output()
        .expect("deploy");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = serve(&d);

    // A function URL: the request becomes a payload-2.0 event, the answer the response.
    let (status, head, body) = http(s.addr, "POST", "/url/web/orders/7?x=1&x=2", b"hello");
    assert_eq!(status, 201, "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains("x-from: cove") && lower.contains("set-cookie: a=1"),
        "{head}"
    );
    let v: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        v,
        json!({"path": "/orders/7", "q": {"x": "1,2"}, "method": "POST", "body": "hello", "version": "2.0"})
    );

    // The Invoke API's answers and errors, as Lambda gives them.
    let (status, head, body) = http(s.addr, "GET", "/2015-03-31/functions/", b"");
    assert_eq!(status, 200, "{head}");
    let list: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(list["Functions"][0]["FunctionName"], "web");
    assert_eq!(
        list["Functions"][0]["VpcConfig"]["SubnetIds"],
        json!(["private-a"])
    );
    let (status, head, _) = http(
        s.addr,
        "POST",
        "/2015-03-31/functions/nope/invocations",
        b"{}",
    );
    assert_eq!(status, 404);
    assert!(
        head.to_ascii_lowercase()
            .contains("x-amzn-errortype: resourcenotfoundexception"),
        "{head}"
    );
    let (status, head, _) = http(
        s.addr,
        "POST",
        "/2015-03-31/functions/web/invocations",
        b"{not json",
    );
    assert_eq!(status, 400, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("invalidrequestcontentexception"),
        "{head}"
    );
    let big = vec![b' '; 6 * 1024 * 1024 + 1];
    let (status, head, _) = http(
        s.addr,
        "POST",
        "/2015-03-31/functions/web/invocations",
        &big,
    );
    assert_eq!(status, 413, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("requestentitytoolargeexception"),
        "{head}"
    );
    let (status, head, body) = http(
        s.addr,
        "POST",
        "/2015-03-31/functions/web/invocations",
        br#"{"rawPath":"/","requestContext":{"http":{"method":"GET"}},"version":"1"}"#,
    );
    assert_eq!(status, 200, "{head}");
    assert!(
        head.contains("X-Amz-Executed-Version: $LATEST")
            || head
                .to_ascii_lowercase()
                .contains("x-amz-executed-version: $latest"),
        "{head}"
    );
    let v: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(v["statusCode"], 201, "{v}");
    // Asynchronous and dry-run invocations.
    let path = "/2015-03-31/functions/web/invocations";
    let event = br#"{"rawPath":"/","requestContext":{"http":{"method":"GET"}},"version":"1"}"#;
    let (status, head, body) = http_with(
        s.addr,
        "POST",
        path,
        "X-Amz-Invocation-Type: Event\r\n",
        event,
    );
    assert_eq!((status, body.len()), (202, 0), "{head}");
    let (status, head, _) = http_with(
        s.addr,
        "POST",
        path,
        "X-Amz-Invocation-Type: DryRun\r\n",
        b"{}",
    );
    assert_eq!(status, 204, "{head}");
    let (status, head, _) = http_with(
        s.addr,
        "POST",
        path,
        "X-Amz-Invocation-Type: Sometimes\r\n",
        b"{}",
    );
    assert_eq!(status, 400, "{head}");
    // The end of the invocation's log, as `aws lambda invoke --log-type Tail` gets it.
    let (status, head, _) = http_with(s.addr, "POST", path, "X-Amz-Log-Type: Tail\r\n", event);
    assert_eq!(status, 200, "{head}");
    let b64 = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("x-amz-log-result"))
        })
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no X-Amz-Log-Result: {head}"));
    let log = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64")
    };
    let log = String::from_utf8_lossy(&log);
    for line in [
        "START RequestId: ",
        "END RequestId: ",
        "REPORT RequestId: ",
        "Memory Size: 128 MB",
    ] {
        assert!(log.contains(line), "{line} missing in {log}");
    }
}

#[test]
fn functions_declared_in_the_spec_and_nothing_left_after_delete() {
    if !cove_probe::privileged("functions") || !runtimes_ready() {
        return;
    }
    let d = Deployment::new("fd");
    let dir = tempfile::tempdir().expect("spec dir");
    let code = dir.path().join("code");
    std::fs::create_dir_all(&code).expect("code");
    std::fs::copy(
        fixture("python").join("handler.py"),
        code.join("handler.py"),
    )
    .expect("copy");
    let example = std::fs::read_to_string(common::example()).expect("example");
    let anchor = "          - { name: fn-b, subnet: private-b, security_groups: [fn] }\n";
    let with_fn = example.replacen(
        anchor,
        &format!("{anchor}        functions:\n          - {{ name: declared, runtime: python3.11, handler: handler.handler, code: code, subnets: [private-b], security_groups: [fn], concurrency: 2 }}\n"),
        1,
    );
    let spec = dir.path().join("spec.yaml");
    std::fs::write(&spec, &with_fn).expect("spec");
    let apply = |d: &Deployment| {
        let out = d
            .cove()
            .args(["apply", "-f"])
            .arg(&spec)
            .output()
            .expect("apply");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    apply(&d);
    assert!(
        apply(&d).contains("nothing to change"),
        "applying twice changes nothing"
    );
    let slots = |d: &Deployment| {
        d.namespaces()
            .iter()
            .filter(|n| n.starts_with(&format!("{}-f-", d.prefix)))
            .count()
    };
    assert_eq!(slots(&d), 2);
    let (code_, v) = invoke(&d, "declared", &json!({"op": "echo"}));
    assert_eq!(code_, 0, "{v}");

    // Idle environments are reaped by cove serve.
    let s = serve_with(&d, &["--idle-timeout", "1"]);
    let (status, _, _) = http(
        s.addr,
        "POST",
        "/2015-03-31/functions/declared/invocations",
        br#"{"op":"echo"}"#,
    );
    assert_eq!(status, 200);
    assert_eq!(environments(&d).len(), 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !environments(&d).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the idle environment was not reaped"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, _, _) = http(
        s.addr,
        "POST",
        "/2015-03-31/functions/declared/invocations",
        br#"{"op":"echo"}"#,
    );
    assert_eq!(status, 200, "a new environment after reaping");
    assert_eq!(environments(&d).len(), 1);

    // Removing the function from the spec removes its slots and its environments.
    std::fs::write(&spec, &example).expect("spec");
    apply(&d);
    assert_eq!(slots(&d), 0);
    assert!(environments(&d).is_empty(), "{:?}", environments(&d));
    assert_eq!(environment_processes(&d), 0);
    drop(s);

    // Same for `cove fn delete`.
    deploy(
        &d,
        "gone",
        &["--subnets", "functions/private-a", "--concurrency", "1"],
    );
    let (code_, _) = invoke(&d, "gone", &json!({"op": "echo"}));
    assert_eq!(code_, 0);
    let out = d
        .cove()
        .args(["fn", "delete", "gone"])
        .output()
        .expect("delete");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(slots(&d), 0);
    assert!(environments(&d).is_empty());
    let out = d
        .cove()
        .args(["fn", "delete", "gone"])
        .output()
        .expect("delete");
    assert_eq!(
        out.status.code(),
        Some(2),
        "deleting twice is an input error"
    );
}
