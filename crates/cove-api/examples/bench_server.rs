//! A benchmark server: a fresh SQLite store in DIR with one tenant and 10 networks,
//! serving the API on 127.0.0.1:PORT (every read asks the store for its generation)
//! and on a second free port with reads up to 100 ms stale
//! (`ControlService::with_max_staleness`). Prints `token=<tenant token>`,
//! `listening=<addr>` and `listening_stale=<addr>`, then serves until killed.
//!
//! `cargo run --release -p cove-api --example bench_server -- DIR PORT`
//! (used by `scripts/bench-api.sh`).

use anyhow_free::Result;
use serde_json::json;

mod anyhow_free {
    /// Errors of this example, printed as they are.
    pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;
}

async fn call(
    base: &str,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value> {
    let resp = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await?;
    let status = resp.status();
    let v: serde_json::Value = serde_json::from_str(&resp.text().await?)?;
    if !status.is_success() {
        return Err(format!("{path}: {status} {v}").into());
    }
    Ok(v)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: bench_server DIR PORT")?;
    let port: u16 = args.next().ok_or("usage: bench_server DIR PORT")?.parse()?;
    std::fs::create_dir_all(&dir)?;
    let store = cove_store::Store::open(&format!("sqlite://{dir}/cove.db")).await?;
    let file = std::path::Path::new(&dir).join("admin-token");
    cove_api::bootstrap(&store, &file).await?;
    let admin = std::fs::read_to_string(&file)?.trim().to_owned();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let stale_listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let stale_addr = stale_listener.local_addr()?;
    let stale = cove_api::service::ControlService::new(store.clone())
        .with_max_staleness(std::time::Duration::from_millis(100));
    let stale_server = tokio::spawn(cove_api::serve(
        stale_listener,
        cove_api::ApiState::with_service(stale),
    ));
    let server = tokio::spawn(cove_api::serve(listener, cove_api::ApiState::new(store)));
    let base = format!("http://{addr}");
    use reqwest::Method;
    call(
        &base,
        Method::PUT,
        "/v1/ip-pool",
        &admin,
        json!({ "blocks": ["203.0.113.0/26"] }),
    )
    .await?;
    let t = call(
        &base,
        Method::POST,
        "/v1/tenants",
        &admin,
        json!({ "name": "bench" }),
    )
    .await?;
    let id = t["id"].as_str().ok_or("tenant id")?;
    let tok = call(
        &base,
        Method::POST,
        &format!("/v1/tenants/{id}/tokens"),
        &admin,
        json!({}),
    )
    .await?;
    let token = tok["secret"].as_str().ok_or("secret")?;
    for i in 0..10 {
        let body = json!({ "name": format!("n{i}"), "region": "us-east-1", "cidr": format!("10.{i}.0.0/16") });
        call(&base, Method::POST, "/v1/connect/networks", token, body).await?;
    }
    println!("token={token}");
    println!("listening={addr}");
    println!("listening_stale={stale_addr}");
    server.await??;
    stale_server.await??;
    Ok(())
}
