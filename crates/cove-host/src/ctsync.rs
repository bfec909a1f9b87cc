//! Conntrack replication for NAT gateway pairs (issue 11,
//! `docs/design/nat-failover.md`): the source-NATed connections of one gateway
//! namespace are copied into its partner's, continuously, so that the partner can
//! take over the gateway's address and keep every connection with its
//! translation.
//!
//! A [`Replicator`] holds three ctnetlink sockets, each opened on a short-lived
//! thread inside its namespace (a socket stays in the namespace it was opened in):
//! an event socket in the source, subscribed to new, updated and destroyed
//! entries; a dump socket in the source; and a writer socket in the target. One
//! thread of its own (in the host's namespace, never a tokio worker) reads the
//! events and writes each copy ([`crate::ctsync_msg`] has the message layout,
//! [`crate::ctsync_target`] the writer). It starts with a full synchronization,
//! does another after every lost event (`ENOBUFS`) and every `refresh_every`
//! (which also rewrites the copies' timeouts). TCP is copied once established
//! (later state changes update the copy), UDP from its first packet; a
//! connection's end in the source deletes its copy.
//!
//! The source is authoritative: a copy the target cannot create because it holds
//! a conflicting entry (a stale copy with another translation, or another flow
//! holding the translated reply tuple) replaces that entry.
//!
//! A socket keeps its namespace alive, so the thread checks every 100 ms that
//! `/run/netns/<name>` is still the namespace each socket was opened in; when a
//! namespace is deleted or replaced, the replicator drops all of its sockets and
//! stops ([`ReplicationStats::stopped`] says why).

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use netlink_sys::Socket;

use crate::conntrack::{CTA_TUPLE_ORIG, dump};
use crate::ctsync_msg::{
    EventKind, Flow, IPPROTO_TCP, IPS_ASSURED, IPS_SEEN_REPLY, IPS_SRC_NAT, TCP_ESTABLISHED, Tcp,
    Tuple, event, frames,
};
use crate::ctsync_target::{
    ANSWER_TIMEOUT, Target, ct_socket, errno, here, lock, socket_error, still,
};
use crate::error::HostError;
use crate::netns::{self, NsId};

/// The idle timeout of a NAT gateway's connections (AWS's 350 s).
pub const DEFAULT_IDLE_TIMEOUT_S: u32 = 350;
/// How often a replicator re-reads the whole source table by default.
pub const DEFAULT_REFRESH_EVERY: Duration = Duration::from_secs(100);

/// The event socket's receive buffer by default (`SO_RCVBUFFORCE`): a burst of
/// 1,000 new connections overflowed `conntrack -E`'s default buffer.
pub const DEFAULT_EVENT_BUFFER: usize = 8 << 20;

/// `NFNLGRP_CONNTRACK_NEW`, `_UPDATE`, `_DESTROY`.
const GROUPS: [u32; 3] = [1, 2, 3];
/// How long the event thread waits for an event before it checks its flags.
const POLL: Duration = Duration::from_millis(100);
/// TCP states worth a copy: ESTABLISHED up to TIME_WAIT.
const TCP_COPIED: std::ops::RangeInclusive<u8> = TCP_ESTABLISHED..=7;

/// What a [`Replicator`] replicates, from where to where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicatorConfig {
    /// The namespace whose connections are copied (a gateway).
    pub from_ns: String,
    /// The namespace the copies are written into (its partner).
    pub to_ns: String,
    /// Only entries whose translated source address is one of these (the source
    /// gateway's addresses); empty: every source-NATed entry.
    pub translated: Vec<Ipv4Addr>,
    /// The most time a copy is given to live ([`DEFAULT_IDLE_TIMEOUT_S`]).
    pub idle_timeout_s: u32,
    /// How often the whole source table is read again, to rewrite the copies'
    /// timeouts and catch anything missed ([`DEFAULT_REFRESH_EVERY`]).
    pub refresh_every: Duration,
    /// The event socket's receive buffer in bytes ([`DEFAULT_EVENT_BUFFER`]); when
    /// it overflows, events are lost and a full synchronization follows.
    pub event_buffer: usize,
}

impl ReplicatorConfig {
    /// Replication of the connections of `from_ns` translated to one of
    /// `translated` into `to_ns`, with the default timeouts.
    pub fn new(from_ns: &str, to_ns: &str, translated: Vec<Ipv4Addr>) -> ReplicatorConfig {
        ReplicatorConfig {
            from_ns: from_ns.to_owned(),
            to_ns: to_ns.to_owned(),
            translated,
            idle_timeout_s: DEFAULT_IDLE_TIMEOUT_S,
            refresh_every: DEFAULT_REFRESH_EVERY,
            event_buffer: DEFAULT_EVENT_BUFFER,
        }
    }
}

