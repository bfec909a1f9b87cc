//! The errors the scheduler sees.

use bytes::Bytes;

/// Starting an endpoint failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeApiError {
    /// `serve` was called outside a tokio runtime.
    #[error(
        "the Runtime API must be started on a tokio runtime: call `RuntimeApi::serve` from within one"
    )]
    NoRuntime,
    /// The listener could not be switched to non-blocking mode.
    #[error("could not make the Runtime API listener non-blocking")]
    NonBlocking(#[source] std::io::Error),
    /// The listener could not be registered with the tokio reactor.
    #[error("could not register the Runtime API listener with tokio")]
    Register(#[source] std::io::Error),
    /// The listener's local address could not be read.
    #[error("could not read the Runtime API listener's address")]
    LocalAddr(#[source] std::io::Error),
}

/// Why an invocation produced no [`InvokeOutcome`](crate::InvokeOutcome).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeFailure {
    /// Another invocation is still running in this environment; Lambda runs one at a
    /// time per environment, so the scheduler must pick another environment (or, if
    /// the earlier invocation was abandoned after a timeout, replace this one).
    #[error(
        "invocation {request_id} refused: invocation {running} is still running in this environment (one at a time); send it to another environment"
    )]
    Busy {
        /// The refused invocation.
        request_id: String,
        /// The invocation that occupies the environment.
        running: String,
    },
    /// A field of the invocation cannot be sent to the runtime.
    #[error("invocation field `{field}` {problem}; {fix}")]
    InvalidField {
        /// The field (`request_id`, `trace_id`, …).
        field: &'static str,
        /// What is wrong with it.
        problem: String,
        /// How to fix it.
        fix: &'static str,
    },
    /// The endpoint was shut down (or all handles dropped) before the runtime answered.
    #[error("the Runtime API endpoint was shut down before the runtime answered")]
    Shutdown,
}

/// Why an environment's runtime did not become ready.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitFailure {
    /// The runtime posted `/runtime/init/error`. Every later invoke of this environment
    /// returns this error; `body` is what the invoker receives.
    #[error("the runtime reported an init error of type {error_type}")]
    InitError {
        /// The error type Lambda records (`Runtime.ImportModuleError`, …).
        error_type: String,
        /// The error document the invoker receives.
        body: Bytes,
    },
    /// The endpoint was shut down before the runtime asked for its first invocation.
    #[error("the Runtime API endpoint was shut down before the runtime became ready")]
    Shutdown,
}
