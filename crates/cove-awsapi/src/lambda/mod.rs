//! Lambda's REST API for cove's functions: `CreateFunction` (a zip, a runtime, a
//! handler, `VpcConfig` naming subnets and groups by their EC2 ids, environment,
//! memory, timeout; `Role` recorded), `GetFunction`, `GetFunctionConfiguration`,
//! `ListFunctions`, `UpdateFunctionConfiguration`, `UpdateFunctionCode`,
//! `DeleteFunction`, `Invoke`, reserved concurrency, and function URLs
//! (`CreateFunctionUrlConfig` and the rest; [`urls`] also serves them). Every call is signed
//! with the tenant's access key and carried out through cove's own API in-process
//! as that tenant ([`cove_api::local::LocalIdentity::AccessKey`]): the same checks,
//! scoping and audit.

pub mod config;
pub mod error;
pub mod server;
pub mod urls;
