//! The HTTP shell: accepts the runtime's connections, carries each request to the
//! state machine and renders its decision. No decisions here.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::api::{Lifecycle, Shared};
use crate::function_error::ERROR_TYPE_HEADER;
use crate::route::{Route, route};
use crate::state::{
    ApiError, BodyRead, NextStep, RESPONSE_MODE_HEADER, ResponseKind, response_mode,
};
use crate::types::Invocation;

/// Accepts connections until `stop` turns true; then every connection task is aborted
/// (its socket closed) as the set drops.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = stopped(&mut stop) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, Arc::clone(&shared)));
                }
                // Out of file descriptors and the like: let the moment pass.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
        }
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Serves one keep-alive connection.
async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    // Small request/response exchanges: never wait for Nagle.
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |request| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, Infallible>(handle(request, &shared).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        // Lambda's server is Go's: canonical header case (`Lambda-Runtime-Aws-Request-Id`).
        .title_case_headers(true)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// One request.
async fn handle(request: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    match route(parts.method.as_str(), parts.uri.path()) {
        Route::Next => next(shared).await,
        Route::Answer { request_id, kind } => {
            answer(shared, request_id, kind, &parts.headers, body).await
        }
        Route::InitError => init_error(shared, &parts.headers, body).await,
        Route::MethodNotAllowed { allow } => {
            drain(body).await;
            let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, Bytes::new());
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allow));
            response
        }
        Route::NotFound => {
            drain(body).await;
            plain(
                StatusCode::NOT_FOUND,
                Bytes::from_static(b"404 page not found\n"),
            )
        }
    }
}

/// `GET /runtime/invocation/next`: an invocation now, or a long poll until one comes.
async fn next(shared: &Shared) -> Response<Full<Bytes>> {
    let (step, waiter) = {
        let mut inner = shared.lock();
        match inner.machine.next_invocation() {
            Err(refused) => return error(&refused),
            Ok(step @ NextStep::Deliver { .. }) => (step, None),
            Ok(step @ NextStep::Wait { .. }) => {
                let waiter = inner.wait_next();
                (step, Some(waiter))
            }
        }
    };
    let (NextStep::Deliver { init_done, .. } | NextStep::Wait { init_done }) = &step;
    if *init_done {
        shared.lifecycle.send_if_modified(|l| {
            let starting = matches!(l, Lifecycle::Starting);
            if starting {
                *l = Lifecycle::Ready;
            }
            starting
        });
    }
    let invocation = match (step, waiter) {
        (NextStep::Deliver { invocation, .. }, _) => invocation,
        (NextStep::Wait { .. }, Some(waiter)) => match waiter.await {
            Ok(invocation) => invocation,
            // Shut down while waiting: no answer, the connection is about to close.
            Err(_) => std::future::pending().await,
        },
        (NextStep::Wait { .. }, None) => return error(&ApiError::internal()),
    };
    render_invocation(invocation)
}

const REQUEST_ID: HeaderName = HeaderName::from_static("lambda-runtime-aws-request-id");
const DEADLINE_MS: HeaderName = HeaderName::from_static("lambda-runtime-deadline-ms");
const FUNCTION_ARN: HeaderName = HeaderName::from_static("lambda-runtime-invoked-function-arn");
const TRACE_ID: HeaderName = HeaderName::from_static("lambda-runtime-trace-id");
const CLIENT_CONTEXT: HeaderName = HeaderName::from_static("lambda-runtime-client-context");
const COGNITO_IDENTITY: HeaderName = HeaderName::from_static("lambda-runtime-cognito-identity");

/// The invocation as `next`'s `200`: the event as body, the context in headers (only
/// those with a value, as Lambda sends them).
fn render_invocation(invocation: Invocation) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(invocation.payload));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(DEADLINE_MS, HeaderValue::from(invocation.deadline_ms));
    let text = [
        (REQUEST_ID, Some(invocation.request_id)),
        (FUNCTION_ARN, Some(invocation.invoked_function_arn)),
        (TRACE_ID, invocation.trace_id),
        (CLIENT_CONTEXT, invocation.client_context),
        (COGNITO_IDENTITY, invocation.cognito_identity),
    ];
    for (name, value) in text {
        // The state machine refused values a header cannot carry.
        if let Some(value) = value
            .filter(|v| !v.is_empty())
            .and_then(|v| HeaderValue::try_from(v).ok())
        {
            headers.insert(name, value);
        }
    }
    response
}

