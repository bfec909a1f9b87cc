//! The runtime clients against a test Runtime API: every runtime's fixture answers a
//! sequence of invocations on one process (echo round trip with the context and the
//! environment, error shape, sleep, TCP connect ok/refused, HTTP GET, unknown op, exit
//! mid-invocation), and its broken variant reports an init error. Clients run with
//! cove's launch command and exact environment, as uid 65534 when run as root.
//!
//! The runtimes are installed by `scripts/install-runtimes.sh` (called once, a no-op
//! when up to date); these tests never skip.

mod common;

use std::net::TcpListener;

use cove_runtimes::Runtime;
use serde_json::{Value, json};

use common::harness::{FUNCTION_ARN, Harness, HttpServer, INVOCATION_WINDOW_MS, Posted};
use common::process::{
    FUNCTION_NAME, SANDBOX_UID, Staged, TIMEOUT, go_fixture, is_root, runtime_dir, spawn,
};

/// What a runtime's fixture is expected to answer.
struct Case {
    runtime: Runtime,
    handler: &'static str,
    /// `errorType` of the fixture's `FixtureError` and `UnknownOp`.
    error_type: &'static str,
    unknown_type: &'static str,
    /// `AWS_EXECUTION_ENV`, if set.
    execution_env: Option<&'static str>,
    /// Whether invocation errors carry `Lambda-Runtime-Function-Error-Type`.
    sends_error_type: bool,
}

fn post(harness: &Harness, client: &common::process::Client, what: &str) -> Posted {
    harness.next_post(TIMEOUT).unwrap_or_else(|| {
        panic!(
            "{:?} posted nothing for {what} within {TIMEOUT:?}; output:\n{}",
            client.argv,
            client.output()
        )
    })
}

fn invocation_path(harness: &Harness, index: usize, kind: &str) -> String {
    let served = harness.served();
    let id = &served
        .get(index)
        .unwrap_or_else(|| panic!("invocation {index} was not served: {served:?}"))
        .request_id;
    format!("/2018-06-01/runtime/invocation/{id}/{kind}")
}

fn response(harness: &Harness, client: &common::process::Client, index: usize) -> Value {
    let p = post(harness, client, &format!("invocation {index}"));
    assert_eq!(
        p.path,
        invocation_path(harness, index, "response"),
        "body: {}\noutput:\n{}",
        String::from_utf8_lossy(&p.body),
        client.output()
    );
    p.json()
}

/// An error post: its JSON body and its `Lambda-Runtime-Function-Error-Type` header.
fn error(
    harness: &Harness,
    client: &common::process::Client,
    index: usize,
) -> (Value, Option<String>) {
    let p = post(harness, client, &format!("invocation {index}"));
    assert_eq!(
        p.path,
        invocation_path(harness, index, "error"),
        "body: {}\noutput:\n{}",
        String::from_utf8_lossy(&p.body),
        client.output()
    );
    (
        p.json(),
        p.header("lambda-runtime-function-error-type")
            .map(str::to_owned),
    )
}

/// The error-type header, when sent, names the body's errorType; cove's own clients
/// (Go, Ruby, the provided fixture) always send it, awslambdaric and aws-lambda-ric
/// only for init errors.
fn check_error_header(case: &Case, body: &Value, header: Option<&str>) {
    match header {
        Some(h) => assert_eq!(Some(h), body["errorType"].as_str(), "{body}"),
        None => assert!(!case.sends_error_type, "no error-type header: {body}"),
    }
}

