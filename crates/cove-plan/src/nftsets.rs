//! The one typed description of cove's nftables sets and maps: for each kind of
//! set, its name (or name pattern), key fields (concatenations, intervals), map
//! value and flags. Everything else is derived from it:
//!
//! * the `set`/`map` declarations in the ruleset text ([`SetDecl::declaration`],
//!   used by [`crate::nft`]);
//! * each set's [`SetSchema`] ([`set_schema`]: a name is read back into its
//!   [`SetKind`] by the inverse of [`SetKind::name`]), which the executor uses to
//!   encode elements over netlink and to decode the ones it reads back;
//! * the wire width and byte order of every field ([`ElemType::width`]);
//! * the test tables of the executor (`cove-host`), which declare their sets with
//!   [`SetDecl::declaration`] instead of copies of the text.
//!
//! Pure: no I/O.

use std::fmt::Write as _;

/// The type of one part of a set element (a key field or a map value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElemType {
    /// An interface name (`"e1a2b3c4d"`, quoted in nft syntax; 16 bytes on the wire).
    Ifname,
    /// An IPv4 address (`10.0.0.5`).
    Ipv4,
    /// An Ethernet address (`02:aa:bb:cc:dd:01`).
    Mac,
    /// A packet mark (`3`, host byte order on the wire).
    Mark,
    /// A verdict (`jump CHAIN`).
    Verdict,
    /// An IPv4 interval in an interval set: a bare address (`10.0.0.5`), a prefix
    /// (`10.0.0.0/16`) or a range (`10.0.0.0-10.0.0.9`), as `nft` prints them.
    Ipv4Interval,
    /// A layer-4 protocol (`inet_proto`: `tcp` or `udp`; 1 byte on the wire).
    InetProto,
    /// A port interval in an interval set (`inet_service`: `5432` or `1000-2000`;
    /// 2 bytes in network order on the wire).
    InetServiceInterval,
    /// One port (`inet_service`: `5432`; 2 bytes in network order on the wire).
    InetService,
    /// A conntrack zone (`ct zone`: `300`; 2 bytes in host order on the wire).
    CtZone,
}

impl ElemType {
    /// The nftables type name in a `type` declaration; `None` for a conntrack zone,
    /// which nft only knows as `typeof ct zone`.
    pub fn nft_type(self) -> Option<&'static str> {
        Some(match self {
            ElemType::Ifname => "ifname",
            ElemType::Ipv4 | ElemType::Ipv4Interval => "ipv4_addr",
            ElemType::Mac => "ether_addr",
            ElemType::Mark => "mark",
            ElemType::Verdict => "verdict",
            ElemType::InetProto => "inet_proto",
            ElemType::InetService | ElemType::InetServiceInterval => "inet_service",
            ElemType::CtZone => return None,
        })
    }

    /// Bytes of one value on the wire, before a concatenation pads it to a multiple
    /// of 4 (0 for a verdict, which is a nested attribute).
    pub fn width(self) -> usize {
        match self {
            ElemType::Ifname => 16,
            ElemType::Ipv4 | ElemType::Ipv4Interval | ElemType::Mark => 4,
            ElemType::Mac => 6,
            ElemType::InetProto => 1,
            ElemType::InetService | ElemType::InetServiceInterval | ElemType::CtZone => 2,
            ElemType::Verdict => 0,
        }
    }

    /// Whether a multi-byte value is in host byte order on the wire (a mark, a
    /// zone); the others are in network order or are bytes. In a concatenated
    /// interval set (the kernel's pipapo set, which compares bytes in order) `nft`
    /// stores such a field in network order instead, and converts the packet's
    /// value (`byteorder hton`) before the lookup: see [`SetSchema::field_host_order`].
    pub fn host_order(self) -> bool {
        matches!(self, ElemType::Mark | ElemType::CtZone)
    }
}

