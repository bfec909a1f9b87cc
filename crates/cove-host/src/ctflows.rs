//! Counted connections for flow logs (issue 14): a namespace's conntrack table
//! with per-direction packet and byte counters and start times, and the entries
//! that ended since the last reading (destroy events, with their final counters).
//!
//! No work per packet: the kernel counts (`nf_conntrack_acct`) and stamps
//! (`nf_conntrack_timestamp`) each entry; cove reads each connection once per
//! reading and once more when it ends.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use cove_flowlog::{Counts, CtFlow};
use netlink_sys::Socket;

use crate::conntrack::{
    CTA_TUPLE_ORIG, CTA_TUPLE_REPLY, CTA_ZONE, IPCTNL_MSG_CT_DELETE, NFGENMSG_LEN,
    NFNL_SUBSYS_CTNETLINK, addresses, attr, attrs, dump,
};
use crate::ctsync_msg::{
    CTA_PROTO_DST_PORT, CTA_PROTO_NUM, CTA_PROTO_SRC_PORT, CTA_PROTOINFO, CTA_PROTOINFO_TCP,
    CTA_PROTOINFO_TCP_STATE, CTA_TUPLE_PROTO, frames,
};
use crate::ctsync_target::{ANSWER_TIMEOUT, ct_socket, errno, here, socket_error, still};
use crate::error::HostError;
use crate::netns::{self, NsId};

const CTA_COUNTERS_ORIG: u16 = 9;
const CTA_COUNTERS_REPLY: u16 = 10;
const CTA_ID: u16 = 12;
const CTA_TIMESTAMP: u16 = 20;
const CTA_COUNTERS_PACKETS: u16 = 1;
const CTA_COUNTERS_BYTES: u16 = 2;
const CTA_COUNTERS32_PACKETS: u16 = 3;
const CTA_COUNTERS32_BYTES: u16 = 4;
const CTA_TIMESTAMP_START: u16 = 1;
/// `NFNLGRP_CONNTRACK_DESTROY`.
const GROUP_DESTROY: u32 = 3;

/// The sysctls that make the kernel count and stamp new connections.
const SYSCTLS: [&str; 2] = [
    "/proc/sys/net/netfilter/nf_conntrack_acct",
    "/proc/sys/net/netfilter/nf_conntrack_timestamp",
];

/// One entry's attributes (after `nfgenmsg`) as a [`CtFlow`]; `None` for IPv6.
pub fn parse_flow(attributes: &[u8]) -> Option<CtFlow> {
    let list = attrs(attributes);
    let (orig, proto) = tuple(attr(&list, CTA_TUPLE_ORIG)?.1)?;
    let (reply, _) = tuple(attr(&list, CTA_TUPLE_REPLY)?.1)?;
    let be = |b: &[u8]| -> Option<u64> {
        match b.len() {
            8 => Some(u64::from_be_bytes(b.try_into().ok()?)),
            4 => Some(u64::from(u32::from_be_bytes(b.try_into().ok()?))),
            _ => None,
        }
    };
    let counts = |ty| -> Counts {
        let Some((_, payload)) = attr(&list, ty) else {
            return Counts::default();
        };
        let c = attrs(payload);
        let get = |a, b| {
            attr(&c, a)
                .or_else(|| attr(&c, b))
                .and_then(|(_, p)| be(p))
                .unwrap_or(0)
        };
        Counts {
            packets: get(CTA_COUNTERS_PACKETS, CTA_COUNTERS32_PACKETS),
            bytes: get(CTA_COUNTERS_BYTES, CTA_COUNTERS32_BYTES),
        }
    };
    let start_ns = attr(&list, CTA_TIMESTAMP)
        .and_then(|(_, p)| attr(&attrs(p), CTA_TIMESTAMP_START).and_then(|(_, s)| be(s)));
    let tcp_state = attr(&list, CTA_PROTOINFO)
        .and_then(|(_, p)| attr(&attrs(p), CTA_PROTOINFO_TCP).map(|(_, t)| attrs(t)))
        .and_then(|t| attr(&t, CTA_PROTOINFO_TCP_STATE).and_then(|(_, s)| s.first().copied()));
    Some(CtFlow {
        id: attr(&list, CTA_ID)
            .and_then(|(_, p)| be(p))
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0),
        zone: attr(&list, CTA_ZONE)
            .and_then(|(_, p)| Some(u16::from_be_bytes(p.try_into().ok()?)))
            .unwrap_or(0),
        proto,
        orig,
        reply,
        orig_counts: counts(CTA_COUNTERS_ORIG),
        reply_counts: counts(CTA_COUNTERS_REPLY),
        start_ns,
        tcp_state,
    })
}

