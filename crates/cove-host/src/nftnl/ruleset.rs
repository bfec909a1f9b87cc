//! Reading nf_tables back over netlink, with no process: every table of the
//! namespace (cove's, and any other, which is drift), and a digest of cove's
//! table's chains, rules and set declarations; writing the digest into the table
//! right after cove loads it; deleting a table that is not cove's.
//!
//! **The digest** is a SHA-256 of the kernel's own dump of cove's table:
//! chains (name, hook, priority, policy, type, flags), then rules (chain,
//! every expression's attributes in order, user data), then set declarations,
//! each in dump order, with what changes by itself or by reloading left out:
//! handles, positions, ids, reference counts, a set's element count and backend,
//! and the values of stateful
//! expressions (`counter`, `quota`, `last`, `connlimit`). cove records it right
//! after it loads a generation, as the name of an empty chain
//! `digest_<hex>` ([`DIGEST_CHAIN`]); observing computes it again, so a flushed or
//! deleted chain, an inserted, deleted or changed rule, a changed policy or a
//! changed set declaration makes the two differ. Set *elements* are not in it
//! (they are observed one by one).
//!
//! The dumps are made between two reads of the ruleset's generation counter
//! (`NFT_MSG_GETGEN`) and repeated if it moved, so the chains, rules and sets of
//! one reading belong together.

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use netlink_sys::{Socket, SocketAddr};
use sha2::{Digest, Sha256};

use super::wire::{
    MsgBuf, NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END, NFNL_SUBSYS_NFTABLES, NFPROTO_INET,
    NFPROTO_UNSPEC, NLM_F_ACK, NLM_F_CREATE, NLM_F_REQUEST, NLMSG_ERROR, NLMSG_HDRLEN,
};
use super::wire::{NFTA_SET_ELEM_LIST_SET, NFTA_SET_ELEM_LIST_TABLE};
use super::{Elements, drain, recv_next};

/// The `inet` family's number.
pub(crate) const INET: u8 = NFPROTO_INET;

/// What precedes the hex digest in the name of the chain that records it.
pub(crate) const DIGEST_CHAIN: &str = "digest_";

const NLMSG_DONE: u16 = 3;
const NLM_F_DUMP: u16 = 0x300;
/// On a dump message: the ruleset changed while it was dumped.
const NLM_F_DUMP_INTR: u16 = 0x10;
const NLA_TYPE_MASK: u16 = 0x3fff;

const NFT_MSG_GETTABLE: u16 = 1;
const NFT_MSG_DELTABLE: u16 = 2;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_GETCHAIN: u16 = 4;
const NFT_MSG_GETRULE: u16 = 7;
const NFT_MSG_GETSET: u16 = 10;
const NFT_MSG_GETSETELEM: u16 = 13;
/// The answer to `NFT_MSG_GETGEN` (one message, not a dump).
const NFT_MSG_NEWGEN: u16 = 15;
const NFT_MSG_GETGEN: u16 = 16;

const NFTA_TABLE_NAME: u16 = 1;
const NFTA_TABLE_USERDATA: u16 = 6;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
/// Chain attributes left out of the digest: handle, use, counters, pad, id.
const CHAIN_VOLATILE: [u16; 5] = [2, 6, 8, 9, 11];
const NFTA_RULE_TABLE: u16 = 1;
#[cfg(test)]
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
/// Rule attributes left out: handle, position, pad, id, position id, chain id.
const RULE_VOLATILE: [u16; 6] = [3, 6, 8, 9, 10, 11];
const NFTA_SET_TABLE: u16 = 1;
const NFTA_SET_NAME: u16 = 2;
const NFTA_SET_FLAGS: u16 = 3;
const NFTA_SET_KEY_LEN: u16 = 5;
const NFTA_SET_DATA_LEN: u16 = 7;
const NFTA_SET_COUNT: u16 = 20;
/// Set flags: `NFT_SET_INTERVAL`, `NFT_SET_MAP`.
const NFT_SET_INTERVAL: u32 = 0x4;
const NFT_SET_MAP: u32 = 0x8;
/// Set attributes left out: id, pad, handle, and (kernel 6.18) the backend the
/// kernel picked and the number of elements, which elements change.
const SET_VOLATILE: [u16; 5] = [10, 14, 16, 19, 20];
const NFTA_GEN_ID: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
/// Expressions whose data is state, not configuration.
const STATEFUL_EXPRS: [&str; 4] = ["counter", "quota", "last", "connlimit"];
/// libnftnl's user-data TLV type of a table comment.
const UDATA_TABLE_COMMENT: u8 = 0;

