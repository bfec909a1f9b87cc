//! The resolved network model: what a valid spec means.
//!
//! All references are typed indices into the arenas of [`Network`]; every address is
//! parsed; implicit AWS objects (local routes, main route table, default ACL, default
//! security group) are explicit. The analyzer and (later) the planner read only this.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;

use crate::traffic::{PortRange, TrafficMatch};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        pub struct $name(pub u32);

        impl $name {
            /// Index into the owning arena of [`Network`].
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id_type!(
    /// Index of a [`Tenant`].
    TenantId
);
id_type!(
    /// Index of a [`Vpc`].
    VpcId
);
id_type!(
    /// Index of a [`Subnet`].
    SubnetId
);
id_type!(
    /// Index of a [`RouteTable`].
    RouteTableId
);
id_type!(
    /// Index of a [`SecurityGroup`].
    SgId
);
id_type!(
    /// Index of a [`NetworkAcl`].
    NaclId
);
id_type!(
    /// Index of an [`InternetGateway`].
    IgwId
);
id_type!(
    /// Index of a [`NatGateway`].
    NatId
);
id_type!(
    /// Index of an [`Endpoint`].
    EndpointId
);
id_type!(
    /// Index of an [`Eni`].
    EniId
);
id_type!(
    /// Index of a [`Peering`].
    PeeringId
);
id_type!(
    /// Index of a [`PrefixList`].
    PrefixListId
);
id_type!(
    /// Index of a [`Function`].
    FunctionId
);

/// A validated network: every tenant, VPC and resource of a spec, resolved.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Network {
    /// Tenants.
    pub tenants: Vec<Tenant>,
    /// VPCs of all tenants.
    pub vpcs: Vec<Vpc>,
    /// Subnets of all VPCs.
    pub subnets: Vec<Subnet>,
    /// Route tables of all VPCs (including implicit main tables).
    pub route_tables: Vec<RouteTable>,
    /// Security groups of all VPCs (including default groups).
    pub security_groups: Vec<SecurityGroup>,
    /// Network ACLs of all VPCs (including default ACLs).
    pub network_acls: Vec<NetworkAcl>,
    /// Internet gateways.
    pub internet_gateways: Vec<InternetGateway>,
    /// NAT gateways.
    pub nat_gateways: Vec<NatGateway>,
    /// VPC endpoints.
    pub endpoints: Vec<Endpoint>,
    /// ENIs: user ENIs, interface-endpoint ENIs and NAT-gateway ENIs.
    pub enis: Vec<Eni>,
    /// Peering connections.
    pub peerings: Vec<Peering>,
    /// Prefix lists.
    pub prefix_lists: Vec<PrefixList>,
    /// Functions attached to VPCs.
    pub functions: Vec<Function>,
    /// Private hosted zones.
    pub hosted_zones: Vec<crate::dns::HostedZone>,
    /// Endpoint services (PrivateLink) of all tenants.
    pub endpoint_services: Vec<crate::privatelink::EndpointService>,
    /// Interface endpoints linked to an endpoint service.
    pub service_links: Vec<crate::privatelink::ServiceLink>,
    /// Flow logs of all VPCs.
    pub flow_logs: Vec<crate::flowlog::FlowLog>,
    /// Buckets of cove's object storage.
    pub buckets: Vec<crate::bucket_policy::Bucket>,
    /// Private HTTP APIs.
    pub apis: Vec<crate::http_api::HttpApi>,
}

/// A tenant (account).
#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    /// Name from the spec.
    pub name: String,
    /// 12-digit account id, if given.
    pub account_id: Option<String>,
    /// The tenant's VPCs.
    pub vpcs: Vec<VpcId>,
    /// The tenant's prefix lists.
    pub prefix_lists: Vec<PrefixListId>,
}

