//! The control plane's documents: tenants, tokens, quotas, the public IP pool,
//! networks and peering connections. Each is one stored document (serde) and, where
//! an API shows it, an OpenAPI schema (`utoipa::ToSchema`).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{NetworkId, PeeringId, TenantId, TokenId, UnixTime};

/// A tenant: one team, one AWS-style account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Tenant {
    /// Its id (`ten-…`).
    pub id: TenantId,
    /// Unique name (letters, digits, `.`, `_`, `-`; at most 64); its part of the
    /// spec is `tenants[<name>]`.
    pub name: String,
    /// Its 12-digit account id, which other tenants name to peer with it.
    pub account_id: String,
    /// What it may create.
    pub quotas: Quotas,
    /// When it was created.
    pub created_at: UnixTime,
}

/// Per-tenant limits. The defaults are AWS's where AWS has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Quotas {
    /// Secure Compute networks (default 10).
    pub networks: u32,
    /// VPCs: networks and the VPCs of the tenant's spec (default 10).
    pub vpcs: u32,
    /// Network interfaces: the spec's ENIs and every function's network slots
    /// (default 5000, AWS's per region).
    pub enis: u32,
    /// Peering connections per network, live ones (pending or active; 1–125,
    /// default 50 as AWS's active peerings per VPC).
    pub peerings_per_network: u32,
    /// Functions (default 100).
    pub functions: u32,
    /// Reserved concurrency of all functions together (default 1000, Lambda's).
    pub concurrency: u32,
    /// Static IPs from the operator's pool, of all its networks together (one per
    /// zone of each; default 20: ten networks in two zones), so that no tenant
    /// takes the whole pool. AWS's Elastic IP quota is 5.
    pub static_ips: u32,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            networks: 10,
            vpcs: 10,
            enis: 5000,
            peerings_per_network: 50,
            functions: 100,
            concurrency: 1000,
            static_ips: 20,
        }
    }
}

/// Who a token acts for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenOwner {
    /// The operator: tenants, tokens, quotas, the IP pool.
    Admin,
    /// One tenant: its own objects only.
    Tenant(TenantId),
}

/// A stored API token: the SHA-256 of its secret, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// Its id (`tok-…`), to list and revoke it.
    pub id: TokenId,
    /// Who it acts for.
    pub owner: TokenOwner,
    /// SHA-256 of the whole secret (`cove_…`), hex.
    pub hash: String,
    /// Free text.
    pub description: Option<String>,
    /// When it was created.
    pub created_at: UnixTime,
    /// When it stops working, if ever.
    pub expires_at: Option<UnixTime>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<UnixTime>,
    /// The token it was created with (none for the bootstrap token): revoking that
    /// one revokes this one too, if both act for the same owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<TokenId>,
}

impl Token {
    /// Whether it authenticates at `now`.
    pub fn is_live(&self, now: UnixTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }

    /// What an API shows of it (no hash).
    pub fn info(&self) -> TokenInfo {
        TokenInfo {
            id: self.id.clone(),
            owner: self.owner.clone(),
            description: self.description.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
            created_by: self.created_by.clone(),
        }
    }
}

/// A token as an API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenInfo {
    /// Its id.
    pub id: TokenId,
    /// Who it acts for.
    pub owner: TokenOwner,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When it was created.
    pub created_at: UnixTime,
    /// When it stops working, if ever.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<UnixTime>,
    /// When it was revoked, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<UnixTime>,
    /// The token it was created with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<TokenId>,
}

/// A token just created: the secret is shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NewToken {
    /// The token's record.
    pub token: TokenInfo,
    /// `cove_` and 52 base32 characters (256 random bits); only its hash is kept.
    pub secret: String,
}

/// The operator's public addresses for NAT gateways' static IPs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IpPool {
    /// Blocks (a single address is a /32), public unicast, in the operator's order.
    #[schema(value_type = Vec<String>)]
    pub blocks: Vec<Ipv4Net>,
    /// When each address that was ever released was released: a new network gets a
    /// never-used address first, then the one released longest ago, so an address
    /// a backend still allow-lists for its former owner is reused last.
    #[schema(value_type = BTreeMap<String, u64>)]
    pub released_at: BTreeMap<Ipv4Addr, UnixTime>,
}

/// An Elastic IP: an address of the operator's pool held by a tenant until it
/// releases it. Its tenant's spec associates it by allocation id (an ENI's
/// `public_ip`, a NAT gateway's `public_ips`); the desired spec writes the address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ElasticIp {
    /// Allocation id (`eipalloc-…`).
    pub id: String,
    /// The tenant holding it.
    pub tenant: TenantId,
    /// The address.
    #[schema(value_type = String)]
    pub public_ip: Ipv4Addr,
    /// Tags (EC2's `CreateTags`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// When it was allocated.
    pub created_at: UnixTime,
}

