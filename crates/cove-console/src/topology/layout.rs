//! Where everything of a [`Topology`] goes on the page (pure, deterministic): VPCs
//! side by side, each with its subnets stacked and their ENIs on a grid, its
//! functions below, and the peers outside the tenant in a row above. Every node is a
//! box that overlaps no other, so the picture stays readable however many ENIs
//! there are (the page scrolls).

use cove_api::topology::{Topology, TopologyEni};

/// An ENI box's width.
pub const NODE_W: u32 = 168;
/// An ENI box's height.
pub const NODE_H: u32 = 36;
/// Gap between boxes.
pub const GAP: u32 = 10;
/// ENI columns in a subnet.
pub const COLUMNS: u32 = 4;
/// Padding inside a box.
pub const PAD: u32 = 12;
/// A header line's height.
pub const HEADER: u32 = 38;
/// Space between VPCs.
pub const VPC_GAP: u32 = 48;
/// The row of peers outside the tenant.
pub const PEER_ROW: u32 = 70;

/// A rectangle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left.
    pub x: u32,
    /// Top.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

impl Rect {
    /// Whether the two share any point inside.
    pub fn overlaps(&self, o: &Rect) -> bool {
        self.x < o.x + o.w && o.x < self.x + self.w && self.y < o.y + o.h && o.y < self.y + self.h
    }

    /// Whether `o` lies inside.
    pub fn contains(&self, o: &Rect) -> bool {
        o.x >= self.x
            && o.y >= self.y
            && o.x + o.w <= self.x + self.w
            && o.y + o.h <= self.y + self.h
    }

    /// The centre.
    pub fn centre(&self) -> (u32, u32) {
        (self.x + self.w / 2, self.y + self.h / 2)
    }
}

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A VPC.
    Vpc,
    /// A subnet.
    Subnet,
    /// A user's ENI.
    Eni,
    /// An interface endpoint's ENI.
    Endpoint,
    /// A NAT gateway's ENI.
    Nat,
    /// A shared function ENI.
    Shared,
    /// A PrivateLink front.
    Front,
    /// A function.
    Function,
    /// Another tenant's VPC (only its id).
    Peer,
}

impl NodeKind {
    /// The CSS class.
    pub fn class(self) -> &'static str {
        match self {
            NodeKind::Vpc => "vpc",
            NodeKind::Subnet => "subnet",
            NodeKind::Eni => "eni",
            NodeKind::Endpoint => "endpoint",
            NodeKind::Nat => "nat",
            NodeKind::Shared => "shared",
            NodeKind::Front => "front",
            NodeKind::Function => "function",
            NodeKind::Peer => "peer",
        }
    }

    fn of_eni(e: &TopologyEni) -> NodeKind {
        match e.kind.as_str() {
            "endpoint" => NodeKind::Endpoint,
            "nat" => NodeKind::Nat,
            "shared" => NodeKind::Shared,
            "front" => NodeKind::Front,
            _ => NodeKind::Eni,
        }
    }
}

/// A placed node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// `vpc`, `vpc/subnet`, `vpc/eni`, `vpc/fn:name`, or `peer:vpc-…`.
    pub key: String,
    /// What it is.
    pub kind: NodeKind,
    /// Where.
    pub rect: Rect,
    /// First line.
    pub label: String,
    /// Second line (address, CIDR, …).
    pub sub: String,
    /// Everything about it (the tooltip and the screen reader's text).
    pub title: String,
}

/// A line between two nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// From (a node's key).
    pub from: String,
    /// To (a node's key).
    pub to: String,
    /// `peering`, `peering-pending` or `function`.
    pub class: &'static str,
    /// Its words (a peering's id and status).
    pub label: String,
}

/// The placed picture.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Nodes, containers before what they contain.
    pub nodes: Vec<Node>,
    /// Lines.
    pub edges: Vec<Edge>,
}

