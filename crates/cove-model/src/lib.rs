//! cove's pure network model.
//!
//! * [`spec`]: the declarative YAML spec a user writes (names, references by name).
//! * [`decode`]: YAML text → [`spec::Spec`], collecting every unknown field.
//! * [`validate`]: [`spec::Spec`] → [`model::Network`] or *all* problems, each with an
//!   AWS-style error code, the path of the offending field and a hint.
//! * [`model`]: the resolved network (typed indices, parsed addresses, implicit objects).
//! * [`ipam`]: deterministic address assignment that never hands out reserved or used
//!   addresses.
//!
//! Nothing here does I/O.

pub mod bucket_policy;
pub mod decode;
pub mod diag;
pub mod dns;
pub mod flowlog;
pub mod function_spec;
pub mod http_api;
pub mod ids;
pub mod ipam;
pub mod lookup;
pub mod model;
pub mod privatelink;
pub mod spec;
pub mod traffic;
pub mod validate;

pub use diag::{Diagnostic, ErrorCode, Severity};
pub use model::*;
pub use traffic::{PortRange, Protocol, TrafficMatch};