/// A VPC.
#[derive(Debug, Clone, Serialize)]
pub struct Vpc {
    /// Owner.
    pub tenant: TenantId,
    /// Name from the spec.
    pub name: String,
    /// Imported resource id (`vpc-…`).
    pub aws_id: Option<String>,
    /// CIDR blocks; the primary first.
    pub cidrs: Vec<Ipv4Net>,
    /// Subnets.
    pub subnets: Vec<SubnetId>,
    /// Route tables; `main_route_table` is among them.
    pub route_tables: Vec<RouteTableId>,
    /// The main route table (used by subnets without an explicit association).
    pub main_route_table: RouteTableId,
    /// Security groups; `default_security_group` is among them.
    pub security_groups: Vec<SgId>,
    /// The VPC's default security group.
    pub default_security_group: SgId,
    /// Network ACLs; `default_network_acl` is among them.
    pub network_acls: Vec<NaclId>,
    /// The default network ACL (used by subnets without an explicit association).
    pub default_network_acl: NaclId,
    /// The attached internet gateway.
    pub internet_gateway: Option<IgwId>,
    /// NAT gateways.
    pub nat_gateways: Vec<NatId>,
    /// How its NAT gateways fail.
    pub nat_failover: NatFailover,
    /// Whether its resolver answers (`enableDnsSupport`).
    pub dns_support: bool,
    /// Whether its ENIs' `ip-…` hostnames resolve (`enableDnsHostnames`).
    pub dns_hostnames: bool,
    /// Endpoints.
    pub endpoints: Vec<EndpointId>,
    /// ENIs in this VPC (all owners).
    pub enis: Vec<EniId>,
    /// Functions attached to this VPC.
    pub functions: Vec<FunctionId>,
}

impl Vpc {
    /// Whether `ip` is inside one of this VPC's CIDR blocks.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.cidrs.iter().any(|c| c.contains(&ip))
    }
}

/// A subnet.
#[derive(Debug, Clone, Serialize)]
pub struct Subnet {
    /// Owner VPC.
    pub vpc: VpcId,
    /// Name from the spec.
    pub name: String,
    /// Imported resource id (`subnet-…`).
    pub aws_id: Option<String>,
    /// The subnet's CIDR.
    pub cidr: Ipv4Net,
    /// Availability zone label.
    pub az: String,
    /// Associated route table (explicit or the VPC's main table).
    pub route_table: RouteTableId,
    /// Associated network ACL (explicit or the VPC's default ACL).
    pub network_acl: NaclId,
}

/// A route table.
#[derive(Debug, Clone, Serialize)]
pub struct RouteTable {
    /// Owner VPC.
    pub vpc: VpcId,
    /// Name from the spec (`main` for an implicit main table).
    pub name: String,
    /// Imported resource id (`rtb-…`).
    pub aws_id: Option<String>,
    /// Whether this is the VPC's main table.
    pub main: bool,
    /// All routes: the implicit local routes first, then the spec's routes in order,
    /// then routes added by gateway endpoints.
    pub routes: Vec<Route>,
}

/// Where a route sends matching traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum RouteTarget {
    /// Inside the VPC.
    Local,
    /// Across a peering connection.
    Peering(PeeringId),
    /// Through a NAT gateway of the VPC.
    NatGateway(NatId),
    /// Through the VPC's internet gateway.
    InternetGateway(IgwId),
    /// To a gateway endpoint of the VPC.
    GatewayEndpoint(EndpointId),
    /// Dropped.
    Blackhole,
    /// To an object cove does not model (its resource id).
    Unmodeled(String),
}

/// What a route matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum RouteDestination {
    /// A CIDR (a "static" route in AWS's priority rules).
    Cidr(Ipv4Net),
    /// Every CIDR of a prefix list (lower priority than a static route of equal length).
    PrefixList(PrefixListId),
}

/// Why a route exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RouteOrigin {
    /// The implicit local route of a VPC CIDR.
    Local,
    /// Written in the spec; the index of the route in the table's `routes`.
    Spec(usize),
    /// Propagated by a virtual private gateway (written with `propagated: true`); the
    /// index of the route in the spec's `routes`. Weaker than a static route of the
    /// same destination.
    Propagated(usize),
    /// Added because a gateway endpoint is associated with the table.
    Endpoint(EndpointId),
}

/// One route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// What it matches.
    pub destination: RouteDestination,
    /// Where it sends traffic.
    pub target: RouteTarget,
    /// Why it exists.
    pub origin: RouteOrigin,
}

impl Route {
    /// AWS's tie-break among routes of equal prefix length; lower is stronger: the
    /// local route, then static routes (a CIDR), then prefix-list routes, then
    /// routes propagated by a virtual private gateway.
    pub fn priority(&self) -> u8 {
        match (&self.target, &self.destination, self.origin) {
            (RouteTarget::Local, _, _) => 0,
            (_, _, RouteOrigin::Propagated(_)) => 3,
            (_, RouteDestination::Cidr(_), _) => 1,
            (_, RouteDestination::PrefixList(_), _) => 2,
        }
    }
}