/// An expression a `typeof` declaration takes its type from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeofExpr {
    /// `iifname` (an interface name).
    Iifname,
    /// `meta mark`.
    MetaMark,
    /// `ip daddr` (an IPv4 address).
    IpDaddr,
    /// `ct zone`.
    CtZone,
}

impl TypeofExpr {
    /// The expression as nft writes it.
    pub fn text(self) -> &'static str {
        match self {
            TypeofExpr::Iifname => "iifname",
            TypeofExpr::MetaMark => "meta mark",
            TypeofExpr::IpDaddr => "ip daddr",
            TypeofExpr::CtZone => "ct zone",
        }
    }

    /// The type of its values.
    pub fn ty(self) -> ElemType {
        match self {
            TypeofExpr::Iifname => ElemType::Ifname,
            TypeofExpr::MetaMark => ElemType::Mark,
            TypeofExpr::IpDaddr => ElemType::Ipv4,
            TypeofExpr::CtZone => ElemType::CtZone,
        }
    }
}

/// How a set's key and value are declared: by type names or by `typeof`
/// expressions (needed where a part has no type name, e.g. a conntrack zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyDecl {
    /// `type A . B [: C]`.
    Type {
        /// Key fields, in order.
        key: &'static [ElemType],
        /// Map value; `None` for a set.
        data: Option<ElemType>,
    },
    /// `typeof A . B [: C]`.
    Typeof {
        /// Key fields, in order.
        key: &'static [TypeofExpr],
        /// Map value; `None` for a set.
        data: Option<TypeofExpr>,
    },
}

/// The shape of one of cove's sets or maps: key fields (concatenated with ` . `) and,
/// for a map, the value type (after ` : `). Derived from [`SetKind::schema`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetSchema {
    /// Key fields, in order.
    pub key: Vec<ElemType>,
    /// Map value type; `None` for a set.
    pub data: Option<ElemType>,
    /// The set is declared with `flags interval`: an element is a range of keys
    /// (one field: start and end elements; concatenated: start and end keys).
    pub interval: bool,
}

impl SetSchema {
    /// The key's length on the wire, as the kernel records it for the set
    /// (`NFTA_SET_KEY_LEN`): one field's width, or a concatenation's fields each
    /// padded to a multiple of 4 bytes.
    pub fn key_len(&self) -> usize {
        match self.key.as_slice() {
            [one] => one.width(),
            fields => fields.iter().map(|t| t.width().next_multiple_of(4)).sum(),
        }
    }

    /// Whether key field `ty` of this set is in host byte order on the wire: a
    /// host-order type ([`ElemType::host_order`]), except in a concatenated interval
    /// set, where `nft` writes every field in network order.
    pub fn field_host_order(&self, ty: ElemType) -> bool {
        ty.host_order() && !(self.interval && self.key.len() > 1)
    }

    /// A map value's length on the wire (`NFTA_SET_DATA_LEN`); `None` for a set,
    /// and for a verdict map (the kernel records its own size for verdicts).
    pub fn data_len(&self) -> Option<usize> {
        self.data
            .filter(|t| *t != ElemType::Verdict)
            .map(ElemType::width)
    }
}

