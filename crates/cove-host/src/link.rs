//! Links and addresses over netlink, from a worker inside the namespace.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;

use cove_plan::{Address, LinkSettings, VethPair};
use futures::TryStreamExt;
use netlink_packet_route::link::{
    AfSpecInet6, AfSpecUnspec, In6AddrGenMode, InfoData, InfoKind, InfoVeth, LinkAttribute,
};
use nix::errno::Errno;
use rtnetlink::{AddressMessageBuilder, Handle, LinkMessageBuilder, LinkUnspec, LinkVeth};

use crate::error::{HostError, nl_io};
use crate::netns;

/// Whether an `io::Error` carries errno `e`.
pub(crate) fn is_errno(err: &io::Error, e: Errno) -> bool {
    err.raw_os_error() == Some(e as i32)
}

/// The index of interface `dev`, `None` if it does not exist.
pub(crate) async fn index(handle: &Handle, ns: &str, dev: &str) -> Result<Option<u32>, HostError> {
    let mut links = handle.link().get().match_name(dev).execute();
    match links.try_next().await.map_err(nl_io) {
        Ok(Some(msg)) => Ok(Some(msg.header.index)),
        Ok(None) => Ok(None),
        Err(e) if is_errno(&e, Errno::ENODEV) => Ok(None),
        Err(source) => Err(HostError::LinkLookup {
            ns: ns.to_owned(),
            dev: dev.to_owned(),
            source,
        }),
    }
}

/// The index of interface `dev`, which must exist.
pub(crate) async fn require_index(handle: &Handle, ns: &str, dev: &str) -> Result<u32, HostError> {
    index(handle, ns, dev)
        .await?
        .ok_or_else(|| HostError::LinkNotFound {
            ns: ns.to_owned(),
            dev: dev.to_owned(),
        })
}

/// Sets interface `dev` up.
pub(crate) async fn set_up(handle: &Handle, ns: &str, dev: &str) -> Result<(), HostError> {
    let idx = require_index(handle, ns, dev).await?;
    send_up(
        handle,
        ns,
        dev,
        LinkUnspec::new_with_index(idx).up().build(),
    )
    .await
}

/// Sends a link-up request for `dev`.
async fn send_up(
    handle: &Handle,
    ns: &str,
    dev: &str,
    msg: netlink_packet_route::link::LinkMessage,
) -> Result<(), HostError> {
    handle
        .link()
        .set(msg)
        .execute()
        .await
        .map_err(|e| HostError::LinkUp {
            ns: ns.to_owned(),
            dev: dev.to_owned(),
            source: nl_io(e),
        })
}

/// Turns off IPv6 address generation on interface `dev` (named in the request, no
/// index lookup first): no link-local
/// address, so no duplicate-address detection or router solicitation either. cove's
/// networks are IPv4; this is per link, over netlink, rather than the namespace's
/// `disable_ipv6` sysctl, because the first lookup of `/proc/sys/net/ipv6` in a new
/// namespace walks one cached entry per namespace that looked it up before (0.3 ms
/// with 1,000 namespaces). Must happen before the link has a carrier (for a veth:
/// before both ends are up), when the kernel would add the link-local address.
async fn no_ipv6_addresses(handle: &Handle, ns: &str, dev: &str) -> Result<(), HostError> {
    let off =
        LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(vec![AfSpecInet6::AddrGenMode(
            In6AddrGenMode::None,
        )])]);
    let msg = LinkUnspec::new_with_name(dev)
        .append_extra_attribute(off)
        .build();
    handle
        .link()
        .set(msg)
        .execute()
        .await
        .map_err(|e| HostError::Ipv6Off {
            ns: ns.to_owned(),
            dev: dev.to_owned(),
            source: nl_io(e),
        })
}

/// Sets the second end `dev` of a veth pair up, after turning off its IPv6
/// addresses (the first end is up already, so the pair gets a carrier now).
pub(crate) async fn set_peer_up(handle: &Handle, ns: &str, dev: &str) -> Result<(), HostError> {
    no_ipv6_addresses(handle, ns, dev).await?;
    send_up(handle, ns, dev, LinkUnspec::new_with_name(dev).up().build()).await
}

/// The largest IPv4 GSO and GRO packet on every veth end cove creates: 192 KiB
/// ("BIG TCP" for IPv4, kernel 6.3 and later; older kernels ignore the attributes
/// and keep 64 KiB; 192 KiB is also Cilium's default). A TCP sender in an ENI
/// namespace then hands the stack packets of up to 192 KiB that stay whole across
/// every veth and router on the way, and each hop costs per packet, not per byte:
/// at 64 KiB a path through two routers (a peering, before cove had one host
/// router) carried 13 % less than one
/// through a single router (docs/benchmarks.md). Nothing a rule matches changes:
/// the MTU stays 1,500 and a packet is still cut into segments of at most the MTU
/// wherever segments are needed.
pub(crate) const BIG_TCP_MAX: u32 = 192 * 1024;

