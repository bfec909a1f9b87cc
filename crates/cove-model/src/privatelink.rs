//! PrivateLink (issue 12): a provider tenant's **endpoint service** (its ENIs and
//! ports behind a load-balancing front) and the **links** of other tenants'
//! interface endpoints to it.
//!
//! A consumer's interface endpoint to a service gets, besides its ENI in each
//! chosen subnet, one **front** ENI per endpoint ENI in the provider's VPC (owner
//! [`crate::EniOwner::Front`]), addressed from the top of the service's subnet:
//! the provider sees connections come from it, whatever the consumer's addresses
//! (so provider and consumer may use overlapping blocks). Traffic flows only while
//! the link is [`LinkState::Available`]: the provider accepted it, or the service
//! does not require acceptance.

use serde::Serialize;

use crate::model::{EndpointId, EniId, SubnetId, TenantId, VpcId};

/// An endpoint service a provider tenant publishes.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointService {
    /// The provider.
    pub tenant: TenantId,
    /// Its VPC (where the targets and the fronts live).
    pub vpc: VpcId,
    /// Name, unique within the tenant.
    pub name: String,
    /// The ENIs behind it (connections are spread over them).
    pub targets: Vec<EniId>,
    /// The subnet its fronts are addressed from (its first target's).
    pub subnet: Option<SubnetId>,
    /// The TCP ports it serves.
    pub ports: Vec<u16>,
    /// Whether each consumer's endpoint waits for the provider's acceptance.
    pub acceptance_required: bool,
    /// Tenants that may connect (besides the provider itself).
    pub allowed: Vec<TenantId>,
    /// Whether every tenant may connect (`"*"`).
    pub allow_all: bool,
    /// The name consumers' private DNS resolves to their endpoint's addresses.
    pub private_dns_name: Option<String>,
}

impl EndpointService {
    /// The service name consumers write: `<provider tenant>/<service>`.
    pub fn reference(tenant: &str, name: &str) -> String {
        format!("{tenant}/{name}")
    }
}

/// Where a consumer's endpoint stands with the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    /// Waiting for the provider to accept it: no traffic passes.
    Pending,
    /// Accepted (or acceptance not required): traffic passes.
    Available,
}

/// A consumer's interface endpoint linked to an endpoint service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceLink {
    /// The consumer's endpoint.
    pub endpoint: EndpointId,
    /// The service (index in [`crate::Network::endpoint_services`]).
    pub service: usize,
    /// Whether traffic passes.
    pub state: LinkState,
    /// The fronts in the provider's VPC, one per endpoint ENI, in the order of
    /// the endpoint's ENIs.
    pub fronts: Vec<EniId>,
}
