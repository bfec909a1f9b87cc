//! nftables, hot path: set-element changes sent to nf_tables as one netlink batch,
//! with no process. Used for the sets and maps that have a
//! [`cove_plan::nft::set_schema`] (the per-ENI ones an attach changes, and the
//! security-group rule sets a rule change changes, which are interval sets: see
//! `elem.rs` for how their ranges are written); everything else goes through `nft`
//! (see `nft.rs`).
//!
//! The batch is `NFNL_MSG_BATCH_BEGIN`, one `NFT_MSG_DELSETELEM` per set for the
//! deletions, one `NFT_MSG_NEWSETELEM` per set for the additions (a set whose
//! elements do not fit one message continues in the next), `NFNL_MSG_BATCH_END`.
//! The kernel applies all of it or none of it. Additions carry `NLM_F_EXCL`:
//! adding an element that is already there fails the batch, as deleting one that
//! is not there does (the planner only asks for real changes, so either means the
//! kernel is not what was observed).
//!
//! A [`Session`] is one `NETLINK_NETFILTER` socket, opened on a thread inside the
//! namespace: it talks to that namespace's nf_tables from whatever thread uses it
//! afterwards. Keep it open across batches ([`crate::nfsockets`] does, one per
//! namespace): on this kernel, closing a netfilter socket waits for nf_tables'
//! deferred release of the previous transactions (an RCU grace period, ~10 ms),
//! which was most of a rule change's time when every batch opened its own socket.

mod decode;
mod elem;
pub(crate) mod ruleset;
mod wire;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::ops::Range;
use std::os::fd::AsFd;

use cove_plan::nft::set_schema;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::error::HostError;
use wire::{
    MsgBuf, NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END, NFNL_SUBSYS_NFTABLES, NFPROTO_INET,
    NFPROTO_UNSPEC, NFT_MSG_DELSETELEM, NFT_MSG_NEWSETELEM, NFTA_SET_ELEM_LIST_ELEMENTS,
    NFTA_SET_ELEM_LIST_SET, NFTA_SET_ELEM_LIST_TABLE, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
    NLM_F_REQUEST,
};

/// Elements by set name, as in [`cove_plan::Op::NftElements`].
pub(crate) type Elements = BTreeMap<String, BTreeSet<String>>;

/// The largest `NFTA_SET_ELEM_LIST_ELEMENTS` written before the set continues in
/// the next message (an attribute's length is 16 bits).
const MAX_ELEMENTS_NEST: usize = 60_000;

/// How long to wait for the kernel's answer. The kernel handles a batch while it is
/// being sent, so the answers are normally there at once.
const ACK_TIMEOUT_MS: u16 = 5_000;

/// Batches larger than this raise the socket's send buffer (the default one refuses
/// a message larger than itself).
const DEFAULT_SNDBUF: usize = 128 * 1024;

/// Whether every set of the change has a schema, so that the change can be sent
/// with [`update_elements`].
pub(crate) fn handles(add: &Elements, delete: &Elements) -> bool {
    add.keys()
        .chain(delete.keys())
        .all(|set| set_schema(set).is_some())
}

/// Removes `delete` and adds `add` to the sets of table `inet table`, in one
/// atomic nf_tables batch over a socket opened for this batch only. Call only on a
/// thread inside namespace `ns`, and only when [`handles`] is true. (Closing the
/// socket afterwards can take an RCU grace period; [`Session`] avoids that.)
pub(crate) fn update_elements(
    ns: &str,
    table: &str,
    add: &Elements,
    delete: &Elements,
) -> Result<(), HostError> {
    Session::open_here(ns, table)?.update_elements(ns, table, add, delete)
}

/// The first sequence number of a session; numbers restart here before they
/// could wrap.
const FIRST_SEQ: u32 = 1;

/// A `NETLINK_NETFILTER` socket of one namespace and the next sequence number to
/// use on it (each batch gets numbers of its own, so a late answer to an earlier
/// batch is never taken for one of this batch).
#[derive(Debug)]
pub(crate) struct Session {
    sock: Socket,
    next_seq: u32,
}

