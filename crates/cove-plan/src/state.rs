//! The kernel state cove owns, as plain data: what the planner wants
//! ([`crate::desired`]) and what the executor reads back from the kernel. Both sides
//! use these types, so "applied twice changes nothing" is `desired == observed`.
//!
//! Everything is keyed by the names cove gives kernel objects (all derived from
//! the deployment prefix and stable hashes of resource paths, never from user text).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde::Serialize;

/// Priority of the `lookup local` rule in a namespace with
/// [`NsState::local_rule_last`] (after every rule cove adds, before `main`).
pub const LOCAL_RULE_LAST: u32 = 32765;

/// Every namespace cove owns under one prefix, and the veth pairs between them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostState {
    /// Namespaces by name (`<prefix>-…`, bind-mounted at `/run/netns/<name>`).
    pub namespaces: BTreeMap<String, NsState>,
    /// veth pairs; each end lives in a namespace above.
    pub veths: BTreeSet<VethPair>,
}

/// One network namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NsState {
    /// `net.ipv4.ip_forward` (only router and NAT namespaces forward). Turning it on
    /// also sets `net.ipv4.conf.all.send_redirects = 0` (a NAT gateway sends traffic
    /// back out of the interface it came in on) and `rp_filter = 0` (cove checks
    /// source addresses in nftables instead).
    pub forwarding: bool,
    /// The kernel's `lookup local` rule moved from priority 0 to
    /// [`LOCAL_RULE_LAST`] (the host router): cove's policy rules then see packets
    /// before the router's own addresses do, so an ENI may use an address that is
    /// another VPC's subnet router address (`.1`) on the router's `lo`.
    pub local_rule_last: bool,
    /// Names of the veth interfaces in this namespace (`lo` not listed). In desired
    /// state this repeats the ends of [`HostState::veths`]; in observed state it is
    /// what exists, and `veths` is left empty: a pair exists when both of its ends do.
    pub links: BTreeSet<String>,
    /// Addresses, by interface name (`lo` included).
    pub addresses: BTreeSet<Address>,
    /// Routes of every table cove uses in this namespace (kernel-generated ones are
    /// not listed: the executor ignores routes with protocol `kernel` and the local
    /// table).
    pub routes: BTreeSet<Route>,
    /// Policy-routing rules cove added (the default rules 0/32766/32767 are not
    /// listed).
    pub rules: BTreeSet<Rule>,
    /// cove's nftables table in this namespace, if any.
    pub nft: Option<NftTable>,
    /// MAC address and MTU of each veth interface, by name. Desired: the MAC cove
    /// fixes (`None`: any) and the MTU; observed: what the link has.
    pub link_settings: BTreeMap<String, LinkSettings>,
    /// nftables tables in this namespace that are not cove's (any family, or
    /// another name): the namespace is cove's, so they are drift (empty in desired
    /// state).
    pub foreign_tables: BTreeSet<ForeignTable>,
}

/// The settings of a veth interface that cove fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LinkSettings {
    /// MAC address (desired: `None` when cove lets the kernel choose one).
    pub mac: Option<[u8; 6]>,
    /// MTU in bytes.
    pub mtu: u32,
}

/// The MTU of every veth interface cove creates.
pub const VETH_MTU: u32 = 1500;

/// An nftables table that is not cove's, in a namespace cove owns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ForeignTable {
    /// Family as `nft` writes it (`ip`, `ip6`, `inet`, `arp`, `bridge`, `netdev`).
    pub family: String,
    /// Table name.
    pub name: String,
}

/// One end of a veth pair.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct VethEnd {
    /// Namespace name.
    pub ns: String,
    /// Interface name (at most 15 bytes).
    pub name: String,
    /// MAC address to set, if cove fixes one (ENI side).
    pub mac: Option<[u8; 6]>,
}

/// A veth pair (created in `a.ns`, the `b` end moved to `b.ns`; both set up).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct VethPair {
    /// First end.
    pub a: VethEnd,
    /// Second end.
    pub b: VethEnd,
}

/// An IPv4 address on an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Address {
    /// Interface name.
    pub dev: DevName,
    /// Address and prefix length.
    pub addr: Ipv4Net,
}

/// An interface name, stored inline (Linux names are at most 15 bytes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DevName([u8; 16]);

impl DevName {
    /// The longest interface name Linux accepts.
    pub const MAX: usize = 15;

    /// The loopback interface.
    pub const LO: DevName = {
        let mut b = [0u8; 16];
        b[0] = b'l';
        b[1] = b'o';
        DevName(b)
    };

    /// A name; `None` if longer than 15 bytes, empty, or containing `/`, whitespace or
    /// NUL.
    pub fn new(name: &str) -> Option<Self> {
        let b = name.as_bytes();
        if b.is_empty()
            || b.len() > Self::MAX
            || b.iter()
                .any(|c| *c == b'/' || *c == 0 || c.is_ascii_whitespace())
        {
            return None;
        }
        let mut out = [0u8; 16];
        out[..b.len()].copy_from_slice(b);
        Some(DevName(out))
    }

    /// A name from raw bytes (NUL-padded); for constants.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        DevName(bytes)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        let len = self.0.iter().position(|c| *c == 0).unwrap_or(16);
        std::str::from_utf8(&self.0[..len]).unwrap_or("")
    }
}