/// Every kind of set or map cove declares. The per-link ones and the member set
/// have one fixed name each; the security groups' rule sets are a pair of sets,
/// one per direction (see [`SetKind::name`]). There is no set per security group
/// or per group combination: their elements carry the group's or combination's
/// number as the first key field, so the router's table has a few dozen named
/// sets however many groups there are (the kernel finds a set by name in a list,
/// which made loading and reading thousands of sets quadratic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SetKind {
    /// `src_links`: ENI links whose source address is checked.
    SrcLinks,
    /// `eni_src`: link . the one source address it may send from.
    EniSrc,
    /// `mac_links`: ENI links whose source MAC is checked.
    MacLinks,
    /// `link_mac`: link . the one MAC it may send from.
    LinkMac,
    /// `link_subnet`: link → its subnet's number (the ACL dispatch mark).
    LinkSubnet,
    /// `link_table`: link → its routing mark (VPC and route table).
    LinkTable,
    /// `link_subnet_pair`: link . subnet number (ACLs skipped within a subnet).
    LinkSubnetPair,
    /// `link_sgc`: link → its security-group combination's number.
    LinkSgc,
    /// `link_zone`: link → its VPC's conntrack zone.
    LinkZone,
    /// `peer_zone`: routing mark . peer ENI address → the peering's conntrack zone.
    PeerZone,
    /// `igw_links`: internet-gateway links.
    IgwLinks,
    /// `igw_sources`: gateway link . private address with a public IP.
    IgwSources,
    /// `gwe_links`: gateway-endpoint links.
    GweLinks,
    /// `public_to_private`: gateway link . public IP → private IP.
    PublicToPrivate,
    /// `private_to_public`: gateway link . private IP → public IP.
    PrivateToPublic,
    /// `env_links`: execution-environment links (only replies go out on them).
    EnvLinks,
    /// `env_shared`: environment link → the address of its shared function ENI
    /// (what the firewall sees, and what its connections are translated to).
    EnvShared,
    /// `env_addr`: environment link → the environment's own link-local address
    /// (restored on replies as they leave towards it).
    EnvAddr,
    /// `dns_resolvers`: routing mark . resolver address (base + 2, 169.254.169.253)
    /// of each route table of a VPC whose resolver is on: DNS queries to them skip
    /// conntrack and the firewall.
    DnsResolvers,
    /// `members`: group number . a member address of that security group (the
    /// groups that rules reference, numbered from 1).
    Members,
    /// `sg_<in|out>_x`: combination number . `addr . proto . port`, the exact
    /// rules of the security-group chains of that direction.
    SgExact,
    /// `sg_<in|out>_l4`: combination number . TCP/UDP rules as intervals.
    SgL4,
    /// `sg_<in|out>_all`: combination number . all-protocol CIDR rules as
    /// intervals.
    SgAll,
}

/// Prefix of a security group's rule set (`sg_<in|out>_<x|l4|all>`).
const SG_SET_PREFIX: &str = "sg_";

impl SetKind {
    /// The per-link sets and maps, in the order the router table declares them.
    pub const LINK_SETS: [SetKind; 19] = [
        SetKind::SrcLinks,
        SetKind::EniSrc,
        SetKind::MacLinks,
        SetKind::LinkMac,
        SetKind::LinkSubnet,
        SetKind::LinkTable,
        SetKind::LinkSubnetPair,
        SetKind::LinkSgc,
        SetKind::LinkZone,
        SetKind::PeerZone,
        SetKind::IgwLinks,
        SetKind::IgwSources,
        SetKind::GweLinks,
        SetKind::PublicToPrivate,
        SetKind::PrivateToPublic,
        SetKind::EnvLinks,
        SetKind::EnvShared,
        SetKind::EnvAddr,
        SetKind::DnsResolvers,
    ];

    /// The sets of execution-environment links (declared only when there are any).
    pub const ENV_SETS: [SetKind; 3] = [SetKind::EnvLinks, SetKind::EnvShared, SetKind::EnvAddr];

    /// A direction's security-group rule sets, in the order the table declares them.
    pub const SG_RULE_SETS: [SetKind; 3] = [SetKind::SgExact, SetKind::SgL4, SetKind::SgAll];

    /// Every kind: the per-link sets, the member set, then the rule sets.
    pub const ALL: [SetKind; 23] = {
        let mut all = [SetKind::Members; 23];
        let mut i = 0;
        while i < Self::LINK_SETS.len() {
            all[i] = Self::LINK_SETS[i];
            i += 1;
        }
        // all[19] is Members (fixed name, not per link).
        let mut j = 0;
        while j < Self::SG_RULE_SETS.len() {
            all[Self::LINK_SETS.len() + 1 + j] = Self::SG_RULE_SETS[j];
            j += 1;
        }
        all
    };

