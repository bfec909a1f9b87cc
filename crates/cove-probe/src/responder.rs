//! Servers for probes: accept TCP connections, echo UDP datagrams.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, UdpSocket};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use socket2::{Domain, Socket, Type};

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
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || serve(&listeners, &datagrams, &flag));
        Ok(Responder {
            stop,
            thread: Some(thread),
        })
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

fn serve(listeners: &[TcpListener], datagrams: &[UdpSocket], stop: &AtomicBool) {
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
    }
}
