//! The per-environment invocation state machine (pure: no I/O, no tokio).
//!
//! It follows the Lambda runtime's lifecycle as the service (and its open-source
//! emulator) implement it:
//!
//! ```text
//! Started ──next──▶ Ready ──invocation──▶ Running ──POST response──▶ InvocationResponse
//!    │                ▲                     │   └──POST error────▶ InvocationErrorResponse
//!    │ init/error     │                     │ next (again): the        │ body read
//!    ▼                └──next── RuntimeResponseSentState ◀─────────────┘
//! InitError                                 same invocation
//! ```
//!
//! `next` in `Started` ends init (the scheduler's `ready` resolves). An invocation the
//! scheduler queues while the runtime is not waiting (init still running, or between a
//! response and the next `next`) is handed over by the runtime's next `next`.
//!
//! Requests to `/invocation/{id}/…` are checked as Lambda checks them: first the id
//! must be the environment's *current* one — the last invocation handed to it, which
//! stays current after its response until the next invocation replaces it — else
//! `400 InvalidRequestID`; then the runtime must be in `Running`, else
//! `403 InvalidStateTransition` naming both states (a second response for the same id
//! is `State transition from RuntimeResponseSentState to InvocationResponse failed…`).

use bytes::Bytes;

use crate::error::InvokeFailure;
use crate::function_error::{self, ErrorDocument};
use crate::types::{Invocation, InvokeOutcome};

/// The runtime's state, named as Lambda names it in `InvalidStateTransition` messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeState {
    /// The runtime process started and has not asked for an invocation yet (init).
    Started,
    /// The runtime posted `/init/error`.
    InitError,
    /// The runtime is waiting in `next` for an invocation.
    Ready,
    /// The runtime holds an invocation and works on it.
    Running,
    /// The runtime is uploading an invocation's response.
    InvocationResponse,
    /// The runtime is uploading an invocation's error.
    InvocationErrorResponse,
    /// The runtime answered its invocation and has not called `next` again.
    ResponseSent,
}

impl RuntimeState {
    /// Lambda's name for the state.
    pub fn name(self) -> &'static str {
        match self {
            RuntimeState::Started => "Started",
            RuntimeState::InitError => "InitError",
            RuntimeState::Ready => "Ready",
            RuntimeState::Running => "Running",
            RuntimeState::InvocationResponse => "InvocationResponse",
            RuntimeState::InvocationErrorResponse => "InvocationErrorResponse",
            RuntimeState::ResponseSent => "RuntimeResponseSentState",
        }
    }
}

/// Which answer the runtime posts for an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseKind {
    /// `POST /runtime/invocation/{id}/response`.
    Response,
    /// `POST /runtime/invocation/{id}/error`.
    Error,
}

impl ResponseKind {
    /// The state the runtime is in while it uploads this kind of answer.
    pub fn state(self) -> RuntimeState {
        match self {
            ResponseKind::Response => RuntimeState::InvocationResponse,
            ResponseKind::Error => RuntimeState::InvocationErrorResponse,
        }
    }
}

/// A Runtime API request refused: the HTTP status and Lambda's error document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// Lambda's `errorType`.
    pub error_type: &'static str,
    /// Lambda's `errorMessage`.
    pub message: String,
}

/// The error type of a refused state transition.
pub const INVALID_STATE_TRANSITION: &str = "InvalidStateTransition";
/// The error type of a request id that is not the current invocation's.
pub const INVALID_REQUEST_ID: &str = "InvalidRequestID";
/// The error type of a response or error body over the limit.
pub const REQUEST_ENTITY_TOO_LARGE: &str = "RequestEntityTooLarge";
/// The error type of a request whose body broke off.
pub const TRUNCATED_HTTP_REQUEST: &str = "TruncatedHTTPRequest";
/// The error type of an internal failure.
pub const INTERNAL_SERVER_ERROR: &str = "InternalServerError";
/// The error type of a response with an unknown response mode.
pub const INVALID_FUNCTION_RESPONSE_MODE: &str = "InvalidFunctionResponseMode";
/// The header naming how the runtime sends a response (`buffered` or `streaming`).
pub const RESPONSE_MODE_HEADER: &str = "Lambda-Runtime-Function-Response-Mode";

