//! The scheduler's side of the endpoint over real HTTP on loopback: one invocation at
//! a time, cancel-safety of `invoke`, shutdown and dropped handles.
#![allow(clippy::unwrap_used)]

mod common;

use bytes::Bytes;
use common::{Client, info, invocation, serve, within};
use cove_runtime_api::{InitFailure, InvokeFailure, InvokeOutcome, RuntimeApi, RuntimeState};

#[tokio::test]
async fn one_invocation_at_a_time() {
    within(async {
        let api = serve();
        let first = {
            let api = api.clone();
            tokio::spawn(async move { api.invoke(invocation("first", "{}")).await })
        };
        let mut runtime = Client::connect(api.local_addr()).await;
        assert_eq!(
            runtime.next().await.header("Lambda-Runtime-Aws-Request-Id"),
            Some("first")
        );
        assert_eq!(
            api.invoke(invocation("second", "{}")).await,
            Err(InvokeFailure::Busy {
                request_id: "second".to_owned(),
                running: "first".to_owned()
            })
        );
        assert_eq!(runtime.respond("first", b"1").await.status, 202);
        assert!(first.await.unwrap().is_ok());
        let invalid = api.invoke(invocation("has space", "{}")).await;
        assert!(
            matches!(
                invalid,
                Err(InvokeFailure::InvalidField {
                    field: "request_id",
                    ..
                })
            ),
            "{invalid:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn dropping_invoke_after_delivery_leaves_a_clean_endpoint() {
    within(async {
        let api = serve();
        let mut runtime = Client::connect(api.local_addr()).await;
        let delivered = tokio::spawn(async move {
            let next = runtime.next().await;
            (runtime, next)
        });
        api.ready().await.unwrap();
        let mut invoke = Box::pin(api.invoke(invocation("abandoned", "{}")));
        // Poll the invoke until the runtime holds the invocation, then drop it (the
        // scheduler's timeout).
        let (mut runtime, next) = tokio::select! {
            done = delivered => done.unwrap(),
            outcome = &mut invoke => panic!("nobody answered yet: {outcome:?}"),
        };
        drop(invoke);
        assert_eq!(
            next.header("Lambda-Runtime-Aws-Request-Id"),
            Some("abandoned")
        );
        assert!(matches!(
            api.invoke(invocation("b", "{}")).await,
            Err(InvokeFailure::Busy { .. })
        ));
        assert_eq!(
            runtime.respond("abandoned", b"late").await.status,
            202,
            "a late answer is accepted"
        );
        let invoke = {
            let api = api.clone();
            tokio::spawn(async move { api.invoke(invocation("b", "{}")).await })
        };
        assert_eq!(
            runtime.next().await.header("Lambda-Runtime-Aws-Request-Id"),
            Some("b")
        );
        assert_eq!(runtime.respond("b", b"fresh").await.status, 202);
        assert_eq!(
            invoke.await.unwrap(),
            Ok(InvokeOutcome::Response {
                body: Bytes::from_static(b"fresh"),
                content_type: None
            })
        );
        api.shutdown();
        assert!(runtime.is_closed().await);
    })
    .await;
}

#[tokio::test]
async fn dropping_a_queued_invoke_withdraws_it() {
    within(async {
        let api = serve();
        {
            let invoke = api.invoke(invocation("withdrawn", "{}"));
            let mut invoke = Box::pin(invoke);
            // One poll queues it (init is not done, so it waits for the first next).
            assert!(futures_poll_once(&mut invoke).await.is_none());
        }
        let mut runtime = Client::connect(api.local_addr()).await;
        let invoke = {
            let api = api.clone();
            tokio::spawn(async move {
                api.ready().await.unwrap();
                api.invoke(invocation("kept", "{}")).await
            })
        };
        let next = runtime.next().await;
        assert_eq!(next.header("Lambda-Runtime-Aws-Request-Id"), Some("kept"));
        let stale = runtime.respond("withdrawn", b"x").await;
        assert_eq!(stale.status, 400);
        assert_eq!(runtime.respond("kept", b"y").await.status, 202);
        assert!(invoke.await.unwrap().is_ok());
    })
    .await;
}

/// Polls `fut` once; `Some` if it finished.
async fn futures_poll_once<F: std::future::Future + Unpin>(fut: &mut F) -> Option<F::Output> {
    std::future::poll_fn(|cx| match std::pin::Pin::new(&mut *fut).poll(cx) {
        std::task::Poll::Ready(out) => std::task::Poll::Ready(Some(out)),
        std::task::Poll::Pending => std::task::Poll::Ready(None),
    })
    .await
}

#[tokio::test]
async fn shutdown_fails_the_pending_invoke_and_closes_connections() {
    within(async {
        let api = serve();
        let addr = api.local_addr();
        let mut runtime = Client::connect(addr).await;
        let invoke = {
            let api = api.clone();
            tokio::spawn(async move { api.invoke(invocation("cut-off", "{}")).await })
        };
        runtime.next().await;
        let mut idle = Client::connect(addr).await;
        let idle_next = tokio::spawn(async move { idle.try_next().await });
        api.shutdown();
        assert_eq!(invoke.await.unwrap(), Err(InvokeFailure::Shutdown));
        assert!(runtime.is_closed().await);
        assert!(
            idle_next.await.unwrap().is_none(),
            "a waiting next gets no answer, its connection closes"
        );
        assert_eq!(
            api.invoke(invocation("later", "{}")).await,
            Err(InvokeFailure::Shutdown)
        );
        api.shutdown();
        // The listener is gone: nothing accepts any more.
        match tokio::net::TcpStream::connect(addr).await {
            Err(_) => {}
            Ok(stream) => {
                let mut client = Client::from_stream(stream);
                assert!(client.is_closed().await);
            }
        }
    })
    .await;
}

#[tokio::test]
async fn shutdown_before_init_fails_ready() {
    within(async {
        let api = serve();
        let waiting = {
            let api = api.clone();
            tokio::spawn(async move { api.ready().await })
        };
        api.shutdown();
        assert_eq!(waiting.await.unwrap(), Err(InitFailure::Shutdown));
        assert_eq!(api.ready().await, Err(InitFailure::Shutdown));
    })
    .await;
}

#[tokio::test]
async fn ready_stays_ok_after_shutdown() {
    within(async {
        let api = serve();
        let mut runtime = Client::connect(api.local_addr()).await;
        let pending = tokio::spawn(async move { runtime.try_next().await });
        api.ready().await.unwrap();
        api.shutdown();
        assert_eq!(api.ready().await, Ok(()));
        assert!(pending.await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn dropping_every_handle_stops_the_endpoint() {
    within(async {
        let api = serve();
        let mut runtime = Client::connect(api.local_addr()).await;
        let waiting = tokio::spawn(async move { runtime.try_next().await });
        api.ready().await.unwrap();
        drop(api);
        assert!(waiting.await.unwrap().is_none(), "the connection closes");
    })
    .await;
}

#[test]
fn serve_needs_a_tokio_runtime() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let error = RuntimeApi::serve(listener, info()).unwrap_err();
    assert!(error.to_string().contains("tokio runtime"), "{error}");
}

#[tokio::test]
async fn response_modes_buffered_and_streaming_pass_and_an_unknown_one_is_400() {
    within(async {
        let api = serve();
        let mut runtime = Client::connect(api.local_addr()).await;
        for (id, mode, status) in [
            ("m1", "buffered", 202),
            ("m2", "STREAMING", 202),
            ("m3", "bogus", 400),
        ] {
            let invoke = {
                let api = api.clone();
                tokio::spawn(async move { api.invoke(invocation(id, "{}")).await })
            };
            assert_eq!(
                runtime.next().await.header("Lambda-Runtime-Aws-Request-Id"),
                Some(id)
            );
            let reply = runtime
                .request(
                    "POST",
                    &format!("/2018-06-01/runtime/invocation/{id}/response"),
                    &[("Lambda-Runtime-Function-Response-Mode", mode)],
                    b"{\"ok\":true}",
                )
                .await;
            assert_eq!(reply.status, status, "{mode}: {}", reply.text());
            let outcome = invoke.await.unwrap().unwrap();
            if status == 400 {
                assert_eq!(
                    reply.json(),
                    serde_json::json!({
                        "errorMessage": "Invalid function response mode",
                        "errorType": "InvalidFunctionResponseMode"
                    })
                );
                match outcome {
                    InvokeOutcome::FunctionError { error_type, body } => {
                        assert_eq!(error_type, "Runtime.InvalidResponseModeHeader");
                        let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
                        assert_eq!(doc["errorType"], "Runtime.InvalidResponseModeHeader");
                    }
                    other => panic!("{other:?}"),
                }
            } else {
                assert!(
                    matches!(outcome, InvokeOutcome::Response { ref body, .. } if body.as_ref() == b"{\"ok\":true}"),
                    "{outcome:?}"
                );
            }
        }
        // The invocation ended: the runtime goes on with the next one.
        assert_eq!(api.runtime_state(), RuntimeState::ResponseSent);
    })
    .await;
}
