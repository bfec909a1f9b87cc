//! The declarative spec: what a user writes in YAML (or what `cove import aws` produces).
//!
//! Every object is named; references between objects are by name and resolved by
//! [`crate::validate`]. Scalars that need parsing (CIDRs, ports, protocols, addresses)
//! stay strings here so that *all* of their errors can be reported at once, with the
//! path of the offending field, instead of stopping at the first type error.

use serde::{Deserialize, Serialize};

pub use crate::function_spec::{DeployedFunction, FunctionSpec, FunctionUrlSpec};

/// A scalar that may be written as a YAML string or a number (`5432` or `"5432"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// Written as a number.
    Int(i64),
    /// Written as a string.
    Str(String),
}

impl Default for Scalar {
    fn default() -> Self {
        Scalar::Str(String::new())
    }
}

impl Scalar {
    /// The scalar as text, the way the user wrote it.
    pub fn text(&self) -> String {
        match self {
            Scalar::Int(n) => n.to_string(),
            Scalar::Str(s) => s.clone(),
        }
    }
}

impl From<&str> for Scalar {
    fn from(s: &str) -> Self {
        Scalar::Str(s.to_owned())
    }
}

impl From<i64> for Scalar {
    fn from(n: i64) -> Self {
        Scalar::Int(n)
    }
}

/// The whole spec file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    /// Tenants (accounts) and everything they own.
    #[serde(default)]
    pub tenants: Vec<TenantSpec>,
    /// VPC peering connections, possibly between tenants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peerings: Vec<PeeringSpec>,
    /// Quotas validation enforces (AWS's defaults when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quotas: Option<QuotasSpec>,
    /// Extra shared function ENIs the platform added for busy (subnet,
    /// security-group set) combinations, oldest first (issue 17: a combination
    /// gets another ENI when one of its ENIs carries more connections than
    /// Lambda's 65,000). Set by cove from its store, never read from or written
    /// to a spec document (a tenant cannot set it).
    #[serde(skip)]
    pub shared_eni_extras: Vec<SharedEniExtra>,
    /// NAT gateways whose partner carries their addresses now (the failover state
    /// `cove serve`'s health monitor records, issue 11). Set by cove from its store,
    /// never read from or written to a spec document.
    #[serde(skip)]
    pub nat_takeovers: Vec<NatTakeover>,
    /// References to another tenant's resources that no longer resolve (a zone
    /// association whose authorization was revoked, an endpoint to a service that
    /// no longer allows the tenant) are warnings, and the reference is dropped,
    /// instead of errors: the control plane's merged spec sets it, so that one
    /// tenant's change never makes the whole platform's desired state invalid. Set
    /// by cove, never read from or written to a spec document.
    #[serde(skip)]
    pub cross_tenant_lenient: bool,
}

/// A NAT gateway of a `pair` whose partner carries its addresses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NatTakeover {
    /// The VPC, `<tenant>/<vpc>`.
    pub vpc: String,
    /// The failed gateway's name.
    pub gateway: String,
}

/// One more shared function ENI for a combination that already has one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SharedEniExtra {
    /// The VPC, `<tenant>/<vpc>`.
    pub vpc: String,
    /// The combination's first ENI ([`crate::validate::shared_eni_name`]).
    pub eni: String,
}

/// Adjustable quotas, as an AWS account may have them raised.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuotasSpec {
    /// Most inbound rules, and most outbound rules, of one security group
    /// (1–1000; AWS's default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules_per_security_group: Option<Scalar>,
    /// Most security groups on one interface (1–16; AWS's default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups_per_interface: Option<Scalar>,
    /// Most active peering connections of one VPC (1–125; AWS's default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_peerings_per_vpc: Option<Scalar>,
    /// Most CIDR blocks of one VPC, the primary included (1–50; AWS's default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_blocks_per_vpc: Option<Scalar>,
    /// Most shared function ENIs of one VPC (1–1000; Lambda's default 250).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_enis_per_vpc: Option<Scalar>,
}

