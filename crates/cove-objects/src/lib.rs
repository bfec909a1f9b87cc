//! cove's object storage (issue 15).
//!
//! * [`policy`] (`cove_model::bucket_policy`): bucket policies, pure — S3's policy language as far as a closed
//!   network needs it (where a request came from: `aws:SourceVpce`,
//!   `aws:SourceVpc`, addresses, accounts), evaluated as AWS does.
//! * [`keys`]: tenants' access keys, derived from one secret per deployment.
//!
//! The store listens inside endpoint and services namespaces through
//! `cove-listeners` ([`ObjectStore`] is a `cove_listeners::Serve`).
//! * [`server`]: the S3-compatible server (`s3s` over its file-system backend),
//!   served connection by connection with the connection's origin, and its
//!   access check: SigV4 with a tenant's key, then the bucket's policy.

pub use cove_model::bucket_policy as policy;
pub mod keys;
pub mod server;

pub use keys::{KeySecret, TenantKey};
pub use policy::{Decision, MalformedPolicy, Policy, RequestContext};
pub use server::{Bucket, Keys, ObjectStore, ObjectsError};