fn big_tcp() -> [LinkAttribute; 2] {
    [
        LinkAttribute::GsoIpv4MaxSize(BIG_TCP_MAX),
        LinkAttribute::GroIpv4MaxSize(BIG_TCP_MAX),
    ]
}

/// Creates a veth pair in this namespace (`ns` = `pair.a.ns`) in one request: the
/// peer is created directly in `pair.b.ns` (by file descriptor), MACs are set where
/// given, both ends get [`BIG_TCP_MAX`], and the `a` end is created up; then the `a` end's IPv6 addresses are
/// turned off (no carrier yet: its peer is down). The caller sets the `b` end up
/// from inside `pair.b.ns` with [`set_peer_up`] (asking for the peer to be created
/// up fails with ENOTCONN on kernel 6.18).
pub(crate) async fn create_veth(
    handle: &Handle,
    ns: &str,
    pair: &VethPair,
) -> Result<(), HostError> {
    let (a, b) = (&pair.a, &pair.b);
    // Kept open until the request has been answered.
    let peer_ns = netns::open(&b.ns)?;
    let mut peer = LinkUnspec::new_with_name(&b.name).setns_by_fd(peer_ns.as_raw_fd());
    if let Some(mac) = b.mac {
        peer = peer.address(mac.to_vec());
    }
    for attr in big_tcp() {
        peer = peer.append_extra_attribute(attr);
    }
    let mut msg = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
        .name(a.name.clone())
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())))
        .up();
    for attr in big_tcp() {
        msg = msg.append_extra_attribute(attr);
    }
    if let Some(mac) = a.mac {
        msg = msg.address(mac.to_vec());
    }
    let result = handle.link().add(msg.build()).execute().await;
    drop(peer_ns);
    result.map_err(|e| HostError::VethCreate {
        ns: ns.to_owned(),
        name: a.name.clone(),
        peer_ns: b.ns.clone(),
        peer: b.name.clone(),
        source: nl_io(e),
    })?;
    no_ipv6_addresses(handle, ns, &a.name).await
}

/// Deletes interface `dev` (both ends, for a veth). Absent is not an error: deleting
/// one end of a pair removes the other one too.
pub(crate) async fn delete(handle: &Handle, ns: &str, dev: &str) -> Result<(), HostError> {
    let Some(idx) = index(handle, ns, dev).await? else {
        return Ok(());
    };
    match handle.link().del(idx).execute().await.map_err(nl_io) {
        Ok(()) => Ok(()),
        Err(e) if is_errno(&e, Errno::ENODEV) => Ok(()),
        Err(source) => Err(HostError::LinkDelete {
            ns: ns.to_owned(),
            dev: dev.to_owned(),
            source,
        }),
    }
}

/// Adds an IPv4 address.
pub(crate) async fn add_address(
    handle: &Handle,
    ns: &str,
    address: &Address,
) -> Result<(), HostError> {
    let dev = address.dev.as_str();
    let idx = require_index(handle, ns, dev).await?;
    handle
        .address()
        .add(
            idx,
            IpAddr::V4(address.addr.addr()),
            address.addr.prefix_len(),
        )
        .execute()
        .await
        .map_err(|e| HostError::AddressAdd {
            ns: ns.to_owned(),
            dev: dev.to_owned(),
            addr: address.addr.to_string(),
            source: nl_io(e),
        })
}

/// Removes an IPv4 address; absent (or its interface gone) is not an error.
pub(crate) async fn delete_address(
    handle: &Handle,
    ns: &str,
    address: &Address,
) -> Result<(), HostError> {
    let dev = address.dev.as_str();
    let Some(idx) = index(handle, ns, dev).await? else {
        return Ok(());
    };
    let msg = AddressMessageBuilder::<Ipv4Addr>::new()
        .index(idx)
        .address(address.addr.addr(), address.addr.prefix_len())
        .build();
    match handle.address().del(msg).execute().await.map_err(nl_io) {
        Ok(()) => Ok(()),
        Err(e) if is_errno(&e, Errno::EADDRNOTAVAIL) => Ok(()),
        Err(source) => Err(HostError::AddressDelete {
            ns: ns.to_owned(),
            dev: dev.to_owned(),
            addr: address.addr.to_string(),
            source,
        }),
    }
}

/// Sets the MAC address (if `settings` fixes one) and the MTU of interface `dev`.
pub(crate) async fn set_settings(
    handle: &Handle,
    ns: &str,
    dev: &str,
    settings: &LinkSettings,
) -> Result<(), HostError> {
    let mut msg = LinkUnspec::new_with_name(dev).mtu(settings.mtu);
    let mut what = format!("mtu {}", settings.mtu);
    if let Some(mac) = settings.mac {
        msg = msg.address(mac.to_vec());
        what.push_str(" and its MAC address");
    }
    handle
        .link()
        .set(msg.build())
        .execute()
        .await
        .map_err(|e| HostError::LinkSet {
            ns: ns.to_owned(),
            dev: dev.to_owned(),
            what,
            source: nl_io(e),
        })
}