/// A tenant: one account, owning VPCs and prefix lists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TenantSpec {
    /// Unique name of the tenant.
    pub name: String,
    /// Optional 12-digit account id (kept from an AWS import).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<Scalar>,
    /// Managed prefix lists of this tenant (gateway-endpoint services, allow-lists).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefix_lists: Vec<PrefixListSpec>,
    /// The tenant's VPCs.
    #[serde(default)]
    pub vpcs: Vec<VpcSpec>,
    /// Private hosted zones (Route 53): names the resolver of the associated VPCs
    /// answers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosted_zones: Vec<HostedZoneSpec>,
    /// Endpoint services (PrivateLink) this tenant publishes to others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoint_services: Vec<EndpointServiceSpec>,
    /// Buckets of cove's object storage (issue 15), reached from VPCs through S3
    /// endpoints only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<BucketSpec>,
    /// Private HTTP APIs (issue 15), reached from VPCs through `execute-api`
    /// interface endpoints only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apis: Vec<ApiSpec>,
    /// Internet gateways not attached to any VPC (EC2's `CreateInternetGateway`
    /// before `AttachInternetGateway`, or after `DetachInternetGateway`). They
    /// carry no traffic; an attached gateway is its VPC's `internet_gateway`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub internet_gateways: Vec<InternetGatewaySpec>,
}

/// A private HTTP API (API Gateway's HTTP API with endpoint type `PRIVATE`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiSpec {
    /// Name, unique within the tenant.
    pub name: String,
    /// Its id: 10 lowercase letters and digits, global (`<id>.execute-api.…`);
    /// derived from the tenant and name when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `PRIVATE` (the only type cove serves; the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_type: Option<String>,
    /// Its region (default `us-east-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Routes to function integrations (payload format 2.0).
    #[serde(default)]
    pub routes: Vec<ApiRouteSpec>,
    /// CORS, answered by the API itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<CorsSpec>,
    /// The resource policy naming the endpoints and VPCs allowed to invoke it
    /// (`execute-api:Invoke`), as a mapping or as JSON text. Required: a private
    /// API without one is invoked by no one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<serde_json::Value>,
}

/// One route of a private API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiRouteSpec {
    /// `METHOD /path/{param}`, `ANY /files/{path+}` or `$default`.
    pub route: String,
    /// The function it invokes (a function of this tenant).
    pub function: String,
}

/// CORS of a private API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CorsSpec {
    /// Origins allowed (`http://app.example`, or `*`).
    #[serde(default)]
    pub allow_origins: Vec<String>,
    /// Methods allowed (or `*`).
    #[serde(default)]
    pub allow_methods: Vec<String>,
    /// Request headers allowed (or `*`).
    #[serde(default)]
    pub allow_headers: Vec<String>,
    /// Response headers the browser may read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    /// Seconds browsers cache a preflight answer (0–86400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<Scalar>,
    /// Whether cookies are allowed (not with origin `*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
}

/// A bucket of cove's object storage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BucketSpec {
    /// Its name: global across tenants, S3's naming rules.
    pub name: String,
    /// Its bucket policy: a policy document, as a mapping or as JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<serde_json::Value>,
}

fn yes() -> bool {
    true
}

/// An endpoint service (PrivateLink): ENIs of one of the tenant's VPCs and the
/// ports they serve, reached by other tenants' interface endpoints
/// (`service: <tenant>/<name>`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointServiceSpec {
    /// Name, unique within the tenant.
    pub name: String,
    /// The VPC of its targets (a name of this tenant's).
    pub vpc: String,
    /// The ENIs behind it (names in `vpc`); each connection goes to one of them.
    pub targets: Vec<String>,
    /// The TCP ports it serves.
    pub ports: Vec<u16>,
    /// Whether each consumer's endpoint waits for acceptance (AWS's default:
    /// yes).
    #[serde(default = "yes")]
    pub acceptance_required: bool,
    /// Tenants allowed to create endpoints to it (`"*"`: every tenant).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_principals: Vec<String>,
    /// Consumers' endpoints the provider accepted (`tenant/vpc/endpoint`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted: Vec<String>,
    /// The name consumers' private DNS resolves to their endpoint's addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns_name: Option<String>,
}