/// How often a reading is repeated when the ruleset changes under it.
const TRIES: usize = 5;

/// A table in the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableInfo {
    /// `NFPROTO_*` family.
    pub(crate) family: u8,
    /// Name.
    pub(crate) name: String,
    /// The comment, if any.
    pub(crate) comment: Option<String>,
}

/// What a reading found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ruleset {
    /// Every table, in dump order.
    pub(crate) tables: Vec<TableInfo>,
    /// Digest of table `inet <table>`'s chains, rules and sets (the recording
    /// chain left out), if the table exists.
    pub(crate) digest: Option<String>,
    /// The digest recorded in the table, if any.
    pub(crate) recorded: Option<String>,
    /// Whether the table has named sets.
    pub(crate) named_sets: bool,
    /// The elements of its named sets in the planner's syntax, if every one of
    /// them has a schema (`None`: read them another way).
    pub(crate) elements: Option<Elements>,
    /// Sets whose elements were left for the caller to read (`elements` is then
    /// empty), in parallel; see [`read_deferring`].
    pub(crate) deferred: Option<Deferred>,
}

/// Set elements left to read: the generation the rest was read at, and the sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Deferred {
    /// The ruleset's generation when the tables, chains, rules and sets were read.
    pub(crate) generation: u32,
    /// The named sets of cove's table (each with its schema's shape).
    pub(crate) sets: Vec<String>,
}

/// The family's name as `nft` writes it.
pub(crate) fn family_name(family: u8) -> String {
    match family {
        1 => "inet".into(),
        2 => "ip".into(),
        3 => "arp".into(),
        5 => "netdev".into(),
        7 => "bridge".into(),
        10 => "ip6".into(),
        other => format!("family{other}"),
    }
}

/// The family number of a name [`family_name`] gives.
pub(crate) fn family_number(name: &str) -> Option<u8> {
    Some(match name {
        "inet" => 1,
        "ip" => 2,
        "arp" => 3,
        "netdev" => 5,
        "bridge" => 7,
        "ip6" => 10,
        other => other.strip_prefix("family")?.parse().ok()?,
    })
}

/// The attributes in `b`: (type without flags, payload). Stops at a malformed one.
pub(crate) fn attrs(b: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= b.len() {
        let len = usize::from(u16::from_ne_bytes([b[at], b[at + 1]]));
        let ty = u16::from_ne_bytes([b[at + 2], b[at + 3]]) & NLA_TYPE_MASK;
        if len < 4 || at + len > b.len() {
            break;
        }
        out.push((ty, &b[at + 4..at + len]));
        at += super::wire::align(len);
    }
    out
}

fn strz(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn get<'a>(a: &[(u16, &'a [u8])], ty: u16) -> Option<&'a [u8]> {
    a.iter().find(|(t, _)| *t == ty).map(|(_, v)| *v)
}

/// A table comment in libnftnl's user-data TLVs.
pub(crate) fn table_comment(udata: &[u8]) -> Option<String> {
    let mut at = 0;
    while at + 2 <= udata.len() {
        let (ty, len) = (udata[at], usize::from(udata[at + 1]));
        let value = udata.get(at + 2..at + 2 + len)?;
        if ty == UDATA_TABLE_COMMENT {
            return Some(strz(value));
        }
        at += 2 + len;
    }
    None
}