/// A network's lifecycle (Vercel's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NetworkStatus {
    /// Accepted; the kernel has not been brought in line yet.
    Creating,
    /// Applied.
    Ready,
    /// Being torn down; removed (and its static IPs released) once the kernel is.
    Deleting,
}

/// Whether a subnet routes to the internet gateway or through its AZ's NAT gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubnetTier {
    /// Default route to the internet gateway; holds the AZ's NAT gateway.
    Public,
    /// Default route to the AZ's NAT gateway; where functions run.
    Private,
}

/// One subnet of a network's standard layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NetworkSubnet {
    /// AWS-style id (`subnet-…`).
    pub id: String,
    /// Name in the VPC (`public-a`, `private-a`).
    pub name: String,
    /// Public or private.
    pub tier: SubnetTier,
    /// Availability zone (`us-east-1a`).
    pub availability_zone: String,
    /// Its block.
    #[schema(value_type = String)]
    pub cidr: Ipv4Net,
    /// Its route table (`public` or `private-<az>`).
    pub route_table: String,
    /// The route table's AWS-style id (`rtb-…`).
    pub route_table_id: String,
}

/// A NAT gateway of a network: one per AZ, in the AZ's public subnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NatGateway {
    /// AWS-style id (`nat-…`).
    pub id: String,
    /// Name in the VPC (`nat-a`).
    pub name: String,
    /// Availability zone.
    pub availability_zone: String,
    /// The public subnet it lives in (name).
    pub subnet: String,
    /// Its static public IP, from the operator's pool.
    #[schema(value_type = String)]
    pub public_ip: Ipv4Addr,
}

/// How a network's NAT gateways fail over (issue 11).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NatFailoverMode {
    /// Paired two by two: one carries the other's static IP when it fails.
    #[default]
    Pair,
    /// Each stands alone (AWS's behaviour).
    Independent,
}

/// A Secure Compute network: a VPC with cove's standard layout (one public and one
/// private subnet per AZ, an internet gateway, a NAT gateway per AZ, private route
/// tables to their AZ's NAT gateway) and its static IP pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Network {
    /// Its id (`net-…`).
    pub id: NetworkId,
    /// The owner.
    pub tenant: TenantId,
    /// Name, unique in the tenant (the VPC in the spec is named by `id`, so a
    /// rename changes nothing in the kernel).
    pub name: String,
    /// The VPC's block (/16–/28, private).
    #[schema(value_type = String)]
    pub cidr: Ipv4Net,
    /// Region (`us-east-1`).
    pub region: String,
    /// Availability zones, in layout order.
    pub availability_zones: Vec<String>,
    /// Lifecycle status.
    pub status: NetworkStatus,
    /// The VPC's AWS-style id (`vpc-…`): what a peering names.
    pub vpc_id: String,
    /// The internet gateway's id (`igw-…`).
    pub internet_gateway_id: String,
    /// Subnets: every AZ's public subnet, then every AZ's private one.
    pub subnets: Vec<NetworkSubnet>,
    /// NAT gateways, one per AZ.
    pub nat_gateways: Vec<NatGateway>,
    /// How the NAT gateways fail over: `pair` (the default with an even number of
    /// zones: one carries the other's static IP and open connections when it
    /// fails) or `independent` (AWS's per-zone gateways).
    #[serde(default)]
    pub nat_failover: NatFailoverMode,
    /// The static IPs (one per NAT gateway): where the network's outbound traffic
    /// comes from. Stable for the network's life.
    #[schema(value_type = Vec<String>)]
    pub static_ips: Vec<Ipv4Addr>,
    /// When it was created.
    pub created_at: UnixTime,
    /// When it last changed.
    pub updated_at: UnixTime,
}

/// A peering connection's status, as AWS names them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum PeeringStatus {
    /// Being checked (transient: a request is checked in the same command).
    InitiatingRequest,
    /// Waiting for the accepter (until it expires).
    PendingAcceptance,
    /// Accepted; routes are being put in place (active once the kernel has them).
    Provisioning,
    /// Carries traffic (subject to routes, ACLs and security groups).
    Active,
    /// The accepter rejected it.
    Rejected,
    /// It could not be made (overlapping CIDRs, no such accepter VPC).
    Failed,
    /// Not accepted within 7 days.
    Expired,
    /// Being deleted (transient).
    Deleting,
    /// Deleted.
    Deleted,
}

