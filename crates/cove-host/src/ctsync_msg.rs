//! The ctnetlink messages of conntrack replication ([`crate::ctsync`]): parsing
//! the entries of events and dumps into [`Flow`]s, and encoding the copy of a
//! source-NATed flow the way the kernel accepts it (`docs/design/nat-failover.md`,
//! "What the kernel does"): the original tuple as in the source, the reply tuple as
//! the *plain inverse* of the original, and the translation as `CTA_NAT_SRC` with
//! min = max address and port, so that the kernel sets `IPS_SRC_NAT` itself.

use std::net::SocketAddrV4;

use crate::conntrack::{
    CTA_IP_V4_DST, CTA_IP_V4_SRC, CTA_TUPLE_IP, CTA_TUPLE_ORIG, CTA_TUPLE_REPLY, CTA_ZONE,
    IPCTNL_MSG_CT_DELETE, IPCTNL_MSG_CT_GET, NFGENMSG_LEN, NFNL_SUBSYS_CTNETLINK, NLM_F_ACK,
    NLMSG_HDRLEN, addresses, align, attr, attrs, request,
};

pub(crate) const IPCTNL_MSG_CT_NEW: u16 = 0;
pub(crate) const NLM_F_EXCL: u16 = 0x200;
pub(crate) const NLM_F_CREATE: u16 = 0x400;
const NLA_F_NESTED: u16 = 0x8000;

const CTA_STATUS: u16 = 3;
pub(crate) const CTA_PROTOINFO: u16 = 4;
const CTA_NAT_SRC: u16 = 6;
const CTA_TIMEOUT: u16 = 7;
const CTA_MARK: u16 = 8;
pub(crate) const CTA_TUPLE_PROTO: u16 = 2;
pub(crate) const CTA_PROTO_NUM: u16 = 1;
pub(crate) const CTA_PROTO_SRC_PORT: u16 = 2;
pub(crate) const CTA_PROTO_DST_PORT: u16 = 3;
pub(crate) const CTA_PROTOINFO_TCP: u16 = 1;
pub(crate) const CTA_PROTOINFO_TCP_STATE: u16 = 1;
const CTA_PROTOINFO_TCP_WSCALE_ORIGINAL: u16 = 2;
const CTA_PROTOINFO_TCP_WSCALE_REPLY: u16 = 3;
const CTA_PROTOINFO_TCP_FLAGS_ORIGINAL: u16 = 4;
const CTA_PROTOINFO_TCP_FLAGS_REPLY: u16 = 5;
const CTA_NAT_V4_MINIP: u16 = 1;
const CTA_NAT_V4_MAXIP: u16 = 2;
const CTA_NAT_PROTO: u16 = 3;
const CTA_PROTONAT_PORT_MIN: u16 = 1;
const CTA_PROTONAT_PORT_MAX: u16 = 2;

pub(crate) const IPS_SEEN_REPLY: u32 = 1 << 1;
pub(crate) const IPS_ASSURED: u32 = 1 << 2;
/// The kernel refuses (`EBUSY`) a status that would clear this bit, which it sets
/// on the entry it creates before it reads `CTA_STATUS`; libnetfilter_conntrack
/// always sends it too.
pub(crate) const IPS_CONFIRMED: u32 = 1 << 3;
pub(crate) const IPS_SRC_NAT: u32 = 1 << 4;
/// `IP_CT_TCP_FLAG_BE_LIBERAL`: no window tracking for this direction.
pub(crate) const TCP_FLAG_BE_LIBERAL: u8 = 0x08;
pub(crate) const TCP_ESTABLISHED: u8 = 3;
pub(crate) const IPPROTO_TCP: u8 = 6;
pub(crate) const IPPROTO_UDP: u8 = 17;

/// A TCP or UDP tuple (other protocols are not replicated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Tuple {
    pub(crate) proto: u8,
    pub(crate) src: SocketAddrV4,
    pub(crate) dst: SocketAddrV4,
}