/// How the runtime sends a response (`Lambda-Runtime-Function-Response-Mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// The whole body at once (also what no header means).
    Buffered,
    /// A chunked stream (read to its end: cove does not stream to the invoker yet).
    Streaming,
}

/// Lambda's reading of `Lambda-Runtime-Function-Response-Mode`: absent is buffered,
/// `buffered` and `streaming` in any case are themselves, anything else is
/// `400 InvalidFunctionResponseMode`.
pub fn response_mode(header: Option<&str>) -> Result<ResponseMode, ApiError> {
    match header {
        None => Ok(ResponseMode::Buffered),
        Some(v) if v.eq_ignore_ascii_case("buffered") => Ok(ResponseMode::Buffered),
        Some(v) if v.eq_ignore_ascii_case("streaming") => Ok(ResponseMode::Streaming),
        Some(_) => Err(ApiError::invalid_response_mode()),
    }
}

impl ApiError {
    /// `400 InvalidRequestID`: the path's id is not the current invocation's.
    pub fn invalid_request_id() -> Self {
        ApiError {
            status: 400,
            error_type: INVALID_REQUEST_ID,
            message: "Invalid request ID".to_owned(),
        }
    }

    /// `403 InvalidStateTransition` from `from` to `to`.
    pub fn invalid_transition(from: RuntimeState, to: RuntimeState) -> Self {
        ApiError {
            status: 403,
            error_type: INVALID_STATE_TRANSITION,
            message: format!(
                "State transition from {} to {} failed for runtime. Error: State transition is not allowed",
                from.name(),
                to.name()
            ),
        }
    }

    /// `413 RequestEntityTooLarge` for a body over `limit` bytes.
    pub fn too_large(limit: usize) -> Self {
        ApiError {
            status: 413,
            error_type: REQUEST_ENTITY_TOO_LARGE,
            message: format!("Exceeded maximum allowed payload size ({limit} bytes)."),
        }
    }

    /// `400 TruncatedHTTPRequest`: the body broke off before its end.
    pub fn truncated() -> Self {
        ApiError {
            status: 400,
            error_type: TRUNCATED_HTTP_REQUEST,
            message: "HTTP request detected as truncated".to_owned(),
        }
    }

    /// `400 InvalidFunctionResponseMode`: an unknown
    /// `Lambda-Runtime-Function-Response-Mode`.
    pub fn invalid_response_mode() -> Self {
        ApiError {
            status: 400,
            error_type: INVALID_FUNCTION_RESPONSE_MODE,
            message: "Invalid function response mode".to_owned(),
        }
    }

    /// `500 InternalServerError`.
    pub fn internal() -> Self {
        ApiError {
            status: 500,
            error_type: INTERNAL_SERVER_ERROR,
            message: "Internal Server Error".to_owned(),
        }
    }

    /// The JSON document sent with the status.
    pub fn body(&self) -> Bytes {
        ErrorDocument {
            error_message: &self.message,
            error_type: self.error_type,
        }
        .to_bytes()
    }
}

/// A request body as the shell read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyRead {
    /// The whole body, within the limit.
    Complete(Bytes),
    /// The body was longer than the limit (it was read to its end and dropped).
    TooLarge,
    /// The body broke off before its end.
    Truncated,
}

/// What the runtime's `next` gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// This invocation, now.
    Deliver {
        /// The invocation to send.
        invocation: Invocation,
        /// This `next` ended init (the first one).
        init_done: bool,
    },
    /// Nothing yet: wait until the scheduler queues an invocation.
    Wait {
        /// This `next` ended init (the first one).
        init_done: bool,
    },
}

/// What happens to an invocation the scheduler queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeStep {
    /// The runtime is waiting in `next`: hand it this invocation now.
    Deliver(Invocation),
    /// The runtime is busy with init or with answering the last invocation; its next
    /// `next` takes it.
    Queued,
    /// Init failed: the invocation ends at once with the init error.
    InitFailed(InvokeOutcome),
}

