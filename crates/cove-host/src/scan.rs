//! Reading one namespace over plain blocking netlink sockets, with no thread and
//! no async runtime of its own: a `NETLINK_ROUTE` socket (links, addresses, routes,
//! rules) and a `NETLINK_NETFILTER` one (nf_tables), both opened on a thread inside
//! the namespace and then usable from any thread (a netlink socket belongs to the
//! namespace it was opened in).
//!
//! Sockets opened for a persistent [`crate::Observer`] are also subscribed to the
//! namespace's notifications (rtnetlink: links, IPv4 addresses, routes, rules and
//! settings; nf_tables: every change), so that a namespace is read again only when
//! something in it changed. What a notification says is used only to know *what*
//! to read again, never as state: a dump is the truth.

use std::collections::BTreeSet;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use cove_plan::{ForeignTable, NftTable, NsState};
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::LinkMessage;
use netlink_packet_route::rule::RuleMessage;
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::{Socket, SocketAddr};
use rtnetlink::RouteMessageBuilder;
use rtnetlink::packet_core::{NLM_F_DUMP, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload};

use crate::error::HostError;
use crate::nftnl::{self, Session, recv_next, ruleset};
use crate::observe::{Dumps, netlink_state};
use crate::{netns, nft, sysctl};

/// rtnetlink multicast groups a subscribed socket joins: links (with their
/// settings), IPv4 addresses, IPv4 routes, IPv4 rules, IPv4 device settings
/// (`forwarding`).
const RTNLGRP: [u32; 5] = [1, 5, 7, 8, 24];
/// nf_tables' multicast group (`NFNLGRP_NFTABLES`).
const NFNLGRP_NFTABLES: u32 = 7;

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// On a dump message: what was dumped changed during the dump.
const NLM_F_DUMP_INTR: u16 = 0x10;
/// nf_tables message types (low byte) that notifications carry.
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;
const NFT_MSG_NEWGEN: u16 = 15;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;

/// How often a namespace's dumps are repeated when it changes under them.
pub(crate) const TRIES: usize = 5;

pub(crate) use crate::netns::NsId;

/// What changed in a namespace's nf_tables since it was last read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum NfDirty {
    /// Nothing.
    #[default]
    Clean,
    /// Only elements of these sets of cove's table.
    Sets(BTreeSet<String>),
    /// Anything else (or notifications were lost): read it all.
    All,
}

impl NfDirty {
    fn add_set(&mut self, set: String) {
        match self {
            NfDirty::Clean => *self = NfDirty::Sets(BTreeSet::from([set])),
            NfDirty::Sets(s) => {
                s.insert(set);
            }
            NfDirty::All => {}
        }
    }
}

/// The two sockets of one namespace.
pub(crate) struct NsSockets {
    /// The namespace's identity when the sockets were opened.
    pub(crate) id: NsId,
    route: Socket,
    route_port: u32,
    route_seq: u32,
    nf: Session,
    /// Whole nf_tables readings made on these sockets.
    pub(crate) rulesets_read: usize,
    /// Readings of some sets' elements only.
    pub(crate) set_reads: usize,
}

impl NsSockets {
    /// Opens both sockets in the namespace of the calling thread, which is `ns`
    /// with identity `id`; `subscribe` joins the notification groups.
    pub(crate) fn open_here(ns: &str, id: NsId, subscribe: bool) -> Result<NsSockets, HostError> {
        let failed = |what| {
            move |source: io::Error| HostError::ObserveSocket {
                ns: ns.to_owned(),
                what,
                hint: if source.raw_os_error() == Some(nix::libc::EMFILE) {
                    " (too many open files: raise the limit, `ulimit -n`, above twice the \
                     number of namespaces)"
                        .to_owned()
                } else {
                    String::new()
                },
                source,
            }
        };
        let mut route = Socket::new(NETLINK_ROUTE).map_err(failed("a route netlink socket"))?;
        let addr = route
            .bind_auto()
            .map_err(failed("a route netlink socket"))?;
        let mut nf_sock = Socket::new(netlink_sys::protocols::NETLINK_NETFILTER)
            .map_err(failed("a netfilter netlink socket"))?;
        nf_sock
            .bind_auto()
            .map_err(failed("a netfilter netlink socket"))?;
        let nf = Session::from_socket(nf_sock).map_err(failed("a netfilter netlink socket"))?;
        if subscribe {
            for g in RTNLGRP {
                route
                    .add_membership(g)
                    .map_err(failed("route notifications"))?;
            }
            nf.socket()
                .add_membership(NFNLGRP_NFTABLES)
                .map_err(failed("nf_tables notifications"))?;
        }
        Ok(NsSockets {
            id,
            route,
            route_port: addr.port_number(),
            route_seq: 0,
            nf,
            rulesets_read: 0,
            set_reads: 0,
        })
    }

