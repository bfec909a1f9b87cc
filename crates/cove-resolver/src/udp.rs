//! DNS over UDP: one thread inside the router's namespace. Each query comes with
//! the interface it arrived on (`IP_PKTINFO`), whose name (cove's, stable across
//! generations) picks the VPC's view; the answer leaves on that interface from
//! the address the query was sent to (base + 2, or 169.254.169.253).

use std::collections::{HashMap, HashSet};
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Instant;

use cove_dns::{Reply, respond};
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrIn, recvmmsg, sendmsg,
    setsockopt, sockopt,
};
use socket2::{Domain, Protocol, Socket, Type};

use crate::memo::{FORWARDED_FOR, Memo};
use crate::outbox::Outbox;
use crate::upstream::{Client, Forwarder};
use crate::{Shared, Stats, TICK};

/// The largest query taken over UDP (a query is a few dozen bytes; EDNS allows
/// more, and anything longer is cut and answered FORMERR).
const MAX_QUERY: usize = 4096;

/// Queries taken from the socket in one call.
const BATCH: usize = 32;

/// How often the fast path's answers are added to the counters (at most; the
/// thread wakes at least every `TICK`).
const COLLECT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// How often, at most, the fast path lets go of links that are gone (when the
/// catalog changes).
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Link names the thread remembers (interface indexes are not reused while
/// the namespace lives, so an entry never goes stale; the map is emptied when
/// it grows past this).
const MAX_NAMES: usize = 65_536;

/// A UDP socket on `port` of every address, with `IP_PKTINFO` on (opened inside
/// the router's namespace); several share the port (`SO_REUSEPORT`).
pub(crate) fn open(port: u16) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    // Several sockets (one per UDP thread) share the port.
    s.set_reuse_port(true)?;
    // Answers leave from base + 2 or 169.254.169.253, which are local only in the
    // VPCs' tables, not addresses of an interface: the kernel checks a source
    // address against the interfaces unless the socket is transparent.
    s.set_ip_transparent_v4(true)?;
    // Bursts of queries wait here rather than being dropped (the kernel caps it at
    // `rmem_max`).
    let _ = s.set_recv_buffer_size(4 << 20);
    s.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port).into())?;
    s.set_read_timeout(Some(TICK))?;
    let s: UdpSocket = s.into();
    setsockopt(&s, sockopt::Ipv4PacketInfo, &true).map_err(io::Error::from)?;
    Ok(s)
}

/// Where the answer to a UDP query goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UdpClient {
    /// The client's address and port.
    pub(crate) to: SocketAddrV4,
    /// The interface the query arrived on.
    pub(crate) ifindex: i32,
    /// The address the query was sent to (the answer's source).
    pub(crate) from: Ipv4Addr,
    /// The routing mark of the client's VPC (0 until the view is known).
    pub(crate) mark: u32,
}

/// The router's UDP socket, and the routing mark it sends with now.
pub(crate) struct Sender {
    socket: UdpSocket,
    mark: std::sync::Mutex<u32>,
}

impl Sender {
    pub(crate) fn new(socket: UdpSocket) -> Sender {
        Sender {
            socket,
            mark: std::sync::Mutex::new(0),
        }
    }

    /// Sends `bytes` to `client` with its VPC's routing mark: the answer is
    /// routed by the VPC's own table (whose route to the client is cached by
    /// the kernel), out of the client's interface.
    pub(crate) fn send(&self, client: &UdpClient, bytes: &[u8]) -> io::Result<()> {
        self.with_mark(client.mark, |socket| send_to(socket, client, bytes))
            .and_then(|sent| sent)
    }

    /// Runs `send` with the socket's routing mark set to `mark` (no other
    /// thread sends meanwhile). An error setting the mark is returned instead.
    pub(crate) fn with_mark<T>(
        &self,
        mark: u32,
        send: impl FnOnce(&UdpSocket) -> T,
    ) -> io::Result<T> {
        let mut current = self.mark.lock().unwrap_or_else(|e| e.into_inner());
        if *current != mark {
            socket2::SockRef::from(&self.socket).set_mark(mark)?;
            *current = mark;
        }
        Ok(send(&self.socket))
    }
}

