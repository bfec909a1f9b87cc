//! cove's function scheduler: the shell around the pure environment pool of
//! [`cove_functions::pool`].
//!
//! An invocation goes to a warm environment of its function, or starts one (a cold
//! start) in a free network slot — an ENI namespace that `cove apply` attached ahead
//! of time — or is throttled (`TooManyRequestsException`) when the function's
//! concurrency is used up. An environment is a runtime process tree launched by
//! [`cove_sandbox`] inside the slot's namespace, talking to its own Runtime API
//! endpoint ([`cove_runtime_api`]) on `127.0.0.1:9001` *of that namespace*, so no
//! other environment can reach it. Timeouts, crashes and out-of-memory kills end the
//! environment and free its slot; idle environments are reaped.
//!
//! [`http`] serves Lambda's Invoke API and function URLs on top of a [`Scheduler`].
//! Setting a namespace happens only on threads cove-host starts for the purpose,
//! never on a tokio worker.

pub mod credentials;
mod environment;
mod error;
pub mod events;
pub mod http;
pub mod invocations;
mod lease;
mod log;
mod metrics;
mod paths;
pub mod retention;
mod scheduler;

pub use crate::credentials::CredentialSource;
pub use crate::error::{InvokeError, SchedulerError};
pub use crate::events::AsyncConfig;
pub use crate::invocations::InvocationLog;
pub use crate::lease::{LockMode, PrefixLock};
pub use crate::paths::{ASYNC_EVENTS_LOG, LogDir, SlotLocks};
pub use crate::scheduler::{
    InvokeRequest, InvokeResult, MAX_ASYNC_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES, Scheduler,
    SchedulerConfig,
};
