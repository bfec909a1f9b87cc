//! EC2's VPC peering connections, carried out by cove's own peering API
//! in-process as the signing tenant (the same checks, quotas, audit and
//! cross-account rules as `POST /v1/peerings`): create (to a VPC of any account,
//! by `PeerOwnerId`), accept, reject, delete, describe. A peering between two
//! tenants is a peering between two accounts.

use cove_api::ApiState;
use cove_api::local::{LocalIdentity, call_with_headers};
use serde_json::{Value, json};

use super::error::Ec2Error;
use super::params::Params;
use super::vpcs::{matches, page};
use super::xml::Xml;

/// Whether `action` is one of this module's.
pub fn handles(action: &str) -> bool {
    matches!(
        action,
        "CreateVpcPeeringConnection"
            | "AcceptVpcPeeringConnection"
            | "RejectVpcPeeringConnection"
            | "DeleteVpcPeeringConnection"
            | "DescribeVpcPeeringConnections"
    )
}

/// cove's API answered an error: its code (EC2's where EC2 has one), message and
/// hint.
fn refusal(status: u16, body: &[u8]) -> Ec2Error {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let e = &v["error"];
    let mut message = e["message"]
        .as_str()
        .unwrap_or("the request failed")
        .to_owned();
    if let Some(h) = e["hint"].as_str().filter(|h| !h.is_empty()) {
        message.push_str(&format!(" ({h})"));
    }
    Ec2Error {
        status: if status >= 500 { 500 } else { 400 },
        code: e["code"].as_str().unwrap_or("InternalError").to_owned(),
        message,
    }
}