/// What a [`Replicator`] did so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicationStats {
    /// Copies created in the target (including replacements).
    pub copied: u64,
    /// Copies whose state or timeout was rewritten.
    pub updated: u64,
    /// Copies deleted (their connection ended in the source).
    pub deleted: u64,
    /// Conflicting entries of the target replaced by the source's (`EEXIST`).
    pub replaced: u64,
    /// Full synchronizations after lost events (`ENOBUFS`).
    pub resyncs: u64,
    /// Full synchronizations of any kind (start, `ENOBUFS`, refresh, `sync_now`).
    pub full_syncs: u64,
    /// Failed writes and reads.
    pub errors: u64,
    /// The last failure, with its causes.
    pub last_error: Option<String>,
    /// When the last full synchronization ended.
    pub last_full_sync: Option<SystemTime>,
    /// Why the replicator stopped (a namespace deleted or replaced, or
    /// [`Replicator::stop`]); `None` while it runs.
    pub stopped: Option<String>,
}

/// One source-NATed connection of a namespace: its original tuple and where its
/// source was translated to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NatEntry {
    /// IP protocol number (6 TCP, 17 UDP).
    pub protocol: u8,
    /// The original source (the client's address and port).
    pub source: SocketAddrV4,
    /// The original destination.
    pub destination: SocketAddrV4,
    /// The translated source address and port.
    pub translated: SocketAddrV4,
}

impl NatEntry {
    fn of(flow: &Flow) -> Option<NatEntry> {
        Some(NatEntry {
            protocol: flow.orig.proto,
            source: flow.orig.src,
            destination: flow.orig.dst,
            translated: flow.translated()?,
        })
    }

    /// The flow a copy of this entry describes (TCP: ESTABLISHED).
    pub(crate) fn flow(&self, timeout_s: u32) -> Flow {
        let orig = Tuple {
            proto: self.protocol,
            src: self.source,
            dst: self.destination,
        };
        Flow {
            orig,
            reply: Tuple {
                proto: self.protocol,
                src: self.destination,
                dst: self.translated,
            },
            status: IPS_SRC_NAT | IPS_SEEN_REPLY | IPS_ASSURED,
            timeout: Some(timeout_s),
            tcp: (self.protocol == IPPROTO_TCP).then_some(Tcp {
                state: TCP_ESTABLISHED,
                wscale_orig: 0,
                wscale_reply: 0,
            }),
            zone: 0,
            mark: 0,
        }
    }
}

fn wanted(flow: &Flow, translated: &[Ipv4Addr]) -> bool {
    flow.translated()
        .is_some_and(|t| translated.is_empty() || translated.contains(t.ip()))
}

/// Whether a flow of the source deserves a copy: UDP always, TCP once established.
fn copyable(flow: &Flow) -> bool {
    match flow.tcp {
        Some(t) => TCP_COPIED.contains(&t.state),
        None => flow.orig.proto != IPPROTO_TCP,
    }
}

/// The source-NATed TCP and UDP entries of namespace `ns` translated to one of
/// `translated` (empty: all), sorted.
pub fn nat_entries(ns: &str, translated: &[Ipv4Addr]) -> Result<Vec<NatEntry>, HostError> {
    let name = ns.to_owned();
    let translated = translated.to_vec();
    netns::run_in(ns, move || {
        let socket = crate::conntrack::open_socket(&name)?;
        let mut out = Vec::new();
        dump(&socket, &name, |a| {
            if let Some(f) = Flow::parse(a).filter(|f| wanted(f, &translated)) {
                out.extend(NatEntry::of(&f));
            }
        })?;
        out.sort();
        Ok(out)
    })
}

/// Writes `entry` into namespace `ns` as the replicator writes a copy (TCP:
/// ESTABLISHED), with `timeout_s` to live; fails if `ns` holds a conflicting
/// entry. For tests and for seeding a gateway that comes back.
pub fn write_nat_entry(ns: &str, entry: &NatEntry, timeout_s: u32) -> Result<(), HostError> {
    let mut target = Target::open(ns)?;
    let flow = entry.flow(timeout_s);
    let msg = flow
        .create(target.next_seq(), timeout_s)
        .unwrap_or_default();
    target
        .ack(&msg)
        .map_err(|source| target.write_error("create the copy of", &flow, source))
}

