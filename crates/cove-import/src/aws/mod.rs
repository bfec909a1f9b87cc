//! Serde types for the AWS `describe-*` JSON exports: only the fields the importer
//! reads. Unknown fields are ignored; `null` lists read as empty lists.
//!
//! This module holds the VPC-level objects (VPCs, subnets, route tables, security
//! groups, ACLs); [`attached`] holds gateways, endpoints, interfaces and peerings.

mod attached;

pub use attached::*;

use serde::{Deserialize, Deserializer};

/// Reads a list that may be missing or `null` as an empty list.
pub(crate) fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// A `State` wrapper (`{"State": "associated"}`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateField {
    /// The state.
    pub state: Option<String>,
}

/// `describe-vpcs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Vpc {
    /// `vpc-…`.
    pub vpc_id: String,
    /// Primary IPv4 CIDR.
    pub cidr_block: Option<String>,
    /// All IPv4 CIDR associations (the primary one included).
    #[serde(default, deserialize_with = "list")]
    pub cidr_block_association_set: Vec<CidrAssociation>,
    /// IPv6 CIDR associations.
    #[serde(default, deserialize_with = "list")]
    pub ipv6_cidr_block_association_set: Vec<Ipv6CidrAssociation>,
    /// Owning account.
    pub owner_id: Option<String>,
}

/// One IPv4 CIDR association of a VPC.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CidrAssociation {
    /// `vpc-cidr-assoc-…`.
    pub association_id: Option<String>,
    /// The CIDR.
    pub cidr_block: Option<String>,
    /// Its state (`associated`, `disassociated`, …).
    #[serde(default)]
    pub cidr_block_state: StateField,
}

/// One IPv6 CIDR association (VPC or subnet).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipv6CidrAssociation {
    /// The IPv6 CIDR.
    pub ipv6_cidr_block: Option<String>,
}

/// `describe-subnets`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Subnet {
    /// `subnet-…`.
    pub subnet_id: String,
    /// Owner VPC.
    pub vpc_id: Option<String>,
    /// IPv4 CIDR.
    pub cidr_block: Option<String>,
    /// Availability zone.
    pub availability_zone: Option<String>,
    /// IPv6 CIDR associations.
    #[serde(default, deserialize_with = "list")]
    pub ipv6_cidr_block_association_set: Vec<Ipv6CidrAssociation>,
}

/// `describe-route-tables`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RouteTable {
    /// `rtb-…`.
    pub route_table_id: String,
    /// Owner VPC.
    pub vpc_id: Option<String>,
    /// Subnet and main associations.
    #[serde(default, deserialize_with = "list")]
    pub associations: Vec<RouteTableAssociation>,
    /// Routes, local ones included.
    #[serde(default, deserialize_with = "list")]
    pub routes: Vec<Route>,
    /// Virtual private gateways that propagate routes into the table.
    #[serde(default, deserialize_with = "list")]
    pub propagating_vgws: Vec<PropagatingVgw>,
}

/// A route-table association.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RouteTableAssociation {
    /// Whether this is the main association.
    #[serde(default)]
    pub main: bool,
    /// The associated subnet.
    pub subnet_id: Option<String>,
    /// An associated gateway (edge association).
    pub gateway_id: Option<String>,
    /// `rtbassoc-…`.
    pub route_table_association_id: Option<String>,
    /// Association state.
    pub association_state: Option<StateField>,
}

/// A gateway propagating routes.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PropagatingVgw {
    /// `vgw-…`.
    pub gateway_id: Option<String>,
}

/// One route.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Route {
    /// IPv4 destination.
    pub destination_cidr_block: Option<String>,
    /// IPv6 destination.
    pub destination_ipv6_cidr_block: Option<String>,
    /// Prefix-list destination.
    pub destination_prefix_list_id: Option<String>,
    /// `local`, `igw-…`, `vgw-…`, `vpce-…`.
    pub gateway_id: Option<String>,
    /// NAT gateway target.
    pub nat_gateway_id: Option<String>,
    /// Peering target.
    pub vpc_peering_connection_id: Option<String>,
    /// Transit gateway target.
    pub transit_gateway_id: Option<String>,
    /// Network interface target.
    pub network_interface_id: Option<String>,
    /// Instance target.
    pub instance_id: Option<String>,
    /// Egress-only internet gateway target (IPv6).
    pub egress_only_internet_gateway_id: Option<String>,
    /// Carrier gateway target.
    pub carrier_gateway_id: Option<String>,
    /// Local gateway target.
    pub local_gateway_id: Option<String>,
    /// Core network target.
    pub core_network_arn: Option<String>,
    /// `active` or `blackhole`.
    pub state: Option<String>,
    /// `CreateRouteTable`, `CreateRoute` or `EnableVgwRoutePropagation`.
    pub origin: Option<String>,
}

