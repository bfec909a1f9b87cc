#![allow(missing_docs, clippy::unwrap_used)]
//! The console's HTTP behaviour in-process (no browser, no kernel) over a real
//! SQLite store: sign-in and its cookie, pages without a session, CSRF, a refused
//! form that changes nothing, another tenant's objects, a revoked token, the
//! security headers, the assets. The browser test is `crates/cove/tests/console.rs`.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, header};
use cove_testdb::{TestDb, both};
use serde_json::{Value, json};
use tower::ServiceExt;

both!(
    sign_in_cookie_and_pages,
    forms_need_the_csrf_token_and_refusals_change_nothing,
    another_tenants_objects_are_not_found_and_revocation_ends_the_session,
);

struct Answer {
    status: u16,
    headers: axum::http::HeaderMap,
    body: String,
}

struct Console {
    app: Router,
    admin: String,
    _dir: TempDir,
    /// Kept: dropping it removes the database.
    _db: TestDb,
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Console {
    async fn start(db: TestDb) -> Console {
        let store = db.open().await;
        let dir = std::env::temp_dir().join(format!(
            "cvcon_{}_{}",
            std::process::id(),
            cove_console::session::random_id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let token_file = dir.join("admin-token");
        cove_api::bootstrap(&store, &token_file).await.unwrap();
        let admin = std::fs::read_to_string(&token_file)
            .unwrap()
            .trim()
            .to_owned();
        let state = cove_api::ApiState::new(store);
        Console {
            app: cove_console::app(state, axum::Router::new()),
            admin,
            _dir: TempDir(dir),
            _db: db,
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        form: Option<&str>,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, format!("cove_console={c}"));
        }
        let body = match form {
            Some(f) => {
                req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(f.to_owned())
            }
            None => Body::empty(),
        };
        let resp = self
            .app
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = to_bytes(resp.into_body(), 64 << 20).await.unwrap();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// The API as `token` (JSON).
    async fn api(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        let body = match body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let resp = self
            .app
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let bytes = to_bytes(resp.into_body(), 64 << 20).await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// A tenant and its token.
    async fn tenant(&self, name: &str) -> String {
        let (st, t) = self
            .api(
                "POST",
                "/v1/tenants",
                &self.admin,
                Some(json!({ "name": name })),
            )
            .await;
        assert_eq!(st, 201, "{t}");
        let id = t["id"].as_str().unwrap();
        let (st, tok) = self
            .api(
                "POST",
                &format!("/v1/tenants/{id}/tokens"),
                &self.admin,
                Some(json!({})),
            )
            .await;
        assert_eq!(st, 201, "{tok}");
        tok["secret"].as_str().unwrap().to_owned()
    }

    /// Signs in with `token`: the session id.
    async fn sign_in(&self, token: &str) -> String {
        let a = self
            .send(
                "POST",
                "/console/sign-in",
                None,
                Some(&format!("token={token}")),
            )
            .await;
        assert_eq!(a.status, 303, "{}", a.body);
        let cookie = a.headers[header::SET_COOKIE].to_str().unwrap().to_owned();
        cookie
            .strip_prefix("cove_console=")
            .and_then(|c| c.split(';').next())
            .unwrap()
            .to_owned()
    }

    /// The CSRF token on `path`'s forms.
    async fn csrf(&self, session: &str, path: &str) -> String {
        let page = self.send("GET", path, Some(session), None).await.body;
        let at = page
            .find("name=\"csrf\" value=\"")
            .expect("a form with a CSRF token");
        page[at + 19..at + 19 + 64].to_owned()
    }
}

async fn sign_in_cookie_and_pages(db: TestDb) {
    let c = Console::start(db).await;
    // Without a session every page leads to the sign-in.
    for path in [
        "/console/",
        "/console/networks",
        "/console/topology",
        "/console/operator",
    ] {
        let a = c.send("GET", path, None, None).await;
        assert_eq!(a.status, 303, "{path}");
        assert_eq!(a.headers[header::LOCATION], "/console/sign-in", "{path}");
    }
    assert_eq!(
        c.send("GET", "/", None, None).await.headers[header::LOCATION],
        "/console/"
    );
    // A bad token: 401, said on the field, no cookie.
    let a = c
        .send("POST", "/console/sign-in", None, Some("token=cove_nope"))
        .await;
    assert_eq!(a.status, 401);
    assert!(
        a.body.contains("refused") && a.body.contains("<code>token</code>"),
        "{}",
        a.body
    );
    assert!(!a.headers.contains_key(header::SET_COOKIE));
    // A good one: a session cookie that scripts cannot read, sent only to the
    // console, only over a secure context, never cross-site.
    let token = c.tenant("alpha").await;
    let a = c
        .send(
            "POST",
            "/console/sign-in",
            None,
            Some(&format!("token={token}")),
        )
        .await;
    let cookie = a.headers[header::SET_COOKIE].to_str().unwrap();
    for part in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains(&token), "the token is in the cookie");
    let session = c.sign_in(&token).await;
    let page = c
        .send("GET", "/console/networks", Some(&session), None)
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"who\">alpha<"), "{}", page.body);
    assert!(!page.body.contains(&token), "the token is on the page");
    // Security headers on every console answer.
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(page.headers[header::X_FRAME_OPTIONS], "DENY");
    // A tenant is sent away from the operator's view; the operator sees it.
    let a = c
        .send("GET", "/console/operator", Some(&session), None)
        .await;
    assert_eq!(a.headers[header::LOCATION], "/console/networks");
    let op = c.sign_in(&c.admin).await;
    let a = c.send("GET", "/console/operator", Some(&op), None).await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("alpha"), "{}", a.body);
    // The assets: by hash, gzip'd for a browser that takes it, cached.
    let css = cove_console::assets::path_of("console.css");
    let req = Request::builder()
        .uri(&css)
        .header(header::ACCEPT_ENCODING, "gzip, br")
        .body(Body::empty())
        .unwrap();
    let resp = c.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()[header::CONTENT_ENCODING], "gzip");
    assert!(
        resp.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let wrong = "/console/assets/0000000000000000/console.css";
    assert_eq!(c.send("GET", wrong, None, None).await.status, 404);
    // The API is still the API on the same listener.
    assert_eq!(c.send("GET", "/healthz", None, None).await.body, "ok");
}