impl PeeringStatus {
    /// AWS's spelling.
    pub fn as_str(self) -> &'static str {
        use PeeringStatus::*;
        match self {
            InitiatingRequest => "initiating-request",
            PendingAcceptance => "pending-acceptance",
            Provisioning => "provisioning",
            Active => "active",
            Rejected => "rejected",
            Failed => "failed",
            Expired => "expired",
            Deleting => "deleting",
            Deleted => "deleted",
        }
    }

    /// Whether the connection still counts (pending, provisioning or active).
    pub fn is_live(self) -> bool {
        use PeeringStatus::*;
        matches!(
            self,
            InitiatingRequest | PendingAcceptance | Provisioning | Active
        )
    }

    /// Whether it carries (or is about to carry) traffic.
    pub fn is_up(self) -> bool {
        matches!(self, PeeringStatus::Provisioning | PeeringStatus::Active)
    }

    /// Whether nothing can happen to it any more.
    pub fn is_final(self) -> bool {
        use PeeringStatus::*;
        matches!(self, Rejected | Failed | Expired | Deleted)
    }

    /// The direct steps of AWS's lifecycle from this status.
    pub fn next(self) -> &'static [PeeringStatus] {
        use PeeringStatus::*;
        match self {
            InitiatingRequest => &[PendingAcceptance, Failed],
            PendingAcceptance => &[Provisioning, Rejected, Expired, Failed, Deleted],
            Provisioning => &[Active, Failed, Deleting],
            Active => &[Deleting],
            Deleting => &[Deleted],
            Rejected | Failed | Expired | Deleted => &[],
        }
    }

    /// Whether a stored status may become `to` in one command: a path of AWS's
    /// lifecycle whose intermediate steps are transient (`initiating-request`,
    /// `deleting`). A command never stops in a transient status, except that an
    /// accepted peering waits in `provisioning` for the kernel.
    pub fn may_become(self, to: PeeringStatus) -> bool {
        let mut frontier = vec![self];
        let mut seen = Vec::new();
        while let Some(s) = frontier.pop() {
            for &n in s.next() {
                if n == to {
                    return true;
                }
                let transient = matches!(
                    n,
                    PeeringStatus::InitiatingRequest | PeeringStatus::Deleting
                );
                if transient && !seen.contains(&n) {
                    seen.push(n);
                    frontier.push(n);
                }
            }
        }
        false
    }
}

/// The requesting side of a peering connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequesterSide {
    /// The tenant that asked.
    pub tenant: TenantId,
    /// Its account id.
    pub account_id: String,
    /// Its network; none for a standalone VPC of its spec.
    #[serde(default)]
    pub network: Option<NetworkId>,
    /// The VPC's id (the network's, or the standalone VPC's).
    pub vpc_id: String,
}

/// The accepting side, as the requester named it (it may not exist).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccepterSide {
    /// The account id the requester named.
    pub account_id: String,
    /// The VPC id the requester named.
    pub vpc_id: String,
    /// The tenant owning that VPC, when it exists in that account and the request
    /// reached it (not for a request that failed at once).
    pub tenant: Option<TenantId>,
    /// The network of that VPC, under the same conditions (none for a standalone
    /// VPC of the accepter's spec).
    pub network: Option<NetworkId>,
}

/// A stored peering connection (both sides' internals; see [`PeeringView`] for what
/// each side is shown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peering {
    /// Its id (`pcx-…`).
    pub id: PeeringId,
    /// Lifecycle status.
    pub status: PeeringStatus,
    /// Why it is in that status, in words safe for both sides.
    pub status_message: Option<String>,
    /// Who asked.
    pub requester: RequesterSide,
    /// Who is asked.
    pub accepter: AccepterSide,
    /// When it was requested.
    pub created_at: UnixTime,
    /// When its status last changed.
    pub updated_at: UnixTime,
    /// While pending: when it expires (7 days after the request, as AWS).
    pub expires_at: Option<UnixTime>,
    /// The requester's tags (each account tags a connection for itself, as in AWS;
    /// both sides' when one tenant owns both VPCs).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requester_tags: BTreeMap<String, String>,
    /// The accepter's tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accepter_tags: BTreeMap<String, String>,
}

/// Which side of a peering connection the viewer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeeringRole {
    /// The viewer asked.
    Requester,
    /// The viewer is asked.
    Accepter,
    /// Both VPCs are the viewer's.
    Both,
}

/// One end of a peering connection as either side sees it: account and VPC only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PeeringEnd {
    /// Account id.
    pub account_id: String,
    /// VPC id.
    pub vpc_id: String,
}

/// A peering connection as one of its sides sees it: nothing of the other tenant but
/// its account id and VPC id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PeeringView {
    /// Its id (`pcx-…`).
    pub id: PeeringId,
    /// Lifecycle status.
    pub status: PeeringStatus,
    /// Why it is in that status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// The viewer's side.
    pub role: PeeringRole,
    /// The requesting VPC.
    pub requester: PeeringEnd,
    /// The accepting VPC.
    pub accepter: PeeringEnd,
    /// When it was requested.
    pub created_at: UnixTime,
    /// When its status last changed.
    pub updated_at: UnixTime,
    /// While pending: when it expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<UnixTime>,
    /// The viewer's own tags on it (the other account's are not shown).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}
