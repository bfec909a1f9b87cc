//! Reading back what exists in one namespace, in the terms of [`NsState`].

use std::collections::HashMap;
use std::net::IpAddr;

use cove_plan::{Address, DevName, LOCAL_RULE_LAST, LinkSettings, NsState};
use ipnet::Ipv4Net;
use netlink_packet_route::AddressFamily;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    AfSpecInet, AfSpecUnspec, InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::rule::RuleMessage;

use crate::route::{local_rule_priority, route_from_message, rule_from_message};

/// What one namespace's route-netlink dumps hold, as messages.
#[derive(Debug, Default)]
pub(crate) struct Dumps {
    /// `RTM_GETLINK`.
    pub(crate) links: Vec<LinkMessage>,
    /// `RTM_GETADDR`.
    pub(crate) addresses: Vec<AddressMessage>,
    /// `RTM_GETROUTE` (IPv4).
    pub(crate) routes: Vec<RouteMessage>,
    /// `RTM_GETRULE` (IPv4).
    pub(crate) rules: Vec<RuleMessage>,
}

/// Links, addresses, routes and rules of a namespace from its dumps, and
/// `forwarding` when the link dump shows it (`None`: the caller reads the sysctl;
/// `nft` is left for the caller to fill).
pub(crate) fn netlink_state(d: &Dumps) -> (NsState, Option<bool>) {
    let mut state = NsState::default();
    let mut forwarding = None;
    let mut names = HashMap::new();
    for link in &d.links {
        let mut name = None;
        let mut veth = false;
        let mut mac = None;
        let mut mtu = 0;
        for attr in &link.attributes {
            match attr {
                LinkAttribute::IfName(n) => name = Some(n.clone()),
                LinkAttribute::Address(a) => mac = <[u8; 6]>::try_from(a.as_slice()).ok(),
                LinkAttribute::Mtu(m) => mtu = *m,
                LinkAttribute::LinkInfo(infos) => {
                    veth |= infos
                        .iter()
                        .any(|i| matches!(i, LinkInfo::Kind(InfoKind::Veth)));
                }
                _ => {}
            }
        }
        if let Some(name) = name {
            // A link left down (by an apply interrupted between creating and enabling
            // it) counts as missing: the plan deletes and recreates it.
            let up = link.header.flags.contains(LinkFlags::Up);
            if veth && up && name != "lo" {
                state.links.insert(name.clone());
                state
                    .link_settings
                    .insert(name.clone(), LinkSettings { mac, mtu });
            }
            if name == "lo" {
                forwarding = ipv4_forwarding(link);
            }
            names.insert(link.header.index, name);
        }
    }
    for msg in &d.addresses {
        if let Some(a) = address_from_message(msg, &names) {
            state.addresses.insert(a);
        }
    }
    state.routes.extend(
        d.routes
            .iter()
            .filter_map(|m| route_from_message(m, &names)),
    );
    state
        .rules
        .extend(d.rules.iter().filter_map(rule_from_message));
    let local: Vec<u32> = d.rules.iter().filter_map(local_rule_priority).collect();
    state.local_rule_last = local.contains(&LOCAL_RULE_LAST) && !local.contains(&0);
    (state, forwarding)
}

/// IPv4 forwarding as `lo`'s IPv4 settings in a link dump show it. Setting
/// `net.ipv4.ip_forward` sets `forwarding` on every interface, so this is the
/// sysctl's value, read without `/proc/sys` (whose first lookup in a namespace
/// takes time that grows with the namespaces on the host).
fn ipv4_forwarding(link: &LinkMessage) -> Option<bool> {
    link.attributes.iter().find_map(|attr| match attr {
        LinkAttribute::AfSpecUnspec(specs) => specs.iter().find_map(|spec| match spec {
            AfSpecUnspec::Inet(inet) => inet.iter().find_map(|a| match a {
                AfSpecInet::DevConf(conf) => Some(conf.forwarding != 0),
                _ => None,
            }),
            _ => None,
        }),
        _ => None,
    })
}

/// An IPv4 address, except the loopback ones on `lo`.
fn address_from_message(msg: &AddressMessage, names: &HashMap<u32, String>) -> Option<Address> {
    if msg.header.family != AddressFamily::Inet {
        return None;
    }
    let mut local = None;
    let mut peer = None;
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Local(IpAddr::V4(a)) => local = Some(*a),
            AddressAttribute::Address(IpAddr::V4(a)) => peer = Some(*a),
            _ => {}
        }
    }
    let ip = local.or(peer)?;
    let name = names.get(&msg.header.index)?;
    if name == "lo" && ip.is_loopback() {
        return None;
    }
    Some(Address {
        dev: DevName::new(name)?,
        addr: Ipv4Net::new(ip, msg.header.prefix_len).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use netlink_packet_route::link::InetDevConf;

    use super::*;

    fn lo_with(forwarding: Option<i32>) -> LinkMessage {
        let mut link = LinkMessage::default();
        link.attributes.push(LinkAttribute::IfName("lo".to_owned()));
        if let Some(f) = forwarding {
            let mut conf = InetDevConf::default();
            conf.forwarding = f;
            link.attributes
                .push(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet(vec![
                    AfSpecInet::DevConf(conf),
                ])]));
        }
        link
    }

    #[test]
    fn forwarding_is_read_from_the_ipv4_settings_of_a_link() {
        assert_eq!(ipv4_forwarding(&lo_with(Some(1))), Some(true));
        assert_eq!(ipv4_forwarding(&lo_with(Some(0))), Some(false));
        // Not in the dump: the caller falls back to the sysctl.
        assert_eq!(ipv4_forwarding(&lo_with(None)), None);
    }
}
