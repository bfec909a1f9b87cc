//! Flow logs (issue 14), checked as EC2 checks `CreateFlowLogs`: the resource
//! exists in the VPC, the traffic type and aggregation interval are ones AWS
//! accepts (plus cove's 1 s for tests), the format names known fields.

use std::collections::BTreeSet;

use super::scope::Scopes;
use super::{Ctx, Path, parse};
use crate::diag::ErrorCode;
use crate::flowlog::{
    DEFAULT_FORMAT, FileFormat, FlowLog, FlowLogScope, TrafficType, parse_format,
};
use crate::model::VpcId;
use crate::spec::{FlowLogSpec, Scalar, Spec};

/// The default size at which a flow log's file is rotated (MiB).
const DEFAULT_FILE_MB: u64 = 100;

/// The largest rotation size accepted (MiB).
const MAX_FILE_MB: u64 = 10_240;

/// Pass (after addresses: ENIs are known): every VPC's flow logs.
pub(crate) fn flow_logs(cx: &mut Ctx, spec: &Spec, sc: &Scopes) {
    for (vi, scope) in sc.vpcs.iter().enumerate() {
        let vid = VpcId(super::scope::next_id(vi));
        let Some(v) = spec
            .tenants
            .get(scope.tenant_index)
            .and_then(|t| t.vpcs.get(scope.vpc_index))
        else {
            continue;
        };
        let mut names = BTreeSet::new();
        for (fi, f) in v.flow_logs.iter().enumerate() {
            let path = scope.path.item("flow_logs", &f.name, fi);
            if !parse::name(cx, &path, &f.name) {
                continue;
            }
            if !names.insert(f.name.clone()) {
                cx.error(
                    ErrorCode::DuplicateName,
                    &path.key("name"),
                    format!("VPC `{}` has two flow logs named `{}`", v.name, f.name),
                    "give each flow log of a VPC a unique name",
                );
                continue;
            }
            if let Some(log) = flow_log(cx, sc, vid, &path, f) {
                cx.net.flow_logs.push(log);
            }
        }
    }
}

/// One flow log, or `None` after reporting what is wrong with it.
fn flow_log(
    cx: &mut Ctx,
    sc: &Scopes,
    vpc: VpcId,
    path: &Path,
    f: &FlowLogSpec,
) -> Option<FlowLog> {
    let scope = resource(cx, sc, vpc, path, f);
    let traffic = match f.traffic_type.as_deref().map(str::trim) {
        None | Some("ALL") => Some(TrafficType::All),
        Some("ACCEPT") => Some(TrafficType::Accept),
        Some("REJECT") => Some(TrafficType::Reject),
        Some(other) => {
            cx.error(
                ErrorCode::InvalidParameterValue,
                &path.key("traffic_type"),
                format!("traffic type `{other}` is not one flow logs record"),
                "write ACCEPT, REJECT or ALL",
            );
            None
        }
    };
    let interval_s = match f
        .max_aggregation_interval
        .as_ref()
        .map(Scalar::text)
        .as_deref()
    {
        None => Some(600),
        Some("1") => Some(1),
        Some("60") => Some(60),
        Some("600") => Some(600),
        Some(other) => {
            cx.error(
                ErrorCode::InvalidParameterValue,
                &path.key("max_aggregation_interval"),
                format!("an aggregation interval of `{other}` seconds is not supported"),
                "write 60 or 600 (AWS's), or 1 (for tests)",
            );
            None
        }
    };
    let format = f.log_format.as_deref().unwrap_or(DEFAULT_FORMAT);
    let fields = match parse_format(format) {
        Ok(fields) => Some(fields),
        Err(e) => {
            cx.error(
                ErrorCode::InvalidParameterValue,
                &path.key("log_format"),
                format!("log format: {e}"),
                "write fields as ${name} separated by spaces, e.g. `${srcaddr} ${dstaddr} ${action}` (names as in AWS's flow-log records, or cove-rule, cove-reason, cove-nat-srcaddr, cove-nat-dstaddr, cove-function, cove-invocation-id)",
            );
            None
        }
    };
    let file_format = match f.file_format.as_deref().map(str::trim) {
        None | Some("text") => Some(FileFormat::Text),
        Some("json") => Some(FileFormat::Json),
        Some(other) => {
            cx.error(
                ErrorCode::InvalidParameterValue,
                &path.key("file_format"),
                format!("file format `{other}` is not one cove writes"),
                "write text (AWS's) or json (one object per line)",
            );
            None
        }
    };
    let max_mb = match &f.max_file_mb {
        None => Some(DEFAULT_FILE_MB),
        Some(s) => match s.text().trim().parse::<u64>() {
            Ok(n) if (1..=MAX_FILE_MB).contains(&n) => Some(n),
            _ => {
                cx.error(
                    ErrorCode::InvalidParameterValue,
                    &path.key("max_file_mb"),
                    format!(
                        "`{}` is not a size between 1 and {MAX_FILE_MB} MiB",
                        s.text()
                    ),
                    "write a whole number of MiB, 1 to 10240",
                );
                None
            }
        },
    };
    Some(FlowLog {
        vpc,
        name: f.name.clone(),
        scope: scope?,
        traffic: traffic?,
        interval_s: interval_s?,
        fields: fields?,
        file_format: file_format?,
        max_file_bytes: max_mb? << 20,
    })
}

/// What the flow log captures: the VPC, a subnet or an ENI of it.
fn resource(
    cx: &mut Ctx,
    sc: &Scopes,
    vpc: VpcId,
    path: &Path,
    f: &FlowLogSpec,
) -> Option<FlowLogScope> {
    match (&f.subnet, &f.eni) {
        (None, None) => Some(FlowLogScope::Vpc),
        (Some(_), Some(_)) => {
            cx.error(
                ErrorCode::InvalidParameterCombination,
                path,
                "a flow log captures a VPC, a subnet or an ENI: both `subnet` and `eni` are given",
                "keep one of them (or neither, for the whole VPC)",
            );
            None
        }
        (Some(s), None) => {
            let found = sc.vpcs[vpc.index()].subnets.get(s.trim());
            if found.is_none() {
                cx.error(
                    ErrorCode::InvalidSubnetIdNotFound,
                    &path.key("subnet"),
                    format!("VPC {} has no subnet `{s}`", cx.net.vpc_path(vpc)),
                    "name a subnet of the flow log's VPC",
                );
            }
            found.map(FlowLogScope::Subnet)
        }
        (None, Some(e)) => {
            let found = cx.net.vpcs[vpc.index()].enis.iter().copied().find(|id| {
                let eni = &cx.net.enis[id.index()];
                eni.name == e.trim() || eni.aws_id.as_deref() == Some(e.trim())
            });
            if found.is_none() {
                cx.error(
                    ErrorCode::InvalidNetworkInterfaceIdNotFound,
                    &path.key("eni"),
                    format!("VPC {} has no ENI `{e}`", cx.net.vpc_path(vpc)),
                    "name an ENI of the flow log's VPC",
                );
            }
            found.map(FlowLogScope::Eni)
        }
    }
}