impl Session {
    /// Opens a socket in the namespace of the calling thread (`ns` and `table`
    /// name it in errors).
    pub(crate) fn open_here(ns: &str, table: &str) -> Result<Session, HostError> {
        let open = |source: io::Error| HostError::NftNetlink {
            ns: ns.to_owned(),
            table: table.to_owned(),
            what: "open a netfilter netlink socket",
            source,
        };
        let mut sock = Socket::new(NETLINK_NETFILTER).map_err(open)?;
        sock.bind_auto().map_err(open)?;
        Session::from_socket(sock).map_err(open)
    }

    /// A session on `sock`, a bound `NETLINK_NETFILTER` socket.
    pub(crate) fn from_socket(sock: Socket) -> io::Result<Session> {
        // Acknowledgements without the request echoed, with the offset of the
        // element the kernel refused.
        sock.set_cap_ack(true)?;
        sock.set_ext_ack(true)?;
        Ok(Session {
            sock,
            next_seq: FIRST_SEQ,
        })
    }

    /// Removes `delete` and adds `add` to the sets of table `inet table` of the
    /// socket's namespace `ns`, in one atomic batch, and waits for the kernel's
    /// answer. Only when [`handles`] is true.
    pub(crate) fn update_elements(
        &mut self,
        ns: &str,
        table: &str,
        add: &Elements,
        delete: &Elements,
    ) -> Result<(), HostError> {
        if self.next_seq > u32::MAX / 2 {
            self.next_seq = FIRST_SEQ;
        }
        let batch = Batch::build_at(ns, table, add, delete, self.next_seq)?;
        if batch.msgs.is_empty() {
            return Ok(());
        }
        self.next_seq = batch.last_seq.saturating_add(1);
        batch.send(&self.sock, ns, table)
    }
}

impl Session {
    /// The socket (to subscribe it to notifications, or to poll it).
    pub(crate) fn socket(&self) -> &Socket {
        &self.sock
    }

    /// Re-reads the elements of the named sets of `inet table` only (their
    /// declarations unchanged since the last [`Session::read_ruleset`]); `None`
    /// if the ruleset changed meanwhile or is not at generation `expect`.
    /// Notifications read meanwhile go to `other`.
    pub(crate) fn read_sets<'a>(
        &mut self,
        ns: &str,
        table: &str,
        sets: impl IntoIterator<Item = &'a String>,
        expect: Option<u32>,
        other: &mut dyn FnMut(&[u8]),
    ) -> Result<Option<ruleset::SetReading>, HostError> {
        let seq = self.take_seq(0);
        let (out, next) =
            ruleset::read_sets(&self.sock, table, sets, seq, expect, other).map_err(|source| {
                HostError::NftNetlink {
                    ns: ns.to_owned(),
                    table: table.to_owned(),
                    what: "read set elements back",
                    source,
                }
            })?;
        self.next_seq = next;
        Ok(out)
    }

    /// Takes `n` sequence numbers (restarting before they could wrap).
    fn take_seq(&mut self, n: u32) -> u32 {
        if self.next_seq > u32::MAX / 2 {
            self.next_seq = FIRST_SEQ;
        }
        let seq = self.next_seq;
        self.next_seq += n;
        seq
    }

    /// Reads every table of the socket's namespace `ns` and the digest of the
    /// chains, rules and sets of `inet table` (see `ruleset.rs`).
    pub(crate) fn read_ruleset(
        &mut self,
        ns: &str,
        table: &str,
    ) -> Result<ruleset::Ruleset, HostError> {
        self.read_ruleset_deferring(ns, table, None)
    }

    /// [`Session::read_ruleset`], leaving the elements of more than `defer_over`
    /// sets to the caller (see `ruleset::read_deferring`).
    pub(crate) fn read_ruleset_deferring(
        &mut self,
        ns: &str,
        table: &str,
        defer_over: Option<usize>,
    ) -> Result<ruleset::Ruleset, HostError> {
        let seq = self.take_seq(0);
        let (rs, next) =
            ruleset::read_deferring(&self.sock, table, seq, defer_over).map_err(|source| {
                HostError::NftNetlink {
                    ns: ns.to_owned(),
                    table: table.to_owned(),
                    what: "read the ruleset back",
                    source,
                }
            })?;
        self.next_seq = next;
        Ok(rs)
    }

    /// Reads `inet table` back and records the digest of its chains, rules and
    /// sets in it: right after cove loads the table, so that any later change to
    /// them is seen by [`Session::read_ruleset`].
    pub(crate) fn record_digest(&mut self, ns: &str, table: &str) -> Result<(), HostError> {
        let rs = self.read_ruleset(ns, table)?;
        let Some(digest) = rs.digest else {
            return Err(HostError::NftNetlink {
                ns: ns.to_owned(),
                table: table.to_owned(),
                what: "find the table just loaded",
                source: io::Error::from_raw_os_error(nix::libc::ENOENT),
            });
        };
        let seq = self.take_seq(3);
        ruleset::record(&self.sock, table, &digest, seq).map_err(|source| HostError::NftNetlink {
            ns: ns.to_owned(),
            table: table.to_owned(),
            what: "record the digest of its rules",
            source,
        })
    }

    /// Deletes table `name` of `family` (as `nft` writes it), which is not cove's.
    pub(crate) fn delete_table(
        &mut self,
        ns: &str,
        family: &str,
        name: &str,
    ) -> Result<(), HostError> {
        let err = |source| HostError::NftTableDelete {
            ns: ns.to_owned(),
            family: family.to_owned(),
            name: name.to_owned(),
            source,
        };
        let number = ruleset::family_number(family).ok_or_else(|| {
            err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "unknown nftables family",
            ))
        })?;
        let seq = self.take_seq(3);
        ruleset::delete_table(&self.sock, number, name, seq).map_err(err)
    }
}