fn check_echo(case: &Case, staged: &Staged, harness: &Harness, sent: &Value, got: &Value) {
    let served = &harness.served()[0];
    let code = staged.code().display().to_string();
    assert_eq!(got["event"], *sent, "{got}");
    assert_eq!(got["function_name"], FUNCTION_NAME, "{got}");
    assert_eq!(got["memory_limit"], 256, "{got}");
    assert_eq!(got["request_id"], served.request_id.as_str(), "{got}");
    assert_eq!(got["invoked_function_arn"], FUNCTION_ARN, "{got}");
    let remaining = got["remaining_ms"].as_i64().expect("remaining_ms");
    let window = i64::try_from(INVOCATION_WINDOW_MS).expect("window");
    assert!(remaining > 0 && remaining <= window, "{got}");
    if is_root() {
        assert_eq!(got["uid"], SANDBOX_UID, "{got}");
        assert_eq!(got["gid"], SANDBOX_UID, "{got}");
    }
    assert_eq!(got["cwd"], code.as_str(), "{got}");
    let env = &got["env"];
    assert_eq!(env["LAMBDA_TASK_ROOT"], code.as_str(), "{got}");
    assert_eq!(
        env["LAMBDA_RUNTIME_DIR"],
        runtime_dir().display().to_string().as_str()
    );
    assert_eq!(env["AWS_LAMBDA_RUNTIME_API"], harness.addr().as_str());
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], FUNCTION_NAME);
    assert_eq!(env["_HANDLER"], case.handler);
    assert_eq!(env["TZ"], ":UTC");
    match case.execution_env {
        Some(v) => assert_eq!(env["AWS_EXECUTION_ENV"], v, "{got}"),
        None => assert!(env.get("AWS_EXECUTION_ENV").is_none(), "{got}"),
    }
}

/// A listener whose accept queue is full (backlog 0, never accepting, filled until a
/// connection attempt times out): the kernel drops further SYNs, so connecting to it
/// times out. Returns the listener and the connections that fill it, and its port.
fn full_listener() -> ((socket2::Socket, Vec<std::net::TcpStream>), u16) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let addr: std::net::SocketAddr = "127.0.0.1:0".parse().expect("addr");
    socket.bind(&addr.into()).expect("bind");
    socket.listen(0).expect("listen");
    let addr = socket
        .local_addr()
        .expect("local addr")
        .as_socket()
        .expect("inet");
    let mut fill = Vec::new();
    for _ in 0..16 {
        match std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(300)) {
            Ok(stream) => fill.push(stream),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return ((socket, fill), addr.port());
            }
            Err(e) => panic!("filling the accept queue: {e}"),
        }
    }
    panic!("the accept queue of a backlog-0 listener never filled");
}

