//! Functions through the API over real HTTP and a real store (SQLite and
//! PostgreSQL): code upload (limits, zip-slip, links), deploy / update / delete /
//! list / get as the tenant's spec, invoke and logs over a recording runner, quotas,
//! and every endpoint with the wrong tenant's token (404).

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use cove_api::runner::{
    FunctionKey, FunctionRunner, InvocationType, InvokeCall, Invoked, RunError, RunFuture, Running,
};
use serde_json::{Value, json};

use common::{Answer, Server};
use cove_testdb::{TestDb, both};

both!(
    uploads_are_checked_and_content_addressed,
    functions_are_the_tenants_spec,
    invoke_and_logs_go_to_the_runner_for_the_caller_only,
    another_tenant_sees_nothing_and_cannot_use_its_code,
);

/// Records every call; a payload containing `fail` is a function error; functions
/// named `pending*` are not running yet.
#[derive(Debug, Default)]
struct Recorder {
    calls: Mutex<Vec<InvokeCall>>,
    logs: Mutex<Vec<(FunctionKey, u64)>>,
    /// What it claims to run of each function.
    running: Mutex<Vec<(FunctionKey, Running)>>,
}

impl FunctionRunner for Recorder {
    fn running(&self, function: &FunctionKey) -> Option<Running> {
        self.running
            .lock()
            .expect("running")
            .iter()
            .find(|(k, _)| k == function)
            .map(|(_, r)| r.clone())
    }

    fn invoke(&self, call: InvokeCall) -> RunFuture<Invoked> {
        self.calls.lock().expect("calls").push(call.clone());
        Box::pin(async move {
            if call.function.name.starts_with("pending") {
                return Err(RunError {
                    status: 404,
                    code: "ResourceNotFoundException".into(),
                    message: "not here".into(),
                });
            }
            let failed = String::from_utf8_lossy(&call.payload).contains("fail");
            Ok(Invoked {
                payload: match call.kind {
                    InvocationType::Event => Vec::new(),
                    InvocationType::RequestResponse if failed => {
                        br#"{"errorMessage":"boom","errorType":"Exception"}"#.to_vec()
                    }
                    InvocationType::RequestResponse => format!(
                        r#"{{"tenant":"{}","function":"{}"}}"#,
                        call.function.tenant, call.function.name
                    )
                    .into_bytes(),
                },
                function_error: failed.then(|| "Unhandled".to_owned()),
                request_id: call.request_id,
            })
        })
    }

    fn logs(&self, function: FunctionKey, tail: u64) -> RunFuture<Vec<u8>> {
        self.logs
            .lock()
            .expect("logs")
            .push((function.clone(), tail));
        Box::pin(async move {
            Ok(format!(
                "START\nhello from {}/{}\nEND\n",
                function.tenant, function.name
            )
            .into_bytes())
        })
    }
}

/// A zip of `files` (name, contents); `link` adds a symbolic link (name, target).
fn zip(files: &[(&str, &str)], link: Option<(&str, &str)>) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut z = zip::ZipWriter::new(&mut buf);
    for (name, body) in files {
        z.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("entry");
        z.write_all(body.as_bytes()).expect("write");
    }
    if let Some((name, target)) = link {
        z.add_symlink(name, target, zip::write::SimpleFileOptions::default())
            .expect("link");
    }
    z.finish().expect("finish");
    buf.into_inner()
}

const HANDLER: &str = "def handler(event, context):\n    return event\n";

async fn upload(srv: &Server, token: &str, body: Vec<u8>) -> Answer {
    srv.send_raw(
        "POST",
        "/v1/functions/code",
        Some(token),
        body,
        &[("content-type", "application/zip")],
    )
    .await
    .0
}

async fn upload_ok(srv: &Server, token: &str, files: &[(&str, &str)]) -> String {
    let a = upload(srv, token, zip(files, None)).await;
    assert_eq!(a.status, 201, "{}", a.text);
    a.json["code"].as_str().expect("code").to_owned()
}

fn error_of(a: &Answer) -> (u16, String, String) {
    (
        a.status,
        a.code().to_owned(),
        a.json["error"]["field"].as_str().unwrap_or("").to_owned(),
    )
}

async fn start(db: TestDb) -> (Server, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let srv = Server::start_functions(db, rec.clone()).await;
    srv.pool(&["203.0.113.0/28"]).await;
    (srv, rec)
}