/// `describe-security-groups`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityGroup {
    /// `sg-…`.
    pub group_id: String,
    /// Group name (may contain spaces).
    pub group_name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Owner VPC.
    pub vpc_id: Option<String>,
    /// Inbound permissions.
    #[serde(default, deserialize_with = "list")]
    pub ip_permissions: Vec<IpPermission>,
    /// Outbound permissions.
    #[serde(default, deserialize_with = "list")]
    pub ip_permissions_egress: Vec<IpPermission>,
}

/// One permission: a protocol/port set and its peers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpPermission {
    /// `-1`, `tcp`, `udp`, `icmp`, `icmpv6` or a number.
    pub ip_protocol: Option<String>,
    /// First port (or ICMP type).
    pub from_port: Option<i64>,
    /// Last port (or ICMP code).
    pub to_port: Option<i64>,
    /// IPv4 peers.
    #[serde(default, deserialize_with = "list")]
    pub ip_ranges: Vec<IpRange>,
    /// IPv6 peers.
    #[serde(default, deserialize_with = "list")]
    pub ipv6_ranges: Vec<Ipv6Range>,
    /// Prefix-list peers.
    #[serde(default, deserialize_with = "list")]
    pub prefix_list_ids: Vec<PrefixListRef>,
    /// Security-group peers.
    #[serde(default, deserialize_with = "list")]
    pub user_id_group_pairs: Vec<GroupPair>,
}

/// An IPv4 peer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpRange {
    /// The CIDR.
    pub cidr_ip: Option<String>,
    /// Description.
    pub description: Option<String>,
}

/// An IPv6 peer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipv6Range {
    /// The CIDR.
    pub cidr_ipv6: Option<String>,
}

/// A prefix-list peer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PrefixListRef {
    /// `pl-…`.
    pub prefix_list_id: Option<String>,
    /// Description.
    pub description: Option<String>,
}

/// A security-group peer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupPair {
    /// `sg-…`.
    pub group_id: Option<String>,
    /// Description.
    pub description: Option<String>,
}

/// `describe-network-acls`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkAcl {
    /// `acl-…`.
    pub network_acl_id: String,
    /// Owner VPC.
    pub vpc_id: Option<String>,
    /// Whether this is the VPC's default ACL.
    #[serde(default)]
    pub is_default: bool,
    /// Subnet associations.
    #[serde(default, deserialize_with = "list")]
    pub associations: Vec<AclAssociation>,
    /// Entries of both directions.
    #[serde(default, deserialize_with = "list")]
    pub entries: Vec<AclEntry>,
}

/// A network-ACL association.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AclAssociation {
    /// The subnet.
    pub subnet_id: Option<String>,
}

/// A network-ACL entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AclEntry {
    /// Rule number.
    pub rule_number: Option<i64>,
    /// Outbound when true.
    #[serde(default)]
    pub egress: bool,
    /// `-1` or a protocol number.
    pub protocol: Option<String>,
    /// `allow` or `deny`.
    pub rule_action: Option<String>,
    /// IPv4 CIDR.
    pub cidr_block: Option<String>,
    /// IPv6 CIDR.
    pub ipv6_cidr_block: Option<String>,
    /// Ports (tcp, udp).
    pub port_range: Option<PortRange>,
    /// ICMP type and code.
    pub icmp_type_code: Option<IcmpTypeCode>,
}

/// A port range of an ACL entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortRange {
    /// First port.
    pub from: Option<i64>,
    /// Last port.
    pub to: Option<i64>,
}

/// ICMP type and code of an ACL entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IcmpTypeCode {
    /// Type (`-1`: all).
    #[serde(rename = "Type")]
    pub kind: Option<i64>,
    /// Code (`-1`: all).
    pub code: Option<i64>,
}
