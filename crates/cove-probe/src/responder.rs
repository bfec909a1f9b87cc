//! Servers for probes: accept TCP connections, echo UDP datagrams, answer raw IP
//! packets of other protocols.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, UdpSocket};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use socket2::{Domain, Protocol, Socket, Type};

use crate::netns::{ProbeError, in_namespace};

/// TCP listeners and UDP echo sockets in one namespace, served by one thread until
/// stopped or dropped.
#[derive(Debug)]
pub struct Responder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn socket_err(ns: &str, what: String) -> impl FnOnce(std::io::Error) -> ProbeError + '_ {
    move |source| ProbeError::Socket {
        ns: ns.to_owned(),
        what,
        source,
    }
}

impl Responder {
    /// Listens on `tcp` and `udp` ports of address `bind` (`0.0.0.0`: every address)
    /// in namespace `ns`. In a namespace with several addresses, bind the one clients
    /// use: a UDP reply from `0.0.0.0` takes the source address routing picks.
    pub fn start(
        ns: &str,
        bind: Ipv4Addr,
        tcp: &[u16],
        udp: &[u16],
    ) -> Result<Responder, ProbeError> {
        let (listeners, datagrams) = in_namespace(ns, || {
            let mut ls = Vec::new();
            for p in tcp {
                let s = Socket::new(Domain::IPV4, Type::STREAM, None)
                    .map_err(socket_err(ns, format!("tcp/{p}")))?;
                s.set_reuse_address(true)
                    .map_err(socket_err(ns, format!("tcp/{p}")))?;
                let addr = SocketAddr::V4(SocketAddrV4::new(bind, *p));
                s.bind(&addr.into())
                    .map_err(socket_err(ns, format!("bind tcp/{p}")))?;
                s.listen(1024)
                    .map_err(socket_err(ns, format!("listen tcp/{p}")))?;
                s.set_nonblocking(true)
                    .map_err(socket_err(ns, format!("tcp/{p}")))?;
                ls.push(TcpListener::from(s));
            }
            let mut us = Vec::new();
            for p in udp {
                let u =
                    UdpSocket::bind((bind, *p)).map_err(socket_err(ns, format!("bind udp/{p}")))?;
                u.set_nonblocking(true)
                    .map_err(socket_err(ns, format!("udp/{p}")))?;
                us.push(u);
            }
            Ok::<_, ProbeError>((ls, us))
        })??;
        Ok(Self::serving(listeners, datagrams, Vec::new()))
    }

    /// Answers raw IP packets of `protocols` (other than TCP, UDP and ICMP) sent by
    /// [`crate::ProbeKind::Raw`] probes to address `bind` (`0.0.0.0`: every address)
    /// in namespace `ns`, from that address.
    pub fn raw(ns: &str, bind: Ipv4Addr, protocols: &[u8]) -> Result<Responder, ProbeError> {
        let sockets = in_namespace(ns, || {
            let mut out = Vec::new();
            for p in protocols {
                let what = || format!("raw/{p}");
                let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(i32::from(*p))))
                    .map_err(socket_err(ns, what()))?;
                s.bind(&SocketAddr::V4(SocketAddrV4::new(bind, 0)).into())
                    .map_err(socket_err(ns, what()))?;
                s.set_nonblocking(true).map_err(socket_err(ns, what()))?;
                out.push(s);
            }
            Ok::<_, ProbeError>(out)
        })??;
        Ok(Self::serving(Vec::new(), Vec::new(), sockets))
    }

    fn serving(listeners: Vec<TcpListener>, datagrams: Vec<UdpSocket>, raw: Vec<Socket>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || serve(&listeners, &datagrams, &raw, &flag));
        Responder {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops serving and closes the sockets.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.halt();
    }
}

fn serve(listeners: &[TcpListener], datagrams: &[UdpSocket], raw: &[Socket], stop: &AtomicBool) {
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let mut fds: Vec<PollFd<'_>> = listeners
            .iter()
            .map(|l| PollFd::new(l.as_fd(), PollFlags::POLLIN))
            .chain(
                datagrams
                    .iter()
                    .map(|u| PollFd::new(u.as_fd(), PollFlags::POLLIN)),
            )
            .chain(
                raw.iter()
                    .map(|r| PollFd::new(r.as_fd(), PollFlags::POLLIN)),
            )
            .collect();
        if poll(&mut fds, PollTimeout::from(50u8)).unwrap_or(0) == 0 {
            continue;
        }
        drop(fds);
        for l in listeners {
            while let Ok((conn, _)) = l.accept() {
                drop(conn);
            }
        }
        for u in datagrams {
            while let Ok((n, from)) = u.recv_from(&mut buf) {
                let _ = u.send_to(&buf[..n], from);
            }
        }
        for r in raw {
            while let Ok(n) = std::io::Read::read(&mut &*r, &mut buf) {
                answer_raw(r, &buf[..n]);
            }
        }
    }
}

/// Answers one raw request (marker and id after the IP header) to its source; the
/// socket also sees answers and other packets of its protocol, which it ignores.
fn answer_raw(socket: &Socket, packet: &[u8]) {
    let Some(payload) = crate::client::ip_payload(packet) else {
        return;
    };
    let Some(id) = payload.strip_prefix(crate::client::RAW_REQUEST) else {
        return;
    };
    let Some(src) = packet.get(12..16) else {
        return;
    };
    let from = Ipv4Addr::new(src[0], src[1], src[2], src[3]);
    let reply = [crate::client::RAW_REPLY, id].concat();
    let _ = socket.send_to(&reply, &SocketAddr::V4(SocketAddrV4::new(from, 0)).into());
}