/// The remote side of a security-group rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SgPeer {
    /// Addresses in a CIDR.
    Cidr(Ipv4Net),
    /// Private addresses of ENIs that carry this group (same or peered VPC).
    Group(SgId),
    /// Addresses in any CIDR of a prefix list.
    PrefixList(PrefixListId),
}

/// One security-group rule (rules only allow; a group allows the union of its rules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SgRule {
    /// Protocol, ports, ICMP type/code.
    pub traffic: TrafficMatch,
    /// The remote side.
    pub peer: SgPeer,
    /// Position of the rule in the spec's list (for explanations).
    pub index: usize,
}

/// A security group (stateful).
#[derive(Debug, Clone, Serialize)]
pub struct SecurityGroup {
    /// Owner VPC.
    pub vpc: VpcId,
    /// Name from the spec (`default` for the default group).
    pub name: String,
    /// Imported resource id (`sg-…`).
    pub aws_id: Option<String>,
    /// Whether this is the VPC's default group.
    pub is_default: bool,
    /// Inbound rules.
    pub ingress: Vec<SgRule>,
    /// Outbound rules.
    pub egress: Vec<SgRule>,
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NaclAction {
    /// Let the packet through.
    Allow,
    /// Drop the packet.
    Deny,
}

/// One numbered network-ACL entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NaclEntry {
    /// Rule number (1–32766); entries are kept sorted by it.
    pub rule: u16,
    /// Allow or deny.
    pub action: NaclAction,
    /// Protocol, ports, ICMP type/code.
    pub traffic: TrafficMatch,
    /// Remote CIDR (source for inbound, destination for outbound).
    pub cidr: Ipv4Net,
}

/// A network ACL (stateless; first match by rule number; implicit final deny).
#[derive(Debug, Clone, Serialize)]
pub struct NetworkAcl {
    /// Owner VPC.
    pub vpc: VpcId,
    /// Name from the spec (`default` for an implicit default ACL).
    pub name: String,
    /// Imported resource id (`acl-…`).
    pub aws_id: Option<String>,
    /// Whether this is the VPC's default ACL.
    pub is_default: bool,
    /// Inbound entries, sorted by rule number.
    pub ingress: Vec<NaclEntry>,
    /// Outbound entries, sorted by rule number.
    pub egress: Vec<NaclEntry>,
}

/// An internet gateway.
#[derive(Debug, Clone, Serialize)]
pub struct InternetGateway {
    /// The VPC it is attached to.
    pub vpc: VpcId,
    /// Name from the spec.
    pub name: String,
    /// Imported resource id (`igw-…`).
    pub aws_id: Option<String>,
}

/// Public or private NAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NatConnectivity {
    /// Translates to its public IPs; reaches the internet through the internet gateway.
    Public,
    /// Translates to its private IP; for traffic to other private networks.
    Private,
}

/// A NAT gateway.
#[derive(Debug, Clone, Serialize)]
pub struct NatGateway {
    /// Owner VPC.
    pub vpc: VpcId,
    /// The subnet it lives in.
    pub subnet: SubnetId,
    /// Name from the spec.
    pub name: String,
    /// Imported resource id (`nat-…`).
    pub aws_id: Option<String>,
    /// Public or private.
    pub connectivity: NatConnectivity,
    /// Its ENI (private address in `subnet`; no security groups).
    pub eni: EniId,
    /// Static public IPs (public NAT only). The first is its ENI's address's; each
    /// further one has a secondary private address of its own.
    pub public_ips: Vec<Ipv4Addr>,
    /// Secondary private addresses in `subnet`, one for each public IP after the
    /// first (same order): the gateway translates connections to all of its
    /// addresses, and the internet gateway maps each to its public IP.
    pub secondary_ips: Vec<Ipv4Addr>,
    /// Its partner when its VPC pairs NAT gateways ([`NatFailover::Pair`]).
    pub partner: Option<NatId>,
    /// The partner that carries its addresses now (it failed), if any.
    pub carried_by: Option<NatId>,
}

/// How a VPC's NAT gateways fail (issue 11).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NatFailover {
    /// Each gateway stands alone (AWS's behaviour).
    #[default]
    Independent,
    /// Public gateways are paired; one carries the other's addresses when it fails.
    Pair,
}

