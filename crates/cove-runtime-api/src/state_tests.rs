use super::*;
use serde_json::{Value, json};

const LIMIT: usize = 100;

fn inv(id: &str) -> Invocation {
    Invocation {
        request_id: id.to_owned(),
        payload: Bytes::from(format!("{{\"id\":\"{id}\"}}")),
        deadline_ms: 1_700_000_000_000,
        invoked_function_arn: "arn:aws:lambda:us-east-1:123456789012:function:f".to_owned(),
        trace_id: None,
        client_context: None,
        cognito_identity: None,
    }
}

fn transition(from: &str, to: &str) -> ApiError {
    ApiError {
        status: 403,
        error_type: "InvalidStateTransition",
        message: format!(
            "State transition from {from} to {to} failed for runtime. Error: State transition is not allowed"
        ),
    }
}

/// A machine whose runtime finished init and waits in `next`.
fn ready() -> Machine {
    let mut m = Machine::new(LIMIT);
    assert_eq!(m.next_invocation(), Ok(NextStep::Wait { init_done: true }));
    m
}

/// A machine whose runtime holds invocation `id`.
fn running(id: &str) -> Machine {
    let mut m = ready();
    assert_eq!(m.invoke(inv(id)), Ok(InvokeStep::Deliver(inv(id))));
    m
}

fn respond(m: &mut Machine, id: &str, kind: ResponseKind, body: BodyRead) -> Finished {
    m.begin_response(id, kind).expect("the answer may begin");
    m.finish_response(
        id,
        kind,
        body,
        Some("application/json"),
        Some("Runtime.Handler"),
    )
}

fn error_json(outcome: &InvokeOutcome) -> (String, Value) {
    match outcome {
        InvokeOutcome::FunctionError { error_type, body } => (
            error_type.clone(),
            serde_json::from_slice(body).expect("JSON body"),
        ),
        other => panic!("expected a function error, got {other:?}"),
    }
}

#[test]
fn state_names_are_lambdas() {
    let names: Vec<_> = [
        RuntimeState::Started,
        RuntimeState::InitError,
        RuntimeState::Ready,
        RuntimeState::Running,
        RuntimeState::InvocationResponse,
        RuntimeState::InvocationErrorResponse,
        RuntimeState::ResponseSent,
    ]
    .into_iter()
    .map(RuntimeState::name)
    .collect();
    assert_eq!(
        names,
        [
            "Started",
            "InitError",
            "Ready",
            "Running",
            "InvocationResponse",
            "InvocationErrorResponse",
            "RuntimeResponseSentState"
        ]
    );
}

#[test]
fn first_next_ends_init_and_waits() {
    let mut m = Machine::new(LIMIT);
    assert_eq!(m.runtime_state(), RuntimeState::Started);
    assert_eq!(m.next_invocation(), Ok(NextStep::Wait { init_done: true }));
    assert_eq!(m.runtime_state(), RuntimeState::Ready);
    assert_eq!(m.current_request_id(), None);
}

#[test]
fn an_invocation_queued_during_init_goes_to_the_first_next() {
    let mut m = Machine::new(LIMIT);
    assert_eq!(m.invoke(inv("a")), Ok(InvokeStep::Queued));
    assert_eq!(
        m.next_invocation(),
        Ok(NextStep::Deliver {
            invocation: inv("a"),
            init_done: true
        })
    );
    assert_eq!(m.runtime_state(), RuntimeState::Running);
}

#[test]
fn an_invocation_goes_straight_to_a_waiting_runtime() {
    let mut m = ready();
    assert_eq!(m.invoke(inv("a")), Ok(InvokeStep::Deliver(inv("a"))));
    assert_eq!(m.runtime_state(), RuntimeState::Running);
    assert_eq!(m.current_request_id(), Some("a"));
}

#[test]
fn a_second_waiting_next_waits_too() {
    let mut m = ready();
    assert_eq!(m.next_invocation(), Ok(NextStep::Wait { init_done: false }));
    assert_eq!(m.runtime_state(), RuntimeState::Ready);
}

#[test]
fn next_while_running_hands_out_the_same_invocation() {
    let mut m = running("a");
    assert_eq!(
        m.next_invocation(),
        Ok(NextStep::Deliver {
            invocation: inv("a"),
            init_done: false
        })
    );
    assert_eq!(m.runtime_state(), RuntimeState::Running);
}