    /// The sockets, to poll.
    pub(crate) fn fds(&self) -> [BorrowedFd<'_>; 2] {
        [self.route.as_fd(), self.nf.socket().as_fd()]
    }

    /// Reads and drops the route socket's pending notifications: whether there
    /// were any (an overrun counts).
    pub(crate) fn take_route_events(&self, ns: &str) -> Result<bool, HostError> {
        let mut buf = Vec::with_capacity(64 * 1024);
        nftnl::drain(&self.route, &mut buf).map_err(|source| HostError::Dump {
            ns: ns.to_owned(),
            what: "route notifications",
            source,
        })
    }

    /// Reads the nf_tables socket's pending notifications into `dirty`.
    pub(crate) fn take_nf_events(&self, ns: &str, dirty: &mut NfDirty) -> Result<(), HostError> {
        let mut buf = Vec::with_capacity(64 * 1024);
        let sock = self.nf.socket();
        loop {
            buf.clear();
            match sock.recv(&mut buf, nix::libc::MSG_DONTWAIT) {
                Ok(_) => classify(&buf, dirty),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(nix::libc::ENOBUFS) => *dirty = NfDirty::All,
                Err(source) => {
                    return Err(HostError::NftNetlink {
                        ns: ns.to_owned(),
                        table: nft::TABLE.to_owned(),
                        what: "read nf_tables notifications",
                        source,
                    });
                }
            }
        }
    }

    /// Reads links, addresses, routes, rules and `forwarding` (everything but
    /// `nft` and `foreign_tables`). Dumps that a change interrupted, or during
    /// which a notification arrived, are repeated.
    /// Also returns whether the reading is clean: `false` when the namespace kept
    /// changing (read it again next time).
    pub(crate) fn read_netlink(&mut self, ns: &str) -> Result<(NsState, bool), HostError> {
        let mut last = None;
        for _ in 0..TRIES {
            let mut changed = self.take_route_events(ns)?;
            let Some(d) = self.dumps(ns, &mut changed)? else {
                continue;
            };
            let (mut state, forwarding) = netlink_state(&d);
            state.forwarding = match forwarding {
                Some(f) => f,
                // Only where the kernel's link dump lacks it: `/proc/sys` follows
                // the reading thread's namespace.
                None => netns::run_in(ns, {
                    let ns = ns.to_owned();
                    move || sysctl::forwarding(&ns)
                })?,
            };
            if !changed {
                return Ok((state, true));
            }
            last = Some((state, false));
        }
        // Still changing: this reading is as good as any; the caller reads again
        // next time.
        last.ok_or_else(|| HostError::Dump {
            ns: ns.to_owned(),
            what: "links, addresses, routes and rules",
            source: io::Error::new(
                io::ErrorKind::Interrupted,
                format!("the namespace kept changing during {TRIES} readings"),
            ),
        })
    }

    /// The four dumps; `None` if one was interrupted.
    fn dumps(&mut self, ns: &str, changed: &mut bool) -> Result<Option<Dumps>, HostError> {
        let mut d = Dumps::default();
        let link = RouteNetlinkMessage::GetLink(LinkMessage::default());
        let Some(links) = self.dump(ns, "links", link, changed)? else {
            return Ok(None);
        };
        let mut addr = AddressMessage::default();
        addr.header.family = AddressFamily::Inet;
        let Some(addresses) = self.dump(
            ns,
            "addresses",
            RouteNetlinkMessage::GetAddress(addr),
            changed,
        )?
        else {
            return Ok(None);
        };
        let route = RouteMessageBuilder::<std::net::Ipv4Addr>::new().build();
        let Some(routes) =
            self.dump(ns, "routes", RouteNetlinkMessage::GetRoute(route), changed)?
        else {
            return Ok(None);
        };
        let mut rule = RuleMessage::default();
        rule.header.family = AddressFamily::Inet;
        rule.header.table = netlink_packet_route::route::RouteHeader::RT_TABLE_UNSPEC;
        let Some(rules) = self.dump(ns, "rules", RouteNetlinkMessage::GetRule(rule), changed)?
        else {
            return Ok(None);
        };
        for m in links {
            if let RouteNetlinkMessage::NewLink(l) = m {
                d.links.push(l);
            }
        }
        for m in addresses {
            if let RouteNetlinkMessage::NewAddress(a) = m {
                d.addresses.push(a);
            }
        }
        for m in routes {
            if let RouteNetlinkMessage::NewRoute(r) = m {
                d.routes.push(r);
            }
        }
        for m in rules {
            if let RouteNetlinkMessage::NewRule(r) = m {
                d.rules.push(r);
            }
        }
        Ok(Some(d))
    }

