//! cove's control plane, pure: tenants, tokens, Secure Compute networks, peering
//! connections, quotas and the operator's public IP pool, and the commands on them.
//!
//! Nothing here does I/O, reads a clock or draws random numbers: a command gets the
//! state, the acting tenant (or [`Actor`]), an [`Env`] (time and random bytes) and
//! its request, and returns an [`Outcome`] (its answer and the documents to write)
//! or a [`ControlError`] (code, message, field, hint, HTTP status). The store
//! writes the changes in one transaction; [`ControlState::apply`] replays them.
//!
//! * [`tenants`], [`tokens`], [`pool`]: the operator's side and authentication.
//! * [`network`]: networks with cove's standard layout and a static IP pair.
//! * [`peering`]: peering connections with AWS's lifecycle, between tenants too.
//! * [`lifecycle`]: what the reconciler records once the kernel caught up; expiry.
//! * [`desired`]: the [`cove_model::spec::Spec`] the kernel should have.
//! * [`idempotency`]: replay / mismatch / new for `Idempotency-Key`.
//!
//! Scoping: every tenant command takes the acting tenant; another tenant's object
//! is not found (404), never forbidden, and no answer or error names another
//! tenant's objects — except a peering, whose sides see each other's account id and
//! VPC id.

pub mod addresses;
pub mod desired;
pub mod error;
pub mod idempotency;
pub mod ids;
pub mod lifecycle;
pub mod network;
pub mod peerable;
pub mod peering;
pub mod pool;
mod scoping;
pub mod state;
pub mod tenants;
pub mod tokens;
pub mod types;

pub use addresses::{address, allocate_address, list_addresses, release_address, tag_address};
pub use desired::{check_tenant_spec, check_tenant_spec_since, desired_spec, network_vpc};
pub use error::{ControlError, ErrorCode};
pub use ids::{Env, NetworkId, PeeringId, TenantId, TokenId, UnixTime};
pub use lifecycle::{Applied, complete, expire_peerings};
pub use network::{
    CreateNetwork, PatchNetwork, create_network, delete_network, get_network, list_networks,
    patch_network,
};
pub use peering::{
    RequestPeering, accept_peering, accept_peering_in, delete_peering, get_peering, list_peerings,
    reject_peering, request_peering, request_peering_in, tag_peering,
};
pub use pool::{change_ip_pool, get_ip_pool, set_ip_pool};
pub use scoping::CODE_DIGEST_PREFIX;
pub use state::{Actor, Change, ControlState, Kind, Object, ObjectKey, Outcome};
pub use tenants::{CreateTenant, create_tenant, get_tenant, list_tenants, set_quotas};
pub use tokens::{
    CreateToken, authenticate, bootstrap_admin, create_token, list_tokens, revoke_token,
};
pub use types::*;