impl NatFailover {
    /// The spec's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            NatFailover::Independent => "independent",
            NatFailover::Pair => "pair",
        }
    }
}

impl NatGateway {
    /// Its private addresses: the ENI's (`eni_ip`), then the secondary ones — the
    /// same order as `public_ips`.
    pub fn private_ips(&self, eni_ip: Ipv4Addr) -> Vec<Ipv4Addr> {
        std::iter::once(eni_ip)
            .chain(self.secondary_ips.iter().copied())
            .collect()
    }
}

/// The kind of a VPC endpoint.
#[derive(Debug, Clone, Serialize)]
pub enum EndpointKind {
    /// Reached through routes to the service's prefix list.
    Gateway {
        /// The service's CIDRs.
        prefix_list: PrefixListId,
        /// Route tables that route the prefix list to this endpoint.
        route_tables: Vec<RouteTableId>,
    },
    /// Reached at ENIs in chosen subnets.
    Interface {
        /// One ENI per chosen subnet.
        enis: Vec<EniId>,
        /// DNS name that resolves to the ENIs' addresses.
        private_dns_name: Option<String>,
    },
}

/// A VPC endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    /// Owner VPC.
    pub vpc: VpcId,
    /// Name from the spec.
    pub name: String,
    /// Imported resource id (`vpce-…`).
    pub aws_id: Option<String>,
    /// Service name.
    pub service: String,
    /// Gateway or interface.
    pub kind: EndpointKind,
}

/// Who an ENI belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EniOwner {
    /// Declared by the user (a workload, database, function).
    User,
    /// An interface endpoint's ENI.
    Endpoint(EndpointId),
    /// The provider-side front of an interface endpoint linked to another
    /// tenant's endpoint service (in the provider's VPC; see
    /// [`crate::privatelink`]).
    Front(EndpointId),
    /// A NAT gateway's ENI (not subject to security groups).
    NatGateway(NatId),
    /// A shared function ENI ("Hyperplane"): one per (subnet, security-group set) of
    /// a VPC, shared by every execution environment of every function with that
    /// subnet and set. Environments reach the VPC through it, translated to its
    /// address; it accepts no connection from the VPC.
    Shared,
}

/// An elastic network interface.
#[derive(Debug, Clone, Serialize)]
pub struct Eni {
    /// Owner VPC.
    pub vpc: VpcId,
    /// Subnet.
    pub subnet: SubnetId,
    /// Name (for endpoint/NAT ENIs: `<owner>-<subnet>`).
    pub name: String,
    /// Imported resource id (`eni-…`).
    pub aws_id: Option<String>,
    /// Imported instance id (`i-…`).
    pub instance: Option<String>,
    /// Private address (given or assigned by IPAM).
    pub private_ip: Ipv4Addr,
    /// Whether `private_ip` was assigned by IPAM rather than given.
    pub ip_assigned: bool,
    /// Security groups (empty only for NAT-gateway ENIs).
    pub security_groups: Vec<SgId>,
    /// Public address, if any.
    pub public_ip: Option<Ipv4Addr>,
    /// Who it belongs to.
    pub owner: EniOwner,
}

/// The state of a peering connection (AWS's status codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeeringStatus {
    /// Waiting for the accepter.
    PendingAcceptance,
    /// Traffic can flow (subject to routes, ACLs and security groups).
    Active,
    /// The accepter rejected it.
    Rejected,
    /// It could not be established (e.g. overlapping CIDRs).
    Failed,
    /// Not accepted in time.
    Expired,
    /// Deleted.
    Deleted,
}

impl PeeringStatus {
    /// The AWS status code.
    pub fn as_str(self) -> &'static str {
        match self {
            PeeringStatus::PendingAcceptance => "pending-acceptance",
            PeeringStatus::Active => "active",
            PeeringStatus::Rejected => "rejected",
            PeeringStatus::Failed => "failed",
            PeeringStatus::Expired => "expired",
            PeeringStatus::Deleted => "deleted",
        }
    }

    /// Parses an AWS status code.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending-acceptance" => PeeringStatus::PendingAcceptance,
            "active" => PeeringStatus::Active,
            "rejected" => PeeringStatus::Rejected,
            "failed" => PeeringStatus::Failed,
            "expired" => PeeringStatus::Expired,
            "deleted" => PeeringStatus::Deleted,
            _ => return None,
        })
    }
}

