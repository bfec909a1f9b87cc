//! cove's function service.
//!
//! * [`pool`] — pure: which execution environment an invocation gets (a warm one, a
//!   cold start in a free network slot, or throttling), and which idle environments
//!   are reaped.
//! * [`config`] — pure: the functions of a [`cove_model::Network`] as the scheduler
//!   runs them (slots' namespaces, limits, ARNs).
//! * [`code`] — code snapshots: a function's directory or zip copied into a
//!   content-addressed store when applied, as Lambda keeps a deployment package.

pub mod code;
pub mod config;
pub mod cors;
pub mod pool;
pub mod url;