/// Add or delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Add,
    Delete,
}

impl Verb {
    fn name(self) -> &'static str {
        match self {
            Verb::Add => "add",
            Verb::Delete => "delete",
        }
    }
}

/// One element message of the batch.
#[derive(Debug)]
struct Msg {
    seq: u32,
    verb: Verb,
    set: String,
    /// Each element's `NFTA_LIST_ELEM`, as offsets from the message's start, with
    /// its text (to name it when the kernel points at it).
    elems: Vec<(Range<usize>, String)>,
}

/// A message being written: where it starts and where its element list starts.
struct Open {
    msg: Msg,
    start: usize,
    nest: usize,
}

/// A whole batch, encoded.
#[derive(Debug)]
struct Batch {
    buf: MsgBuf,
    msgs: Vec<Msg>,
    /// Sequence numbers of the batch's messages, begin and end included.
    first_seq: u32,
    last_seq: u32,
}

impl Batch {
    /// [`Batch::build_at`] numbered from 1.
    #[cfg(test)]
    fn build(ns: &str, table: &str, add: &Elements, delete: &Elements) -> Result<Batch, HostError> {
        Batch::build_at(ns, table, add, delete, FIRST_SEQ)
    }

    /// Encodes the deletions, then the additions, numbering the messages from
    /// `first_seq`. Elements that do not parse with their set's schema are refused
    /// here, before anything is sent.
    fn build_at(
        ns: &str,
        table: &str,
        add: &Elements,
        delete: &Elements,
        first_seq: u32,
    ) -> Result<Batch, HostError> {
        let enc = |source| HostError::NftNetlink {
            ns: ns.to_owned(),
            table: table.to_owned(),
            what: "encode the element batch",
            source,
        };
        let mut b = Batch {
            buf: MsgBuf::default(),
            msgs: Vec::new(),
            first_seq,
            last_seq: first_seq,
        };
        let mut seq = first_seq;
        let begin = b.buf.begin_msg(
            NFNL_MSG_BATCH_BEGIN,
            NLM_F_REQUEST,
            seq,
            NFPROTO_UNSPEC,
            NFNL_SUBSYS_NFTABLES,
        );
        b.buf.end_msg(begin).map_err(enc)?;
        for (verb, sets) in [(Verb::Delete, delete), (Verb::Add, add)] {
            for (set, elems) in sets {
                let syntax = |element: &str, problem: String| HostError::NftElementSyntax {
                    ns: ns.to_owned(),
                    table: table.to_owned(),
                    set: set.clone(),
                    element: element.to_owned(),
                    problem,
                };
                let Some(schema) = set_schema(set) else {
                    let first = elems.first().map_or("", String::as_str);
                    return Err(syntax(
                        first,
                        "the set has no schema for the netlink path".to_owned(),
                    ));
                };
                let with_data = verb == Verb::Add;
                let mut open: Option<Open> = None;
                for text in elems {
                    let e = elem::parse(&schema, text).map_err(|p| syntax(text, p))?;
                    let mut o = match open.take() {
                        Some(o) => o,
                        None => {
                            seq += 1;
                            b.open(seq, verb, set, table).map_err(enc)?
                        }
                    };
                    let mut at = b.buf.len();
                    elem::encode(&mut b.buf, &e, with_data).map_err(enc)?;
                    if b.buf.len() - o.nest > MAX_ELEMENTS_NEST && !o.msg.elems.is_empty() {
                        // Continue this set in a new message.
                        b.buf.truncate(at);
                        b.close(o).map_err(enc)?;
                        seq += 1;
                        o = b.open(seq, verb, set, table).map_err(enc)?;
                        at = b.buf.len();
                        elem::encode(&mut b.buf, &e, with_data).map_err(enc)?;
                    }
                    o.msg
                        .elems
                        .push((at - o.start..b.buf.len() - o.start, text.clone()));
                    open = Some(o);
                }
                if let Some(o) = open {
                    b.close(o).map_err(enc)?;
                }
            }
        }
        let end = b.buf.begin_msg(
            NFNL_MSG_BATCH_END,
            NLM_F_REQUEST,
            seq + 1,
            NFPROTO_UNSPEC,
            NFNL_SUBSYS_NFTABLES,
        );
        b.buf.end_msg(end).map_err(enc)?;
        b.last_seq = seq + 1;
        Ok(b)
    }