#[test]
fn a_response_completes_the_invocation() {
    let mut m = running("a");
    let finished = respond(
        &mut m,
        "a",
        ResponseKind::Response,
        BodyRead::Complete(Bytes::from_static(b"42")),
    );
    assert_eq!(finished.reply, Ok(()));
    assert_eq!(
        finished.outcome,
        Some((
            "a".to_owned(),
            InvokeOutcome::Response {
                body: Bytes::from_static(b"42"),
                content_type: Some("application/json".to_owned())
            }
        ))
    );
    assert_eq!(m.runtime_state(), RuntimeState::ResponseSent);
    assert_eq!(
        m.current_request_id(),
        Some("a"),
        "the id stays current until the next invocation"
    );
}

#[test]
fn during_the_upload_the_runtime_is_in_the_upload_state() {
    let mut m = running("a");
    m.begin_response("a", ResponseKind::Response)
        .expect("may begin");
    assert_eq!(m.runtime_state(), RuntimeState::InvocationResponse);
    assert_eq!(
        m.next_invocation(),
        Err(transition("InvocationResponse", "Ready"))
    );
    assert_eq!(
        m.begin_response("a", ResponseKind::Error),
        Err(transition("InvocationResponse", "InvocationErrorResponse"))
    );
    let mut e = running("b");
    e.begin_response("b", ResponseKind::Error)
        .expect("may begin");
    assert_eq!(e.runtime_state(), RuntimeState::InvocationErrorResponse);
    assert_eq!(
        e.next_invocation(),
        Err(transition("InvocationErrorResponse", "Ready"))
    );
}