impl Tuple {
    /// The tuple of the other direction, untranslated.
    pub(crate) fn inverse(&self) -> Tuple {
        Tuple {
            proto: self.proto,
            src: self.dst,
            dst: self.src,
        }
    }

    /// The `CTA_TUPLE_*` payload of a `CTA_TUPLE_ORIG`/`CTA_TUPLE_REPLY` attribute.
    fn parse(payload: &[u8]) -> Option<Tuple> {
        let list = attrs(payload);
        let (src, dst) = addresses(payload)?;
        let l4 = attrs(attr(&list, CTA_TUPLE_PROTO)?.1);
        let proto = *attr(&l4, CTA_PROTO_NUM)?.1.first()?;
        if proto != IPPROTO_TCP && proto != IPPROTO_UDP {
            return None;
        }
        let port = |ty| -> Option<u16> {
            let b: [u8; 2] = attr(&l4, ty)?.1.try_into().ok()?;
            Some(u16::from_be_bytes(b))
        };
        Some(Tuple {
            proto,
            src: SocketAddrV4::new(src, port(CTA_PROTO_SRC_PORT)?),
            dst: SocketAddrV4::new(dst, port(CTA_PROTO_DST_PORT)?),
        })
    }

    /// The whole attribute `ty` (`CTA_TUPLE_ORIG` or `CTA_TUPLE_REPLY`).
    pub(crate) fn encode(&self, ty: u16) -> Vec<u8> {
        let ip = [
            nla(CTA_IP_V4_SRC, &self.src.ip().octets()),
            nla(CTA_IP_V4_DST, &self.dst.ip().octets()),
        ]
        .concat();
        let l4 = [
            nla(CTA_PROTO_NUM, &[self.proto]),
            nla(CTA_PROTO_SRC_PORT, &self.src.port().to_be_bytes()),
            nla(CTA_PROTO_DST_PORT, &self.dst.port().to_be_bytes()),
        ]
        .concat();
        nested(
            ty,
            &[nested(CTA_TUPLE_IP, &ip), nested(CTA_TUPLE_PROTO, &l4)].concat(),
        )
    }
}

/// TCP's protocol info of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tcp {
    pub(crate) state: u8,
    pub(crate) wscale_orig: u8,
    pub(crate) wscale_reply: u8,
}

/// One conntrack entry as an event or a dump reports it (the parts replication uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flow {
    pub(crate) orig: Tuple,
    pub(crate) reply: Tuple,
    pub(crate) status: u32,
    /// Seconds left (absent in DESTROY events).
    pub(crate) timeout: Option<u32>,
    pub(crate) tcp: Option<Tcp>,
    pub(crate) zone: u16,
    pub(crate) mark: u32,
}

fn be_u32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.try_into().ok()?))
}

impl Flow {
    /// The entry in the attributes of one conntrack message (after `nfgenmsg`);
    /// `None` for other protocols than TCP and UDP, and for IPv6.
    pub(crate) fn parse(attributes: &[u8]) -> Option<Flow> {
        let list = attrs(attributes);
        let orig = Tuple::parse(attr(&list, CTA_TUPLE_ORIG)?.1)?;
        let reply = Tuple::parse(attr(&list, CTA_TUPLE_REPLY)?.1)?;
        let status = attr(&list, CTA_STATUS)
            .and_then(|a| be_u32(a.1))
            .unwrap_or(0);
        let timeout = attr(&list, CTA_TIMEOUT).and_then(|a| be_u32(a.1));
        let zone = attr(&list, CTA_ZONE)
            .and_then(|a| Some(u16::from_be_bytes(a.1.try_into().ok()?)))
            .unwrap_or(0);
        let mark = attr(&list, CTA_MARK).and_then(|a| be_u32(a.1)).unwrap_or(0);
        let tcp = attr(&list, CTA_PROTOINFO)
            .and_then(|a| attr(&attrs(a.1), CTA_PROTOINFO_TCP).map(|t| attrs(t.1)))
            .map(|t| {
                let byte = |ty| attr(&t, ty).and_then(|a| a.1.first().copied()).unwrap_or(0);
                Tcp {
                    state: byte(CTA_PROTOINFO_TCP_STATE),
                    wscale_orig: byte(CTA_PROTOINFO_TCP_WSCALE_ORIGINAL),
                    wscale_reply: byte(CTA_PROTOINFO_TCP_WSCALE_REPLY),
                }
            });
        Some(Flow {
            orig,
            reply,
            status,
            timeout,
            tcp,
            zone,
            mark,
        })
    }

