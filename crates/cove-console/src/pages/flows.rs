//! Flow logs with filters (`GET /v1/flow-logs`).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::{Chrome, ErrorView, Signed, refusal_page, render, time};
use crate::Console;
use crate::client::query_value;

/// The filters.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FlowForm {
    #[serde(default)]
    log: String,
    #[serde(default)]
    eni: String,
    #[serde(default)]
    addr: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    limit: String,
}

/// The columns shown, by AWS's field names.
const COLUMNS: [&str; 12] = [
    "flow_log",
    "start",
    "interface-id",
    "srcaddr",
    "srcport",
    "dstaddr",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "action",
    "log-status",
];

#[derive(Template)]
#[template(path = "flows.html")]
struct Page {
    c: Chrome,
    q: FlowForm,
    bad: String,
    headers: Vec<&'static str>,
    records: Vec<Vec<String>>,
    truncated: bool,
}

fn cell(r: &Value, k: &str) -> String {
    match &r[k] {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        Value::Number(n) if k == "start" || k == "end" => {
            n.as_u64().map(time).unwrap_or_else(|| n.to_string())
        }
        other => other.to_string(),
    }
}

/// The page.
pub async fn show(State(c): State<Console>, s: Signed, Query(mut q): Query<FlowForm>) -> Response {
    if q.limit.trim().is_empty() {
        q.limit = "200".to_owned();
    }
    let mut path = "/v1/flow-logs?".to_owned();
    for (k, v) in [
        ("log", &q.log),
        ("eni", &q.eni),
        ("addr", &q.addr),
        ("action", &q.action),
        ("limit", &q.limit),
    ] {
        if !v.trim().is_empty() {
            path.push_str(&format!("{k}={}&", query_value(v.trim())));
        }
    }
    let mut chrome = s.chrome("flow-logs", "Flow logs");
    let mut bad = String::new();
    let mut status = StatusCode::OK;
    let (records, truncated) = match s.client(&c).send("GET", &path, None).await {
        Ok(ans) => (
            ans["records"]
                .as_array()
                .into_iter()
                .flatten()
                .rev()
                .map(|r| COLUMNS.iter().map(|k| cell(r, k)).collect())
                .collect(),
            ans["truncated"].as_bool().unwrap_or(false),
        ),
        Err(r) if r.is_auth() => return refusal_page(&c, &s, &r),
        Err(r) => {
            bad = r.field.clone().unwrap_or_default();
            status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
            chrome.error = Some(ErrorView::from(&r));
            (Vec::new(), false)
        }
    };
    render(
        status,
        &Page {
            c: chrome,
            q,
            bad,
            headers: COLUMNS.to_vec(),
            records,
            truncated,
        },
    )
}
