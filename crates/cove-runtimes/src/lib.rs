//! cove's language runtimes, decided in pure Rust: the runtime catalog and its
//! accepted spellings ([`Runtime`]), handler validation ([`validate_handler`]), the
//! command that starts each runtime's client in the sandbox ([`launch`]), Lambda's
//! standard environment ([`lambda_environment`]) and AWS's rules for configured
//! variables ([`validate_user_environment`]). The one module that reads the
//! filesystem is [`fs`]: is a runtime installed, does the code hold what the handler
//! needs.
//!
//! The sandbox layout is fixed: the function's code read-only at `/var/task`, cove's
//! runtime directory (installed by `scripts/install-runtimes.sh`, default
//! `/var/lib/cove/runtimes`) read-only at `/opt`:
//!
//! ```text
//! /opt/python/   awslambdaric and its dependencies (+ pg8000), for /usr/bin/python3.11
//! /opt/node/     node_modules/aws-lambda-ric (3.x), for /usr/bin/node (v20)
//! /opt/ruby/     bootstrap.rb (runtimes/ruby), for /usr/bin/ruby3.1
//! /opt/go/       lambda/: the Go package cove.invalid/lambda (runtimes/go/lambda)
//! ```
//!
//! Errors carry AWS's error code ([`RuntimeError::aws_code`] and friends) and, where
//! AWS has one, its exact message.

mod env;
pub mod fs;
mod handler;
mod launch;
mod runtime;

pub use crate::env::{
    Credentials, EnvError, EnvInfo, InitializationType, LANG, MAX_USER_ENV_BYTES, PATH,
    RESERVED_KEYS, TZ, lambda_environment, lambda_environment_in, log_stream_name, measured_json,
    validate_user_environment,
};
pub use crate::handler::{
    CodeNeed, Entry, HandlerError, MAX_HANDLER_LEN, Problem, validate_handler,
};
pub use crate::launch::{Launch, Layout, NODE, PYTHON, RUBY, launch, launch_in, runtime_env};
pub use crate::runtime::{ALL as ALL_RUNTIMES, Runtime, RuntimeError, accepted_spellings};
