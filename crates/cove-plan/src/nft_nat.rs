//! The NAT gateway's nftables table (in its ENI namespace): what it forwards, its
//! translation to its private addresses, AWS's idle timeout and the RST after it.

use std::net::Ipv4Addr;

use crate::nft::{Elements, finish};
use crate::state::NftTable;

/// Seconds a NAT gateway keeps an idle connection (AWS's idle timeout).
pub const NAT_IDLE_TIMEOUT_S: u32 = 350;

/// The NAT gateway's table: forward only TCP, UDP and ICMP (AWS's NAT gateway drops
/// other IP protocols, before translation), source-translate what it forwards to its
/// own address (ports 1024–65535, like AWS), accept nothing addressed to itself.
/// Connections idle for [`NAT_IDLE_TIMEOUT_S`] are forgotten (conntrack timeout
/// policies for TCP established and UDP replied, attached to a new entry right
/// after tracking — the kernel sets them only on an entry not yet confirmed, so
/// the chain runs after conntrack, at `mangle`), and a TCP packet of a
/// connection the gateway no longer knows — anything but a SYN that would start a
/// new one — is answered with a RST, as AWS's NAT gateway does after its timeout.
pub fn nat_gateway_table(
    ip: Ipv4Addr,
    secondary: &[Ipv4Addr],
    partner: Option<&Partner>,
) -> NftTable {
    let idle = NAT_IDLE_TIMEOUT_S;
    let own_all: Vec<Ipv4Addr> = std::iter::once(ip)
        .chain(secondary.iter().copied())
        .collect();
    let (to_l4, to_any) = translation(&own_all);
    // Never translate what the gateway sends itself, from its own addresses or
    // (in a pair) from its partner's, which it may carry.
    let mut excluded = own_all.clone();
    if let Some(p) = partner {
        excluded.extend(p.addresses.iter().copied());
    }
    let own = addr_set(&excluded);
    // In a pair, the partner's subnets translate to the partner's addresses, ready
    // before any failure: when this gateway carries the partner's addresses, new
    // connections from those subnets keep the partner's public IPs, and the table
    // never changes at a takeover.
    let mut partner_rules = String::new();
    if let Some(p) = partner.filter(|p| !p.sources.is_empty() && !p.addresses.is_empty()) {
        let (p_l4, p_any) = translation(&p.addresses);
        let sources = p
            .sources
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        partner_rules = format!(
            "\t\toifname \"eth0\" ip saddr != {own} ip saddr {{ {sources} }} meta l4proto {{ tcp, udp }} snat ip to {p_l4}\n\
             \t\toifname \"eth0\" ip saddr != {own} ip saddr {{ {sources} }} snat ip to {p_any}\n"
        );
    }
    let body = format!(
        "\tct timeout tcp_idle {{\n\t\tprotocol tcp;\n\t\tl3proto ip;\n\t\tpolicy = {{ established: {idle} }};\n\t}}\n\
         \tct timeout udp_idle {{\n\t\tprotocol udp;\n\t\tl3proto ip;\n\t\tpolicy = {{ replied: {idle} }};\n\t}}\n\
         \tchain idle_timeouts {{\n\t\ttype filter hook prerouting priority mangle; policy accept;\n\
         \t\tmeta l4proto tcp ct timeout set \"tcp_idle\"\n\
         \t\tmeta l4proto udp ct timeout set \"udp_idle\"\n\t}}\n\
         \tchain filter_forward {{\n\t\ttype filter hook forward priority filter; policy accept;\n\
         \t\tmeta l4proto != {{ tcp, udp, icmp }} drop\n\
         \t\tmeta l4proto tcp ct state new tcp flags & (fin | syn | rst | ack) != syn reject with tcp reset\n\t}}\n\
         \tchain translate {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\
         {partner_rules}\t\toifname \"eth0\" ip saddr != {own} meta l4proto {{ tcp, udp }} snat ip to {to_l4}\n\
         \t\toifname \"eth0\" ip saddr != {own} snat ip to {to_any}\n\t}}\n\
         \tchain filter_input {{\n\t\ttype filter hook input priority filter; policy drop;\n\
         \t\tct state established,related accept\n\t}}\n"
    );
    finish(&body, Elements::new())
}

/// A NAT gateway's partner, as its table needs it: the partner's addresses
/// (primary first) and the source CIDRs routed to the partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    /// The partner's private addresses, primary first.
    pub addresses: Vec<Ipv4Addr>,
    /// The CIDRs of the subnets whose route tables send traffic to the partner.
    pub sources: Vec<ipnet::Ipv4Net>,
}

/// `{ a, b }` or `a`.
fn addr_set(all: &[Ipv4Addr]) -> String {
    if let [one] = all {
        return one.to_string();
    }
    let set = all
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    format!("{{ {set} }}")
}

/// The `snat` targets for TCP/UDP (with ports) and for the rest: the address, or
/// with several, one chosen by a hash of the connection's addresses (and source
/// port): every address brings its own 64,512 ports towards each destination.
fn translation(all: &[Ipv4Addr]) -> (String, String) {
    if let [one] = all {
        return (format!("{one}:1024-65535"), one.to_string());
    }
    let n = all.len();
    let map = all
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{i} : {a}"))
        .collect::<Vec<_>>()
        .join(", ");
    (
        format!("jhash ip saddr . ip daddr . th sport mod {n} map {{ {map} }} : 1024-65535"),
        format!("jhash ip saddr . ip daddr mod {n} map {{ {map} }}"),
    )
}