async fn network(srv: &Server, token: &str, name: &str, cidr: &str) -> Value {
    srv.ok(
        201,
        "POST",
        "/v1/connect/networks",
        token,
        Some(json!({ "name": name, "region": "us-east-1", "cidr": cidr })),
    )
    .await
}

fn function(name: &str, network: &str, code: &str) -> Value {
    json!({
        "name": name, "network": network, "runtime": "python3.11",
        "handler": "app.handler", "code": code,
    })
}

async fn uploads_are_checked_and_content_addressed(db: TestDb) {
    let (srv, _) = start(db).await;
    let (_, ta, _) = srv.tenant("alpha", None).await;
    let code = upload_ok(&srv, &ta, &[("app.py", HANDLER)]).await;
    let hex = code.strip_prefix("sha256:").expect("sha256:");
    assert_eq!(hex.len(), 64, "{code}");
    assert!(srv.code_store().join(hex).join("app.py").is_file());
    // The digest is the unpacked code's: the same files in another zip (another
    // order, an extra directory entry) are the same package.
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        z.start_file("app.py", stored).expect("entry");
        z.write_all(HANDLER.as_bytes()).expect("write");
        z.finish().expect("finish");
    }
    let again = upload(&srv, &ta, buf.into_inner()).await;
    assert_eq!(
        (again.status, again.json["code"].as_str()),
        (201, Some(code.as_str()))
    );
    // Bad packages: each names the body and says what to do; nothing is stored.
    let before = std::fs::read_dir(srv.code_store()).expect("store").count();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "no body"),
        ("not a zip", b"hello".to_vec(), "cannot be unpacked"),
        (
            "zip-slip",
            zip(&[("../../etc/cron.d/x", "boom")], None),
            "outside the archive",
        ),
        (
            "absolute",
            zip(&[("/etc/passwd", "boom")], None),
            "absolute path",
        ),
        (
            "escaping link",
            zip(
                &[("app.py", HANDLER)],
                Some(("secrets", "../../../etc/shadow")),
            ),
            "symbolic link",
        ),
        (
            "absolute link",
            zip(&[("app.py", HANDLER)], Some(("root", "/"))),
            "symbolic link",
        ),
    ];
    for (what, body, says) in cases {
        let a = upload(&srv, &ta, body).await;
        assert_eq!(
            (a.status, a.code(), a.json["error"]["field"].as_str()),
            (
                400,
                if what == "empty" {
                    "InvalidParameterValue"
                } else {
                    "InvalidParameterValueException"
                },
                Some("body")
            ),
            "{what}: {}",
            a.text
        );
        assert!(a.text.contains(says), "{what}: {}", a.text);
        assert!(
            !a.json["error"]["hint"].as_str().unwrap_or("").is_empty(),
            "{what}"
        );
    }
    // Over 250 MB unpacked (a small zip of zeros).
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        z.start_file("zeros", zip::write::SimpleFileOptions::default())
            .expect("entry");
        let mb = vec![0u8; 1 << 20];
        for _ in 0..251 {
            z.write_all(&mb).expect("write");
        }
        z.finish().expect("finish");
    }
    let a = upload(&srv, &ta, buf.into_inner()).await;
    assert_eq!(
        error_of(&a),
        (400, "InvalidParameterValueException".into(), "body".into())
    );
    assert!(
        a.text
            .contains("Unzipped size must be smaller than 262144000 bytes"),
        "{}",
        a.text
    );
    // Over 50 MB zipped.
    let a = upload(&srv, &ta, vec![b'x'; 52_428_801]).await;
    assert_eq!(
        error_of(&a),
        (413, "RequestEntityTooLargeException".into(), "body".into()),
        "{}",
        a.text
    );
    let after = std::fs::read_dir(srv.code_store()).expect("store").count();
    assert_eq!(
        before, after,
        "a refused package leaves nothing in the store"
    );
}

