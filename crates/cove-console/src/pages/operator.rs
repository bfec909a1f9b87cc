//! The operator's view: the host's health, the tenants, the IP pool.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;

use super::{Chrome, Signed, refusal_page, render, time};
use crate::Console;

#[derive(Template)]
#[template(path = "operator.html")]
struct Page {
    c: Chrome,
    health_status: String,
    health_class: String,
    health_note: String,
    health: Vec<(String, String)>,
    tenants: Vec<(String, String, String, String, String)>,
    pool: String,
}

fn health_rows(h: &Value) -> Vec<(String, String)> {
    let r = &h["reconciler"];
    let t = |v: &Value| v.as_u64().map(time).unwrap_or_else(|| "never".to_owned());
    let mut rows = vec![
        (
            "Reconciler".to_owned(),
            match r["leader"].as_str() {
                Some(l) => format!("{} (leader: {l})", r["state"].as_str().unwrap_or_default()),
                None => r["state"].as_str().unwrap_or_default().to_owned(),
            },
        ),
        (
            "Store generation".to_owned(),
            h["store_generation"].to_string(),
        ),
        (
            "Last applied".to_owned(),
            match r["last_applied_generation"].as_u64() {
                Some(g) => format!(
                    "generation {g} at {}, {} kernel operation(s){}",
                    t(&r["last_applied_at"]),
                    r["last_applied_ops"],
                    if r["last_drift_repaired"] == true {
                        ", drift repaired"
                    } else {
                        ""
                    }
                ),
                None => "nothing yet".to_owned(),
            },
        ),
        ("Last tick".to_owned(), t(&r["last_tick_at"])),
        ("Ticks".to_owned(), r["ticks"].to_string()),
        (
            "Failures in a row".to_owned(),
            r["failures_in_a_row"].to_string(),
        ),
        (
            "Up for".to_owned(),
            format!("{} s", h["uptime_seconds"].as_u64().unwrap_or(0)),
        ),
    ];
    if let Some(e) = r["last_error"].as_str() {
        rows.push((
            "Last error".to_owned(),
            format!("{e} (at {})", t(&r["last_error_at"])),
        ));
    }
    rows
}

/// The page (the operator's token only; a tenant is sent to its networks).
pub async fn show(State(c): State<Console>, s: Signed) -> Response {
    if !s.0.is_admin() {
        return Redirect::to("/console/networks").into_response();
    }
    let client = s.client(&c);
    let tenants: Vec<Value> = match client.get("/v1/tenants").await {
        Ok(t) => t,
        Err(r) => return refusal_page(&c, &s, &r),
    };
    let (health_status, health_class, health_note, health) =
        match client.send("GET", "/v1/health", None).await {
            Ok(h) => {
                let st = h["status"].as_str().unwrap_or_default().to_owned();
                let class = if st == "ok" { "ok" } else { "bad" }.to_owned();
                (st, class, String::new(), health_rows(&h))
            }
            Err(r) => (
                "unknown".to_owned(),
                "warn".to_owned(),
                r.to_string(),
                Vec::new(),
            ),
        };
    let pool = client
        .send("GET", "/v1/ip-pool", None)
        .await
        .map(|p| p.to_string())
        .unwrap_or_else(|r| r.to_string());
    let s_ = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    render(
        StatusCode::OK,
        &Page {
            c: s.chrome("operator", "Operator"),
            health_status,
            health_class,
            health_note,
            health,
            tenants: tenants
                .iter()
                .map(|t| {
                    (
                        s_(&t["name"]),
                        s_(&t["id"]),
                        s_(&t["account_id"]),
                        s_(&t["quotas"]["networks"]),
                        t["created_at"].as_u64().map(time).unwrap_or_default(),
                    )
                })
                .collect(),
            pool,
        },
    )
}
