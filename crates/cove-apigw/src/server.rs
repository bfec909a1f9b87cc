//! The gateway's HTTP side: every connection accepted behind an `execute-api`
//! endpoint is served with its origin; each request is decided
//! ([`crate::dispatch`]), turned into a payload-2.0 event (the function URL
//! format, with the route key, path parameters and the API's ids), invoked on
//! `cove serve`'s scheduler, and its answer turned back into HTTP. A function
//! error is `500 {"message":"Internal Server Error"}` and a throttle `429`, as API
//! Gateway answers them.

use std::convert::Infallible;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use cove_model::bucket_policy::RequestContext;
use cove_scheduler::http::url;
use cove_scheduler::{InvokeError, InvokeRequest, Scheduler};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::{Value, json};

use crate::dispatch::{self, Apis, Dispatch};

/// API Gateway's largest request body (10 MB).
pub const MAX_BODY: usize = 10 << 20;

type Resp = Response<Full<Bytes>>;

/// The private APIs of a deployment, invoked on a scheduler. Cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    apis: Arc<RwLock<Apis>>,
    scheduler: Scheduler,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let apis = self.apis.read().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("Gateway")
            .field("apis", &apis.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn respond(status: u16, body: Bytes, headers: &[(String, String)]) -> Resp {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(k.as_bytes()),
            hyper::header::HeaderValue::from_str(v),
        ) {
            r.headers_mut().append(k, v);
        }
    }
    r
}

fn message(status: u16, text: &str, extra: &[(String, String)]) -> Resp {
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    headers.extend_from_slice(extra);
    respond(
        status,
        Bytes::from(json!({ "message": text }).to_string()),
        &headers,
    )
}

impl Gateway {
    /// A gateway with no API yet, invoking on `scheduler`.
    pub fn new(scheduler: Scheduler) -> Gateway {
        Gateway {
            apis: Arc::default(),
            scheduler,
        }
    }

    /// Serves these APIs from now on.
    pub fn set_apis(&self, apis: Apis) {
        *self.apis.write().unwrap_or_else(|e| e.into_inner()) = apis;
    }

    async fn handle(&self, req: Request<Incoming>, origin: &RequestContext) -> Resp {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (method, path) = (req.method().to_string(), req.uri().path().to_owned());
        let query = req.uri().query().unwrap_or("").to_owned();
        let (host, api_id, http_origin) =
            (header("host"), header("x-apigw-api-id"), header("origin"));
        let (pre_method, pre_headers) = (
            header("access-control-request-method"),
            header("access-control-request-headers"),
        );
        let decided = {
            let apis = self.apis.read().unwrap_or_else(|e| e.into_inner());
            let r = dispatch::Request {
                method: &method,
                path: &path,
                host: host.as_deref(),
                api_id: api_id.as_deref(),
                origin: http_origin.as_deref(),
                preflight_method: pre_method.as_deref(),
                preflight_headers: pre_headers.as_deref(),
            };
            let d = dispatch::dispatch(&apis, &r, origin);
            let account = match &d {
                Dispatch::Invoke { api, .. } => apis.get(api).map(|a| a.account.clone()),
                _ => None,
            };
            (d, account)
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
        let request_id = format!("{now:x}-{:x}", rand_tail(&path, now));
        let id_header = [("apigw-requestid".to_owned(), request_id.clone())];
        let (d, account) = decided;
        let Dispatch::Invoke {
            api,
            function,
            route_key,
            params,
            cors,
        } = d
        else {
            return match d {
                Dispatch::Refuse { status, body } => respond(
                    status,
                    Bytes::from(body),
                    &[
                        ("content-type".to_owned(), "application/json".to_owned()),
                        id_header[0].clone(),
                    ],
                ),
                Dispatch::Preflight { mut headers } => {
                    headers.extend_from_slice(&id_header);
                    respond(204, Bytes::new(), &headers)
                }
                Dispatch::Invoke { .. } => message(500, "Internal Server Error", &id_header),
            };
        };
        let protocol = format!("{:?}", req.version());
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let Some(body) = read_body(req.into_body()).await else {
            return message(413, "Request Entity Too Large", &id_header);
        };
        let mut event = url::event(&url::UrlRequest {
            method,
            path,
            query,
            headers,
            body: body.to_vec(),
            source_ip: origin
                .vpc_source_ip
                .or(origin.source_ip)
                .map(|ip| ip.to_string())
                .unwrap_or_default(),
            protocol,
            request_id: request_id.clone(),
            time_epoch_ms: now,
            url_id: api.clone(),
            domain: host.unwrap_or_default(),
        });
        shape_event(&mut event, &route_key, &params, account.as_deref());
        let request = InvokeRequest {
            payload: Bytes::from(event.to_string()),
            ..Default::default()
        };
        let mut extra = cors;
        extra.extend_from_slice(&id_header);
        match self.scheduler.invoke(&function, request).await {
            Ok(r) if r.function_error.is_none() => {
                let out = url::response(&r.payload);
                let mut headers = out.headers;
                headers.extend(extra);
                respond(out.status, Bytes::from(out.body), &headers)
            }
            Ok(_) => message(500, "Internal Server Error", &extra),
            Err(InvokeError::Throttled { .. }) => message(429, "Too Many Requests", &extra),
            Err(_) => message(500, "Internal Server Error", &extra),
        }
    }
}

/// A request id's tail: distinct per request within a millisecond.
fn rand_tail(path: &str, now: u64) -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed) ^ (now.rotate_left(17) ^ path.len() as u64)
}