/// Appends an attribute to the canonical form: type, length, payload.
fn put(out: &mut Vec<u8>, ty: u16, v: &[u8]) {
    out.extend_from_slice(&ty.to_be_bytes());
    out.extend_from_slice(&u32::try_from(v.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(v);
}

/// A rule's expressions in canonical form: each expression's name and, unless it
/// is stateful, its data.
fn canonical_exprs(out: &mut Vec<u8>, exprs: &[u8]) {
    for (_, elem) in attrs(exprs) {
        let parts = attrs(elem);
        let name = get(&parts, NFTA_EXPR_NAME).map(strz).unwrap_or_default();
        for (ty, v) in parts {
            if ty != NFTA_EXPR_NAME && STATEFUL_EXPRS.contains(&name.as_str()) {
                continue;
            }
            put(out, ty, v);
        }
    }
}

/// The messages of a dump: (family, payload after the `nfgenmsg`).
pub(crate) type Msgs = Vec<(u8, Vec<u8>)>;

/// The messages of one kind from a dump, for one table: (family, attributes).
type Dump<'a> = Vec<(u8, Vec<(u16, &'a [u8])>)>;

fn of_table<'a>(msgs: &'a [(u8, Vec<u8>)], table_attr: u16, table: &str) -> Dump<'a> {
    msgs.iter()
        .filter(|(family, _)| *family == NFPROTO_INET)
        .map(|(family, payload)| (*family, attrs(payload)))
        .filter(|(_, a)| get(a, table_attr).map(strz).as_deref() == Some(table))
        .collect()
}

/// The digest of a table's chains, rules and sets as dumped (payloads after the
/// `nfgenmsg`), and the digest recorded in it.
pub(crate) fn digest(
    table: &str,
    chains: &[(u8, Vec<u8>)],
    rules: &[(u8, Vec<u8>)],
    sets: &[(u8, Vec<u8>)],
) -> (String, Option<String>, bool) {
    let mut canon = Vec::new();
    let mut recorded = None;
    for (_, a) in of_table(chains, NFTA_CHAIN_TABLE, table) {
        let name = get(&a, NFTA_CHAIN_NAME).map(strz).unwrap_or_default();
        if let Some(d) = name.strip_prefix(DIGEST_CHAIN) {
            recorded = Some(d.to_owned());
            continue;
        }
        canon.push(b'C');
        for (ty, v) in a {
            if ty != NFTA_CHAIN_TABLE && !CHAIN_VOLATILE.contains(&ty) {
                put(&mut canon, ty, v);
            }
        }
    }
    for (_, a) in of_table(rules, NFTA_RULE_TABLE, table) {
        canon.push(b'R');
        for (ty, v) in a {
            if ty == NFTA_RULE_EXPRESSIONS {
                canonical_exprs(&mut canon, v);
            } else if ty != NFTA_RULE_TABLE && !RULE_VOLATILE.contains(&ty) {
                put(&mut canon, ty, v);
            }
        }
    }
    let mut named_sets = false;
    for (_, a) in of_table(sets, NFTA_SET_TABLE, table) {
        // Anonymous sets (`__set0`, …) are constant and belong to their rules.
        named_sets |= get(&a, NFTA_SET_NAME).is_some_and(|n| !n.starts_with(b"__"));
        canon.push(b'S');
        for (ty, v) in a {
            if ty != NFTA_SET_TABLE && !SET_VOLATILE.contains(&ty) {
                put(&mut canon, ty, v);
            }
        }
    }
    let hash = Sha256::digest(&canon);
    let hex: String = hash[..16].iter().map(|b| format!("{b:02x}")).collect();
    (hex, recorded, named_sets)
}

/// Sends one dump request and collects the answers' (family, payload after the
/// `nfgenmsg`). `Ok(None)` if the ruleset changed during the dump.
/// `NFT_MSG_GETGEN` is not a dump: its one answer ends it.
fn dump(sock: &Socket, seq: u32, ty: u16) -> io::Result<Option<Msgs>> {
    dump_of(sock, seq, ty, NFPROTO_UNSPEC, |_| Ok(()))
}

