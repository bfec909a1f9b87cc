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
mod ctsync_topo;

use ctsync_topo::*;

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