    /// Where the source was translated to (the reply tuple's destination), if the
    /// entry is source-NATed.
    pub(crate) fn translated(&self) -> Option<SocketAddrV4> {
        (self.status & IPS_SRC_NAT != 0).then_some(self.reply.dst)
    }

    /// The reply tuple after the translation: what the target must not hold for
    /// another flow (`server → translated address:port`).
    pub(crate) fn translated_reply(&self) -> Tuple {
        self.reply
    }

    fn timeout_attr(&self, idle_timeout_s: u32) -> Vec<u8> {
        let t = self
            .timeout
            .unwrap_or(idle_timeout_s)
            .clamp(1, idle_timeout_s.max(1));
        nla(CTA_TIMEOUT, &t.to_be_bytes())
    }

    fn zone_mark(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.zone != 0 {
            out.extend(nla(CTA_ZONE, &self.zone.to_be_bytes()));
        }
        if self.mark != 0 {
            out.extend(nla(CTA_MARK, &self.mark.to_be_bytes()));
        }
        out
    }

    fn tcp_attr(&self, with_scales: bool) -> Option<Vec<u8>> {
        let tcp = self.tcp?;
        let liberal = [TCP_FLAG_BE_LIBERAL, TCP_FLAG_BE_LIBERAL];
        let mut inner = nla(CTA_PROTOINFO_TCP_STATE, &[tcp.state]);
        if with_scales {
            inner.extend(nla(CTA_PROTOINFO_TCP_WSCALE_ORIGINAL, &[tcp.wscale_orig]));
            inner.extend(nla(CTA_PROTOINFO_TCP_WSCALE_REPLY, &[tcp.wscale_reply]));
        }
        inner.extend(nla(CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, &liberal));
        inner.extend(nla(CTA_PROTOINFO_TCP_FLAGS_REPLY, &liberal));
        Some(nested(CTA_PROTOINFO, &nested(CTA_PROTOINFO_TCP, &inner)))
    }

    /// `IPCTNL_MSG_CT_NEW` with `NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK`: the copy of
    /// this source-NATed flow (`None` if it is not source-NATed). Its status is
    /// `IPS_SEEN_REPLY | IPS_ASSURED` plus `IPS_CONFIRMED` (see there).
    pub(crate) fn create(&self, seq: u32, idle_timeout_s: u32) -> Option<Vec<u8>> {
        let to = self.translated()?;
        let port = [
            nla(CTA_PROTONAT_PORT_MIN, &to.port().to_be_bytes()),
            nla(CTA_PROTONAT_PORT_MAX, &to.port().to_be_bytes()),
        ]
        .concat();
        let nat = nested(
            CTA_NAT_SRC,
            &[
                nla(CTA_NAT_V4_MINIP, &to.ip().octets()),
                nla(CTA_NAT_V4_MAXIP, &to.ip().octets()),
                nested(CTA_NAT_PROTO, &port),
            ]
            .concat(),
        );
        let mut body = vec![
            self.orig.encode(CTA_TUPLE_ORIG),
            self.orig.inverse().encode(CTA_TUPLE_REPLY),
            nat,
            nla(
                CTA_STATUS,
                &(IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED).to_be_bytes(),
            ),
            self.timeout_attr(idle_timeout_s),
        ];
        body.extend(self.tcp_attr(true));
        body.push(self.zone_mark());
        Some(ct_request(
            IPCTNL_MSG_CT_NEW,
            NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
            seq,
            &body,
        ))
    }

