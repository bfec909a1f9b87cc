//! The topology picture (pure): [`layout::layout`] places a tenant's
//! [`cove_api::topology::Topology`], [`svg::render`] draws it, and [`highlight`]
//! maps a reachability answer onto it.

pub mod layout;
pub mod svg;

use cove_api::topology::Topology;
use serde_json::Value;

pub use svg::Highlight;

/// The node key of the ENI named by `text` (its `vpc/name`, its name, its id, its
/// private IP, `fn:NAME`), or of the peer VPC a peered address belongs to.
pub fn find_endpoint(topo: &Topology, text: &str) -> Option<String> {
    let text = text.trim();
    if let Some(f) = text.strip_prefix("fn:") {
        let name = f.split_once('@').map_or(f, |(n, _)| n);
        return topo.vpcs.iter().find_map(|v| {
            v.functions
                .iter()
                .any(|x| x.name == name)
                .then(|| format!("{}/fn:{name}", v.name))
        });
    }
    for v in &topo.vpcs {
        for s in &v.subnets {
            for e in &s.enis {
                let key = format!("{}/{}", v.name, e.name);
                let by_network = v
                    .network
                    .as_ref()
                    .is_some_and(|n| text == format!("{n}/{}", e.name));
                if text == key
                    || by_network
                    || e.id.as_deref() == Some(text)
                    || e.ip.to_string() == text
                {
                    return Some(key);
                }
            }
        }
    }
    // An address of a peer: the peer's box.
    let ip: std::net::Ipv4Addr = text.parse().ok()?;
    let _ = ip;
    topo.peerings
        .iter()
        .find(|p| !p.peer_is_local && p.status == "active")
        .map(|p| format!("peer:{}", p.peer_vpc))
}

/// Where the analyzer's answer `reach` (`GET /v1/reachability`) goes on the
/// picture of `topo`, for a flow from `from` to `to` (the form's texts).
pub fn highlight(topo: &Topology, from: &str, to: &str, reach: &Value) -> Highlight {
    let src = find_endpoint(topo, from);
    let dst = find_endpoint(topo, to);
    let mut h = Highlight::default();
    let subnet_of = |key: &Option<String>| -> Option<String> {
        let key = key.as_ref()?;
        let (vpc, name) = key.split_once('/')?;
        let v = topo.vpcs.iter().find(|v| v.name == vpc)?;
        if let Some(f) = name.strip_prefix("fn:") {
            let f = v.functions.iter().find(|x| x.name == f)?;
            return f.subnets.first().map(|s| format!("{vpc}/{s}"));
        }
        v.subnets
            .iter()
            .find(|s| s.enis.iter().any(|e| e.name == name))
            .map(|s| format!("{vpc}/{}", s.name))
    };
    let verdict = &reach["verdict"];
    let side = |step: &str, direction: &str| -> Option<String> {
        let egress = matches!(
            step,
            "shared-eni" | "security-group-egress" | "network-acl-egress" | "route-table"
        );
        let at_source = egress == (direction != "return");
        let (node, subnet) = if at_source {
            (&src, subnet_of(&src))
        } else {
            (&dst, subnet_of(&dst))
        };
        if step.starts_with("network-acl") || step == "route-table" {
            subnet.or_else(|| node.clone())
        } else {
            node.clone()
        }
    };
    for hop in verdict["forward"]
        .as_array()
        .into_iter()
        .chain(verdict["return"].as_array())
        .flatten()
    {
        let (step, dir) = (
            hop["step"].as_str().unwrap_or_default(),
            hop["direction"].as_str().unwrap_or_default(),
        );
        if let Some(k) = side(step, dir) {
            h.hops.insert(k);
        }
    }
    if let Some(b) = verdict["blocked"].as_object() {
        let step = b.get("step").and_then(Value::as_str).unwrap_or_default();
        let dir = b
            .get("direction")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let reason = b.get("reason").and_then(Value::as_str).unwrap_or_default();
        let component = b
            .get("component")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(k) = side(step, dir)
            .or_else(|| dst.clone())
            .or_else(|| src.clone())
        {
            h.blocked = Some((k, format!("{component}: {reason}")));
        }
    }
    if let (Some(a), Some(b)) = (src, dst) {
        h.path = Some((a, b));
    }
    h
}
