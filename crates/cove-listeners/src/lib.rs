//! The services behind cove's VPC endpoints (issue 15): the object store behind
//! S3 endpoints, private APIs behind `execute-api` endpoints. A VPC reaches them
//! only through an endpoint: they listen inside the endpoint ENI's namespace (or,
//! for gateway endpoints, the VPC's services namespace), so every connection
//! came through the router, its security groups and ACLs, and the listener knows
//! which endpoint and VPC it came through ([`Origin`]) — what resource policies
//! decide on (`aws:SourceVpce`, `aws:SourceVpc`).
//!
//! * [`origin`]: where a connection came from.
//! * [`listeners`]: listeners kept inside namespaces, each connection handed to a
//!   [`Serve`] with its request context.

pub mod listeners;
pub mod origin;

pub use listeners::{ListenerConfig, Listeners, Serve};
pub use origin::{GatewayRoute, Origin};