    /// How the key and value are declared: the single source of each set's types.
    pub fn key_decl(self) -> KeyDecl {
        use ElemType::*;
        const IF: &[ElemType] = &[Ifname];
        const IF_IP: &[ElemType] = &[Ifname, Ipv4];
        let ty = |key, data| KeyDecl::Type { key, data };
        match self {
            SetKind::SrcLinks
            | SetKind::MacLinks
            | SetKind::IgwLinks
            | SetKind::GweLinks
            | SetKind::EnvLinks => ty(IF, None),
            SetKind::EnvShared | SetKind::EnvAddr => ty(IF, Some(Ipv4)),
            SetKind::EniSrc | SetKind::IgwSources => ty(IF_IP, None),
            SetKind::LinkMac => ty(&[Ifname, Mac], None),
            SetKind::LinkSubnet | SetKind::LinkTable | SetKind::LinkSgc => ty(IF, Some(Mark)),
            SetKind::LinkSubnetPair => ty(&[Ifname, Mark], None),
            SetKind::LinkZone => KeyDecl::Typeof {
                key: &[TypeofExpr::Iifname],
                data: Some(TypeofExpr::CtZone),
            },
            SetKind::PeerZone => KeyDecl::Typeof {
                key: &[TypeofExpr::MetaMark, TypeofExpr::IpDaddr],
                data: Some(TypeofExpr::CtZone),
            },
            SetKind::PublicToPrivate | SetKind::PrivateToPublic => ty(IF_IP, Some(Ipv4)),
            SetKind::Members | SetKind::DnsResolvers => ty(&[Mark, Ipv4], None),
            SetKind::SgExact => ty(&[Mark, Ipv4, InetProto, InetService], None),
            SetKind::SgL4 => ty(&[Mark, Ipv4Interval, InetProto, InetServiceInterval], None),
            SetKind::SgAll => ty(&[Mark, Ipv4Interval], None),
        }
    }

    /// Whether the set is declared with `flags interval`.
    pub fn interval(self) -> bool {
        matches!(self, SetKind::SgL4 | SetKind::SgAll)
    }

    /// The schema the executor encodes and decodes elements with.
    pub fn schema(self) -> SetSchema {
        let (key, data) = match self.key_decl() {
            KeyDecl::Type { key, data } => (key.to_vec(), data),
            KeyDecl::Typeof { key, data } => (
                key.iter().map(|e| e.ty()).collect(),
                data.map(TypeofExpr::ty),
            ),
        };
        SetSchema {
            key,
            data,
            interval: self.interval(),
        }
    }