/// [`dump`] of one family, with attributes (`write`) that select what to dump.
fn dump_of(
    sock: &Socket,
    seq: u32,
    ty: u16,
    family: u8,
    write: impl FnOnce(&mut MsgBuf) -> io::Result<()>,
) -> io::Result<Option<Msgs>> {
    dump_with(sock, seq, ty, family, write, &mut |_| {})
}

/// [`dump_of`], handing every message that does not answer it (a notification,
/// on a subscribed socket) to `other`.
fn dump_with(
    sock: &Socket,
    seq: u32,
    ty: u16,
    family: u8,
    write: impl FnOnce(&mut MsgBuf) -> io::Result<()>,
    other: &mut dyn FnMut(&[u8]),
) -> io::Result<Option<Msgs>> {
    let single = ty == NFT_MSG_GETGEN;
    let mut b = MsgBuf::default();
    let m = b.begin_msg(
        (NFNL_SUBSYS_NFTABLES << 8) | ty,
        NLM_F_REQUEST | if single { 0 } else { NLM_F_DUMP },
        seq,
        family,
        0,
    );
    write(&mut b)?;
    b.end_msg(m)?;
    sock.send_to(b.bytes(), &SocketAddr::new(0, 0), 0)?;
    let mut out = Vec::new();
    let mut intr = false;
    // The kernel fills dump datagrams up to 32 KiB (more only for one message that
    // does not fit); a datagram cut short is refused below as malformed.
    let mut datagram = Vec::with_capacity(128 * 1024);
    loop {
        recv_next(sock, &mut datagram)?;
        let mut at = 0;
        while at + NLMSG_HDRLEN <= datagram.len() {
            let d = &datagram;
            let len = u32::from_ne_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]]) as usize;
            let mty = u16::from_ne_bytes([d[at + 4], d[at + 5]]);
            let flags = u16::from_ne_bytes([d[at + 6], d[at + 7]]);
            let mseq = u32::from_ne_bytes([d[at + 8], d[at + 9], d[at + 10], d[at + 11]]);
            if len < NLMSG_HDRLEN || at + len > d.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "malformed netlink dump",
                ));
            }
            let msg = &d[at..at + len];
            at += super::wire::align(len);
            if mseq != seq {
                other(msg);
                continue;
            }
            intr |= flags & NLM_F_DUMP_INTR != 0;
            match mty {
                NLMSG_DONE => return Ok((!intr).then_some(out)),
                NLMSG_ERROR => {
                    let err = msg
                        .get(16..20)
                        .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                        .unwrap_or(-libc_eproto());
                    if err != 0 {
                        return Err(io::Error::from_raw_os_error(-err));
                    }
                }
                _ if msg.len() >= NLMSG_HDRLEN + 4 => {
                    out.push((msg[NLMSG_HDRLEN], msg[NLMSG_HDRLEN + 4..].to_vec()));
                    if single && mty == (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN {
                        return Ok(Some(out));
                    }
                }
                _ => {}
            }
        }
    }
}

fn libc_eproto() -> i32 {
    nix::libc::EPROTO
}

/// The ruleset's generation counter.
fn generation(sock: &Socket, seq: u32) -> io::Result<Option<u32>> {
    generation_with(sock, seq, &mut |_| {})
}

