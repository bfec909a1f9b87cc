//! The writer side of conntrack replication ([`crate::ctsync`]): one ctnetlink
//! socket opened inside the target namespace and kept, and the rule for writing a
//! copy there. The source is authoritative: a copy the target cannot create
//! (`EEXIST`) because it holds a stale copy with another translation, or another
//! flow holding the translated reply tuple, replaces what is in the way.
//!
//! Also the socket helpers the replicator uses in the source namespace.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::net::SocketAddrV4;
use std::os::unix::fs::MetadataExt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};
use nix::sys::socket::{setsockopt, sockopt};
use nix::sys::time::TimeVal;

use crate::conntrack::{CTA_TUPLE_ORIG, CTA_TUPLE_REPLY, NFGENMSG_LEN, NLMSG_ERROR, error_code};
use crate::ctsync::ReplicationStats;
use crate::ctsync_msg::{Flow, Tuple, frames};
use crate::error::HostError;
use crate::netns::{self, NsId};

/// How long a request waits for the kernel's answer.
pub(crate) const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// The identity of the namespace the calling thread is in.
pub(crate) fn here(ns: &str) -> Result<NsId, HostError> {
    let path = "/proc/thread-self/ns/net";
    let m = fs::metadata(path).map_err(|source| HostError::OpenNamespace {
        ns: ns.to_owned(),
        path: path.into(),
        source,
    })?;
    Ok((m.dev(), m.ino()))
}

/// Whether `/run/netns/<ns>` is still namespace `id`.
pub(crate) fn still(ns: &str, id: NsId) -> bool {
    fs::metadata(netns::ns_path(ns)).is_ok_and(|m| (m.dev(), m.ino()) == id)
}

pub(crate) fn socket_error(ns: &str, what: &'static str) -> impl Fn(io::Error) -> HostError {
    let ns = ns.to_owned();
    move |source| HostError::CtsyncSocket {
        ns: ns.clone(),
        what,
        source,
    }
}

/// A ctnetlink socket opened in the calling thread's namespace, with a receive
/// timeout.
pub(crate) fn ct_socket(ns: &str, timeout: Duration, buffer: usize) -> Result<Socket, HostError> {
    let mut s =
        Socket::new(NETLINK_NETFILTER).map_err(socket_error(ns, "open a ctnetlink socket"))?;
    s.bind_auto()
        .map_err(socket_error(ns, "bind a ctnetlink socket"))?;
    let tv = TimeVal::new(
        i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
        i64::from(timeout.subsec_micros()),
    );
    setsockopt(&s, sockopt::ReceiveTimeout, &tv)
        .map_err(|e| socket_error(ns, "set a receive timeout")(e.into()))?;
    setsockopt(&s, sockopt::RcvBufForce, &buffer)
        .map_err(|e| socket_error(ns, "set the receive buffer")(e.into()))?;
    Ok(s)
}

pub(crate) fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// The writer: a socket in the target namespace, and what it wrote.
pub(crate) struct Target {
    pub(crate) ns: String,
    pub(crate) id: NsId,
    pub(crate) socket: Socket,
    seq: u32,
    buf: Vec<u8>,
    /// Copies written: original tuple → translation.
    pub(crate) copies: HashMap<Tuple, SocketAddrV4>,
}

impl Target {
    pub(crate) fn open(ns: &str) -> Result<Target, HostError> {
        let name = ns.to_owned();
        let (id, socket) = netns::run_in(ns, move || {
            Ok((here(&name)?, ct_socket(&name, ANSWER_TIMEOUT, 1 << 20)?))
        })?;
        Ok(Target {
            ns: ns.to_owned(),
            id,
            socket,
            seq: 0,
            buf: vec![0; 256 * 1024],
            copies: HashMap::new(),
        })
    }

    pub(crate) fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    pub(crate) fn write_error(
        &self,
        what: &'static str,
        flow: &Flow,
        source: io::Error,
    ) -> HostError {
        let to = flow
            .translated()
            .map_or_else(|| "-".to_owned(), |t| t.to_string());
        HostError::CtsyncWrite {
            ns: self.ns.clone(),
            what,
            flow: format!(
                "proto {} {} → {} (translated to {to})",
                flow.orig.proto, flow.orig.src, flow.orig.dst
            ),
            source,
        }
    }