/// The result of an answer the runtime finished uploading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The runtime's HTTP reply: `Ok` is `202 {"status":"OK"}`.
    pub reply: Result<(), ApiError>,
    /// The invocation's outcome for the scheduler, unless the scheduler abandoned it.
    pub outcome: Option<(String, InvokeOutcome)>,
}

/// The result of an `/init/error` the runtime posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitErrorAccepted {
    /// The error type Lambda records.
    pub error_type: String,
    /// The error document every invoke now returns.
    pub body: Bytes,
    /// An invocation that was queued before the runtime became ready, now ended with the
    /// init error.
    pub ended: Option<(String, InvokeOutcome)>,
}

/// Where the current invocation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Queued by the scheduler, not yet handed to the runtime.
    Queued,
    /// Handed to the runtime, not yet answered.
    Delivered,
    /// Answered.
    Done,
}

/// The current invocation.
#[derive(Debug)]
struct Slot {
    invocation: Invocation,
    phase: Phase,
    /// The scheduler stopped waiting for it (timeout): its answer is accepted and
    /// dropped.
    abandoned: bool,
}

/// The state machine of one environment's Runtime API.
#[derive(Debug)]
pub struct Machine {
    runtime: RuntimeState,
    slot: Option<Slot>,
    init_error: Option<(String, Bytes)>,
    closed: bool,
    max_response_bytes: usize,
}

impl Machine {
    /// A machine for a runtime that just started; response and error bodies may be up
    /// to `max_response_bytes` long.
    pub fn new(max_response_bytes: usize) -> Self {
        Machine {
            runtime: RuntimeState::Started,
            slot: None,
            init_error: None,
            closed: false,
            max_response_bytes,
        }
    }

    /// The runtime's state.
    pub fn runtime_state(&self) -> RuntimeState {
        self.runtime
    }

    /// The request id `/invocation/{id}/…` must carry, if any.
    pub fn current_request_id(&self) -> Option<&str> {
        self.slot.as_ref().map(|s| s.invocation.request_id.as_str())
    }