/// [`generation`], handing notifications to `other`.
fn generation_with(
    sock: &Socket,
    seq: u32,
    other: &mut dyn FnMut(&[u8]),
) -> io::Result<Option<u32>> {
    let msgs = dump_with(sock, seq, NFT_MSG_GETGEN, NFPROTO_UNSPEC, |_| Ok(()), other)?;
    Ok(msgs.and_then(|m| {
        m.iter().find_map(|(_, p)| {
            get(&attrs(p), NFTA_GEN_ID)
                .and_then(|v| v.get(..4))
                .map(|v| u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
        })
    }))
}

/// Reads the namespace's tables, the digest of `inet table` and the elements of its
/// named sets. `seq` is the first sequence number to use; returns the reading and
/// the next free number.
///
/// When cove's table has more than `defer_over` named sets, each with its
/// schema's shape, their elements are not read: the reading says which
/// ([`Ruleset::deferred`]), for [`read_sets`] on other sockets at once.
pub(crate) fn read_deferring(
    sock: &Socket,
    table: &str,
    mut seq: u32,
    defer_over: Option<usize>,
) -> io::Result<(Ruleset, u32)> {
    let mut buf = Vec::new();
    drain(sock, &mut buf)?;
    for _ in 0..TRIES {
        let mut next = || {
            seq += 1;
            seq
        };
        let before = generation(sock, next())?;
        let (Some(tables), Some(chains), Some(rules), Some(sets)) = (
            dump(sock, next(), NFT_MSG_GETTABLE)?,
            dump(sock, next(), NFT_MSG_GETCHAIN)?,
            dump(sock, next(), NFT_MSG_GETRULE)?,
            dump(sock, next(), NFT_MSG_GETSET)?,
        ) else {
            continue;
        };
        if before.is_none() {
            continue;
        }
        let tables: Vec<TableInfo> = tables
            .iter()
            .map(|(family, p)| {
                let a = attrs(p);
                TableInfo {
                    family: *family,
                    name: get(&a, NFTA_TABLE_NAME).map(strz).unwrap_or_default(),
                    comment: get(&a, NFTA_TABLE_USERDATA).and_then(table_comment),
                }
            })
            .collect();
        let ours = tables
            .iter()
            .any(|t| t.family == NFPROTO_INET && t.name == table);
        let (digest, recorded, named_sets) = if ours {
            let (d, r, n) = digest(table, &chains, &rules, &sets);
            (Some(d), r, n)
        } else {
            (None, None, false)
        };
        let mut elements = Some(Elements::new());
        let mut interrupted = false;
        let names = set_names(table, &sets);
        let defer = defer_over.is_some_and(|limit| names.len() > limit)
            && names.iter().all(|(name, declared)| {
                cove_plan::nft::set_schema(name).is_some_and(|s| declared.fits(&s))
            });
        if defer {
            let after = generation(sock, next())?;
            let Some(generation) = before.filter(|b| Some(*b) == after) else {
                continue;
            };
            return Ok((
                Ruleset {
                    tables,
                    digest,
                    recorded,
                    named_sets,
                    elements,
                    deferred: Some(Deferred {
                        generation,
                        sets: names
                            .into_iter()
                            .filter(|(_, d)| !d.empty())
                            .map(|(n, _)| n)
                            .collect(),
                    }),
                },
                seq + 1,
            ));
        }
        for (name, declared) in names {
            // The description's schema, and only if the kernel's set has its
            // shape: a set with one of cove's names but declared otherwise is read
            // the other way, never decoded with the wrong field widths.
            let Some(schema) = cove_plan::nft::set_schema(&name).filter(|s| declared.fits(s))
            else {
                elements = None;
                break;
            };
            if declared.empty() {
                continue;
            }
            let Some(msgs) = dump_of(sock, next(), NFT_MSG_GETSETELEM, NFPROTO_INET, |b| {
                b.attr_strz(NFTA_SET_ELEM_LIST_TABLE, table)?;
                b.attr_strz(NFTA_SET_ELEM_LIST_SET, &name)
            })?
            else {
                interrupted = true;
                break;
            };
            let payloads: Vec<&[u8]> = msgs.iter().map(|(_, p)| p.as_slice()).collect();
            match super::decode::elements(&schema, &payloads) {
                Some(e) if e.is_empty() => {}
                Some(e) => {
                    if let Some(all) = &mut elements {
                        all.insert(name, e);
                    }
                }
                None => {
                    elements = None;
                    break;
                }
            }
        }
        let after = generation(sock, next())?;
        if interrupted || before != after {
            continue;
        }
        return Ok((
            Ruleset {
                tables,
                digest,
                recorded,
                named_sets,
                elements,
                deferred: None,
            },
            seq + 1,
        ));
    }
    Err(io::Error::new(
        io::ErrorKind::Interrupted,
        format!("the ruleset kept changing during {TRIES} readings"),
    ))
}

/// By set, its elements (`None`: gone, or not decodable).
pub(crate) type SetReading = BTreeMap<String, Option<BTreeSet<String>>>;

/// Re-reads the elements of `sets` of table `inet table` (see
/// `Session::read_sets`) between two readings of the generation counter;
/// `None` if the ruleset changed meanwhile, or is not at generation `expect`
/// (read it all then). Notifications that arrive meanwhile go to `other`; none
/// is dropped.
pub(crate) fn read_sets<'a>(
    sock: &Socket,
    table: &str,
    sets: impl IntoIterator<Item = &'a String>,
    mut seq: u32,
    expect: Option<u32>,
    other: &mut dyn FnMut(&[u8]),
) -> io::Result<(Option<SetReading>, u32)> {
    let mut next = || {
        seq += 1;
        seq
    };
    let before = generation_with(sock, next(), other)?;
    let mut out = BTreeMap::new();
    for name in sets {
        let Some(schema) = cove_plan::nft::set_schema(name) else {
            out.insert(name.clone(), None);
            continue;
        };
        let write = |b: &mut MsgBuf| {
            b.attr_strz(NFTA_SET_ELEM_LIST_TABLE, table)?;
            b.attr_strz(NFTA_SET_ELEM_LIST_SET, name)
        };
        let msgs = match dump_with(sock, next(), NFT_MSG_GETSETELEM, NFPROTO_INET, write, other) {
            Ok(Some(m)) => m,
            Ok(None) => return Ok((None, seq + 1)),
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOENT) => {
                out.insert(name.clone(), None);
                continue;
            }
            Err(e) => return Err(e),
        };
        let payloads: Vec<&[u8]> = msgs.iter().map(|(_, p)| p.as_slice()).collect();
        out.insert(name.clone(), super::decode::elements(&schema, &payloads));
    }
    let after = generation_with(sock, next(), other)?;
    let same = before.is_some() && before == after && expect.is_none_or(|g| before == Some(g));
    Ok((same.then_some(out), seq + 1))
}

