//! The function service (`cove serve`) end to end: concurrency and throttling,
//! warm reuse, a `kill -9` and a restart leaving nothing behind, Lambda's Invoke API
//! and function URLs, functions declared in the spec, idle reaping, and nothing left
//! after a function is removed.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`). Needs the
//! runtime clients (`scripts/install-runtimes.sh`, which `scripts/test.sh` runs).

mod common;

use std::time::{Duration, Instant};

use common::functions::{Background, deploy_python, fixture, http, http_with, runtimes_ready};
use common::{Deployment, invoke};
use serde_json::{Value, json};

/// `cove serve` for a deployment, on a free port; killed on drop.
struct Serve {
    child: Background,
    addr: std::net::SocketAddr,
}

fn serve(d: &Deployment) -> Serve {
    serve_with(d, &[])
}

fn serve_with(d: &Deployment, extra: &[&str]) -> Serve {
    let (child, addr) = common::functions::serve(d, extra);
    Serve { child, addr }
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
        .filter(|n| n.starts_with(&format!("{}-v-", d.prefix)))
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
    deploy_python(
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
            .contains("requesttoolargeexception"),
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
            .filter(|n| n.starts_with(&format!("{}-v-", d.prefix)))
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
    deploy_python(
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

#[test]
fn a_client_that_disconnects_does_not_leave_its_environment_busy() {
    if !cove_probe::privileged("functions") || !runtimes_ready() {
        return;
    }
    let d = Deployment::new("fd");
    d.apply_example();
    deploy_python(
        &d,
        "one",
        &[
            "--subnets",
            "functions/private-a",
            "--concurrency",
            "1",
            "--timeout",
            "30",
        ],
    );
    let s = serve(&d);
    let path = "/2015-03-31/functions/one/invocations";
    // Warm the one environment.
    let (status, _, _) = http(s.addr, "POST", path, br#"{"op":"echo"}"#);
    assert_eq!(status, 200);
    // A 1.5 s invocation whose client goes away after 300 ms.
    {
        use std::io::Write;
        let body = json!({"op": "sleep", "ms": 1500}).to_string();
        let mut c = std::net::TcpStream::connect(s.addr).expect("connect");
        write!(
            c,
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("send");
        std::thread::sleep(Duration::from_millis(300));
    }
    // Once it has run to its end, the environment takes the next invocation.
    std::thread::sleep(Duration::from_millis(2500));
    let (status, head, body) = http(s.addr, "POST", path, br#"{"op":"echo"}"#);
    assert_eq!(
        status,
        200,
        "the environment stayed busy: {head}{}",
        String::from_utf8_lossy(&body)
    );
}