async fn functions_are_the_tenants_spec(db: TestDb) {
    let (srv, rec) = start(db).await;
    let (_, ta, _) = srv
        .tenant("alpha", Some(json!({ "functions": 3, "concurrency": 25 })))
        .await;
    let n = network(&srv, &ta, "web", "10.20.0.0/16").await;
    let net_id = n["id"].as_str().expect("id");
    let code = upload_ok(&srv, &ta, &[("app.py", HANDLER)]).await;
    let f = srv
        .ok(
            201,
            "POST",
            "/v1/functions",
            &ta,
            Some(function("api", "web", &code)),
        )
        .await;
    // Defaults: the network's private subnets, the VPC's default group.
    let private: Vec<Value> = n["subnets"]
        .as_array()
        .expect("subnets")
        .iter()
        .filter(|s| s["tier"] == "private")
        .map(|s| s["name"].clone())
        .collect();
    assert!(!private.is_empty());
    assert_eq!(f["subnets"], Value::Array(private));
    assert_eq!(f["security_groups"], json!([]));
    assert_eq!(f["network"], net_id);
    // One source of truth: the spec shows it, in the network's VPC.
    let spec = srv.ok(200, "GET", "/v1/spec", &ta, None).await;
    let vpc = &spec["vpcs"][0];
    assert_eq!(vpc["functions"][0]["name"], "api", "{spec}");
    assert_eq!(vpc["functions"][0]["code"], code.as_str());
    assert_eq!(srv.ok(200, "GET", "/v1/functions/api", &ta, None).await, f);
    // Pending until the function service runs exactly this code and configuration.
    assert_eq!(f["state"], "Pending");
    let key = FunctionKey {
        tenant: "alpha".into(),
        name: "api".into(),
    };
    let hex = code.strip_prefix("sha256:").expect("digest").to_owned();
    let runs = |memory_mb| Running {
        code_sha256: hex.clone(),
        memory_mb,
        timeout_s: 3,
        concurrency: 10,
    };
    rec.running
        .lock()
        .expect("running")
        .push((key.clone(), runs(128)));
    let active = srv.ok(200, "GET", "/v1/functions/api", &ta, None).await;
    assert_eq!(active["state"], "Active", "{active}");
    rec.running.lock().expect("running")[0].1 = runs(512);
    let stale = srv.ok(200, "GET", "/v1/functions", &ta, None).await;
    assert_eq!(stale[0]["state"], "Pending", "{stale}");
    // A function set with PUT /v1/spec is listed too.
    let mut spec2 = spec.clone();
    let mut g = spec["vpcs"][0]["functions"][0].clone();
    g["name"] = json!("worker");
    g["concurrency"] = json!(2);
    spec2["vpcs"][0]["functions"]
        .as_array_mut()
        .expect("functions")
        .push(g);
    srv.ok(200, "PUT", "/v1/spec", &ta, Some(spec2)).await;
    let list = srv.ok(200, "GET", "/v1/functions", &ta, None).await;
    let names: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(names, ["api", "worker"]);
    // Update: code and configuration.
    let code2 = upload_ok(
        &srv,
        &ta,
        &[("app.py", "def handler(e, c):\n    return 2\n")],
    )
    .await;
    let up = srv
        .ok(
            200,
            "PATCH",
            "/v1/functions/api",
            &ta,
            Some(json!({ "code": code2, "memory": 256, "environment": { "AB": "1" } })),
        )
        .await;
    assert_eq!(
        (up["code"].as_str(), up["memory"].as_str()),
        (Some(code2.as_str()), Some("256"))
    );
    assert_eq!(up["environment"], json!({ "AB": "1" }));
    // Bad inputs: the field and the fix, and nothing changes.
    let gen_before = srv.store.generations().await.expect("gen").0;
    let v = |rest: &str| format!("vpcs[{net_id}].functions[{rest}");
    let bad: Vec<(&str, &str, Value, u16, &str, String)> = vec![
        (
            "POST",
            "/v1/functions",
            function("api", "web", &code),
            409,
            "ResourceConflictException",
            "name".into(),
        ),
        (
            "POST",
            "/v1/functions",
            function("x", "nope", &code),
            404,
            "InvalidNetworkID.NotFound",
            "network".into(),
        ),
        (
            "POST",
            "/v1/functions",
            function("x", "", &code),
            400,
            "InvalidParameterValue",
            "network".into(),
        ),
        (
            "POST",
            "/v1/functions",
            json!({ "name": "x", "network": "web", "bogus": 1 }),
            400,
            "InvalidParameterValue",
            "bogus".into(),
        ),
        (
            "POST",
            "/v1/functions",
            json!({ "name": "x", "network": "web" }),
            400,
            "InvalidParameterValue",
            "runtime".into(),
        ),
        (
            "POST",
            "/v1/functions",
            json!({ "name": "x", "network": "web", "runtime": "cobol", "handler": "a.b", "code": code }),
            400,
            "ValidationException",
            v("x].runtime"),
        ),
        (
            "POST",
            "/v1/functions",
            function("x", "web", "/etc"),
            400,
            "",
            v("x].code"),
        ),
        (
            "POST",
            "/v1/functions",
            function("x", "web", &format!("sha256:{}", "0".repeat(64))),
            404,
            "ResourceNotFoundException",
            v("x].code"),
        ),
        (
            "PATCH",
            "/v1/functions/api",
            json!({ "memory": 5 }),
            400,
            "",
            v("api].memory"),
        ),
        (
            "PATCH",
            "/v1/functions/nope",
            json!({ "memory": 256 }),
            404,
            "ResourceNotFoundException",
            "name".into(),
        ),
    ];
    for (method, path, body, status, code_want, field) in bad {
        let a = srv.send(method, path, Some(&ta), Some(&body), None).await;
        let (st, c, fl) = error_of(&a);
        assert_eq!(st, status, "{method} {path} {body}: {}", a.text);
        if !code_want.is_empty() {
            assert_eq!(c, code_want, "{method} {path} {body}: {}", a.text);
        }
        if !field.is_empty() {
            assert_eq!(fl, field, "{method} {path} {body}: {}", a.text);
        }
        assert!(
            !a.json["error"]["hint"].as_str().unwrap_or("").is_empty(),
            "{}",
            a.text
        );
    }
    assert_eq!(
        srv.store.generations().await.expect("gen").0,
        gen_before,
        "nothing changed"
    );
    // Quotas (3 functions, 25 concurrency): a fourth function, or more concurrency.
    let mut third = function("third", "web", &code);
    third["concurrency"] = json!(1);
    srv.ok(201, "POST", "/v1/functions", &ta, Some(third)).await;
    let mut fourth = function("fourth", "web", &code);
    fourth["concurrency"] = json!(1);
    let a = srv
        .send("POST", "/v1/functions", Some(&ta), Some(&fourth), None)
        .await;
    assert_eq!(
        (a.status >= 400, a.code()),
        (true, "FunctionLimitExceeded"),
        "{}",
        a.text
    );
    let a = srv
        .send(
            "PATCH",
            "/v1/functions/api",
            Some(&ta),
            Some(&json!({ "concurrency": 23 })),
            None,
        )
        .await;
    assert_eq!(
        (a.status >= 400, a.code()),
        (true, "ConcurrencyLimitExceeded"),
        "{}",
        a.text
    );
    // Delete both: the spec's VPC entry goes too, so the network can be deleted.
    for name in ["api", "worker", "third"] {
        let a = srv
            .send(
                "DELETE",
                &format!("/v1/functions/{name}"),
                Some(&ta),
                None,
                None,
            )
            .await;
        assert_eq!(a.status, 204, "{}", a.text);
    }
    assert_eq!(
        srv.ok(200, "GET", "/v1/functions", &ta, None).await,
        json!([])
    );
    let a = srv
        .send("GET", "/v1/functions/api", Some(&ta), None, None)
        .await;
    assert_eq!(
        error_of(&a),
        (404, "ResourceNotFoundException".into(), "name".into())
    );
    let spec = srv.ok(200, "GET", "/v1/spec", &ta, None).await;
    assert_eq!(spec["vpcs"], json!([]), "{spec}");
    srv.ok(
        202,
        "DELETE",
        &format!("/v1/connect/networks/{net_id}"),
        &ta,
        None,
    )
    .await;
}

