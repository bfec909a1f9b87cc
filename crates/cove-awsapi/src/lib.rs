//! AWS-compatible APIs over cove's control plane (issue 13).
//!
//! * [`sigv4`]: Signature Version 4 verification (pure): the canonical request and
//!   string to sign rebuilt from the request as received, the signature computed
//!   with `aws-sigv4`'s key derivation, AWS's error codes for what fails.
//! * [`ec2`]: EC2's Query API (`POST /`, `Action=…`) over the tenant's part of the
//!   desired state: VPCs, subnets, zones, security groups so far.
//! * [`lambda`]: Lambda's REST API (`/2015-03-31/functions…`) over cove's
//!   functions.

pub mod auth;
pub mod ec2;
pub mod lambda;
pub mod sigv4;

/// The AWS-compatible APIs' routes (state applied): EC2's `POST /` and Lambda's
/// `/2015-03-31/functions…`, to serve beside cove's API.
pub fn router(api: cove_api::ApiState) -> axum::Router {
    ec2::server::router(api.clone()).merge(lambda::server::router(api))
}

/// `app` (every route of the listener) with function URLs also served by host
/// name: a request whose `Host` is `<url-id>.lambda-url.<region>.on.aws` is that
/// URL's, whatever its path.
pub fn with_function_url_hosts(app: axum::Router, api: cove_api::ApiState) -> axum::Router {
    app.layer(axum::middleware::from_fn_with_state(
        api,
        lambda::urls::by_host,
    ))
}