/// A `CTA_TUPLE_*` payload: source and destination (ports 0 where the protocol
/// has none), and the protocol.
fn tuple(payload: &[u8]) -> Option<((SocketAddrV4, SocketAddrV4), u8)> {
    let (src, dst): (Ipv4Addr, Ipv4Addr) = addresses(payload)?;
    let l4 = attrs(attr(&attrs(payload), CTA_TUPLE_PROTO)?.1);
    let proto = *attr(&l4, CTA_PROTO_NUM)?.1.first()?;
    let port = |ty| -> u16 {
        attr(&l4, ty)
            .and_then(|(_, p)| <[u8; 2]>::try_from(p).ok())
            .map_or(0, u16::from_be_bytes)
    };
    let (sp, dp) = if matches!(proto, 6 | 17 | 132 | 136) {
        (port(CTA_PROTO_SRC_PORT), port(CTA_PROTO_DST_PORT))
    } else {
        (0, 0)
    };
    Some((
        (SocketAddrV4::new(src, sp), SocketAddrV4::new(dst, dp)),
        proto,
    ))
}

/// What one reading found.
#[derive(Debug, Default)]
pub struct Reading {
    /// Entries that ended since the last reading, with their final counters.
    pub ended: Vec<CtFlow>,
    /// Every live entry now.
    pub live: Vec<CtFlow>,
    /// Destroy events the kernel could not deliver (the socket's buffer was full):
    /// those connections' last moves are lost.
    pub lost_events: u64,
}

/// A namespace's counted connections, read on demand.
pub struct FlowReader {
    events: Socket,
    table: TableReader,
    buf: Vec<u8>,
}

impl std::fmt::Debug for FlowReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowReader")
            .field("ns", &self.table.ns)
            .finish_non_exhaustive()
    }
}

impl FlowReader {
    /// Turns counting and timestamps on in namespace `ns` (for connections that
    /// start from now on) and subscribes to its destroy events.
    pub fn open(ns: &str) -> Result<FlowReader, HostError> {
        let name = ns.to_owned();
        let (id, events, table) = netns::run_in(ns, move || {
            for path in SYSCTLS {
                std::fs::write(path, "1")
                    .map_err(socket_error(&name, "turn on conntrack accounting"))?;
            }
            let id = here(&name)?;
            let events = ct_socket(&name, Duration::from_millis(1), 32 << 20)?;
            events
                .add_membership(GROUP_DESTROY)
                .map_err(socket_error(&name, "subscribe to conntrack destroy events"))?;
            events
                .set_non_blocking(true)
                .map_err(socket_error(&name, "make the event socket non-blocking"))?;
            let socket = ct_socket(&name, ANSWER_TIMEOUT, 4 << 20)?;
            Ok((id, events, socket))
        })?;
        Ok(FlowReader {
            events,
            table: TableReader {
                ns: ns.to_owned(),
                id,
                socket: table,
            },
            buf: vec![0; 1 << 20],
        })
    }

    /// Whether `/run/netns/<ns>` is still the namespace this reader was opened in
    /// (a replaced router needs a new reader).
    pub fn current(&self) -> bool {
        self.table.current()
    }