    /// `IPCTNL_MSG_CT_NEW` without `NLM_F_CREATE`: the copy's state and timeout.
    pub(crate) fn update(&self, seq: u32, idle_timeout_s: u32) -> Vec<u8> {
        let mut body = vec![
            self.orig.encode(CTA_TUPLE_ORIG),
            self.timeout_attr(idle_timeout_s),
        ];
        body.extend(self.tcp_attr(false));
        if self.zone != 0 {
            body.push(nla(CTA_ZONE, &self.zone.to_be_bytes()));
        }
        ct_request(IPCTNL_MSG_CT_NEW, NLM_F_ACK, seq, &body)
    }
}

/// `IPCTNL_MSG_CT_DELETE` (with ack) of the entry holding `tuple` as its original
/// (`CTA_TUPLE_ORIG`) or reply (`CTA_TUPLE_REPLY`) tuple.
pub(crate) fn delete(tuple: &Tuple, which: u16, zone: u16, seq: u32) -> Vec<u8> {
    let mut body = vec![tuple.encode(which)];
    if zone != 0 {
        body.push(nla(CTA_ZONE, &zone.to_be_bytes()));
    }
    ct_request(IPCTNL_MSG_CT_DELETE, NLM_F_ACK, seq, &body)
}

/// `IPCTNL_MSG_CT_GET` of the entry with original tuple `tuple`.
pub(crate) fn get(tuple: &Tuple, zone: u16, seq: u32) -> Vec<u8> {
    let mut body = vec![tuple.encode(CTA_TUPLE_ORIG)];
    if zone != 0 {
        body.push(nla(CTA_ZONE, &zone.to_be_bytes()));
    }
    ct_request(IPCTNL_MSG_CT_GET, 0, seq, &body)
}

fn ct_request(ty: u16, flags: u16, seq: u32, body: &[Vec<u8>]) -> Vec<u8> {
    let parts: Vec<&[u8]> = body.iter().map(Vec::as_slice).collect();
    request(ty, flags, seq, &parts)
}

/// An attribute, padded.
pub(crate) fn nla(ty: u16, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(4 + payload.len()).unwrap_or(u16::MAX);
    let mut a = Vec::with_capacity(align(4 + payload.len()));
    a.extend_from_slice(&len.to_ne_bytes());
    a.extend_from_slice(&ty.to_ne_bytes());
    a.extend_from_slice(payload);
    a.resize(align(a.len()), 0);
    a
}

/// A nested attribute.
fn nested(ty: u16, payload: &[u8]) -> Vec<u8> {
    nla(ty | NLA_F_NESTED, payload)
}

/// One netlink message of a received datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame<'a> {
    /// `nlmsg_type` (for ctnetlink: subsystem << 8 | message).
    pub(crate) ty: u16,
    pub(crate) flags: u16,
    pub(crate) seq: u32,
    /// What follows the netlink header.
    pub(crate) payload: &'a [u8],
}

/// The messages of one received datagram.
pub(crate) fn frames(mut b: &[u8]) -> Vec<Frame<'_>> {
    let mut out = Vec::new();
    while b.len() >= NLMSG_HDRLEN {
        let len = usize::try_from(u32::from_ne_bytes([b[0], b[1], b[2], b[3]])).unwrap_or(0);
        if len < NLMSG_HDRLEN || len > b.len() {
            break;
        }
        out.push(Frame {
            ty: u16::from_ne_bytes([b[4], b[5]]),
            flags: u16::from_ne_bytes([b[6], b[7]]),
            seq: u32::from_ne_bytes([b[8], b[9], b[10], b[11]]),
            payload: &b[NLMSG_HDRLEN..len],
        });
        b = &b[align(len).min(b.len())..];
    }
    out
}

/// What a conntrack event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    /// A new entry (`IPCTNL_MSG_CT_NEW` with `NLM_F_CREATE`).
    New,
    /// A change of an entry (`IPCTNL_MSG_CT_NEW` without `NLM_F_CREATE`).
    Update,
    /// An entry ended (`IPCTNL_MSG_CT_DELETE`).
    Destroy,
}

