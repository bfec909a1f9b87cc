//! The endpoint over real HTTP on loopback, driven by a raw HTTP client: every
//! operation, every refused request and its status code.
#![allow(clippy::unwrap_used)]

mod common;

use bytes::Bytes;
use common::{Client, invocation, serve, within};
use cove_runtime_api::{InitFailure, InvokeOutcome, MAX_RESPONSE_BYTES, RuntimeState};
use serde_json::json;

fn transition(from: &str, to: &str) -> serde_json::Value {
    json!({
        "errorMessage": format!("State transition from {from} to {to} failed for runtime. Error: State transition is not allowed"),
        "errorType": "InvalidStateTransition"
    })
}

fn invalid_request_id() -> serde_json::Value {
    json!({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})
}

#[tokio::test]
async fn an_invocation_round_trip() {
    within(async {
        let api = serve();
        let mut runtime = Client::connect(api.local_addr()).await;
        let waiting = tokio::spawn(async move {
            let reply = runtime.next().await;
            (runtime, reply)
        });
        api.ready().await.expect("the first next ends init");
        let mut inv = invocation(
            "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
            r#"{"hello":"world"}"#,
        );
        inv.trace_id = Some(
            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1".to_owned(),
        );
        inv.client_context = Some("eyJjdXN0b20iOnt9fQ==".to_owned());
        inv.cognito_identity =
            Some(r#"{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}"#.to_owned());
        let invoke = {
            let api = api.clone();
            tokio::spawn(async move { api.invoke(inv).await })
        };
        let (mut runtime, next) = waiting.await.unwrap();
        assert_eq!(next.status, 200);
        assert_eq!(next.text(), r#"{"hello":"world"}"#);
        let names: Vec<&str> = next.headers.iter().map(|(n, _)| n.as_str()).collect();
        for (name, value) in [
            (
                "Lambda-Runtime-Aws-Request-Id",
                "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
            ),
            ("Lambda-Runtime-Deadline-Ms", "1700000003000"),
            (
                "Lambda-Runtime-Invoked-Function-Arn",
                "arn:aws:lambda:us-east-1:123456789012:function:echo",
            ),
            (
                "Lambda-Runtime-Trace-Id",
                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
            ),
            ("Lambda-Runtime-Client-Context", "eyJjdXN0b20iOnt9fQ=="),
            (
                "Lambda-Runtime-Cognito-Identity",
                r#"{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}"#,
            ),
            ("Content-Type", "application/json"),
        ] {
            assert!(
                names.contains(&name),
                "{name} is sent in Lambda's case: {names:?}"
            );
            assert_eq!(next.header(name), Some(value), "{name}");
        }
        assert_eq!(api.runtime_state(), RuntimeState::Running);
        let accepted = runtime
            .request(
                "POST",
                "/2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/response",
                &[("Content-Type", "text/plain")],
                b"hi there",
            )
            .await;
        assert_eq!(accepted.status, 202);
        assert_eq!(accepted.json(), json!({"status": "OK"}));
        assert_eq!(
            invoke.await.unwrap(),
            Ok(InvokeOutcome::Response {
                body: Bytes::from_static(b"hi there"),
                content_type: Some("text/plain".to_owned())
            })
        );
        assert_eq!(api.runtime_state(), RuntimeState::ResponseSent);
    })
    .await;
}

#[tokio::test]
async fn optional_context_headers_are_left_out() {
    within(async {
        let api = serve();
        let mut runtime = Client::connect(api.local_addr()).await;
        let mut inv = invocation("a", "{}");
        inv.invoked_function_arn =
            "arn:aws:lambda:us-east-1:123456789012:function:echo:live".to_owned();
        inv.trace_id = Some(String::new());
        let invoke = {
            let api = api.clone();
            tokio::spawn(async move { api.invoke(inv).await })
        };
        let next = runtime.next().await;
        assert_eq!(
            next.header("Lambda-Runtime-Invoked-Function-Arn"),
            Some("arn:aws:lambda:us-east-1:123456789012:function:echo:live")
        );
        for absent in [
            "Lambda-Runtime-Trace-Id",
            "Lambda-Runtime-Client-Context",
            "Lambda-Runtime-Cognito-Identity",
        ] {
            assert_eq!(next.header(absent), None, "{absent}");
        }
        assert_eq!(runtime.respond("a", b"").await.status, 202);
        assert!(matches!(
            invoke.await.unwrap(),
            Ok(InvokeOutcome::Response {
                content_type: None,
                ..
            })
        ));
    })
    .await;
}

#[tokio::test]
async fn many_invocations_over_one_keep_alive_connection() {
    within(async {
        let api = serve();
        let mut runtime = Client::connect(api.local_addr()).await;
        let loop_task = tokio::spawn(async move {
            for _ in 0..50 {
                let next = runtime.next().await;
                let id = next
                    .header("Lambda-Runtime-Aws-Request-Id")
                    .unwrap()
                    .to_owned();
                let mut body = next.body.clone();
                body.reverse();
                assert_eq!(runtime.respond(&id, &body).await.status, 202);
            }
        });
        for i in 0..50 {
            let payload = format!("payload-{i}");
            let outcome = api
                .invoke(invocation(&format!("id-{i}"), &payload))
                .await
                .unwrap();
            let expected: Vec<u8> = payload.bytes().rev().collect();
            assert_eq!(
                outcome,
                InvokeOutcome::Response {
                    body: Bytes::from(expected),
                    content_type: None
                }
            );
        }
        loop_task.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn an_invocation_error_reaches_the_invoker() {
    within(async {
        let api = serve();
        let mut runtime = Client::connect(api.local_addr()).await;
        for (id, error_type, body, expected_type, expected_body) in [
            (
                "e1",
                "Unhandled",
                &br#"{"errorMessage":"boom","errorType":"ValueError","stackTrace":["x"]}"#[..],
                "Runtime.Unknown",
                json!({"errorMessage": "boom", "errorType": "ValueError", "stackTrace": ["x"]}),
            ),
            (
                "e2",
                "Function.MyError",
                &b"plain text, not JSON"[..],
                "Function.MyError",
                json!({"errorMessage": "plain text, not JSON", "errorType": "Function.MyError"}),
            ),
        ] {
            let invoke = {
                let api = api.clone();
                tokio::spawn(async move { api.invoke(invocation(id, "{}")).await })
            };
            assert_eq!(
                runtime.next().await.header("Lambda-Runtime-Aws-Request-Id"),
                Some(id)
            );
            let reply = runtime.error(id, error_type, body).await;
            assert_eq!(reply.status, 202);
            assert_eq!(reply.json(), json!({"status": "OK"}));
            match invoke.await.unwrap().unwrap() {
                InvokeOutcome::FunctionError { error_type, body } => {
                    assert_eq!(error_type, expected_type);
                    assert_eq!(
                        serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
                        expected_body
                    );
                }
                other => panic!("{other:?}"),
            }
        }
    })
    .await;
}

#[tokio::test]
async fn an_error_cause_body_is_filtered() {
    within(async {
        let api = serve();
        let mut runtime = Client::connect(api.local_addr()).await;
        let invoke = {
            let api = api.clone();
            tokio::spawn(async move { api.invoke(invocation("c", "{}")).await })
        };
        runtime.next().await;
        let body = json!({"errorMessage": "m", "errorType": "E", "stackTrace": ["s"], "errorCause": {"exceptions": []}});
        let reply = runtime
            .request(
                "POST",
                "/2018-06-01/runtime/invocation/c/error",
                &[
                    ("Content-Type", "application/vnd.aws.lambda.error.cause+json"),
                    ("Lambda-Runtime-Function-Error-Type", "Runtime.Handled"),
                ],
                body.to_string().as_bytes(),
            )
            .await;
        assert_eq!(reply.status, 202);
        let InvokeOutcome::FunctionError { error_type, body } = invoke.await.unwrap().unwrap() else { panic!() };
        assert_eq!(error_type, "Runtime.Handled");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            json!({"errorMessage": "m", "errorType": "E", "stackTrace": ["s"]})
        );
    })
    .await;
}

#[tokio::test]
async fn init_error_fails_ready_and_every_invoke() {
    within(async {
        let api = serve();
        let mut runtime = Client::connect(api.local_addr()).await;
        let posted = br#"{"errorMessage":"Unable to import module 'nope': No module named 'nope'","errorType":"Runtime.ImportModuleError","requestId":"","stackTrace":[]}"#;
        let reply = runtime.init_error("Runtime.ImportModuleError", posted).await;
        assert_eq!(reply.status, 202);
        assert_eq!(reply.json(), json!({"status": "OK"}));
        let expected = InitFailure::InitError {
            error_type: "Runtime.ImportModuleError".to_owned(),
            body: Bytes::from_static(posted),
        };
        assert_eq!(api.ready().await, Err(expected));
        assert_eq!(api.init_error(), Some(("Runtime.ImportModuleError".to_owned(), Bytes::from_static(posted))));
        for id in ["i1", "i2"] {
            assert_eq!(
                api.invoke(invocation(id, "{}")).await,
                Ok(InvokeOutcome::FunctionError {
                    error_type: "Runtime.ImportModuleError".to_owned(),
                    body: Bytes::from_static(posted)
                })
            );
        }
        let next = runtime.next().await;
        assert_eq!(next.status, 403);
        assert_eq!(next.json(), transition("InitError", "Ready"));
        let again = runtime.init_error("Runtime.ImportModuleError", posted).await;
        assert_eq!(again.status, 403);
        assert_eq!(again.json(), transition("InitError", "InitError"));
    })
    .await;
}

#[tokio::test]
async fn an_invoke_queued_during_init_ends_with_the_init_error() {
    within(async {
        let api = serve();
        let invoke = {
            let api = api.clone();
            tokio::spawn(async move { api.invoke(invocation("early", "{}")).await })
        };
        let mut runtime = Client::connect(api.local_addr()).await;
        // The invocation may or may not be queued yet; either way it ends with the error.
        assert_eq!(
            runtime
                .init_error("Runtime.Broken", b"not json")
                .await
                .status,
            202
        );
        let expected = InvokeOutcome::FunctionError {
            error_type: "Runtime.Broken".to_owned(),
            body: Bytes::from_static(
                br#"{"errorMessage":"not json","errorType":"Runtime.Broken"}"#,
            ),
        };
        assert_eq!(invoke.await.unwrap(), Ok(expected));
    })
    .await;
}

#[tokio::test]
async fn init_error_after_init_is_403() {
    within(async {
        let api = serve();
        let mut waiting = Client::connect(api.local_addr()).await;
        let pending = tokio::spawn(async move { waiting.next().await });
        api.ready().await.unwrap();
        let mut other = Client::connect(api.local_addr()).await;
        let reply = other.init_error("Runtime.Late", b"{}").await;
        assert_eq!(reply.status, 403);
        assert_eq!(reply.json(), transition("Ready", "InitError"));
        let invoke = {
            let api = api.clone();
            tokio::spawn(async move { api.invoke(invocation("r", "{}")).await })
        };
        assert_eq!(pending.await.unwrap().status, 200);
        let reply = other.init_error("Runtime.Late", b"{}").await;
        assert_eq!(reply.json(), transition("Running", "InitError"));
        assert_eq!(other.respond("r", b"ok").await.status, 202);
        assert!(invoke.await.unwrap().is_ok());
    })
    .await;
}

#[tokio::test]
async fn unknown_ids_and_answers_before_next_are_400() {
    within(async {
        let api = serve();
        let mut runtime = Client::connect(api.local_addr()).await;
        for reply in [
            runtime.respond("nobody", b"x").await,
            runtime.error("nobody", "Unhandled", b"{}").await,
        ] {
            assert_eq!(reply.status, 400);
            assert_eq!(reply.json(), invalid_request_id());
        }
        let invoke = {
            let api = api.clone();
            tokio::spawn(async move { api.invoke(invocation("real", "{}")).await })
        };
        runtime.next().await;
        let wrong = runtime.respond("not-real", b"x").await;
        assert_eq!(wrong.status, 400);
        assert_eq!(wrong.json(), invalid_request_id());
        assert_eq!(runtime.respond("real", b"x").await.status, 202);
        assert!(invoke.await.unwrap().is_ok());
    })
    .await;
}

#[tokio::test]
async fn a_second_answer_for_the_same_id_is_403() {
    within(async {
        let api = serve();
        let mut runtime = Client::connect(api.local_addr()).await;
        let invoke = {
            let api = api.clone();
            tokio::spawn(async move { api.invoke(invocation("once", "{}")).await })
        };
        runtime.next().await;
        assert_eq!(runtime.respond("once", b"1").await.status, 202);
        let again = runtime.respond("once", b"2").await;
        assert_eq!(again.status, 403);
        assert_eq!(
            again.json(),
            transition("RuntimeResponseSentState", "InvocationResponse")
        );
        let error = runtime.error("once", "Unhandled", b"{}").await;
        assert_eq!(error.status, 403);
        assert_eq!(
            error.json(),
            transition("RuntimeResponseSentState", "InvocationErrorResponse")
        );
        assert_eq!(
            invoke.await.unwrap(),
            Ok(InvokeOutcome::Response {
                body: Bytes::from_static(b"1"),
                content_type: None
            })
        );
    })
    .await;
}

#[tokio::test]
async fn an_oversized_response_is_413_and_the_invoker_sees_response_size_too_large() {
    within(async {
        let api = serve();
        let mut runtime = Client::connect(api.local_addr()).await;
        let invoke = {
            let api = api.clone();
            tokio::spawn(async move { api.invoke(invocation("big", "{}")).await })
        };
        runtime.next().await;
        let reply = runtime.respond("big", &vec![b'x'; MAX_RESPONSE_BYTES + 1]).await;
        assert_eq!(reply.status, 413);
        assert_eq!(
            reply.json(),
            json!({"errorMessage": "Exceeded maximum allowed payload size (6291556 bytes).", "errorType": "RequestEntityTooLarge"})
        );
        let InvokeOutcome::FunctionError { error_type, body } = invoke.await.unwrap().unwrap() else { panic!() };
        assert_eq!(error_type, "Function.ResponseSizeTooLarge");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            json!({
                "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
                "errorType": "Function.ResponseSizeTooLarge"
            })
        );
        // The connection carries on, and a response of exactly the limit passes.
        let invoke = {
            let api = api.clone();
            tokio::spawn(async move { api.invoke(invocation("edge", "{}")).await })
        };
        assert_eq!(runtime.next().await.header("Lambda-Runtime-Aws-Request-Id"), Some("edge"));
        assert_eq!(runtime.respond("edge", &vec![b'y'; MAX_RESPONSE_BYTES]).await.status, 202);
        let InvokeOutcome::Response { body, .. } = invoke.await.unwrap().unwrap() else { panic!() };
        assert_eq!(body.len(), MAX_RESPONSE_BYTES);
    })
    .await;
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405() {
    within(async {
        let api = serve();
        let mut client = Client::connect(api.local_addr()).await;
        for (method, path) in [
            ("GET", "/"),
            ("GET", "/2018-06-01/runtime/invocation"),
            ("POST", "/2018-06-01/runtime/invocation/x/result"),
            ("GET", "/2018-06-01/runtime/restore/next"),
            ("POST", "/2018-06-01/extension/register"),
        ] {
            let reply = client.request(method, path, &[], b"{}").await;
            assert_eq!(reply.status, 404, "{method} {path}");
            assert_eq!(reply.text(), "404 page not found\n");
        }
        for (method, path, allow) in [
            ("POST", "/2018-06-01/runtime/invocation/next", "GET"),
            ("DELETE", "/2018-06-01/runtime/invocation/next", "GET"),
            ("GET", "/2018-06-01/runtime/init/error", "POST"),
            ("PUT", "/2018-06-01/runtime/invocation/x/response", "POST"),
        ] {
            let reply = client.request(method, path, &[], b"").await;
            assert_eq!(reply.status, 405, "{method} {path}");
            assert_eq!(reply.header("Allow"), Some(allow));
        }
        assert_eq!(
            api.runtime_state(),
            RuntimeState::Started,
            "none of this touched the state"
        );
    })
    .await;
}

#[tokio::test]
async fn malformed_http_is_refused_and_the_endpoint_lives_on() {
    within(async {
        let api = serve();
        let mut garbage = Client::connect(api.local_addr()).await;
        garbage.send_raw(b"THIS IS NOT HTTP\r\n\r\n").await;
        if let Some(reply) = garbage.read_reply().await {
            assert_eq!(reply.status, 400);
        }
        assert!(garbage.is_closed().await);
        let mut bad_length = Client::connect(api.local_addr()).await;
        bad_length
            .send_raw(b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
            .await;
        if let Some(reply) = bad_length.read_reply().await {
            assert_eq!(reply.status, 400);
        }
        assert_eq!(api.runtime_state(), RuntimeState::Started);
        let mut runtime = Client::connect(api.local_addr()).await;
        let invoke = {
            let api = api.clone();
            tokio::spawn(async move { api.invoke(invocation("ok", "{}")).await })
        };
        assert_eq!(runtime.next().await.header("Lambda-Runtime-Aws-Request-Id"), Some("ok"));
        assert_eq!(runtime.respond("ok", b"fine").await.status, 202);
        assert!(invoke.await.unwrap().is_ok());
    })
    .await;
}

#[tokio::test]
async fn a_truncated_upload_ends_the_invocation() {
    within(async {
        let api = serve();
        let mut runtime = Client::connect(api.local_addr()).await;
        let invoke = {
            let api = api.clone();
            tokio::spawn(async move { api.invoke(invocation("cut", "{}")).await })
        };
        runtime.next().await;
        runtime
            .send_raw(b"POST /2018-06-01/runtime/invocation/cut/response HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part")
            .await;
        drop(runtime);
        let InvokeOutcome::FunctionError { error_type, .. } = invoke.await.unwrap().unwrap() else { panic!() };
        assert_eq!(error_type, "Runtime.TruncatedResponse");
        assert_eq!(api.runtime_state(), RuntimeState::ResponseSent);
        let mut again = Client::connect(api.local_addr()).await;
        let invoke = {
            let api = api.clone();
            tokio::spawn(async move { api.invoke(invocation("after", "{}")).await })
        };
        assert_eq!(again.next().await.header("Lambda-Runtime-Aws-Request-Id"), Some("after"));
        assert_eq!(again.respond("after", b"fine").await.status, 202);
        assert!(invoke.await.unwrap().is_ok());
    })
    .await;
}

#[tokio::test]
async fn next_again_while_running_hands_out_the_same_invocation() {
    within(async {
        let api = serve();
        let mut first = Client::connect(api.local_addr()).await;
        let invoke = {
            let api = api.clone();
            tokio::spawn(async move { api.invoke(invocation("same", "payload")).await })
        };
        let one = first.next().await;
        let mut second = Client::connect(api.local_addr()).await;
        let two = second.next().await;
        assert_eq!(one.header("Lambda-Runtime-Aws-Request-Id"), Some("same"));
        assert_eq!(two.header("Lambda-Runtime-Aws-Request-Id"), Some("same"));
        assert_eq!(two.text(), "payload");
        assert_eq!(second.respond("same", b"done").await.status, 202);
        assert!(invoke.await.unwrap().is_ok());
    })
    .await;
}
