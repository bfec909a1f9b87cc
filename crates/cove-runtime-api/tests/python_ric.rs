//! The official Python runtime interface client (`awslambdaric` 4.x, unmodified)
//! against the endpoint: a response round trip, a handler exception and an init error.
//! The client is installed by `scripts/install-test-python.sh` (run here when it is
//! missing, so `cargo test` alone suffices; it needs PyPI).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

use bytes::Bytes;
use common::{invocation, serve, within};
use cove_runtime_api::{InitFailure, InvokeOutcome, RuntimeApi};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

const HANDLER: &str = r#"
import json

def echo(event, context):
    return {"event": event, "request_id": context.aws_request_id,
            "arn": context.invoked_function_arn,
            "remaining_ms_positive": context.get_remaining_time_in_millis() > 0}

def fail(event, context):
    raise ValueError("boom: " + json.dumps(event))
"#;

/// Where the client is installed: `<target dir>/python-ric`, as the script puts it.
fn ric_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let dir = tmp.parent().unwrap().join("python-ric");
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-test-python.sh");
        let status = std::process::Command::new("bash")
            .arg(&script)
            .env("COVE_TEST_PYTHON_RIC", &dir)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(
            status.success(),
            "{} could not install awslambdaric into {}",
            script.display(),
            dir.display()
        );
        dir
    })
}

/// A handler directory and a running `python3 -m awslambdaric`; both go away on drop.
struct PythonRuntime {
    child: Child,
    dir: PathBuf,
}

impl PythonRuntime {
    fn start(api: &RuntimeApi, handler: &str, name: &str) -> PythonRuntime {
        let ric = ric_dir();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("cvapi-py-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("handler.py"), HANDLER).unwrap();
        let child = Command::new("python3")
            .args(["-m", "awslambdaric", handler])
            .current_dir(&dir)
            .env("AWS_LAMBDA_RUNTIME_API", api.local_addr().to_string())
            .env("PYTHONPATH", format!("{}:{}", ric.display(), dir.display()))
            .env("LAMBDA_TASK_ROOT", &dir)
            .env("AWS_LAMBDA_FUNCTION_NAME", &api.function().function_name)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        PythonRuntime { child, dir }
    }
}

impl Drop for PythonRuntime {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn json_of(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap()
}

fn far_deadline() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    u64::try_from(now.as_millis()).unwrap() + 600_000
}

#[tokio::test]
async fn python_echo_round_trip() {
    within(async {
        let api = serve();
        let _runtime = PythonRuntime::start(&api, "handler.echo", "echo");
        api.ready()
            .await
            .expect("the Python client asks for an invocation");
        for i in 0..3 {
            let id = format!("7c1d6f6e-0000-4000-8000-00000000000{i}");
            let mut inv = invocation(&id, &format!(r#"{{"hello":"world","n":{i}}}"#));
            inv.deadline_ms = far_deadline();
            match api.invoke(inv).await.unwrap() {
                InvokeOutcome::Response { body, content_type } => {
                    assert_eq!(content_type.as_deref(), Some("application/json"));
                    assert_eq!(
                        json_of(&body),
                        json!({
                            "event": {"hello": "world", "n": i},
                            "request_id": id,
                            "arn": "arn:aws:lambda:us-east-1:123456789012:function:echo",
                            "remaining_ms_positive": true
                        })
                    );
                }
                other => panic!("expected a response, got {other:?}"),
            }
        }
    })
    .await;
}

#[tokio::test]
async fn python_handler_exception() {
    within(async {
        let api = serve();
        let _runtime = PythonRuntime::start(&api, "handler.fail", "fail");
        api.ready().await.unwrap();
        let mut inv = invocation("5f0c8a3e-1111-4000-8000-000000000001", r#"{"x":1}"#);
        inv.deadline_ms = far_deadline();
        let InvokeOutcome::FunctionError { error_type, body } = api.invoke(inv).await.unwrap()
        else {
            panic!("expected a function error")
        };
        let body = json_of(&body);
        assert_eq!(body["errorMessage"], r#"boom: {"x": 1}"#);
        assert_eq!(body["errorType"], "ValueError");
        assert_eq!(body["requestId"], "5f0c8a3e-1111-4000-8000-000000000001");
        let stack = body["stackTrace"].as_array().expect("a stack trace");
        assert!(
            stack.iter().any(|line| line
                .as_str()
                .is_some_and(|l| l.contains("raise ValueError"))),
            "{stack:?}"
        );
        // The Python client names the exception class, which is no `Runtime.`/`Function.` type.
        assert_eq!(error_type, "Runtime.Unknown");
        // The runtime carries on with the next invocation.
        let mut inv = invocation("5f0c8a3e-1111-4000-8000-000000000002", "[]");
        inv.deadline_ms = far_deadline();
        assert!(matches!(
            api.invoke(inv).await,
            Ok(InvokeOutcome::FunctionError { .. })
        ));
    })
    .await;
}

#[tokio::test]
async fn python_init_error_for_a_missing_module() {
    within(async {
        let api = serve();
        let mut runtime = PythonRuntime::start(&api, "no_such_module.handler", "init");
        let Err(InitFailure::InitError { error_type, body }) = api.ready().await else {
            panic!("init must fail")
        };
        assert_eq!(error_type, "Runtime.ImportModuleError");
        let body = json_of(&body);
        assert_eq!(body["errorType"], "Runtime.ImportModuleError");
        assert_eq!(
            body["errorMessage"],
            "Unable to import module 'no_such_module': No module named 'no_such_module'"
        );
        let status = runtime.child.wait().await.unwrap();
        assert_eq!(
            status.code(),
            Some(1),
            "the client exits after posting the init error"
        );
        let InvokeOutcome::FunctionError {
            error_type,
            body: invoked,
        } = api.invoke(invocation("after-init", "{}")).await.unwrap()
        else {
            panic!("the invoke returns the init error")
        };
        assert_eq!(error_type, "Runtime.ImportModuleError");
        assert_eq!(json_of(&invoked), body);
    })
    .await;
}
