//! Privileged tests of the conntrack replicator (`cove_host::Replicator`) with real
//! traffic: a client, NAT gateways A and B, and a server, each in a namespace named
//! `cvcs<pid><tag>-…` (nothing else is touched; all are deleted on drop, even on
//! failure). As root they run; otherwise they are skipped, except under `CI=true`
//! where not being root fails them.
//!
//! ```text
//!  client 10.81.1.10, 10.81.1.11 ─ ca ─ lan: A 10.81.0.1 ─ wan: A 10.80.0.10 ─ sa ─┐
//!        (default via A; takeover:  ─ cb ─ lan: B 10.81.0.1 ─ wan: B 10.80.0.11 ─ sb ─ server
//!         via B)                                                  198.51.100.1:9000 (echo)
//! ```
//!
//! Both gateways translate the client's subnet to A's address (`snat ip to
//! 10.80.0.10:1024-65535`). The client opens its connections from both of its
//! addresses with the same source ports, so A keeps the port for one and remaps it
//! for the other: a fresh translation in B would differ. Takeover: B adds A's
//! address, the server's route to it and the client's default route move to B,
//! A's namespace is deleted.
//!
//! Needs the Debian packages `iproute2 nftables`.

mod common;

use std::collections::BTreeSet;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use cove_host::{
    NatEntry, Replicator, ReplicatorConfig, delete_nat_entry, nat_entries, write_nat_entry,
};
use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, bind, connect, listen, setsockopt,
    socket, sockopt,
};

use nix::sys::time::TimeVal;

use common::{chain, eventually, privileged};

const A_ADDR: Ipv4Addr = Ipv4Addr::new(10, 80, 0, 10);
const SERVER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 1), 9000);
const UDP_SERVER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 1), 9001);
const CLIENTS: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 81, 1, 10), Ipv4Addr::new(10, 81, 1, 11)];

