//! The caller's flow-log records and metering (issue 14): `GET /v1/flow-logs`
//! reads the records of the caller's own VPCs' flow logs (the files `cove serve`
//! writes), filtered like `cove flows`; `GET /v1/metering` gives the month's
//! traffic its interfaces sent, per path, and its private data transfer. Another
//! tenant's flow logs are never read: a filter naming one finds nothing.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use cove_flowlog::query::{Filter, parse_line, row_json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::ApiState;
use crate::error::{ApiError, ErrorBody};
use crate::layer::Caller;

/// Records returned at most per request.
const MAX_RECORDS: usize = 10_000;

/// Which records.
#[derive(Debug, Clone, Deserialize, IntoParams)]
pub struct FlowLogsQuery {
    /// One flow log: `network/name` (the network's name or id).
    pub log: Option<String>,
    /// Records of this interface (`eni-…`, as records show it).
    pub eni: Option<String>,
    /// Records from or to this address.
    pub addr: Option<String>,
    /// `ACCEPT` or `REJECT`.
    pub action: Option<String>,
    /// Records that end at or after this Unix time.
    pub since: Option<u64>,
    /// Records that start at or before this Unix time.
    pub until: Option<u64>,
    /// At most this many (default and maximum 10,000), the newest kept.
    pub limit: Option<usize>,
}

/// Records read back.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlowLogRecords {
    /// One object per record: its flow log (`network/name`) and its fields by
    /// AWS's names.
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<serde_json::Value>,
    /// Whether older matching records were left out (the limit).
    pub truncated: bool,
}

fn unavailable() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        None,
        "this server keeps no flow logs or metering",
        "ask the `cove serve` that reconciles the deployment",
    )
}

/// The caller's flow-log records, filtered.
#[utoipa::path(get, path = "/v1/flow-logs", tag = "flow-logs", params(FlowLogsQuery),
    responses((status = 200, body = FlowLogRecords), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn flow_logs(
    State(api): State<ApiState>,
    caller: Caller,
    Query(q): Query<FlowLogsQuery>,
) -> Result<Json<FlowLogRecords>, ApiError> {
    let tenant = caller.tenant()?.clone();
    let dir = api.flow_logs.clone().ok_or_else(unavailable)?;
    let addr = q
        .addr
        .as_deref()
        .map(|a| {
            a.parse().map_err(|_| {
                ApiError::invalid(
                    "addr",
                    format!("`{a}` is not an IPv4 address"),
                    "write an address such as 10.0.1.5",
                )
            })
        })
        .transpose()?;
    if let Some(a) = q
        .action
        .as_deref()
        .filter(|a| *a != "ACCEPT" && *a != "REJECT")
    {
        return Err(ApiError::invalid(
            "action",
            format!("`{a}` is not an action"),
            "write ACCEPT or REJECT",
        ));
    }
    let limit = q.limit.unwrap_or(MAX_RECORDS).clamp(1, MAX_RECORDS);
    let filter = Filter {
        interface: q.eni.clone(),
        addr,
        action: q.action.clone(),
        since: q.since,
        until: q.until,
    };
    let cur = api.service.current().await?;
    let Some(t) = cur.state.tenants.get(&tenant).cloned() else {
        return Ok(Json(FlowLogRecords {
            records: Vec::new(),
            truncated: false,
        }));
    };
    let net =
        cove_model::validate::validate(&cove_control::desired_spec(&cur.state, &cur.specs)).network;
    // The network's name for a VPC (control-plane VPCs are named by network id).
    let names: std::collections::HashMap<String, String> = cur
        .state
        .networks
        .values()
        .map(|n| (n.id.0.clone(), n.name.clone()))
        .collect();
    let network_name = move |vpc: &str| names.get(vpc).cloned().unwrap_or_else(|| vpc.to_owned());
    let log_arg = q.log.clone();
    let found = tokio::task::spawn_blocking(
        move || -> Result<(Vec<serde_json::Value>, bool), ApiError> {
            let Some(net) = net else {
                return Ok((Vec::new(), false));
            };
            let mut out = Vec::new();
            let mut matched_log = log_arg.is_none();
            for log in &net.flow_logs {
                let vpc = &net.vpcs[log.vpc.index()];
                if net.tenants[vpc.tenant.index()].name != t.name {
                    continue;
                }
                let label = format!("{}/{}", network_name(&vpc.name), log.name);
                let by_id = format!("{}/{}", vpc.name, log.name);
                if let Some(want) = &log_arg {
                    if *want != label && *want != by_id {
                        continue;
                    }
                    matched_log = true;
                }
                if let Err(e) = filter.check(log) {
                    return Err(ApiError::invalid(
                        "log",
                        e.to_string(),
                        "choose a flow log whose format has the field, with `log`",
                    ));
                }
                let lines = cove_deploy::flowlog_files::read_lines(&dir, &net, log)
                    .map_err(|e| ApiError::internal(&e))?;
                for l in lines {
                    if let Some(row) = parse_line(log, &l).filter(|r| filter.keeps(r)) {
                        let mut v = row_json(&row);
                        v["flow_log"] = serde_json::Value::String(label.clone());
                        out.push(v);
                    }
                }
            }
            if !matched_log {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "InvalidFlowLogId.NotFound",
                    Some("log"),
                    format!(
                        "no flow log `{}` in your networks",
                        log_arg.unwrap_or_default()
                    ),
                    "name one as `network/name`; your spec's VPCs list their flow_logs",
                ));
            }
            let truncated = out.len() > limit;
            let keep = out.len().saturating_sub(limit);
            Ok((out.split_off(keep), truncated))
        },
    )
    .await
    .map_err(|e| ApiError::internal(&e))??;
    Ok(Json(FlowLogRecords {
        records: found.0,
        truncated: found.1,
    }))
}

