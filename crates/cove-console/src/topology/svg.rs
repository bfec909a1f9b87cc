//! The placed picture as SVG text (pure): one `<g>` per node with its `<title>`
//! (tooltip and screen-reader text), lines for peerings and functions, and the
//! path of a reachability check drawn over it.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::layout::{Layout, Node, NodeKind};

/// What to draw over the picture: a checked flow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Highlight {
    /// The flow's source and destination (node keys).
    pub path: Option<(String, String)>,
    /// Nodes a hop went through.
    pub hops: BTreeSet<String>,
    /// The node where the flow is blocked, and why.
    pub blocked: Option<(String, String)>,
}

/// Escapes text for SVG/XML.
pub fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&#39;"),
            c => s.push(c),
        }
    }
    s
}

/// `text` cut to `max` characters (with `…`).
fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// Characters that fit in `w` pixels at the picture's font size.
fn chars_in(w: u32) -> usize {
    usize::try_from(w.saturating_sub(16) / 7).unwrap_or(0)
}

fn node(out: &mut String, n: &Node, h: &Highlight) {
    let mut class = n.kind.class().to_owned();
    if h.hops.contains(&n.key) {
        class.push_str(" hop");
    }
    if h.path
        .as_ref()
        .is_some_and(|(a, b)| *a == n.key || *b == n.key)
    {
        class.push_str(" end");
    }
    let blocked = h.blocked.as_ref().filter(|(k, _)| *k == n.key);
    if blocked.is_some() {
        class.push_str(" blocked");
    }
    let r = n.rect;
    let _ = write!(
        out,
        r#"<g class="{class}" data-key="{}"><title>{}</title><rect x="{}" y="{}" width="{}" height="{}" rx="6"/>"#,
        escape(&n.key),
        escape(&match blocked {
            Some((_, why)) => format!("{} — blocked here: {why}", n.title),
            None => n.title.clone(),
        }),
        r.x,
        r.y,
        r.w,
        r.h
    );
    let max = chars_in(r.w);
    let (ly, sy) = match n.kind {
        NodeKind::Vpc | NodeKind::Subnet => (r.y + 16, r.y + 31),
        _ => (r.y + 15, r.y + 29),
    };
    let _ = write!(
        out,
        r#"<text x="{}" y="{ly}" class="label">{}</text><text x="{}" y="{sy}" class="sub">{}</text>"#,
        r.x + 8,
        escape(&fit(&n.label, max)),
        r.x + 8,
        escape(&fit(&n.sub, max))
    );
    if blocked.is_some() {
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" class="mark" aria-hidden="true">✕</text>"#,
            r.x + r.w - 16,
            r.y + 16
        );
    }
    out.push_str("</g>\n");
}

