//! The data the scheduler and the runtime exchange through one endpoint (pure data).

use bytes::Bytes;

/// The function an execution environment runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionInfo {
    /// The function's name (`my-function`).
    pub function_name: String,
    /// The function's ARN; used as `Lambda-Runtime-Invoked-Function-Arn` when an
    /// [`Invocation`] leaves `invoked_function_arn` empty.
    pub function_arn: String,
    /// The version the environment runs (`$LATEST`, `1`, …).
    pub version: String,
}

/// One invocation the scheduler hands to the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The request id (`Lambda-Runtime-Aws-Request-Id`); the runtime posts the outcome
    /// to `/invocation/{request_id}/…`, so it is limited to the URI's unreserved
    /// characters (`A–Z a–z 0–9 - . _ ~`), as a UUID is.
    pub request_id: String,
    /// The event, as the invoker sent it.
    pub payload: Bytes,
    /// When the invocation times out, in milliseconds since the Unix epoch
    /// (`Lambda-Runtime-Deadline-Ms`).
    pub deadline_ms: u64,
    /// The ARN the invoker named (function, version or alias); empty means the
    /// function's own ARN from [`FunctionInfo`].
    pub invoked_function_arn: String,
    /// The X-Ray tracing header (`Lambda-Runtime-Trace-Id`), if any.
    pub trace_id: Option<String>,
    /// The client context as Lambda passes it to the runtime
    /// (`Lambda-Runtime-Client-Context`): the JSON object itself, which the invoker
    /// sent base64-encoded, if any.
    pub client_context: Option<String>,
    /// The Cognito identity JSON (`Lambda-Runtime-Cognito-Identity`), if any.
    pub cognito_identity: Option<String>,
}

/// How an invocation ended, as the invoker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeOutcome {
    /// The runtime posted a response (body as posted, content type if any).
    Response {
        /// The response body, byte for byte.
        body: Bytes,
        /// The `Content-Type` the runtime posted it with, if any.
        content_type: Option<String>,
    },
    /// The runtime posted an invocation error, or init failed; `body` is the JSON the
    /// invoker receives with `X-Amz-Function-Error: Unhandled`.
    FunctionError {
        /// The error type Lambda records for the failure (`Runtime.ImportModuleError`,
        /// `Function.ResponseSizeTooLarge`, `Runtime.Unknown`, …): the runtime's
        /// `Lambda-Runtime-Function-Error-Type` when it is a valid `Runtime.*` or
        /// `Function.*` type, else Lambda's fallback.
        error_type: String,
        /// The error document the invoker receives.
        body: Bytes,
    },
}
