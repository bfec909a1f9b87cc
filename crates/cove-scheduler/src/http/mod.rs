//! Lambda's Invoke API and function URLs over HTTP/1.1, on top of a [`Scheduler`].
//!
//! * `POST /2015-03-31/functions/{name}/invocations` — `Invoke` (invocation types
//!   `RequestResponse`, `Event`, `DryRun`; `X-Amz-Function-Error: Unhandled` on a
//!   function error; Lambda's error codes in `x-amzn-ErrorType`).
//! * `GET /2015-03-31/functions/`, `GET /2015-03-31/functions/{name}` and
//!   `GET /2015-03-31/functions/{name}/configuration` — `ListFunctions`,
//!   `GetFunction` (configuration only), `GetFunctionConfiguration`.
//!
//! `{name}` is what Lambda accepts in every path ([`name`]): a name, a partial or a
//! full ARN, optionally with `:QUALIFIER` (only `$LATEST` exists here), percent-encoded;
//! an invalid one is `400 ValidationException`. `Event` invocations are queued
//! ([`crate::events`]); the client context is decoded for the runtime
//! ([`client_context`]).
//! * Function URLs: any request to `/url/{name}/{path…}`, or with a `Host` of
//!   `{name}.lambda-url.…`, becomes an API Gateway payload-2.0 event ([`url`]).
//! * `GET /metrics`: Prometheus's metrics ([`Scheduler::set_metrics`]; 404 without).

pub mod client_context;
pub mod name;
pub use cove_functions::url;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;

use cove_functions::config::{DEFAULT_ACCOUNT, DEFAULT_REGION, FunctionConfig};

use crate::scheduler::MAX_PAYLOAD_BYTES;
use crate::{InvokeError, InvokeRequest, InvokeResult, Scheduler};

const FUNCTIONS: &str = "/2015-03-31/functions";

/// Serves the API on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, scheduler: Scheduler) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let scheduler = scheduler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let scheduler = scheduler.clone();
                async move { Ok::<_, Infallible>(handle(&scheduler, req, peer).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

type Resp = Response<Full<Bytes>>;

async fn handle(s: &Scheduler, req: Request<Incoming>, peer: SocketAddr) -> Resp {
    let path = req.uri().path().to_owned();
    if let Some(name) = url_function(&req) {
        return function_url(s, req, peer, &name.0, &name.1).await;
    }
    if path == "/metrics" && req.method() == Method::GET {
        return metrics_page(s).await;
    }
    let rest = path.strip_prefix(FUNCTIONS);
    match (req.method(), rest) {
        (&Method::GET, Some("" | "/")) => list(s),
        (&Method::POST, Some(r)) => match r
            .strip_prefix('/')
            .and_then(|r| r.strip_suffix("/invocations"))
        {
            Some(name) if !name.contains('/') => invoke(s, req, name).await,
            _ => unknown(&path),
        },
        (&Method::GET, Some(r)) => {
            let query = req.uri().query();
            match r
                .strip_prefix('/')
                .map(|r| r.split_once('/').unwrap_or((r, "")))
            {
                Some((name, "")) if !name.is_empty() => get(s, name, query, false),
                Some((name, "configuration")) => get(s, name, query, true),
                _ => unknown(&path),
            }
        }
        _ => unknown(&path),
    }
}

/// `GET /metrics`: the text the scrape gets (rendered off the async workers: the
/// samplers lock the functions' pools).
async fn metrics_page(s: &Scheduler) -> Resp {
    let Some(metrics) = s.metrics() else {
        return unknown("/metrics");
    };
    let text = tokio::task::spawn_blocking(move || metrics.render())
        .await
        .unwrap_or_default();
    let mut r = Response::new(Full::new(Bytes::from(text)));
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static(cove_metrics::CONTENT_TYPE),
    );
    r
}

/// The function and the path within it, if `req` is for a function URL.
fn url_function(req: &Request<Incoming>) -> Option<(String, String)> {
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix("/url/") {
        let (name, tail) = rest.split_once('/').unwrap_or((rest, ""));
        return Some((name.to_owned(), format!("/{tail}")));
    }
    let host = req.headers().get(hyper::header::HOST)?.to_str().ok()?;
    let (name, domain) = host.split_once('.')?;
    domain
        .starts_with("lambda-url.")
        .then(|| (name.to_owned(), path.to_owned()))
}

fn json_response(status: u16, body: Bytes, headers: &[(&str, String)]) -> Resp {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.append(k, v);
        }
    }
    r
}

/// Lambda's error response: `x-amzn-ErrorType` and `{"Type","message"}`.
fn error_response(code: &str, status: u16, message: &str, reason: Option<&str>) -> Resp {
    let kind = if status >= 500 { "Service" } else { "User" };
    let mut body = json!({ "Type": kind, "message": message });
    if let Some(r) = reason {
        body["Reason"] = json!(r);
    }
    json_response(
        status,
        Bytes::from(body.to_string()),
        &[("x-amzn-ErrorType", code.to_owned())],
    )
}

