//! cove's object storage (issue 15).
//!
//! * [`policy`] (`cove_model::bucket_policy`): bucket policies, pure — S3's policy language as far as a closed
//!   network needs it (where a request came from: `aws:SourceVpce`,
//!   `aws:SourceVpc`, addresses, accounts), evaluated as AWS does.
//! * [`keys`]: tenants' access keys, derived from one secret per deployment.
//! * [`origin`]: where a connection came from (an interface endpoint, a
//!   gateway endpoint by the source's subnet route), as policies see it.
//! * [`listeners`]: the store's listeners inside endpoint and services
//!   namespaces, kept by `cove serve`'s reconciler.
//! * [`server`]: the S3-compatible server (`s3s` over its file-system backend),
//!   served connection by connection with the connection's origin, and its
//!   access check: SigV4 with a tenant's key, then the bucket's policy.

pub use cove_model::bucket_policy as policy;
pub mod keys;
pub mod listeners;
pub mod origin;
pub mod server;

pub use keys::{KeySecret, TenantKey};
pub use listeners::{ListenerConfig, Listeners};
pub use origin::{GatewayRoute, Origin};
pub use policy::{Decision, MalformedPolicy, Policy, RequestContext};
pub use server::{Bucket, Keys, ObjectStore, ObjectsError};
