//! The router's filter chains: network ACLs, security-group combinations and the
//! mark dispatch between them, as `nft` text for [`crate::nft::router_table`]. A
//! refusal goes to `rejected` with a code in the mark ([`crate::reject`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use cove_model::{NaclAction, NaclEntry, Network, Protocol, SgId, SgPeer, SgRule, TrafficMatch};

use crate::nft::{Elements, add};
use crate::nftsets::SetKind;

/// `meta l4proto tcp th dport 80-90 ` and friends, for a rule's traffic match.
pub(crate) fn traffic(t: &TrafficMatch) -> String {
    match t.protocol {
        Protocol::All => String::new(),
        Protocol::Tcp | Protocol::Udp => {
            let p = t.protocol;
            if t.ports == cove_model::PortRange::ALL {
                format!("meta l4proto {p} ")
            } else if t.ports.from == t.ports.to {
                format!("meta l4proto {p} th dport {} ", t.ports.from)
            } else {
                format!("meta l4proto {p} th dport {}-{} ", t.ports.from, t.ports.to)
            }
        }
        Protocol::Icmp => {
            let mut s = "meta l4proto icmp ".to_owned();
            if let Some(ty) = t.icmp_type {
                let _ = write!(s, "icmp type {ty} ");
            }
            if let Some(code) = t.icmp_code {
                let _ = write!(s, "icmp code {code} ");
            }
            s
        }
        Protocol::Other(n) => format!("meta l4proto {n} "),
    }
}

/// A network ACL's chain: its entries in order, then the refusal of the final
/// `*` entry (a denying entry refuses too, with its own code). An allowing entry goes
/// on to `pass` (the next step of the forward pipeline), never `return`s: see
/// [`crate::nft::router_table`] on failing closed.
pub(crate) fn nacl_chain(
    out: &mut String,
    name: &str,
    entries: &[NaclEntry],
    remote: &str,
    pass: &str,
    refused: impl Fn(Option<u16>) -> u32,
) {
    let _ = writeln!(out, "\tchain {name} {{");
    for e in entries {
        let verdict = match e.action {
            NaclAction::Allow => pass.to_owned(),
            NaclAction::Deny => reject(refused(Some(e.rule))),
        };
        let _ = writeln!(
            out,
            "\t\tip {remote} {} {}{verdict}",
            e.cidr,
            traffic(&e.traffic)
        );
    }
    let _ = writeln!(out, "\t\t{}\n\t}}", reject(refused(None)));
}

/// A refusal: the code naming the refusing component into the mark, then the
/// chain that logs and drops (see [`crate::reject`]).
pub(crate) fn reject(code: u32) -> String {
    format!("meta mark set {code:#x} goto rejected")
}

/// Stable name part of a security group: eight hex digits of its path's hash.
pub(crate) fn sg_key(net: &Network, g: SgId) -> String {
    let sg = &net.security_groups[g.index()];
    crate::names::short_hash("sg", &format!("{}/{}", net.vpc_path(sg.vpc), sg.name))
}

/// Stable name of a combination of security groups (ENIs with the same groups share
/// one pair of chains).
pub(crate) fn combo_key(net: &Network, groups: &[SgId]) -> String {
    let mut keys: Vec<String> = groups.iter().map(|g| sg_key(net, *g)).collect();
    keys.sort();
    keys.dedup();
    crate::names::short_hash("sgc", &keys.join(","))
}

/// The rule text matching a security-group rule's remote side (`remote`: `saddr`
/// or `daddr`): CIDRs as written, a prefix list as its CIDRs (one rule each), a
/// group as a lookup of its number and the address in the member set. The group's
/// number is put in the mark first (`meta mark set G meta mark . ip daddr
/// @members`): in a security-group chain the mark held the combination's number,
/// which the dispatch to the chain (and its rule-set lookups) already used; the
/// next step resets it.
pub(crate) fn peer_matches(
    net: &Network,
    groups: &BTreeMap<SgId, usize>,
    peer: &SgPeer,
    remote: &str,
) -> Vec<String> {
    match peer {
        SgPeer::Cidr(c) => vec![format!("ip {remote} {c}")],
        SgPeer::PrefixList(p) => net.prefix_lists[p.index()]
            .cidrs
            .iter()
            .map(|c| format!("ip {remote} {c}"))
            .collect(),
        SgPeer::Group(g) => {
            let members = SetKind::Members.name("");
            let id = groups.get(g).copied().unwrap_or_default();
            vec![format!(
                "meta mark set {id} meta mark . ip {remote} @{members}"
            )]
        }
    }
}

