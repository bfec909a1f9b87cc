//! Flow logs (issue 14), the pure part: no I/O, no threads.
//!
//! * [`ct`]: a tracked connection as conntrack reports it (tuples, counters per
//!   direction, start), and [`ct::Deltas`], which turns successive readings into
//!   what each connection moved since the last one — so no work happens per
//!   packet, only per connection and reading.
//! * [`directory`]: which ENI an address in a conntrack zone is (the router keeps
//!   each VPC's and each peering's connections in a zone of their own), and so at
//!   which interfaces, in which direction, a connection's packets passed.
//! * [`window`]: records per flow log, ENI, 5-tuple and action, over capture
//!   windows of the flow log's aggregation interval.
//! * [`explain`]: the rule that accepted a record's traffic, from the analyzer.
//! * [`reject`]: packets the router refused (NFLOG, with a code naming the
//!   refusing ACL or security groups) as REJECT records at the refusing interface.
//! * [`record`]: a record in AWS's text format (the flow log's fields, `-` for
//!   none) or as a JSON object.
//! * [`query`]: records read back and filtered (`cove flows`, the API).
//! * [`nat`]: NAT gateways' translations (from their own tables), joining a
//!   client's connection to the gateway's: the addresses across the gateway.
//! * [`meter`]: bytes and packets sent per tenant, function and path.

pub mod ct;
pub mod directory;
pub mod explain;
pub mod meter;
pub mod nat;
pub mod query;
pub mod record;
pub mod reject;
pub mod window;

pub use ct::{Counts, CtFlow, Deltas};
pub use directory::{Connection, Direction, Directory, PathKind, Seen};
pub use meter::Meter;
pub use nat::NatTable;
pub use record::{Action, Record, render_json, render_text};
pub use reject::{PacketHeader, Refused, parse_ipv4};
pub use window::Aggregator;

#[cfg(test)]
mod tests;