/// The event in a frame received on a socket subscribed to the conntrack groups
/// (`None` for other messages and for entries that are not TCP or UDP over IPv4).
pub(crate) fn event(frame: &Frame<'_>) -> Option<(EventKind, Flow)> {
    if frame.ty >> 8 != NFNL_SUBSYS_CTNETLINK {
        return None;
    }
    let kind = match frame.ty & 0xff {
        IPCTNL_MSG_CT_NEW if frame.flags & NLM_F_CREATE != 0 => EventKind::New,
        IPCTNL_MSG_CT_NEW => EventKind::Update,
        IPCTNL_MSG_CT_DELETE => EventKind::Destroy,
        _ => return None,
    };
    Some((kind, Flow::parse(frame.payload.get(NFGENMSG_LEN..)?)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conntrack::NLMSG_HDRLEN;

    fn sa(s: &str) -> SocketAddrV4 {
        s.parse().expect("socket address")
    }

    fn flow() -> Flow {
        Flow {
            orig: Tuple {
                proto: IPPROTO_TCP,
                src: sa("10.80.1.11:20000"),
                dst: sa("198.51.100.1:9000"),
            },
            reply: Tuple {
                proto: IPPROTO_TCP,
                src: sa("198.51.100.1:9000"),
                dst: sa("10.80.0.10:2257"),
            },
            status: IPS_SRC_NAT | IPS_SEEN_REPLY | IPS_ASSURED | (1 << 3) | (1 << 7),
            timeout: Some(431_999),
            tcp: Some(Tcp {
                state: TCP_ESTABLISHED,
                wscale_orig: 7,
                wscale_reply: 9,
            }),
            zone: 0,
            mark: 0,
        }
    }

    /// An event or dump message of `f` as the kernel writes it (with counters and
    /// an id the copy must not carry).
    fn kernel_message(f: &Flow, ty: u16, flags: u16) -> Vec<u8> {
        let tcp = f.tcp.map(|t| {
            nested(
                CTA_PROTOINFO,
                &nested(
                    CTA_PROTOINFO_TCP,
                    &[
                        nla(CTA_PROTOINFO_TCP_STATE, &[t.state]),
                        nla(CTA_PROTOINFO_TCP_WSCALE_ORIGINAL, &[t.wscale_orig]),
                        nla(CTA_PROTOINFO_TCP_WSCALE_REPLY, &[t.wscale_reply]),
                        nla(CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, &[0x23, 0]),
                        nla(CTA_PROTOINFO_TCP_FLAGS_REPLY, &[0x23, 0]),
                    ]
                    .concat(),
                ),
            )
        });
        let mut body = vec![
            f.orig.encode(CTA_TUPLE_ORIG),
            f.reply.encode(CTA_TUPLE_REPLY),
            nla(CTA_STATUS, &f.status.to_be_bytes()),
        ];
        if let Some(t) = f.timeout {
            body.push(nla(CTA_TIMEOUT, &t.to_be_bytes()));
        }
        body.extend(tcp);
        body.push(nla(12, &77u32.to_be_bytes())); // CTA_ID
        body.push(nla(11, &1u32.to_be_bytes())); // CTA_USE
        let mut m = ct_request(ty, 0, 0, &body);
        m[6..8].copy_from_slice(&flags.to_ne_bytes());
        m
    }

    fn payload(m: &[u8]) -> &[u8] {
        &m[NLMSG_HDRLEN + NFGENMSG_LEN..]
    }

    #[test]
    fn a_copy_has_the_original_the_plain_inverse_and_the_nat_as_an_attribute() {
        let f = flow();
        let m = f.create(5, 350).expect("source-NATed");
        let fr = frames(&m);
        assert_eq!(fr.len(), 1);
        assert_eq!(fr[0].ty, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW);
        assert_eq!(
            fr[0].flags,
            0x1 | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
            "request, create, exclusive, ack"
        );
        assert_eq!(fr[0].seq, 5);
        let list = attrs(payload(&m));
        let types: Vec<u16> = list.iter().map(|a| a.0).collect();
        assert_eq!(
            types,
            [
                CTA_TUPLE_ORIG,
                CTA_TUPLE_REPLY,
                CTA_NAT_SRC,
                CTA_STATUS,
                CTA_TIMEOUT,
                CTA_PROTOINFO
            ],
            "exactly these attributes: no id, use, counters, zone or mark"
        );
        assert_eq!(
            Tuple::parse(attr(&list, CTA_TUPLE_ORIG).expect("orig").1),
            Some(f.orig)
        );
        // The reply is the plain inverse, not the source's translated reply.
        let reply = Tuple::parse(attr(&list, CTA_TUPLE_REPLY).expect("reply").1);
        assert_eq!(
            reply,
            Some(Tuple {
                proto: IPPROTO_TCP,
                src: sa("198.51.100.1:9000"),
                dst: sa("10.80.1.11:20000"),
            })
        );
        let nat = attrs(attr(&list, CTA_NAT_SRC).expect("nat").1);
        assert_eq!(
            attr(&nat, CTA_NAT_V4_MINIP).expect("min").1,
            [10, 80, 0, 10]
        );
        assert_eq!(
            attr(&nat, CTA_NAT_V4_MAXIP).expect("max").1,
            [10, 80, 0, 10]
        );
        let ports = attrs(attr(&nat, CTA_NAT_PROTO).expect("proto").1);
        assert_eq!(
            attr(&ports, CTA_PROTONAT_PORT_MIN).expect("min").1,
            2257u16.to_be_bytes()
        );
        assert_eq!(
            attr(&ports, CTA_PROTONAT_PORT_MAX).expect("max").1,
            2257u16.to_be_bytes()
        );
        // SEEN_REPLY | ASSURED (and CONFIRMED, which the kernel insists on): the
        // NAT bits are the kernel's.
        assert_eq!(
            attr(&list, CTA_STATUS).expect("status").1,
            (IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED).to_be_bytes()
        );
        // The idle timeout caps the remaining time.
        assert_eq!(
            attr(&list, CTA_TIMEOUT).expect("timeout").1,
            350u32.to_be_bytes()
        );
        let tcp = attrs(
            attr(
                &attrs(attr(&list, CTA_PROTOINFO).expect("protoinfo").1),
                CTA_PROTOINFO_TCP,
            )
            .expect("tcp")
            .1,
        );
        assert_eq!(attr(&tcp, CTA_PROTOINFO_TCP_STATE).expect("state").1, [3]);
        assert_eq!(
            attr(&tcp, CTA_PROTOINFO_TCP_WSCALE_ORIGINAL).expect("ws").1,
            [7]
        );
        assert_eq!(
            attr(&tcp, CTA_PROTOINFO_TCP_WSCALE_REPLY).expect("ws").1,
            [9]
        );
        for ty in [
            CTA_PROTOINFO_TCP_FLAGS_ORIGINAL,
            CTA_PROTOINFO_TCP_FLAGS_REPLY,
        ] {
            // struct nf_ct_tcp_flags { flags, mask }
            assert_eq!(attr(&tcp, ty).expect("flags").1, [0x08, 0x08]);
        }
        // Nested attributes carry NLA_F_NESTED.
        let first_type = u16::from_ne_bytes([payload(&m)[2], payload(&m)[3]]);
        assert_eq!(first_type, CTA_TUPLE_ORIG | NLA_F_NESTED);
        // A shorter remaining time is kept as is.
        let mut g = flow();
        g.timeout = Some(42);
        let m = g.create(1, 350).expect("source-NATed");
        let list = attrs(payload(&m));
        assert_eq!(
            attr(&list, CTA_TIMEOUT).expect("timeout").1,
            42u32.to_be_bytes()
        );
    }

    #[test]
    fn udp_copies_carry_no_protoinfo_and_unnated_flows_none_at_all() {
        let mut f = flow();
        f.orig.proto = IPPROTO_UDP;
        f.reply.proto = IPPROTO_UDP;
        f.tcp = None;
        let m = f.create(1, 350).expect("source-NATed");
        let types: Vec<u16> = attrs(payload(&m)).iter().map(|a| a.0).collect();
        assert!(!types.contains(&CTA_PROTOINFO));
        f.status = IPS_SEEN_REPLY;
        assert_eq!(f.create(1, 350), None);
    }

    #[test]
    fn an_update_carries_state_and_timeout_but_no_nat_or_reply() {
        let m = flow().update(3, 350);
        let fr = frames(&m);
        assert_eq!(fr[0].flags, 0x1 | NLM_F_ACK, "no create");
        let types: Vec<u16> = attrs(payload(&m)).iter().map(|a| a.0).collect();
        assert_eq!(types, [CTA_TUPLE_ORIG, CTA_TIMEOUT, CTA_PROTOINFO]);
    }

    #[test]
    fn deletes_and_gets_name_the_tuple_only() {
        let f = flow();
        let m = delete(&f.translated_reply(), CTA_TUPLE_REPLY, 0, 4);
        assert_eq!(frames(&m)[0].ty, 0x100 | IPCTNL_MSG_CT_DELETE);
        let list = attrs(payload(&m));
        assert_eq!(list.len(), 1);
        assert_eq!(
            Tuple::parse(attr(&list, CTA_TUPLE_REPLY).expect("reply").1),
            Some(f.reply)
        );
        let m = get(&f.orig, 0, 4);
        assert_eq!(frames(&m)[0].ty, 0x100 | IPCTNL_MSG_CT_GET);
        assert_eq!(frames(&m)[0].flags, 0x1);
    }

    #[test]
    fn parses_new_update_and_destroy_events() {
        let f = flow();
        let mut buf = kernel_message(&f, IPCTNL_MSG_CT_NEW, NLM_F_CREATE | NLM_F_EXCL);
        buf.extend(kernel_message(&f, IPCTNL_MSG_CT_NEW, 0));
        let mut gone = f.clone();
        gone.timeout = None;
        gone.tcp = None;
        buf.extend(kernel_message(&gone, IPCTNL_MSG_CT_DELETE, 0));
        let events: Vec<(EventKind, Flow)> = frames(&buf).iter().filter_map(event).collect();
        assert_eq!(
            events,
            [
                (EventKind::New, f.clone()),
                (EventKind::Update, f.clone()),
                (EventKind::Destroy, gone),
            ]
        );
        assert_eq!(events[0].1.translated(), Some(sa("10.80.0.10:2257")));
    }

    #[test]
    fn ignores_other_protocols_and_other_messages() {
        let f = flow();
        let mut icmp = kernel_message(&f, IPCTNL_MSG_CT_NEW, NLM_F_CREATE);
        // Rewrite the protocol numbers (the first CTA_PROTO_NUM byte of each tuple).
        let pos: Vec<usize> = icmp
            .windows(8)
            .enumerate()
            .filter(|(_, w)| *w == [5, 0, 1, 0, 6, 0, 0, 0])
            .map(|(i, _)| i + 4)
            .collect();
        assert_eq!(pos.len(), 2);
        for p in pos {
            icmp[p] = 1;
        }
        assert_eq!(frames(&icmp).iter().filter_map(event).count(), 0);
        // An ack is not an event.
        let mut ack = ct_request(IPCTNL_MSG_CT_NEW, 0, 1, &[]);
        ack[4..6].copy_from_slice(&2u16.to_ne_bytes());
        assert_eq!(frames(&ack).iter().filter_map(event).count(), 0);
        // A truncated message is not read past its end.
        let m = kernel_message(&f, IPCTNL_MSG_CT_NEW, 0);
        assert!(frames(&m[..m.len() - 4]).is_empty());
    }
}