/// A combination's security groups in one direction: their CIDR rules become
/// elements of the direction's three rule sets, keyed by the combination's number
/// `id` (the lookups are in the dispatching chain, [`sg_lookups`]; changing such a
/// rule changes elements only). The other rules (ICMP, other protocols, group
/// references), if any, make the chain `name`: the rules one by one, then the
/// refusal; a
/// match goes on to `pass` (`goto nacl` or `accept`). Returns whether it wrote
/// the chain.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sg_chain(
    out: &mut String,
    el: &mut Elements,
    net: &Network,
    groups: &BTreeMap<SgId, usize>,
    (name, id, dir): (&str, usize, &str),
    rules: &[&SgRule],
    remote: &str,
    pass: &str,
) -> bool {
    let sets = crate::sgsets::sg_sets(net, rules);
    let [x, l4, all] = SetKind::SG_RULE_SETS.map(|k| k.name(dir));
    for (set, elems) in [(&x, sets.exact), (&l4, sets.l4), (&all, sets.all)] {
        for e in elems {
            add(el, set, format!("{id} . {e}"));
        }
    }
    if sets.rules.is_empty() {
        return false;
    }
    let _ = writeln!(out, "\tchain {name} {{");
    for r in sets.rules {
        for m in peer_matches(net, groups, &r.peer, remote) {
            let _ = writeln!(out, "\t\t{m} {}{pass}", traffic(&r.traffic));
        }
    }
    let refused = reject(crate::reject::sg_mark(id, dir == "out"));
    let _ = writeln!(out, "\t\t{refused}\n\t}}");
    true
}

/// The security-group step of one direction (`dir`: `out` from the sending link,
/// `in` to the receiving one): the link's combination number into the mark, the
/// three rule-set lookups (a match goes on to `pass`), then the combinations that
/// have other rules to their chains (`targets`), then a link with a combination
/// that nothing allowed is refused; a link with none (a gateway's) goes on to
/// `pass`.
pub(crate) fn sg_lookups(out: &mut String, dir: &str, pass: &str, targets: &[(usize, &str)]) {
    let (link, remote) = if dir == "out" {
        ("iifname", "daddr")
    } else {
        ("oifname", "saddr")
    };
    let [x, l4, all] = SetKind::SG_RULE_SETS.map(|k| k.name(dir));
    let _ = writeln!(
        out,
        "\t\tmeta mark set 0\n\t\tmeta mark set {link} map @link_sgc\n\
         \t\tmeta mark . ip {remote} . meta l4proto . th dport @{x} {pass}\n\
         \t\tmeta mark . ip {remote} . meta l4proto . th dport @{l4} {pass}\n\
         \t\tmeta mark . ip {remote} @{all} {pass}"
    );
    dispatch(out, None, "sgc_", &format!("_{dir}"), targets);
    let bits = crate::reject::sg_mark_bits(dir == "out");
    let _ = writeln!(
        out,
        "\t\tmeta mark != 0 meta mark set meta mark | {bits:#x} goto rejected\n\t\t{pass}"
    );
}

/// Rules that go from a link to its chain through a mark: with `link = Some((map,
/// dir))`, first `meta mark set 0` and `meta mark set <dir> map @<map>` (the reset
/// because a link missing from the map leaves the mark as it was); with `None` the
/// mark is already set. Then `meta mark vmap { id : goto <prefix><target><suffix>,
/// … }`, a map that is part of the ruleset. Nothing when there are no targets.
pub(crate) fn dispatch<T: std::fmt::Display>(
    out: &mut String,
    link: Option<(&str, &str)>,
    prefix: &str,
    suffix: &str,
    targets: &[(usize, T)],
) {
    if targets.is_empty() {
        return;
    }
    if let Some((map, dir)) = link {
        let _ = writeln!(
            out,
            "\t\tmeta mark set 0\n\t\tmeta mark set {dir} map @{map}"
        );
    }
    let entries: Vec<String> = targets
        .iter()
        .map(|(id, t)| format!("{id} : goto {prefix}{t}{suffix}"))
        .collect();
    let _ = writeln!(out, "\t\tmeta mark vmap {{ {} }}", entries.join(", "));
}
