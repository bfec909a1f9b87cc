//! cove's private HTTP APIs (issue 15): API Gateway's HTTP API as a closed
//! network uses it — routes (`METHOD /path/{param}`) to function integrations
//! with payload format 2.0, CORS answered by the API, and endpoint type
//! `PRIVATE`: reachable only through `execute-api` interface endpoints, and only
//! by callers its resource policy allows (`aws:SourceVpce`, `aws:SourceVpc`).
//!
//! * [`dispatch`]: the decision for one request, pure.
//! * [`server`]: [`Gateway`], the HTTP side, invoking on `cove serve`'s
//!   scheduler; it listens through `cove-listeners` in the endpoints'
//!   namespaces.

pub mod dispatch;
pub mod server;

pub use dispatch::{ApiConfig, Apis, Dispatch};
pub use server::Gateway;
