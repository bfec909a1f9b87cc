#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]
//! In-process API latency (no TCP): `GET /healthz` (touches nothing, the baseline)
//! and `GET /v1/connect/networks` (token check + a generation query + the tenant's
//! networks) on a SQLite store with 10 networks. Prints p50/p99 of 5,000 sequential
//! requests each, then runs criterion.
//!
//! `cargo bench -p cove-api --bench api`

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use tower::ServiceExt;

struct Fixture {
    app: Router,
    token: String,
    _dir: tempdir::Dir,
}

mod tempdir {
    /// A directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

async fn call(
    app: &Router,
    method: &str,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"));
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    let resp = app
        .clone()
        .oneshot(req.body(body).expect("request"))
        .await
        .expect("infallible");
    let status = resp.status();
    let bytes = to_bytes(resp.into_body(), 1 << 24).await.expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

async fn fixture() -> Fixture {
    let dir = std::env::temp_dir().join(format!("cvap_bench_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let store = cove_store::Store::open(&format!("sqlite://{}/cove.db", dir.display()))
        .await
        .expect("store");
    let file = dir.join("admin-token");
    cove_api::bootstrap(&store, &file).await.expect("bootstrap");
    let admin = std::fs::read_to_string(&file)
        .expect("token")
        .trim()
        .to_owned();
    let app = cove_api::router(cove_api::ApiState::new(store));
    call(
        &app,
        "PUT",
        "/v1/ip-pool",
        &admin,
        Some(json!({ "blocks": ["203.0.113.0/26"] })),
    )
    .await;
    let (_, t) = call(
        &app,
        "POST",
        "/v1/tenants",
        &admin,
        Some(json!({ "name": "bench" })),
    )
    .await;
    let id = t["id"].as_str().expect("tenant").to_owned();
    let (_, tok) = call(
        &app,
        "POST",
        &format!("/v1/tenants/{id}/tokens"),
        &admin,
        Some(json!({})),
    )
    .await;
    let token = tok["secret"].as_str().expect("secret").to_owned();
    for i in 0..10 {
        let (s, n) = call(
            &app,
            "POST",
            "/v1/connect/networks",
            &token,
            Some(json!({ "name": format!("n{i}"), "region": "us-east-1", "cidr": format!("10.{i}.0.0/16") })),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{n}");
    }
    Fixture {
        app,
        token,
        _dir: tempdir::Dir(dir),
    }
}

fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    (at(0.50), at(0.99))
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let fx = rt.block_on(fixture());
    for path in ["/healthz", "/v1/connect/networks"] {
        let times = rt.block_on(async {
            let mut v = Vec::with_capacity(5000);
            for _ in 0..5000 {
                let t0 = Instant::now();
                let (s, _) = call(&fx.app, "GET", path, &fx.token, None).await;
                v.push(t0.elapsed());
                assert_eq!(s, StatusCode::OK);
            }
            v
        });
        let (p50, p99) = percentiles(times);
        println!("in-process GET {path}: p50 {p50:?} p99 {p99:?} (5000 sequential requests)");
    }
    for path in ["/healthz", "/v1/connect/networks"] {
        c.bench_function(&format!("GET {path}"), |b| {
            b.to_async(&rt)
                .iter(|| async { call(&fx.app, "GET", path, &fx.token, None).await })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
