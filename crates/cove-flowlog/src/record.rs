//! Flow-log records and their two renderings: AWS's text (the flow log's fields
//! separated by spaces, `-` where a field has no value) and JSON lines.

use std::net::{Ipv4Addr, SocketAddrV4};

use cove_model::flowlog::{Field, FlowLog};
use cove_model::{EniId, FunctionId, Network};

use crate::ct::Counts;
use crate::directory::Direction;

/// What happened to the traffic of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Let through.
    Accept,
    /// Dropped.
    Reject,
}

impl Action {
    /// `ACCEPT` or `REJECT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "ACCEPT",
            Action::Reject => "REJECT",
        }
    }
}

/// One record: a flow at one interface over one capture window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The flow log (index in [`Network::flow_logs`]).
    pub log: usize,
    /// The interface.
    pub eni: EniId,
    /// The function whose environment it was.
    pub function: Option<FunctionId>,
    /// The invocation running when the flow started.
    pub invocation: Option<String>,
    /// Arriving or leaving.
    pub direction: Direction,
    /// IP protocol.
    pub proto: u8,
    /// Source (as the interface saw it).
    pub src: SocketAddrV4,
    /// Destination.
    pub dst: SocketAddrV4,
    /// Source before translation.
    pub pkt_src: Ipv4Addr,
    /// Destination before translation.
    pub pkt_dst: Ipv4Addr,
    /// Source after translation.
    pub nat_src: Option<Ipv4Addr>,
    /// Destination after translation.
    pub nat_dst: Option<Ipv4Addr>,
    /// Packets and bytes in the window.
    pub counts: Counts,
    /// First packet of the window (Unix s).
    pub start_s: u64,
    /// Last packet of the window (Unix s).
    pub end_s: u64,
    /// Accepted or rejected.
    pub action: Action,
    /// TCP flags seen (OR).
    pub tcp_flags: u8,
    /// AWS's traffic path (egress).
    pub traffic_path: Option<u8>,
    /// The rule that decided.
    pub rule: Option<String>,
    /// Why, in words.
    pub reason: Option<String>,
}

pub use cove_model::ids::resource_id;

/// The id of ENI `e` as records name it.
pub fn eni_id(net: &Network, e: EniId) -> String {
    let eni = &net.enis[e.index()];
    resource_id(
        "eni",
        eni.aws_id.as_deref(),
        &format!("{}/{}", net.vpc_path(eni.vpc), eni.name),
    )
}

/// A field's value in a record (`None`: the field has none here, `-`).
fn value(net: &Network, log: &FlowLog, r: &Record, f: Field) -> Option<String> {
    let eni = &net.enis[r.eni.index()];
    let vpc = &net.vpcs[eni.vpc.index()];
    let subnet = &net.subnets[eni.subnet.index()];
    let ports = matches!(r.proto, 6 | 17 | 132);
    let n = |v: u64| Some(v.to_string());
    match f {
        Field::Version => Some(log.version().to_string()),
        Field::AccountId => Some(cove_model::ids::account_id(net, vpc.tenant)),
        Field::InterfaceId => Some(eni_id(net, r.eni)),
        Field::SrcAddr => Some(r.src.ip().to_string()),
        Field::DstAddr => Some(r.dst.ip().to_string()),
        Field::SrcPort => n(if ports { u64::from(r.src.port()) } else { 0 }),
        Field::DstPort => n(if ports { u64::from(r.dst.port()) } else { 0 }),
        Field::Protocol => n(u64::from(r.proto)),
        Field::Packets => n(r.counts.packets),
        Field::Bytes => n(r.counts.bytes),
        Field::Start => n(r.start_s),
        Field::End => n(r.end_s),
        Field::Action => Some(r.action.as_str().to_owned()),
        Field::LogStatus => Some("OK".to_owned()),
        Field::VpcId => Some(resource_id(
            "vpc",
            vpc.aws_id.as_deref(),
            &net.vpc_path(eni.vpc),
        )),
        Field::SubnetId => Some(resource_id(
            "subnet",
            subnet.aws_id.as_deref(),
            &format!("{}/{}", net.vpc_path(eni.vpc), subnet.name),
        )),
        Field::InstanceId => eni.instance.clone(),
        Field::TcpFlags => (r.proto == 6).then(|| r.tcp_flags.to_string()),
        Field::Type => Some("IPv4".to_owned()),
        Field::PktSrcAddr => Some(r.pkt_src.to_string()),
        Field::PktDstAddr => Some(r.pkt_dst.to_string()),
        Field::Region => Some(cove_model::dns::vpc_region(net, eni.vpc)),
        Field::AzId => Some(subnet.az.clone()),
        Field::SublocationType
        | Field::SublocationId
        | Field::PktSrcAwsService
        | Field::PktDstAwsService => None,
        Field::FlowDirection => Some(r.direction.as_str().to_owned()),
        Field::TrafficPath => r.traffic_path.map(|p| p.to_string()),
        Field::CoveRule => r.rule.clone(),
        Field::CoveReason => r.reason.clone(),
        Field::CoveNatSrcAddr => r.nat_src.map(|a| a.to_string()),
        Field::CoveNatDstAddr => r.nat_dst.map(|a| a.to_string()),
        Field::CoveFunction => r.function.map(|f| {
            let func = &net.functions[f.index()];
            format!(
                "{}/{}",
                net.tenants[net.vpcs[func.vpc.index()].tenant.index()].name,
                func.name
            )
        }),
        Field::CoveInvocationId => r.invocation.clone(),
    }
}

/// The record in AWS's text format: `log`'s fields in order, separated by
/// spaces, `-` for a field without a value (and inside a value — cove's rule
/// and reason are words — `%` and spaces written `%25` and `%20`).
pub fn render_text(net: &Network, log: &FlowLog, r: &Record) -> String {
    log.fields
        .iter()
        .map(|f| {
            value(net, log, r, *f).map_or_else(
                || "-".to_owned(),
                |v| v.replace('%', "%25").replace(' ', "%20"),
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The record as one JSON object, keyed by field name in the format's order
/// (numbers as numbers, no
/// value as `null`).
pub fn render_json(net: &Network, log: &FlowLog, r: &Record) -> String {
    let mut map = serde_json::Map::new();
    for f in &log.fields {
        let v = match value(net, log, r, *f) {
            None => serde_json::Value::Null,
            Some(s) if numeric(*f) => s
                .parse::<u64>()
                .map_or(serde_json::Value::String(s), serde_json::Value::from),
            Some(s) => serde_json::Value::String(s),
        };
        map.insert(f.name().to_owned(), v);
    }
    serde_json::Value::Object(map).to_string()
}

fn numeric(f: Field) -> bool {
    matches!(
        f,
        Field::Version
            | Field::SrcPort
            | Field::DstPort
            | Field::Protocol
            | Field::Packets
            | Field::Bytes
            | Field::Start
            | Field::End
            | Field::TcpFlags
            | Field::TrafficPath
    )
}
