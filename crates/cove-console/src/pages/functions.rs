//! Functions: list, deploy from a zip (upload, then create), show with invoke,
//! metrics and logs, delete.

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::CsrfForm;
use super::{Chrome, ErrorView, Signed, given, message_page, refusal_page, render};
use crate::Console;
use crate::client::{Refusal, query_value};

/// A function as shown.
#[derive(Debug, Clone, Default)]
pub struct FunctionRow {
    name: String,
    state: String,
    state_class: String,
    runtime: String,
    handler: String,
    code: String,
    network: String,
    subnets: String,
    memory: String,
    timeout: String,
}

fn row(f: &Value, networks: &[(String, String)]) -> FunctionRow {
    let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
    let state = f["state"].as_str().unwrap_or("Unknown").to_owned();
    let network = f["network"]
        .as_str()
        .map(|id| {
            networks
                .iter()
                .find(|(_, i)| i == id)
                .map_or_else(|| id.to_owned(), |(n, _)| n.clone())
        })
        .unwrap_or_else(|| s("vpc"));
    FunctionRow {
        name: s("name"),
        state_class: match state.as_str() {
            "Active" => "ok",
            "Pending" => "pending",
            _ => "warn",
        }
        .to_owned(),
        state,
        runtime: s("runtime"),
        handler: s("handler"),
        code: s("code"),
        network,
        subnets: f["subnets"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
        memory: f["memory"].as_str().unwrap_or("128").to_owned(),
        timeout: f["timeout"].as_str().unwrap_or("3").to_owned(),
    }
}

/// The deploy form's fields (the zip aside).
#[derive(Debug, Clone, Default)]
pub struct DeployForm {
    name: String,
    network: String,
    runtime: String,
    handler: String,
    subnets: String,
    memory: String,
    timeout: String,
}

#[derive(Template)]
#[template(path = "functions.html")]
struct ListPage {
    c: Chrome,
    rows: Vec<FunctionRow>,
    networks: Vec<(String, String)>,
    form: DeployForm,
    bad: String,
}

async fn networks(c: &Console, s: &Signed) -> Vec<(String, String)> {
    let v: Vec<Value> = s
        .client(c)
        .get("/v1/connect/networks")
        .await
        .unwrap_or_default();
    v.iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap_or_default().to_owned(),
                n["id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn list_page(c: &Console, s: &Signed, form: DeployForm, error: Option<&Refusal>) -> Response {
    let all: Vec<Value> = match s.client(c).get("/v1/functions").await {
        Ok(v) => v,
        Err(r) => return refusal_page(c, s, &r),
    };
    let nets = networks(c, s).await;
    let mut chrome = s.chrome("functions", "Functions");
    chrome.error = error.map(ErrorView::from);
    let status = error.map_or(StatusCode::OK, |r| {
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST)
    });
    render(
        status,
        &ListPage {
            c: chrome,
            rows: all.iter().map(|f| row(f, &nets)).collect(),
            networks: nets,
            bad: error.and_then(|r| r.field.clone()).unwrap_or_default(),
            form,
        },
    )
}

/// The list and the deploy form.
pub async fn list(State(c): State<Console>, s: Signed) -> Response {
    let form = DeployForm {
        runtime: "python3.11".to_owned(),
        memory: "128".to_owned(),
        timeout: "3".to_owned(),
        ..DeployForm::default()
    };
    list_page(&c, &s, form, None).await
}

fn number(field: &str, text: &str) -> Result<Option<i64>, Refusal> {
    let Some(t) = given(text) else {
        return Ok(None);
    };
    t.parse().map(Some).map_err(|_| Refusal {
        status: 400,
        code: "InvalidParameterValueException".to_owned(),
        message: format!("`{t}` is not a whole number"),
        field: Some(field.to_owned()),
        hint: format!("write the {field} as digits"),
    })
}

/// Deploys: uploads the zip (`POST /v1/functions/code`), then creates the
/// function with the code's digest (`POST /v1/functions`).
pub async fn deploy(State(c): State<Console>, s: Signed, mut parts: Multipart) -> Response {
    let mut form = DeployForm::default();
    let mut csrf = String::new();
    let mut zip: Vec<u8> = Vec::new();
    loop {
        let field = match parts.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return message_page(
                    StatusCode::BAD_REQUEST,
                    "The form could not be read",
                    &format!("{e}: send the form again (the zip may be larger than 50 MB)"),
                );
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        let Ok(bytes) = field.bytes().await else {
            return message_page(
                StatusCode::BAD_REQUEST,
                "The form could not be read",
                "the upload broke off: send the form again",
            );
        };
        let text = || String::from_utf8_lossy(&bytes).into_owned();
        match name.as_str() {
            "csrf" => csrf = text(),
            "name" => form.name = text(),
            "network" => form.network = text(),
            "runtime" => form.runtime = text(),
            "handler" => form.handler = text(),
            "subnets" => form.subnets = text(),
            "memory" => form.memory = text(),
            "timeout" => form.timeout = text(),
            "code" => zip = bytes.to_vec(),
            _ => {}
        }
    }
    if let Some(r) = s.csrf_refusal(&csrf) {
        return r;
    }
    let result = async {
        let memory = number("memory", &form.memory)?;
        let timeout = number("timeout", &form.timeout)?;
        if zip.is_empty() {
            return Err(Refusal {
                status: 400,
                code: "InvalidParameterValueException".to_owned(),
                message: "no zip was chosen".to_owned(),
                field: Some("code".to_owned()),
                hint: "choose the function's code as a .zip file".to_owned(),
            });
        }
        let client = s.client(&c);
        let up = client
            .raw("POST", "/v1/functions/code", Some("application/zip"), zip)
            .await?;
        let mut body = json!({
            "name": form.name.trim(),
            "network": form.network.trim(),
            "runtime": form.runtime.trim(),
            "handler": form.handler.trim(),
            "code": up["code"],
        });
        if let Some(m) = memory {
            body["memory"] = json!(m);
        }
        if let Some(t) = timeout {
            body["timeout"] = json!(t);
        }
        if given(&form.subnets).is_some() {
            let subnets: Vec<&str> = form
                .subnets
                .split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .collect();
            body["subnets"] = json!(subnets);
        }
        client.send("POST", "/v1/functions", Some(&body)).await
    }
    .await;
    match result {
        Ok(f) => Redirect::to(&format!(
            "/console/functions/{}",
            query_value(f["name"].as_str().unwrap_or_default())
        ))
        .into_response(),
        Err(r) if r.is_auth() => refusal_page(&c, &s, &r),
        Err(r) => list_page(&c, &s, form, Some(&r)).await,
    }
}

#[derive(Template)]
#[template(path = "function.html")]
struct ShowPage {
    c: Chrome,
    f: FunctionRow,
    payload: String,
    answer: Option<String>,
    function_error: String,
    bad: String,
    metrics: Vec<(String, String)>,
    logs: String,
}

/// The invoke form's fields.
#[derive(Debug, Deserialize)]
pub struct InvokeForm {
    csrf: String,
    #[serde(default)]
    payload: String,
}

struct Invocation {
    payload: String,
    answer: Option<String>,
    function_error: String,
    error: Option<Refusal>,
}

fn metric_rows(m: &Value) -> Vec<(String, String)> {
    if m["invocations"].as_u64().unwrap_or(0) == 0 && m["throttles"].as_u64().unwrap_or(0) == 0 {
        return Vec::new();
    }
    let n = |k: &str| m[k].as_u64().unwrap_or(0).to_string();
    let f = |k: &str, digits: usize| format!("{:.digits$}", m[k].as_f64().unwrap_or(0.0));
    let envs = m["environments"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    vec![
        ("Invocations".to_owned(), n("invocations")),
        ("Errors".to_owned(), n("errors")),
        ("Throttles".to_owned(), n("throttles")),
        ("Cold starts".to_owned(), n("cold_starts")),
        (
            "Mean duration".to_owned(),
            format!("{} ms", f("duration_ms_mean", 2)),
        ),
        (
            "Longest duration".to_owned(),
            format!("{} ms", f("duration_ms_max", 2)),
        ),
        ("GB-seconds".to_owned(), f("gb_seconds", 6)),
        ("Environments".to_owned(), envs),
    ]
}

async fn show_page(c: &Console, s: &Signed, name: &str, inv: Invocation) -> Response {
    let client = s.client(c);
    let base = format!("/v1/functions/{}", query_value(name));
    let f: Value = match client.get(&base).await {
        Ok(f) => f,
        Err(r) => return refusal_page(c, s, &r),
    };
    let nets = networks(c, s).await;
    let metrics: Value = client
        .get(&format!("{base}/metrics"))
        .await
        .unwrap_or(Value::Null);
    let logs = match client
        .send("GET", &format!("{base}/logs?tail=16384"), None)
        .await
    {
        Ok(Value::String(t)) => t,
        Ok(Value::Null) => String::new(),
        Ok(other) => other.to_string(),
        Err(r) => format!("(no logs: {r})"),
    };
    let mut chrome = s.chrome("functions", format!("Function {name}"));
    let status = inv.error.as_ref().map_or(StatusCode::OK, |r| {
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST)
    });
    chrome.error = inv.error.as_ref().map(ErrorView::from);
    render(
        status,
        &ShowPage {
            c: chrome,
            f: row(&f, &nets),
            payload: inv.payload,
            answer: inv.answer,
            function_error: inv.function_error,
            bad: inv
                .error
                .as_ref()
                .and_then(|r| r.field.clone())
                .unwrap_or_default(),
            metrics: metric_rows(&metrics),
            logs,
        },
    )
}

/// One function.
pub async fn show(State(c): State<Console>, s: Signed, Path(name): Path<String>) -> Response {
    let inv = Invocation {
        payload: "{}".to_owned(),
        answer: None,
        function_error: String::new(),
        error: None,
    };
    show_page(&c, &s, &name, inv).await
}

/// Invokes it with the form's event and shows the answer.
pub async fn invoke(
    State(c): State<Console>,
    s: Signed,
    Path(name): Path<String>,
    Form(f): Form<InvokeForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let payload = if f.payload.trim().is_empty() {
        "{}".to_owned()
    } else {
        f.payload.clone()
    };
    let mut inv = Invocation {
        payload: payload.clone(),
        answer: None,
        function_error: String::new(),
        error: None,
    };
    if serde_json::from_str::<Value>(&payload).is_err() {
        inv.error = Some(Refusal {
            status: 400,
            code: "InvalidRequestContentException".to_owned(),
            message: "the event is not JSON".to_owned(),
            field: Some("payload".to_owned()),
            hint: "write a JSON value, e.g. {\"key\": \"value\"}".to_owned(),
        });
        return show_page(&c, &s, &name, inv).await;
    }
    let path = format!("/v1/functions/{}/invocations", query_value(&name));
    match s
        .client(&c)
        .raw(
            "POST",
            &path,
            Some("application/json"),
            payload.into_bytes(),
        )
        .await
    {
        Ok(v) => {
            inv.function_error = if v.get("errorType").is_some() {
                "function error".to_owned()
            } else {
                String::new()
            };
            inv.answer = Some(match &v {
                Value::String(t) => t.clone(),
                other => serde_json::to_string_pretty(other).unwrap_or_default(),
            });
        }
        Err(r) if r.is_auth() => return refusal_page(&c, &s, &r),
        Err(r) => inv.error = Some(r),
    }
    show_page(&c, &s, &name, inv).await
}

/// Deletes it.
pub async fn delete(
    State(c): State<Console>,
    s: Signed,
    Path(name): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = s.csrf_refusal(&f.csrf) {
        return r;
    }
    let path = format!("/v1/functions/{}", query_value(&name));
    match s.client(&c).send("DELETE", &path, None).await {
        Ok(_) => Redirect::to("/console/functions").into_response(),
        Err(r) => refusal_page(&c, &s, &r),
    }
}