/// Runs the whole sequence of operations through one client process.
fn exercise(case: &Case, staged: &Staged) {
    let open = TcpListener::bind("127.0.0.1:0").expect("bind the connect target");
    let open_port = open.local_addr().expect("addr").port();
    let refused_port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let http = HttpServer::start("hello from cove");
    let (_full, full_port) = full_listener();
    let events = [
        json!({"op": "echo", "payload": {"n": 1, "text": "héllo ✓", "list": [1, 2.5, null]}}),
        json!({"op": "error"}),
        json!({"op": "sleep", "ms": 50}),
        json!({"op": "connect", "host": "127.0.0.1", "port": open_port, "timeout_ms": 5000}),
        json!({"op": "connect", "host": "127.0.0.1", "port": refused_port, "timeout_ms": 5000}),
        json!({"op": "http", "url": http.url("/hello")}),
        json!({"op": "connect", "host": "127.0.0.1", "port": full_port, "timeout_ms": 300}),
        json!({"op": "oom", "limit_mb": 32}),
        json!({"op": "no-such-op"}),
        json!({"op": "exit", "code": 3}),
    ];
    let texts: Vec<String> = events.iter().map(Value::to_string).collect();
    let harness = Harness::start(&texts);
    let mut client = spawn(case.runtime, case.handler, staged, &harness.addr());

    let got = response(&harness, &client, 0);
    check_echo(case, staged, &harness, &events[0], &got);

    let (err, header) = error(&harness, &client, 1);
    check_error_header(case, &err, header.as_deref());
    assert_eq!(err["errorType"], case.error_type, "{err}");
    assert!(
        err["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("requested error")),
        "{err}"
    );

    assert_eq!(response(&harness, &client, 2), json!({"slept_ms": 50}));
    let ok = response(&harness, &client, 3);
    assert_eq!(ok["result"], "ok", "{ok}");
    let refused = response(&harness, &client, 4);
    assert_eq!(refused["result"], "refused", "{refused}");
    let got = response(&harness, &client, 5);
    assert_eq!(got["status"], 200, "{got}");
    assert_eq!(got["body"], "hello from cove", "{got}");

    let timeout = response(&harness, &client, 6);
    assert_eq!(timeout["result"], "timeout", "{timeout}");
    assert_eq!(response(&harness, &client, 7), json!({"allocated_mb": 32}));

    let (unknown, header) = error(&harness, &client, 8);
    check_error_header(case, &unknown, header.as_deref());
    assert_eq!(unknown["errorType"], case.unknown_type, "{unknown}");

    let status = client.wait();
    assert_eq!(
        status.code(),
        Some(3),
        "exit op; output:\n{}",
        client.output()
    );
    assert_eq!(harness.served().len(), events.len());
    drop(open);
}

/// Runs the broken handler: it must report an init error and serve nothing.
fn init_error(runtime: Runtime, handler: &str, staged: &Staged, error_type: &str) -> Value {
    let harness = Harness::start(&[json!({"op": "echo"}).to_string()]);
    let mut client = spawn(runtime, handler, staged, &harness.addr());
    let p = post(&harness, &client, "init");
    assert_eq!(
        p.path,
        "/2018-06-01/runtime/init/error",
        "output:\n{}",
        client.output()
    );
    let body = p.json();
    assert_eq!(body["errorType"], error_type, "{body}");
    assert!(body["errorMessage"].is_string(), "{body}");
    assert_eq!(
        p.header("lambda-runtime-function-error-type"),
        Some(error_type),
        "{body}"
    );
    let status = client.wait();
    assert!(!status.success(), "{status} after an init error");
    assert!(harness.served().is_empty(), "served after an init error");
    body
}

#[test]
fn python_invocations() {
    let staged = Staged::new("python", &["handler.py"]);
    exercise(
        &Case {
            runtime: Runtime::Python311,
            handler: "handler.handler",
            error_type: "FixtureError",
            unknown_type: "UnknownOp",
            execution_env: Some("AWS_Lambda_python3.11"),
            sends_error_type: false,
        },
        &staged,
    );
}

#[test]
fn python_init_error() {
    let staged = Staged::new("python", &["broken.py"]);
    let body = init_error(
        Runtime::Python311,
        "broken.handler",
        &staged,
        "Runtime.ImportModuleError",
    );
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("cove_fixture_module"))
    );
}

#[test]
fn node_invocations() {
    let staged = Staged::new("node", &["handler.mjs"]);
    exercise(
        &Case {
            runtime: Runtime::Nodejs20,
            handler: "handler.handler",
            error_type: "FixtureError",
            unknown_type: "UnknownOp",
            execution_env: Some("AWS_Lambda_nodejs20.x"),
            sends_error_type: false,
        },
        &staged,
    );
}

#[test]
fn node_init_error() {
    let staged = Staged::new("node", &["broken.cjs"]);
    init_error(
        Runtime::Nodejs20,
        "broken.handler",
        &staged,
        "Runtime.ImportModuleError",
    );
}

#[test]
fn ruby_invocations() {
    let staged = Staged::new("ruby", &["handler.rb"]);
    exercise(
        &Case {
            runtime: Runtime::Ruby31,
            handler: "handler.handler",
            error_type: "Function<FixtureError>",
            unknown_type: "Function<UnknownOp>",
            execution_env: Some("AWS_Lambda_ruby3.1"),
            sends_error_type: true,
        },
        &staged,
    );
}