/// The function URL event made an HTTP API's: its route key, path parameters
/// and the owner's account.
fn shape_event(
    event: &mut Value,
    route_key: &str,
    params: &[(String, String)],
    account: Option<&str>,
) {
    event["routeKey"] = json!(route_key);
    event["requestContext"]["routeKey"] = json!(route_key);
    if let Some(a) = account {
        event["requestContext"]["accountId"] = json!(a);
    }
    if !params.is_empty() {
        let map: serde_json::Map<String, Value> =
            params.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        event["pathParameters"] = Value::Object(map);
    }
}

/// The whole body, or `None` beyond [`MAX_BODY`].
async fn read_body(mut body: Incoming) -> Option<Bytes> {
    let mut kept = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Ok(data) = frame.into_data() {
            if kept.len() + data.len() > MAX_BODY {
                return None;
            }
            kept.extend_from_slice(&data);
        }
    }
    Some(kept.freeze())
}

impl cove_listeners::Serve for Gateway {
    async fn serve(&self, stream: tokio::net::TcpStream, origin: RequestContext) {
        let gw = self.clone();
        let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
            let (gw, origin) = (gw.clone(), origin.clone());
            async move { Ok::<_, Infallible>(gw.handle(req, &origin).await) }
        });
        let io = hyper_util::rt::TokioIo::new(stream);
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, svc)
            .await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_event_names_the_route_and_its_parameters() {
        let mut ev = url::event(&url::UrlRequest {
            method: "GET".into(),
            path: "/items/7".into(),
            query: "full=1".into(),
            url_id: "a1b2c3d4e5".into(),
            domain: "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com".into(),
            ..Default::default()
        });
        shape_event(
            &mut ev,
            "GET /items/{id}",
            &[("id".into(), "7".into())],
            Some("111111111111"),
        );
        assert_eq!(ev["version"], "2.0");
        assert_eq!(ev["routeKey"], "GET /items/{id}");
        assert_eq!(ev["requestContext"]["routeKey"], "GET /items/{id}");
        assert_eq!(ev["requestContext"]["apiId"], "a1b2c3d4e5");
        assert_eq!(ev["requestContext"]["accountId"], "111111111111");
        assert_eq!(ev["requestContext"]["stage"], "$default");
        assert_eq!(ev["pathParameters"]["id"], "7");
        assert_eq!(ev["queryStringParameters"]["full"], "1");
        assert_eq!(ev["rawPath"], "/items/7");
    }
}