impl Layout {
    /// The node of `key`.
    pub fn node(&self, key: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.key == key)
    }
}

fn vpc_label(v: &cove_api::topology::TopologyVpc) -> String {
    match &v.network {
        Some(n) => format!("{n} ({})", v.name),
        None => v.name.clone(),
    }
}

/// Lays `topo` out.
pub fn layout(topo: &Topology) -> Layout {
    let mut out = Layout::default();
    let inner_w = COLUMNS * NODE_W + (COLUMNS - 1) * GAP;
    let subnet_w = inner_w + 2 * PAD;
    let vpc_w = subnet_w + 2 * PAD;
    let peers: Vec<&cove_api::topology::TopologyPeering> =
        topo.peerings.iter().filter(|p| !p.peer_is_local).collect();
    let top = if peers.is_empty() {
        GAP
    } else {
        PEER_ROW + GAP
    };
    let mut x = GAP;
    let mut max_h = 0;
    for v in &topo.vpcs {
        let vpc_top = top;
        let mut y = vpc_top + HEADER + PAD;
        let mut children = Vec::new();
        for s in &v.subnets {
            let rows = u32::try_from(s.enis.len())
                .unwrap_or(u32::MAX)
                .div_ceil(COLUMNS)
                .max(1);
            let h = HEADER + rows * NODE_H + (rows - 1) * GAP + PAD;
            let sx = x + PAD;
            children.push(Node {
                key: format!("{}/{}", v.name, s.name),
                kind: NodeKind::Subnet,
                rect: Rect {
                    x: sx,
                    y,
                    w: subnet_w,
                    h,
                },
                label: format!(
                    "{} · {}",
                    s.name,
                    if s.public { "public" } else { "private" }
                ),
                sub: format!("{} · {}", s.cidr, s.az),
                title: format!(
                    "subnet {} {} in {} ({}), route table {}, network ACL {}",
                    s.name,
                    s.cidr,
                    s.az,
                    if s.public { "public" } else { "private" },
                    s.route_table,
                    s.network_acl
                ),
            });
            for (i, e) in s.enis.iter().enumerate() {
                let i = u32::try_from(i).unwrap_or(u32::MAX);
                let (col, row) = (i % COLUMNS, i / COLUMNS);
                let kind = NodeKind::of_eni(e);
                // A NAT gateway's ENI is named `nat:<gateway>` (or `<gateway>-<subnet>`).
                let nat = v.nat_gateways.iter().find(|n| {
                    let name = e.name.strip_prefix("nat:").unwrap_or(&e.name);
                    kind == NodeKind::Nat
                        && (name == n.name || name.starts_with(&format!("{}-", n.name)))
                });
                let label = match nat {
                    Some(n) => format!("NAT {}", n.name),
                    None => e.name.clone(),
                };
                let sub = match (nat, e.public_ip) {
                    (Some(n), _) if !n.public_ips.is_empty() => n
                        .public_ips
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    (_, Some(p)) => format!("{} · {p}", e.ip),
                    _ => e.ip.to_string(),
                };
                let mut title = format!("{} {} {}", kind.class(), e.name, e.ip);
                if let Some(id) = &e.id {
                    title.push_str(&format!(" ({id})"));
                }
                if !e.security_groups.is_empty() {
                    title.push_str(&format!(
                        ", security groups {}",
                        e.security_groups.join(", ")
                    ));
                }
                if let Some(n) = nat {
                    if let Some(c) = &n.carried_by {
                        title.push_str(&format!(", its static IP is carried by {c}"));
                    }
                }
                children.push(Node {
                    key: format!("{}/{}", v.name, e.name),
                    kind,
                    rect: Rect {
                        x: sx + PAD + col * (NODE_W + GAP),
                        y: y + HEADER + row * (NODE_H + GAP),
                        w: NODE_W,
                        h: NODE_H,
                    },
                    label,
                    sub,
                    title,
                });
            }
            y += h + GAP;
        }
        // Functions: a row of boxes under the subnets, each tied to its subnets.
        if !v.functions.is_empty() {
            let rows = u32::try_from(v.functions.len())
                .unwrap_or(u32::MAX)
                .div_ceil(COLUMNS);
            y += GAP;
            for (i, f) in v.functions.iter().enumerate() {
                let i = u32::try_from(i).unwrap_or(u32::MAX);
                let (col, row) = (i % COLUMNS, i / COLUMNS);
                let key = format!("{}/fn:{}", v.name, f.name);
                children.push(Node {
                    key: key.clone(),
                    kind: NodeKind::Function,
                    rect: Rect {
                        x: x + 2 * PAD + col * (NODE_W + GAP),
                        y: y + row * (NODE_H + GAP),
                        w: NODE_W,
                        h: NODE_H,
                    },
                    label: format!("λ {}", f.name),
                    sub: f.runtime.clone(),
                    title: format!(
                        "function {} ({}) in subnets {}",
                        f.name,
                        f.runtime,
                        f.subnets.join(", ")
                    ),
                });
                for s in &f.subnets {
                    out.edges.push(Edge {
                        from: key.clone(),
                        to: format!("{}/{s}", v.name),
                        class: "function",
                        label: String::new(),
                    });
                }
            }
            y += rows * NODE_H + (rows - 1) * GAP + GAP;
        }
        let h = y + PAD - vpc_top;
        let mut extras = Vec::new();
        if v.internet_gateway {
            extras.push("internet gateway".to_owned());
        }
        for e in v.endpoints.iter().filter(|e| e.kind == "gateway") {
            extras.push(format!("gateway endpoint {}", e.name));
        }
        out.nodes.push(Node {
            key: v.name.clone(),
            kind: NodeKind::Vpc,
            rect: Rect {
                x,
                y: vpc_top,
                w: vpc_w,
                h,
            },
            label: vpc_label(v),
            sub: [v.cidrs.join(", ")]
                .into_iter()
                .chain(extras.iter().cloned())
                .collect::<Vec<_>>()
                .join(" · "),
            title: format!(
                "VPC {}{} {}",
                vpc_label(v),
                v.vpc_id
                    .as_ref()
                    .map(|i| format!(" {i}"))
                    .unwrap_or_default(),
                v.cidrs.join(", ")
            ),
        });
        out.nodes.extend(children);
        max_h = max_h.max(h);
        x += vpc_w + VPC_GAP;
    }
    // Peers outside the tenant: a row above, one box per VPC id.
    let mut px = GAP;
    for p in &peers {
        let key = format!("peer:{}", p.peer_vpc);
        if out.node(&key).is_none() {
            out.nodes.push(Node {
                key: key.clone(),
                kind: NodeKind::Peer,
                rect: Rect {
                    x: px,
                    y: GAP,
                    w: NODE_W + 40,
                    h: NODE_H + 8,
                },
                label: p.peer_vpc.clone(),
                sub: p
                    .peer_account
                    .as_ref()
                    .map(|a| format!("account {a}"))
                    .unwrap_or_default(),
                title: format!(
                    "peer VPC {}{}",
                    p.peer_vpc,
                    p.peer_account
                        .as_ref()
                        .map(|a| format!(" of account {a}"))
                        .unwrap_or_default()
                ),
            });
            px += NODE_W + 40 + GAP * 3;
        }
    }
    for p in &topo.peerings {
        let to = if p.peer_is_local {
            p.peer_vpc.clone()
        } else {
            format!("peer:{}", p.peer_vpc)
        };
        // A peering between two of the tenant's VPCs is drawn once.
        let seen = out
            .edges
            .iter()
            .any(|e| e.class.starts_with("peering") && e.from == to && e.to == p.local_vpc);
        if seen {
            continue;
        }
        out.edges.push(Edge {
            from: p.local_vpc.clone(),
            to,
            class: if p.status == "active" {
                "peering"
            } else {
                "peering-pending"
            },
            label: format!("{} {}", p.id, p.status),
        });
    }
    out.width = (x.saturating_sub(VPC_GAP) + GAP).max(px + GAP).max(320);
    out.height = top + max_h + GAP + 40;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cove_api::topology::{TopologyPeering, TopologySubnet, TopologyVpc};

    pub(crate) fn many(enis: usize, vpcs: usize) -> Topology {
        let mut t = Topology {
            tenant: "a".into(),
            ..Topology::default()
        };
        for v in 0..vpcs {
            let per_subnet = enis / vpcs / 4;
            t.vpcs.push(TopologyVpc {
                name: format!("vpc{v}"),
                cidrs: vec![format!("10.{v}.0.0/16")],
                subnets: (0..4)
                    .map(|s| TopologySubnet {
                        name: format!("s{s}"),
                        cidr: format!("10.{v}.{s}.0/24"),
                        az: "us-east-1a".into(),
                        enis: (0..per_subnet)
                            .map(|i| TopologyEni {
                                name: format!("eni-{s}-{i}"),
                                id: None,
                                ip: std::net::Ipv4Addr::new(10, 0, 0, 1),
                                public_ip: None,
                                kind: "eni".into(),
                                security_groups: vec![],
                            })
                            .collect(),
                        ..TopologySubnet::default()
                    })
                    .collect(),
                ..TopologyVpc::default()
            });
        }
        t.peerings.push(TopologyPeering {
            id: "pcx-1".into(),
            status: "active".into(),
            local_vpc: "vpc0".into(),
            peer_vpc: "vpc-0abc".into(),
            peer_is_local: false,
            peer_account: Some("111111111111".into()),
        });
        t
    }

    #[test]
    fn no_two_boxes_overlap_unless_one_holds_the_other() {
        for (enis, vpcs) in [(0, 1), (50, 1), (52, 2), (1000, 4)] {
            let l = layout(&many(enis, vpcs));
            let leaves: Vec<&Node> = l
                .nodes
                .iter()
                .filter(|n| !matches!(n.kind, NodeKind::Vpc | NodeKind::Subnet))
                .collect();
            assert_eq!(
                leaves.iter().filter(|n| n.kind == NodeKind::Eni).count(),
                enis / vpcs / 4 * vpcs * 4
            );
            for (i, a) in leaves.iter().enumerate() {
                for b in &leaves[i + 1..] {
                    assert!(!a.rect.overlaps(&b.rect), "{} overlaps {}", a.key, b.key);
                }
                assert!(a.rect.x + a.rect.w <= l.width && a.rect.y + a.rect.h <= l.height);
            }
            // Every ENI lies inside its subnet, every subnet inside its VPC.
            for n in &l.nodes {
                let parent = match n.kind {
                    NodeKind::Eni => n.key.rsplit_once('/').map(|(v, e)| {
                        let s = e.split('-').nth(1).unwrap_or_default();
                        format!("{v}/s{s}")
                    }),
                    NodeKind::Subnet => n.key.split_once('/').map(|(v, _)| v.to_owned()),
                    _ => None,
                };
                if let Some(p) = parent {
                    let p = l.node(&p).expect("parent placed");
                    assert!(p.rect.contains(&n.rect), "{} outside {}", n.key, p.key);
                }
            }
        }
    }

    #[test]
    fn a_peer_of_another_tenant_is_a_box_above_with_its_vpc_id_only() {
        let l = layout(&many(8, 1));
        let peer = l.node("peer:vpc-0abc").expect("peer box");
        let vpc = l.node("vpc0").expect("vpc box");
        assert!(peer.rect.y + peer.rect.h < vpc.rect.y);
        assert_eq!(l.edges.len(), 1);
        assert_eq!(l.edges[0].class, "peering");
    }
}