#[test]
fn ruby_class_method_handler() {
    let staged = Staged::new("ruby", &["handler.rb"]);
    let harness = Harness::start(&[json!({"op": "echo"}).to_string()]);
    let client = spawn(
        Runtime::Ruby31,
        "handler.Fixture::Handler.call",
        &staged,
        &harness.addr(),
    );
    let got = response(&harness, &client, 0);
    assert_eq!(got["event"], json!({"op": "echo"}));
    assert_eq!(got["encoding"], "UTF-8", "{got}");
}

#[test]
fn ruby_init_error() {
    let staged = Staged::new("ruby", &["broken.rb"]);
    let body = init_error(
        Runtime::Ruby31,
        "broken.handler",
        &staged,
        "Init<LoadError>",
    );
    assert!(body["stackTrace"].is_array(), "{body}");
}

#[test]
fn go_invocations() {
    let staged = Staged::new("go", &[]);
    staged.add(go_fixture(), "handler", 0o755);
    exercise(
        &Case {
            runtime: Runtime::Go,
            handler: "handler",
            error_type: "FixtureError",
            unknown_type: "UnknownOp",
            execution_env: Some("AWS_Lambda_go1.x"),
            sends_error_type: true,
        },
        &staged,
    );
}

#[test]
fn go_falls_back_to_bootstrap() {
    let staged = Staged::new("go", &[]);
    staged.add(go_fixture(), "bootstrap", 0o755);
    let harness = Harness::start(&[json!({"op": "echo"}).to_string()]);
    let client = spawn(Runtime::Go, "main", &staged, &harness.addr());
    let got = response(&harness, &client, 0);
    assert_eq!(got["executable"], "bootstrap", "{got}");
}

#[test]
fn go_init_panic() {
    let staged = Staged::new("go", &[]);
    staged.add(go_fixture(), "broken", 0o755);
    let body = init_error(Runtime::Go, "broken", &staged, "FixtureInitError");
    let frames = body["stackTrace"]
        .as_array()
        .expect("a panic carries its stack");
    assert!(
        frames
            .iter()
            .any(|f| f["label"].as_str().is_some_and(|l| l.starts_with("main."))),
        "{body}"
    );
}

fn provided_bootstrap() -> &'static str {
    env!("CARGO_BIN_EXE_cove-fixture-provided")
}

#[test]
fn provided_invocations() {
    let staged = Staged::new("provided", &[]);
    staged.add(
        std::path::Path::new(provided_bootstrap()),
        "bootstrap",
        0o755,
    );
    exercise(
        &Case {
            runtime: Runtime::Provided,
            handler: "bootstrap",
            error_type: "FixtureError",
            unknown_type: "UnknownOp",
            execution_env: None,
            sends_error_type: true,
        },
        &staged,
    );
}

#[test]
fn provided_init_error() {
    let staged = Staged::new("provided", &[]);
    staged.add(
        std::path::Path::new(provided_bootstrap()),
        "bootstrap",
        0o755,
    );
    init_error(Runtime::Provided, "broken", &staged, "FixtureInitError");
}

/// The Go client's own unit tests (`runtimes/go/lambda`), plus gofmt and vet, so that
/// `cargo test` covers them.
#[test]
fn go_client_unit_tests() {
    runtime_dir(); // installs golang-go if needed
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../runtimes/go/lambda");
    let go = |args: &[&str]| {
        let out = std::process::Command::new(args[0])
            .args(&args[1..])
            .current_dir(&dir)
            .env("GOFLAGS", "-mod=mod")
            .env("GOPROXY", "off")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
        assert!(
            out.status.success(),
            "{args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(go(&["gofmt", "-l", "."]), "", "files need gofmt");
    go(&["go", "vet", "."]);
    let out = go(&["go", "test", "-count=1", "-v", "."]);
    assert!(
        out.contains("--- PASS: TestPanicIsReportedWithStackAndEndsTheLoop"),
        "{out}"
    );
    assert!(!out.contains("--- FAIL"), "{out}");
}