/// Deletes the entry of namespace `ns` whose original tuple is `entry`'s (whatever
/// its translation); returns whether there was one. For tests, and for sweeping
/// copies that a gateway no longer needs.
pub fn delete_nat_entry(ns: &str, entry: &NatEntry) -> Result<bool, HostError> {
    let mut target = Target::open(ns)?;
    let flow = entry.flow(1);
    let msg = crate::ctsync_msg::delete(&flow.orig, CTA_TUPLE_ORIG, 0, target.next_seq());
    match target.ack(&msg) {
        Ok(()) => Ok(true),
        Err(e) if errno(&e) == nix::libc::ENOENT => Ok(false),
        Err(e) => Err(target.write_error("delete", &flow, e)),
    }
}

/// Deletes every source-NATed entry of namespace `ns` translated to one of
/// `translated` (a fenced gateway's stale entries, before its partner's copies
/// replace them; none when `translated` is empty); returns how many were deleted.
pub fn forget_nat_entries(ns: &str, translated: &[Ipv4Addr]) -> Result<usize, HostError> {
    if translated.is_empty() {
        return Ok(0);
    }
    let entries = nat_entries(ns, translated)?;
    if entries.is_empty() {
        return Ok(0);
    }
    let mut target = Target::open(ns)?;
    let mut deleted = 0;
    for entry in &entries {
        let flow = entry.flow(1);
        let msg = crate::ctsync_msg::delete(&flow.orig, CTA_TUPLE_ORIG, 0, target.next_seq());
        match target.ack(&msg) {
            Ok(()) => deleted += 1,
            Err(e) if errno(&e) == nix::libc::ENOENT => {}
            Err(e) => return Err(target.write_error("delete", &flow, e)),
        }
    }
    Ok(deleted)
}

/// The source's dump socket and the writer, used by one thread at a time.
struct Link {
    source: Socket,
    source_id: NsId,
    target: Target,
}

/// What the replicator's thread and its owner share.
struct Shared {
    config: ReplicatorConfig,
    link: Mutex<Option<Link>>,
    stats: Mutex<ReplicationStats>,
    stop: AtomicBool,
}

impl Shared {
    fn record(&self, e: &HostError) {
        let mut s = lock(&self.stats);
        s.errors += 1;
        s.last_error = Some(crate::error_chain(e));
    }

    fn stopped(&self, why: String) -> HostError {
        HostError::CtsyncStopped {
            from: self.config.from_ns.clone(),
            to: self.config.to_ns.clone(),
            why,
        }
    }

    /// A full synchronization: every copyable entry of the source written into the
    /// target (skipping those it holds with the same translation unless
    /// `refresh`, which rewrites their timeouts), and the target's copies of
    /// connections the source no longer has deleted. Returns the entries written.
    fn sync(&self, refresh: bool) -> Result<usize, HostError> {
        let mut guard = lock(&self.link);
        let link = guard.as_mut().ok_or_else(|| {
            self.stopped(
                lock(&self.stats)
                    .stopped
                    .clone()
                    .unwrap_or_else(|| "stopped".to_owned()),
            )
        })?;
        let c = &self.config;
        // The target first: a copy it holds that the source's later dump lacks
        // belongs to a connection that ended.
        let mut have: HashMap<Tuple, (SocketAddrV4, u16)> = HashMap::new();
        dump(&link.target.socket, &c.to_ns, |a| {
            if let Some(f) = Flow::parse(a).filter(|f| wanted(f, &c.translated)) {
                if let Some(t) = f.translated() {
                    have.insert(f.orig, (t, f.zone));
                }
            }
        })?;
        let mut flows = Vec::new();
        dump(&link.source, &c.from_ns, |a| {
            flows.extend(Flow::parse(a).filter(|f| wanted(f, &c.translated)));
        })?;
        let mut written = 0;
        let mut first_error = None;
        link.target.copies.clear();
        for f in &flows {
            let same = have.get(&f.orig).map(|h| h.0) == f.translated();
            if same {
                have.remove(&f.orig);
                if let Some(t) = f.translated() {
                    link.target.copies.insert(f.orig, t);
                }
                if !refresh {
                    continue;
                }
            }
            if !copyable(f) {
                continue;
            }
            match link.target.write(f, c.idle_timeout_s, &self.stats) {
                Ok(()) => written += 1,
                Err(e) => {
                    let e = link.target.write_error("write the copy of", f, e);
                    self.record(&e);
                    first_error.get_or_insert(e);
                }
            }
        }
        // Copies of connections the source no longer has.
        for (orig, (_, zone)) in have {
            match link.target.delete(&orig, CTA_TUPLE_ORIG, zone) {
                Ok(()) => lock(&self.stats).deleted += 1,
                Err(e) => {
                    let e = HostError::CtsyncWrite {
                        ns: c.to_ns.clone(),
                        what: "delete the stale copy",
                        flow: format!("proto {} {} → {}", orig.proto, orig.src, orig.dst),
                        source: e,
                    };
                    self.record(&e);
                    first_error.get_or_insert(e);
                }
            }
        }
        let mut s = lock(&self.stats);
        s.full_syncs += 1;
        s.last_full_sync = Some(SystemTime::now());
        drop(s);
        match first_error {
            Some(e) => Err(e),
            None => Ok(written),
        }
    }