    /// The destroy events since the last reading, then the whole table.
    pub fn read(&mut self) -> Result<Reading, HostError> {
        let mut r = Reading::default();
        let mut ended = Vec::new();
        r.lost_events = drain(
            &self.events,
            &mut self.buf,
            &self.table.ns,
            "read conntrack destroy events",
            |ty, payload| {
                if ty >> 8 == NFNL_SUBSYS_CTNETLINK && ty & 0xff == IPCTNL_MSG_CT_DELETE {
                    if let Some(flow) = payload.get(NFGENMSG_LEN..).and_then(parse_flow) {
                        ended.push(flow);
                    }
                }
            },
        )?;
        r.ended = ended;
        r.live = self.table.read()?;
        Ok(r)
    }
}

/// Reads every message waiting on non-blocking subscription socket `socket`,
/// handing each one's type and payload to `each`; returns how often the kernel
/// could not deliver (the socket's buffer was full: messages were lost).
pub(crate) fn drain(
    socket: &Socket,
    buf: &mut [u8],
    ns: &str,
    what: &'static str,
    mut each: impl FnMut(u16, &[u8]),
) -> Result<u64, HostError> {
    let mut lost = 0;
    loop {
        match socket.recv(&mut &mut buf[..], 0) {
            Ok(0) => return Ok(lost),
            Ok(n) => {
                for f in frames(&buf[..n]) {
                    each(f.ty, f.payload);
                }
            }
            Err(e) if errno(&e) == nix::libc::ENOBUFS => lost += 1,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Ok(lost);
            }
            Err(source) => {
                return Err(HostError::Conntrack {
                    ns: ns.to_owned(),
                    what,
                    source,
                });
            }
        }
    }
}

/// A namespace's conntrack table, read whole on demand (a NAT gateway's, for
/// the translations it made).
pub struct TableReader {
    ns: String,
    id: NsId,
    socket: Socket,
}

impl std::fmt::Debug for TableReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableReader")
            .field("ns", &self.ns)
            .finish_non_exhaustive()
    }
}

impl TableReader {
    /// A reader of namespace `ns`'s table (its socket opened inside it).
    pub fn open(ns: &str) -> Result<TableReader, HostError> {
        let name = ns.to_owned();
        let (id, socket) = netns::run_in(ns, move || {
            Ok((here(&name)?, ct_socket(&name, ANSWER_TIMEOUT, 4 << 20)?))
        })?;
        Ok(TableReader {
            ns: ns.to_owned(),
            id,
            socket,
        })
    }

    /// Whether `/run/netns/<ns>` is still the namespace this reader was opened in.
    pub fn current(&self) -> bool {
        still(&self.ns, self.id)
    }

    /// Every IPv4 entry now.
    pub fn read(&self) -> Result<Vec<CtFlow>, HostError> {
        let mut out = Vec::new();
        dump(&self.socket, &self.ns, |a| {
            if let Some(flow) = parse_flow(a) {
                out.push(flow);
            }
        })?;
        Ok(out)
    }
}

/// A NAT gateway's namespace at one moment: its tracked connections per address
/// they were translated to, and its port-allocation failures so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatSample {
    /// Connections per translated (public) address.
    pub connections: std::collections::BTreeMap<Ipv4Addr, u64>,
    /// New connections whose entry could not be inserted (no free port).
    pub port_allocation_errors: u64,
}

/// Samples the NAT gateway namespace `ns` (read on a thread inside it).
pub fn nat_sample(ns: &str) -> Result<NatSample, HostError> {
    let name = ns.to_owned();
    let connections = netns::run_in(ns, move || {
        crate::conntrack::count_translated(&name, ipnet::Ipv4Net::default())
    })?;
    let stats = crate::conntrack::conntrack_stats(ns)?;
    Ok(NatSample {
        connections,
        port_allocation_errors: stats.insert_failed,
    })
}
