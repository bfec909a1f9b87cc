//! Functions through the API over real HTTP and a real store (SQLite and
//! PostgreSQL): invoke and logs over a recording runner, and every endpoint with
//! the wrong tenant's token (404), another tenant's code refused.

mod common;

use serde_json::{Value, json};

use common::functions::*;
use cove_api::runner::InvocationType;
use cove_testdb::{TestDb, both};

both!(
    invoke_and_logs_go_to_the_runner_for_the_caller_only,
    another_tenant_sees_nothing_and_cannot_use_its_code,
);

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