    /// Applies one event to the target.
    fn apply(&self, kind: EventKind, flow: &Flow) {
        if !wanted(flow, &self.config.translated) {
            return;
        }
        let mut guard = lock(&self.link);
        let Some(link) = guard.as_mut() else {
            return;
        };
        let idle = self.config.idle_timeout_s;
        let t = &mut link.target;
        let result = match kind {
            EventKind::Destroy => t
                .remove(flow, &self.stats)
                .map_err(|e| t.write_error("delete the copy of", flow, e)),
            EventKind::New | EventKind::Update => match flow.tcp {
                // Established: the copy is created (or updated).
                Some(tcp) if tcp.state == TCP_ESTABLISHED => t
                    .write(flow, idle, &self.stats)
                    .map_err(|e| t.write_error("write the copy of", flow, e)),
                // Closing: the copy ages like the original, if there is one.
                Some(tcp) if tcp.state > TCP_ESTABLISHED && t.copies.contains_key(&flow.orig) => {
                    match t.update(flow, idle) {
                        Ok(()) => {
                            lock(&self.stats).updated += 1;
                            Ok(())
                        }
                        Err(e) if errno(&e) == nix::libc::ENOENT => {
                            t.copies.remove(&flow.orig);
                            Ok(())
                        }
                        Err(e) => Err(t.write_error("update the copy of", flow, e)),
                    }
                }
                Some(_) => Ok(()),
                None => t
                    .write(flow, idle, &self.stats)
                    .map_err(|e| t.write_error("write the copy of", flow, e)),
            },
        };
        drop(guard);
        if let Err(e) = result {
            self.record(&e);
        }
    }

    /// Why the replicator must stop: a namespace deleted or replaced.
    fn gone(&self) -> Option<String> {
        let guard = lock(&self.link);
        let link = guard.as_ref()?;
        if !still(&self.config.from_ns, link.source_id) {
            return Some(format!(
                "source namespace {} deleted or replaced",
                self.config.from_ns
            ));
        }
        if !still(&self.config.to_ns, link.target.id) {
            return Some(format!(
                "target namespace {} deleted or replaced",
                self.config.to_ns
            ));
        }
        None
    }

    /// Drops every socket in the namespaces and records why.
    fn close(&self, why: String) {
        let old = lock(&self.link).take();
        drop(old);
        let mut s = lock(&self.stats);
        if s.stopped.is_none() {
            s.stopped = Some(why);
        }
    }
}

/// Discards the queued events (a full synchronization follows), for at most a
/// second; returns whether the queue was found empty.
fn drain(events: &Socket, buf: &mut [u8]) -> bool {
    let end = Instant::now() + Duration::from_secs(1);
    while Instant::now() < end {
        match events.recv(&mut &mut buf[..], nix::libc::MSG_DONTWAIT) {
            Ok(_) => {}
            Err(e) if errno(&e) == nix::libc::ENOBUFS => {}
            Err(_) => return true,
        }
    }
    false
}