    /// One dump request and its answers; `None` if the kernel marked it
    /// interrupted. Messages that are not answers to it are notifications: they
    /// set `changed`.
    fn dump(
        &mut self,
        ns: &str,
        what: &'static str,
        req: RouteNetlinkMessage,
        changed: &mut bool,
    ) -> Result<Option<Vec<RouteNetlinkMessage>>, HostError> {
        let err = |source| HostError::Dump {
            ns: ns.to_owned(),
            what,
            source,
        };
        self.route_seq = self.route_seq.wrapping_add(1).max(1);
        let seq = self.route_seq;
        let mut msg = NetlinkMessage::from(req);
        msg.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        msg.header.sequence_number = seq;
        msg.finalize();
        let mut buf = vec![0; msg.buffer_len()];
        msg.serialize(&mut buf);
        self.route
            .send_to(&buf, &SocketAddr::new(0, 0), 0)
            .map_err(err)?;
        let mut out = Vec::new();
        let mut intr = false;
        let mut datagram = Vec::with_capacity(128 * 1024);
        loop {
            recv_next(&self.route, &mut datagram).map_err(err)?;
            let mut at = 0;
            while at + NLMSG_HDRLEN <= datagram.len() {
                let d = &datagram[at..];
                let len = u32::from_ne_bytes([d[0], d[1], d[2], d[3]]) as usize;
                let ty = u16::from_ne_bytes([d[4], d[5]]);
                let flags = u16::from_ne_bytes([d[6], d[7]]);
                let mseq = u32::from_ne_bytes([d[8], d[9], d[10], d[11]]);
                let port = u32::from_ne_bytes([d[12], d[13], d[14], d[15]]);
                if len < NLMSG_HDRLEN || len > d.len() {
                    return Err(err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "malformed netlink dump",
                    )));
                }
                let m = &d[..len];
                at += len.div_ceil(4) * 4;
                if mseq != seq || port != self.route_port {
                    *changed = true;
                    continue;
                }
                intr |= flags & NLM_F_DUMP_INTR != 0;
                match ty {
                    NLMSG_DONE => return Ok((!intr).then_some(out)),
                    NLMSG_ERROR => {
                        let code = m.get(16..20).map_or(-nix::libc::EPROTO, |b| {
                            i32::from_ne_bytes([b[0], b[1], b[2], b[3]])
                        });
                        if code != 0 {
                            return Err(err(io::Error::from_raw_os_error(-code)));
                        }
                    }
                    _ => {
                        let parsed = NetlinkMessage::<RouteNetlinkMessage>::deserialize(m)
                            .map_err(|e| {
                                err(io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
                            })?;
                        if let NetlinkPayload::InnerMessage(inner) = parsed.payload {
                            out.push(inner);
                        }
                    }
                }
            }
        }
    }

    /// Reads cove's table and every other one into `state` (`nft`,
    /// `foreign_tables`).
    pub(crate) fn read_nft(&mut self, ns: &str, state: &mut NsState) -> Result<(), HostError> {
        self.read_nft_deferring(ns, state, None).map(|_| ())
    }

    /// [`NsSockets::read_nft`], leaving the elements of more than `defer_over`
    /// sets to the caller (returned; `state`'s elements are then empty).
    pub(crate) fn read_nft_deferring(
        &mut self,
        ns: &str,
        state: &mut NsState,
        defer_over: Option<usize>,
    ) -> Result<Option<ruleset::Deferred>, HostError> {
        self.rulesets_read += 1;
        let rs = self.nf.read_ruleset_deferring(ns, nft::TABLE, defer_over)?;
        state.foreign_tables.clear();
        for t in &rs.tables {
            if t.family == ruleset::INET && t.name == nft::TABLE {
                continue;
            }
            state.foreign_tables.insert(ForeignTable {
                family: ruleset::family_name(t.family),
                name: t.name.clone(),
            });
        }
        state.nft = match &rs.digest {
            None => None,
            Some(digest) => {
                let comment = rs
                    .tables
                    .iter()
                    .find(|t| t.family == ruleset::INET && t.name == nft::TABLE)
                    .and_then(|t| t.comment.as_deref());
                let mut t = NftTable::new(nft::TABLE, nft::generation(comment), String::new());
                t.elements = match (&rs.elements, rs.named_sets) {
                    (Some(e), _) => e.clone(),
                    (None, false) => Default::default(),
                    // A set without a schema (not one cove declares): `nft` reads
                    // them all, inside the namespace.
                    (None, true) => netns::run_in(ns, {
                        let ns = ns.to_owned();
                        move || nft::elements(&ns)
                    })?,
                };
                t.rules_digest = Some(digest.clone());
                t.loaded_digest = rs.recorded.clone();
                Some(t)
            }
        };
        Ok(rs.deferred)
    }

    /// Brings `state`'s nf_tables part (`nft`, `foreign_tables`) up to date with
    /// what `dirty` says changed; returns what notifications read meanwhile say
    /// changed since (to read next).
    pub(crate) fn refresh_nft(
        &mut self,
        ns: &str,
        state: &mut NsState,
        dirty: NfDirty,
    ) -> Result<NfDirty, HostError> {
        let sets = match dirty {
            NfDirty::Clean => return Ok(NfDirty::Clean),
            NfDirty::All => {
                // The reading drops what is queued: it reflects all of it.
                self.read_nft(ns, state)?;
                return Ok(NfDirty::Clean);
            }
            NfDirty::Sets(sets) => sets,
        };
        let Some(table) = state.nft.as_mut() else {
            self.read_nft(ns, state)?;
            return Ok(NfDirty::Clean);
        };
        self.set_reads += 1;
        let mut late = NfDirty::Clean;
        let read = self.nf.read_sets(ns, nft::TABLE, &sets, None, &mut |m| {
            classify(m, &mut late);
        })?;
        let Some(read) = read else {
            // The ruleset changed during the reading.
            self.read_nft(ns, state)?;
            return Ok(NfDirty::Clean);
        };
        for (name, elems) in read {
            match elems {
                None => {
                    self.read_nft(ns, state)?;
                    return Ok(NfDirty::Clean);
                }
                Some(e) if e.is_empty() => {
                    table.elements.remove(&name);
                }
                Some(e) => {
                    table.elements.insert(name, e);
                }
            }
        }
        Ok(late)
    }
}