/// A private hosted zone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostedZoneSpec {
    /// Its domain (`db.internal`).
    pub name: String,
    /// The tenant's VPCs it is associated with (names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vpcs: Vec<String>,
    /// Its record sets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<RecordSpec>,
    /// Other tenants' VPCs allowed to associate it (`tenant/vpc`; Route 53's
    /// `CreateVPCAssociationAuthorization`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorizations: Vec<String>,
}

/// A record set: a name, a type and its values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordSpec {
    /// The owner name, inside the zone (`pg.db.internal`, `*.db.internal`); the
    /// zone's own name when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `A`, `AAAA`, `CNAME`, `TXT`, `SRV` or `MX`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Seconds (0–2147483647; default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Scalar>,
    /// The values: addresses, a target name, strings, `PRIO WEIGHT PORT TARGET`,
    /// `PREF HOST`.
    #[serde(default)]
    pub values: Vec<Scalar>,
}

/// A named set of CIDRs that routes and security-group rules can reference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PrefixListSpec {
    /// Name, unique within the tenant.
    pub name: String,
    /// Resource id kept from an import (`pl-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Tags (EC2's `CreateTags`; free key/value pairs, 50 at most).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
    /// The CIDRs in the list.
    #[serde(default)]
    pub cidrs: Vec<String>,
}

/// A VPC and the resources inside it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VpcSpec {
    /// Name, unique within the tenant.
    pub name: String,
    /// Resource id kept from an import (`vpc-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Tags (EC2's `CreateTags`; free key/value pairs, 50 at most).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
    /// Primary IPv4 CIDR, /16 to /28.
    pub cidr: String,
    /// Secondary IPv4 CIDRs, /16 to /28.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secondary_cidrs: Vec<String>,
    /// Subnets.
    #[serde(default)]
    pub subnets: Vec<SubnetSpec>,
    /// Route tables; one may be marked `main`, otherwise an implicit main table exists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route_tables: Vec<RouteTableSpec>,
    /// Security groups; a `default` group exists even when not declared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<SecurityGroupSpec>,
    /// Network ACLs; one may be marked `default`, otherwise an allow-all default exists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_acls: Vec<NetworkAclSpec>,
    /// The internet gateway attached to this VPC, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_gateway: Option<InternetGatewaySpec>,
    /// NAT gateways.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nat_gateways: Vec<NatGatewaySpec>,
    /// `independent` (default; AWS's behaviour: each NAT gateway stands alone) or
    /// `pair`: the public NAT gateways are paired two by two in the order of their
    /// names, and when one fails its partner carries its addresses (and its open
    /// connections) until it is healthy again (issue 11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_failover: Option<String>,
    /// Gateway and interface endpoints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<EndpointSpec>,
    /// Other tenants' hosted zones this VPC resolves (`tenant/zone`), each of which
    /// must authorize it (Route 53's `AssociateVPCWithHostedZone` across accounts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub associate_zones: Vec<String>,
    /// Whether the VPC's resolver answers (AWS's `enableDnsSupport`; default
    /// true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_support: Option<bool>,
    /// Whether its ENIs get `ip-…` hostnames that resolve (AWS's
    /// `enableDnsHostnames`; default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_hostnames: Option<bool>,
    /// Elastic network interfaces (workloads, databases, functions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enis: Vec<EniSpec>,
    /// Functions attached to this VPC (Lambda's `VpcConfig`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<FunctionSpec>,
    /// Flow logs of this VPC, one of its subnets or one of its ENIs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flow_logs: Vec<FlowLogSpec>,
}