/// The shape of a set as the kernel records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Declared {
    /// `NFTA_SET_FLAGS`.
    pub(crate) flags: u32,
    /// `NFTA_SET_KEY_LEN`.
    pub(crate) key_len: u32,
    /// `NFTA_SET_DATA_LEN` (maps only).
    pub(crate) data_len: Option<u32>,
    /// `NFTA_SET_COUNT`, the number of elements (recent kernels; `None` before).
    pub(crate) count: Option<u32>,
}

impl Declared {
    /// Whether the kernel says the set has no element (then its elements need no
    /// dump: most of cove's sets are empty, and each dump costs a lookup of the
    /// set by name in a list of all of them). Not for interval sets: the kernel
    /// counts an interval that runs to the end of the key space (`0.0.0.0/0`) as
    /// half an element, so one such element reads as zero.
    pub(crate) fn empty(&self) -> bool {
        self.count == Some(0) && self.flags & NFT_SET_INTERVAL == 0
    }

    fn of(a: &[(u16, &[u8])]) -> Declared {
        let be32 =
            |ty| get(a, ty).and_then(|v| Some(u32::from_be_bytes(v.get(..4)?.try_into().ok()?)));
        Declared {
            flags: be32(NFTA_SET_FLAGS).unwrap_or(0),
            key_len: be32(NFTA_SET_KEY_LEN).unwrap_or(0),
            data_len: be32(NFTA_SET_DATA_LEN),
            count: be32(NFTA_SET_COUNT),
        }
    }