/// The `IP_PKTINFO` an answer to `client` is sent with: out of its interface,
/// from the address it asked.
pub(crate) fn packet_info(client: &UdpClient) -> libc::in_pktinfo {
    libc::in_pktinfo {
        ipi_ifindex: client.ifindex,
        ipi_spec_dst: libc::in_addr {
            s_addr: u32::from_ne_bytes(client.from.octets()),
        },
        ipi_addr: libc::in_addr { s_addr: 0 },
    }
}

/// Sends `bytes` to `client`, out of its interface, from the address it asked.
/// The interface is fixed: if the socket's mark does not lead there (a catalog
/// older or newer than the router's rules), the route lookup finds nothing and
/// the kernel sends it on that interface all the same (its "destination is on
/// link" fallback); it never leaves anywhere else.
fn send_to(socket: &UdpSocket, client: &UdpClient, bytes: &[u8]) -> io::Result<()> {
    let info = packet_info(client);
    let to = SockaddrIn::from(client.to);
    sendmsg(
        socket.as_raw_fd(),
        &[IoSlice::new(bytes)],
        &[ControlMessage::Ipv4PacketInfo(&info)],
        MsgFlags::empty(),
        Some(&to),
    )
    .map(|_| ())
    .map_err(io::Error::from)
}

/// The client of a received datagram (`None` without its `IP_PKTINFO`).
fn client_of(msg: &nix::sys::socket::RecvMsg<'_, '_, SockaddrIn>) -> Option<UdpClient> {
    let addr = msg.address?;
    let info = msg.cmsgs().ok()?.find_map(|c| match c {
        ControlMessageOwned::Ipv4PacketInfo(i) => Some(i),
        _ => None,
    })?;
    Some(UdpClient {
        to: SocketAddrV4::new(addr.ip(), addr.port()),
        ifindex: info.ipi_ifindex,
        from: Ipv4Addr::from(info.ipi_addr.s_addr.to_ne_bytes()),
        mark: 0,
    })
}

/// The name of interface `ifindex` of this thread's namespace.
fn link_name(names: &mut HashMap<i32, String>, ifindex: i32) -> Option<&str> {
    if !names.contains_key(&ifindex) {
        let index = u32::try_from(ifindex).ok()?;
        let name = nix::net::if_::if_indextoname(index).ok()?;
        if names.len() >= MAX_NAMES {
            names.clear();
        }
        names.insert(ifindex, name.to_string_lossy().into_owned());
    }
    names.get(&ifindex).map(String::as_str)
}