fn invoke_error(e: &InvokeError) -> Resp {
    let reason = matches!(e, InvokeError::Throttled { .. })
        .then_some("ReservedFunctionConcurrentInvocationLimitExceeded");
    let mut message = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        message.push_str(": ");
        message.push_str(&s.to_string());
        src = s.source();
    }
    error_response(e.code(), e.status(), &message, reason)
}

fn unknown(path: &str) -> Resp {
    error_response(
        "UnknownOperationException",
        404,
        &format!("no operation at {path}; see POST {FUNCTIONS}/NAME/invocations"),
        None,
    )
}

/// Most bytes of an oversized body read (and dropped) so that the client, which sends
/// its whole body before it reads the answer, gets `RequestTooLargeException` rather
/// than a reset connection.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Reads a request's body, at most [`MAX_PAYLOAD_BYTES`]; a longer one is read to its
/// end (up to [`DRAIN_LIMIT`]) and refused.
async fn read_body(
    req: Request<Incoming>,
) -> Result<(hyper::http::request::Parts, Bytes), InvokeError> {
    let (parts, mut body) = req.into_parts();
    let mut kept = BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map(hyper::body::Frame::into_data) else {
            break;
        };
        let Ok(data) = data else { continue };
        total = total.saturating_add(data.len());
        if total <= MAX_PAYLOAD_BYTES {
            kept.extend_from_slice(&data);
        } else if total > DRAIN_LIMIT {
            break;
        }
    }
    if total > MAX_PAYLOAD_BYTES {
        return Err(InvokeError::PayloadTooLarge {
            size: total,
            limit: MAX_PAYLOAD_BYTES,
        });
    }
    Ok((parts, kept.freeze()))
}

/// A query parameter's value, percent-decoded.
fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then(|| name::percent_decode(&v.replace('+', " ")))
    })
}

/// The function a path names (see [`name`]) with the `Qualifier` parameter: only
/// `$LATEST` exists, in the account and region of the function's own ARN.
fn resolve(
    s: &Scheduler,
    raw: &str,
    query: Option<&str>,
) -> Result<std::sync::Arc<FunctionConfig>, InvokeError> {
    let asked = name::parse(raw)?;
    let qualifier = match (asked.qualifier.clone(), query_param(query, "Qualifier")) {
        (Some(derived), Some(given)) if derived != given => {
            return Err(InvokeError::QualifierMismatch { derived, given });
        }
        (derived, given) => derived.or(given),
    };
    let found = s.functions().into_iter().find(|f| {
        f.name == asked.name
            && name::arn_region_account(&f.arn).is_some_and(|(region, account)| {
                asked.region.as_deref().is_none_or(|r| r == region)
                    && asked.account.as_deref().is_none_or(|a| a == account)
            })
    });
    match (found, qualifier.as_deref()) {
        (Some(f), None | Some("$LATEST")) => Ok(f),
        (found, _) => {
            let (region, account) = found
                .as_ref()
                .and_then(|f| name::arn_region_account(&f.arn))
                .map_or(
                    (DEFAULT_REGION.to_owned(), DEFAULT_ACCOUNT.to_owned()),
                    |(r, a)| (r.to_owned(), a.to_owned()),
                );
            let region = asked.region.unwrap_or(region);
            let account = asked.account.unwrap_or(account);
            let tail = qualifier.map_or_else(String::new, |q| format!(":{q}"));
            Err(InvokeError::NotFound {
                arn: format!(
                    "arn:aws:lambda:{region}:{account}:function:{}{tail}",
                    asked.name
                ),
            })
        }
    }
}

