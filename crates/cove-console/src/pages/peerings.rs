//! Peerings: requests waiting for the caller (accept or reject), every peering,
//! and a request form.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::CsrfForm;
use super::{Chrome, ErrorView, Signed, given, message_page, refusal_page, render, time};
use crate::Console;
use crate::client::query_value;

/// A peering row.
#[derive(Debug, Clone)]
pub struct PeeringRow {
    id: String,
    status: String,
    message: String,
    role: String,
    requester: String,
    accepter: String,
    expires: String,
    updated: String,
    deletable: bool,
}

fn end(v: &Value) -> String {
    format!(
        "{} / {}",
        v["account_id"].as_str().unwrap_or_default(),
        v["vpc_id"].as_str().unwrap_or_default()
    )
}

fn row(p: &Value) -> PeeringRow {
    let status = p["status"].as_str().unwrap_or_default().to_owned();
    PeeringRow {
        id: p["id"].as_str().unwrap_or_default().to_owned(),
        deletable: matches!(
            status.as_str(),
            "active" | "pending-acceptance" | "provisioning"
        ),
        status,
        message: p["status_message"].as_str().unwrap_or_default().to_owned(),
        role: p["role"].as_str().unwrap_or_default().to_owned(),
        requester: end(&p["requester"]),
        accepter: end(&p["accepter"]),
        expires: p["expires_at"].as_u64().map(time).unwrap_or_default(),
        updated: p["updated_at"].as_u64().map(time).unwrap_or_default(),
    }
}

/// The request form's fields.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    vpc_id: String,
    #[serde(default)]
    peer_owner_id: String,
    #[serde(default)]
    peer_vpc_id: String,
}

#[derive(Template)]
#[template(path = "peerings.html")]
struct ListPage {
    c: Chrome,
    incoming: Vec<PeeringRow>,
    others: Vec<PeeringRow>,
    networks: Vec<(String, String)>,
    form: RequestForm,
    bad: String,
}

async fn page(
    c: &Console,
    s: &Signed,
    form: RequestForm,
    error: Option<ErrorView>,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let client = s.client(c);
    let all: Vec<Value> = match client.get("/v1/peerings").await {
        Ok(v) => v,
        Err(r) => return refusal_page(c, s, &r),
    };
    let networks: Vec<Value> = client.get("/v1/connect/networks").await.unwrap_or_default();
    let (incoming, others): (Vec<&Value>, Vec<&Value>) = all.iter().partition(|p| {
        p["status"] == "pending-acceptance"
            && matches!(p["role"].as_str(), Some("accepter" | "both"))
    });
    let mut chrome = s.chrome("peerings", "Peerings");
    let bad = error.as_ref().map(|e| e.field.clone()).unwrap_or_default();
    chrome.error = error;
    chrome.notice = notice;
    render(
        status,
        &ListPage {
            c: chrome,
            incoming: incoming.into_iter().map(row).collect(),
            others: others.into_iter().map(row).collect(),
            networks: networks
                .iter()
                .map(|n| {
                    (
                        n["name"].as_str().unwrap_or_default().to_owned(),
                        n["vpc_id"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
            form,
            bad,
        },
    )
}

/// The page.
pub async fn list(State(c): State<Console>, s: Signed) -> Response {
    page(&c, &s, RequestForm::default(), None, None, StatusCode::OK).await
}

/// Requests a peering.
pub async fn request(State(c): State<Console>, s: Signed, Form(f): Form<RequestForm>) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let mut body = json!({});
    for (k, v) in [
        ("vpc_id", &f.vpc_id),
        ("peer_owner_id", &f.peer_owner_id),
        ("peer_vpc_id", &f.peer_vpc_id),
    ] {
        if let Some(v) = given(v) {
            body[k] = json!(v);
        }
    }
    match s.client(&c).send("POST", "/v1/peerings", Some(&body)).await {
        Ok(p) => {
            let notice = format!(
                "Peering {} requested: {}",
                p["id"].as_str().unwrap_or_default(),
                p["status"].as_str().unwrap_or_default()
            );
            page(
                &c,
                &s,
                RequestForm::default(),
                None,
                Some(notice),
                StatusCode::OK,
            )
            .await
        }
        Err(r) if r.is_auth() => refusal_page(&c, &s, &r),
        Err(r) => {
            let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
            page(&c, &s, f, Some(ErrorView::from(&r)), None, status).await
        }
    }
}

/// Accepts, rejects or deletes a peering.
pub async fn act(
    State(c): State<Console>,
    s: Signed,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let base = format!("/v1/peerings/{}", query_value(&id));
    let (method, path) = match action.as_str() {
        "accept" => ("POST", format!("{base}/accept")),
        "reject" => ("POST", format!("{base}/reject")),
        "delete" => ("DELETE", base),
        _ => {
            return message_page(
                StatusCode::NOT_FOUND,
                "Not found",
                "A peering can be accepted, rejected or deleted.",
            );
        }
    };
    match s.client(&c).send(method, &path, None).await {
        Ok(_) => Redirect::to("/console/peerings").into_response(),
        Err(r) if r.is_auth() => refusal_page(&c, &s, &r),
        Err(r) => {
            let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
            page(
                &c,
                &s,
                RequestForm::default(),
                Some(ErrorView::from(&r)),
                None,
                status,
            )
            .await
        }
    }
}