/// One topology at a time: the machine has two cores.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `timeout 10 ARGS` (optionally inside namespace `ns`), panics on failure.
fn sh(ns: Option<&str>, args: &[&str]) {
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
struct Topo {
    c: String,
    a: String,
    b: String,
    s: String,
}

impl Topo {
    fn new(tag: char) -> Topo {
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

    fn all(&self) -> [&String; 4] {
        [&self.c, &self.a, &self.b, &self.s]
    }

    fn delete(&self) {
        for ns in self.all() {
            let _ = Command::new("timeout")
                .args(["10", "ip", "netns", "del", ns])
                .output();
        }
    }

    /// B carries A's address; the server's route and the client's default route
    /// move to B; then A's namespace is deleted.
    fn take_over(&self) {
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
    fn a_is_gone(&self) -> bool {
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
fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
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
struct Server {
    stop: Arc<AtomicBool>,
    peers: Arc<Mutex<Vec<SocketAddr>>>,
    udp_peers: Arc<Mutex<Vec<SocketAddr>>>,
    errors: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(ns: &str) -> Server {
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
fn open(ns: &str, per_source: u16, port0: u16) -> (Vec<TcpStream>, Instant) {
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
struct Round {
    kept: usize,
    reset: usize,
    stalled: usize,
    other: usize,
}

/// Each connection sends a byte and waits (5 s at most for all) for its echo.
fn round(conns: &mut [TcpStream]) -> Round {
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
fn udp_flows(ns: &str, port: u16) -> Vec<std::net::UdpSocket> {
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
fn udp_round(flows: &[std::net::UdpSocket]) -> usize {
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
fn entries(ns: &str, ports: std::ops::Range<u16>) -> BTreeSet<NatEntry> {
    nat_entries(ns, &[A_ADDR])
        .unwrap_or_else(|e| panic!("entries of {ns}: {}", chain(&e)))
        .into_iter()
        .filter(|e| e.protocol == 6 && e.destination == SERVER && ports.contains(&e.source.port()))
        .collect()
}

fn replicator(t: &Topo) -> Replicator {
    Replicator::start(ReplicatorConfig::new(&t.a, &t.b, vec![A_ADDR]))
        .unwrap_or_else(|e| panic!("start the replicator: {}", chain(&e)))
}

fn more_fds() {
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).expect("rlimit");
    let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard);
}

/// 200 connections (half of them remapped by A) survive A's deletion with the
/// replicator, with 0 resets, and the server sees A's address and the same ports;
/// the replicator releases A's namespace.
#[test]
fn connections_survive_a_failover_with_replication() {
    if !privileged("connections_survive_a_failover_with_replication") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    more_fds();
    let t = Topo::new('f');
    let server = Server::start(&t.s);
    // Half before the replicator starts (its initial dump), half after (events).
    let (mut conns, _) = open(&t.c, 50, 20000);
    let rep = replicator(&t);
    let (more, _) = open(&t.c, 50, 20050);
    conns.extend(more);
    let udp = udp_flows(&t.c, 5000);
    assert_eq!(udp_round(&udp), 2, "UDP echoes before the failover");
    let udp_before: BTreeSet<SocketAddr> = server
        .udp_peers
        .lock()
        .expect("peers")
        .iter()
        .copied()
        .collect();
    assert_eq!(udp_before.len(), 2, "two UDP flows seen: {udp_before:?}");
    let before = round(&mut conns);
    assert_eq!(before.kept, 200, "before the failover: {before:?}");
    let ports = 20000..20100;
    let in_a = entries(&t.a, ports.clone());
    assert_eq!(in_a.len(), 200, "A's entries");
    let remapped = in_a
        .iter()
        .filter(|e| e.translated.port() != e.source.port())
        .count();
    eprintln!("A: {} entries, {remapped} with a remapped port", in_a.len());
    assert!(remapped >= 90, "A remapped {remapped} ports");
    let copied = eventually(10, || entries(&t.b, ports.clone()) == in_a);
    let in_b = entries(&t.b, ports.clone());
    eprintln!(
        "B: {} of A's {} entries with the same translation; stats {:?}",
        in_b.intersection(&in_a).count(),
        in_a.len(),
        rep.stats()
    );
    assert!(copied, "B holds a copy of each of A's entries");
    let udp_copied = eventually(10, || {
        let udp_in = |ns: &str| -> BTreeSet<NatEntry> {
            nat_entries(ns, &[A_ADDR])
                .expect("entries")
                .into_iter()
                .filter(|e| e.protocol == 17)
                .collect()
        };
        let a = udp_in(&t.a);
        a.len() == 2 && a == udp_in(&t.b)
    });
    assert!(udp_copied, "B holds a copy of both UDP flows");
    // An entry that appears in A (written over ctnetlink: a NEW event) is copied;
    // when it goes (a DESTROY event) its copy goes too.
    let extra = NatEntry {
        protocol: 6,
        source: "10.81.1.10:43000".parse().expect("address"),
        destination: SERVER,
        translated: "10.80.0.10:43000".parse().expect("address"),
    };
    write_nat_entry(&t.a, &extra, 300).unwrap_or_else(|e| panic!("write: {}", chain(&e)));
    let holds = |ns: &str| {
        nat_entries(ns, &[A_ADDR])
            .expect("entries")
            .contains(&extra)
    };
    assert!(eventually(5, || holds(&t.b)), "the new entry was copied");
    let deleted_before = rep.stats().deleted;
    assert!(delete_nat_entry(&t.a, &extra).unwrap_or_else(|e| panic!("delete: {}", chain(&e))));
    assert!(eventually(5, || !holds(&t.b)), "the copy went with it");
    assert_eq!(
        rep.stats().deleted,
        deleted_before + 1,
        "counted as deleted"
    );
    // Ten connections end (FIN both ways): their copies follow the state
    // changes and are gone from B once A forgets them (TIME_WAIT of 1 s in A).
    sh(
        Some(&t.a),
        &[
            "sysctl",
            "-qw",
            "net.netfilter.nf_conntrack_tcp_timeout_time_wait=1",
        ],
    );
    let updated_before = rep.stats().updated;
    let closed: BTreeSet<(Ipv4Addr, u16)> = conns[190..]
        .iter()
        .map(|c| match c.local_addr().expect("local address") {
            SocketAddr::V4(a) => (*a.ip(), a.port()),
            SocketAddr::V6(_) => unreachable!("IPv4 only"),
        })
        .collect();
    conns.truncate(190);
    let forgotten = eventually(30, || {
        let b = entries(&t.b, ports.clone());
        !b.iter()
            .any(|e| closed.contains(&(*e.source.ip(), e.source.port())))
    });
    let s = rep.stats();
    eprintln!(
        "10 connections closed: copies gone from B: {forgotten}; updates {}, deletes {}",
        s.updated - updated_before,
        s.deleted
    );
    assert!(forgotten, "the copies of closed connections leave B");
    assert!(
        s.updated - updated_before >= 10,
        "closing states were replicated: {s:?}"
    );
    let in_a: BTreeSet<NatEntry> = in_a
        .into_iter()
        .filter(|e| !closed.contains(&(*e.source.ip(), e.source.port())))
        .collect();
    t.take_over();
    let after = round(&mut conns);
    let stopped = eventually(5, || rep.stats().stopped.is_some());
    let gone = eventually(5, || t.a_is_gone());
    eprintln!(
        "failover with replication: {} kept, {} reset, {} stalled, {} other; replicator: {:?}",
        after.kept,
        after.reset,
        after.stalled,
        after.other,
        rep.stats()
    );
    assert_eq!(after.kept, 190, "every connection kept: {after:?}");
    assert_eq!(udp_round(&udp), 2, "UDP echoes after the failover");
    let udp_after: BTreeSet<SocketAddr> = server
        .udp_peers
        .lock()
        .expect("peers")
        .iter()
        .copied()
        .collect();
    assert_eq!(
        udp_after, udp_before,
        "the UDP flows keep their public source address and port"
    );
    assert!(stopped, "the replicator noticed A's deletion");
    assert!(gone, "A's namespace was released (no socket keeps it)");
    let again = round(&mut conns);
    assert_eq!(again.kept, 190, "still echoing: {again:?}");
    // The server saw every connection from A's address, on the ports A chose.
    let peers: BTreeSet<SocketAddr> = server
        .peers
        .lock()
        .expect("peers")
        .iter()
        .copied()
        .collect();
    let chosen: BTreeSet<SocketAddr> = in_a.iter().map(|e| SocketAddr::V4(e.translated)).collect();
    assert!(
        chosen.is_subset(&peers) && peers.len() == 200,
        "the server's peers are A's translations: {} of {}",
        chosen.intersection(&peers).count(),
        chosen.len()
    );
    assert!(
        server.errors.lock().expect("errors").is_empty(),
        "server errors: {:?}",
        server.errors.lock().expect("errors")
    );
    let s = rep.stats();
    assert_eq!(s.errors, 0, "replication errors: {:?}", s.last_error);
    let t0 = Instant::now();
    rep.stop();
    eprintln!("stop took {:?}", t0.elapsed());
}

/// The control: without replication, the same failover breaks connections (the
/// ones A remapped are picked up by B with another port and reset by the server).
#[test]
fn connections_break_without_replication() {
    if !privileged("connections_break_without_replication") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    more_fds();
    let t = Topo::new('x');
    let _server = Server::start(&t.s);
    let (mut conns, _) = open(&t.c, 100, 20000);
    let before = round(&mut conns);
    assert_eq!(before.kept, 200, "before the failover: {before:?}");
    t.take_over();
    let after = round(&mut conns);
    eprintln!(
        "control (no replication): {} kept, {} reset, {} stalled, {} other",
        after.kept, after.reset, after.stalled, after.other
    );
    assert!(
        after.kept < 200 && after.reset > 0,
        "without replication connections break: {after:?}"
    );
}

/// A stale entry in B with another translation of the same original tuple, and
/// another flow in B holding the translated reply tuple A will use, are replaced
/// by A's (EEXIST handling); the periodic refresh rewrites the copies; a full
/// synchronization skips the copies B holds already and deletes B's copies of
/// connections A does not have; the connections then survive a failover.
#[test]
fn stale_conflicting_entries_in_the_target_are_replaced() {
    if !privileged("stale_conflicting_entries_in_the_target_are_replaced") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t = Topo::new('e');
    let _server = Server::start(&t.s);
    let mut config = ReplicatorConfig::new(&t.a, &t.b, vec![A_ADDR]);
    config.refresh_every = Duration::from_millis(500);
    let rep =
        Replicator::start(config).unwrap_or_else(|e| panic!("start the replicator: {}", chain(&e)));
    let sa = |s: &str| -> SocketAddrV4 { s.parse().expect("address") };
    // Same original tuple as the coming connection from 10.81.1.10:41000, another port.
    let stale_same_orig = NatEntry {
        protocol: 6,
        source: sa("10.81.1.10:41000"),
        destination: SERVER,
        translated: sa("10.80.0.10:5555"),
    };
    // Another flow holding the reply tuple of 10.81.1.10:41001 → 10.80.0.10:41001.
    let stale_same_reply = NatEntry {
        protocol: 6,
        source: sa("10.81.1.99:41001"),
        destination: SERVER,
        translated: sa("10.80.0.10:41001"),
    };
    for e in [stale_same_orig, stale_same_reply] {
        write_nat_entry(&t.b, &e, 300).unwrap_or_else(|err| panic!("plant {e:?}: {}", chain(&err)));
    }
    let planted = nat_entries(&t.b, &[A_ADDR]).expect("B's entries");
    assert!(planted.contains(&stale_same_orig) && planted.contains(&stale_same_reply));
    // Only from 10.81.1.10: ports kept by A.
    let mut conns: Vec<TcpStream> = in_ns(&t.c, || {
        (41000..41002)
            .map(|port| {
                let fd: OwnedFd = socket(
                    AddressFamily::Inet,
                    SockType::Stream,
                    SockFlag::SOCK_CLOEXEC,
                    None,
                )
                .expect("socket");
                setsockopt(&fd, sockopt::SendTimeout, &TimeVal::new(5, 0)).expect("timeout");
                let src = SocketAddrV4::new(CLIENTS[0], port);
                bind(fd.as_raw_fd(), &SockaddrIn::from(src)).expect("bind");
                connect(fd.as_raw_fd(), &SockaddrIn::from(SERVER)).expect("connect");
                TcpStream::from(fd)
            })
            .collect()
    });
    assert_eq!(round(&mut conns).kept, 2);
    let in_a = entries(&t.a, 41000..41002);
    assert_eq!(in_a.len(), 2);
    let replaced = eventually(10, || {
        let b: BTreeSet<NatEntry> = nat_entries(&t.b, &[A_ADDR])
            .expect("B's entries")
            .into_iter()
            .collect();
        in_a.is_subset(&b) && !b.contains(&stale_same_orig) && !b.contains(&stale_same_reply)
    });
    let s = rep.stats();
    eprintln!("after the conflicts: A {in_a:?}; replicator {s:?}");
    assert!(replaced, "B's stale entries were replaced by A's");
    assert!(s.replaced >= 2, "two replacements counted: {s:?}");
    // The refresh (every 500 ms) rewrites both copies.
    let refreshed = eventually(10, || {
        let now = rep.stats();
        now.full_syncs >= s.full_syncs + 2 && now.updated >= s.updated + 4
    });
    assert!(refreshed, "refreshes rewrite the copies: {:?}", rep.stats());
    // A copy in B of a connection A does not have goes at the next full sync;
    // the copies B holds already are not written again.
    let orphan = NatEntry {
        protocol: 6,
        source: sa("10.81.1.10:42000"),
        destination: SERVER,
        translated: sa("10.80.0.10:42000"),
    };
    write_nat_entry(&t.b, &orphan, 300).unwrap_or_else(|e| panic!("plant: {}", chain(&e)));
    let written = rep
        .sync_now()
        .unwrap_or_else(|e| panic!("sync now: {}", chain(&e)));
    let b = nat_entries(&t.b, &[A_ADDR]).expect("B's entries");
    eprintln!("sync_now wrote {written}; B {b:?}; {:?}", rep.stats());
    assert_eq!(written, 0, "nothing to write");
    assert!(!b.contains(&orphan), "the orphan copy was deleted");
    assert!(in_a.iter().all(|e| b.contains(e)), "A's copies stay");
    let t0 = Instant::now();
    rep.stop();
    eprintln!("stopping a running replicator took {:?}", t0.elapsed());
    t.take_over();
    let after = round(&mut conns);
    assert_eq!(after.kept, 2, "kept after the failover: {after:?}");
}

/// 1,000 connections opened as fast as one thread can, all copied from events;
/// prints the lag from the last connection open to all copied, and whether
/// events were lost (ENOBUFS resyncs).
#[test]
fn a_burst_of_connections_is_copied() {
    if !privileged("a_burst_of_connections_is_copied") {
        return;
    }
    burst('b', cove_host::DEFAULT_EVENT_BUFFER);
}

/// The same burst with an event buffer far too small: events are lost (ENOBUFS),
/// and the full synchronizations that follow still copy every entry.
#[test]
fn lost_events_are_made_up_by_a_full_sync() {
    if !privileged("lost_events_are_made_up_by_a_full_sync") {
        return;
    }
    let s = burst('n', 4096);
    assert!(s.resyncs >= 1, "the tiny buffer overflowed: {s:?}");
}

/// Opens 1,000 connections through A with a replicator whose event buffer is
/// `event_buffer`; checks that all are copied and survive a failover.
fn burst(tag: char, event_buffer: usize) -> cove_host::ReplicationStats {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    more_fds();
    let t = Topo::new(tag);
    let _server = Server::start(&t.s);
    let mut config = ReplicatorConfig::new(&t.a, &t.b, vec![A_ADDR]);
    config.event_buffer = event_buffer;
    let rep =
        Replicator::start(config).unwrap_or_else(|e| panic!("start the replicator: {}", chain(&e)));
    let t0 = Instant::now();
    let (mut conns, last) = open(&t.c, 500, 30000);
    let opened = t0.elapsed();
    // The replicator's own count of copies: cheap to poll.
    let deadline = Instant::now() + Duration::from_secs(30);
    while rep.stats().copied < 1000 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    let lag = last.elapsed();
    let ports = 30000..30500;
    let mut in_a = BTreeSet::new();
    let all = eventually(30, || {
        in_a = entries(&t.a, ports.clone());
        in_a.len() == 1000 && entries(&t.b, ports.clone()).is_superset(&in_a)
    });
    let in_b = entries(&t.b, ports.clone());
    let s = rep.stats();
    eprintln!(
        "burst (event buffer {event_buffer} B): 1,000 connections opened in {opened:?}; B holds {} of A's {} entries \
         (all 1,000 copied {lag:?} after the last opened); \
         ENOBUFS resyncs {}; stats {s:?}",
        in_b.intersection(&in_a).count(),
        in_a.len(),
        s.resyncs
    );
    assert!(all, "every entry copied");
    assert_eq!(s.errors, 0, "replication errors: {:?}", s.last_error);
    t.take_over();
    let after = round(&mut conns);
    eprintln!(
        "burst failover: {} kept, {} reset, {} stalled, {} other",
        after.kept, after.reset, after.stalled, after.other
    );
    assert_eq!(after.kept, 1000, "every connection kept: {after:?}");
    s
}