#[test]
fn an_error_completes_the_invocation_as_a_function_error() {
    let mut m = running("a");
    let body =
        Bytes::from_static(br#"{"errorMessage":"boom","errorType":"ValueError","stackTrace":[]}"#);
    let finished = respond(
        &mut m,
        "a",
        ResponseKind::Error,
        BodyRead::Complete(body.clone()),
    );
    assert_eq!(finished.reply, Ok(()));
    assert_eq!(
        finished.outcome,
        Some((
            "a".to_owned(),
            InvokeOutcome::FunctionError {
                error_type: "Runtime.Handler".to_owned(),
                body
            }
        ))
    );
}

#[test]
fn a_second_answer_for_the_same_id_is_an_invalid_transition() {
    let mut m = running("a");
    respond(
        &mut m,
        "a",
        ResponseKind::Response,
        BodyRead::Complete(Bytes::new()),
    );
    assert_eq!(
        m.begin_response("a", ResponseKind::Response),
        Err(transition("RuntimeResponseSentState", "InvocationResponse"))
    );
    assert_eq!(
        m.begin_response("a", ResponseKind::Error),
        Err(transition(
            "RuntimeResponseSentState",
            "InvocationErrorResponse"
        ))
    );
    assert_eq!(
        m.runtime_state(),
        RuntimeState::ResponseSent,
        "a refused request changes nothing"
    );
}

#[test]
fn an_unknown_id_is_an_invalid_request_id() {
    let mut m = running("a");
    let expected = ApiError {
        status: 400,
        error_type: "InvalidRequestID",
        message: "Invalid request ID".to_owned(),
    };
    assert_eq!(
        m.begin_response("b", ResponseKind::Response),
        Err(expected.clone())
    );
    assert_eq!(
        m.begin_response("", ResponseKind::Error),
        Err(expected.clone())
    );
    assert_eq!(m.runtime_state(), RuntimeState::Running);
    assert_eq!(
        ready().begin_response("a", ResponseKind::Response),
        Err(expected.clone())
    );
    assert_eq!(
        Machine::new(LIMIT).begin_response("a", ResponseKind::Response),
        Err(expected)
    );
}

#[test]
fn an_answer_before_next_is_an_invalid_transition() {
    let mut m = Machine::new(LIMIT);
    assert_eq!(m.invoke(inv("a")), Ok(InvokeStep::Queued));
    assert_eq!(
        m.begin_response("a", ResponseKind::Response),
        Err(transition("Started", "InvocationResponse"))
    );
    let mut m = running("a");
    respond(
        &mut m,
        "a",
        ResponseKind::Response,
        BodyRead::Complete(Bytes::new()),
    );
    assert_eq!(m.invoke(inv("b")), Ok(InvokeStep::Queued));
    assert_eq!(
        m.begin_response("b", ResponseKind::Error),
        Err(transition(
            "RuntimeResponseSentState",
            "InvocationErrorResponse"
        ))
    );
    let expected = ApiError {
        status: 400,
        error_type: "InvalidRequestID",
        message: "Invalid request ID".to_owned(),
    };
    assert_eq!(
        m.begin_response("a", ResponseKind::Response),
        Err(expected),
        "the queued invocation replaced `a`"
    );
}

#[test]
fn the_loop_runs_many_invocations() {
    let mut m = ready();
    for i in 0..5 {
        let id = format!("id-{i}");
        assert_eq!(m.invoke(inv(&id)), Ok(InvokeStep::Deliver(inv(&id))));
        let finished = respond(
            &mut m,
            &id,
            ResponseKind::Response,
            BodyRead::Complete(Bytes::from(id.clone())),
        );
        assert_eq!(finished.outcome.map(|(r, _)| r), Some(id));
        assert_eq!(m.next_invocation(), Ok(NextStep::Wait { init_done: false }));
    }
}

#[test]
fn an_invocation_queued_between_answer_and_next_goes_to_that_next() {
    let mut m = running("a");
    respond(
        &mut m,
        "a",
        ResponseKind::Response,
        BodyRead::Complete(Bytes::new()),
    );
    assert_eq!(m.invoke(inv("b")), Ok(InvokeStep::Queued));
    assert_eq!(
        m.next_invocation(),
        Ok(NextStep::Deliver {
            invocation: inv("b"),
            init_done: false
        })
    );
}

#[test]
fn an_oversized_answer_is_413_and_the_invoker_sees_response_size_too_large() {
    for kind in [ResponseKind::Response, ResponseKind::Error] {
        let mut m = running("a");
        let finished = respond(&mut m, "a", kind, BodyRead::TooLarge);
        let reply = finished.reply.expect_err("refused");
        assert_eq!(reply.status, 413);
        assert_eq!(reply.error_type, "RequestEntityTooLarge");
        assert_eq!(
            reply.message,
            format!("Exceeded maximum allowed payload size ({LIMIT} bytes).")
        );
        let (id, outcome) = finished.outcome.expect("the invocation ends");
        assert_eq!(id, "a");
        let (error_type, body) = error_json(&outcome);
        assert_eq!(error_type, "Function.ResponseSizeTooLarge");
        assert_eq!(
            body,
            json!({
                "errorMessage": format!("Response payload size exceeded maximum allowed payload size ({LIMIT} bytes)."),
                "errorType": "Function.ResponseSizeTooLarge"
            })
        );
        assert_eq!(m.runtime_state(), RuntimeState::ResponseSent);
        assert_eq!(
            m.next_invocation(),
            Ok(NextStep::Wait { init_done: false }),
            "the runtime goes on"
        );
    }
}

#[test]
fn a_truncated_answer_ends_the_invocation() {
    let mut m = running("a");
    let finished = respond(&mut m, "a", ResponseKind::Response, BodyRead::Truncated);
    assert_eq!(finished.reply, Err(ApiError::truncated()));
    let (_, outcome) = finished.outcome.expect("the invocation ends");
    assert_eq!(error_json(&outcome).0, "Runtime.TruncatedResponse");
}

#[test]
fn finishing_an_answer_that_never_began_is_an_internal_error() {
    let mut m = running("a");
    let finished = m.finish_response(
        "a",
        ResponseKind::Response,
        BodyRead::Complete(Bytes::new()),
        None,
        None,
    );
    assert_eq!(
        finished,
        Finished {
            reply: Err(ApiError::internal()),
            outcome: None
        }
    );
    assert_eq!(m.runtime_state(), RuntimeState::Running);
}

#[test]
fn init_error_during_init_is_accepted_and_sticks() {
    let mut m = Machine::new(LIMIT);
    let body = Bytes::from_static(br#"{"errorMessage":"Unable to import module 'h'","errorType":"Runtime.ImportModuleError"}"#);
    let accepted = m
        .init_error_posted(
            Some("Runtime.ImportModuleError"),
            None,
            BodyRead::Complete(body.clone()),
        )
        .expect("accepted");
    assert_eq!(accepted.error_type, "Runtime.ImportModuleError");
    assert_eq!(accepted.body, body);
    assert_eq!(accepted.ended, None);
    assert_eq!(m.runtime_state(), RuntimeState::InitError);
    assert_eq!(m.init_error(), Some(("Runtime.ImportModuleError", &body)));
    assert_eq!(m.next_invocation(), Err(transition("InitError", "Ready")));
    assert_eq!(
        m.init_error_posted(None, None, BodyRead::Complete(Bytes::new())),
        Err(transition("InitError", "InitError"))
    );
    for id in ["x", "y"] {
        assert_eq!(
            m.invoke(inv(id)),
            Ok(InvokeStep::InitFailed(InvokeOutcome::FunctionError {
                error_type: "Runtime.ImportModuleError".to_owned(),
                body: body.clone()
            }))
        );
    }
}

#[test]
fn init_error_ends_an_invocation_queued_during_init() {
    let mut m = Machine::new(LIMIT);
    assert_eq!(m.invoke(inv("a")), Ok(InvokeStep::Queued));
    let accepted = m
        .init_error_posted(
            Some("Runtime.Xy"),
            None,
            BodyRead::Complete(Bytes::from_static(b"not json")),
        )
        .expect("accepted");
    let (id, outcome) = accepted.ended.expect("the queued invocation ends");
    assert_eq!(id, "a");
    assert_eq!(
        error_json(&outcome),
        (
            "Runtime.Xy".to_owned(),
            json!({"errorMessage": "not json", "errorType": "Runtime.Xy"})
        )
    );
    assert_eq!(m.current_request_id(), None);
}

#[test]
fn init_error_after_init_is_an_invalid_transition() {
    let mut m = ready();
    assert_eq!(
        m.init_error_posted(None, None, BodyRead::Complete(Bytes::new())),
        Err(transition("Ready", "InitError"))
    );
    let mut m = running("a");
    assert_eq!(
        m.init_error_posted(None, None, BodyRead::Complete(Bytes::new())),
        Err(transition("Running", "InitError"))
    );
    respond(
        &mut m,
        "a",
        ResponseKind::Response,
        BodyRead::Complete(Bytes::new()),
    );
    assert_eq!(
        m.init_error_posted(None, None, BodyRead::Complete(Bytes::new())),
        Err(transition("RuntimeResponseSentState", "InitError"))
    );
    assert_eq!(m.init_error(), None);
}

#[test]
fn an_oversized_or_truncated_init_error_is_refused_without_a_transition() {
    let mut m = Machine::new(LIMIT);
    assert_eq!(
        m.init_error_posted(None, None, BodyRead::TooLarge),
        Err(ApiError::too_large(LIMIT))
    );
    assert_eq!(
        m.init_error_posted(None, None, BodyRead::Truncated),
        Err(ApiError::truncated())
    );
    assert_eq!(m.runtime_state(), RuntimeState::Started);
    assert_eq!(m.next_invocation(), Ok(NextStep::Wait { init_done: true }));
}

#[test]
fn one_invocation_at_a_time() {
    let mut m = running("a");
    assert_eq!(
        m.invoke(inv("b")),
        Err(InvokeFailure::Busy {
            request_id: "b".to_owned(),
            running: "a".to_owned()
        })
    );
    let mut q = Machine::new(LIMIT);
    assert_eq!(q.invoke(inv("a")), Ok(InvokeStep::Queued));
    assert_eq!(
        q.invoke(inv("b")),
        Err(InvokeFailure::Busy {
            request_id: "b".to_owned(),
            running: "a".to_owned()
        })
    );
}

#[test]
fn an_answered_request_id_may_come_again_as_a_retry() {
    let mut m = running("a");
    respond(
        &mut m,
        "a",
        ResponseKind::Response,
        BodyRead::Complete(Bytes::new()),
    );
    // Lambda retries an asynchronous event under its request id.
    assert_eq!(m.invoke(inv("a")), Ok(InvokeStep::Queued));
    assert!(matches!(
        m.next_invocation(),
        Ok(NextStep::Deliver { ref invocation, .. }) if invocation.request_id == "a"
    ));
}

#[test]
fn invocation_fields_are_checked() {
    let mut m = ready();
    let field_of = |r: Result<InvokeStep, InvokeFailure>| match r {
        Err(InvokeFailure::InvalidField { field, .. }) => field,
        other => panic!("expected an invalid field, got {other:?}"),
    };
    assert_eq!(field_of(m.invoke(inv(""))), "request_id");
    assert_eq!(field_of(m.invoke(inv("a/b"))), "request_id");
    assert_eq!(field_of(m.invoke(inv("a b"))), "request_id");
    let mut bad = inv("a");
    bad.trace_id = Some("Root=1\r\nX: y".to_owned());
    assert_eq!(field_of(m.invoke(bad)), "trace_id");
    let mut bad = inv("a");
    bad.client_context = Some("é".to_owned());
    assert_eq!(field_of(m.invoke(bad)), "client_context");
    let mut bad = inv("a");
    bad.cognito_identity = Some("\u{0}".to_owned());
    assert_eq!(field_of(m.invoke(bad)), "cognito_identity");
    let mut bad = inv("a");
    bad.invoked_function_arn = "arn\n".to_owned();
    assert_eq!(field_of(m.invoke(bad)), "invoked_function_arn");
    assert_eq!(
        m.runtime_state(),
        RuntimeState::Ready,
        "refused invocations change nothing"
    );
    let mut good = inv("0f1e2d3c-aaaa-bbbb-cccc-111122223333");
    good.trace_id = Some(
        "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1".to_owned(),
    );
    good.cognito_identity =
        Some(r#"{"cognitoIdentityId":"x","cognitoIdentityPoolId":"y"}"#.to_owned());
    assert!(matches!(m.invoke(good), Ok(InvokeStep::Deliver(_))));
}

#[test]
fn cancelling_a_queued_invocation_withdraws_it() {
    let mut m = Machine::new(LIMIT);
    assert_eq!(m.invoke(inv("a")), Ok(InvokeStep::Queued));
    m.cancel("a");
    assert_eq!(m.current_request_id(), None);
    assert_eq!(m.next_invocation(), Ok(NextStep::Wait { init_done: true }));
    assert_eq!(m.invoke(inv("b")), Ok(InvokeStep::Deliver(inv("b"))));
}

#[test]
fn cancelling_a_delivered_invocation_drops_its_answer() {
    let mut m = running("a");
    m.cancel("b");
    m.cancel("a");
    assert_eq!(
        m.invoke(inv("b")),
        Err(InvokeFailure::Busy {
            request_id: "b".to_owned(),
            running: "a".to_owned()
        }),
        "the runtime still works on it"
    );
    let finished = respond(
        &mut m,
        "a",
        ResponseKind::Response,
        BodyRead::Complete(Bytes::new()),
    );
    assert_eq!(
        finished,
        Finished {
            reply: Ok(()),
            outcome: None
        }
    );
    assert_eq!(m.next_invocation(), Ok(NextStep::Wait { init_done: false }));
    assert_eq!(m.invoke(inv("b")), Ok(InvokeStep::Deliver(inv("b"))));
    m.cancel("a");
    assert_eq!(m.current_request_id(), Some("b"));
}

#[test]
fn cancelling_a_finished_invocation_changes_nothing() {
    let mut m = running("a");
    respond(
        &mut m,
        "a",
        ResponseKind::Response,
        BodyRead::Complete(Bytes::new()),
    );
    m.cancel("a");
    assert_eq!(m.current_request_id(), Some("a"));
    assert_eq!(
        m.begin_response("a", ResponseKind::Response),
        Err(transition("RuntimeResponseSentState", "InvocationResponse"))
    );
}

#[test]
fn shutdown_fails_the_pending_invocation_and_later_invokes() {
    let mut m = running("a");
    assert_eq!(m.shutdown(), Some("a".to_owned()));
    assert!(m.is_closed());
    assert_eq!(m.invoke(inv("b")), Err(InvokeFailure::Shutdown));
    let mut idle = ready();
    assert_eq!(idle.shutdown(), None);
    let mut abandoned = running("a");
    abandoned.cancel("a");
    assert_eq!(
        abandoned.shutdown(),
        None,
        "nobody waits for an abandoned invocation"
    );
}

#[test]
fn api_errors_render_lambdas_document() {
    let body: Value = serde_json::from_slice(&ApiError::invalid_request_id().body()).expect("JSON");
    assert_eq!(
        body,
        json!({"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})
    );
    let raw = ApiError::too_large(6_291_556).body();
    assert_eq!(
        std::str::from_utf8(&raw).expect("utf-8"),
        r#"{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}"#
    );
}

#[test]
fn response_mode_header_as_lambda_reads_it() {
    use super::{ResponseMode, response_mode};
    assert_eq!(response_mode(None), Ok(ResponseMode::Buffered));
    assert_eq!(response_mode(Some("Buffered")), Ok(ResponseMode::Buffered));
    assert_eq!(
        response_mode(Some("streaming")),
        Ok(ResponseMode::Streaming)
    );
    let refused = response_mode(Some("chunky")).expect_err("unknown mode");
    assert_eq!(
        (refused.status, refused.error_type),
        (400, "InvalidFunctionResponseMode")
    );
}