async fn call(
    api: &ApiState,
    who: &LocalIdentity,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Result<Value, Ec2Error> {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    all.push(("content-type", "application/json"));
    let answer = call_with_headers(api, who, method, path, &all, bytes)
        .await
        .map_err(|e| Ec2Error {
            status: 500,
            code: "InternalError".to_owned(),
            message: e.to_string(),
        })?;
    if answer.status >= 300 {
        return Err(refusal(answer.status, &answer.body));
    }
    Ok(serde_json::from_slice(&answer.body).unwrap_or(Value::Null))
}

fn connection_xml(x: &mut Xml, p: &Value, region: &str) {
    let side = |x: &mut Xml, name: &str, end: &Value| {
        x.node(name, |x| {
            x.text("ownerId", end["account_id"].as_str().unwrap_or_default())
                .text("vpcId", end["vpc_id"].as_str().unwrap_or_default())
                .text("region", region);
        });
    };
    x.text(
        "vpcPeeringConnectionId",
        p["id"].as_str().unwrap_or_default(),
    );
    side(x, "requesterVpcInfo", &p["requester"]);
    side(x, "accepterVpcInfo", &p["accepter"]);
    let code = p["status"].as_str().unwrap_or_default();
    let message = p["status_message"].as_str().map_or_else(
        || match code {
            "pending-acceptance" => format!(
                "Pending Acceptance by {}",
                p["accepter"]["account_id"].as_str().unwrap_or_default()
            ),
            "active" => "Active".to_owned(),
            "provisioning" => "Provisioning".to_owned(),
            other => other.to_owned(),
        },
        str::to_owned,
    );
    x.node("status", |x| {
        x.text("code", code).text("message", &message);
    });
    super::tags::tag_set(x, &tags_of(p));
}

/// The viewer's own tags of a connection (cove's view).
fn tags_of(p: &Value) -> super::tags::Tags {
    serde_json::from_value(p["tags"].clone()).unwrap_or_default()
}

fn connection_id(p: &Params) -> Result<String, Ec2Error> {
    let id = p.required("VpcPeeringConnectionId")?;
    if !id.starts_with("pcx-") {
        return Err(Ec2Error::new(
            "InvalidVpcPeeringConnectionId.Malformed",
            format!("Invalid id: \"{id}\" (expecting \"pcx-...\")"),
        ));
    }
    Ok(id.to_owned())
}

/// Carries out a peering action for `who`; `dry_run` checks the parameters and
/// answers `DryRunOperation` without changing anything.
pub async fn run(
    api: &ApiState,
    who: &LocalIdentity,
    region: &str,
    p: &Params,
    dry_run: bool,
) -> Result<Xml, Ec2Error> {
    let action = p.required("Action")?;
    let mut x = Xml::default();
    match action {
        "CreateVpcPeeringConnection" => {
            let vpc = p.required("VpcId")?;
            let peer = p.required("PeerVpcId")?;
            if let Some(r) = p.get("PeerRegion").filter(|r| *r != region) {
                return Err(Ec2Error::invalid_parameter(format!(
                    "Value ({r}) for parameter peerRegion is invalid. cove peers VPCs of one region ({region})."
                )));
            }
            let tags = super::tags::specified(p, "vpc-peering-connection")?;
            if dry_run {
                return Err(Ec2Error::dry_run());
            }
            let mut body = json!({ "vpc_id": vpc, "peer_vpc_id": peer });
            if !tags.is_empty() {
                body["tags"] = json!(tags);
            }
            if let Some(owner) = p.get("PeerOwnerId") {
                body["peer_owner_id"] = json!(owner);
            }
            let made = call(api, who, "POST", "/v1/peerings", &[], Some(body)).await?;
            x.node("vpcPeeringConnection", |x| connection_xml(x, &made, region));
        }
        "AcceptVpcPeeringConnection" => {
            let id = connection_id(p)?;
            if dry_run {
                call(api, who, "GET", &format!("/v1/peerings/{id}"), &[], None).await?;
                return Err(Ec2Error::dry_run());
            }
            let done = call(
                api,
                who,
                "POST",
                &format!("/v1/peerings/{id}/accept"),
                &[],
                None,
            )
            .await?;
            x.node("vpcPeeringConnection", |x| connection_xml(x, &done, region));
        }
        "RejectVpcPeeringConnection" | "DeleteVpcPeeringConnection" => {
            let id = connection_id(p)?;
            if dry_run {
                call(api, who, "GET", &format!("/v1/peerings/{id}"), &[], None).await?;
                return Err(Ec2Error::dry_run());
            }
            let (method, path) = if action == "RejectVpcPeeringConnection" {
                ("POST", format!("/v1/peerings/{id}/reject"))
            } else {
                ("DELETE", format!("/v1/peerings/{id}"))
            };
            call(api, who, method, &path, &[], None).await?;
            x.text("return", "true");
        }
        _ => {
            let all = call(api, who, "GET", "/v1/peerings", &[], None).await?;
            let list: Vec<Value> = all.as_array().cloned().unwrap_or_default();
            let ids = p.list("VpcPeeringConnectionId");
            for id in &ids {
                if !list.iter().any(|c| c["id"].as_str() == Some(id)) {
                    return Err(Ec2Error::new(
                        "InvalidVpcPeeringConnectionID.NotFound",
                        format!("The vpcPeeringConnection ID '{id}' does not exist"),
                    ));
                }
            }
            let filters = p.filters()?;
            let known = [
                "vpc-peering-connection-id",
                "status-code",
                "requester-vpc-info.vpc-id",
                "requester-vpc-info.owner-id",
                "accepter-vpc-info.vpc-id",
                "accepter-vpc-info.owner-id",
            ];
            let mut found = Vec::new();
            for c in &list {
                let id = c["id"].as_str().unwrap_or_default().to_owned();
                if !ids.is_empty() && !ids.contains(&id) {
                    continue;
                }
                let text = |v: &Value| vec![v.as_str().unwrap_or_default().to_owned()];
                let tags = tags_of(c);
                let ok = matches(&filters, &known, |name| match name {
                    n if super::tags::tag_filter(n, &tags).is_some() => {
                        super::tags::tag_filter(n, &tags).unwrap_or_default()
                    }
                    "vpc-peering-connection-id" => vec![id.clone()],
                    "status-code" => text(&c["status"]),
                    "requester-vpc-info.vpc-id" => text(&c["requester"]["vpc_id"]),
                    "requester-vpc-info.owner-id" => text(&c["requester"]["account_id"]),
                    "accepter-vpc-info.vpc-id" => text(&c["accepter"]["vpc_id"]),
                    "accepter-vpc-info.owner-id" => text(&c["accepter"]["account_id"]),
                    _ => Vec::new(),
                })?;
                if ok {
                    found.push(c);
                }
            }
            let (items, next) = page(&found, p.max_results(5, 1000)?, p.get("NextToken"))?;
            x.set("vpcPeeringConnectionSet", &items, |x, c| {
                connection_xml(x, c, region);
            });
            if let Some(n) = next {
                x.text("nextToken", &n);
            }
            if dry_run {
                return Err(Ec2Error::dry_run());
            }
        }
    }
    Ok(x)
}