    /// The longest response or error body accepted.
    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }

    /// The init error the runtime posted, if it did: `(error type, invoker's body)`.
    pub fn init_error(&self) -> Option<(&str, &Bytes)> {
        self.init_error.as_ref().map(|(t, b)| (t.as_str(), b))
    }

    /// Whether [`Machine::shutdown`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// `GET /runtime/invocation/next`.
    pub fn next_invocation(&mut self) -> Result<NextStep, ApiError> {
        let init_done = match self.runtime {
            RuntimeState::Started => true,
            RuntimeState::ResponseSent | RuntimeState::Ready => false,
            RuntimeState::Running => {
                // Lambda hands the same invocation out again.
                return match &self.slot {
                    Some(slot) => Ok(NextStep::Deliver {
                        invocation: slot.invocation.clone(),
                        init_done: false,
                    }),
                    None => Err(ApiError::internal()),
                };
            }
            from @ (RuntimeState::InitError
            | RuntimeState::InvocationResponse
            | RuntimeState::InvocationErrorResponse) => {
                return Err(ApiError::invalid_transition(from, RuntimeState::Ready));
            }
        };
        match &mut self.slot {
            Some(slot) if slot.phase == Phase::Queued => {
                slot.phase = Phase::Delivered;
                self.runtime = RuntimeState::Running;
                Ok(NextStep::Deliver {
                    invocation: slot.invocation.clone(),
                    init_done,
                })
            }
            _ => {
                self.runtime = RuntimeState::Ready;
                Ok(NextStep::Wait { init_done })
            }
        }
    }

    /// The runtime starts uploading an answer for `request_id` (the request line and
    /// headers arrived; the body follows).
    pub fn begin_response(&mut self, request_id: &str, kind: ResponseKind) -> Result<(), ApiError> {
        if self.current_request_id() != Some(request_id) {
            return Err(ApiError::invalid_request_id());
        }
        if self.runtime != RuntimeState::Running {
            return Err(ApiError::invalid_transition(self.runtime, kind.state()));
        }
        self.runtime = kind.state();
        Ok(())
    }

    /// The runtime finished uploading the answer begun with [`Machine::begin_response`].
    /// `content_type` and `error_type_header` are the request's `Content-Type` and
    /// `Lambda-Runtime-Function-Error-Type`.
    pub fn finish_response(
        &mut self,
        request_id: &str,
        kind: ResponseKind,
        body: BodyRead,
        content_type: Option<&str>,
        error_type_header: Option<&str>,
    ) -> Finished {
        let limit = self.max_response_bytes;
        let slot = match &mut self.slot {
            Some(slot)
                if self.runtime == kind.state() && slot.invocation.request_id == request_id =>
            {
                slot
            }
            _ => {
                return Finished {
                    reply: Err(ApiError::internal()),
                    outcome: None,
                };
            }
        };
        self.runtime = RuntimeState::ResponseSent;
        slot.phase = Phase::Done;
        let (reply, outcome) = match (body, kind) {
            (BodyRead::Complete(body), ResponseKind::Response) => (
                Ok(()),
                InvokeOutcome::Response {
                    body,
                    content_type: content_type.map(str::to_owned),
                },
            ),
            (BodyRead::Complete(body), ResponseKind::Error) => (
                Ok(()),
                function_error::posted_error(error_type_header, content_type, body),
            ),
            (BodyRead::TooLarge, _) => (
                Err(ApiError::too_large(limit)),
                function_error::response_too_large(limit),
            ),
            (BodyRead::Truncated, _) => (
                Err(ApiError::truncated()),
                function_error::truncated_response(request_id),
            ),
        };
        let outcome = (!slot.abandoned).then(|| (slot.invocation.request_id.clone(), outcome));
        Finished { reply, outcome }
    }

    /// The response begun with [`Machine::begin_response`] names an unknown response
    /// mode (`value`): as Lambda does, the invocation ends with the function error
    /// `Runtime.InvalidResponseModeHeader` and the runtime gets
    /// `400 InvalidFunctionResponseMode`.
    pub fn refuse_response_mode(
        &mut self,
        request_id: &str,
        kind: ResponseKind,
        value: &str,
    ) -> Finished {
        match &mut self.slot {
            Some(slot)
                if self.runtime == kind.state() && slot.invocation.request_id == request_id =>
            {
                self.runtime = RuntimeState::ResponseSent;
                slot.phase = Phase::Done;
                let outcome = function_error::invalid_response_mode(value);
                Finished {
                    reply: Err(ApiError::invalid_response_mode()),
                    outcome: (!slot.abandoned)
                        .then(|| (slot.invocation.request_id.clone(), outcome)),
                }
            }
            _ => Finished {
                reply: Err(ApiError::internal()),
                outcome: None,
            },
        }
    }

    /// `POST /runtime/init/error`, with the request's `Lambda-Runtime-Function-Error-Type`
    /// and `Content-Type`. Allowed only during init; a body over the limit or broken
    /// off is refused without a transition (the runtime may post again).
    pub fn init_error_posted(
        &mut self,
        error_type_header: Option<&str>,
        content_type: Option<&str>,
        body: BodyRead,
    ) -> Result<InitErrorAccepted, ApiError> {
        if self.runtime != RuntimeState::Started {
            return Err(ApiError::invalid_transition(
                self.runtime,
                RuntimeState::InitError,
            ));
        }
        let body = match body {
            BodyRead::Complete(body) => body,
            BodyRead::TooLarge => return Err(ApiError::too_large(self.max_response_bytes)),
            BodyRead::Truncated => return Err(ApiError::truncated()),
        };
        let outcome = function_error::posted_error(error_type_header, content_type, body);
        let InvokeOutcome::FunctionError { error_type, body } = &outcome else {
            return Err(ApiError::internal());
        };
        self.runtime = RuntimeState::InitError;
        self.init_error = Some((error_type.clone(), body.clone()));
        let accepted = InitErrorAccepted {
            error_type: error_type.clone(),
            body: body.clone(),
            ended: None,
        };
        // A queued invocation ends with the init error; one never reaches `Delivered`
        // before init is done.
        let ended = match self.slot.take() {
            Some(slot) if !slot.abandoned => Some((slot.invocation.request_id, outcome)),
            _ => None,
        };
        Ok(InitErrorAccepted { ended, ..accepted })
    }

    /// The scheduler queues `invocation`.
    pub fn invoke(&mut self, invocation: Invocation) -> Result<InvokeStep, InvokeFailure> {
        validate(&invocation)?;
        if self.closed {
            return Err(InvokeFailure::Shutdown);
        }
        if let Some((error_type, body)) = &self.init_error {
            return Ok(InvokeStep::InitFailed(InvokeOutcome::FunctionError {
                error_type: error_type.clone(),
                body: body.clone(),
            }));
        }
        // The id of the invocation just answered may come again: Lambda retries an
        // asynchronous event under its request id, possibly in the same environment.
        if let Some(slot) = &self.slot {
            if slot.phase != Phase::Done {
                return Err(InvokeFailure::Busy {
                    request_id: invocation.request_id,
                    running: slot.invocation.request_id.clone(),
                });
            }
        }
        if self.runtime == RuntimeState::Ready {
            self.runtime = RuntimeState::Running;
            self.slot = Some(Slot {
                invocation: invocation.clone(),
                phase: Phase::Delivered,
                abandoned: false,
            });
            Ok(InvokeStep::Deliver(invocation))
        } else {
            self.slot = Some(Slot {
                invocation,
                phase: Phase::Queued,
                abandoned: false,
            });
            Ok(InvokeStep::Queued)
        }
    }

    /// The scheduler stopped waiting for `request_id` (it timed out, or dropped the
    /// future). A queued invocation is withdrawn (its id is no longer current); a
    /// delivered one stays in the runtime's hands and its answer is accepted and
    /// dropped. Unknown or finished ids are ignored.
    pub fn cancel(&mut self, request_id: &str) {
        let Some(slot) = &mut self.slot else { return };
        if slot.invocation.request_id != request_id {
            return;
        }
        match slot.phase {
            Phase::Queued => self.slot = None,
            Phase::Delivered => slot.abandoned = true,
            Phase::Done => {}
        }
    }

    /// The endpoint stops: later invokes fail. Returns the request id of an invocation
    /// the scheduler still waits for, which the shell fails.
    pub fn shutdown(&mut self) -> Option<String> {
        self.closed = true;
        match &self.slot {
            Some(slot) if slot.phase != Phase::Done && !slot.abandoned => {
                Some(slot.invocation.request_id.clone())
            }
            _ => None,
        }
    }
}

