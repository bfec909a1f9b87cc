//! Tracked connections over ctnetlink (`linux/netfilter/nfnetlink_conntrack.h`):
//! forgetting the flows of 1:1 NAT bindings the plan removed
//! ([`cove_plan::Op::ForgetNatFlows`]), and counting the connections translated to
//! each shared function ENI's address (issue 17's connection limit).
//!
//! ctnetlink cannot delete by a partial tuple, so the table is dumped, the entries
//! whose translation used a removed binding are picked, and each is deleted by its
//! original tuple and zone, echoed as the kernel wrote them.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::Ipv4Addr;

use cove_plan::NatBinding;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};

use crate::error::HostError;

pub(crate) const NFNL_SUBSYS_CTNETLINK: u16 = 1;
pub(crate) const IPCTNL_MSG_CT_GET: u16 = 1;
pub(crate) const IPCTNL_MSG_CT_DELETE: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
pub(crate) const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
pub(crate) const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const AF_INET: u8 = 2;
pub(crate) const NLMSG_HDRLEN: usize = 16;
/// `nfgenmsg`: family, version, resource id.
pub(crate) const NFGENMSG_LEN: usize = 4;
pub(crate) const CTA_TUPLE_ORIG: u16 = 1;
pub(crate) const CTA_TUPLE_REPLY: u16 = 2;
pub(crate) const CTA_ZONE: u16 = 18;
pub(crate) const CTA_TUPLE_IP: u16 = 1;
pub(crate) const CTA_IP_V4_SRC: u16 = 1;
pub(crate) const CTA_IP_V4_DST: u16 = 2;
/// Attribute type bits that are flags (nested, byte order).
const NLA_TYPE_MASK: u16 = 0x3fff;

pub(crate) const fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// The attributes in `b`: (type without flags, the whole attribute, its payload).
pub(crate) fn attrs(mut b: &[u8]) -> Vec<(u16, &[u8], &[u8])> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([b[0], b[1]]));
        let ty = u16::from_ne_bytes([b[2], b[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > b.len() {
            break;
        }
        out.push((ty, &b[..len], &b[4..len]));
        b = &b[align(len).min(b.len())..];
    }
    out
}

pub(crate) fn attr<'a>(
    list: &[(u16, &'a [u8], &'a [u8])],
    ty: u16,
) -> Option<(&'a [u8], &'a [u8])> {
    list.iter().find(|a| a.0 == ty).map(|a| (a.1, a.2))
}

/// The IPv4 source and destination of a `CTA_TUPLE_*` payload.
pub(crate) fn addresses(tuple: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr)> {
    let ip = attrs(attr(&attrs(tuple), CTA_TUPLE_IP)?.1);
    let v4 = |ty| -> Option<Ipv4Addr> {
        let b: [u8; 4] = attr(&ip, ty)?.1.try_into().ok()?;
        Some(Ipv4Addr::from(b))
    };
    Some((v4(CTA_IP_V4_SRC)?, v4(CTA_IP_V4_DST)?))
}

/// What a delete needs of one entry: its original tuple and zone attributes.
#[derive(Debug, PartialEq, Eq)]
struct Doomed {
    tuple: Vec<u8>,
    zone: Option<Vec<u8>>,
}

/// The entry in `attributes` (of one dumped conntrack message), if a removed
/// binding translated it: outbound (source translated: original source the
/// private address, reply destination the public IP) or inbound (destination
/// translated: original destination the public IP, reply source the private one).
fn doomed(attributes: &[u8], bindings: &BTreeSet<NatBinding>) -> Option<Doomed> {
    let list = attrs(attributes);
    let (orig_all, orig) = attr(&list, CTA_TUPLE_ORIG)?;
    let (o_src, o_dst) = addresses(orig)?;
    let (r_src, r_dst) = addresses(attr(&list, CTA_TUPLE_REPLY)?.1)?;
    let hit = bindings.iter().any(|b| {
        (o_src == b.private && r_dst == b.public) || (o_dst == b.public && r_src == b.private)
    });
    hit.then(|| Doomed {
        tuple: orig_all.to_vec(),
        zone: attr(&list, CTA_ZONE).map(|(all, _)| all.to_vec()),
    })
}

