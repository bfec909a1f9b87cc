//! The typed plan: what the executor must do to turn the observed state into the
//! desired one, in an order that always works (namespaces, then links, then
//! addresses, then routes and rules, then firewall; removals first where they free
//! names or addresses).

use std::fmt;

use serde::Serialize;

use crate::state::{Address, ForeignTable, LinkSettings, NftTable, Route, Rule, VethPair};

/// Why cove's nftables table is (re)loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NftWhy {
    /// The namespace has no cove table.
    Missing,
    /// The table holds another generation (the spec changed, or the table was
    /// written by something else).
    Generation,
    /// The generation is right, but the chains or rules are not the ones cove
    /// loaded (a chain flushed, deleted or with another policy, a rule inserted,
    /// deleted or changed), or cove recorded nothing at load time.
    RulesChanged,
}

/// One kernel change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "op")]
pub enum Op {
    /// Create a namespace (bind-mounted at `/run/netns/<ns>`), bring `lo` up.
    CreateNamespace {
        /// Name.
        ns: String,
    },
    /// Delete a namespace and everything in it.
    DeleteNamespace {
        /// Name.
        ns: String,
    },
    /// Set `net.ipv4.ip_forward` in a namespace.
    SetForwarding {
        /// Namespace.
        ns: String,
        /// On or off.
        enabled: bool,
    },
    /// Move the `lookup local` rule to the end (priority
    /// [`crate::state::LOCAL_RULE_LAST`]) or back to priority 0.
    SetLocalRuleLast {
        /// Namespace.
        ns: String,
        /// At the end (`true`) or first (`false`).
        last: bool,
    },
    /// Create a veth pair, set MACs, move ends into their namespaces, set both up.
    CreateVeth {
        /// The pair.
        pair: VethPair,
    },
    /// Set the MAC address (if cove fixes one) and the MTU of an existing link.
    SetLink {
        /// Namespace.
        ns: String,
        /// Interface name.
        name: String,
        /// The settings it must have.
        settings: LinkSettings,
    },
    /// Delete a link (deleting one end of a veth deletes both).
    DeleteLink {
        /// Namespace.
        ns: String,
        /// Interface name.
        name: String,
    },
    /// Add an address.
    AddAddress {
        /// Namespace.
        ns: String,
        /// Address.
        address: Address,
    },
    /// Remove an address.
    DeleteAddress {
        /// Namespace.
        ns: String,
        /// Address.
        address: Address,
    },
    /// Add a route.
    AddRoute {
        /// Namespace.
        ns: String,
        /// Route.
        route: Route,
    },
    /// Remove a route.
    DeleteRoute {
        /// Namespace.
        ns: String,
        /// Route.
        route: Route,
    },
    /// Add a policy-routing rule.
    AddRule {
        /// Namespace.
        ns: String,
        /// Rule.
        rule: Rule,
    },
    /// Remove a policy-routing rule.
    DeleteRule {
        /// Namespace.
        ns: String,
        /// Rule.
        rule: Rule,
    },
    /// Replace cove's nftables table atomically (one `nft -f` batch: delete the old
    /// table if present, add the new one).
    ReplaceNft {
        /// Namespace.
        ns: String,
        /// The table, with its full text.
        table: NftTable,
        /// Why it is loaded.
        why: NftWhy,
    },
    /// Add and remove set and map elements of cove's table (one `nft -f` batch;
    /// the static part is unchanged).
    NftElements {
        /// Namespace.
        ns: String,
        /// Table name.
        table: String,
        /// Elements to add, by set.
        add: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        /// Elements to remove, by set.
        delete: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
    },
    /// Remove cove's nftables table.
    DeleteNft {
        /// Namespace.
        ns: String,
        /// Table name.
        name: String,
    },
    /// Remove an nftables table that is not cove's from a namespace cove owns.
    DeleteForeignNft {
        /// Namespace.
        ns: String,
        /// The table.
        table: ForeignTable,
    },
    /// Forget the connections the router tracks through 1:1 NAT bindings of public
    /// IPs that no longer exist (a public IP moved to another ENI, or its ENI's
    /// private address changed): as when AWS disassociates an address, their flows
    /// end. Without this, a still-tracked flow keeps reaching the old private
    /// address, and a protocol without ports (neither TCP, UDP nor ICMP) cannot be
    /// translated for the new owner until the old entry expires (600 s), since its
    /// translated tuple is taken.
    ForgetNatFlows {
        /// Namespace (the host router).
        ns: String,
        /// The removed bindings.
        bindings: std::collections::BTreeSet<NatBinding>,
    },
}

/// A 1:1 NAT binding of the internet gateway: a private address and its public IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct NatBinding {
    /// The private address (an ENI's, or a NAT gateway's).
    pub private: std::net::Ipv4Addr,
    /// The public IP (or Elastic IP) it is translated to.
    pub public: std::net::Ipv4Addr,
}

