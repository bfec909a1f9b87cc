//! The topology picture of the tenant's networks.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cove_api::topology::Topology;

use super::{Chrome, Signed, refusal_page, render};
use crate::Console;
use crate::topology::{Highlight, layout::layout, svg::render as svg};

#[derive(Template)]
#[template(path = "topology.html")]
struct Page {
    c: Chrome,
    summary: String,
    svg: String,
    text: Vec<(String, Vec<String>)>,
}

/// The picture's words for a screen reader and for search: per VPC, a line per
/// subnet, ENI, NAT gateway, endpoint, function and peering.
pub fn as_text(t: &Topology) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for v in &t.vpcs {
        let mut lines = Vec::new();
        for s in &v.subnets {
            lines.push(format!(
                "subnet {} {} in {} ({}), {} ENI(s): {}",
                s.name,
                s.cidr,
                s.az,
                if s.public { "public" } else { "private" },
                s.enis.len(),
                s.enis
                    .iter()
                    .map(|e| format!("{} {}", e.name, e.ip))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for n in &v.nat_gateways {
            lines.push(format!(
                "NAT gateway {} in {}: {}{}",
                n.name,
                n.subnet,
                n.public_ips
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                n.carried_by
                    .as_ref()
                    .map(|c| format!(" (carried by {c})"))
                    .unwrap_or_default()
            ));
        }
        for e in &v.endpoints {
            lines.push(format!("{} endpoint {} for {}", e.kind, e.name, e.service));
        }
        for f in &v.functions {
            lines.push(format!(
                "function {} ({}) in {}",
                f.name,
                f.runtime,
                f.subnets.join(", ")
            ));
        }
        for p in t.peerings.iter().filter(|p| p.local_vpc == v.name) {
            lines.push(format!(
                "peering {} with {} ({})",
                p.id, p.peer_vpc, p.status
            ));
        }
        let title = match &v.network {
            Some(n) => format!("{n} ({}) {}", v.name, v.cidrs.join(", ")),
            None => format!("{} {}", v.name, v.cidrs.join(", ")),
        };
        out.push((title, lines));
    }
    out
}

/// The page.
pub async fn show(State(c): State<Console>, s: Signed) -> Response {
    let t: Topology = match s.client(&c).get("/v1/topology").await {
        Ok(t) => t,
        Err(r) => return refusal_page(&c, &s, &r),
    };
    let enis: usize = t
        .vpcs
        .iter()
        .flat_map(|v| &v.subnets)
        .map(|s| s.enis.len())
        .sum();
    let summary = format!(
        "{} VPC(s), {} subnet(s), {enis} ENI(s), {} function(s), {} peering(s).",
        t.vpcs.len(),
        t.vpcs.iter().map(|v| v.subnets.len()).sum::<usize>(),
        t.vpcs.iter().map(|v| v.functions.len()).sum::<usize>(),
        t.peerings.len()
    );
    let caption = format!("The networks of {}: {summary}", t.tenant);
    render(
        StatusCode::OK,
        &Page {
            c: s.chrome("topology", "Topology"),
            summary,
            svg: svg(&layout(&t), &Highlight::default(), &caption),
            text: as_text(&t),
        },
    )
}