    /// Starts an element message for `set`.
    fn open(&mut self, seq: u32, verb: Verb, set: &str, table: &str) -> io::Result<Open> {
        let (ty, flags) = match verb {
            Verb::Add => (NFT_MSG_NEWSETELEM, NLM_F_CREATE | NLM_F_EXCL),
            Verb::Delete => (NFT_MSG_DELSETELEM, 0),
        };
        let ty = (NFNL_SUBSYS_NFTABLES << 8) | ty;
        let start = self
            .buf
            .begin_msg(ty, NLM_F_REQUEST | NLM_F_ACK | flags, seq, NFPROTO_INET, 0);
        self.buf.attr_strz(NFTA_SET_ELEM_LIST_TABLE, table)?;
        self.buf.attr_strz(NFTA_SET_ELEM_LIST_SET, set)?;
        let nest = self.buf.begin_nest(NFTA_SET_ELEM_LIST_ELEMENTS);
        Ok(Open {
            msg: Msg {
                seq,
                verb,
                set: set.to_owned(),
                elems: Vec::new(),
            },
            start,
            nest,
        })
    }

    /// Finishes an element message.
    fn close(&mut self, o: Open) -> io::Result<()> {
        self.buf.end_nest(o.nest)?;
        self.buf.end_msg(o.start)?;
        self.msgs.push(o.msg);
        Ok(())
    }