/// The tenant's networks through the API.
async fn networks(c: &Console, token: &str) -> (u16, Value) {
    c.api("GET", "/v1/connect/networks", token, None).await
}

async fn forms_need_the_csrf_token_and_refusals_change_nothing(db: TestDb) {
    let c = Console::start(db).await;
    let token = c.tenant("alpha").await;
    let session = c.sign_in(&token).await;
    // No CSRF token, or another's: 403, nothing made.
    for form in [
        "name=web&region=us-east-1",
        "csrf=0000&name=web&region=us-east-1",
    ] {
        let a = c
            .send("POST", "/console/networks", Some(&session), Some(form))
            .await;
        assert_eq!(a.status, 403, "{form}: {}", a.body);
    }
    assert_eq!(networks(&c, &token).await.1, json!([]));
    let csrf = c.csrf(&session, "/console/networks").await;
    // A refused form: the API's code, the field marked, the values kept, nothing made.
    let a = c
        .send(
            "POST",
            "/console/networks",
            Some(&session),
            Some(&format!(
                "csrf={csrf}&name=web&cidr=10.0.0.0%2F8&region=us-east-1&zones=&nat_failover="
            )),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("role=\"alert\""), "{}", a.body);
    assert!(a.body.contains("(field <code>cidr</code>)"), "{}", a.body);
    assert!(a.body.contains("value=\"10.0.0.0/8\""), "{}", a.body);
    assert!(a.body.contains("aria-invalid=\"true\""), "{}", a.body);
    assert_eq!(networks(&c, &token).await.1, json!([]));
    // The same form made right: the network, then its page with the static IPs.
    let (st, _) = c
        .api(
            "PUT",
            "/v1/ip-pool",
            &c.admin,
            Some(json!({ "blocks": ["198.51.100.0/29"] })),
        )
        .await;
    assert_eq!(st, 200);
    let a = c
        .send(
            "POST",
            "/console/networks",
            Some(&session),
            Some(&format!(
                "csrf={csrf}&name=web&cidr=10.20.0.0%2F16&region=us-east-1&zones=&nat_failover="
            )),
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let at = a.headers[header::LOCATION].to_str().unwrap().to_owned();
    let page = c.send("GET", &at, Some(&session), None).await;
    let (_, nets) = networks(&c, &token).await;
    for ip in nets[0]["static_ips"].as_array().unwrap() {
        assert!(page.body.contains(ip.as_str().unwrap()), "{}", page.body);
    }
    // Signing out needs the token too; then the session is gone.
    let a = c
        .send(
            "POST",
            "/console/sign-out",
            Some(&session),
            Some("csrf=bad"),
        )
        .await;
    assert_eq!(a.status, 403);
    let a = c
        .send(
            "POST",
            "/console/sign-out",
            Some(&session),
            Some(&format!("csrf={csrf}")),
        )
        .await;
    assert_eq!(a.status, 303);
    let a = c
        .send("GET", "/console/networks", Some(&session), None)
        .await;
    assert_eq!(a.headers[header::LOCATION], "/console/sign-in");
}

async fn another_tenants_objects_are_not_found_and_revocation_ends_the_session(db: TestDb) {
    let c = Console::start(db).await;
    let (st, _) = c
        .api(
            "PUT",
            "/v1/ip-pool",
            &c.admin,
            Some(json!({ "blocks": ["198.51.100.0/29"] })),
        )
        .await;
    assert_eq!(st, 200);
    let alpha = c.tenant("alpha").await;
    let bravo = c.tenant("bravo").await;
    let (st, net) = c
        .api(
            "POST",
            "/v1/connect/networks",
            &alpha,
            Some(json!({ "name": "alpha-secret-net", "region": "us-east-1", "cidr": "10.77.0.0/16" })),
        )
        .await;
    assert_eq!(st, 201, "{net}");
    let id = net["id"].as_str().unwrap();
    let b = c.sign_in(&bravo).await;
    let csrf = c.csrf(&b, "/console/networks").await;
    // bravo's pages name nothing of alpha's; alpha's network is not found, and
    // bravo's forms cannot touch it.
    for path in [
        "/console/networks",
        "/console/topology",
        "/console/peerings",
        "/console/functions",
    ] {
        let a = c.send("GET", path, Some(&b), None).await;
        assert_eq!(a.status, 200, "{path}");
        for secret in [id, "alpha-secret-net", "10.77."] {
            assert!(!a.body.contains(secret), "{path} shows alpha's {secret}");
        }
    }
    let a = c
        .send("GET", &format!("/console/networks/{id}"), Some(&b), None)
        .await;
    assert_eq!(a.status, 404, "{}", a.body);
    assert!(!a.body.contains("alpha-secret-net"));
    let a = c
        .send(
            "POST",
            &format!("/console/networks/{id}/delete"),
            Some(&b),
            Some(&format!("csrf={csrf}")),
        )
        .await;
    assert_eq!(a.status, 404, "{}", a.body);
    let (st, still) = c
        .api("GET", &format!("/v1/connect/networks/{id}"), &alpha, None)
        .await;
    assert_eq!(
        (st, still["name"].as_str()),
        (200, Some("alpha-secret-net"))
    );
    // A revoked token ends its session at the next page.
    let (_, toks) = c.api("GET", "/v1/tokens", &bravo, None).await;
    let tok_id = toks[0]["id"].as_str().unwrap().to_owned();
    let (st, _) = c
        .api("DELETE", &format!("/v1/tokens/{tok_id}"), &c.admin, None)
        .await;
    assert_eq!(st, 200);
    let a = c.send("GET", "/console/networks", Some(&b), None).await;
    assert_eq!(a.headers[header::LOCATION], "/console/sign-in");
    let a = c.send("GET", "/console/networks", Some(&b), None).await;
    assert_eq!(
        a.headers[header::LOCATION],
        "/console/sign-in",
        "the session ended"
    );
}
