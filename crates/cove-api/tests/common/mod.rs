//! A real API server on 127.0.0.1:0 over a real store, and a small client.

#![allow(dead_code)]

pub mod functions;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use cove_api::service::{ControlService, Decided};
use cove_store::{ChangeMeta, Generation, Store};
use reqwest::Method;
use serde_json::{Value, json};

use cove_testdb::TestDb;

/// One answer: status, request id header, replayed header, JSON body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `x-request-id`.
    pub request_id: String,
    /// Whether `idempotent-replayed: true` was set.
    pub replayed: bool,
    /// The body as text.
    pub text: String,
    /// The body as JSON (`Null` if it is not JSON).
    pub json: Value,
}

impl Answer {
    /// The error code of an error answer.
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }
}

/// A running server with its admin token.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The admin token's secret (from the bootstrap file).
    pub admin: String,
    /// The store (for audit checks).
    pub store: Store,
    /// The bootstrap file.
    pub token_file: PathBuf,
    client: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
    dir: PathBuf,
    db: TestDb,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Server {
    /// Starts a server over a fresh store of `db`, bootstrapping the admin token.
    pub async fn start(db: TestDb) -> Server {
        Server::start_with(db, std::time::Duration::ZERO).await
    }

    /// Like [`Server::start`], reads allowed to be `stale` old.
    pub async fn start_with(db: TestDb, stale: std::time::Duration) -> Server {
        Server::start_full(db, stale, None).await
    }

    /// A server with a code store (`<its dir>/code`, see [`Server::code_store`]) and
    /// `runner` behind invoke and logs.
    pub async fn start_functions(
        db: TestDb,
        runner: std::sync::Arc<dyn cove_api::runner::FunctionRunner>,
    ) -> Server {
        Server::start_full(db, std::time::Duration::ZERO, Some(runner)).await
    }

    /// The code store of a server made with [`Server::start_functions`].
    pub fn code_store(&self) -> PathBuf {
        self.dir.join("code")
    }

    async fn start_full(
        db: TestDb,
        stale: std::time::Duration,
        runner: Option<std::sync::Arc<dyn cove_api::runner::FunctionRunner>>,
    ) -> Server {
        let store = db.open().await;
        let dir =
            std::env::temp_dir().join(format!("cvap_srv_{}_{}", std::process::id(), rand_suffix()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let token_file = dir.join("admin-token");
        assert!(
            cove_api::bootstrap(&store, &token_file)
                .await
                .expect("bootstrap"),
            "the first start makes the admin token"
        );
        let mode = std::fs::metadata(&token_file)
            .expect("token file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the admin token file is 0600");
        let admin = std::fs::read_to_string(&token_file)
            .expect("read token")
            .trim()
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let service = ControlService::new(store.clone()).with_max_staleness(stale);
        let mut state = cove_api::ApiState::with_service(service)
            .with_flow_logs(dir.join("flow-logs"), dir.join("metering"))
            .with_access_keys(cove_objects::KeySecret::from_bytes([9; 32]));
        if let Some(r) = runner {
            state = state.with_code_store(dir.join("code")).with_runner(r);
        }
        let app = cove_api::router(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Server {
            base: format!("http://{addr}"),
            admin,
            store,
            token_file,
            client: reqwest::Client::new(),
            task,
            dir,
            db,
        }
    }

    /// Where the server reads flow logs (`<dir>/flow-logs`) and metering
    /// (`<dir>/metering`) from.
    #[allow(dead_code)]
    pub fn state_dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Sends a request; `body` as JSON, `key` as `Idempotency-Key`.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> Answer {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            rb = rb.header("authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            rb = rb
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        if let Some(k) = key {
            rb = rb.header("idempotency-key", k);
        }
        let resp = rb.send().await.expect("send");
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let request_id = header("x-request-id");
        let replayed = header("idempotent-replayed") == "true";
        let text = resp.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            request_id,
            replayed,
            text,
            json,
        }
    }

    /// Sends a raw body with a content type and extra headers.
    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> (Answer, reqwest::header::HeaderMap) {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self
            .client
            .request(method, format!("{}{path}", self.base))
            .body(body);
        if let Some(t) = token {
            rb = rb.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let resp = rb.send().await.expect("send");
        let status = resp.status().as_u16();
        let hdrs = resp.headers().clone();
        let header = |name: &str| {
            hdrs.get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let request_id = header("x-request-id");
        let replayed = header("idempotent-replayed") == "true";
        let text = resp.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        (
            Answer {
                status,
                request_id,
                replayed,
                text,
                json,
            },
            hdrs,
        )
    }

    /// A request that must answer `want`.
    pub async fn ok(
        &self,
        want: u16,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        let a = self
            .send(method, path, Some(token), body.as_ref(), None)
            .await;
        assert_eq!(a.status, want, "{method} {path}: {}", a.text);
        a.json
    }

    /// Creates a tenant (admin) and a token for it: (tenant, secret, token id).
    pub async fn tenant(&self, name: &str, quotas: Option<Value>) -> (Value, String, String) {
        let mut body = json!({ "name": name });
        if let Some(q) = quotas {
            body["quotas"] = q;
        }
        let t = self
            .ok(201, "POST", "/v1/tenants", &self.admin, Some(body))
            .await;
        let id = t["id"].as_str().expect("tenant id").to_owned();
        let tok = self
            .ok(
                201,
                "POST",
                &format!("/v1/tenants/{id}/tokens"),
                &self.admin,
                Some(json!({ "description": format!("{name}'s token") })),
            )
            .await;
        let secret = tok["secret"].as_str().expect("secret").to_owned();
        let tid = tok["token"]["id"].as_str().expect("token id").to_owned();
        (t, secret, tid)
    }

    /// Sets the IP pool (admin).
    pub async fn pool(&self, blocks: &[&str]) {
        self.ok(
            200,
            "PUT",
            "/v1/ip-pool",
            &self.admin,
            Some(json!({ "blocks": blocks })),
        )
        .await;
    }
}

/// What the reconciler does once the kernel caught up: `complete`.
pub async fn reconcile_record(srv: &Server) -> Generation {
    let svc = ControlService::new(srv.store.clone());
    let meta = ChangeMeta {
        summary: "reconcile".to_owned(),
        ..ChangeMeta::default()
    };
    let (_, g) = svc
        .run(&meta, |cur, env| {
            let applied = cove_control::Applied::of(&cur.state);
            Ok::<Decided<()>, cove_control::ControlError>(
                cove_control::complete(&cur.state, env, &applied).into(),
            )
        })
        .await
        .expect("complete");
    g
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