impl Op {
    /// The namespace the operation runs in (for a veth: where it is created).
    pub fn namespace(&self) -> &str {
        match self {
            Op::CreateNamespace { ns }
            | Op::DeleteNamespace { ns }
            | Op::SetForwarding { ns, .. }
            | Op::SetLocalRuleLast { ns, .. }
            | Op::DeleteLink { ns, .. }
            | Op::AddAddress { ns, .. }
            | Op::DeleteAddress { ns, .. }
            | Op::AddRoute { ns, .. }
            | Op::DeleteRoute { ns, .. }
            | Op::AddRule { ns, .. }
            | Op::DeleteRule { ns, .. }
            | Op::ReplaceNft { ns, .. }
            | Op::NftElements { ns, .. }
            | Op::DeleteNft { ns, .. }
            | Op::SetLink { ns, .. }
            | Op::DeleteForeignNft { ns, .. }
            | Op::ForgetNatFlows { ns, .. } => ns,
            Op::CreateVeth { pair } => &pair.a.ns,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::CreateNamespace { ns } => write!(f, "+ netns {ns}"),
            Op::DeleteNamespace { ns } => write!(f, "- netns {ns}"),
            Op::SetForwarding { ns, enabled } => {
                write!(f, "~ {ns}: net.ipv4.ip_forward = {}", u8::from(*enabled))
            }
            Op::SetLocalRuleLast { ns, last } => {
                let priority = if *last {
                    crate::state::LOCAL_RULE_LAST
                } else {
                    0
                };
                write!(f, "~ {ns}: rule `lookup local` at priority {priority}")
            }
            Op::CreateVeth { pair } => write!(
                f,
                "+ veth {}:{} <-> {}:{}",
                pair.a.ns, pair.a.name, pair.b.ns, pair.b.name
            ),
            Op::DeleteLink { ns, name } => write!(f, "- link {ns}:{name}"),
            Op::SetLink { ns, name, settings } => {
                write!(f, "~ link {ns}:{name}: mtu {}", settings.mtu)?;
                match settings.mac {
                    Some(m) => write!(
                        f,
                        " address {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                        m[0], m[1], m[2], m[3], m[4], m[5]
                    ),
                    None => Ok(()),
                }
            }
            Op::AddAddress { ns, address } => {
                write!(f, "+ addr {ns}: {} dev {}", address.addr, address.dev)
            }
            Op::DeleteAddress { ns, address } => {
                write!(f, "- addr {ns}: {} dev {}", address.addr, address.dev)
            }
            Op::AddRoute { ns, route } => write!(f, "+ route {ns}: {}", RouteText(route)),
            Op::DeleteRoute { ns, route } => write!(f, "- route {ns}: {}", RouteText(route)),
            Op::AddRule { ns, rule } => write!(f, "+ rule {ns}: {}", RuleText(rule)),
            Op::DeleteRule { ns, rule } => write!(f, "- rule {ns}: {}", RuleText(rule)),
            Op::ReplaceNft { ns, table, why } => {
                write!(
                    f,
                    "~ nft {ns}: table inet {} generation {}",
                    table.name, table.generation
                )?;
                match why {
                    NftWhy::Missing => Ok(()),
                    NftWhy::Generation => f.write_str(" (it holds another generation)"),
                    NftWhy::RulesChanged => f.write_str(
                        " (its chains or rules are not the ones cove loaded: flushed, deleted, inserted or changed)",
                    ),
                }
            }
            Op::NftElements {
                ns,
                table,
                add,
                delete,
            } => {
                let count = |m: &std::collections::BTreeMap<
                    String,
                    std::collections::BTreeSet<String>,
                >| { m.values().map(|s| s.len()).sum::<usize>() };
                write!(
                    f,
                    "~ nft {ns}: table inet {table}: +{} -{} element(s)",
                    count(add),
                    count(delete)
                )
            }
            Op::DeleteNft { ns, name } => write!(f, "- nft {ns}: table inet {name}"),
            Op::ForgetNatFlows { ns, bindings } => {
                write!(f, "- conntrack {ns}: flows of removed public-IP bindings")?;
                for b in bindings {
                    write!(f, " {}<->{}", b.private, b.public)?;
                }
                Ok(())
            }
            Op::DeleteForeignNft { ns, table } => write!(
                f,
                "- nft {ns}: table {} {} (not cove's, in a namespace cove owns)",
                table.family, table.name
            ),
        }
    }
}

/// `ip route` syntax for a route.
pub struct RouteText<'a>(pub &'a Route);

impl fmt::Display for RouteText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::state::RouteKind::*;
        let r = self.0;
        match r.kind {
            Dev { dev } => write!(f, "{} dev {dev} scope link", r.dst)?,
            Via { gateway, dev } => write!(f, "{} via {gateway} dev {dev} onlink", r.dst)?,
            Blackhole => write!(f, "blackhole {}", r.dst)?,
            Unreachable => write!(f, "unreachable {}", r.dst)?,
            Local { dev } => write!(f, "local {} dev {dev} scope host", r.dst)?,
        }
        write!(f, " table {}", r.table)?;
        match r.proto {
            crate::state::ROUTE_PROTO_STATIC => {}
            // The names `ip route` prints for the usual ones.
            2 => f.write_str(" proto kernel")?,
            3 => f.write_str(" proto boot")?,
            16 => f.write_str(" proto dhcp")?,
            p => write!(f, " proto {p}")?,
        }
        Ok(())
    }
}

/// `ip rule` syntax for a rule.
pub struct RuleText<'a>(pub &'a Rule);

impl fmt::Display for RuleText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::state::RuleSelector::*;
        let r = self.0;
        match r.selector {
            To(p) => write!(f, "{}: to {p} lookup {}", r.priority, r.table),
            Iif(d) => write!(f, "{}: iif {d} lookup {}", r.priority, r.table),
            Fwmark(m) => write!(f, "{}: fwmark {m:#x} lookup {}", r.priority, r.table),
            ToMarked { to, mark, mask } => write!(
                f,
                "{}: to {to} fwmark {mark:#x}/{mask:#x} lookup {}",
                r.priority, r.table
            ),
        }
    }
}

/// An ordered list of operations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The operations, in execution order.
    pub ops: Vec<Op>,
}

impl Plan {
    /// Whether nothing needs to change.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for op in &self.ops {
            writeln!(f, "{op}")?;
        }
        Ok(())
    }
}