pub(crate) fn request(ty: u16, flags: u16, seq: u32, body: &[&[u8]]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&((NFNL_SUBSYS_CTNETLINK << 8) | ty).to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&[AF_INET, 0, 0, 0]);
    for part in body {
        m.extend_from_slice(part);
        m.resize(align(m.len()), 0);
    }
    let len = u32::try_from(m.len()).unwrap_or(u32::MAX);
    m[..4].copy_from_slice(&len.to_ne_bytes());
    m
}

/// One received message: its type and what follows the netlink header.
fn messages(mut b: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while b.len() >= NLMSG_HDRLEN {
        let len = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize;
        if len < NLMSG_HDRLEN || len > b.len() {
            break;
        }
        out.push((u16::from_ne_bytes([b[4], b[5]]), &b[NLMSG_HDRLEN..len]));
        b = &b[align(len).min(b.len())..];
    }
    out
}

pub(crate) fn error_code(payload: &[u8]) -> i32 {
    payload
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, i32::from_ne_bytes)
}

/// Dumps the conntrack table of the calling thread's namespace (`ns` names it in
/// errors) over `socket`, handing each entry's attributes to `each`.
pub(crate) fn dump(socket: &Socket, ns: &str, each: impl FnMut(&[u8])) -> Result<(), HostError> {
    dump_of(socket, ns, IPCTNL_MSG_CT_GET, each)
}

/// Dumps what ctnetlink message `ty` lists (the table, or the per-CPU statistics)
/// over `socket`, handing each answer's attributes to `each`.
fn dump_of(
    socket: &Socket,
    ns: &str,
    ty: u16,
    mut each: impl FnMut(&[u8]),
) -> Result<(), HostError> {
    let fail = |what: &'static str| {
        move |source| HostError::Conntrack {
            ns: ns.to_owned(),
            what,
            source,
        }
    };
    let kernel = SocketAddr::new(0, 0);
    socket
        .send_to(&request(ty, NLM_F_DUMP, 1, &[]), &kernel, 0)
        .map_err(fail("dump the conntrack table"))?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = socket
            .recv(&mut &mut buf[..], 0)
            .map_err(fail("read the conntrack table"))?;
        for (ty, payload) in messages(&buf[..n]) {
            match ty {
                NLMSG_DONE => return Ok(()),
                NLMSG_ERROR if error_code(payload) != 0 => {
                    let e = io::Error::from_raw_os_error(-error_code(payload));
                    return Err(fail("read the conntrack table")(e));
                }
                NLMSG_ERROR => {}
                _ => {
                    if let Some(a) = payload.get(NFGENMSG_LEN..) {
                        each(a);
                    }
                }
            }
        }
    }
}

/// `IPCTNL_MSG_CT_GET_STATS_CPU`: the per-CPU statistics.
const IPCTNL_MSG_CT_GET_STATS_CPU: u16 = 4;
/// `CTA_STATS_INSERT_FAILED`: a new entry could not be inserted — its tuple clashes
/// with another's, which is what a source NAT that found no free port leaves.
const CTA_STATS_INSERT_FAILED: u16 = 9;
/// `CTA_STATS_DROP`: packets dropped because of such a failure.
const CTA_STATS_DROP: u16 = 10;

/// A namespace's conntrack statistics, summed over its CPUs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConntrackStats {
    /// New connections whose entry could not be inserted (for a NAT gateway: no
    /// free source port towards that destination — AWS's `ErrorPortAllocation`).
    pub insert_failed: u64,
    /// Packets dropped for such failures.
    pub drop: u64,
}

/// The statistics in one answer's attributes.
fn stats_of(attributes: &[u8]) -> ConntrackStats {
    let list = attrs(attributes);
    let u32_of = |ty| {
        attr(&list, ty)
            .and_then(|(_, p)| <[u8; 4]>::try_from(p).ok())
            .map_or(0, |b| u64::from(u32::from_be_bytes(b)))
    };
    ConntrackStats {
        insert_failed: u32_of(CTA_STATS_INSERT_FAILED),
        drop: u32_of(CTA_STATS_DROP),
    }
}

