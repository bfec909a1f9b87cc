//! DNS over TCP (RFC 7766: two-byte length, then the message; several queries per
//! connection). The listener lives in the router's namespace, where the kernel
//! gives each accepted connection its SYN's routing mark
//! (`net.ipv4.tcp_fwmark_accept`): its VPC bits and the peer's address pick the
//! view, and the answers are routed back into that VPC.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cove_dns::{Reply, respond};
use socket2::{Domain, Protocol, SockRef, Socket, Type};

use crate::upstream::Forwarder;
use crate::{Shared, Stats, TICK};

/// How long an idle connection is kept.
const IDLE: Duration = Duration::from_secs(10);

/// How long a forwarded question may take before the connection gets SERVFAIL.
const FORWARD_WAIT: Duration = Duration::from_secs(5);

/// The listener on `port` of every address (opened inside the router's
/// namespace); `accept` wakes up every [`TICK`].
pub(crate) fn open(port: u16) -> io::Result<TcpListener> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    // As for UDP: the answers' source is local only in a VPC's table (accepted
    // connections inherit it).
    s.set_ip_transparent_v4(true)?;
    s.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port).into())?;
    s.listen(1024)?;
    // `accept` honours the receive timeout.
    s.set_read_timeout(Some(TICK))?;
    Ok(s.into())
}

/// Accepts connections until the resolver stops, each served on a thread of its
/// own (at most `max` at once).
pub(crate) fn serve(
    shared: &Arc<Shared>,
    listener: &TcpListener,
    forwarder: &Arc<Forwarder>,
    max: usize,
) {
    let open = Arc::new(AtomicUsize::new(0));
    while !shared.stopping() {
        let Ok((stream, _)) = listener.accept() else {
            continue;
        };
        if open.load(Ordering::Relaxed) >= max {
            // Closed at once; the client tries again.
            continue;
        }
        open.fetch_add(1, Ordering::Relaxed);
        let (s, f, o) = (Arc::clone(shared), Arc::clone(forwarder), Arc::clone(&open));
        let spawned = std::thread::Builder::new()
            .name("dns-tcp-conn".into())
            .spawn(move || {
                let _ = connection(&s, stream, &f);
                o.fetch_sub(1, Ordering::Relaxed);
            });
        if spawned.is_err() {
            open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Serves one connection's queries until it closes, idles or the resolver stops.
fn connection(shared: &Shared, mut stream: TcpStream, forwarder: &Forwarder) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE))?;
    stream.set_nodelay(true)?;
    let SocketAddr::V4(peer) = stream.peer_addr()? else {
        return Ok(());
    };
    let mark = SockRef::from(&stream).mark()?;
    loop {
        if shared.stopping() {
            return Ok(());
        }
        let mut len = [0u8; 2];
        stream.read_exact(&mut len)?;
        let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut query)?;
        Stats::add(&shared.stats.tcp_queries);
        let catalog = shared.catalog();
        let reply = match catalog.by_mark(mark, *peer.ip()) {
            Some(view) => respond(view, &query, false),
            None => {
                Stats::add(&shared.stats.no_view);
                cove_dns::message::refused(&query)
            }
        };
        let answer = match reply {
            Reply::Send(bytes) => {
                Stats::add(&shared.stats.local_answers);
                bytes
            }
            Reply::Forward {
                query,
                answers,
                name,
            } => match forwarder.forward_and_wait(query, answers, name, FORWARD_WAIT) {
                Some(bytes) => bytes,
                None => continue,
            },
            Reply::Drop => continue,
        };
        let Ok(n) = u16::try_from(answer.len()) else {
            continue;
        };
        let mut out = Vec::with_capacity(answer.len() + 2);
        out.extend_from_slice(&n.to_be_bytes());
        out.extend_from_slice(&answer);
        stream.write_all(&out)?;
    }
}
