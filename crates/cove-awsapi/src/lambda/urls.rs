//! Lambda's function URLs: `CreateFunctionUrlConfig`, `GetFunctionUrlConfig`,
//! `UpdateFunctionUrlConfig` and `DeleteFunctionUrlConfig` (signed, carried out
//! through cove's `/v1/functions/{name}/url` as the tenant), and the URLs
//! themselves: `/lambda-url/<url-id>/…` on this listener. A request to a URL
//! becomes the function's event (payload format 2.0) and the function's answer
//! the HTTP response; `AWS_IAM` URLs take only requests signed with an access key
//! of the function's own tenant. A request whose `Host` is the URL's own
//! (`<url-id>.lambda-url.<region>.on.aws`) is served at any path ([`by_host`]);
//! a URL's CORS settings answer preflights and set the answers' CORS headers.

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use cove_api::ApiState;
use cove_api::functions::invoke_as;
use cove_api::layer::Caller;
use cove_control::{Actor, TokenId};
use cove_functions::cors::is_preflight;
use cove_functions::url::{UrlRequest, event, response};
use serde_json::{Value, json};

use super::config::arn;
use super::error::LambdaError;
use super::server::{Signed, body_json, cove, enc, function_name, json_response, signed};

/// Largest request body a URL takes (Lambda's synchronous payload limit).
const MAX_URL_BODY: usize = 6 << 20;

/// The routes (state applied by the caller).
pub(super) fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/2021-10-31/functions/{name}/url",
            post(create).get(get_config).put(update).delete(delete),
        )
        .route("/lambda-url/{id}", any(serve_root))
        .route("/lambda-url/{id}/", any(serve_root))
        .route("/lambda-url/{id}/{*rest}", any(serve_path))
}

/// Lambda's answer for a URL configuration (cove's view `v`).
fn answer(s: &Signed, name: &str, v: &Value) -> Value {
    let host = s.header("host").unwrap_or("localhost");
    let mut out = json!({
        "FunctionUrl": format!("http://{host}{}", v["path"].as_str().unwrap_or_default()),
        "FunctionArn": arn(&s.region, &s.account(), name),
        "AuthType": v["auth_type"],
        "CreationTime": v["created"],
        "LastModifiedTime": v["created"],
        "InvokeMode": "BUFFERED",
    });
    if !v["cors"].is_null() {
        out["Cors"] = v["cors"].clone();
    }
    out
}

/// The body's `AuthType`, `Cors` and `InvokeMode` as cove's request.
fn request_of(b: &Value) -> Result<Value, LambdaError> {
    match b["InvokeMode"].as_str() {
        None | Some("BUFFERED") => {}
        Some(other) => {
            return Err(LambdaError::invalid(format!(
                "InvokeMode {other} is not supported: cove answers function URLs BUFFERED"
            )));
        }
    }
    let mut req = json!({});
    if !b["AuthType"].is_null() {
        req["auth_type"] = b["AuthType"].clone();
    }
    if !b["Cors"].is_null() {
        req["cors"] = b["Cors"].clone();
    }
    Ok(req)
}

/// One configuration call: `method` on cove's `/v1/functions/{name}/url` with
/// the body's settings (none for `GET`/`DELETE`); Lambda's answer with `status`.
async fn config_call(
    api: &ApiState,
    req: Request,
    name: &str,
    method: &str,
    status: u16,
) -> Response {
    let s = match signed(api, req).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let name = function_name(name).to_owned();
    let result = async {
        let body = if matches!(method, "POST" | "PATCH") {
            request_of(&body_json(&s)?)?.to_string().into_bytes()
        } else {
            Vec::new()
        };
        let path = format!("/v1/functions/{}/url", enc(&name));
        let (_, v, _, _) = cove(
            api,
            &s,
            method,
            &path,
            &[("content-type", "application/json")],
            body,
        )
        .await?;
        Ok::<Value, LambdaError>(v)
    }
    .await;
    match result {
        Ok(_) if method == "DELETE" => StatusCode::NO_CONTENT.into_response(),
        Ok(v) => json_response(status, &answer(&s, &name, &v)),
        Err(e) => e.into_response(),
    }
}

/// `CreateFunctionUrlConfig`.
async fn create(State(api): State<ApiState>, Path(name): Path<String>, req: Request) -> Response {
    config_call(&api, req, &name, "POST", 201).await
}

/// `GetFunctionUrlConfig`.
async fn get_config(
    State(api): State<ApiState>,
    Path(name): Path<String>,
    req: Request,
) -> Response {
    config_call(&api, req, &name, "GET", 200).await
}

/// `UpdateFunctionUrlConfig`.
async fn update(State(api): State<ApiState>, Path(name): Path<String>, req: Request) -> Response {
    config_call(&api, req, &name, "PATCH", 200).await
}

/// `DeleteFunctionUrlConfig`.
async fn delete(State(api): State<ApiState>, Path(name): Path<String>, req: Request) -> Response {
    config_call(&api, req, &name, "DELETE", 204).await
}

/// A URL's own answer (not the function's): `{"Message": …}` with `status`.
fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        json!({ "Message": message }).to_string(),
    )
        .into_response()
}

async fn serve_root(State(api): State<ApiState>, Path(id): Path<String>, req: Request) -> Response {
    serve(&api, &id, "/", req).await
}

async fn serve_path(
    State(api): State<ApiState>,
    Path((id, rest)): Path<(String, String)>,
    req: Request,
) -> Response {
    serve(&api, &id, &format!("/{rest}"), req).await
}

