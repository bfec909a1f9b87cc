//! cove's object storage (issue 15), in the making.
//!
//! * [`policy`]: bucket policies, pure — S3's policy language as far as a closed
//!   network needs it (where a request came from: `aws:SourceVpce`,
//!   `aws:SourceVpc`, addresses, accounts), evaluated as AWS does.
//!
//! The S3-compatible server (`s3s` with its file-system backend, reached only
//! through gateway and interface endpoints) builds on it.

pub mod policy;

pub use policy::{Decision, MalformedPolicy, Policy, RequestContext};
