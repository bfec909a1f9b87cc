//! EC2's flow logs over a tenant's desired spec (pure): `CreateFlowLogs` for VPCs,
//! subnets and network interfaces, `DescribeFlowLogs`, `DeleteFlowLogs`. The
//! records go where cove's flow logs go (the deployment's file, `GET
//! /v1/flow-logs`, `cove flows`); a CloudWatch or S3 destination is accepted and
//! recorded as that.

use cove_model::ids::resource_id;
use cove_model::spec::{FlowLogSpec, Scalar, TenantSpec};

use super::error::Ec2Error;
use super::interfaces::eni_id;
use super::params::Params;
use super::route_tables::vpc_view;
use super::view::VpcView;
use super::vpcs::{Ctx, Done, matches, page, spec_vpc, spec_vpc_or_add};
use super::xml::Xml;

/// A flow log's id.
fn flow_log_id(tenant: &str, vpc: &str, name: &str) -> String {
    resource_id("fl", None, &format!("{tenant}/{vpc}/{name}"))
}

/// What a resource id names: its VPC, and the spec's `subnet` / `eni` field.
fn target<'a>(
    ctx: &'a Ctx<'_>,
    kind: &str,
    id: &str,
) -> Result<(&'a VpcView, Option<String>, Option<String>), Ec2Error> {
    match kind {
        "VPC" => {
            let v = super::vpcs::find_vpc(ctx, id)?;
            Ok((v, None, None))
        }
        "Subnet" => {
            let s = ctx
                .view
                .subnets
                .iter()
                .find(|s| s.id == id)
                .ok_or_else(|| Ec2Error::not_found("InvalidSubnetID.NotFound", "subnet", id))?;
            let v = super::vpcs::find_vpc(ctx, &s.vpc_id)?;
            Ok((v, Some(s.name.clone()), None))
        }
        "NetworkInterface" => {
            let net = ctx.net;
            let (_, e) = net
                .enis
                .iter()
                .enumerate()
                .find(|(i, e)| vpc_view(ctx, e.vpc).is_some() && eni_id(net, *i) == id)
                .ok_or_else(|| {
                    Ec2Error::not_found(
                        "InvalidNetworkInterfaceID.NotFound",
                        "network interface",
                        id,
                    )
                })?;
            let v = vpc_view(ctx, e.vpc).ok_or_else(|| {
                Ec2Error::not_found(
                    "InvalidNetworkInterfaceID.NotFound",
                    "network interface",
                    id,
                )
            })?;
            Ok((v, None, Some(e.name.clone())))
        }
        other => Err(Ec2Error::invalid_parameter(format!(
            "Value ({other}) for parameter resourceType is invalid: VPC, Subnet or NetworkInterface."
        ))),
    }
}

/// `CreateFlowLogs`: one flow log per resource; the ids made, and the resources
/// refused with their error (as EC2 answers `unsuccessful`).
pub fn create(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let kind = p.required("ResourceType")?;
    let ids = p.list("ResourceId");
    if ids.is_empty() {
        return Err(Ec2Error::missing("ResourceId"));
    }
    let traffic = match p.get("TrafficType") {
        None => None,
        Some(t @ ("ACCEPT" | "REJECT" | "ALL")) => Some(t.to_owned()),
        Some(t) => {
            return Err(Ec2Error::invalid_parameter(format!(
                "Value ({t}) for parameter trafficType is invalid: ACCEPT, REJECT or ALL."
            )));
        }
    };
    let interval = match p.get("MaxAggregationInterval") {
        None => None,
        Some(v @ ("60" | "600")) => v.parse::<i64>().ok(),
        Some(v) => {
            return Err(Ec2Error::invalid_parameter(format!(
                "Value ({v}) for parameter maxAggregationInterval is invalid: 60 or 600."
            )));
        }
    };
    let tags = super::tags::specified(p, "vpc-flow-log")?;
    let mut spec: TenantSpec = ctx.spec.clone();
    let mut made = Vec::new();
    let mut refused = Vec::new();
    for id in &ids {
        match target(ctx, kind, id) {
            Ok((vpc, subnet, eni)) => {
                let name = (ctx.new_name)();
                let at = spec_vpc_or_add(ctx, &mut spec, vpc);
                spec.vpcs[at].flow_logs.push(FlowLogSpec {
                    name: name.clone(),
                    subnet,
                    eni,
                    traffic_type: traffic.clone(),
                    max_aggregation_interval: interval.map(Scalar::Int),
                    log_format: p.get("LogFormat").map(str::to_owned),
                    tags: tags.clone(),
                    ..FlowLogSpec::default()
                });
                made.push(flow_log_id(ctx.tenant, &vpc.name, &name));
            }
            Err(e) => refused.push((id.clone(), e)),
        }
    }
    let mut x = Xml::default();
    x.set("flowLogIdSet", &made, |x, id| {
        x.value(id);
    });
    x.set("unsuccessful", &refused, |x, (id, e)| {
        x.node("error", |x| {
            x.text("code", &e.code).text("message", &e.message);
        })
        .text("resourceId", id);
    });
    if made.is_empty() {
        // Nothing to store: every resource was refused.
        return Ok(Done::Read(x));
    }
    Ok(Done::Write(x, Box::new(spec)))
}

