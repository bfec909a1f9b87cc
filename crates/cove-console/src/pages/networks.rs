//! Networks: list, create, show (static IP pair, subnets, NAT failover), delete.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::CsrfForm;
use super::{Chrome, ErrorView, Signed, given, refusal_page, render, time};
use crate::Console;
use crate::client::query_value;

/// A network as the list shows it.
#[derive(Debug, Clone, Default)]
pub struct NetworkRow {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Status.
    pub status: String,
    /// CIDR.
    pub cidr: String,
    /// Region.
    pub region: String,
    /// Zones, comma-separated.
    pub zones: String,
    /// The static IPs, comma-separated.
    pub static_ips: String,
    /// VPC id.
    pub vpc_id: String,
}

fn text(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn joined(v: &Value, k: &str) -> String {
    v[k].as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn row(v: &Value) -> NetworkRow {
    NetworkRow {
        id: text(v, "id"),
        name: text(v, "name"),
        status: text(v, "status"),
        cidr: text(v, "cidr"),
        region: text(v, "region"),
        zones: joined(v, "availability_zones"),
        static_ips: joined(v, "static_ips"),
        vpc_id: text(v, "vpc_id"),
    }
}

/// The create form's fields.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    cidr: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    zones: String,
    #[serde(default)]
    nat_failover: String,
}

#[derive(Template)]
#[template(path = "networks.html")]
struct ListPage {
    c: Chrome,
    rows: Vec<NetworkRow>,
    form: CreateForm,
    bad: String,
}

async fn list_page(
    c: &Console,
    s: &Signed,
    form: CreateForm,
    error: Option<ErrorView>,
    status: StatusCode,
) -> Response {
    let rows: Vec<Value> = match s.client(c).get("/v1/connect/networks").await {
        Ok(r) => r,
        Err(r) => return refusal_page(c, s, &r),
    };
    let mut chrome = s.chrome("networks", "Networks");
    let bad = error.as_ref().map(|e| e.field.clone()).unwrap_or_default();
    chrome.error = error;
    render(
        status,
        &ListPage {
            c: chrome,
            rows: rows.iter().map(row).collect(),
            form,
            bad,
        },
    )
}

/// The list and the create form.
pub async fn list(State(c): State<Console>, s: Signed) -> Response {
    let form = CreateForm {
        region: "us-east-1".to_owned(),
        ..CreateForm::default()
    };
    list_page(&c, &s, form, None, StatusCode::OK).await
}

/// Creates a network; a refusal is shown on the form, which keeps its values.
pub async fn create(State(c): State<Console>, s: Signed, Form(f): Form<CreateForm>) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let mut body = json!({});
    for (k, v) in [
        ("name", &f.name),
        ("cidr", &f.cidr),
        ("region", &f.region),
        ("nat_failover", &f.nat_failover),
    ] {
        if let Some(v) = given(v) {
            body[k] = json!(v);
        }
    }
    if given(&f.zones).is_some() {
        let zones: Vec<&str> = f
            .zones
            .split(',')
            .map(str::trim)
            .filter(|z| !z.is_empty())
            .collect();
        body["availability_zones"] = json!(zones);
    }
    match s
        .client(&c)
        .send("POST", "/v1/connect/networks", Some(&body))
        .await
    {
        Ok(n) => Redirect::to(&format!(
            "/console/networks/{}",
            query_value(&text(&n, "id"))
        ))
        .into_response(),
        Err(r) if r.is_auth() => refusal_page(&c, &s, &r),
        Err(r) => {
            let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
            list_page(&c, &s, f, Some(ErrorView::from(&r)), status).await
        }
    }
}

/// A subnet row.
#[derive(Debug, Clone)]
pub struct SubnetRow {
    name: String,
    cidr: String,
    az: String,
    kind: String,
}

/// A NAT gateway row.
#[derive(Debug, Clone)]
pub struct GatewayRow {
    name: String,
    public_ip: String,
    partner: String,
    carried_by: String,
    taken_over: bool,
    since: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "network.html")]
struct ShowPage {
    c: Chrome,
    n: NetworkRow,
    subnets: Vec<SubnetRow>,
    failover_mode: String,
    gateways: Vec<GatewayRow>,
    functions: Vec<String>,
}

/// One network: its static IP pair, subnets, NAT gateways and their failover
/// state, the functions on it.
pub async fn show(State(c): State<Console>, s: Signed, Path(id): Path<String>) -> Response {
    let client = s.client(&c);
    let path = format!("/v1/connect/networks/{}", query_value(&id));
    let n: Value = match client.get(&path).await {
        Ok(n) => n,
        Err(r) => return refusal_page(&c, &s, &r),
    };
    let functions: Vec<Value> = client.get("/v1/functions").await.unwrap_or_default();
    let net_id = text(&n, "id");
    let subnets = n["subnets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| SubnetRow {
            name: text(x, "name"),
            cidr: text(x, "cidr"),
            az: text(x, "availability_zone"),
            kind: text(x, "tier"),
        })
        .collect();
    let gateways = n["failover"]["gateways"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| GatewayRow {
            name: text(g, "name"),
            public_ip: text(g, "public_ip"),
            partner: text(g, "partner"),
            carried_by: text(g, "carried_by"),
            taken_over: g["carried_by"] != g["name"],
            since: g["since"].as_u64().map(time).unwrap_or_default(),
            reason: text(g, "reason"),
        })
        .collect();
    let row = row(&n);
    render(
        StatusCode::OK,
        &ShowPage {
            c: s.chrome("networks", format!("Network {}", row.name)),
            failover_mode: text(&n["failover"], "mode"),
            n: row,
            subnets,
            gateways,
            functions: functions
                .iter()
                .filter(|f| f["network"].as_str() == Some(net_id.as_str()))
                .map(|f| text(f, "name"))
                .collect(),
        },
    )
}

/// Deletes a network.
pub async fn delete(
    State(c): State<Console>,
    s: Signed,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let path = format!("/v1/connect/networks/{}", query_value(&id));
    match s.client(&c).send("DELETE", &path, None).await {
        Ok(_) => Redirect::to("/console/networks").into_response(),
        Err(r) => refusal_page(&c, &s, &r),
    }
}