/// `POST /runtime/invocation/{id}/response` and `…/error`.
async fn answer(
    shared: &Shared,
    request_id: &str,
    kind: ResponseKind,
    headers: &HeaderMap,
    body: Incoming,
) -> Response<Full<Bytes>> {
    let began = shared.lock().machine.begin_response(request_id, kind);
    if let Err(refused) = began {
        drain(body).await;
        return error(&refused);
    }
    let mode = header(headers, RESPONSE_MODE_HEADER);
    if kind == ResponseKind::Response && response_mode(mode).is_err() {
        drain(body).await;
        let mut inner = shared.lock();
        let refused =
            inner
                .machine
                .refuse_response_mode(request_id, kind, mode.unwrap_or_default());
        if let Some((id, outcome)) = refused.outcome {
            inner.complete(&id, outcome);
        }
        return match refused.reply {
            Ok(()) => accepted(),
            Err(e) => error(&e),
        };
    }
    // From here on the upload must end in `finish_response`, even if this future is
    // dropped mid-body (the connection went away): the guard does it then.
    let mut upload = Upload {
        shared,
        request_id,
        kind,
        finished: false,
    };
    let limit = shared.lock().machine.max_response_bytes();
    let read = read_limited(body, limit, content_length(headers)).await;
    let reply = upload.finish(
        read,
        header(headers, CONTENT_TYPE.as_str()),
        header(headers, ERROR_TYPE_HEADER),
    );
    match reply {
        Ok(()) => accepted(),
        Err(refused) => error(&refused),
    }
}

/// An answer being uploaded.
struct Upload<'a> {
    shared: &'a Shared,
    request_id: &'a str,
    kind: ResponseKind,
    finished: bool,
}

impl Upload<'_> {
    fn finish(
        &mut self,
        read: BodyRead,
        content_type: Option<&str>,
        error_type: Option<&str>,
    ) -> Result<(), ApiError> {
        self.finished = true;
        let mut inner = self.shared.lock();
        let finished = inner.machine.finish_response(
            self.request_id,
            self.kind,
            read,
            content_type,
            error_type,
        );
        if let Some((id, outcome)) = finished.outcome {
            inner.complete(&id, outcome);
        }
        finished.reply
    }
}

impl Drop for Upload<'_> {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.finish(BodyRead::Truncated, None, None);
        }
    }
}

/// `POST /runtime/init/error`.
async fn init_error(shared: &Shared, headers: &HeaderMap, body: Incoming) -> Response<Full<Bytes>> {
    let limit = shared.lock().machine.max_response_bytes();
    let read = read_limited(body, limit, content_length(headers)).await;
    let posted = {
        let mut inner = shared.lock();
        let posted = inner.machine.init_error_posted(
            header(headers, ERROR_TYPE_HEADER),
            header(headers, CONTENT_TYPE.as_str()),
            read,
        );
        if let Ok(accepted) = &posted {
            if let Some((id, outcome)) = accepted.ended.clone() {
                inner.complete(&id, outcome);
            }
        }
        posted
    };
    match posted {
        Ok(posted) => {
            shared.lifecycle.send_if_modified(|l| {
                let starting = matches!(l, Lifecycle::Starting);
                if starting {
                    *l = Lifecycle::InitFailed {
                        error_type: posted.error_type,
                        body: posted.body,
                    };
                }
                starting
            });
            accepted()
        }
        Err(refused) => error(&refused),
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn content_length(headers: &HeaderMap) -> Option<usize> {
    header(headers, CONTENT_LENGTH.as_str()).and_then(|v| v.parse().ok())
}

/// Reads a request body, keeping at most `limit` bytes; a longer body is read to its
/// end (so the connection stays usable) and dropped.
async fn read_limited(mut body: Incoming, limit: usize, length_hint: Option<usize>) -> BodyRead {
    let mut single: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return BodyRead::Truncated;
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total > limit {
            single = None;
            joined = None;
            continue;
        }
        match (&mut single, &mut joined) {
            (_, Some(buffer)) => buffer.extend_from_slice(&data),
            (None, None) => single = Some(data),
            (Some(first), None) => {
                let mut buffer =
                    BytesMut::with_capacity(length_hint.unwrap_or(0).clamp(total, limit));
                buffer.extend_from_slice(first);
                buffer.extend_from_slice(&data);
                single = None;
                joined = Some(buffer);
            }
        }
    }
    if total > limit {
        BodyRead::TooLarge
    } else {
        BodyRead::Complete(joined.map(BytesMut::freeze).or(single).unwrap_or_default())
    }
}

/// Reads and drops a body nobody needs, so the connection can carry the next request.
async fn drain(mut body: Incoming) {
    while let Some(Ok(_)) = body.frame().await {}
}

fn json(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn plain(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// `202 {"status":"OK"}`.
fn accepted() -> Response<Full<Bytes>> {
    json(
        StatusCode::ACCEPTED,
        Bytes::from_static(br#"{"status":"OK"}"#),
    )
}

/// A refused request: its status and Lambda's error document.
fn error(refused: &ApiError) -> Response<Full<Bytes>> {
    json(
        StatusCode::from_u16(refused.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        refused.body(),
    )
}
