//! One module per subcommand.

pub mod access_key;
pub mod apply;
pub mod check;
pub mod client;
pub mod destroy;
pub mod embedded;
pub mod endpoint_service;
pub mod exec;
pub mod flows;
pub mod function;
pub mod import;
pub mod ip_pool;
pub mod matrix;
pub mod metering;
pub mod nat;
pub mod network;
pub mod peering;
pub mod plan;
pub mod serve;
pub mod serve_runner;
pub mod status;
pub mod tenant;
pub mod token;
pub mod validate;