    /// Sends `msg` (whose sequence number is `self.seq`) and waits for its answer:
    /// the entry of a get (`Some`), or the ack (`None`).
    pub(crate) fn ask(&mut self, msg: &[u8]) -> io::Result<Option<Flow>> {
        let seq = self.seq;
        self.socket.send_to(msg, &SocketAddr::new(0, 0), 0)?;
        loop {
            let n = self.socket.recv(&mut &mut self.buf[..], 0)?;
            for f in frames(&self.buf[..n]) {
                if f.seq != seq {
                    continue; // a late answer to an earlier request
                }
                if f.ty == NLMSG_ERROR {
                    let code = error_code(f.payload);
                    return if code == 0 {
                        Ok(None)
                    } else {
                        Err(io::Error::from_raw_os_error(-code))
                    };
                }
                let flow = f.payload.get(NFGENMSG_LEN..).and_then(Flow::parse);
                return Ok(flow);
            }
        }
    }

    pub(crate) fn ack(&mut self, msg: &[u8]) -> io::Result<()> {
        self.ask(msg).map(|_| ())
    }

    fn create(&mut self, flow: &Flow, idle: u32) -> io::Result<()> {
        let seq = self.next_seq();
        match flow.create(seq, idle) {
            Some(msg) => self.ack(&msg),
            None => Ok(()),
        }
    }

    pub(crate) fn update(&mut self, flow: &Flow, idle: u32) -> io::Result<()> {
        let msg = flow.update(self.next_seq(), idle);
        self.ack(&msg)
    }

    /// Deletes the target's entry holding `tuple` (original or reply); gone
    /// already is fine.
    pub(crate) fn delete(&mut self, tuple: &Tuple, which: u16, zone: u16) -> io::Result<()> {
        let msg = crate::ctsync_msg::delete(tuple, which, zone, self.next_seq());
        match self.ack(&msg) {
            Err(e) if errno(&e) == nix::libc::ENOENT => Ok(()),
            other => other,
        }
    }

    /// Writes the copy of `flow`: updates it if this replicator wrote it with the
    /// same translation, creates it otherwise, replacing whatever conflicts.
    pub(crate) fn write(
        &mut self,
        flow: &Flow,
        idle: u32,
        stats: &Mutex<ReplicationStats>,
    ) -> io::Result<()> {
        let Some(to) = flow.translated() else {
            return Ok(());
        };
        if self.copies.get(&flow.orig) == Some(&to) {
            match self.update(flow, idle) {
                Ok(()) => {
                    lock(stats).updated += 1;
                    return Ok(());
                }
                Err(e) if errno(&e) == nix::libc::ENOENT => {}
                Err(e) => return Err(e),
            }
        }
        match self.create(flow, idle) {
            Ok(()) => {
                lock(stats).copied += 1;
            }
            Err(e) if errno(&e) == nix::libc::EEXIST => {
                let seq = self.next_seq();
                let have = match self.ask(&crate::ctsync_msg::get(&flow.orig, flow.zone, seq)) {
                    Ok(f) => f,
                    Err(e) if errno(&e) == nix::libc::ENOENT => None,
                    Err(e) => return Err(e),
                };
                if have.as_ref().and_then(Flow::translated) == Some(to) {
                    self.update(flow, idle)?;
                    lock(stats).updated += 1;
                } else {
                    // The source is authoritative: whatever holds the original or
                    // the translated reply tuple here goes.
                    self.delete(&flow.orig, CTA_TUPLE_ORIG, flow.zone)?;
                    self.delete(&flow.translated_reply(), CTA_TUPLE_REPLY, flow.zone)?;
                    self.create(flow, idle)?;
                    let mut s = lock(stats);
                    s.copied += 1;
                    s.replaced += 1;
                }
            }
            Err(e) => return Err(e),
        }
        self.copies.insert(flow.orig, to);
        Ok(())
    }

    /// Deletes the copy of `flow` (its connection ended in the source).
    pub(crate) fn remove(
        &mut self,
        flow: &Flow,
        stats: &Mutex<ReplicationStats>,
    ) -> io::Result<()> {
        self.copies.remove(&flow.orig);
        let msg = crate::ctsync_msg::delete(&flow.orig, CTA_TUPLE_ORIG, flow.zone, self.next_seq());
        match self.ack(&msg) {
            Ok(()) => {
                lock(stats).deleted += 1;
                Ok(())
            }
            Err(e) if errno(&e) == nix::libc::ENOENT => Ok(()),
            Err(e) => Err(e),
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
