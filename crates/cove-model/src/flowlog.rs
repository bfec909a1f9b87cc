//! Flow logs (issue 14), as VPC Flow Logs define them: what a flow log captures
//! (a VPC, a subnet or one ENI), which traffic (accepted, rejected or all), over
//! which aggregation interval, and the fields of its records — AWS's default
//! (version 2) format or a custom one with the version 3–5 fields, plus the
//! fields cove adds (the deciding rule, the addresses after NAT, the function and
//! invocation a flow came from).

use serde::Serialize;

use crate::model::{EniId, SubnetId, VpcId};

/// A field of a flow-log record, in AWS's names (`${srcaddr}`) and cove's own
/// (`${cove-rule}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Field {
    /// `version`: the highest version among the format's fields.
    Version,
    /// `account-id`: the owner of the interface (the tenant's account).
    AccountId,
    /// `interface-id`: the ENI.
    InterfaceId,
    /// `srcaddr`: the source address of the flow (at the interface).
    SrcAddr,
    /// `dstaddr`.
    DstAddr,
    /// `srcport`.
    SrcPort,
    /// `dstport`.
    DstPort,
    /// `protocol`: the IANA number.
    Protocol,
    /// `packets` in the window.
    Packets,
    /// `bytes` in the window.
    Bytes,
    /// `start`: the window's first packet (Unix seconds).
    Start,
    /// `end`: the window's last packet.
    End,
    /// `action`: `ACCEPT` or `REJECT`.
    Action,
    /// `log-status`: `OK`, `NODATA` or `SKIPDATA`.
    LogStatus,
    /// `vpc-id` (v3).
    VpcId,
    /// `subnet-id` (v3).
    SubnetId,
    /// `instance-id` (v3): none for an ENI without an instance.
    InstanceId,
    /// `tcp-flags` (v3): the OR of the flags seen (SYN 2, FIN 1, RST 4, SYN-ACK 18).
    TcpFlags,
    /// `type` (v3): `IPv4`.
    Type,
    /// `pkt-srcaddr` (v3): the packet's source before any translation.
    PktSrcAddr,
    /// `pkt-dstaddr` (v3).
    PktDstAddr,
    /// `region` (v4).
    Region,
    /// `az-id` (v4).
    AzId,
    /// `sublocation-type` (v4): none here.
    SublocationType,
    /// `sublocation-id` (v4): none here.
    SublocationId,
    /// `pkt-src-aws-service` (v5).
    PktSrcAwsService,
    /// `pkt-dst-aws-service` (v5).
    PktDstAwsService,
    /// `flow-direction` (v5): `ingress` or `egress` at the interface.
    FlowDirection,
    /// `traffic-path` (v5): how egress traffic left (1 within the VPC, 2 internet
    /// gateway, 3 VPC endpoint, 5 peering, 8 NAT gateway…).
    TrafficPath,
    /// `cove-rule`: the rule that accepted or rejected the flow.
    CoveRule,
    /// `cove-reason`: why, in words.
    CoveReason,
    /// `cove-nat-srcaddr`: the source address after NAT (a NAT gateway's or the
    /// internet gateway's public address).
    CoveNatSrcAddr,
    /// `cove-nat-dstaddr`: the destination address after NAT.
    CoveNatDstAddr,
    /// `cove-function`: the function (`tenant/function`) whose environment sent
    /// the flow.
    CoveFunction,
    /// `cove-invocation-id`: the invocation running when the flow started.
    CoveInvocationId,
}

/// Every field with its name and the format version it came with (cove's own
/// fields count as version 5, the highest).
pub const FIELDS: [(Field, &str, u8); 35] = [
    (Field::Version, "version", 2),
    (Field::AccountId, "account-id", 2),
    (Field::InterfaceId, "interface-id", 2),
    (Field::SrcAddr, "srcaddr", 2),
    (Field::DstAddr, "dstaddr", 2),
    (Field::SrcPort, "srcport", 2),
    (Field::DstPort, "dstport", 2),
    (Field::Protocol, "protocol", 2),
    (Field::Packets, "packets", 2),
    (Field::Bytes, "bytes", 2),
    (Field::Start, "start", 2),
    (Field::End, "end", 2),
    (Field::Action, "action", 2),
    (Field::LogStatus, "log-status", 2),
    (Field::VpcId, "vpc-id", 3),
    (Field::SubnetId, "subnet-id", 3),
    (Field::InstanceId, "instance-id", 3),
    (Field::TcpFlags, "tcp-flags", 3),
    (Field::Type, "type", 3),
    (Field::PktSrcAddr, "pkt-srcaddr", 3),
    (Field::PktDstAddr, "pkt-dstaddr", 3),
    (Field::Region, "region", 4),
    (Field::AzId, "az-id", 4),
    (Field::SublocationType, "sublocation-type", 4),
    (Field::SublocationId, "sublocation-id", 4),
    (Field::PktSrcAwsService, "pkt-src-aws-service", 5),
    (Field::PktDstAwsService, "pkt-dst-aws-service", 5),
    (Field::FlowDirection, "flow-direction", 5),
    (Field::TrafficPath, "traffic-path", 5),
    (Field::CoveRule, "cove-rule", 5),
    (Field::CoveReason, "cove-reason", 5),
    (Field::CoveNatSrcAddr, "cove-nat-srcaddr", 5),
    (Field::CoveNatDstAddr, "cove-nat-dstaddr", 5),
    (Field::CoveFunction, "cove-function", 5),
    (Field::CoveInvocationId, "cove-invocation-id", 5),
];

