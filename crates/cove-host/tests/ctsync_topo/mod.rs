//! The harness of `ctsync.rs`: the namespaces (client, gateways A and B, server),
//! their traffic, and reading their conntrack tables.

#![allow(dead_code)]
pub use std::collections::BTreeSet;
pub use std::io::{ErrorKind, Read, Write};
pub use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
pub use std::os::fd::{AsFd, AsRawFd, OwnedFd};
pub use std::process::Command;
pub use std::sync::atomic::{AtomicBool, Ordering};
pub use std::sync::{Arc, Mutex};
pub use std::thread::{self, JoinHandle};
pub use std::time::{Duration, Instant};

pub use cove_host::{
    NatEntry, Replicator, ReplicatorConfig, delete_nat_entry, nat_entries, write_nat_entry,
};
pub use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, bind, connect, listen, setsockopt,
    socket, sockopt,
};

pub use nix::sys::time::TimeVal;

pub use super::common::{chain, eventually, privileged};

pub const A_ADDR: Ipv4Addr = Ipv4Addr::new(10, 80, 0, 10);
pub const SERVER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 1), 9000);
pub const UDP_SERVER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 1), 9001);
pub const CLIENTS: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 81, 1, 10), Ipv4Addr::new(10, 81, 1, 11)];

/// One topology at a time: the machine has two cores.
pub static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `timeout 10 ARGS` (optionally inside namespace `ns`), panics on failure.
pub fn sh(ns: Option<&str>, args: &[&str]) {
    let mut cmd = Command::new("timeout");
    cmd.arg("10");
    if let Some(ns) = ns {
        cmd.args(["ip", "netns", "exec", ns]);
    }
    let out = cmd.args(args).output().expect("run timeout");
    assert!(
        out.status.success(),
        "{ns:?} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The four namespaces of one test; deleted on drop.
pub struct Topo {
    pub c: String,
    pub a: String,
    pub b: String,
    pub s: String,
}

impl Topo {
    pub fn new(tag: char) -> Topo {
        let p = format!("cvcs{}{tag}", std::process::id());
        let t = Topo {
            c: format!("{p}-c"),
            a: format!("{p}-a"),
            b: format!("{p}-b"),
            s: format!("{p}-s"),
        };
        t.delete();
        for ns in t.all() {
            sh(None, &["ip", "netns", "add", ns]);
            sh(Some(ns), &["ip", "link", "set", "lo", "up"]);
            sh(
                Some(ns),
                &[
                    "sysctl",
                    "-qw",
                    "net.ipv4.conf.all.rp_filter=0",
                    "net.ipv4.conf.default.rp_filter=0",
                    "net.ipv4.ip_forward=1",
                ],
            );
        }
        let (c, a, b, s) = (&t.c, &t.a, &t.b, &t.s);
        let veth = |x: &str, xn: &str, y: &str, yn: &str| {
            sh(
                None,
                &[
                    "ip", "link", "add", xn, "netns", x, "type", "veth", "peer", "name", yn,
                    "netns", y,
                ],
            );
            sh(Some(x), &["ip", "link", "set", xn, "up"]);
            sh(Some(y), &["ip", "link", "set", yn, "up"]);
        };
        veth(c, "ca", a, "lan");
        veth(c, "cb", b, "lan");
        veth(a, "wan", s, "sa");
        veth(b, "wan", s, "sb");
        // On `lo`: the client addresses must outlive A's link.
        for ip in CLIENTS {
            sh(
                Some(c),
                &["ip", "addr", "add", &format!("{ip}/32"), "dev", "lo"],
            );
        }
        sh(
            Some(c),
            &[
                "ip",
                "route",
                "add",
                "default",
                "via",
                "10.81.0.1",
                "dev",
                "ca",
                "onlink",
            ],
        );
        for (g, wan) in [(a, "10.80.0.10/32"), (b, "10.80.0.11/32")] {
            sh(
                Some(g),
                &["ip", "addr", "add", "10.81.0.1/32", "dev", "lan"],
            );
            sh(
                Some(g),
                &["ip", "route", "add", "10.81.1.0/24", "dev", "lan"],
            );
            sh(Some(g), &["ip", "addr", "add", wan, "dev", "wan"]);
            sh(
                Some(g),
                &[
                    "ip",
                    "route",
                    "add",
                    "default",
                    "via",
                    "10.80.0.1",
                    "dev",
                    "wan",
                    "onlink",
                ],
            );
            sh(
                Some(g),
                &[
                    "nft",
                    "add table inet cvcs; add chain inet cvcs post { type nat hook postrouting priority srcnat; policy accept; }; \
                     add rule inet cvcs post oifname \"wan\" ip saddr 10.81.1.0/24 meta l4proto { tcp, udp } snat ip to 10.80.0.10:1024-65535",
                ],
            );
        }
        sh(
            Some(s),
            &["ip", "addr", "add", "198.51.100.1/32", "dev", "lo"],
        );
        sh(Some(s), &["ip", "addr", "add", "10.80.0.1/32", "dev", "lo"]);
        sh(
            Some(s),
            &["ip", "route", "add", "10.80.0.10/32", "dev", "sa"],
        );
        sh(
            Some(s),
            &["ip", "route", "add", "10.80.0.11/32", "dev", "sb"],
        );
        t
    }

    pub fn all(&self) -> [&String; 4] {
        [&self.c, &self.a, &self.b, &self.s]
    }

    pub fn delete(&self) {
        for ns in self.all() {
            let _ = Command::new("timeout")
                .args(["10", "ip", "netns", "del", ns])
                .output();
        }
    }

    /// B carries A's address; the server's route and the client's default route
    /// move to B; then A's namespace is deleted.
    pub fn take_over(&self) {
        sh(
            Some(&self.b),
            &["ip", "addr", "add", "10.80.0.10/32", "dev", "wan"],
        );
        sh(
            Some(&self.s),
            &["ip", "route", "replace", "10.80.0.10/32", "dev", "sb"],
        );
        sh(
            Some(&self.c),
            &[
                "ip",
                "route",
                "replace",
                "default",
                "via",
                "10.81.0.1",
                "dev",
                "cb",
                "onlink",
            ],
        );
        sh(None, &["ip", "netns", "del", &self.a]);
    }

    /// Whether A's namespace is really gone: its veth's peer in the server
    /// namespace disappears with it (a socket held in A would keep it).
    pub fn a_is_gone(&self) -> bool {
        !Command::new("ip")
            .args(["-n", &self.s, "link", "show", "sa"])
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

impl Drop for Topo {
    fn drop(&mut self) {
        self.delete();
    }
}

/// Runs `f` on a fresh thread inside namespace `ns`.
pub fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("open the namespace");
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
    .join()
    .expect("namespace thread")
}

/// The echo server (TCP :9000, UDP :9001): one thread polling every socket;
/// records the peers.
pub struct Server {
    pub stop: Arc<AtomicBool>,
    pub peers: Arc<Mutex<Vec<SocketAddr>>>,
    pub udp_peers: Arc<Mutex<Vec<SocketAddr>>>,
    pub errors: Arc<Mutex<Vec<String>>>,
    pub thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(ns: &str) -> Server {
        let (listener, udp) = in_ns(ns, || {
            let fd = socket(
                AddressFamily::Inet,
                SockType::Stream,
                SockFlag::SOCK_CLOEXEC,
                None,
            )
            .expect("socket");
            setsockopt(&fd, sockopt::ReuseAddr, &true).expect("reuse");
            bind(fd.as_raw_fd(), &SockaddrIn::from(SERVER)).expect("bind the server");
            listen(&fd, Backlog::new(4096).expect("backlog")).expect("listen");
            let udp = std::net::UdpSocket::bind(UDP_SERVER).expect("bind the UDP server");
            (TcpListener::from(fd), udp)
        });
        listener.set_nonblocking(true).expect("nonblocking");
        udp.set_nonblocking(true).expect("nonblocking");
        let udp_peers = Arc::new(Mutex::new(Vec::new()));
        let up = Arc::clone(&udp_peers);
        let stop = Arc::new(AtomicBool::new(false));
        let peers = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let (st, pe, er) = (Arc::clone(&stop), Arc::clone(&peers), Arc::clone(&errors));
        let thread = thread::spawn(move || {
            let mut conns: Vec<TcpStream> = Vec::new();
            let mut buf = [0u8; 256];
            while !st.load(Ordering::Acquire) {
                let ready: Vec<bool> = {
                    let mut fds: Vec<nix::poll::PollFd> = [listener.as_fd(), udp.as_fd()]
                        .into_iter()
                        .chain(conns.iter().map(|c| c.as_fd()))
                        .map(|fd| nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLIN))
                        .collect();
                    let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(50u16));
                    fds.iter()
                        .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                        .collect()
                };
                let mut closed = Vec::new();
                for (i, c) in conns.iter_mut().enumerate() {
                    if !ready[i + 2] {
                        continue;
                    }
                    match c.read(&mut buf) {
                        Ok(0) => closed.push(i),
                        Ok(n) => {
                            if let Err(e) = c.write_all(&buf[..n]) {
                                er.lock().expect("errors").push(format!("write: {e}"));
                                closed.push(i);
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        Err(e) => {
                            er.lock().expect("errors").push(format!("read: {e}"));
                            closed.push(i);
                        }
                    }
                }
                for i in closed.into_iter().rev() {
                    conns.swap_remove(i);
                }
                if ready[1] {
                    while let Ok((n, peer)) = udp.recv_from(&mut buf) {
                        up.lock().expect("peers").push(peer);
                        let _ = udp.send_to(&buf[..n], peer);
                    }
                }
                if ready[0] {
                    while let Ok((c, peer)) = listener.accept() {
                        c.set_nonblocking(true).expect("nonblocking");
                        pe.lock().expect("peers").push(peer);
                        conns.push(c);
                    }
                }
            }
        });
        Server {
            stop,
            peers,
            udp_peers,
            errors,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Opens `per_source` connections from each client address, from source ports
/// `port0..`, inside the client namespace; returns them in order and when the last
/// one was open.
pub fn open(ns: &str, per_source: u16, port0: u16) -> (Vec<TcpStream>, Instant) {
    in_ns(ns, move || {
        let mut out = Vec::new();
        for i in 0..per_source {
            for ip in CLIENTS {
                let fd: OwnedFd = socket(
                    AddressFamily::Inet,
                    SockType::Stream,
                    SockFlag::SOCK_CLOEXEC,
                    None,
                )
                .expect("socket");
                setsockopt(&fd, sockopt::ReuseAddr, &true).expect("reuse");
                // Bounds `connect` too.
                setsockopt(&fd, sockopt::SendTimeout, &TimeVal::new(5, 0)).expect("timeout");
                let src = SocketAddrV4::new(ip, port0 + i);
                bind(fd.as_raw_fd(), &SockaddrIn::from(src)).expect("bind a client");
                connect(fd.as_raw_fd(), &SockaddrIn::from(SERVER))
                    .unwrap_or_else(|e| panic!("connect from {src}: {e}"));
                out.push(TcpStream::from(fd));
            }
        }
        (out, Instant::now())
    })
}

/// How the connections fared in one echo round.
#[derive(Debug, Default)]
pub struct Round {
    pub kept: usize,
    pub reset: usize,
    pub stalled: usize,
    pub other: usize,
}

/// Each connection sends a byte and waits (5 s at most for all) for its echo.
pub fn round(conns: &mut [TcpStream]) -> Round {
    let mut r = Round::default();
    let mut sent = vec![true; conns.len()];
    for (i, c) in conns.iter_mut().enumerate() {
        if c.write_all(b"x").is_err() {
            sent[i] = false;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    for (i, c) in conns.iter_mut().enumerate() {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        c.set_read_timeout(Some(left)).expect("timeout");
        let mut b = [0u8; 1];
        match c.read(&mut b) {
            Ok(1) if sent[i] => r.kept += 1,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => r.reset += 1,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                r.stalled += 1;
            }
            _ if !sent[i] => r.reset += 1,
            _ => r.other += 1,
        }
    }
    r
}

/// One UDP socket per client address, all from port `port` (so A remaps one of
/// them), connected to the UDP echo server.
pub fn udp_flows(ns: &str, port: u16) -> Vec<std::net::UdpSocket> {
    in_ns(ns, move || {
        CLIENTS
            .iter()
            .map(|ip| {
                let s = std::net::UdpSocket::bind(SocketAddrV4::new(*ip, port)).expect("bind");
                s.connect(UDP_SERVER).expect("connect");
                s.set_read_timeout(Some(Duration::from_secs(3)))
                    .expect("timeout");
                s
            })
            .collect()
    })
}

/// How many of the UDP flows get their datagram echoed.
pub fn udp_round(flows: &[std::net::UdpSocket]) -> usize {
    flows
        .iter()
        .filter(|s| {
            let mut b = [0u8; 8];
            s.send(b"u").is_ok() && s.recv(&mut b).is_ok_and(|n| n == 1)
        })
        .count()
}

/// The TCP entries to the server translated to A's address, with client source
/// ports in `ports`.
pub fn entries(ns: &str, ports: std::ops::Range<u16>) -> BTreeSet<NatEntry> {
    nat_entries(ns, &[A_ADDR])
        .unwrap_or_else(|e| panic!("entries of {ns}: {}", chain(&e)))
        .into_iter()
        .filter(|e| e.protocol == 6 && e.destination == SERVER && ports.contains(&e.source.port()))
        .collect()
}

pub fn replicator(t: &Topo) -> Replicator {
    Replicator::start(ReplicatorConfig::new(&t.a, &t.b, vec![A_ADDR]))
        .unwrap_or_else(|e| panic!("start the replicator: {}", chain(&e)))
}

pub fn more_fds() {
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).expect("rlimit");
    let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard);
}
