//! Watching the links of one namespace (the host router's) without a process: a
//! route netlink socket opened inside it once, subscribed to link notifications,
//! read without blocking on every poll. What it answers: which links exist and
//! whether their carrier is up (`IFF_LOWER_UP`) — the NAT gateways' health for
//! issue 11's failover (a gateway's namespace deleted or its link down shows up
//! as its router-side link gone or down within milliseconds).

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::MetadataExt;

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use rtnetlink::packet_core::{NLM_F_DUMP, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload};

use crate::error::HostError;
use crate::netns;

/// `RTNLGRP_LINK`: link notifications.
const RTNLGRP_LINK: u32 = 1;

/// The links of a namespace as last seen: name → carrier up.
pub type LinkStates = BTreeMap<String, bool>;

/// A namespace's links, kept current from its notifications.
#[derive(Debug)]
pub struct LinkMonitor {
    ns: String,
    /// The identity (device, inode) of the namespace the socket lives in.
    id: (u64, u64),
    socket: Socket,
    states: LinkStates,
    /// Links that were deleted or lost their carrier since the last poll, even if
    /// they are back now (a failure the reconciler repaired at once is still one).
    flapped: std::collections::BTreeSet<String>,
    seq: u32,
}

fn failed<'a>(ns: &'a str, what: &'static str) -> impl Fn(io::Error) -> HostError + 'a {
    move |source| HostError::Dump {
        ns: ns.to_owned(),
        what,
        source,
    }
}

impl LinkMonitor {
    /// Opens the monitor of namespace `ns` and reads its links.
    pub fn open(ns: &str) -> Result<LinkMonitor, HostError> {
        let name = ns.to_owned();
        let (socket, id) = netns::run_in(ns, move || {
            let file = netns::open(&name)?;
            let meta = file.metadata().map_err(failed(&name, "the namespace"))?;
            let mut s = Socket::new(NETLINK_ROUTE).map_err(failed(&name, "a route socket"))?;
            s.bind_auto().map_err(failed(&name, "a route socket"))?;
            s.add_membership(RTNLGRP_LINK)
                .map_err(failed(&name, "link notifications"))?;
            Ok((s, (meta.dev(), meta.ino())))
        })?;
        let mut m = LinkMonitor {
            ns: ns.to_owned(),
            id,
            socket,
            states: LinkStates::new(),
            flapped: std::collections::BTreeSet::new(),
            seq: 0,
        };
        m.read_all()?;
        Ok(m)
    }

    /// The links now: the notifications since the last poll applied (the whole
    /// list read again after lost notifications), and a link that was deleted or
    /// lost its carrier since the last poll reported down even if it is back. If
    /// the namespace was replaced under its name, the monitor reopens in the new
    /// one; if it is gone, no link exists.
    pub fn poll(&mut self) -> Result<LinkStates, HostError> {
        match std::fs::metadata(netns::ns_path(&self.ns)) {
            Ok(meta) if (meta.dev(), meta.ino()) == self.id => {}
            Ok(_) => *self = LinkMonitor::open(&self.ns)?,
            Err(_) => {
                self.states.clear();
                return Ok(LinkStates::new());
            }
        }
        let mut buf = Vec::with_capacity(64 * 1024);
        loop {
            buf.clear();
            match self.socket.recv(&mut buf, nix::libc::MSG_DONTWAIT) {
                Ok(_) => {
                    self.apply(&buf);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(nix::libc::ENOBUFS) => {
                    self.read_all()?;
                    break;
                }
                Err(e) => return Err(failed(&self.ns, "link notifications")(e)),
            }
        }
        let mut out = self.states.clone();
        for name in std::mem::take(&mut self.flapped) {
            out.insert(name, false);
        }
        Ok(out)
    }

    /// Applies every link message in one datagram; returns whether it ended a dump.
    /// Notifications (not dump answers) of a link deleted or down mark it flapped.
    fn apply(&mut self, datagram: &[u8]) -> bool {
        let mut at = 0;
        let mut done = false;
        while at + 16 <= datagram.len() {
            let d = &datagram[at..];
            let len = u32::from_ne_bytes([d[0], d[1], d[2], d[3]]) as usize;
            if len < 16 || len > d.len() {
                break;
            }
            at += len.div_ceil(4) * 4;
            let Ok(msg) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&d[..len]) else {
                continue;
            };
            let notification = msg.header.sequence_number == 0;
            match msg.payload {
                NetlinkPayload::Done(_) => done = true,
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                    if let Some(name) = link_name(&l) {
                        let up = l.header.flags.contains(LinkFlags::LowerUp);
                        if notification && !up && self.states.get(&name) == Some(&true) {
                            self.flapped.insert(name.clone());
                        }
                        self.states.insert(name, up);
                    }
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l)) => {
                    if let Some(name) = link_name(&l) {
                        if notification {
                            self.flapped.insert(name.clone());
                        }
                        self.states.remove(&name);
                    }
                }
                _ => {}
            }
        }
        done
    }

    /// Reads every link again (notifications that arrive meanwhile are applied
    /// in order with the answers).
    fn read_all(&mut self) -> Result<(), HostError> {
        self.states.clear();
        self.seq = self.seq.wrapping_add(1).max(1);
        let mut msg = NetlinkMessage::from(RouteNetlinkMessage::GetLink(LinkMessage::default()));
        msg.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        msg.header.sequence_number = self.seq;
        msg.finalize();
        let mut out = vec![0; msg.buffer_len()];
        msg.serialize(&mut out);
        self.socket
            .send_to(&out, &SocketAddr::new(0, 0), 0)
            .map_err(failed(&self.ns, "links"))?;
        let mut buf = Vec::with_capacity(64 * 1024);
        loop {
            crate::nftnl::recv_next(&self.socket, &mut buf).map_err(failed(&self.ns, "links"))?;
            if self.apply(&buf) {
                return Ok(());
            }
        }
    }
}

fn link_name(l: &LinkMessage) -> Option<String> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    })
}
