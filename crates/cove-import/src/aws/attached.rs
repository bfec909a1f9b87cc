//! Gateways, endpoints, prefix lists, interfaces, instances and peerings.

use serde::Deserialize;

use super::list;

/// `describe-internet-gateways`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InternetGateway {
    /// `igw-…`.
    pub internet_gateway_id: String,
    /// VPC attachments.
    #[serde(default, deserialize_with = "list")]
    pub attachments: Vec<IgwAttachment>,
}

/// An internet-gateway attachment.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IgwAttachment {
    /// `available`/`attached`, `detaching`, …
    pub state: Option<String>,
    /// The VPC.
    pub vpc_id: Option<String>,
}

/// `describe-nat-gateways`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NatGateway {
    /// `nat-…`.
    pub nat_gateway_id: String,
    /// `available`, `deleted`, …
    pub state: Option<String>,
    /// Owner VPC.
    pub vpc_id: Option<String>,
    /// Subnet.
    pub subnet_id: Option<String>,
    /// `public` or `private`.
    pub connectivity_type: Option<String>,
    /// Its addresses.
    #[serde(default, deserialize_with = "list")]
    pub nat_gateway_addresses: Vec<NatAddress>,
}

/// One NAT-gateway address.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NatAddress {
    /// Its ENI.
    pub network_interface_id: Option<String>,
    /// Private address.
    pub private_ip: Option<String>,
    /// Public address.
    pub public_ip: Option<String>,
    /// Whether this is the primary address.
    pub is_primary: Option<bool>,
}

/// `describe-vpc-endpoints`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VpcEndpoint {
    /// `vpce-…`.
    pub vpc_endpoint_id: String,
    /// `Gateway`, `Interface`, `GatewayLoadBalancer`, …
    pub vpc_endpoint_type: Option<String>,
    /// Owner VPC.
    pub vpc_id: Option<String>,
    /// Service name.
    pub service_name: Option<String>,
    /// `available`, `pending`, …
    pub state: Option<String>,
    /// Gateway: route tables.
    #[serde(default, deserialize_with = "list")]
    pub route_table_ids: Vec<String>,
    /// Interface: subnets.
    #[serde(default, deserialize_with = "list")]
    pub subnet_ids: Vec<String>,
    /// Interface: security groups.
    #[serde(default, deserialize_with = "list")]
    pub groups: Vec<GroupRef>,
    /// Interface: ENIs.
    #[serde(default, deserialize_with = "list")]
    pub network_interface_ids: Vec<String>,
    /// Interface: DNS names.
    #[serde(default, deserialize_with = "list")]
    pub dns_entries: Vec<DnsEntry>,
    /// Interface: whether the private DNS name is enabled.
    #[serde(default)]
    pub private_dns_enabled: bool,
}

/// A security-group reference (`{"GroupId": …}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupRef {
    /// `sg-…`.
    pub group_id: Option<String>,
}

/// A DNS entry of an interface endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DnsEntry {
    /// The name.
    pub dns_name: Option<String>,
}

/// `describe-managed-prefix-lists` / `describe-prefix-lists`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PrefixList {
    /// `pl-…`.
    pub prefix_list_id: String,
    /// Name, e.g. `com.amazonaws.us-east-1.s3`.
    pub prefix_list_name: Option<String>,
    /// Its CIDRs.
    #[serde(default, deserialize_with = "list")]
    pub cidrs: Vec<String>,
}

/// `describe-network-interfaces` (also the interfaces inside `Reservations`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInterface {
    /// `eni-…`.
    pub network_interface_id: String,
    /// `interface`, `nat_gateway`, `vpc_endpoint`, `lambda`, …
    pub interface_type: Option<String>,
    /// Owner VPC.
    pub vpc_id: Option<String>,
    /// Subnet.
    pub subnet_id: Option<String>,
    /// Primary private address.
    pub private_ip_address: Option<String>,
    /// All private addresses.
    #[serde(default, deserialize_with = "list")]
    pub private_ip_addresses: Vec<PrivateIp>,
    /// IPv6 addresses.
    #[serde(default, deserialize_with = "list")]
    pub ipv6_addresses: Vec<serde_json::Value>,
    /// Security groups.
    #[serde(default, deserialize_with = "list")]
    pub groups: Vec<GroupRef>,
    /// Public address of the primary private address.
    pub association: Option<IpAssociation>,
    /// Instance attachment.
    pub attachment: Option<EniAttachment>,
    /// Description.
    pub description: Option<String>,
}

/// One private address of an ENI.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PrivateIp {
    /// The address.
    pub private_ip_address: Option<String>,
    /// Whether it is the primary one.
    #[serde(default)]
    pub primary: bool,
}

/// A public-address association.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpAssociation {
    /// The public address.
    pub public_ip: Option<String>,
}

/// An ENI attachment.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EniAttachment {
    /// The instance.
    pub instance_id: Option<String>,
    /// Device index (0: primary interface).
    pub device_index: Option<i64>,
}

/// `describe-instances`: one reservation.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Reservation {
    /// Its instances.
    #[serde(default, deserialize_with = "list")]
    pub instances: Vec<Instance>,
}

/// One instance.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Instance {
    /// `i-…`.
    pub instance_id: String,
    /// Public address of the primary interface.
    pub public_ip_address: Option<String>,
    /// Interfaces.
    #[serde(default, deserialize_with = "list")]
    pub network_interfaces: Vec<NetworkInterface>,
}

/// `describe-vpc-peering-connections`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VpcPeeringConnection {
    /// `pcx-…`.
    pub vpc_peering_connection_id: String,
    /// Requester side.
    pub requester_vpc_info: Option<PeeringVpcInfo>,
    /// Accepter side.
    pub accepter_vpc_info: Option<PeeringVpcInfo>,
    /// Status.
    pub status: Option<PeeringStatus>,
}

/// One side of a peering.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PeeringVpcInfo {
    /// The VPC.
    pub vpc_id: Option<String>,
    /// Its region.
    pub region: Option<String>,
}

/// A peering's status.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PeeringStatus {
    /// `active`, `deleted`, …
    pub code: Option<String>,
}