/// The event thread: reads the source's events until stopped or until a
/// namespace goes, with a full synchronization after `ENOBUFS` and every
/// `refresh_every`.
fn run(shared: &Shared, events: Socket) {
    let mut buf = vec![0u8; 256 * 1024];
    let mut checked = Instant::now();
    let mut synced = Instant::now();
    // A full synchronization is due once the queue has been empty.
    let mut again = false;
    loop {
        if shared.stop.load(Ordering::Acquire) {
            shared.close("stopped".to_owned());
            return;
        }
        if checked.elapsed() >= POLL {
            checked = Instant::now();
            if let Some(why) = shared.gone() {
                drop(events);
                shared.close(why);
                return;
            }
        }
        if synced.elapsed() >= shared.config.refresh_every {
            synced = Instant::now();
            if let Err(e) = shared.sync(true) {
                shared.record(&e);
            }
        }
        match events.recv(&mut &mut buf[..], 0) {
            Ok(n) => {
                for f in frames(&buf[..n]) {
                    if let Some((kind, flow)) = event(&f) {
                        shared.apply(kind, &flow);
                    }
                }
            }
            Err(e) if errno(&e) == nix::libc::ENOBUFS => {
                // Events were lost: read everything again. First empty the queue:
                // the kernel reports an overflow only once until the queue has
                // been empty (NETLINK_S_CONGESTED), so events dropped while it
                // stays full would be lost without a word.
                lock(&shared.stats).resyncs += 1;
                // Never empty within a second (a flood): events may be dropped
                // silently until it is, so synchronize again once it is.
                again = !drain(&events, &mut buf);
                synced = Instant::now();
                if let Err(e) = shared.sync(false) {
                    shared.record(&e);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                // The queue is empty: the kernel reports the next overflow.
                if std::mem::take(&mut again) {
                    synced = Instant::now();
                    if let Err(e) = shared.sync(false) {
                        shared.record(&e);
                    }
                }
            }
            Err(e) => {
                shared.record(&socket_error(
                    &shared.config.from_ns,
                    "read conntrack events",
                )(e));
                thread::sleep(POLL);
            }
        }
    }
}

/// Replicates the source-NATed connections of namespace `from` into namespace
/// `to`, continuously, until stopped (dropping it stops it too).
pub struct Replicator {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Replicator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replicator")
            .field("config", &self.shared.config)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Replicator {
    /// Opens the sockets (events and dumps in `from_ns`, the writer in `to_ns`),
    /// copies every established source-NATed connection, then follows the events
    /// on a thread of its own.
    pub fn start(config: ReplicatorConfig) -> Result<Replicator, HostError> {
        let from = config.from_ns.clone();
        let buffer = config.event_buffer;
        // Subscribed before the first dump, so that nothing falls in between.
        let (source_id, events, source) = netns::run_in(&config.from_ns, move || {
            let id = here(&from)?;
            let events = ct_socket(&from, POLL, buffer)?;
            for g in GROUPS {
                events
                    .add_membership(g)
                    .map_err(socket_error(&from, "subscribe to conntrack events"))?;
            }
            let source = ct_socket(&from, ANSWER_TIMEOUT, 4 << 20)?;
            Ok((id, events, source))
        })?;
        let target = Target::open(&config.to_ns)?;
        let shared = Arc::new(Shared {
            config,
            link: Mutex::new(Some(Link {
                source,
                source_id,
                target,
            })),
            stats: Mutex::new(ReplicationStats::default()),
            stop: AtomicBool::new(false),
        });
        shared.sync(false)?;
        let s = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name(format!("ctsync-{}", shared.config.from_ns))
            .spawn(move || run(&s, events))
            .map_err(|source| HostError::CtsyncThread {
                from: shared.config.from_ns.clone(),
                to: shared.config.to_ns.clone(),
                source,
            })?;
        Ok(Replicator {
            shared,
            thread: Some(thread),
        })
    }

    /// What it did so far.
    pub fn stats(&self) -> ReplicationStats {
        lock(&self.shared.stats).clone()
    }

    /// A full synchronization now (as after lost events): returns the number of
    /// entries written. Fails if the replicator has stopped.
    pub fn sync_now(&self) -> Result<usize, HostError> {
        self.shared.sync(false)
    }

    /// Stops the thread and closes every socket (within ~100 ms).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.shared.close("stopped".to_owned());
    }
}

impl Drop for Replicator {
    fn drop(&mut self) {
        self.halt();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> NatEntry {
        NatEntry {
            protocol: IPPROTO_TCP,
            source: "10.81.1.11:20000".parse().expect("addr"),
            destination: "198.51.100.1:9000".parse().expect("addr"),
            translated: "10.80.0.10:2257".parse().expect("addr"),
        }
    }

    #[test]
    fn an_entry_round_trips_through_its_flow() {
        let f = entry().flow(350);
        assert_eq!(NatEntry::of(&f), Some(entry()));
        assert!(copyable(&f));
        assert!(wanted(&f, &[]));
        assert!(wanted(&f, &["10.80.0.10".parse().expect("ip")]));
        assert!(!wanted(&f, &["10.80.0.11".parse().expect("ip")]));
    }

    #[test]
    fn tcp_is_copied_once_established_udp_always() {
        let mut f = entry().flow(350);
        for (state, copy) in [(1, false), (2, false), (3, true), (7, true), (8, false)] {
            f.tcp = Some(Tcp {
                state,
                wscale_orig: 0,
                wscale_reply: 0,
            });
            assert_eq!(copyable(&f), copy, "state {state}");
        }
        f.tcp = None;
        f.orig.proto = crate::ctsync_msg::IPPROTO_UDP;
        assert!(copyable(&f));
    }
}