/// The conntrack statistics of namespace `ns` (read on a thread inside it).
pub fn conntrack_stats(ns: &str) -> Result<ConntrackStats, HostError> {
    let name = ns.to_owned();
    crate::netns::run_in(ns, move || {
        let socket = open_socket(&name)?;
        let mut total = ConntrackStats::default();
        dump_of(&socket, &name, IPCTNL_MSG_CT_GET_STATS_CPU, |a| {
            let s = stats_of(a);
            total.insert_failed += s.insert_failed;
            total.drop += s.drop;
        })?;
        Ok(total)
    })
}

pub(crate) fn open_socket(ns: &str) -> Result<Socket, HostError> {
    Socket::new(NETLINK_NETFILTER).map_err(|source| HostError::Conntrack {
        ns: ns.to_owned(),
        what: "open a ctnetlink socket",
        source,
    })
}

/// The address a connection from `sources` was translated to, if it came from
/// there: the reply tuple's destination of an entry whose original source is in
/// `sources`.
fn translated_from(attributes: &[u8], sources: ipnet::Ipv4Net) -> Option<Ipv4Addr> {
    let list = attrs(attributes);
    let (o_src, _) = addresses(attr(&list, CTA_TUPLE_ORIG)?.1)?;
    if !sources.contains(&o_src) {
        return None;
    }
    let (_, r_dst) = addresses(attr(&list, CTA_TUPLE_REPLY)?.1)?;
    (r_dst != o_src).then_some(r_dst)
}

/// How many tracked connections of the calling thread's namespace (`ns`) came
/// from an address in `sources` and were translated, per address they were
/// translated to.
pub(crate) fn count_translated(
    ns: &str,
    sources: ipnet::Ipv4Net,
) -> Result<BTreeMap<Ipv4Addr, u64>, HostError> {
    let socket = open_socket(ns)?;
    let mut counts = BTreeMap::new();
    dump(&socket, ns, |a| {
        if let Some(to) = translated_from(a, sources) {
            *counts.entry(to).or_insert(0) += 1;
        }
    })?;
    Ok(counts)
}