async fn invoke_and_logs_go_to_the_runner_for_the_caller_only(db: TestDb) {
    let (srv, rec) = start(db).await;
    let (_, ta, _) = srv.tenant("alpha", None).await;
    network(&srv, &ta, "web", "10.20.0.0/16").await;
    let code = upload_ok(&srv, &ta, &[("app.py", HANDLER)]).await;
    for name in ["api", "pending-one"] {
        srv.ok(
            201,
            "POST",
            "/v1/functions",
            &ta,
            Some(function(name, "web", &code)),
        )
        .await;
    }
    let inv = |name: &str, body: &str, kind: Option<&'static str>| {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(k) = kind {
            headers.push(("x-amz-invocation-type", k));
        }
        let path = format!("/v1/functions/{name}/invocations");
        let body = body.as_bytes().to_vec();
        let (srv, ta) = (&srv, ta.clone());
        async move { srv.send_raw("POST", &path, Some(&ta), body, &headers).await }
    };
    let (a, h) = inv("api", r#"{"x":1}"#, None).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json, json!({ "tenant": "alpha", "function": "api" }));
    assert!(h.get("x-amz-function-error").is_none());
    assert_eq!(
        h.get("x-amz-executed-version").map(|v| v.as_bytes()),
        Some(&b"$LATEST"[..])
    );
    let (a, h) = inv("api", r#"{"fail":1}"#, Some("RequestResponse")).await;
    assert_eq!(
        a.status, 200,
        "a function error is still 200, as Lambda: {}",
        a.text
    );
    assert_eq!(
        h.get("x-amz-function-error").map(|v| v.as_bytes()),
        Some(&b"Unhandled"[..])
    );
    assert_eq!(a.json["errorMessage"], "boom");
    let (a, _) = inv("api", r#"{"x":2}"#, Some("Event")).await;
    assert_eq!((a.status, a.text.as_str()), (202, ""));
    // Payloads up to Lambda's 6 MB pass (past the router's default limit); more is
    // refused before the runner.
    let big = format!("{{\"x\":\"{}\"}}", "a".repeat(3 << 20));
    let (a, _) = inv("api", &big, None).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let huge = format!("{{\"x\":\"{}\"}}", "a".repeat(7 << 20));
    let (a, _) = inv("api", &huge, None).await;
    assert_eq!(
        error_of(&a),
        (413, "RequestTooLargeException".into(), "body".into()),
        "{}",
        a.text
    );
    let (a, _) = inv("api", "{}", Some("Sometimes")).await;
    assert_eq!(
        error_of(&a),
        (
            400,
            "InvalidParameterValueException".into(),
            "X-Amz-Invocation-Type".into()
        )
    );
    let (a, _) = inv("pending-one", "{}", None).await;
    assert_eq!(
        error_of(&a),
        (409, "ResourceConflictException".into(), "name".into()),
        "{}",
        a.text
    );
    assert!(a.text.contains("Pending"), "{}", a.text);
    let (a, _) = inv("nope", "{}", None).await;
    assert_eq!(
        error_of(&a),
        (404, "ResourceNotFoundException".into(), "name".into())
    );
    {
        let calls = rec.calls.lock().expect("calls");
        let kinds: Vec<_> = calls
            .iter()
            .map(|c| (c.function.name.as_str(), c.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("api", InvocationType::RequestResponse),
                ("api", InvocationType::RequestResponse),
                ("api", InvocationType::Event),
                ("api", InvocationType::RequestResponse),
                ("pending-one", InvocationType::RequestResponse),
            ],
            "refused requests never reach the runner"
        );
        assert!(calls.iter().all(|c| c.function.tenant == "alpha"));
    }
    let (a, h) = srv
        .send_raw(
            "GET",
            "/v1/functions/api/logs?tail=100",
            Some(&ta),
            Vec::new(),
            &[],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(
        h["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/plain")
    );
    assert_eq!(a.text, "START\nhello from alpha/api\nEND\n");
    let a = srv
        .send("GET", "/v1/functions/nope/logs", Some(&ta), None, None)
        .await;
    assert_eq!(
        error_of(&a),
        (404, "ResourceNotFoundException".into(), "name".into())
    );
    assert_eq!(rec.logs.lock().expect("logs").len(), 1);
}

async fn another_tenant_sees_nothing_and_cannot_use_its_code(db: TestDb) {
    let (srv, rec) = start(db).await;
    let (_, ta, _) = srv.tenant("alpha", None).await;
    let (_, tb, _) = srv.tenant("bravo", None).await;
    network(&srv, &ta, "web", "10.20.0.0/16").await;
    let nb = network(&srv, &tb, "web", "10.30.0.0/16").await;
    let nb_id = nb["id"].as_str().expect("id").to_owned();
    let code_a = upload_ok(&srv, &ta, &[("app.py", HANDLER)]).await;
    srv.ok(
        201,
        "POST",
        "/v1/functions",
        &ta,
        Some(function("secret-fn", "web", &code_a)),
    )
    .await;
    // B, on every function endpoint, with A's function's name: not found, exactly
    // as a name nobody has.
    let requests: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", "/v1/functions/{}".into(), None),
        (
            "PATCH",
            "/v1/functions/{}".into(),
            Some(json!({ "memory": 256 })),
        ),
        ("DELETE", "/v1/functions/{}".into(), None),
        (
            "POST",
            "/v1/functions/{}/invocations".into(),
            Some(json!({})),
        ),
        ("GET", "/v1/functions/{}/logs".into(), None),
    ];
    for (method, path, body) in &requests {
        let theirs = srv
            .send(
                method,
                &path.replace("{}", "secret-fn"),
                Some(&tb),
                body.as_ref(),
                None,
            )
            .await;
        let nobodys = srv
            .send(
                method,
                &path.replace("{}", "no-such-fn"),
                Some(&tb),
                body.as_ref(),
                None,
            )
            .await;
        assert_eq!(
            error_of(&theirs),
            (404, "ResourceNotFoundException".into(), "name".into()),
            "{method} {path}: {}",
            theirs.text
        );
        assert_eq!(
            theirs.json["error"]["message"]
                .as_str()
                .map(|m| m.replace("secret-fn", "X")),
            nobodys.json["error"]["message"]
                .as_str()
                .map(|m| m.replace("no-such-fn", "X")),
            "{method} {path}"
        );
    }
    assert_eq!(
        srv.ok(200, "GET", "/v1/functions", &tb, None).await,
        json!([])
    );
    // B cannot deploy A's code, through the functions API or its spec; the answer is
    // the one for a digest nobody uploaded.
    let a = srv
        .send(
            "POST",
            "/v1/functions",
            Some(&tb),
            Some(&function("f", "web", &code_a)),
            None,
        )
        .await;
    let nobody = format!("sha256:{}", "f".repeat(64));
    let n = srv
        .send(
            "POST",
            "/v1/functions",
            Some(&tb),
            Some(&function("f", "web", &nobody)),
            None,
        )
        .await;
    assert_eq!(
        error_of(&a),
        (
            404,
            "ResourceNotFoundException".into(),
            format!("vpcs[{nb_id}].functions[f].code")
        ),
        "{}",
        a.text
    );
    assert_eq!(error_of(&a), error_of(&n));
    assert_eq!(
        a.json["error"]["message"]
            .as_str()
            .map(|m| m.replace(&code_a, "X")),
        n.json["error"]["message"]
            .as_str()
            .map(|m| m.replace(&nobody, "X"))
    );
    let spec = json!({ "vpcs": [{ "name": "web", "functions": [{
        "name": "f", "runtime": "python3.11", "handler": "app.handler", "code": code_a,
        "subnets": ["private-a"] }] }] });
    let a = srv
        .send("PUT", "/v1/spec", Some(&tb), Some(&spec), None)
        .await;
    assert_eq!(
        (a.status, a.code()),
        (404, "ResourceNotFoundException"),
        "{}",
        a.text
    );
    // Once B uploads the same code itself, it may use it (and sees the same digest:
    // content addressing tells nothing of who else has it).
    assert_eq!(upload_ok(&srv, &tb, &[("app.py", HANDLER)]).await, code_a);
    // Same name as A's function: B's own, invoked as B's.
    srv.ok(
        201,
        "POST",
        "/v1/functions",
        &tb,
        Some(function("secret-fn", "web", &code_a)),
    )
    .await;
    let (a, _) = srv
        .send_raw(
            "POST",
            "/v1/functions/secret-fn/invocations",
            Some(&tb),
            b"{}".to_vec(),
            &[],
        )
        .await;
    assert_eq!(
        a.json,
        json!({ "tenant": "bravo", "function": "secret-fn" }),
        "{}",
        a.text
    );
    let tenants: Vec<String> = rec
        .calls
        .lock()
        .expect("calls")
        .iter()
        .map(|c| c.function.tenant.clone())
        .collect();
    assert_eq!(tenants, ["bravo"]);
    // A's function is untouched.
    let mine = srv
        .ok(200, "GET", "/v1/functions/secret-fn", &ta, None)
        .await;
    assert_eq!(mine["memory"], Value::Null);
}
