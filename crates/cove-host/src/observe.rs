//! Reading back what exists in one namespace, in the terms of [`NsState`].

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr};

use cove_plan::{Address, DevName, NsState};
use futures::TryStreamExt;
use ipnet::Ipv4Net;
use netlink_packet_route::AddressFamily;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use rtnetlink::{Handle, IpVersion, RouteMessageBuilder};

use crate::error::{HostError, nl_io};
use crate::route::{route_from_message, rule_from_message};

fn dump_err(ns: &str, what: &'static str) -> impl FnOnce(io::Error) -> HostError {
    let ns = ns.to_owned();
    move |source| HostError::Dump { ns, what, source }
}

/// Links, addresses, routes and rules of the namespace this worker is in
/// (`forwarding` and `nft` are left at their defaults for the caller to fill).
pub(crate) async fn netlink_state(handle: &Handle, ns: &str) -> Result<NsState, HostError> {
    let mut state = NsState::default();

    let links: Vec<LinkMessage> = handle
        .link()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(|e| dump_err(ns, "links")(nl_io(e)))?;
    let mut names = HashMap::new();
    for link in &links {
        let mut name = None;
        let mut veth = false;
        for attr in &link.attributes {
            match attr {
                LinkAttribute::IfName(n) => name = Some(n.clone()),
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
            }
            names.insert(link.header.index, name);
        }
    }

    let addresses: Vec<AddressMessage> = handle
        .address()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(|e| dump_err(ns, "addresses")(nl_io(e)))?;
    for msg in &addresses {
        if let Some(a) = address_from_message(msg, &names) {
            state.addresses.insert(a);
        }
    }

    let routes: Vec<_> = handle
        .route()
        .get(RouteMessageBuilder::<Ipv4Addr>::new().build())
        .execute()
        .try_collect()
        .await
        .map_err(|e| dump_err(ns, "routes")(nl_io(e)))?;
    state
        .routes
        .extend(routes.iter().filter_map(|m| route_from_message(m, &names)));

    let rules: Vec<_> = handle
        .rule()
        .get(IpVersion::V4)
        .execute()
        .try_collect()
        .await
        .map_err(|e| dump_err(ns, "rules")(nl_io(e)))?;
    state
        .rules
        .extend(rules.iter().filter_map(rule_from_message));

    Ok(state)
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