/// Adds what one datagram of nf_tables notifications says changed to `dirty`:
/// element changes of cove's table name their set; a new generation alone says
/// nothing (every commit sends one); anything else needs a whole reading.
fn classify(datagram: &[u8], dirty: &mut NfDirty) {
    let mut at = 0;
    while at + NLMSG_HDRLEN <= datagram.len() {
        let d = &datagram[at..];
        let len = u32::from_ne_bytes([d[0], d[1], d[2], d[3]]) as usize;
        let ty = u16::from_ne_bytes([d[4], d[5]]);
        if len < NLMSG_HDRLEN || len > d.len() {
            *dirty = NfDirty::All;
            return;
        }
        at += len.div_ceil(4) * 4;
        if ty >> 8 != NFNL_SUBSYS_NFTABLES {
            *dirty = NfDirty::All;
            continue;
        }
        match ty & 0xff {
            NFT_MSG_NEWGEN => {}
            NFT_MSG_NEWSETELEM | NFT_MSG_DELSETELEM if len >= NLMSG_HDRLEN + 4 => {
                let family = d[NLMSG_HDRLEN];
                let a = ruleset::attrs(&d[NLMSG_HDRLEN + 4..len]);
                let get = |t: u16| {
                    a.iter().find(|(x, _)| *x == t).map(|(_, v)| {
                        let end = v.iter().position(|c| *c == 0).unwrap_or(v.len());
                        String::from_utf8_lossy(&v[..end]).into_owned()
                    })
                };
                match (get(NFTA_SET_ELEM_LIST_TABLE), get(NFTA_SET_ELEM_LIST_SET)) {
                    (Some(t), Some(s)) if family == ruleset::INET && t == nft::TABLE => {
                        dirty.add_set(s);
                    }
                    // Another table's elements are not observed.
                    (Some(_), Some(_)) => {}
                    _ => *dirty = NfDirty::All,
                }
            }
            _ => *dirty = NfDirty::All,
        }
    }
}

