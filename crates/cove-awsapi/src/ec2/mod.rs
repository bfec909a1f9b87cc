//! EC2's Query API (API version 2016-11-15) for what cove models: parameters
//! ([`params`]), answers and errors written as EC2 writes them ([`xml`],
//! [`error`]), the tenant's view ([`view`]), the actions ([`vpcs`], pure) and the
//! HTTP shell ([`server`]).

pub mod acls;
pub mod addresses;
pub mod client_token;
pub mod endpoints;
pub mod error;
pub mod flow_logs;
pub mod gateways;
pub mod groups;
pub mod interfaces;
pub mod params;
pub mod peerings;
pub mod route_tables;
pub mod routes;
pub mod rules;
pub mod server;
pub mod tags;
pub mod view;
pub mod vpc_settings;
pub mod vpcs;
pub mod xml;