/// A flow log (AWS's `CreateFlowLogs`): what it captures, which traffic, how
/// often, which fields. Records go to a file of the deployment's own
/// (`<state>/<prefix>/flow-logs/<tenant>/<vpc>/<name>.log`), the API and
/// `cove flows`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowLogSpec {
    /// Name, unique within the VPC.
    pub name: String,
    /// Tags (EC2's `CreateTags`; free key/value pairs, 50 at most).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
    /// A subnet of the VPC: its ENIs' traffic (the whole VPC when neither this
    /// nor `eni` is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// One ENI of the VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eni: Option<String>,
    /// `ACCEPT`, `REJECT` or `ALL` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_type: Option<String>,
    /// Seconds one record covers at most: 60 or 600 (default), as AWS; 1 for
    /// tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_aggregation_interval: Option<Scalar>,
    /// The record's fields (`${srcaddr} ${dstaddr} …`, AWS's names and cove's
    /// `${cove-…}`); AWS's default version-2 format when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
    /// `text` (AWS's: fields separated by spaces; default) or `json` (one object
    /// per line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_format: Option<String>,
    /// The file is rotated at this many MiB, one older file kept (1–10240;
    /// default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_file_mb: Option<Scalar>,
}

/// A subnet of a VPC.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SubnetSpec {
    /// Name, unique within the VPC.
    pub name: String,
    /// Resource id kept from an import (`subnet-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Tags (EC2's `CreateTags`; free key/value pairs, 50 at most).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
    /// IPv4 CIDR, /16 to /28, inside one of the VPC's CIDRs.
    pub cidr: String,
    /// Availability-zone label, e.g. `us-east-1a`.
    pub az: String,
    /// Route table (name in this VPC); the main table when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_table: Option<String>,
    /// Network ACL (name in this VPC); the default ACL when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_acl: Option<String>,
}

/// A route table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteTableSpec {
    /// Name, unique within the VPC.
    pub name: String,
    /// Resource id kept from an import (`rtb-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Tags (EC2's `CreateTags`; free key/value pairs, 50 at most).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
    /// Whether this is the VPC's main route table (at most one).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub main: bool,
    /// Routes besides the implicit `local` routes.
    #[serde(default)]
    pub routes: Vec<RouteSpec>,
}

/// One route. Exactly one destination (`destination` or `destination_prefix_list`) and
/// exactly one target field must be set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteSpec {
    /// Destination CIDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Destination prefix list (name in this tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_prefix_list: Option<String>,
    /// Target: a peering connection (name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peering: Option<String>,
    /// Target: a NAT gateway of this VPC (name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway: Option<String>,
    /// Target: this VPC's internet gateway (name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_gateway: Option<String>,
    /// Target: a gateway endpoint of this VPC (name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_endpoint: Option<String>,
    /// Target: drop the traffic.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub blackhole: bool,
    /// Target: something cove does not model yet (transit gateway, VPN gateway, …),
    /// by its resource id. Traffic that takes this route cannot be followed further.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmodeled: Option<String>,
    /// Whether the route was propagated by a virtual private gateway (its target
    /// is then `unmodeled: vgw-…`). A static route with the same destination wins
    /// over it; two routes with one destination are an error only if both are static.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub propagated: bool,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A security group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroupSpec {
    /// Name, unique within the VPC. `default` replaces the VPC's default group.
    pub name: String,
    /// Resource id kept from an import (`sg-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Tags (EC2's `CreateTags`; free key/value pairs, 50 at most).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Inbound rules (none: nothing is allowed in).
    #[serde(default)]
    pub ingress: Vec<SgRuleSpec>,
    /// Outbound rules; when omitted, all outbound traffic is allowed (AWS's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Vec<SgRuleSpec>>,
}

