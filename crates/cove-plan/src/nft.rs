//! nftables rulesets, as `nft -f` text in one table (`inet cove`) per namespace.
//!
//! Only cove's own data reaches the text: interface names cove generated, addresses,
//! ports and protocol numbers. No user-written name or description is spliced in.
//!
//! The host router's table (every VPC's), in packet order:
//! * `from_links` (prerouting, priority -450, before defragmentation and conntrack):
//!   each ENI link may only send from its ENI's MAC and private IP (forged sources,
//!   each fragment on its own, are dropped before reassembly and conntrack); then
//!   the routing mark (`link_table`, see [`crate::routing`]) and the conntrack zone
//!   (`link_zone`, `peer_zone`, see [`crate::zones`]);
//! * `public_in` / `public_out` (nat): the internet gateways' 1:1 NAT of public IPs;
//!   `env_translate` (nat, postrouting): execution environments' connections to
//!   their shared ENI's address, and `env_replies` (postrouting, after it): the
//!   environment's own address back on the replies that leave towards it;
//! * `filter_forward`: IPv6 dropped; to an internet gateway only from an address
//!   that has a public IP; from a gateway endpoint no new connections; then, in
//!   the order AWS (and `cove check`) evaluates them: for a new connection the
//!   **security groups** of the sending ENI (egress); for every packet the
//!   **network ACLs** (stateless, skipped between two links of one subnet),
//!   sender's subnet then receiver's; then `ct state established,related accept`
//!   (security groups are stateful), and for a new connection the security groups
//!   of the receiving ENI (ingress). A refusal by an ACL or the security groups
//!   goes to `rejected` with a code naming the component in the mark, where it
//!   is logged to NFLOG for flow logs and dropped (see [`crate::reject`]). The
//!   path after the guards is a
//!   pipeline of `goto`s (no `jump`): a check is passed only by a `goto` to the next
//!   step, the last step accepts, and a packet that falls off an emptied chain meets
//!   `policy drop` (a flushed chain fails closed); every accept sets
//!   [`PASSED_MARK`];
//! * `forward_guard` (forward, after `filter_forward`, `policy drop`): accepts only
//!   packets with [`PASSED_MARK`], so an `accept` inserted into `filter_forward` or
//!   a deleted `filter_forward` fails closed too;
//! * `filter_input`: nothing may reach the router itself but DNS queries to the
//!   VPCs' resolvers, which `from_links` already took out of conntrack (see
//!   [`crate::resolver`]); `resolver_out` keeps the answers out of it too.
//!
//! Per-ENI data are set and map elements, and none of them is a verdict: a link's
//! subnet and its security-group combination are numbers (`link_subnet`,
//! `link_sgc`), turned into gotos by verdict maps that are part of the ruleset. The
//! kernel re-validates every jump of a table on each commit that adds a jump
//! element, so per-ENI jump elements made an attach cost grow with the ENIs.
//!
//! The number of named sets is fixed: the security groups' rule sets are shared
//! by every group combination (keyed by the combination's number, the mark its
//! chain is dispatched with), and the members of referenced groups are one set
//! keyed by the group's number. nf_tables finds sets by name in a list, so a set
//! per chain made loading and reading a large router's table quadratic.
//!
//! The generation (a hash of the text) is the table's comment (`gen:<hash>`), so the
//! executor can read it back without parsing rules.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use cove_model::{EniOwner, Network, SgId, SgPeer, SgRule, VpcId};
use sha2::{Digest, Sha256};

use crate::environments::Environment;
use crate::names::Names;
use crate::nft_filters::{combo_key, dispatch, nacl_chain, sg_chain, sg_key, sg_lookups};
pub use crate::nft_nat::{NAT_IDLE_TIMEOUT_S, Partner, nat_gateway_table};
pub use crate::nftsets::{ElemType, SetSchema, set_schema};
use crate::nftsets::{SetDecl, SetKind, declarations};
use crate::routing;
use crate::state::NftTable;
use crate::zones::Zones;

/// The table name cove owns in every namespace.
pub const TABLE: &str = "cove";

/// The mark the router's forward pipeline gives a packet it accepts; the second
/// forward chain (`forward_guard`) accepts only packets that carry it. (Routing is
/// done by then, and the mark is cleared when the packet leaves the namespace.)
pub const PASSED_MARK: u32 = 0x7fff_fffe;