    /// Sends the batch on `sock` and waits for the acknowledgement of every
    /// element message. Answers left over from an earlier batch are read first and
    /// dropped.
    fn send(&self, sock: &Socket, ns: &str, table: &str) -> Result<(), HostError> {
        let net = |what: &'static str| {
            move |source: io::Error| HostError::NftNetlink {
                ns: ns.to_owned(),
                table: table.to_owned(),
                what,
                source,
            }
        };
        let open = net("size the netfilter netlink socket");
        let mut datagram = Vec::with_capacity(64 * 1024);
        drain(sock, &mut datagram).map_err(net("read earlier answers"))?;
        let bytes = self.buf.bytes();
        if bytes.len() > DEFAULT_SNDBUF {
            nix::sys::socket::setsockopt(
                sock,
                nix::sys::socket::sockopt::SndBufForce,
                &(bytes.len() + 4096),
            )
            .map_err(|e| open(e.into()))?;
        }
        let sent = sock
            .send_to(bytes, &SocketAddr::new(0, 0), 0)
            .map_err(net("send the element batch"))?;
        if sent != bytes.len() {
            return Err(net("send the element batch")(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("sent {sent} of {} bytes", bytes.len()),
            )));
        }
        let read = net("read the kernel's acknowledgements");
        let mut pending: BTreeSet<u32> = self.msgs.iter().map(|m| m.seq).collect();
        while !pending.is_empty() {
            recv_next(sock, &mut datagram).map_err(&read)?;
            for ack in wire::parse_acks(&datagram).map_err(&read)? {
                if !(self.first_seq..=self.last_seq).contains(&ack.seq) {
                    // An earlier batch's, answered late.
                    continue;
                }
                if ack.error != 0 {
                    // The kernel rolled the batch back; the first refusal is the
                    // first failing message's.
                    return Err(self.refusal(ns, table, ack));
                }
                pending.remove(&ack.seq);
            }
        }
        Ok(())
    }

    /// The error for a negative acknowledgement.
    fn refusal(&self, ns: &str, table: &str, ack: wire::Ack) -> HostError {
        let source = io::Error::from_raw_os_error(-ack.error);
        let Some(m) = self.msgs.iter().find(|m| m.seq == ack.seq) else {
            // Refused as a whole (the commit, or no memory for the answers).
            return HostError::NftNetlink {
                ns: ns.to_owned(),
                table: table.to_owned(),
                what: "commit the element batch",
                source,
            };
        };
        let pointed = ack
            .offset
            .and_then(|o| usize::try_from(o).ok())
            .and_then(|o| m.elems.iter().find(|(r, _)| r.contains(&o)));
        let element = match (pointed, m.elems.as_slice()) {
            (Some((_, text)), _) | (None, [(_, text)]) => text.clone(),
            (None, all) => {
                let texts: Vec<&str> = all.iter().map(|(_, t)| t.as_str()).collect();
                format!("(one of {})", texts.join(", "))
            }
        };
        HostError::NftElement {
            ns: ns.to_owned(),
            table: table.to_owned(),
            set: m.set.clone(),
            verb: m.verb.name(),
            element,
            source,
        }
    }
}

/// Reads and drops whatever is waiting on the socket; whether there was anything
/// (an overrun, `ENOBUFS`, counts: notifications were lost).
pub(crate) fn drain(sock: &Socket, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut any = false;
    loop {
        buf.clear();
        match sock.recv(buf, nix::libc::MSG_DONTWAIT) {
            Ok(_) => any = true,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(any),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOBUFS) => any = true,
            Err(e) => return Err(e),
        }
    }
}

/// Receives the next datagram into `buf` (replacing what it held), waiting for one
/// up to the acknowledgement timeout. `ENOBUFS` (the receive queue overran:
/// multicast notifications, or a dump's next part, were held back) is skipped: a
/// dump goes on with the next read, and a lost acknowledgement ends in the
/// timeout's error.
pub(crate) fn recv_next(sock: &Socket, buf: &mut Vec<u8>) -> io::Result<()> {
    loop {
        buf.clear();
        match sock.recv(buf, nix::libc::MSG_DONTWAIT) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait(sock)?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOBUFS) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Waits until the socket has something to read.
fn wait(sock: &Socket) -> io::Result<()> {
    let mut fds = [PollFd::new(sock.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(ACK_TIMEOUT_MS)) {
        Ok(0) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "no answer from nf_tables within {ACK_TIMEOUT_MS} ms; observe to see whether the batch applied"
            ),
        )),
        Ok(_) | Err(Errno::EINTR) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod measure;
#[cfg(test)]
mod tests;