/// One security-group rule. Exactly one of `cidr`, `security_group`, `prefix_list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SgRuleSpec {
    /// `tcp`, `udp`, `icmp`, `all` (or `-1`), or an IP protocol number.
    pub protocol: Scalar,
    /// Port or range (`5432`, `1024-65535`); required for tcp and udp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Scalar>,
    /// ICMP type (`-1` or omitted: all types); only for icmp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<i64>,
    /// ICMP code (`-1` or omitted: all codes); only for icmp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<i64>,
    /// Peer CIDR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    /// Peer security group: `name` (this VPC) or `vpc/name` or `tenant/vpc/name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group: Option<String>,
    /// Peer prefix list (name in this tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_list: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A network ACL.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkAclSpec {
    /// Name, unique within the VPC.
    pub name: String,
    /// Resource id kept from an import (`acl-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Tags (EC2's `CreateTags`; free key/value pairs, 50 at most).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
    /// Whether this is the VPC's default ACL (at most one).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
    /// Inbound entries.
    #[serde(default)]
    pub ingress: Vec<NaclEntrySpec>,
    /// Outbound entries.
    #[serde(default)]
    pub egress: Vec<NaclEntrySpec>,
}

/// One numbered network-ACL entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NaclEntrySpec {
    /// Rule number, 1 to 32766, unique per direction; lowest is evaluated first.
    pub rule: Scalar,
    /// `allow` or `deny`.
    pub action: String,
    /// `tcp`, `udp`, `icmp`, `all` (or `-1`), or an IP protocol number.
    pub protocol: Scalar,
    /// Port or range; required for tcp and udp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Scalar>,
    /// ICMP type (`-1` or omitted: all types); only for icmp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<i64>,
    /// ICMP code (`-1` or omitted: all codes); only for icmp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<i64>,
    /// The remote CIDR (source for ingress, destination for egress).
    pub cidr: String,
}

/// An internet gateway attached to a VPC.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InternetGatewaySpec {
    /// Name, unique within the VPC.
    pub name: String,
    /// Resource id kept from an import (`igw-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Tags (EC2's `CreateTags`; free key/value pairs, 50 at most).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
}

/// A NAT gateway.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NatGatewaySpec {
    /// Name, unique within the VPC.
    pub name: String,
    /// Resource id kept from an import (`nat-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The subnet it lives in (name in this VPC).
    pub subnet: String,
    /// `public` (default; translates to its public IPs) or `private`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connectivity: Option<String>,
    /// Its private address; assigned from the subnet when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<String>,
    /// Static public IPs (one or more) for a public NAT gateway.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_ips: Vec<String>,
    /// Tags (EC2's `CreateTags`; free key/value pairs, 50 at most).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
}

/// A VPC endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointSpec {
    /// Name, unique within the VPC.
    pub name: String,
    /// Resource id kept from an import (`vpce-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Tags (EC2's `CreateTags`; free key/value pairs, 50 at most).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
    /// `gateway` or `interface`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Service name, e.g. `com.amazonaws.us-east-1.s3`.
    pub service: String,
    /// Gateway endpoints: the prefix list (name in this tenant) of the service's CIDRs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_list: Option<String>,
    /// Gateway endpoints: route tables that get a route to the endpoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route_tables: Vec<String>,
    /// Interface endpoints: one ENI in each of these subnets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<String>,
    /// Interface endpoints: fixed addresses for the ENIs, in `subnets` order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub private_ips: Vec<String>,
    /// Interface endpoints: security groups of the ENIs (the default group when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// Interface endpoints: the private DNS name that resolves to the ENIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns_name: Option<String>,
}

/// An elastic network interface.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EniSpec {
    /// Name, unique within the VPC.
    pub name: String,
    /// Resource id kept from an import (`eni-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Subnet (name in this VPC).
    pub subnet: String,
    /// Private address; assigned deterministically from the subnet when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<String>,
    /// Security groups (names in this VPC); the VPC's default group when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// Public IPv4 address (reachable through the internet gateway), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<String>,
    /// The instance this ENI belongs to (kept from an import, `i-…`), so that
    /// `cove check --from i-…` finds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A VPC peering connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PeeringSpec {
    /// Name, unique in the spec.
    pub name: String,
    /// Resource id kept from an import (`pcx-…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Requester VPC: `tenant/vpc`.
    pub requester: String,
    /// Accepter VPC: `tenant/vpc`.
    pub accepter: String,
    /// `pending-acceptance`, `active` (default), `rejected`, `failed`, `expired` or `deleted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}
