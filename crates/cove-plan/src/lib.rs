//! cove's planner: pure, synchronous and deterministic.
//!
//! * [`state`]: the kernel objects cove owns, as data ([`HostState`]).
//! * [`desired`]: a validated [`cove_model::Network`] → the [`HostState`] that
//!   realizes it (topology, addresses, routes, policy rules, nftables rulesets).
//! * [`environments`]: functions' execution environments behind shared ENIs.
//! * [`diff`]: observed [`HostState`] + desired [`HostState`] → [`Plan`].
//! * [`plan`]: the typed operations the executor (`cove-host`) carries out.
//! * [`privatelink`]: interface endpoints linked to another tenant's endpoint
//!   service (the front in the endpoint's namespace).
//! * [`reject`]: the codes the router's refusals carry to flow logs (NFLOG).
//! * [`resolver`]: where each VPC's DNS resolver answers in the host router.
//! * [`nftsets`]: the one typed description of cove's nftables sets and maps, from
//!   which [`nft`]'s declarations and the executor's element encodings derive.
//!
//! No I/O, no threads, no async.

pub mod desired;
pub mod diff;
pub mod environments;
pub mod names;
pub mod nft;
mod nft_filters;
mod nft_nat;
pub mod nftsets;
pub mod plan;
pub mod privatelink;
pub mod reject;
pub mod resolver;
pub mod routing;
pub mod sgsets;
pub mod simulate;
pub mod state;
pub mod zones;

pub use desired::{PlanError, desired};
pub use diff::diff;
pub use nftsets::{ElemType, SetDecl, SetKind, SetSchema, set_schema};
pub use plan::{NatBinding, NftWhy, Op, Plan};
pub use state::{
    Address, DevName, ForeignTable, HostState, LOCAL_RULE_LAST, LinkSettings, NftTable, NsState,
    ROUTE_PROTO_STATIC, Route, RouteKind, Rule, RuleSelector, VETH_MTU, VethEnd, VethPair,
};

/// The shipped example's network, for unit tests.
#[cfg(test)]
pub(crate) use cove_testgen::example_network;