/// How every step of the forward pipeline accepts.
const PASSED: &str = "meta mark set 0x7ffffffe accept";

pub(crate) fn finish(body: &str, mut elements: Elements) -> NftTable {
    let digest = Sha256::digest(body.as_bytes());
    let generation: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let text = format!("table inet {TABLE} {{\n\tcomment \"gen:{generation}\"\n{body}}}\n");
    elements.retain(|_, v| !v.is_empty());
    NftTable {
        name: TABLE.to_owned(),
        generation,
        text,
        elements,
        rules_digest: None,
        loaded_digest: None,
    }
}

/// Elements by set name.
pub(crate) type Elements = BTreeMap<String, BTreeSet<String>>;

pub(crate) fn add(elements: &mut Elements, set: &str, element: String) {
    elements.entry(set.to_owned()).or_default().insert(element);
}

/// [`add`] to a per-link set (see [`SetKind::LINK_SETS`]).
fn put(elements: &mut Elements, kind: SetKind, element: String) {
    add(elements, &kind.name(""), element);
}

/// The host router's table: a static part that depends on the VPCs' subnets, ACLs,
/// security-group combinations and gateways; everything per ENI lives in sets and
/// maps. `peer_hosts`: the peer ENIs each route table (by mark) reaches over a
/// peering, as [`routing::route_table`] expanded them.
pub fn router_table(
    net: &Network,
    names: &Names<'_>,
    peer_hosts: &[(u32, routing::PeerHost)],
    envs: &[Environment],
) -> NftTable {
    let mut out = String::new();
    let mut el = Elements::new();
    // Per-link data.
    // The environment sets exist only with environments (every declared set is used).
    let link_sets: Vec<SetDecl> = SetKind::LINK_SETS
        .iter()
        .filter(|k| !envs.is_empty() || !SetKind::ENV_SETS.contains(k))
        .map(|k| SetDecl::new(*k, ""))
        .collect();
    out.push_str(&declarations(&link_sets));
    // Security-group combinations and the groups they reference.
    let mut combos: BTreeMap<String, Vec<SgId>> = BTreeMap::new();
    for eni in &net.enis {
        if !eni.security_groups.is_empty() {
            combos
                .entry(combo_key(net, &eni.security_groups))
                .or_insert_with(|| eni.security_groups.clone());
        }
    }
    // The groups that rules reference, numbered from 1 in the order of their keys,
    // and their members, in one set keyed by the number.
    let mut referenced: BTreeMap<String, SgId> = BTreeMap::new();
    for groups in combos.values() {
        for g in groups {
            let sg = &net.security_groups[g.index()];
            for r in sg.ingress.iter().chain(&sg.egress) {
                if let SgPeer::Group(h) = r.peer {
                    referenced.insert(sg_key(net, h), h);
                }
            }
        }
    }
    let group_ids: BTreeMap<SgId, usize> = referenced
        .values()
        .enumerate()
        .map(|(i, g)| (*g, i + 1))
        .collect();
    if !referenced.is_empty() {
        let members = SetDecl::new(SetKind::Members, "");
        out.push_str(&declarations([&members]));
        for (g, id) in &group_ids {
            for eni in net.enis.iter().filter(|e| e.security_groups.contains(g)) {
                add(&mut el, &members.name, format!("{id} . {}", eni.private_ip));
            }
        }
    }
    // The security groups' rule sets, one of each kind per direction, keyed by the
    // combination's number.
    if !combos.is_empty() {
        let decls: Vec<SetDecl> = ["out", "in"]
            .iter()
            .flat_map(|dir| SetKind::SG_RULE_SETS.map(|k| SetDecl::new(k, dir)))
            .collect();
        out.push_str(&declarations(&decls));
    }
    // Chains that maps jump to must exist before the maps: ACL and SG chains first.
    // One pair of chains per network ACL that a subnet uses (subnets with the same
    // ACL share it; the dispatch below maps each subnet's number to its ACL's).
    let used_acls: BTreeSet<usize> = net.subnets.iter().map(|s| s.network_acl.index()).collect();
    let codes = crate::reject::RejectCodes::new(net);
    out.push_str(&crate::reject::rejected_chain());
    for a in &used_acls {
        let acl = &net.network_acls[*a];
        let id = cove_model::NaclId(cove_model::lookup::index_u32(*a));
        nacl_chain(
            &mut out,
            &format!("nacl_out_{a}"),
            &acl.egress,
            "daddr",
            "goto nacl_in",
            |rule| codes.nacl_mark(id, true, rule),
        );
        nacl_chain(
            &mut out,
            &format!("nacl_in_{a}"),
            &acl.ingress,
            "saddr",
            "goto stateful",
            |rule| codes.nacl_mark(id, false, rule),
        );
    }
    // Each combination's number (from 1) in the `link_sgc` map; the static
    // dispatch maps below turn it into a jump to the combination's chains, and the
    // chains look it up in the rule sets.
    let combo_ids: BTreeMap<&str, usize> = combos
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i + 1))
        .collect();
    // The combinations whose chains exist, per direction.
    let (mut out_chains, mut in_chains) = (Vec::new(), Vec::new());
    for (key, groups) in &combos {
        let id = combo_ids[key.as_str()];
        let egress: Vec<&SgRule> = groups
            .iter()
            .flat_map(|g| net.security_groups[g.index()].egress.iter())
            .collect();
        let ingress: Vec<&SgRule> = groups
            .iter()
            .flat_map(|g| net.security_groups[g.index()].ingress.iter())
            .collect();
        if sg_chain(
            &mut out,
            &mut el,
            net,
            &group_ids,
            (&format!("sgc_{key}_out"), id, "out"),
            &egress,
            "daddr",
            "goto nacl",
        ) {
            out_chains.push((id, key.as_str()));
        }
        if sg_chain(
            &mut out,
            &mut el,
            net,
            &group_ids,
            (&format!("sgc_{key}_in"), id, "in"),
            &ingress,
            "saddr",
            PASSED,
        ) {
            in_chains.push((id, key.as_str()));
        }
    }
    let zones = Zones::new(net);
    // Elements per ENI link.
    for (i, eni) in net.enis.iter().enumerate() {
        if eni.owner == EniOwner::Shared {
            continue;
        }
        let e = cove_model::EniId(cove_model::lookup::index_u32(i));
        let link = format!("\"{}\"", names.eni_router_link(e));
        let mac = crate::desired::eni_mac_text(net, e);
        let subnet = eni.subnet.index();
        let nat = matches!(eni.owner, EniOwner::NatGateway(_));
        put(&mut el, SetKind::MacLinks, link.clone());
        put(&mut el, SetKind::LinkMac, format!("{link} . {mac}"));
        // A NAT gateway forwards replies with other sources (source/destination check
        // disabled, as on AWS); every other ENI sends only from its own IP.
        if !nat {
            put(&mut el, SetKind::SrcLinks, link.clone());
            put(
                &mut el,
                SetKind::EniSrc,
                format!("{link} . {}", eni.private_ip),
            );
        }
        put(
            &mut el,
            SetKind::LinkSubnet,
            format!("{link} : {}", subnet + 1),
        );
        put(
            &mut el,
            SetKind::LinkTable,
            format!("{link} : {}", routing::eni_route_table_mark(net, e)),
        );
        put(
            &mut el,
            SetKind::LinkSubnetPair,
            format!("{link} . {}", subnet + 1),
        );
        put(
            &mut el,
            SetKind::LinkZone,
            format!("{link} : {}", zones.vpc(eni.vpc)),
        );
        if !eni.security_groups.is_empty() {
            let key = combo_key(net, &eni.security_groups);
            if let Some(id) = combo_ids.get(key.as_str()) {
                put(&mut el, SetKind::LinkSgc, format!("{link} : {id}"));
            }
        }
    }
    // Environment links: the shared ENI's elements (its subnet, route table,
    // combination, zone), anti-spoofing by the environment's own MAC and link-local
    // address, and the two addresses the translation swaps.
    // Each shared ENI's combination once (not once per environment: a SHA-256 each).
    let mut shared_combo: BTreeMap<cove_model::EniId, Option<usize>> = BTreeMap::new();
    for env in envs {
        let eni = &net.enis[env.shared_eni.index()];
        let link = format!("\"{}\"", env.router_link);
        let subnet = eni.subnet.index() + 1;
        put(&mut el, SetKind::MacLinks, link.clone());
        put(
            &mut el,
            SetKind::LinkMac,
            format!("{link} . {}", env.mac_text()),
        );
        put(&mut el, SetKind::SrcLinks, link.clone());
        put(
            &mut el,
            SetKind::EniSrc,
            format!("{link} . {}", env.address),
        );
        put(&mut el, SetKind::LinkSubnet, format!("{link} : {subnet}"));
        put(
            &mut el,
            SetKind::LinkTable,
            format!(
                "{link} : {}",
                routing::eni_route_table_mark(net, env.shared_eni)
            ),
        );
        put(
            &mut el,
            SetKind::LinkSubnetPair,
            format!("{link} . {subnet}"),
        );
        put(
            &mut el,
            SetKind::LinkZone,
            format!("{link} : {}", zones.vpc(eni.vpc)),
        );
        let combo = *shared_combo.entry(env.shared_eni).or_insert_with(|| {
            combo_ids
                .get(combo_key(net, &eni.security_groups).as_str())
                .copied()
        });
        if let Some(id) = combo {
            put(&mut el, SetKind::LinkSgc, format!("{link} : {id}"));
        }
        put(&mut el, SetKind::EnvLinks, link.clone());
        put(
            &mut el,
            SetKind::EnvShared,
            format!("{link} : {}", eni.private_ip),
        );
        put(
            &mut el,
            SetKind::EnvAddr,
            format!("{link} : {}", env.address),
        );
    }
    // Peering routes: the flow to a peer ENI is tracked in the peering's zone.
    for (mark, h) in peer_hosts {
        let ip = net.enis[h.eni.index()].private_ip;
        let z = zones.peering(h.peering);
        put(&mut el, SetKind::PeerZone, format!("{mark} . {ip} : {z}"));
    }
    let mut has_igw = false;
    let mut has_endpoint_link = false;
    for (v, vpc) in net.vpcs.iter().enumerate() {
        let v = VpcId(cove_model::lookup::index_u32(v));
        let zone = zones.vpc(v);
        for ip in crate::resolver::resolver_addresses(net, v) {
            for j in 0..vpc.route_tables.len() {
                let mark = routing::route_table_mark(v, j);
                put(&mut el, SetKind::DnsResolvers, format!("{mark} . {ip}"));
            }
        }
        if vpc.internet_gateway.is_some() {
            has_igw = true;
            let link = format!("\"{}\"", names.igw_router_link(v));
            put(&mut el, SetKind::IgwLinks, link.clone());
            put(
                &mut el,
                SetKind::LinkTable,
                format!("{link} : {}", routing::vpc_mark(v)),
            );
            put(&mut el, SetKind::LinkZone, format!("{link} : {zone}"));
            let mut public: BTreeMap<Ipv4Addr, Ipv4Addr> = BTreeMap::new();
            for e in &vpc.enis {
                let eni = &net.enis[e.index()];
                if let Some(p) = eni.public_ip {
                    public.entry(p).or_insert(eni.private_ip);
                }
                if let EniOwner::NatGateway(n) = eni.owner {
                    let nat = &net.nat_gateways[n.index()];
                    for (p, i) in nat.public_ips.iter().zip(nat.private_ips(eni.private_ip)) {
                        public.entry(*p).or_insert(i);
                    }
                }
            }
            let mut by_private: BTreeMap<Ipv4Addr, Ipv4Addr> = BTreeMap::new();
            for (p, i) in &public {
                put(
                    &mut el,
                    SetKind::PublicToPrivate,
                    format!("{link} . {p} : {i}"),
                );
                by_private.entry(*i).or_insert(*p);
            }
            for (i, p) in &by_private {
                put(
                    &mut el,
                    SetKind::PrivateToPublic,
                    format!("{link} . {i} : {p}"),
                );
                put(&mut el, SetKind::IgwSources, format!("{link} . {i}"));
            }
        }
        let gateway_endpoint = vpc.endpoints.iter().any(|e| {
            matches!(
                net.endpoints[e.index()].kind,
                cove_model::EndpointKind::Gateway { .. }
            )
        });
        if gateway_endpoint {
            has_endpoint_link = true;
            let link = format!("\"{}\"", names.endpoint_router_link(v));
            put(&mut el, SetKind::GweLinks, link.clone());
            put(
                &mut el,
                SetKind::LinkTable,
                format!("{link} : {}", routing::vpc_mark(v)),
            );
            put(&mut el, SetKind::LinkZone, format!("{link} : {zone}"));
        }
    }
    // Before defragmentation (-400) and conntrack: the routing mark (VPC and route
    // table); DNS queries to the VPC's resolver go straight on, untracked (the
    // answer goes back out of the link the query came in on, whatever its source
    // says, so a forged source gets nothing; see `crate::resolver`); then
    // anti-spoofing of every fragment on its own link, and the conntrack zone: the
    // peering's for a flow to a peer ENI, else the VPC's.
    // The first `ct zone set` that finds its key wins (it attaches the template the
    // later ones see), so the peering's comes first. A zone set before
    // defragmentation also keys reassembly, so fragments of different VPCs never
    // meet in one queue.
    let _ = writeln!(
        out,
        "\tchain from_links {{\n\t\ttype filter hook prerouting priority -450; policy accept;\n\
         \t\tmeta mark set iifname map @link_table\n\
         \t\tmeta l4proto {{ tcp, udp }} th dport 53 meta mark . ip daddr @dns_resolvers notrack accept\n\
         \t\tiifname @mac_links iifname . ether saddr != @link_mac drop\n\
         \t\tiifname @src_links iifname . ip saddr != @eni_src drop\n\
         \t\tct zone set meta mark . ip daddr map @peer_zone\n\
         \t\tct zone set iifname map @link_zone\n\t}}"
    );
    if has_igw {
        let _ = writeln!(
            out,
            "\tchain public_in {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\
             \t\tiifname @igw_links dnat ip to iifname . ip daddr map @public_to_private\n\t}}\n\
             \tchain public_out {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\
             \t\toifname @igw_links snat ip to oifname . ip saddr map @private_to_public\n\t}}"
        );
    }
    // Forwarding filter.
    if !envs.is_empty() {
        // Environments' connections leave with their shared ENI's address (a free
        // source port when two environments use the same one), before the public
        // addresses' translation.
        let _ = writeln!(
            out,
            "\tchain env_translate {{\n\t\ttype nat hook postrouting priority srcnat - 1; policy accept;\n\
             \t\tiifname @env_links snat ip to iifname map @env_shared\n\t}}\n\
             \tchain env_replies {{\n\t\ttype filter hook postrouting priority srcnat + 10; policy accept;\n\
             \t\toifname @env_links ip daddr set oifname map @env_addr\n\t}}"
        );
    }
    let _ = writeln!(
        out,
        "\tchain filter_forward {{\n\t\ttype filter hook forward priority filter; policy drop;\n\t\tmeta nfproto ipv6 drop"
    );
    if !envs.is_empty() {
        // Nothing opens a connection towards an environment (from the VPC or from
        // another environment): only replies go out on their links. Environments
        // send TCP, UDP and ICMP (the protocols the translation can keep apart when
        // environments share an address; AWS's shared ENIs carry no others). Then the checks
        // below see the shared ENI's address, as AWS evaluates them: an
        // environment's packet as from it, a reply as to it (the translation
        // itself is conntrack's, in `env_translate`; `env_replies` restores the
        // environment's address as a reply leaves).
        let _ = writeln!(
            out,
            "\t\toifname @env_links ct direction original drop\n\
             \t\tiifname @env_links meta l4proto != {{ tcp, udp, icmp }} drop\n\
             \t\tiifname @env_links ip saddr set iifname map @env_shared\n\
             \t\toifname @env_links ip daddr set oifname map @env_shared"
        );
    }
    if has_igw {
        let _ = writeln!(
            out,
            "\t\toifname @igw_links oifname . ip saddr != @igw_sources drop"
        );
    }
    if has_endpoint_link {
        // Services behind a gateway endpoint answer; they do not open connections.
        let _ = writeln!(out, "\t\tiifname @gwe_links ct state new drop");
    }
    // From here on the forward path is a pipeline of `goto`s with no `jump`: a
    // packet passes a step only by an explicit `goto` to the next one (the last
    // step accepts), and one that falls off the end of any chain meets the base
    // chain's `policy drop`. So a flushed ACL, security-group or dispatch chain
    // drops traffic instead of letting it skip the check (fails closed).
    // A new connection meets the sender's security groups first (`sg`, which goes
    // on to `nacl`), every packet the ACLs, and `stateful` lets replies through
    // and sends a new connection on to the receiver's groups (`sg_in`): the order
    // in which `cove check` names the first refusing component.
    let _ = writeln!(out, "\t\tct state new goto sg\n\t\tgoto nacl\n\t}}");
    // Network ACLs: skipped between two links of one subnet. Packets from ENI links
    // get their subnet's number as mark (any other packet 0, which matches no pair).
    // Then the mark (the sending link's subnet, then the receiving link's) picks the
    // subnet's ACL chain from a map written with the ruleset: the per-ENI data are
    // marks, never jumps, so that adding an ENI's elements does not make the kernel
    // re-validate every jump of the table (it does for each new verdict element).
    // A link with no subnet (a gateway's) misses the map and goes on.
    // Subnets are numbered across all VPCs (from 1 in the marks).
    let subnet_ids: Vec<(usize, usize)> = net
        .subnets
        .iter()
        .enumerate()
        .map(|(i, s)| (i + 1, s.network_acl.index()))
        .collect();
    let _ = writeln!(
        out,
        "\tchain nacl {{\n\t\tmeta mark set 0\n\t\tmeta mark set iifname map @link_subnet\n\
         \t\toifname . meta mark @link_subnet_pair goto stateful"
    );
    dispatch(&mut out, None, "nacl_out_", "", &subnet_ids);
    let _ = writeln!(out, "\t\tgoto nacl_in\n\t}}\n\tchain nacl_in {{");
    let to = Some(("link_subnet", "oifname"));
    dispatch(&mut out, to, "nacl_in_", "", &subnet_ids);
    let _ = writeln!(out, "\t\tgoto stateful\n\t}}");
    // Replies and related packets of allowed connections pass the (stateful)
    // security groups; the ACLs above saw them.
    let _ = writeln!(
        out,
        "\tchain stateful {{\n\t\tct state established,related {PASSED}\n\t\tct state new goto sg_in\n\t\tdrop\n\t}}"
    );
    // Security groups: the same with each link's group combination, whose number
    // keys the rule sets.
    if combos.is_empty() {
        let _ = writeln!(
            out,
            "\tchain sg {{\n\t\tgoto nacl\n\t}}\n\tchain sg_in {{\n\t\t{PASSED}\n\t}}"
        );
    } else {
        let _ = writeln!(out, "\tchain sg {{");
        sg_lookups(&mut out, "out", "goto nacl", &out_chains);
        let _ = writeln!(out, "\t}}\n\tchain sg_in {{");
        sg_lookups(&mut out, "in", PASSED, &in_chains);
        let _ = writeln!(out, "\t}}");
    }
    // The second forward chain lets through only what the first one passed with
    // its token: an `accept` inserted into `filter_forward`, or `filter_forward`
    // deleted, then drops instead of letting everything through; flushing this
    // one drops everything.
    let _ = writeln!(
        out,
        "\tchain forward_guard {{\n\t\ttype filter hook forward priority filter + 10; policy drop;\n\
         \t\tmeta mark {PASSED_MARK:#x} accept\n\t}}"
    );
    // Nothing may reach the router itself but the VPCs' resolvers: the queries
    // `from_links` let past conntrack (nothing else here is untracked). The
    // resolver's answers stay out of conntrack as well.
    let _ = writeln!(
        out,
        "\tchain filter_input {{\n\t\ttype filter hook input priority filter; policy drop;\n\
         \t\tct state untracked meta l4proto {{ tcp, udp }} th dport 53 accept\n\t}}\n\
         \tchain resolver_out {{\n\t\ttype filter hook output priority raw; policy accept;\n\
         \t\tmeta l4proto {{ tcp, udp }} th sport 53 notrack\n\t}}"
    );
    finish(&out, el)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forward_token_is_the_guards_mark() {
        assert_eq!(PASSED, format!("meta mark set {PASSED_MARK:#x} accept"));
    }
}