/// Reads the whole namespace through `socks`.
pub(crate) fn read_all(socks: &mut NsSockets, ns: &str) -> Result<NsState, HostError> {
    read_all_deferring(socks, ns, None).map(|(s, _)| s)
}

/// [`read_all`], leaving the elements of more than `defer_over` sets to the
/// caller (see [`NsSockets::read_nft_deferring`]).
pub(crate) fn read_all_deferring(
    socks: &mut NsSockets,
    ns: &str,
    defer_over: Option<usize>,
) -> Result<(NsState, Option<ruleset::Deferred>), HostError> {
    let (mut state, _) = socks.read_netlink(ns)?;
    let deferred = socks.read_nft_deferring(ns, &mut state, defer_over)?;
    Ok((state, deferred))
}

/// Reads the elements of `sets` of cove's table in the namespace of the calling
/// thread (`ns`), on a socket of its own, if the ruleset is still at
/// `generation`; `None` otherwise, or if a set is gone or not decodable.
pub(crate) fn read_sets_here(
    ns: &str,
    sets: &[String],
    generation: u32,
) -> Result<Option<nftnl::Elements>, HostError> {
    let mut session = Session::open_here(ns, nft::TABLE)?;
    let Some(read) = session.read_sets(ns, nft::TABLE, sets, Some(generation), &mut |_| {})? else {
        return Ok(None);
    };
    let mut out = nftnl::Elements::new();
    for (name, elems) in read {
        match elems {
            None => return Ok(None),
            Some(e) if e.is_empty() => {}
            Some(e) => {
                out.insert(name, e);
            }
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A notification datagram: one message of nf_tables type `ty` with the
    /// given family, table and set attributes.
    fn note(ty: u16, family: u8, table: &str, set: &str) -> Vec<u8> {
        let attr = |t: u16, v: &str| {
            let mut b = Vec::new();
            let len = 4 + v.len() + 1;
            b.extend_from_slice(&u16::try_from(len).expect("short").to_ne_bytes());
            b.extend_from_slice(&t.to_ne_bytes());
            b.extend_from_slice(v.as_bytes());
            b.push(0);
            b.resize(len.div_ceil(4) * 4, 0);
            b
        };
        let mut payload = vec![family, 0, 0, 0];
        payload.extend(attr(NFTA_SET_ELEM_LIST_TABLE, table));
        payload.extend(attr(NFTA_SET_ELEM_LIST_SET, set));
        let len = NLMSG_HDRLEN + payload.len();
        let mut m = Vec::new();
        m.extend_from_slice(&u32::try_from(len).expect("short").to_ne_bytes());
        m.extend_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | ty).to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend(payload);
        m
    }

    #[test]
    fn element_notifications_name_their_set_and_anything_else_reads_it_all() {
        let mut d = NfDirty::Clean;
        classify(&note(NFT_MSG_NEWGEN, 0, "", ""), &mut d);
        assert_eq!(d, NfDirty::Clean);
        classify(
            &note(NFT_MSG_NEWSETELEM, ruleset::INET, nft::TABLE, "src_links"),
            &mut d,
        );
        classify(
            &note(NFT_MSG_DELSETELEM, ruleset::INET, nft::TABLE, "link_mac"),
            &mut d,
        );
        assert_eq!(
            d,
            NfDirty::Sets(BTreeSet::from(["link_mac".into(), "src_links".into()]))
        );
        // Elements of another table are not observed.
        classify(&note(NFT_MSG_NEWSETELEM, 2, "other", "x"), &mut d);
        assert!(matches!(d, NfDirty::Sets(_)));
        // A rule (type 6, NEWRULE) changed: everything is read.
        classify(&note(6, ruleset::INET, nft::TABLE, "x"), &mut d);
        assert_eq!(d, NfDirty::All);
        // A truncated datagram: everything.
        let mut d = NfDirty::Clean;
        let mut cut = note(NFT_MSG_NEWSETELEM, ruleset::INET, nft::TABLE, "s");
        cut.truncate(20);
        cut[0..4].copy_from_slice(&64u32.to_ne_bytes());
        classify(&cut, &mut d);
        assert_eq!(d, NfDirty::All);
    }
}