fn header(parts: &hyper::http::request::Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn invoke(s: &Scheduler, req: Request<Incoming>, raw_name: &str) -> Resp {
    let f = match resolve(s, raw_name, req.uri().query()) {
        Ok(f) => f,
        Err(e) => return invoke_error(&e),
    };
    let (parts, payload) = match read_body(req).await {
        Ok(x) => x,
        Err(e) => return invoke_error(&e),
    };
    let client_context = match header(&parts, "x-amz-client-context") {
        Some(b64) => match client_context::decode(&b64) {
            Ok(json) => Some(json),
            Err(e) => return invoke_error(&e.into()),
        },
        None => None,
    };
    let mut request = InvokeRequest {
        payload,
        client_context,
        trace_id: header(&parts, "x-amzn-trace-id"),
        log_tail: header(&parts, "x-amz-log-type").is_some_and(|t| t == "Tail"),
        request_id: None,
    };
    let kind = header(&parts, "x-amz-invocation-type").unwrap_or_else(|| "RequestResponse".into());
    match kind.as_str() {
        "RequestResponse" => match s.invoke(&f.name, request).await {
            Ok(r) => invoke_ok(&r),
            Err(e) => invoke_error(&e),
        },
        "DryRun" => json_response(204, Bytes::new(), &[]),
        "Event" => {
            // Lambda hands the client context to synchronous invocations only.
            request.client_context = None;
            request.log_tail = false;
            match s.invoke_async(&f.name, request) {
                Ok(id) => json_response(202, Bytes::new(), &[("x-amzn-RequestId", id)]),
                Err(e) => invoke_error(&e),
            }
        }
        other => error_response(
            "InvalidParameterValueException",
            400,
            &format!(
                "X-Amz-Invocation-Type `{other}` is not one of RequestResponse, Event, DryRun"
            ),
            None,
        ),
    }
}

fn invoke_ok(r: &InvokeResult) -> Resp {
    let mut headers = vec![
        ("X-Amz-Executed-Version", "$LATEST".to_owned()),
        ("x-amzn-RequestId", r.request_id.clone()),
    ];
    if let Some(fe) = &r.function_error {
        headers.push(("X-Amz-Function-Error", fe.clone()));
    }
    if let Some(tail) = &r.log_tail {
        use base64::Engine as _;
        headers.push((
            "X-Amz-Log-Result",
            base64::engine::general_purpose::STANDARD.encode(tail),
        ));
    }
    json_response(200, r.payload.clone(), &headers)
}

fn configuration(f: &cove_functions::config::FunctionConfig) -> serde_json::Value {
    json!({
        "FunctionName": f.name,
        "FunctionArn": f.arn,
        "Runtime": f.runtime,
        "Handler": f.handler,
        "MemorySize": f.memory_mb,
        "Timeout": f.timeout_s,
        "CodeSha256": f.code.sha256,
        "CodeSize": f.code.size,
        "Version": "$LATEST",
        "State": "Active",
        "PackageType": "Zip",
        "Environment": { "Variables": f.environment.iter().cloned().collect::<std::collections::BTreeMap<_, _>>() },
        "VpcConfig": {
            "VpcId": f.vpc,
            "SubnetIds": f.subnets,
            "SecurityGroupIds": f.security_groups,
        },
        "ReservedConcurrentExecutions": f.slots.len(),
    })
}

fn list(s: &Scheduler) -> Resp {
    let fns: Vec<_> = s.functions().iter().map(|f| configuration(f)).collect();
    json_response(
        200,
        Bytes::from(json!({ "Functions": fns }).to_string()),
        &[],
    )
}

/// `GetFunction` (`{"Configuration": …}`), or with `configuration_only`
/// `GetFunctionConfiguration` (the same Configuration object alone).
fn get(s: &Scheduler, raw_name: &str, query: Option<&str>, configuration_only: bool) -> Resp {
    match resolve(s, raw_name, query) {
        Ok(f) => {
            let config = configuration(&f);
            let body = if configuration_only {
                config
            } else {
                json!({ "Configuration": config })
            };
            json_response(200, Bytes::from(body.to_string()), &[])
        }
        Err(e) => invoke_error(&e),
    }
}

async fn function_url(
    s: &Scheduler,
    req: Request<Incoming>,
    peer: SocketAddr,
    name: &str,
    path: &str,
) -> Resp {
    let query = req.uri().query().unwrap_or("").to_owned();
    let domain = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let protocol = format!("{:?}", req.version());
    let (parts, body) = match read_body(req).await {
        Ok(x) => x,
        Err(e) => return invoke_error(&e),
    };
    let headers = parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
    let event = url::event(&url::UrlRequest {
        method: parts.method.to_string(),
        path: path.to_owned(),
        query,
        headers,
        body: body.to_vec(),
        source_ip: peer.ip().to_string(),
        protocol,
        request_id: format!("{now:x}-{}", peer.port()),
        time_epoch_ms: now,
        url_id: name.to_owned(),
        domain,
    });
    let request = InvokeRequest {
        payload: Bytes::from(event.to_string()),
        ..Default::default()
    };
    match s.invoke(name, request).await {
        Ok(r) if r.function_error.is_none() => {
            let out = url::response(&r.payload);
            let mut resp = Response::new(Full::new(Bytes::from(out.body)));
            *resp.status_mut() = StatusCode::from_u16(out.status).unwrap_or(StatusCode::OK);
            for (k, v) in out.headers {
                if let (Ok(k), Ok(v)) = (
                    hyper::header::HeaderName::from_bytes(k.as_bytes()),
                    HeaderValue::from_str(&v),
                ) {
                    resp.headers_mut().append(k, v);
                }
            }
            resp
        }
        // Lambda's function URLs answer a function error with 502.
        Ok(_) => json_response(
            502,
            Bytes::from_static(br#"{"Message":"Internal Server Error"}"#),
            &[],
        ),
        Err(e) => invoke_error(&e),
    }
}