/// The tenant's flow logs: (id, VPC view, spec VPC index, flow log index).
fn all<'a>(ctx: &'a Ctx<'_>) -> Vec<(String, &'a VpcView, usize, usize)> {
    let mut out = Vec::new();
    for v in &ctx.view.vpcs {
        let Some(at) = spec_vpc(ctx, v) else {
            continue;
        };
        for (i, f) in ctx.spec.vpcs[at].flow_logs.iter().enumerate() {
            out.push((flow_log_id(ctx.tenant, &v.name, &f.name), v, at, i));
        }
    }
    out
}

/// Every tag of the tenant's flow logs, by id (`DescribeTags`).
pub(crate) fn all_tags(ctx: &Ctx<'_>) -> Vec<(String, super::tags::Tags)> {
    all(ctx)
        .into_iter()
        .map(|(id, _, at, i)| (id, ctx.spec.vpcs[at].flow_logs[i].tags.clone()))
        .collect()
}

/// The spec's tag map of the tenant's flow log `id`.
pub(crate) fn tags_mut<'s>(
    ctx: &Ctx<'_>,
    spec: &'s mut TenantSpec,
    id: &str,
) -> Result<&'s mut super::tags::Tags, Ec2Error> {
    let (_, _, at, i) = all(ctx)
        .into_iter()
        .find(|(x, ..)| x == id)
        .ok_or_else(|| {
            Ec2Error::new(
                "InvalidFlowLogId.NotFound",
                format!("The flow log ID '{id}' does not exist"),
            )
        })?;
    Ok(&mut spec.vpcs[at].flow_logs[i].tags)
}

/// `DescribeFlowLogs`.
pub fn describe(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let ids = p.list("FlowLogId");
    let filters = p.filters()?;
    let known = [
        "flow-log-id",
        "resource-id",
        "traffic-type",
        "log-destination-type",
    ];
    let mut found = Vec::new();
    for (id, v, at, i) in all(ctx) {
        if !ids.is_empty() && !ids.contains(&id) {
            continue;
        }
        let f = &ctx.spec.vpcs[at].flow_logs[i];
        let resource = match (&f.subnet, &f.eni) {
            (Some(s), _) => ctx
                .view
                .subnets
                .iter()
                .find(|x| x.vpc_id == v.id && &x.name == s)
                .map_or_else(String::new, |x| x.id.clone()),
            (None, Some(e)) => ctx
                .net
                .enis
                .iter()
                .enumerate()
                .find(|(_, x)| &x.name == e && vpc_view(ctx, x.vpc).is_some_and(|y| y.id == v.id))
                .map_or_else(String::new, |(k, _)| eni_id(ctx.net, k)),
            (None, None) => v.id.clone(),
        };
        let traffic = f.traffic_type.clone().unwrap_or_else(|| "ALL".to_owned());
        let tags = &f.tags;
        let ok = matches(&filters, &known, |name| match name {
            n if super::tags::tag_filter(n, tags).is_some() => {
                super::tags::tag_filter(n, tags).unwrap_or_default()
            }
            "flow-log-id" => vec![id.clone()],
            "resource-id" => vec![resource.clone()],
            "traffic-type" => vec![traffic.clone()],
            _ => vec!["cove".to_owned()],
        })?;
        if ok {
            found.push((id, resource, traffic, at, i));
        }
    }
    let (items, next) = page(&found, p.max_results(1, 1000)?, p.get("NextToken"))?;
    let mut x = Xml::default();
    x.set("flowLogSet", &items, |x, (id, resource, traffic, at, i)| {
        let f = &ctx.spec.vpcs[*at].flow_logs[*i];
        let interval = f
            .max_aggregation_interval
            .as_ref()
            .map_or_else(|| "600".to_owned(), Scalar::text);
        x.text("flowLogId", id)
            .text("flowLogStatus", "ACTIVE")
            .text("deliverLogsStatus", "SUCCESS")
            .text("resourceId", resource)
            .text("trafficType", traffic)
            .text("logDestinationType", "cove")
            .text("logGroupName", &format!("cove/{}", f.name))
            .text("maxAggregationInterval", &interval);
        if let Some(fmt) = &f.log_format {
            x.text("logFormat", fmt);
        }
        super::tags::tag_set(x, &f.tags);
    });
    if let Some(n) = next {
        x.text("nextToken", &n);
    }
    Ok(Done::Read(x))
}

/// `DeleteFlowLogs`: the ids it could not delete are answered as `unsuccessful`.
pub fn delete(ctx: &Ctx<'_>, p: &Params) -> Result<Done, Ec2Error> {
    let ids = p.list("FlowLogId");
    if ids.is_empty() {
        return Err(Ec2Error::missing("FlowLogId"));
    }
    let logs = all(ctx);
    let mut spec = ctx.spec.clone();
    let mut unsuccessful = Vec::new();
    for id in &ids {
        match logs.iter().find(|(x, ..)| x == id) {
            Some((_, _, at, i)) => {
                let name = ctx.spec.vpcs[*at].flow_logs[*i].name.clone();
                spec.vpcs[*at].flow_logs.retain(|f| f.name != name);
            }
            None => unsuccessful.push(id.clone()),
        }
    }
    let mut x = Xml::default();
    x.set("unsuccessful", &unsuccessful, |x, id| {
        x.node("error", |x| {
            x.text("code", "InvalidFlowLogId.NotFound")
                .text("message", &format!("The flow log '{id}' does not exist"));
        })
        .text("resourceId", id);
    });
    Ok(Done::Write(x, Box::new(spec)))
}
