//! Real traffic between network namespaces, for cove's data-plane tests.
//!
//! Sockets belong to the network namespace they are created in, whatever thread
//! uses them later. So every socket is created on a short-lived thread that has
//! entered the namespace ([`in_namespace`]); the waiting happens on ordinary threads.
//!
//! * [`Responder`]: TCP listeners and UDP echo sockets on chosen ports in a
//!   namespace (ICMP echo is answered by the kernel).
//! * [`run_batch`]: many client probes at once — TCP connect, UDP request/reply, ICMP
//!   echo — each from a pinned source address and port, all waited for together
//!   under one deadline.
//! * [`flush_conntrack`]: forget a namespace's tracked flows, so that the next
//!   probes are new flows.

mod client;
mod conntrack;
mod netns;
mod responder;

pub use client::{Probe, ProbeKind, run_batch};
pub use conntrack::flush_conntrack;
pub use netns::{ProbeError, allow_ping_sockets, in_namespace, privileged};
pub use responder::Responder;