/// A VPC peering connection.
#[derive(Debug, Clone, Serialize)]
pub struct Peering {
    /// Name from the spec.
    pub name: String,
    /// Imported resource id (`pcx-…`).
    pub aws_id: Option<String>,
    /// Requester VPC.
    pub requester: VpcId,
    /// Accepter VPC.
    pub accepter: VpcId,
    /// Effective status (`failed` when the CIDRs overlap, whatever the spec said).
    pub status: PeeringStatus,
    /// Why the status is what it is, when cove changed it.
    pub status_reason: Option<String>,
}

impl Peering {
    /// The other VPC of the peering, seen from `vpc`; `None` if `vpc` is not part of it.
    pub fn peer_of(&self, vpc: VpcId) -> Option<VpcId> {
        if self.requester == vpc {
            Some(self.accepter)
        } else if self.accepter == vpc {
            Some(self.requester)
        } else {
            None
        }
    }
}

/// A managed prefix list.
#[derive(Debug, Clone, Serialize)]
pub struct PrefixList {
    /// Owner.
    pub tenant: TenantId,
    /// Name from the spec.
    pub name: String,
    /// Imported resource id (`pl-…`).
    pub aws_id: Option<String>,
    /// The CIDRs.
    pub cidrs: Vec<Ipv4Net>,
}

/// A function attached to a VPC. Its execution environments reach the VPC through
/// its shared ENIs.
#[derive(Debug, Clone, Serialize)]
pub struct Function {
    /// Owner VPC.
    pub vpc: VpcId,
    /// Function name (unique within the tenant).
    pub name: String,
    /// Runtime, as written (`python3.11`, `nodejs20`, …).
    pub runtime: String,
    /// Handler, as written.
    pub handler: String,
    /// The code's location, as written in the spec.
    pub code: String,
    /// Memory in MB.
    pub memory_mb: u32,
    /// Timeout in seconds.
    pub timeout_s: u32,
    /// Environment variables, sorted by name.
    pub environment: Vec<(String, String)>,
    /// Subnets, in spec order.
    pub subnets: Vec<SubnetId>,
    /// Security groups (sorted, without duplicates): with the subnet, the key of
    /// the shared ENI the function's environments use there.
    pub security_groups: Vec<SgId>,
    /// Most environments at once.
    pub concurrency: u32,
    /// The shared ENIs ([`EniOwner::Shared`]) its environments use, per subnet in
    /// the order of `subnets`: the ENIs of that subnet's (subnet, security-group
    /// set) combination, its first ENI first, then the extra ones cove added for
    /// connections ([`crate::spec::SharedEniExtra`]). See
    /// [`Function::environment_eni`].
    pub shared_enis: Vec<Vec<EniId>>,
    /// Free text.
    pub description: Option<String>,
}

impl Function {
    /// The shared ENI environment `k` sends through: the subnet `k mod subnets`,
    /// then ENI `(k / subnets) mod n` of that subnet's `n` ENIs — so another ENI
    /// for a combination moves environments only between ENIs of that same
    /// subnet and group set. `None` when the function has no shared ENI.
    pub fn environment_eni(&self, k: u32) -> Option<EniId> {
        let subnets = u32::try_from(self.shared_enis.len())
            .ok()
            .filter(|n| *n > 0)?;
        let enis = &self.shared_enis[(k % subnets) as usize];
        let n = u32::try_from(enis.len()).ok().filter(|n| *n > 0)?;
        enis.get(((k / subnets) % n) as usize).copied()
    }

    /// The first shared ENI of each of its subnets, in the order of `subnets`.
    pub fn first_shared_enis(&self) -> impl Iterator<Item = EniId> + '_ {
        self.shared_enis.iter().filter_map(|s| s.first().copied())
    }
}

/// Default memory of a function, MB (Lambda's).
pub const DEFAULT_FUNCTION_MEMORY_MB: u32 = 128;
/// Default timeout of a function, seconds (Lambda's).
pub const DEFAULT_FUNCTION_TIMEOUT_S: u32 = 3;
/// Default concurrency (most execution environments at once) of a function.
pub const DEFAULT_FUNCTION_CONCURRENCY: u32 = 10;

/// Re-exported for convenience: the ephemeral port range Linux clients use by default
/// (`net.ipv4.ip_local_port_range`), which cove's functions run on.
pub const LINUX_EPHEMERAL_PORTS: PortRange = PortRange {
    from: 32768,
    to: 60999,
};
