//! Functions through the API over real HTTP and a real store (SQLite and
//! PostgreSQL): code upload (limits, zip-slip, links), deploy / update / delete /
//! list / get as the tenant's spec, quotas. Invoke, logs and another tenant's view
//! are in `invoke.rs`.

mod common;

use std::io::Write;

use cove_api::runner::{FunctionKey, Running};
use serde_json::{Value, json};

use common::functions::*;
use cove_testdb::{TestDb, both};

both!(
    uploads_are_checked_and_content_addressed,
    functions_are_the_tenants_spec,
    fn_names_in_reachability_are_the_callers,
);

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

/// `fn:NAME` in a reachability query is the caller's function, never another
/// tenant's of the same name, and names none of the other tenant's objects.
async fn fn_names_in_reachability_are_the_callers(db: TestDb) {
    let (srv, _rec) = start(db).await;
    let (_, ta, _) = srv.tenant("alpha", None).await;
    let (_, tb, _) = srv.tenant("bravo", None).await;
    let (_, tc, _) = srv.tenant("charlie", None).await;
    network(&srv, &ta, "alpha-web", "10.20.0.0/16").await;
    network(&srv, &tb, "bravo-web", "10.30.0.0/16").await;
    network(&srv, &tc, "charlie-web", "10.40.0.0/16").await;
    for (tok, net) in [(&ta, "alpha-web"), (&tb, "bravo-web")] {
        let code = upload_ok(&srv, tok, &[("app.py", HANDLER)]).await;
        srv.ok(
            201,
            "POST",
            "/v1/functions",
            tok,
            Some(function("api", net, &code)),
        )
        .await;
    }
    let q = "/v1/reachability?from=fn:api&to=internet&protocol=tcp&port=443";
    for (tok, own, other) in [(&ta, "alpha", "bravo"), (&tb, "bravo", "alpha")] {
        let v = srv.ok(200, "GET", q, tok, None).await;
        let text = v.to_string();
        assert!(text.contains("shared-eni"), "{text}");
        assert!(!text.contains(other), "{own} sees {other}: {text}");
        assert!(!text.contains("10.20.") || own == "alpha", "{text}");
        assert!(!text.contains("10.30.") || own == "bravo", "{text}");
    }
    // A tenant without such a function: not found, as if no tenant had one.
    let none = srv.send("GET", q, Some(&tc), None, None).await;
    assert_eq!(none.status, 404, "{:?}", none.code());
}