    /// Whether the set has `schema`'s shape: key length, value length (a map),
    /// and interval flag.
    pub(crate) fn fits(&self, schema: &cove_plan::SetSchema) -> bool {
        let len = |n: usize| u32::try_from(n).ok();
        let map = self.flags & NFT_SET_MAP != 0;
        let data_ok = match (schema.data, map) {
            (None, false) => true,
            (Some(_), true) => {
                schema.data_len().is_none() || schema.data_len().and_then(len) == self.data_len
            }
            _ => false,
        };
        len(schema.key_len()) == Some(self.key_len)
            && data_ok
            && (self.flags & NFT_SET_INTERVAL != 0) == schema.interval
    }
}

/// The named (not anonymous) sets of table `inet table`, with their shape.
fn set_names(table: &str, sets: &[(u8, Vec<u8>)]) -> Vec<(String, Declared)> {
    of_table(sets, NFTA_SET_TABLE, table)
        .into_iter()
        .filter_map(|(_, a)| Some((get(&a, NFTA_SET_NAME).map(strz)?, Declared::of(&a))))
        .filter(|(n, _)| !n.starts_with("__"))
        .collect()
}

/// Sends a batch holding one message (`write` adds its attributes) and waits for
/// its acknowledgement.
fn one_message_batch(
    sock: &Socket,
    seq: u32,
    ty: u16,
    flags: u16,
    family: u8,
    write: impl FnOnce(&mut MsgBuf) -> io::Result<()>,
) -> io::Result<()> {
    let mut b = MsgBuf::default();
    let m = b.begin_msg(
        NFNL_MSG_BATCH_BEGIN,
        NLM_F_REQUEST,
        seq,
        NFPROTO_UNSPEC,
        NFNL_SUBSYS_NFTABLES,
    );
    b.end_msg(m)?;
    let m = b.begin_msg(
        (NFNL_SUBSYS_NFTABLES << 8) | ty,
        NLM_F_REQUEST | NLM_F_ACK | flags,
        seq + 1,
        family,
        0,
    );
    write(&mut b)?;
    b.end_msg(m)?;
    let m = b.begin_msg(
        NFNL_MSG_BATCH_END,
        NLM_F_REQUEST,
        seq + 2,
        NFPROTO_UNSPEC,
        NFNL_SUBSYS_NFTABLES,
    );
    b.end_msg(m)?;
    let mut datagram = Vec::with_capacity(8192);
    drain(sock, &mut datagram)?;
    sock.send_to(b.bytes(), &SocketAddr::new(0, 0), 0)?;
    loop {
        recv_next(sock, &mut datagram)?;
        for ack in super::wire::parse_acks(&datagram)? {
            if ack.seq == seq + 1 {
                return if ack.error == 0 {
                    Ok(())
                } else {
                    Err(io::Error::from_raw_os_error(-ack.error))
                };
            }
        }
    }
}

/// Records `digest` in table `inet table` (an empty chain named after it).
pub(crate) fn record(sock: &Socket, table: &str, digest: &str, seq: u32) -> io::Result<()> {
    one_message_batch(
        sock,
        seq,
        NFT_MSG_NEWCHAIN,
        NLM_F_CREATE,
        NFPROTO_INET,
        |b| {
            b.attr_strz(NFTA_CHAIN_TABLE, table)?;
            b.attr_strz(NFTA_CHAIN_NAME, &format!("{DIGEST_CHAIN}{digest}"))
        },
    )
}

/// Deletes table `name` of `family`; absent is not an error.
pub(crate) fn delete_table(sock: &Socket, family: u8, name: &str, seq: u32) -> io::Result<()> {
    match one_message_batch(sock, seq, NFT_MSG_DELTABLE, 0, family, |b| {
        b.attr_strz(NFTA_TABLE_NAME, name)
    }) {
        Err(e) if e.raw_os_error() == Some(nix::libc::ENOENT) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests;