    /// The name of a per-link set or of the member set; `None` for a security
    /// group's rule sets (one per direction).
    pub fn fixed_name(self) -> Option<&'static str> {
        Some(match self {
            SetKind::SrcLinks => "src_links",
            SetKind::EniSrc => "eni_src",
            SetKind::MacLinks => "mac_links",
            SetKind::LinkMac => "link_mac",
            SetKind::LinkSubnet => "link_subnet",
            SetKind::LinkTable => "link_table",
            SetKind::LinkSubnetPair => "link_subnet_pair",
            SetKind::LinkSgc => "link_sgc",
            SetKind::LinkZone => "link_zone",
            SetKind::PeerZone => "peer_zone",
            SetKind::IgwLinks => "igw_links",
            SetKind::IgwSources => "igw_sources",
            SetKind::GweLinks => "gwe_links",
            SetKind::PublicToPrivate => "public_to_private",
            SetKind::PrivateToPublic => "private_to_public",
            SetKind::EnvLinks => "env_links",
            SetKind::EnvShared => "env_shared",
            SetKind::EnvAddr => "env_addr",
            SetKind::DnsResolvers => "dns_resolvers",
            SetKind::Members => "members",
            SetKind::SgExact | SetKind::SgL4 | SetKind::SgAll => return None,
        })
    }

    /// The suffix of a security-group chain's rule set.
    fn sg_suffix(self) -> Option<&'static str> {
        match self {
            SetKind::SgExact => Some("_x"),
            SetKind::SgL4 => Some("_l4"),
            SetKind::SgAll => Some("_all"),
            _ => None,
        }
    }

    /// A set's name. `scope` is the direction (`in` or `out`) of a security
    /// group's rule set; ignored for a set with a fixed name.
    pub fn name(self, scope: &str) -> String {
        if let Some(n) = self.fixed_name() {
            return n.to_owned();
        }
        let suffix = self.sg_suffix().unwrap_or_default();
        format!("{SG_SET_PREFIX}{scope}{suffix}")
    }

    /// The kind of the set called `name` (the inverse of [`SetKind::name`]);
    /// `None` for a name cove does not give.
    pub fn of_name(name: &str) -> Option<SetKind> {
        if let Some(k) = SetKind::ALL
            .into_iter()
            .find(|k| k.fixed_name() == Some(name))
        {
            return Some(k);
        }
        let rest = name.strip_prefix(SG_SET_PREFIX)?;
        SetKind::SG_RULE_SETS.into_iter().find(|k| {
            k.sg_suffix()
                .and_then(|s| rest.strip_suffix(s))
                .is_some_and(|dir| matches!(dir, "in" | "out"))
        })
    }
}

/// The schema of a set cove declares, by its name (see [`SetKind::of_name`]);
/// `None` for any other set.
pub fn set_schema(name: &str) -> Option<SetSchema> {
    SetKind::of_name(name).map(SetKind::schema)
}

/// One declared set or map: its name and kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SetDecl {
    /// The set's name.
    pub name: String,
    /// Its kind (types and flags).
    pub kind: SetKind,
}

impl SetDecl {
    /// The set of `kind` for `scope` (a direction for a security group's rule
    /// set, see [`SetKind::name`]).
    pub fn new(kind: SetKind, scope: &str) -> SetDecl {
        SetDecl {
            name: kind.name(scope),
            kind,
        }
    }

    /// The declaration in nft syntax, without indentation or newline:
    /// `set NAME { type A . B; flags interval; }`, `map NAME { typeof A : B; }`.
    pub fn declaration(&self) -> String {
        fn join<T: Copy>(parts: &[T], data: Option<T>, f: impl Fn(T) -> &'static str) -> String {
            let key: Vec<&str> = parts.iter().map(|p| f(*p)).collect();
            let mut s = key.join(" . ");
            if let Some(d) = data {
                let _ = write!(s, " : {}", f(d));
            }
            s
        }
        let (word, types, is_map) = match self.kind.key_decl() {
            KeyDecl::Type { key, data } => (
                "type",
                // Kinds declared by `type` have type names for every part (a test
                // checks); `?` stands out in the text if one does not.
                join(key, data, |t| t.nft_type().unwrap_or("?")),
                data.is_some(),
            ),
            KeyDecl::Typeof { key, data } => {
                ("typeof", join(key, data, TypeofExpr::text), data.is_some())
            }
        };
        let keyword = if is_map { "map" } else { "set" };
        let flags = if self.kind.interval() {
            " flags interval;"
        } else {
            ""
        };
        format!("{keyword} {} {{ {word} {types};{flags} }}", self.name)
    }
}

/// The declarations of `decls`, one a line, each indented by one tab (as in a
/// table body).
pub fn declarations<'a>(decls: impl IntoIterator<Item = &'a SetDecl>) -> String {
    decls
        .into_iter()
        .map(|d| format!("\t{}\n", d.declaration()))
        .collect()
}

#[cfg(test)]
#[path = "nftsets_tests.rs"]
mod tests;
