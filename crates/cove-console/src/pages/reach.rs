//! The reachability explorer: a flow checked by the API's analyzer
//! (`GET /v1/reachability`), its hops listed and drawn on the topology.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use cove_api::topology::Topology;
use serde::Deserialize;
use serde_json::Value;

use super::{Chrome, ErrorView, Signed, refusal_page, render};
use crate::Console;
use crate::client::query_value;
use crate::topology::{Highlight, highlight, layout::layout, svg::render as svg};

/// The form's fields (a GET, so a check is a link).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReachForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    protocol: String,
    #[serde(default)]
    port: String,
}

/// One hop as listed.
#[derive(Debug, Clone)]
pub struct HopRow {
    step: String,
    outcome: String,
    component: String,
    detail: String,
}

/// The analyzer's answer as shown.
#[derive(Debug, Clone)]
pub struct ResultView {
    reachable: bool,
    blocked_step: String,
    blocked_direction: String,
    blocked_component: String,
    blocked_reason: String,
    forward: Vec<HopRow>,
    ret: Vec<HopRow>,
}

#[derive(Template)]
#[template(path = "reach.html")]
struct Page {
    c: Chrome,
    q: ReachForm,
    bad: String,
    choices: Vec<(String, String)>,
    result: Option<ResultView>,
    svg: String,
}

fn hops(v: &Value) -> Vec<HopRow> {
    let s = |h: &Value, k: &str| h[k].as_str().unwrap_or_default().to_owned();
    v.as_array()
        .into_iter()
        .flatten()
        .map(|h| HopRow {
            step: s(h, "step"),
            outcome: s(h, "outcome"),
            component: s(h, "component"),
            detail: s(h, "detail"),
        })
        .collect()
}

/// What the source and destination fields offer: the tenant's ENIs and functions.
fn choices(t: &Topology) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for v in &t.vpcs {
        let vpc = v.network.clone().unwrap_or_else(|| v.name.clone());
        for s in &v.subnets {
            for e in s
                .enis
                .iter()
                .filter(|e| matches!(e.kind.as_str(), "eni" | "endpoint"))
            {
                out.push((
                    format!("{vpc}/{}", e.name),
                    format!("{} in {}", e.ip, s.name),
                ));
            }
        }
        for f in &v.functions {
            out.push((format!("fn:{}", f.name), format!("function in {vpc}")));
        }
    }
    out
}

/// The page; with a source and a destination, the check and its picture.
pub async fn show(State(c): State<Console>, s: Signed, Query(mut q): Query<ReachForm>) -> Response {
    let client = s.client(&c);
    let t: Topology = match client.get("/v1/topology").await {
        Ok(t) => t,
        Err(r) => return refusal_page(&c, &s, &r),
    };
    if q.protocol.is_empty() {
        q.protocol = "tcp".to_owned();
    }
    let mut chrome = s.chrome("reachability", "Reachability");
    let mut result = None;
    let mut lit = Highlight::default();
    let mut bad = String::new();
    let mut status = StatusCode::OK;
    if !q.from.trim().is_empty() && !q.to.trim().is_empty() {
        let mut path = format!(
            "/v1/reachability?from={}&to={}&protocol={}",
            query_value(q.from.trim()),
            query_value(q.to.trim()),
            query_value(&q.protocol)
        );
        if !q.port.trim().is_empty() {
            path.push_str(&format!("&port={}", query_value(q.port.trim())));
        }
        match client.send("GET", &path, None).await {
            Ok(ans) => {
                lit = highlight(&t, &q.from, &q.to, &ans);
                let v = &ans["verdict"];
                let b = &v["blocked"];
                let s = |k: &str| b[k].as_str().unwrap_or_default().to_owned();
                result = Some(ResultView {
                    reachable: ans["reachable"].as_bool().unwrap_or(false),
                    blocked_step: s("step"),
                    blocked_direction: s("direction"),
                    blocked_component: s("component"),
                    blocked_reason: s("reason"),
                    forward: hops(&v["forward"]),
                    ret: hops(&v["return"]),
                });
            }
            Err(r) if r.is_auth() => return refusal_page(&c, &s, &r),
            Err(r) => {
                bad = r.field.clone().unwrap_or_default();
                status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
                chrome.error = Some(ErrorView::from(&r));
            }
        }
    }
    let caption = match &result {
        Some(r) if r.reachable => format!("{} reaches {}", q.from, q.to),
        Some(r) => format!(
            "{} does not reach {}: blocked at {}",
            q.from, q.to, r.blocked_component
        ),
        None => format!("The networks of {}", t.tenant),
    };
    render(
        status,
        &Page {
            c: chrome,
            choices: choices(&t),
            svg: svg(&layout(&t), &lit, &caption),
            q,
            bad,
            result,
        },
    )
}