/// The picture as an SVG document; `caption` is its accessible name.
pub fn render(l: &Layout, h: &Highlight, caption: &str) -> String {
    let mut out = String::with_capacity(256 + l.nodes.len() * 420);
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="topology" role="img" aria-labelledby="topology-title" viewBox="0 0 {w} {hgt}" width="{w}" height="{hgt}"><title id="topology-title">{}</title>"#,
        escape(caption),
        w = l.width,
        hgt = l.height
    );
    out.push_str("\n<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0 0L10 5L0 10z\"/></marker></defs>\n");
    // Containers first, then lines, then the boxes on top.
    for n in l
        .nodes
        .iter()
        .filter(|n| matches!(n.kind, NodeKind::Vpc | NodeKind::Subnet))
    {
        node(&mut out, n, h);
    }
    for e in &l.edges {
        let (Some(a), Some(b)) = (l.node(&e.from), l.node(&e.to)) else {
            continue;
        };
        let d = if e.class.starts_with("peering") {
            // From the top of one box to the top of the other, arching above.
            let (ax, bx) = (a.rect.centre().0, b.rect.centre().0);
            let (ay, by) = (
                a.rect.y,
                b.rect.y
                    + if b.kind == NodeKind::Peer {
                        b.rect.h
                    } else {
                        0
                    },
            );
            let top = ay.min(by).saturating_sub(24).max(4);
            format!("M{ax} {ay} C{ax} {top} {bx} {top} {bx} {by}")
        } else {
            let (ax, ay) = (a.rect.centre().0, a.rect.y);
            let (bx, by) = (b.rect.centre().0, b.rect.y + b.rect.h);
            format!("M{ax} {ay} L{bx} {by}")
        };
        let _ = writeln!(
            out,
            "<path class=\"edge {}\" d=\"{d}\"><title>{}</title></path>",
            e.class,
            escape(&e.label)
        );
        if !e.label.is_empty() {
            let (ax, bx) = (a.rect.centre().0, b.rect.centre().0);
            let ty = a.rect.y.min(b.rect.y).saturating_sub(8).max(12);
            let _ = writeln!(
                out,
                "<text class=\"edge-label\" x=\"{}\" y=\"{ty}\">{}</text>",
                ax.min(bx) + ax.abs_diff(bx) / 2,
                escape(&e.label)
            );
        }
    }
    for n in l
        .nodes
        .iter()
        .filter(|n| !matches!(n.kind, NodeKind::Vpc | NodeKind::Subnet))
    {
        node(&mut out, n, h);
    }
    if let Some((a, b)) = &h.path {
        if let (Some(a), Some(b)) = (l.node(a), l.node(b)) {
            let ((ax, ay), (bx, by)) = (a.rect.centre(), b.rect.centre());
            let class = if h.blocked.is_some() {
                "flow blocked"
            } else {
                "flow"
            };
            let _ = writeln!(
                out,
                "<path class=\"{class}\" d=\"M{ax} {ay} L{bx} {by}\" marker-end=\"url(#arrow)\"/>"
            );
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::layout::layout;
    use cove_api::topology::{
        Topology, TopologyEndpoint, TopologyEni, TopologyFunction, TopologyNat, TopologyPeering,
        TopologySubnet, TopologyVpc,
    };

    fn eni(name: &str, ip: [u8; 4], kind: &str) -> TopologyEni {
        TopologyEni {
            name: name.into(),
            id: None,
            ip: ip.into(),
            public_ip: None,
            kind: kind.into(),
            security_groups: vec!["default".into()],
        }
    }

    /// A Secure Compute network peered with another tenant's database VPC.
    fn small() -> Topology {
        Topology {
            tenant: "acme".into(),
            vpcs: vec![TopologyVpc {
                name: "net-1".into(),
                network: Some("prod".into()),
                vpc_id: Some("vpc-01".into()),
                cidrs: vec!["10.20.0.0/16".into()],
                internet_gateway: true,
                subnets: vec![
                    TopologySubnet {
                        name: "public-a".into(),
                        cidr: "10.20.0.0/24".into(),
                        az: "us-east-1a".into(),
                        route_table: "public".into(),
                        network_acl: "default".into(),
                        public: true,
                        enis: vec![eni("nat-a-public-a", [10, 20, 0, 5], "nat")],
                    },
                    TopologySubnet {
                        name: "private-a".into(),
                        cidr: "10.20.1.0/24".into(),
                        az: "us-east-1a".into(),
                        route_table: "private-a".into(),
                        network_acl: "default".into(),
                        public: false,
                        enis: vec![
                            eni("web", [10, 20, 1, 10], "eni"),
                            eni("<script>", [10, 20, 1, 11], "eni"),
                            eni("s3-private-a", [10, 20, 1, 20], "endpoint"),
                        ],
                    },
                ],
                nat_gateways: vec![TopologyNat {
                    name: "nat-a".into(),
                    subnet: "public-a".into(),
                    connectivity: "public".into(),
                    public_ips: vec![[203, 0, 113, 10].into()],
                    partner: None,
                    carried_by: None,
                }],
                endpoints: vec![TopologyEndpoint {
                    name: "s3".into(),
                    id: None,
                    service: "com.amazonaws.us-east-1.s3".into(),
                    kind: "interface".into(),
                }],
                functions: vec![TopologyFunction {
                    name: "api".into(),
                    runtime: "python3.11".into(),
                    subnets: vec!["private-a".into()],
                }],
            }],
            peerings: vec![TopologyPeering {
                id: "pcx-0a".into(),
                status: "active".into(),
                local_vpc: "net-1".into(),
                peer_vpc: "vpc-0db".into(),
                peer_is_local: false,
                peer_account: Some("222222222222".into()),
            }],
        }
    }

    #[test]
    fn golden_small_topology() {
        let svg = render(&layout(&small()), &Highlight::default(), "acme's network");
        insta::assert_snapshot!(svg);
    }

    #[test]
    fn golden_blocked_flow() {
        let h = Highlight {
            path: Some(("net-1/web".into(), "peer:vpc-0db".into())),
            hops: ["net-1/web".to_owned(), "net-1/private-a".to_owned()].into(),
            blocked: Some((
                "net-1/web".into(),
                "security group default allows no egress to 10.30.0.5:5432".into(),
            )),
        };
        let svg = render(&layout(&small()), &h, "acme's network");
        assert!(svg.contains(r#"class="eni hop end blocked""#), "{svg}");
        assert!(svg.contains(r#"class="flow blocked""#));
        insta::assert_snapshot!(svg);
    }

    #[test]
    fn names_are_escaped() {
        let svg = render(&layout(&small()), &Highlight::default(), "a <b>");
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("a &lt;b&gt;"));
    }

    #[test]
    fn long_labels_fit_their_box() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
        // An ENI box holds at least a full IPv4 address and a 20-character name.
        assert!(chars_in(crate::topology::layout::NODE_W) >= 21);
    }
}