impl fmt::Debug for DevName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for DevName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DevName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteKind {
    /// Directly on a link (`dst dev DEV scope link`).
    Dev {
        /// Outgoing interface.
        dev: DevName,
    },
    /// Through a next hop on a link (`dst via GW dev DEV onlink`).
    Via {
        /// Next hop.
        gateway: Ipv4Addr,
        /// Outgoing interface.
        dev: DevName,
    },
    /// Silently dropped (`blackhole dst`).
    Blackhole,
    /// Dropped with ICMP unreachable (`unreachable dst`).
    Unreachable,
    /// Delivered to this namespace itself (`local dst dev DEV scope host`): the
    /// address is local only for the packets this table routes (a VPC's resolver
    /// address in the host router).
    Local {
        /// The device the kernel ties the route to (`lo`).
        dev: DevName,
    },
}

/// The routing protocol (`rtm_protocol`) of the routes cove adds: `static`.
pub const ROUTE_PROTO_STATIC: u8 = 4;

/// A route in a routing table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Route {
    /// Routing table id (254 = main).
    pub table: u32,
    /// Destination.
    pub dst: Ipv4Net,
    /// What it does.
    pub kind: RouteKind,
    /// Routing protocol: [`ROUTE_PROTO_STATIC`] for cove's routes; a route someone
    /// else added (e.g. `proto boot`, 3) is observed with its own, so that it is
    /// drift even where it equals a desired route, and so that deleting it names
    /// the protocol the kernel matches.
    pub proto: u8,
}

/// What a policy-routing rule selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleSelector {
    /// Packets to a destination prefix (`to PREFIX`).
    To(Ipv4Net),
    /// Packets that arrived on an interface (`iif DEV`).
    Iif(DevName),
    /// Packets carrying this mark (`fwmark M`, full mask).
    Fwmark(u32),
    /// Packets to a destination prefix whose mark has these bits
    /// (`to PREFIX fwmark MARK/MASK`).
    ToMarked {
        /// Destination prefix.
        to: Ipv4Net,
        /// Mark bits to match.
        mark: u32,
        /// Which bits of the mark count.
        mask: u32,
    },
}

/// A policy-routing rule: `priority SELECTOR lookup TABLE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Rule {
    /// Priority (lower first).
    pub priority: u32,
    /// Selector.
    pub selector: RuleSelector,
    /// Table to look up.
    pub table: u32,
}

/// cove's nftables table in a namespace: always `table inet <name>`. Its static part
/// (chains, rules, set declarations) is replaced as a whole (delete + add in one
/// batch) when its generation changes; its set and map elements (per-ENI data) are
/// added and removed one by one, so attaching an ENI never reloads the rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NftTable {
    /// Table name (family `inet`).
    pub name: String,
    /// Hash of the static text; stored as the table's comment so that it can be
    /// observed without parsing the rules.
    pub generation: String,
    /// The `nft -f` text of the static part (empty in observed state: only the
    /// generation is read back).
    #[serde(skip)]
    pub text: String,
    /// Elements by set or map name, each in `nft` syntax (`"e1" . 10.0.0.5`,
    /// `"e1" : 3`).
    pub elements: BTreeMap<String, BTreeSet<String>>,
    /// Observed only (`None` in desired state): a digest of the chains (hooks,
    /// priorities, policies), rules (every expression, in order; handles and
    /// counter values left out) and set declarations the kernel holds now.
    pub rules_digest: Option<String>,
    /// Observed only: the digest cove recorded in the table right after it loaded
    /// this generation (`None`: none recorded, e.g. a load interrupted before).
    pub loaded_digest: Option<String>,
}

impl NftTable {
    /// A table with no elements and nothing observed.
    pub fn new(name: &str, generation: String, text: String) -> NftTable {
        NftTable {
            name: name.to_owned(),
            generation,
            text,
            elements: BTreeMap::new(),
            rules_digest: None,
            loaded_digest: None,
        }
    }

    /// Two tables have the same static part when name and generation agree (the text
    /// is not read back from the kernel) and the observed one's chains and rules are
    /// still the ones cove loaded ([`NftTable::rules_as_loaded`]).
    pub fn same(&self, other: &NftTable) -> bool {
        self.name == other.name
            && self.generation == other.generation
            && self.rules_as_loaded()
            && other.rules_as_loaded()
    }

    /// Whether the chains and rules are the ones cove loaded: the digest of what
    /// the kernel holds equals the one recorded at load time (a desired table, with
    /// neither, is as loaded by definition). A flushed or deleted chain, an inserted
    /// rule or a changed policy changes the digest.
    pub fn rules_as_loaded(&self) -> bool {
        self.rules_digest == self.loaded_digest
    }

    /// The whole table as one `nft -f` batch: the static text, then the elements.
    pub fn batch_text(&self) -> String {
        let mut out = self.text.clone();
        out.push_str(&element_statements("add", &self.name, &self.elements));
        out
    }
}

/// Elements per `add element` statement in [`element_statements`]. `nft` (1.0.6)
/// sends the elements of one statement in as many netlink messages as they need,
/// and the first element of a continuation message of a concatenated interval set
/// loses the conversion of a host-order field (a mark) to network order: that
/// element is stored with its mark byte-swapped (1 of 2,000 in a test). A
/// statement this small fits in one message.
pub const ELEMENTS_PER_STATEMENT: usize = 256;

/// `add element inet TABLE SET { e1, e2 }` lines (or `delete element …`), at most
/// [`ELEMENTS_PER_STATEMENT`] elements each.
pub fn element_statements(
    verb: &str,
    table: &str,
    elements: &BTreeMap<String, BTreeSet<String>>,
) -> String {
    let mut out = String::new();
    for (set, elems) in elements {
        let list: Vec<&str> = elems.iter().map(String::as_str).collect();
        for chunk in list.chunks(ELEMENTS_PER_STATEMENT) {
            out.push_str(&format!(
                "{verb} element inet {table} {set} {{ {} }}\n",
                chunk.join(", ")
            ));
        }
    }
    out
}