/// Checks that every field of `invocation` can travel in the Runtime API.
pub fn validate(invocation: &Invocation) -> Result<(), InvokeFailure> {
    let id = &invocation.request_id;
    if id.is_empty() {
        return Err(InvokeFailure::InvalidField {
            field: "request_id",
            problem: "is empty".to_owned(),
            fix: "give every invocation an id, e.g. a UUID",
        });
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')))
    {
        return Err(InvokeFailure::InvalidField {
            field: "request_id",
            problem: format!(
                "contains {bad:?}, which cannot appear in the runtime's `/invocation/{{id}}/…` path"
            ),
            fix: "use only A-Z a-z 0-9 - . _ ~ (a UUID is fine)",
        });
    }
    let headers = [
        (
            "invoked_function_arn",
            Some(&invocation.invoked_function_arn),
        ),
        ("trace_id", invocation.trace_id.as_ref()),
        ("client_context", invocation.client_context.as_ref()),
        ("cognito_identity", invocation.cognito_identity.as_ref()),
    ];
    for (field, value) in headers {
        let Some(value) = value else { continue };
        if let Some(bad) = value
            .bytes()
            .position(|b| !(b == b'\t' || (0x20..0x7f).contains(&b)))
        {
            return Err(InvokeFailure::InvalidField {
                field,
                problem: format!("has a byte at offset {bad} that an HTTP header cannot carry"),
                fix: "send visible ASCII only (escape non-ASCII characters in JSON as \\uXXXX)",
            });
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