/// Deletes the tracked connections of namespace `ns` (the calling thread's
/// namespace) that a removed binding translated.
pub(crate) fn forget_nat_flows(ns: &str, bindings: &BTreeSet<NatBinding>) -> Result<(), HostError> {
    let fail = |what: &'static str| {
        move |source| HostError::Conntrack {
            ns: ns.to_owned(),
            what,
            source,
        }
    };
    let socket = open_socket(ns)?;
    let kernel = SocketAddr::new(0, 0);
    let mut doomed_entries = Vec::new();
    dump(&socket, ns, |a| doomed_entries.extend(doomed(a, bindings)))?;
    let mut buf = vec![0u8; 64 * 1024];
    for (seq, d) in (2u32..).zip(&doomed_entries) {
        let mut body: Vec<&[u8]> = vec![&d.tuple];
        if let Some(z) = &d.zone {
            body.push(z);
        }
        socket
            .send_to(
                &request(IPCTNL_MSG_CT_DELETE, NLM_F_ACK, seq, &body),
                &kernel,
                0,
            )
            .map_err(fail("delete a tracked connection"))?;
        let n = socket
            .recv(&mut &mut buf[..], 0)
            .map_err(fail("delete a tracked connection"))?;
        for (ty, payload) in messages(&buf[..n]) {
            let code = error_code(payload);
            // ENOENT: the entry ended meanwhile.
            if ty == NLMSG_ERROR && code != 0 && -code != nix::libc::ENOENT {
                let e = io::Error::from_raw_os_error(-code);
                return Err(fail("delete a tracked connection")(e));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nla(ty: u16, payload: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(
            &u16::try_from(4 + payload.len())
                .expect("small")
                .to_ne_bytes(),
        );
        a.extend_from_slice(&ty.to_ne_bytes());
        a.extend_from_slice(payload);
        a.resize(align(a.len()), 0);
        a
    }

    fn tuple(ty: u16, src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
        let ip = [nla(CTA_IP_V4_SRC, &src), nla(CTA_IP_V4_DST, &dst)].concat();
        let proto = nla(1, &[253]);
        nla(
            ty | 0x8000,
            &[nla(CTA_TUPLE_IP | 0x8000, &ip), nla(2 | 0x8000, &proto)].concat(),
        )
    }

    fn bindings() -> BTreeSet<NatBinding> {
        [NatBinding {
            private: Ipv4Addr::new(10, 1, 0, 5),
            public: Ipv4Addr::new(198, 18, 0, 11),
        }]
        .into()
    }

    #[test]
    fn picks_flows_a_removed_binding_translated_either_way() {
        let zone = nla(CTA_ZONE, &7u16.to_be_bytes());
        let out = [
            tuple(CTA_TUPLE_ORIG, [10, 1, 0, 5], [198, 51, 100, 1]),
            tuple(CTA_TUPLE_REPLY, [198, 51, 100, 1], [198, 18, 0, 11]),
            zone.clone(),
        ]
        .concat();
        let d = doomed(&out, &bindings()).expect("outbound flow");
        assert_eq!(
            d.tuple,
            tuple(CTA_TUPLE_ORIG, [10, 1, 0, 5], [198, 51, 100, 1])
        );
        // The attribute as the kernel wrote it, without its padding.
        assert_eq!(d.zone.as_deref(), Some(&zone[..6]));
        let inbound = [
            tuple(CTA_TUPLE_ORIG, [198, 51, 100, 1], [198, 18, 0, 11]),
            tuple(CTA_TUPLE_REPLY, [10, 1, 0, 5], [198, 51, 100, 1]),
        ]
        .concat();
        assert!(doomed(&inbound, &bindings()).is_some());
    }

    #[test]
    fn keeps_flows_of_other_bindings_and_untranslated_ones() {
        // The same private address bound to another public IP (its new binding).
        let other = [
            tuple(CTA_TUPLE_ORIG, [10, 1, 0, 5], [198, 51, 100, 1]),
            tuple(CTA_TUPLE_REPLY, [198, 51, 100, 1], [198, 18, 0, 12]),
        ]
        .concat();
        assert_eq!(doomed(&other, &bindings()), None);
        let inside = [
            tuple(CTA_TUPLE_ORIG, [10, 1, 0, 5], [10, 1, 0, 6]),
            tuple(CTA_TUPLE_REPLY, [10, 1, 0, 6], [10, 1, 0, 5]),
        ]
        .concat();
        assert_eq!(doomed(&inside, &bindings()), None);
    }

    #[test]
    fn counts_only_connections_from_the_sources_that_were_translated() {
        let envs: ipnet::Ipv4Net = "169.254.64.0/18".parse().unwrap_or_default();
        let from_env = [
            tuple(CTA_TUPLE_ORIG, [169, 254, 64, 9], [10, 1, 0, 7]),
            tuple(CTA_TUPLE_REPLY, [10, 1, 0, 7], [10, 1, 0, 200]),
        ]
        .concat();
        assert_eq!(
            translated_from(&from_env, envs),
            Some(Ipv4Addr::new(10, 1, 0, 200))
        );
        let other = [
            tuple(CTA_TUPLE_ORIG, [10, 1, 0, 5], [10, 1, 0, 7]),
            tuple(CTA_TUPLE_REPLY, [10, 1, 0, 7], [10, 1, 0, 200]),
        ]
        .concat();
        assert_eq!(translated_from(&other, envs), None);
        let untranslated = [
            tuple(CTA_TUPLE_ORIG, [169, 254, 64, 9], [169, 254, 64, 1]),
            tuple(CTA_TUPLE_REPLY, [169, 254, 64, 1], [169, 254, 64, 9]),
        ]
        .concat();
        assert_eq!(translated_from(&untranslated, envs), None);
    }

    #[test]
    fn statistics_are_read_big_endian_and_missing_ones_are_zero() {
        let a = [
            nla(CTA_STATS_INSERT_FAILED, &7u32.to_be_bytes()),
            nla(CTA_STATS_DROP, &9u32.to_be_bytes()),
            nla(2, &1u32.to_be_bytes()),
        ]
        .concat();
        assert_eq!(
            stats_of(&a),
            ConntrackStats {
                insert_failed: 7,
                drop: 9
            }
        );
        assert_eq!(stats_of(&[]), ConntrackStats::default());
    }

    #[test]
    fn a_request_is_padded_and_counts_its_length() {
        let m = request(IPCTNL_MSG_CT_DELETE, NLM_F_ACK, 9, &[&[1, 2, 3]]);
        assert_eq!(m.len(), 24);
        assert_eq!(u32::from_ne_bytes(m[..4].try_into().expect("4")), 24);
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), 0x0102);
        assert_eq!(messages(&m).len(), 1);
    }
}