/// The month asked.
#[derive(Debug, Clone, Deserialize, IntoParams)]
pub struct MeteringQuery {
    /// `YYYY-MM` (default: this month, UTC).
    pub month: Option<String>,
}

/// What the caller's interfaces sent in a month.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeteringView {
    /// `YYYY-MM`.
    pub month: String,
    /// Path (`intra-vpc`, `peering`, `endpoint`, `nat-gateway`,
    /// `internet-gateway`) → bytes and packets sent.
    #[schema(value_type = Object)]
    pub paths: serde_json::Value,
    /// Functions (`tenant/function`) → path → bytes and packets.
    #[schema(value_type = Object)]
    pub functions: serde_json::Value,
    /// Private data transfer (peering and endpoints), bytes.
    pub private_bytes: u64,
}

/// The caller's metering for a month.
#[utoipa::path(get, path = "/v1/metering", tag = "flow-logs", params(MeteringQuery),
    responses((status = 200, body = MeteringView), (status = "4XX", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn metering(
    State(api): State<ApiState>,
    caller: Caller,
    Query(q): Query<MeteringQuery>,
) -> Result<Json<MeteringView>, ApiError> {
    use cove_deploy::metering::{Month, load};
    let tenant = caller.tenant()?.clone();
    let dir = api.metering.clone().ok_or_else(unavailable)?;
    let month = match q.month.as_deref() {
        None => Month::now(),
        Some(m) => Month::parse(m).ok_or_else(|| {
            ApiError::invalid(
                "month",
                format!("`{m}` is not a month"),
                "write YYYY-MM, e.g. 2026-12",
            )
        })?,
    };
    let cur = api.service.current().await?;
    let name = cur
        .state
        .tenants
        .get(&tenant)
        .map(|t| t.name.clone())
        .unwrap_or_default();
    let totals = tokio::task::spawn_blocking(move || load(&dir, &month))
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let prefix = format!("{name}/");
    let functions: serde_json::Map<String, serde_json::Value> = totals
        .functions
        .iter()
        .filter(|(f, _)| f.starts_with(&prefix))
        .map(|(f, p)| (f.clone(), serde_json::to_value(p).unwrap_or_default()))
        .collect();
    Ok(Json(MeteringView {
        month: month.text(),
        paths: serde_json::to_value(totals.tenants.get(&name).cloned().unwrap_or_default())
            .unwrap_or_default(),
        functions: serde_json::Value::Object(functions),
        private_bytes: totals.private_bytes().get(&name).copied().unwrap_or(0),
    }))
}
