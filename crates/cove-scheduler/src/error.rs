//! Errors of the scheduler, with Lambda's codes.

/// Why an invocation got no answer from the function. Function errors (a handler
/// exception, a timeout, a crash) are not this: they are an [`crate::InvokeResult`]
/// with `function_error` set, as Lambda returns them.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// No such function (`ResourceNotFoundException`, 404).
    #[error("Function not found: {arn}")]
    NotFound {
        /// The ARN the caller asked for.
        arn: String,
    },
    /// Every environment the function may have is busy (`TooManyRequestsException`,
    /// 429, reason `ReservedFunctionConcurrentInvocationLimitExceeded`).
    #[error("Rate Exceeded.")]
    Throttled {
        /// The function.
        function: String,
        /// Its concurrency.
        concurrency: usize,
    },
    /// The payload is over Lambda's limit: 6 MB synchronous, 1 MB asynchronous
    /// (`RequestTooLargeException`, 413, the name in Lambda's API model).
    #[error("Request must be smaller than {limit} bytes for the InvokeFunction operation")]
    PayloadTooLarge {
        /// The payload's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The payload is not JSON (`InvalidRequestContentException`, 400).
    #[error("Could not parse request body into json: {reason}")]
    InvalidPayload {
        /// What the parser said.
        reason: String,
    },
    /// The function name in the path breaks Lambda's constraint
    /// (`ValidationException`, 400).
    #[error(transparent)]
    InvalidName(#[from] crate::http::name::InvalidName),
    /// `X-Amz-Client-Context` is not base64 of a JSON object
    /// (`InvalidRequestContentException`, 400).
    #[error(transparent)]
    InvalidClientContext(#[from] crate::http::client_context::InvalidClientContext),
    /// The qualifier after the name and the `Qualifier` parameter differ
    /// (`InvalidParameterValueException`, 400).
    #[error(
        "The derived qualifier from the function name does not match the specified qualifier. (name says {derived}, Qualifier says {given}; give one of them, or the same in both)"
    )]
    QualifierMismatch {
        /// The qualifier after the name.
        derived: String,
        /// The `Qualifier` query parameter.
        given: String,
    },
    /// Another cove command is changing the function's network or state and held
    /// the prefix lock too long (`ResourceConflictException`, 409).
    #[error("The operation cannot be performed at this time: {source}")]
    Conflict {
        /// Cause ([`SchedulerError::Busy`]).
        #[source]
        source: SchedulerError,
    },
    /// cove itself failed (`ServiceException`, 500).
    #[error("the function service failed to run the invocation")]
    Service {
        /// Cause.
        #[source]
        source: SchedulerError,
    },
}

impl InvokeError {
    /// Lambda's error code (`x-amzn-ErrorType`).
    pub fn code(&self) -> &'static str {
        match self {
            InvokeError::NotFound { .. } => "ResourceNotFoundException",
            InvokeError::Throttled { .. } => "TooManyRequestsException",
            InvokeError::PayloadTooLarge { .. } => "RequestTooLargeException",
            InvokeError::InvalidPayload { .. } | InvokeError::InvalidClientContext(_) => {
                "InvalidRequestContentException"
            }
            InvokeError::InvalidName(_) => "ValidationException",
            InvokeError::QualifierMismatch { .. } => "InvalidParameterValueException",
            InvokeError::Conflict { .. } => "ResourceConflictException",
            InvokeError::Service { .. } => "ServiceException",
        }
    }

    /// The HTTP status Lambda answers with.
    pub fn status(&self) -> u16 {
        match self {
            InvokeError::NotFound { .. } => 404,
            InvokeError::Throttled { .. } => 429,
            InvokeError::PayloadTooLarge { .. } => 413,
            InvokeError::InvalidPayload { .. }
            | InvokeError::InvalidName(_)
            | InvokeError::InvalidClientContext(_)
            | InvokeError::QualifierMismatch { .. } => 400,
            InvokeError::Conflict { .. } => 409,
            InvokeError::Service { .. } => 500,
        }
    }
}

/// A step of the scheduler's own work that failed.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The deployment's prefix is not one cove accepts.
    #[error("the prefix {prefix} is not usable")]
    Prefix {
        /// The prefix.
        prefix: String,
        /// Cause.
        #[source]
        source: Box<cove_host::HostError>,
    },
    /// The slot's lock file could not be opened or locked.
    #[error("cannot lock network slot {ns} ({path})")]
    Lease {
        /// The slot's namespace.
        ns: String,
        /// The lock file.
        path: std::path::PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Another cove command (`apply`, `destroy`, …) held the prefix's lock for
    /// longer than the scheduler waits (`ResourceConflictException`, 409).
    #[error(
        "busy: {holder} holds the lock on prefix {prefix} ({path}); invoke again when it has finished"
    )]
    Busy {
        /// The prefix.
        prefix: String,
        /// The lock file.
        path: std::path::PathBuf,
        /// Who held it last.
        holder: String,
    },
    /// The prefix's lock file could not be opened or locked.
    #[error("cannot take the prefix lock {path}")]
    PrefixLock {
        /// The lock file.
        path: std::path::PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The Runtime API endpoint could not be opened in the slot.
    #[error("cannot open the Runtime API endpoint in network slot {ns}")]
    Listen {
        /// The slot's namespace.
        ns: String,
        /// Cause.
        #[source]
        source: Box<cove_host::HostError>,
    },
    /// The Runtime API endpoint could not be served.
    #[error("cannot serve the Runtime API endpoint of network slot {ns}")]
    Serve {
        /// The slot's namespace.
        ns: String,
        /// Cause.
        #[source]
        source: cove_runtime_api::RuntimeApiError,
    },
    /// The function's runtime or handler is unusable.
    #[error("function {function} cannot be launched: {reason}")]
    Launch {
        /// The function.
        function: String,
        /// Why (names the field and the fix).
        reason: String,
    },
    /// The sandbox failed to start the environment.
    #[error("cannot start an execution environment of {function} in network slot {ns}")]
    Sandbox {
        /// The function.
        function: String,
        /// The slot's namespace.
        ns: String,
        /// Cause.
        #[source]
        source: Box<cove_sandbox::SandboxError>,
    },
    /// The sandbox could not be set up at all.
    #[error("cannot set up the sandbox for execution environments")]
    SandboxSetup {
        /// Cause.
        #[source]
        source: Box<cove_sandbox::SandboxError>,
    },
    /// The log file of a function could not be opened.
    #[error("cannot open the log file {path}")]
    Log {
        /// The file.
        path: std::path::PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A blocking task panicked or was cancelled.
    #[error("an internal task of the scheduler failed")]
    Task {
        /// Cause.
        #[source]
        source: tokio::task::JoinError,
    },
    /// The pool's bookkeeping refused a transition (a bug).
    #[error("environment pool bookkeeping")]
    Pool {
        /// Cause.
        #[source]
        source: cove_functions::pool::PoolError,
    },
}
