//! The AWS Lambda Runtime API for one execution environment.
//!
//! Each environment gets its own endpoint: the caller opens a listener (typically
//! `127.0.0.1:9001` inside the environment's network namespace, e.g. with
//! `cove_host::Host::bind_tcp`), hands it to [`RuntimeApi::serve`], and starts the
//! runtime client with `AWS_LAMBDA_RUNTIME_API` naming it. The scheduler then waits for
//! [`RuntimeApi::ready`] and pushes invocations with [`RuntimeApi::invoke`], one at a
//! time. Unmodified official runtime clients (Python `awslambdaric`, Node
//! `aws-lambda-ric`, Rust `lambda_runtime`) speak to it as to Lambda.
//!
//! Layout (pure core, thin shell):
//!
//! * [`state`] — the invocation state machine: every transition, and every refused
//!   one with the HTTP status, `errorType` and `errorMessage` Lambda returns (pure).
//! * [`route`] — request line → operation (pure).
//! * [`function_error`] — what the invoker receives for a posted error (pure).
//! * [`payloads`] — Lambda's own error documents for timeouts, runtime exits, out of
//!   memory and oversized responses, for the scheduler (pure).
//! * `server` — hyper (HTTP/1.1, keep-alive, `TCP_NODELAY`); `api` — [`RuntimeApi`].

mod api;
mod error;
pub mod function_error;
pub mod payloads;
pub mod route;
mod server;
pub mod state;
mod types;

pub use api::RuntimeApi;
pub use error::{InitFailure, InvokeFailure, RuntimeApiError};
pub use payloads::{ExitStatus, MAX_RESPONSE_BYTES};
pub use state::RuntimeState;
pub use types::{FunctionInfo, Invocation, InvokeOutcome};