impl Field {
    /// Its name in a format (`srcaddr`).
    pub fn name(self) -> &'static str {
        FIELDS
            .iter()
            .find(|(f, _, _)| *f == self)
            .map_or("", |(_, n, _)| n)
    }

    /// The format version it came with.
    pub fn version(self) -> u8 {
        FIELDS
            .iter()
            .find(|(f, _, _)| *f == self)
            .map_or(2, |(_, _, v)| *v)
    }

    /// The field named `name`.
    pub fn from_name(name: &str) -> Option<Field> {
        FIELDS
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(f, _, _)| *f)
    }
}

/// AWS's default format (version 2).
pub const DEFAULT_FORMAT: &str = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}";

/// Why a format does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// No field at all.
    #[error("the format names no field")]
    Empty,
    /// Text that is not a `${field}`.
    #[error("`{0}` is not a field: write each field as ${{name}}, separated by spaces")]
    NotAField(String),
    /// Names no field exists with (AWS: "Unknown fields provided").
    #[error("Unknown fields provided: {}", .0.join(", "))]
    Unknown(Vec<String>),
    /// A field written twice.
    #[error("the field `{0}` appears twice")]
    Twice(String),
}

/// The fields of `format` (`${a} ${b} …`), in order.
pub fn parse_format(format: &str) -> Result<Vec<Field>, FormatError> {
    let mut fields = Vec::new();
    let mut unknown = Vec::new();
    for token in format.split_whitespace() {
        let Some(name) = token
            .strip_prefix("${")
            .and_then(|t| t.strip_suffix('}'))
            .filter(|n| {
                n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
        else {
            return Err(FormatError::NotAField(token.to_owned()));
        };
        match Field::from_name(name) {
            Some(f) if fields.contains(&f) => return Err(FormatError::Twice(name.to_owned())),
            Some(f) => fields.push(f),
            None => unknown.push(name.to_owned()),
        }
    }
    if !unknown.is_empty() {
        return Err(FormatError::Unknown(unknown));
    }
    if fields.is_empty() {
        return Err(FormatError::Empty);
    }
    Ok(fields)
}

/// What a flow log captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "id")]
pub enum FlowLogScope {
    /// Every ENI of the VPC.
    Vpc,
    /// Every ENI of one subnet.
    Subnet(SubnetId),
    /// One ENI.
    Eni(EniId),
}

/// Which traffic a flow log records (AWS's `TrafficType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TrafficType {
    /// Accepted flows only.
    #[serde(rename = "ACCEPT")]
    Accept,
    /// Rejected packets only.
    #[serde(rename = "REJECT")]
    Reject,
    /// Both.
    #[serde(rename = "ALL")]
    All,
}

/// How records are written to the flow log's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    /// AWS's text: the format's fields separated by spaces, `-` for none.
    Text,
    /// One JSON object per line, keyed by field name.
    Json,
}

/// A flow log of a VPC.
#[derive(Debug, Clone, Serialize)]
pub struct FlowLog {
    /// The VPC.
    pub vpc: VpcId,
    /// Name, unique within the VPC.
    pub name: String,
    /// What it captures.
    pub scope: FlowLogScope,
    /// Which traffic.
    pub traffic: TrafficType,
    /// Seconds one record covers at most: 60 or 600 (AWS), or 1 (tests).
    pub interval_s: u32,
    /// The fields of each record.
    pub fields: Vec<Field>,
    /// The file's format.
    pub file_format: FileFormat,
    /// The size at which its file is rotated (one older file is kept).
    pub max_file_bytes: u64,
}

impl FlowLog {
    /// The version its records carry: the highest of its fields'.
    pub fn version(&self) -> u8 {
        self.fields.iter().map(|f| f.version()).max().unwrap_or(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_format_is_version_2_and_every_name_round_trips() {
        let fields = parse_format(DEFAULT_FORMAT).expect("default");
        assert_eq!(fields.len(), 14);
        assert!(fields.iter().all(|f| f.version() == 2));
        for (f, name, _) in FIELDS {
            assert_eq!(Field::from_name(name), Some(f));
            assert_eq!(f.name(), name);
        }
    }

    #[test]
    fn bad_formats_say_what_is_wrong() {
        assert_eq!(
            parse_format("${srcaddr} ${nope} ${bogus}"),
            Err(FormatError::Unknown(vec!["nope".into(), "bogus".into()]))
        );
        assert_eq!(
            parse_format("${srcaddr},${dstaddr}"),
            Err(FormatError::NotAField("${srcaddr},${dstaddr}".into()))
        );
        assert_eq!(
            parse_format("${srcaddr} ${srcaddr}"),
            Err(FormatError::Twice("srcaddr".into()))
        );
        assert_eq!(parse_format("  "), Err(FormatError::Empty));
        assert_eq!(
            parse_format("${vpc-id} ${flow-direction} ${cove-rule}")
                .expect("custom")
                .iter()
                .map(|f| f.version())
                .max(),
            Some(5)
        );
    }
}
