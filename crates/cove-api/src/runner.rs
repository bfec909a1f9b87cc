//! The narrow interface between the API and whatever runs functions: invoke one,
//! read its logs. `cove serve` implements it over its scheduler; cove-api never sees
//! the scheduler's internals. Functions are named by [`FunctionKey`] (the tenant's
//! name in the desired spec and the function's name): the API has already checked
//! that the caller owns the function before it asks.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

/// Which function: `tenant` is the tenant's name (as the desired spec names it),
/// `name` the function's (unique within the tenant).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FunctionKey {
    /// The tenant's name.
    pub tenant: String,
    /// The function's name.
    pub name: String,
}

/// How to invoke (Lambda's `X-Amz-Invocation-Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationType {
    /// Wait for the answer.
    RequestResponse,
    /// Queue the event and answer 202 at once (retried by the runner).
    Event,
}

/// One invocation as the API hands it on.
#[derive(Debug, Clone)]
pub struct InvokeCall {
    /// The function.
    pub function: FunctionKey,
    /// The event (JSON).
    pub payload: Vec<u8>,
    /// Synchronous or queued.
    pub kind: InvocationType,
    /// The request id to run it under (the API's request id).
    pub request_id: String,
}

/// What an invocation answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoked {
    /// The function's answer, or its error document when `function_error` is set
    /// (empty for an `Event`).
    pub payload: Vec<u8>,
    /// Lambda's `X-Amz-Function-Error` (`Unhandled`) when the function failed.
    pub function_error: Option<String>,
    /// The request id it ran under.
    pub request_id: String,
}

/// Why the runner could not run an invocation (not a function error: those are
/// [`Invoked::function_error`]). Lambda's code and HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct RunError {
    /// HTTP status (429 throttled, 413 too large, 404 not running here, …).
    pub status: u16,
    /// Lambda's error type (`TooManyRequestsException`, …).
    pub code: String,
    /// What went wrong (names only the caller's function).
    pub message: String,
}

/// What the runner runs of a function now (its applied configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    /// The code's digest (64 hex digits).
    pub code_sha256: String,
    /// Memory in MB.
    pub memory_mb: u32,
    /// Timeout in seconds.
    pub timeout_s: u32,
    /// Network slots (reserved concurrency).
    pub concurrency: u32,
}

/// A function's totals since the runner started.
#[derive(
    Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct FunctionStats {
    /// Invocations that ran (function errors included).
    pub invocations: u64,
    /// Of them, ended in an error (the function's or the platform's).
    pub errors: u64,
    /// Refused with 429: every environment was busy.
    pub throttles: u64,
    /// Invocations that started their environment.
    pub cold_starts: u64,
    /// Mean duration, from the call to the answer (ms).
    pub duration_ms_mean: f64,
    /// Longest duration (ms).
    pub duration_ms_max: f64,
    /// Compute as Lambda bills it (GB-seconds).
    pub gb_seconds: f64,
    /// Environments now, by state (`starting`, `busy`, `idle`, `ending`).
    pub environments: std::collections::BTreeMap<String, u64>,
}

/// A boxed future of the runner.
pub type RunFuture<T> = Pin<Box<dyn Future<Output = Result<T, RunError>> + Send>>;

/// Runs functions and reads their logs, for the API.
pub trait FunctionRunner: Send + Sync + Debug + 'static {
    /// Invokes `call.function`. A function the runner does not run (yet) answers a
    /// [`RunError`] with status 404.
    fn invoke(&self, call: InvokeCall) -> RunFuture<Invoked>;

    /// The end (at most `tail` bytes) of the function's logs: every environment's
    /// output, oldest environment first. A function that has not run yet has none.
    fn logs(&self, function: FunctionKey, tail: u64) -> RunFuture<Vec<u8>>;

    /// What the runner runs of the function now (`None`: not running it).
    fn running(&self, function: &FunctionKey) -> Option<Running>;

    /// The function's totals (`None`: it never ran here, or the runner keeps none).
    fn stats(&self, function: &FunctionKey) -> Option<FunctionStats> {
        let _ = function;
        None
    }
}
