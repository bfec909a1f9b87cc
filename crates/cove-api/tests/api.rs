//! The API end to end over real HTTP (127.0.0.1:0) and a real store, each test
//! against SQLite and PostgreSQL: tokens, idempotency, errors, quotas, the audit
//! log, OpenAPI, bootstrap, concurrent writers (a network's lifecycle:
//! `network_lifecycle.rs`).

mod common;

use std::collections::BTreeSet;

use cove_store::Generation;
use serde_json::json;

use common::Server;
use cove_testdb::{TestDb, both};

both!(
    tokens_are_checked_and_revocation_is_immediate,
    idempotency_replays_and_refuses_another_body,
    errors_quotas_and_validation,
    audit_log_has_who_and_generations,
    openapi_lists_every_route,
    bootstrap_writes_the_admin_token_once,
    concurrent_writers_all_succeed,
    a_server_with_stale_reads_sees_its_own_changes_at_once,
);

async fn tokens_are_checked_and_revocation_is_immediate(db: TestDb) {
    let srv = Server::start(db).await;
    let (t, secret, tok_id) = srv.tenant("alpha", None).await;
    srv.ok(200, "GET", "/v1/connect/networks", &secret, None)
        .await;
    for (token, why) in [
        (None, "no token"),
        (
            Some("cove_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            "unknown",
        ),
        (Some("not-a-token"), "garbage"),
    ] {
        let a = srv
            .send("GET", "/v1/connect/networks", token, None, None)
            .await;
        assert_eq!(a.status, 401, "{why}: {}", a.text);
        assert_eq!(a.code(), "AuthFailure", "{why}");
        assert_eq!(a.json["error"]["request_id"], a.request_id.as_str());
    }
    // A tenant makes a second token for itself and revokes the first.
    let id = t["id"].as_str().expect("id");
    let second = srv
        .ok(
            201,
            "POST",
            &format!("/v1/tenants/{id}/tokens"),
            &secret,
            Some(json!({})),
        )
        .await;
    let second = second["secret"].as_str().expect("secret").to_owned();
    let revoked = srv
        .ok(
            200,
            "DELETE",
            &format!("/v1/tokens/{tok_id}"),
            &second,
            None,
        )
        .await;
    assert!(revoked["revoked_at"].is_number(), "{revoked}");
    let a = srv
        .send("GET", "/v1/connect/networks", Some(&secret), None, None)
        .await;
    assert_eq!((a.status, a.code()), (401, "AuthFailure"), "{}", a.text);
    srv.ok(200, "GET", "/v1/connect/networks", &second, None)
        .await;
    // An expired token.
    let past = srv
        .ok(
            201,
            "POST",
            &format!("/v1/tenants/{id}/tokens"),
            &srv.admin,
            Some(json!({ "expires_at": 4_000_000_000u64 })),
        )
        .await;
    assert_eq!(past["token"]["expires_at"], 4_000_000_000u64);
    // The admin token is refused on tenant endpoints, a tenant on admin ones.
    let a = srv
        .send("GET", "/v1/connect/networks", Some(&srv.admin), None, None)
        .await;
    assert_eq!((a.status, a.code()), (403, "UnauthorizedOperation"));
    let a = srv
        .send("GET", "/v1/tenants", Some(&second), None, None)
        .await;
    assert_eq!((a.status, a.code()), (403, "UnauthorizedOperation"));
    // Public routes need no token.
    assert_eq!(
        srv.send("GET", "/healthz", None, None, None).await.status,
        200
    );
}

async fn idempotency_replays_and_refuses_another_body(db: TestDb) {
    let srv = Server::start(db).await;
    srv.pool(&["203.0.113.0/29"]).await;
    let (_, ta, _) = srv.tenant("alpha", None).await;
    let (_, tb, _) = srv.tenant("bravo", None).await;
    let body = json!({ "name": "n1", "region": "us-east-1" });
    let first = srv
        .send(
            "POST",
            "/v1/connect/networks",
            Some(&ta),
            Some(&body),
            Some("k-1"),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert!(!first.replayed);
    let again = srv
        .send(
            "POST",
            "/v1/connect/networks",
            Some(&ta),
            Some(&body),
            Some("k-1"),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert!(again.replayed, "the second answer is the stored one");
    assert_eq!(
        again.json, first.json,
        "same key, same body: the first answer"
    );
    let list = srv.ok(200, "GET", "/v1/connect/networks", &ta, None).await;
    assert_eq!(list.as_array().expect("list").len(), 1, "created once");
    let other = json!({ "name": "n2", "region": "us-east-1" });
    let mism = srv
        .send(
            "POST",
            "/v1/connect/networks",
            Some(&ta),
            Some(&other),
            Some("k-1"),
        )
        .await;
    assert_eq!(
        (mism.status, mism.code()),
        (409, "IdempotentParameterMismatch"),
        "{}",
        mism.text
    );
    assert_eq!(mism.json["error"]["field"], "Idempotency-Key");
    // Keys are per tenant: B's k-1 is its own.
    let b = srv
        .send(
            "POST",
            "/v1/connect/networks",
            Some(&tb),
            Some(&other),
            Some("k-1"),
        )
        .await;
    assert_eq!(b.status, 201, "{}", b.text);
    assert!(!b.replayed);
    assert!(!b.text.contains(first.json["id"].as_str().expect("id")));
    // A refused request is not kept: the same key runs again.
    let bad = json!({ "name": "n3", "region": "nowhere" });
    let r1 = srv
        .send(
            "POST",
            "/v1/connect/networks",
            Some(&ta),
            Some(&bad),
            Some("k-2"),
        )
        .await;
    assert_eq!(r1.status, 400, "{}", r1.text);
    let r2 = srv
        .send(
            "POST",
            "/v1/connect/networks",
            Some(&ta),
            Some(&bad),
            Some("k-2"),
        )
        .await;
    assert_eq!(r2.status, 400);
    assert!(!r2.replayed);
    // DELETE with a key replays too.
    let id = first.json["id"].as_str().expect("id");
    let d1 = srv
        .send(
            "DELETE",
            &format!("/v1/connect/networks/{id}"),
            Some(&ta),
            None,
            Some("k-3"),
        )
        .await;
    assert_eq!(d1.status, 202, "{}", d1.text);
    let d2 = srv
        .send(
            "DELETE",
            &format!("/v1/connect/networks/{id}"),
            Some(&ta),
            None,
            Some("k-3"),
        )
        .await;
    assert_eq!((d2.status, d2.replayed), (202, true));
    let bad_key = srv
        .send(
            "POST",
            "/v1/connect/networks",
            Some(&ta),
            Some(&body),
            Some("has space"),
        )
        .await;
    assert_eq!(
        (bad_key.status, bad_key.code()),
        (400, "InvalidParameterValue")
    );
}

async fn errors_quotas_and_validation(db: TestDb) {
    let srv = Server::start(db).await;
    srv.pool(&["203.0.113.0/29"]).await;
    let (_, ta, _) = srv.tenant("alpha", Some(json!({ "networks": 1 }))).await;
    let n = srv
        .ok(
            201,
            "POST",
            "/v1/connect/networks",
            &ta,
            Some(json!({ "name": "one", "region": "us-east-1" })),
        )
        .await;
    let over = srv
        .send(
            "POST",
            "/v1/connect/networks",
            Some(&ta),
            Some(&json!({ "name": "two", "region": "us-east-1" })),
            None,
        )
        .await;
    assert_eq!(
        (over.status, over.code()),
        (400, "NetworkLimitExceeded"),
        "{}",
        over.text
    );
    let e = &over.json["error"];
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(e["hint"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(e["request_id"], over.request_id.as_str());
    // A bad field is named.
    let (_, tb, _) = srv.tenant("bravo", None).await;
    let bad = srv
        .send(
            "POST",
            "/v1/connect/networks",
            Some(&tb),
            Some(&json!({ "name": "x", "region": "us-east-1", "cidr": "8.8.0.0/16" })),
            None,
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert_eq!(bad.json["error"]["field"], "cidr", "{}", bad.text);
    let unknown = srv
        .send(
            "PUT",
            "/v1/ip-pool",
            Some(&srv.admin),
            Some(&json!({ "blox": [] })),
            None,
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (400, "InvalidParameterValue")
    );
    assert_eq!(unknown.json["error"]["field"], "blox", "{}", unknown.text);
    // The spec: the same codes as `cove validate`, paths relative to the document.
    let spec = json!({ "vpcs": [{
        "name": "one",
        "security_groups": [{ "name": "sg" }],
        "enis": [{ "name": "db", "subnet": "nowhere", "security_groups": ["sg"] }],
    }]});
    let s = srv
        .send("PUT", "/v1/spec", Some(&ta), Some(&spec), None)
        .await;
    assert_eq!(s.status, 400, "{}", s.text);
    let field = s.json["error"]["field"].as_str().expect("field");
    assert!(
        field.starts_with("vpcs[one]") && field.contains("subnet"),
        "{field}"
    );
    assert!(!s.text.contains("tenants["), "{}", s.text);
    let typo = srv
        .send(
            "PUT",
            "/v1/spec",
            Some(&ta),
            Some(&json!({ "vpcz": [] })),
            None,
        )
        .await;
    assert_eq!(typo.status, 400, "{}", typo.text);
    assert!(
        typo.json["error"]["field"]
            .as_str()
            .unwrap_or("")
            .contains("vpcz"),
        "{}",
        typo.text
    );
    let gateway = json!({ "vpcs": [{ "name": "one", "internet_gateway": { "name": "igw2" } }] });
    let g = srv
        .send("PUT", "/v1/spec", Some(&ta), Some(&gateway), None)
        .await;
    assert_eq!(
        (g.status, g.code()),
        (400, "InvalidParameterCombination"),
        "{}",
        g.text
    );
    let good = json!({ "vpcs": [{
        "name": "one",
        "security_groups": [{ "name": "sg" }],
        "enis": [{ "name": "db", "subnet": "private-a", "security_groups": ["sg"] }],
    }]});
    let stored = srv.ok(200, "PUT", "/v1/spec", &ta, Some(good)).await;
    assert_eq!(stored["name"], "alpha");
    let back = srv.ok(200, "GET", "/v1/spec", &ta, None).await;
    assert_eq!(back["vpcs"][0]["enis"][0]["name"], "db");
    // A plan: what a proposed spec opens, nothing stored.
    let proposal = json!({ "vpcs": [{
        "name": "one",
        "security_groups": [{ "name": "sg", "ingress": [
            { "protocol": "tcp", "ports": 5432, "security_group": "sg" }] }],
        "enis": [
            { "name": "db", "subnet": "private-a", "security_groups": ["sg"] },
            { "name": "app", "subnet": "private-b", "security_groups": ["sg"] },
        ],
    }]});
    let plan = srv.ok(200, "POST", "/v1/plan", &ta, Some(proposal)).await;
    let opened = plan["opened"].as_array().expect("opened");
    assert!(
        opened
            .iter()
            .any(|f| f["to"].as_str().is_some_and(|t| t.ends_with("/db"))
                && f["port"] == 5432
                && f["protocol"] == "tcp"),
        "{plan}"
    );
    assert!(
        plan["closed"].as_array().expect("closed").is_empty(),
        "{plan}"
    );
    // The kernel side: the new ENI's namespace is made; the stored one is untouched.
    let kernel = plan["kernel"].as_array().expect("kernel");
    assert!(
        kernel.iter().any(
            |k| k["object"].as_str().is_some_and(|o| o.ends_with("/app"))
                && k["action"] == "create"
                && k["operations"].as_u64().unwrap_or(0) > 1
        ),
        "{plan}"
    );
    assert!(
        !kernel
            .iter()
            .any(|k| k["object"].as_str().is_some_and(|o| o.ends_with("/db"))),
        "{plan}"
    );
    let still = srv.ok(200, "GET", "/v1/spec", &ta, None).await;
    assert_eq!(still["vpcs"][0]["enis"].as_array().expect("enis").len(), 1);
    let nid = n["id"].as_str().expect("id");
    let del = srv
        .send(
            "DELETE",
            &format!("/v1/connect/networks/{nid}"),
            Some(&ta),
            None,
            None,
        )
        .await;
    assert_eq!(
        (del.status, del.code()),
        (409, "DependencyViolation"),
        "{}",
        del.text
    );
    // axum's own refusals are JSON errors too.
    let q = srv
        .send(
            "GET",
            "/v1/reachability?from=a&to=b&port=many",
            Some(&ta),
            None,
            None,
        )
        .await;
    assert_eq!(
        (q.status, q.code()),
        (400, "InvalidParameterValue"),
        "{}",
        q.text
    );
    assert_eq!(q.json["error"]["request_id"], q.request_id.as_str());
    let m = srv.send("PUT", "/v1/tenants", Some(&ta), None, None).await;
    assert_eq!(
        (m.status, m.code()),
        (405, "MethodNotAllowed"),
        "{}",
        m.text
    );
    let nf = srv.send("GET", "/v1/nothing", Some(&ta), None, None).await;
    assert_eq!((nf.status, nf.code()), (404, "NotFound"));
}

async fn audit_log_has_who_and_generations(db: TestDb) {
    let srv = Server::start(db).await;
    srv.pool(&["203.0.113.0/29"]).await;
    let (t, ta, tok) = srv.tenant("alpha", None).await;
    let before = srv.store.generations().await.expect("gen").0;
    let a = srv
        .send(
            "POST",
            "/v1/connect/networks",
            Some(&ta),
            Some(&json!({ "name": "n", "region": "us-east-1" })),
            None,
        )
        .await;
    assert_eq!(a.status, 201);
    let log = srv.store.audit(before, 10).await.expect("audit");
    assert_eq!(log.len(), 1, "{log:?}");
    let e = &log[0];
    assert_eq!((e.before, e.after), (before, before.next()));
    assert_eq!(e.meta.tenant.as_deref(), t["id"].as_str());
    assert_eq!(e.meta.token_id.as_deref(), Some(tok.as_str()));
    assert_eq!(e.meta.request_id.as_deref(), Some(a.request_id.as_str()));
    assert_eq!(e.meta.summary, "POST /v1/connect/networks");
    // A read changes nothing; a refused change writes nothing.
    srv.ok(200, "GET", "/v1/connect/networks", &ta, None).await;
    let bad = srv
        .send(
            "POST",
            "/v1/connect/networks",
            Some(&ta),
            Some(&json!({ "name": "n" })),
            None,
        )
        .await;
    assert_eq!(bad.status, 409, "{}", bad.text);
    assert_eq!(srv.store.audit(before, 10).await.expect("audit").len(), 1);
    // The whole log: every change has a token id (the bootstrap aside) and a
    // request id, and generations follow each other.
    let all = srv.store.audit(Generation::ZERO, 100).await.expect("audit");
    for w in all.windows(2) {
        assert_eq!(w[0].after, w[1].before);
    }
    for e in all.iter().skip(1) {
        assert!(
            e.meta.token_id.is_some() && e.meta.request_id.is_some(),
            "{e:?}"
        );
    }
}

async fn openapi_lists_every_route(db: TestDb) {
    let srv = Server::start(db).await;
    let a = srv.send("GET", "/openapi.json", None, None, None).await;
    assert_eq!(a.status, 200);
    let doc: utoipa::openapi::OpenApi = serde_json::from_str(&a.text).expect("an OpenAPI document");
    assert!(
        a.json["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        a.json["openapi"]
    );
    let listed: BTreeSet<(String, String)> = a.json["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(p, item)| {
            item.as_object()
                .expect("item")
                .keys()
                .map(|m| (m.to_uppercase(), p.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let want = [
        ("POST", "/v1/tenants"),
        ("GET", "/v1/endpoint-services"),
        ("GET", "/v1/endpoint-connections"),
        ("GET", "/v1/flow-logs"),
        ("GET", "/v1/metering"),
        ("POST", "/v1/endpoint-services/{name}/accept"),
        ("POST", "/v1/endpoint-services/{name}/reject"),
        ("GET", "/v1/tenants"),
        ("POST", "/v1/tenants/{id}/tokens"),
        ("GET", "/v1/tokens"),
        ("DELETE", "/v1/tokens/{id}"),
        ("PUT", "/v1/ip-pool"),
        ("GET", "/v1/ip-pool"),
        ("PATCH", "/v1/ip-pool"),
        ("POST", "/v1/connect/networks"),
        ("GET", "/v1/connect/networks"),
        ("GET", "/v1/connect/networks/{id}"),
        ("PATCH", "/v1/connect/networks/{id}"),
        ("DELETE", "/v1/connect/networks/{id}"),
        ("POST", "/v1/peerings"),
        ("GET", "/v1/peerings"),
        ("GET", "/v1/peerings/{id}"),
        ("POST", "/v1/peerings/{id}/accept"),
        ("POST", "/v1/peerings/{id}/reject"),
        ("DELETE", "/v1/peerings/{id}"),
        ("GET", "/v1/spec"),
        ("PUT", "/v1/spec"),
        ("GET", "/v1/reachability"),
        ("POST", "/v1/plan"),
        ("POST", "/v1/functions/code"),
        ("POST", "/v1/functions"),
        ("GET", "/v1/functions"),
        ("GET", "/v1/functions/{name}"),
        ("PATCH", "/v1/functions/{name}"),
        ("DELETE", "/v1/functions/{name}"),
        ("POST", "/v1/functions/{name}/invocations"),
        ("GET", "/v1/functions/{name}/logs"),
        ("GET", "/v1/functions/{name}/metrics"),
        ("POST", "/v1/connect/addresses"),
        ("GET", "/v1/connect/addresses"),
        ("DELETE", "/v1/connect/addresses/{id}"),
        ("POST", "/v1/functions/{name}/url"),
        ("GET", "/v1/functions/{name}/url"),
        ("PATCH", "/v1/functions/{name}/url"),
        ("DELETE", "/v1/functions/{name}/url"),
        ("GET", "/v1/access-key"),
        ("GET", "/v1/whoami"),
        ("GET", "/v1/health"),
        ("GET", "/v1/topology"),
    ];
    let want: BTreeSet<(String, String)> = want
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(listed, want, "the document lists exactly the API's routes");
    // And the router serves each listed route (not the fallback's 404 or a 405).
    for (m, p) in &listed {
        let path = p.replace("{id}", "x-none").replace("{name}", "x-none");
        let ans = srv.send(m, &path, Some(&srv.admin), None, None).await;
        assert_ne!(ans.status, 405, "{m} {p}");
        assert_ne!(ans.code(), "NotFound", "{m} {p} is not routed");
    }
    assert!(
        doc.components
            .is_some_and(|c| c.security_schemes.contains_key("bearer"))
    );
}

async fn bootstrap_writes_the_admin_token_once(db: TestDb) {
    let srv = Server::start(db).await;
    let before = std::fs::read_to_string(&srv.token_file).expect("file");
    assert!(before.trim().starts_with("cove_"));
    // Restarting does not make or write another token.
    assert!(
        !cove_api::bootstrap(&srv.store, &srv.token_file)
            .await
            .expect("again")
    );
    assert_eq!(
        std::fs::read_to_string(&srv.token_file).expect("file"),
        before
    );
    let elsewhere = srv.token_file.with_file_name("other-token");
    assert!(
        !cove_api::bootstrap(&srv.store, &elsewhere)
            .await
            .expect("again")
    );
    assert!(
        !elsewhere.exists(),
        "the secret is written once, never again"
    );
    srv.ok(200, "GET", "/v1/tenants", &srv.admin, None).await;
    // A fresh store whose token file exists (another store's): refused, file kept.
    let other = TestDb::sqlite();
    let fresh = other.open().await;
    let e = cove_api::bootstrap(&fresh, &srv.token_file)
        .await
        .expect_err("the file is another store's");
    assert!(
        e.to_string()
            .contains(&srv.token_file.display().to_string()),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(&srv.token_file).expect("file"),
        before
    );
}

async fn concurrent_writers_all_succeed(db: TestDb) {
    let srv = std::sync::Arc::new(Server::start(db).await);
    srv.pool(&["203.0.113.0/25"]).await;
    // Forty creates at once from five tenants (more than ATTEMPTS: writers racing on
    // the expected generation would run out of attempts; one process's writers take
    // turns, so every one succeeds).
    let mut tenants = Vec::new();
    for t in ["alpha", "bravo", "charlie", "delta", "echo"] {
        tenants.push(srv.tenant(t, None).await.1);
    }
    let mut tasks = Vec::new();
    for (k, ta) in tenants.iter().enumerate() {
        for i in 0..8 {
            let (srv, ta) = (srv.clone(), ta.clone());
            tasks.push(tokio::spawn(async move {
                let body = json!({ "name": format!("n{k}-{i}"), "region": "us-east-1", "cidr": format!("10.{i}.0.0/16") });
                srv.send("POST", "/v1/connect/networks", Some(&ta), Some(&body), None)
                    .await
            }));
        }
    }
    let mut ips = BTreeSet::new();
    for t in tasks {
        let a = t.await.expect("task");
        assert_eq!(a.status, 201, "{}", a.text);
        for ip in a.json["static_ips"].as_array().expect("ips") {
            assert!(ips.insert(ip.to_string()), "IP {ip} given twice");
        }
    }
    assert_eq!(ips.len(), 80);
    for ta in &tenants {
        let list = srv.ok(200, "GET", "/v1/connect/networks", ta, None).await;
        assert_eq!(list.as_array().expect("list").len(), 8);
    }
}

async fn a_server_with_stale_reads_sees_its_own_changes_at_once(db: TestDb) {
    // Reads may be an hour old, yet this server's own changes show at once.
    let srv = Server::start_with(db, std::time::Duration::from_secs(3600)).await;
    srv.pool(&["203.0.113.0/29"]).await;
    let (t, ta, tok) = srv.tenant("alpha", None).await;
    srv.ok(200, "GET", "/v1/connect/networks", &ta, None).await;
    srv.ok(
        201,
        "POST",
        "/v1/connect/networks",
        &ta,
        Some(json!({ "name": "n", "region": "us-east-1" })),
    )
    .await;
    let list = srv.ok(200, "GET", "/v1/connect/networks", &ta, None).await;
    assert_eq!(list.as_array().expect("list").len(), 1, "{list}");
    let id = t["id"].as_str().expect("id");
    let second = srv
        .ok(
            201,
            "POST",
            &format!("/v1/tenants/{id}/tokens"),
            &srv.admin,
            Some(json!({})),
        )
        .await;
    let second = second["secret"].as_str().expect("secret").to_owned();
    srv.ok(200, "DELETE", &format!("/v1/tokens/{tok}"), &second, None)
        .await;
    let a = srv
        .send("GET", "/v1/connect/networks", Some(&ta), None, None)
        .await;
    assert_eq!(
        (a.status, a.code()),
        (401, "AuthFailure"),
        "revoked at once: {}",
        a.text
    );
}