/// Serves UDP queries until the resolver stops (runs inside the router's
/// namespace: interface names are looked up there).
pub(crate) fn serve(shared: &Shared, socket: &Sender, forwarder: &Forwarder) {
    let mut names = HashMap::new();
    // Interface → its VPC's view and routing mark, for the catalog `views_of`.
    let mut views: HashMap<i32, Option<(Arc<cove_dns::View>, u32)>> = HashMap::new();
    let mut views_of = 0u32;
    let mut memo = Memo::new();
    let mut outbox = Outbox::new(BATCH);
    // Links the fast path was put on (or tried), and those to put it on after
    // this batch's answers are sent.
    let mut fast_links: HashSet<i32> = HashSet::new();
    let mut new_links: Vec<i32> = Vec::new();
    let mut collected = Instant::now();
    let mut pruned = Instant::now();
    let mut headers =
        MultiHeaders::<SockaddrIn>::preallocate(BATCH, Some(nix::cmsg_space!(libc::in_pktinfo)));
    let mut bufs = vec![vec![0u8; MAX_QUERY]; BATCH];
    let fd = socket.socket.as_raw_fd();
    while !shared.stopping() {
        if let Some(f) = &shared.fast {
            if collected.elapsed() >= COLLECT_EVERY {
                f.collect(&shared.stats);
                collected = Instant::now();
            }
        }
        // Every query waiting, up to `BATCH`, in one call (it waits for the first).
        let mut iovs: Vec<[IoSliceMut<'_>; 1]> =
            bufs.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
        let Ok(received) = recvmmsg(
            fd,
            &mut headers,
            iovs.iter_mut(),
            MsgFlags::MSG_WAITFORONE,
            None,
        ) else {
            continue;
        };
        let (generation, catalog) = shared.generation_and_catalog();
        memo.catalog(generation as usize);
        if views_of != generation {
            views.clear();
            views_of = generation;
            // Links gone since (their namespace's ENI removed): the kernel took
            // the program off them; let go of them too — one look per link, so
            // not at every generation on a busy host.
            if let Some(f) = &shared.fast {
                if pruned.elapsed() >= PRUNE_EVERY {
                    f.prune(|i| nix::net::if_::if_indextoname(i).is_err());
                    fast_links.retain(|i| u32::try_from(*i).is_ok_and(|i| f.attached(i)));
                    pruned = Instant::now();
                }
            }
        }
        for msg in received {
            let (Some(mut client), Some(query)) = (client_of(&msg), msg.iovs().next()) else {
                continue;
            };
            Stats::add(&shared.stats.udp_queries);
            // The interface's view, looked up by name once per catalog.
            let found = views.entry(client.ifindex).or_insert_with(|| {
                link_name(&mut names, client.ifindex)
                    .and_then(|n| catalog.link(n))
                    .map(|(view, mark)| (Arc::clone(view), mark))
            });
            let Some((view, mark)) = found else {
                // Not a link of a VPC whose resolver is on (the router lets no such
                // query in; a link created since the catalog was read gets its view
                // with the next one, and the client asks again).
                Stats::add(&shared.stats.no_view);
                continue;
            };
            client.mark = *mark;
            let failed = answer(
                shared,
                socket,
                forwarder,
                &mut memo,
                &mut outbox,
                view,
                (client, generation),
                query,
            );
            Stats::add_n(&shared.stats.send_errors, failed);
            if shared.fast.is_some() && fast_links.insert(client.ifindex) {
                new_links.push(client.ifindex);
            }
        }
        Stats::add_n(&shared.stats.send_errors, outbox.flush(socket));
        // The fast path goes on links seen for the first time, once their
        // answers are on their way.
        if let Some(f) = &shared.fast {
            for i in new_links.drain(..) {
                if let (Ok(index), Some(name)) = (u32::try_from(i), link_name(&mut names, i)) {
                    let _ = f.attach(index, name);
                }
            }
        }
    }
}

/// Answers one query from `view`: from the memo, the view, or the forwarder.
/// Answers known now are queued in `outbox`; returns how many answers could
/// not be sent meanwhile (a full outbox is flushed).
#[allow(clippy::too_many_arguments)]
fn answer(
    shared: &Shared,
    socket: &Sender,
    forwarder: &Forwarder,
    memo: &mut Memo,
    outbox: &mut Outbox,
    view: &Arc<cove_dns::View>,
    (client, generation): (UdpClient, u32),
    query: &[u8],
) -> usize {
    let view_key = Arc::as_ptr(view) as usize;
    let now = Instant::now();
    // The answer goes to the fast path too (authoritative ones until the catalog
    // changes, cached forwarded ones for as long as the memo replays them).
    let keep = |bytes: &[u8], ttl: Option<std::time::Duration>| {
        if let (Some(f), Ok(ifindex)) = (&shared.fast, u32::try_from(client.ifindex)) {
            f.put(ifindex, client.from, generation, query, bytes, ttl);
        }
    };
    if let Some((answer, forwarded)) = memo.get(view_key, query, now) {
        Stats::add(if forwarded {
            &shared.stats.cache_hits
        } else {
            &shared.stats.local_answers
        });
        // The map lost it (made room), or the query was one the program leaves
        // alone: kept again, but only where the program is (no system call per
        // repeated query on a link it could not go on).
        let on_link =
            |f: &crate::FastPath| u32::try_from(client.ifindex).is_ok_and(|i| f.attached(i));
        if !forwarded && shared.fast.as_ref().is_some_and(on_link) {
            keep(answer, None);
        }
        return outbox.push(socket, client, answer);
    }
    match respond(view, query, true) {
        Reply::Send(bytes) => {
            Stats::add(&shared.stats.local_answers);
            memo.put(view_key, query, &bytes, None);
            keep(&bytes, None);
            outbox.push(socket, client, &bytes)
        }
        Reply::Forward {
            query: parsed,
            answers,
            name,
        } => {
            let Some((bytes, cached)) =
                forwarder.forward(Client::Udp(client), parsed, answers, name)
            else {
                return 0;
            };
            if cached {
                memo.put(view_key, query, &bytes, Some(now + FORWARDED_FOR));
                keep(&bytes, Some(FORWARDED_FOR));
            }
            outbox.push(socket, client, &bytes)
        }
        Reply::Drop => 0,
    }
}
