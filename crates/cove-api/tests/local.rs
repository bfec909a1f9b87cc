//! In-process calls (`cove_api::local`, the CLI's embedded mode) on the same store
//! as a real HTTP server (SQLite and PostgreSQL): the operator and a tenant act
//! through the same router — scoping (another tenant's network is 404), refusals,
//! the audit log naming `local-operator` — while nothing sent over HTTP acts
//! without a token.

mod common;

use serde_json::{Value, json};

use common::Server;
use cove_api::local::{LOCAL_OPERATOR, LocalIdentity, call};
use cove_testdb::{TestDb, both};

both!(in_process_calls_share_the_router_and_cannot_come_over_http);

async fn local(
    api: &cove_api::ApiState,
    who: &LocalIdentity,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let (ct, bytes) = match body {
        Some(b) => (Some("application/json"), b.to_string().into_bytes()),
        None => (None, Vec::new()),
    };
    let a = call(api, who, method, path, ct, bytes)
        .await
        .expect("in-process call");
    let v = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
    (a.status, v)
}

async fn in_process_calls_share_the_router_and_cannot_come_over_http(db: TestDb) {
    let srv = Server::start(db).await;
    let api = cove_api::ApiState::new(srv.store.clone());
    let op = LocalIdentity::Operator;
    let (st, alpha) = local(
        &api,
        &op,
        "POST",
        "/v1/tenants",
        Some(json!({ "name": "alpha" })),
    )
    .await;
    assert_eq!(st, 201, "{alpha}");
    let (st, bravo) = local(
        &api,
        &op,
        "POST",
        "/v1/tenants",
        Some(json!({ "name": "bravo" })),
    )
    .await;
    assert_eq!(st, 201, "{bravo}");
    let (st, _) = local(
        &api,
        &op,
        "PUT",
        "/v1/ip-pool",
        Some(json!({ "blocks": ["203.0.113.0/29"] })),
    )
    .await;
    assert!((200..300).contains(&st), "{st}");

    // A tenant by name; another by id.
    let a = LocalIdentity::Tenant("alpha".to_owned());
    let b = LocalIdentity::Tenant(id_of(&bravo));
    let body = json!({ "name": "alpha-secret-net", "region": "us-east-1" });
    let (st, net) = local(&api, &a, "POST", "/v1/connect/networks", Some(body)).await;
    assert_eq!(st, 201, "{net}");
    let path = format!("/v1/connect/networks/{}", net["id"].as_str().expect("id"));
    // Scoping is the API's: not found for the other tenant, naming nothing of A's.
    let (st, err) = local(&api, &b, "GET", &path, None).await;
    assert_eq!(st, 404, "{err}");
    assert!(!err.to_string().contains("alpha"), "{err}");
    let (st, list) = local(&api, &b, "GET", "/v1/connect/networks", None).await;
    assert_eq!((st, list), (200, json!([])));
    // The same network over HTTP with a token of A's.
    let (st, tok) = local(
        &api,
        &op,
        "POST",
        &format!("/v1/tenants/{}/tokens", id_of(&alpha)),
        Some(json!({})),
    )
    .await;
    assert_eq!(st, 201, "{tok}");
    let over = srv
        .send("GET", &path, tok["secret"].as_str(), None, None)
        .await;
    assert_eq!(over.status, 200, "{}", over.text);
    assert_eq!(over.json["id"], net["id"]);

    // Refusals: an unknown tenant, the operator on a tenant route, a bad field.
    let nobody = LocalIdentity::Tenant("nobody".to_owned());
    let (st, err) = local(&api, &nobody, "GET", "/v1/connect/networks", None).await;
    assert_eq!(st, 404);
    assert_eq!(err["error"]["code"], "InvalidTenantID.NotFound");
    assert_eq!(err["error"]["field"], "tenant");
    let (st, err) = local(&api, &op, "GET", "/v1/connect/networks", None).await;
    assert_eq!(st, 403, "{err}");
    let bad = json!({ "name": "x", "cidr": "10.0.0.0/8" });
    let (st, err) = local(&api, &a, "POST", "/v1/connect/networks", Some(bad.clone())).await;
    let http = srv
        .send(
            "POST",
            "/v1/connect/networks",
            tok["secret"].as_str(),
            Some(&bad),
            None,
        )
        .await;
    assert_eq!((st, http.status), (400, 400));
    for k in ["code", "field", "message", "hint"] {
        assert_eq!(err["error"][k], http.json["error"][k], "{k}");
    }
    assert!(
        err["error"]["request_id"]
            .as_str()
            .is_some_and(|r| r.starts_with("req-"))
    );

    // A tenant named like another's id: refused, never guessed.
    let name = json!({ "name": id_of(&bravo) });
    let (st, _) = local(&api, &op, "POST", "/v1/tenants", Some(name)).await;
    assert_eq!(st, 201);
    let (st, err) = local(&api, &b, "GET", "/v1/connect/networks", None).await;
    assert_eq!(st, 400, "{err}");
    assert_eq!(err["error"]["field"], "tenant");

    // Over HTTP, nothing acts without a token, whatever the headers say.
    let (status, _) = srv
        .send_raw(
            "GET",
            "/v1/connect/networks",
            None,
            Vec::new(),
            &[("x-cove-tenant", "alpha"), ("x-cove-local", "operator")],
        )
        .await;
    assert_eq!(status.status, 401, "{}", status.text);

    // The audit log: the local operator, and the tenant it acted for.
    let audit = srv
        .store
        .audit(cove_store::Generation(0), 100)
        .await
        .expect("audit");
    let made = audit
        .iter()
        .find(|e| e.meta.tenant.as_deref() == Some(id_of(&alpha).as_str()))
        .expect("the network's change");
    assert_eq!(made.meta.token_id.as_deref(), Some(LOCAL_OPERATOR));
    assert!(
        audit
            .iter()
            .filter(|e| e.meta.token_id.as_deref() == Some(LOCAL_OPERATOR))
            .all(|e| e.meta.request_id.is_some())
    );
}

fn id_of(t: &Value) -> String {
    t["id"].as_str().expect("tenant id").to_owned()
}
