//! cove's pure reachability analyzer: (network, flow) → verdict with a hop-by-hop
//! trace, following AWS VPC semantics.
//!
//! * [`Analyzer`]: indexes built once per [`cove_model::Network`]; [`Analyzer::check`]
//!   explains, [`Analyzer::reachable`] only answers (used by [`matrix()`]).
//! * [`NaiveAnalyzer`]: the same evaluation over linear scans — the reference for
//!   property tests and the benchmark's baseline.
//! * [`rules`]: security-group (union of allow rules, group references) and
//!   network-ACL (numbered first match, per port, final `*` deny) evaluation.
//! * [`lookup`]: route selection (longest prefix, then local > static > prefix list)
//!   and address maps, indexed and brute-force.
//!
//! No I/O, no threads, no async.

mod analyzer;
mod delta;
pub mod describe;
pub mod endpoint_policy;
mod flow;
pub mod labels;
pub mod lookup;
mod matrix;
pub mod rules;
mod verdict;
mod walk;

pub use analyzer::{Analyzer, NaiveAnalyzer};
pub use delta::{Change, FlowChange, reachability_delta};
pub use flow::{Endpoint, Flow, NAT_GATEWAY_PORTS, Packet, icmp_reply_type};
pub use matrix::{Matrix, matrix};
pub use verdict::{Blocked, Direction, Hop, Outcome, Step, Verdict};
