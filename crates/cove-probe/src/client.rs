//! Client probes, created in their namespaces and waited for together.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use socket2::{Domain, Protocol, Socket, Type};

use crate::netns::{ProbeError, in_namespace};

/// What to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// A TCP connection to this port (success: the handshake completes).
    Tcp(u16),
    /// A UDP datagram to this port (success: the echo comes back).
    Udp(u16),
    /// An ICMP echo request (success: the echo reply comes back).
    IcmpEcho,
    /// A raw IP packet of this protocol (not TCP, UDP or ICMP), answered by a
    /// [`crate::Responder::raw`] (success: its answer comes back).
    Raw(u8),
}

/// The payload of a raw request: this marker, then the probe's 2-byte id.
pub(crate) const RAW_REQUEST: &[u8] = b"cove-req";
/// The payload of a raw answer: this marker, then the request's id.
pub(crate) const RAW_REPLY: &[u8] = b"cove-rep";

/// The IP payload of a received raw packet (after the header), if well-formed.
pub(crate) fn ip_payload(packet: &[u8]) -> Option<&[u8]> {
    let ihl = usize::from(packet.first()? & 0x0f) * 4;
    packet.get(ihl..)
}

/// One probe: from a namespace, a source address and port, to a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Source namespace.
    pub ns: String,
    /// Source address to bind (`None`: the kernel picks).
    pub src: Option<Ipv4Addr>,
    /// Source port to bind (TCP/UDP; ignored for ICMP).
    pub src_port: u16,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// What to send.
    pub kind: ProbeKind,
}

struct Pending {
    socket: Socket,
    kind: ProbeKind,
    /// The raw probe's id (its `src_port`).
    id: u16,
    done: Option<bool>,
}

fn open(p: &Probe) -> Result<Pending, ProbeError> {
    let err = |what: &str| {
        let ns = p.ns.clone();
        let what = format!("{what} {:?} to {}", p.kind, p.dst);
        move |source| ProbeError::Socket { ns, what, source }
    };
    let (ty, proto, port) = match p.kind {
        ProbeKind::Tcp(port) => (Type::STREAM, Protocol::TCP, port),
        ProbeKind::Udp(port) => (Type::DGRAM, Protocol::UDP, port),
        ProbeKind::IcmpEcho => (Type::DGRAM, Protocol::ICMPV4, 0),
        ProbeKind::Raw(n) => (Type::RAW, Protocol::from(i32::from(n)), 0),
    };
    let s = Socket::new(Domain::IPV4, ty, Some(proto)).map_err(err("create"))?;
    s.set_nonblocking(true).map_err(err("nonblocking"))?;
    if matches!(p.kind, ProbeKind::Tcp(_) | ProbeKind::Udp(_)) {
        s.set_reuse_address(true).map_err(err("reuse"))?;
        s.set_linger(Some(Duration::ZERO)).map_err(err("linger"))?;
        let src = SocketAddr::V4(SocketAddrV4::new(
            p.src.unwrap_or(Ipv4Addr::UNSPECIFIED),
            p.src_port,
        ));
        s.bind(&src.into()).map_err(err("bind"))?;
    } else if let Some(src) = p.src {
        s.bind(&SocketAddr::V4(SocketAddrV4::new(src, 0)).into())
            .map_err(err("bind"))?;
    }
    let dst = SocketAddr::V4(SocketAddrV4::new(p.dst, port));
    let raw_request = [RAW_REQUEST, &p.src_port.to_be_bytes()].concat();
    let mut done = None;
    match s.connect(&dst.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(nix::libc::EINPROGRESS) => {}
        // Network unreachable and friends: the flow is blocked.
        Err(_) => done = Some(false),
    }
    if done.is_none() {
        let payload: &[u8] = match p.kind {
            ProbeKind::Tcp(_) => &[],
            ProbeKind::Udp(_) => b"cove-probe",
            // Echo request: type 8, code 0, checksum and id filled in by the kernel.
            ProbeKind::IcmpEcho => &[8, 0, 0, 0, 0, 0, 0, 1, b'c', b'o', b'v', b'e'],
            ProbeKind::Raw(_) => &raw_request,
        };
        if !payload.is_empty() && s.send(payload).is_err() {
            done = Some(false);
        }
    }
    Ok(Pending {
        socket: s,
        kind: p.kind,
        id: p.src_port,
        done,
    })
}

/// Runs every probe concurrently and waits at most `timeout` for all of them.
/// Returns, per probe, whether it succeeded.
pub fn run_batch(probes: &[Probe], timeout: Duration) -> Result<Vec<bool>, ProbeError> {
    // Create sockets namespace by namespace.
    let mut pending: Vec<Option<Pending>> = (0..probes.len()).map(|_| None).collect();
    let mut by_ns: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, p) in probes.iter().enumerate() {
        by_ns.entry(p.ns.as_str()).or_default().push(i);
    }
    for (ns, idx) in by_ns {
        let opened = in_namespace(ns, || {
            idx.iter()
                .map(|i| open(&probes[*i]).map(|p| (*i, p)))
                .collect::<Result<Vec<_>, _>>()
        })??;
        for (i, p) in opened {
            pending[i] = Some(p);
        }
    }
    let mut pending: Vec<Pending> = pending.into_iter().flatten().collect();
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 2048];
    loop {
        let open: Vec<usize> = (0..pending.len())
            .filter(|i| pending[*i].done.is_none())
            .collect();
        let left = deadline.saturating_duration_since(Instant::now());
        if open.is_empty() || left.is_zero() {
            break;
        }
        let mut fds: Vec<PollFd<'_>> = open
            .iter()
            .map(|i| {
                let p = &pending[*i];
                let ev = match p.kind {
                    ProbeKind::Tcp(_) => PollFlags::POLLOUT,
                    _ => PollFlags::POLLIN,
                };
                PollFd::new(p.socket.as_fd(), ev)
            })
            .collect();
        let ms = u16::try_from(left.as_millis().clamp(1, 1000)).unwrap_or(1000);
        let n = poll(&mut fds, PollTimeout::from(ms)).unwrap_or(0);
        if n == 0 {
            continue;
        }
        let ready: Vec<(usize, PollFlags)> = open
            .iter()
            .zip(fds.iter())
            .filter_map(|(i, f)| f.revents().filter(|r| !r.is_empty()).map(|r| (*i, r)))
            .collect();
        drop(fds);
        for (i, _) in ready {
            let p = &mut pending[i];
            p.done = match p.kind {
                // Only the answer to this probe counts (the socket also sees
                // requests the destination sends, and answers to other probes).
                ProbeKind::Raw(_) => {
                    let want = [RAW_REPLY, &p.id.to_be_bytes()].concat();
                    match std::io::Read::read(&mut &p.socket, &mut buf) {
                        Ok(n) if ip_payload(&buf[..n]) == Some(&want[..]) => Some(true),
                        Ok(_) => None,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
                        Err(_) => Some(false),
                    }
                }
                _ => Some(match p.kind {
                    ProbeKind::Tcp(_) => matches!(p.socket.take_error(), Ok(None)),
                    _ => {
                        let r = std::io::Read::read(&mut &p.socket, &mut buf);
                        matches!(r, Ok(n) if n > 0)
                    }
                }),
            };
        }
    }
    Ok(pending
        .into_iter()
        .map(|p| p.done.unwrap_or(false))
        .collect())
}
