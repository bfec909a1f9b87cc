//! cove's private DNS (issue 12), the pure part: each VPC's [`View`] of the names
//! its resolver answers itself (its ENIs' hostnames and reverse names, the private
//! hosted zones associated with it), and [`respond`], which turns a query's bytes
//! into the response's — or into the question for the upstream resolvers. No I/O:
//! the server that receives queries in the host router's namespace and sends
//! questions upstream is `cove-resolver`'s (`docs/design/private-dns.md`); the
//! [`Catalog`] that picks a query's view and the forwarder's [`Cache`] are here.

pub mod catalog;
pub mod forward;
pub mod message;
pub mod names;
pub mod view;

pub use catalog::Catalog;
pub use forward::{Cache, Upstream};
pub use message::{Reply, respond};
pub use names::{Unresolved, looks_like_name, resolve};
pub use view::{Answer, Data, Kind, Outcome, View};

#[cfg(test)]
mod tests;