/// A request to function URL `id`, for path `tail` within it.
async fn serve(api: &ApiState, id: &str, tail: &str, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = to_bytes(body, MAX_URL_BODY).await else {
        return plain(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    };
    let cur = match api.service.current().await {
        Ok(c) => c,
        Err(_) => return plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    };
    let Some(target) = cove_api::function_urls::find_by_url_id(&cur, id) else {
        return plain(StatusCode::NOT_FOUND, "Not Found");
    };
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let origin = header("origin").map(str::to_owned);
    // A preflight is answered by the URL itself, before any signature (a browser
    // sends none with it), and never reaches the function.
    if let Some(cors) = &target.cors
        && is_preflight(
            parts.method.as_str(),
            origin.as_deref(),
            header("access-control-request-method"),
        )
    {
        let mut r = StatusCode::OK.into_response();
        add_headers(
            &mut r,
            cors.preflight(origin.as_deref().unwrap_or_default()),
        );
        return r;
    }
    let (tenant, name) = (target.tenant.clone(), target.name.clone());
    if target.auth_type == "AWS_IAM" {
        // Signed, with a key of the function's own tenant: another tenant's
        // valid signature is as good as none.
        let ok =
            crate::auth::verify(api, &cur, &parts, &body).is_ok_and(|(_, signer)| signer == tenant);
        if !ok {
            return plain(StatusCode::FORBIDDEN, "Forbidden");
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
    let source_ip = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(String::new, |c| c.0.ip().to_string());
    let request_id = crate::ec2::server::request_id();
    let ev = event(&UrlRequest {
        method: parts.method.to_string(),
        path: tail.to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body: body.to_vec(),
        source_ip,
        protocol: format!("{:?}", parts.version),
        request_id: request_id.clone(),
        time_epoch_ms: now,
        url_id: id.to_owned(),
        domain: parts
            .headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_owned(),
    });
    // The function's owner invokes it, directly (as Lambda's `Invoke` does here:
    // no pass through a router built for the call).
    let caller = Caller {
        actor: Actor::Tenant {
            tenant,
            token: TokenId(format!("function-url:{id}")),
        },
        request_id,
    };
    let answer = invoke_as(
        api,
        &caller,
        &name,
        &axum::http::HeaderMap::new(),
        axum::body::Body::from(ev.to_string()),
    )
    .await;
    let answer = match answer {
        Ok(r)
            if r.status() == StatusCode::OK
                && !r.headers().contains_key("x-amz-function-error") =>
        {
            r
        }
        Err(e) if e.status == StatusCode::TOO_MANY_REQUESTS => {
            return plain(StatusCode::TOO_MANY_REQUESTS, "Rate Exceeded.");
        }
        // Lambda's function URLs answer a function's error (and a function that
        // cannot run yet) with 502.
        _ => return plain(StatusCode::BAD_GATEWAY, "Internal Server Error"),
    };
    let Ok(body) = to_bytes(answer.into_body(), MAX_URL_BODY).await else {
        return plain(StatusCode::BAD_GATEWAY, "Internal Server Error");
    };
    let out = response(&body);
    let mut r = (
        StatusCode::from_u16(out.status).unwrap_or(StatusCode::OK),
        out.body,
    )
        .into_response();
    let cors = target.cors.as_ref();
    // With CORS settings, the URL's CORS headers replace the function's own.
    let own = out
        .headers
        .into_iter()
        .filter(|(k, _)| cors.is_none() || !k.to_ascii_lowercase().starts_with("access-control-"));
    add_headers(&mut r, own);
    if let (Some(cors), Some(origin)) = (cors, origin.as_deref()) {
        add_headers(&mut r, cors.response(origin));
    }
    r
}

/// Appends `headers` to `r` (those that are not valid HTTP are left out).
fn add_headers(r: &mut Response, headers: impl IntoIterator<Item = (String, String)>) {
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            r.headers_mut().append(k, v);
        }
    }
}

/// The URL id a `Host` names: `<url-id>.lambda-url.<region>.on.aws` (Lambda's
/// form; any domain after `lambda-url.`, any port).
pub(crate) fn url_id_of_host(host: &str) -> Option<String> {
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let (id, rest) = host.split_once('.')?;
    let id = id.to_ascii_lowercase();
    let is_id = id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    (is_id && rest.to_ascii_lowercase().starts_with("lambda-url.")).then_some(id)
}

/// Serves a request whose `Host` is a function URL's (any path) as that URL; any
/// other goes on to the routes.
pub(crate) async fn by_host(
    State(api): State<ApiState>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let id = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(url_id_of_host);
    match id {
        Some(id) => {
            let path = req.uri().path().to_owned();
            serve(&api, &id, &path, req).await
        }
        None => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::url_id_of_host;

    #[test]
    fn a_url_host_names_its_id() {
        let id = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            url_id_of_host(&format!("{id}.lambda-url.us-east-1.on.aws")).as_deref(),
            Some(id)
        );
        assert_eq!(
            url_id_of_host(&format!("{}.LAMBDA-URL.example:9001", id.to_uppercase())).as_deref(),
            Some(id)
        );
        for not in [
            "127.0.0.1:9001",
            "localhost",
            "abc.lambda-url.us-east-1.on.aws",
            &format!("{id}.example.com"),
            &format!("{id}lambda-url.x"),
        ] {
            assert_eq!(url_id_of_host(not), None, "{not}");
        }
    }
}
