//! Set elements: read from the planner's nft syntax with the set's
//! [`SetSchema`], and written as `NFTA_LIST_ELEM` attributes.
//!
//! Wire encoding of each field: an interface name is 16 bytes, NUL-padded; an IPv4
//! address 4 bytes in network order; a mark 4 bytes in host order (network order
//! in a concatenated interval set, as `nft` writes it there); an Ethernet
//! address 6 bytes; an `inet_proto` 1 byte; an `inet_service` 2 bytes in network
//! order. In a concatenated key every field is padded to a multiple of 4 bytes
//! (`ifname . ether_addr` is 16 + 8 bytes, `ipv4_addr . inet_proto . inet_service`
//! 4 + 4 + 4).
//!
//! Interval sets (`flags interval`), as `nft` writes them:
//! * concatenated (the kernel's pipapo set): one element per range, its
//!   `NFTA_SET_ELEM_KEY` the start of every field and its `NFTA_SET_ELEM_KEY_END`
//!   the end of every field (equal for a single value);
//! * one field (the kernel's rbtree set): a range `a-b` is two elements, the start
//!   (key `a`) and the end (key `b + 1`, flag `NFT_SET_ELEM_INTERVAL_END`). A range
//!   that runs to the last key (`…-255.255.255.255`, `0.0.0.0/0`) has no end
//!   element; like `nft`, its start then carries the "open interval" user-data flag
//!   so that `nft` prints it back as the same range. Deleting sends the same
//!   elements.

use std::io;
use std::net::Ipv4Addr;

use cove_plan::nft::{ElemType, SetSchema};

use super::wire::{
    MsgBuf, NFT_SET_ELEM_INTERVAL_END, NFTA_DATA_VALUE, NFTA_DATA_VERDICT, NFTA_LIST_ELEM,
    NFTA_SET_ELEM_DATA, NFTA_SET_ELEM_FLAGS, NFTA_SET_ELEM_KEY, NFTA_SET_ELEM_KEY_END,
    NFTA_SET_ELEM_USERDATA, NFTA_VERDICT_CHAIN, NFTA_VERDICT_CODE, align,
};

/// `IFNAMSIZ`: an interface name on the wire, NUL included.
const IFNAMSIZ: usize = 16;
/// Longest chain name nf_tables accepts (`NFT_CHAIN_MAXNAMELEN` less the NUL).
const MAX_CHAIN: usize = 255;

/// Verdict codes (`NF_DROP`, `NF_ACCEPT`, `NFT_CONTINUE`, `NFT_JUMP`, `NFT_GOTO`,
/// `NFT_RETURN`).
const NF_DROP: i32 = 0;
const NF_ACCEPT: i32 = 1;
const NFT_CONTINUE: i32 = -1;
const NFT_JUMP: i32 = -3;
const NFT_GOTO: i32 = -4;
const NFT_RETURN: i32 = -5;

/// `IPPROTO_TCP`, `IPPROTO_UDP`.
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// The user data `nft` attaches to the start of an interval that has no end
/// element (it runs to the last key): one libnftnl TLV,
/// `NFTNL_UDATA_SET_ELEM_FLAGS` (type 1, 4 bytes) holding
/// `NFTNL_SET_ELEM_F_INTERVAL_OPEN` (1) in host order.
const OPEN_INTERVAL_UDATA: [u8; 6] = {
    let f = 1u32.to_ne_bytes();
    [1, 4, f[0], f[1], f[2], f[3]]
};

/// A map element's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Data {
    /// Plain bytes (`NFTA_DATA_VALUE`).
    Value(Vec<u8>),
    /// A verdict (`NFTA_DATA_VERDICT`), with its chain for a jump or goto.
    Verdict {
        /// The verdict code.
        code: i32,
        /// Target chain.
        chain: Option<String>,
    },
}

/// How an element is written, beyond its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shape {
    /// One element with one key.
    Plain,
    /// An element of a concatenated interval set: `key` holds the start of every
    /// field, this the end of every field (`NFTA_SET_ELEM_KEY_END`).
    Ranges {
        /// The end key, padded like the key.
        key_end: Vec<u8>,
    },
    /// An interval of a one-field interval set: the start element (`key`) and an
    /// end element.
    Interval {
        /// The end element's key (one past the last key of the range); `None`
        /// when the range runs to the last key.
        end: Option<Vec<u8>>,
    },
}

/// One element, encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Elem {
    /// The key's bytes (fields padded when concatenated); an interval's start.
    pub(crate) key: Vec<u8>,
    /// Interval information.
    pub(crate) shape: Shape,
    /// A map element's value; `None` for a set.
    pub(crate) data: Option<Data>,
}

/// Reads `text` (nft syntax, as the planner writes it) with `schema`. `Err` says
/// what is wrong, for the caller's error.
pub(crate) fn parse(schema: &SetSchema, text: &str) -> Result<Elem, String> {
    let (key_text, data_text) = match text.split_once(" : ") {
        Some((k, d)) => (k.trim(), Some(d.trim())),
        None => (text.trim(), None),
    };
    let fields: Vec<&str> = key_text.split(" . ").map(str::trim).collect();
    if fields.len() != schema.key.len() {
        return Err(format!(
            "the key has {} field(s), the set's key {}",
            fields.len(),
            schema.key.len()
        ));
    }
    let concat = fields.len() > 1;
    let mut key = Vec::new();
    let mut key_end = Vec::new();
    for (i, (ty, f)) in schema.key.iter().zip(&fields).enumerate() {
        let (mut lo, mut hi) =
            field(*ty, schema.interval, f).map_err(|e| format!("key field {}: {e}", i + 1))?;
        if ty.host_order() && !schema.field_host_order(*ty) {
            // A mark in a concatenated interval set: network order, as `nft` writes it.
            lo = network_order(lo);
            hi = network_order(hi);
        }
        for (k, b) in [(&mut key, lo), (&mut key_end, hi)] {
            let n = b.len();
            k.extend_from_slice(&b);
            if concat {
                k.resize(k.len() + align(n) - n, 0);
            }
        }
    }
    let shape = match (schema.interval, concat) {
        (false, _) => Shape::Plain,
        (true, true) => Shape::Ranges { key_end },
        (true, false) => {
            if !matches!(schema.key[0], ElemType::Ipv4 | ElemType::Ipv4Interval) {
                return Err("a one-field interval set needs an IPv4 key".to_owned());
            }
            Shape::Interval {
                end: successor(&key_end),
            }
        }
    };
    let data = match (schema.data, data_text) {
        (None, None) => None,
        (None, Some(_)) => return Err("a set element has no ` : ` value".to_owned()),
        (Some(_), None) => return Err("a map element needs a ` : ` value".to_owned()),
        (Some(ElemType::Verdict), Some(d)) => Some(verdict(d).map_err(|e| format!("value: {e}"))?),
        (Some(ty), Some(d)) => Some(Data::Value(
            value(ty, d).map_err(|e| format!("value: {e}"))?,
        )),
    };
    Ok(Elem { key, shape, data })
}

/// A host-order value's bytes in network order.
pub(crate) fn network_order(mut host: Vec<u8>) -> Vec<u8> {
    if cfg!(target_endian = "little") {
        host.reverse();
    }
    host
}

/// `bytes` (a big-endian number) plus one; `None` if it is the largest one.
fn successor(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = bytes.to_vec();
    for b in out.iter_mut().rev() {
        let (v, carry) = b.overflowing_add(1);
        *b = v;
        if !carry {
            return Some(out);
        }
    }
    None
}

/// The first and last value of one key field (not padded; equal unless the field
/// is an interval). Interval fields need an interval set.
fn field(ty: ElemType, interval: bool, s: &str) -> Result<(Vec<u8>, Vec<u8>), String> {
    let need_interval = || {
        if interval {
            Ok(())
        } else {
            Err(format!("{ty:?} is a field of interval sets only"))
        }
    };
    match ty {
        ElemType::Verdict => Err("a verdict cannot be a key field".to_owned()),
        ElemType::Ipv4Interval => {
            need_interval()?;
            let (lo, hi) = ipv4_interval(s)?;
            Ok((lo.to_be_bytes().to_vec(), hi.to_be_bytes().to_vec()))
        }
        ElemType::InetServiceInterval => {
            need_interval()?;
            let (lo, hi) = match s.split_once('-') {
                Some((a, b)) => (port(a)?, port(b)?),
                None => (port(s)?, port(s)?),
            };
            if lo > hi {
                return Err(format!("{s}: the range ends before it starts"));
            }
            Ok((lo.to_be_bytes().to_vec(), hi.to_be_bytes().to_vec()))
        }
        _ => {
            let v = value(ty, s)?;
            Ok((v.clone(), v))
        }
    }
}

fn port(s: &str) -> Result<u16, String> {
    s.trim()
        .parse::<u16>()
        .map_err(|_| format!("{s} is not a port (0 to 65535)"))
}

fn ipv4(s: &str) -> Result<u32, String> {
    s.trim()
        .parse::<Ipv4Addr>()
        .map(u32::from)
        .map_err(|_| format!("{s} is not an IPv4 address"))
}

/// `a`, `a/len` (no host bits set) or `a-b` (`a` ≤ `b`): first and last address.
fn ipv4_interval(s: &str) -> Result<(u32, u32), String> {
    if let Some((a, b)) = s.split_once('-') {
        let (lo, hi) = (ipv4(a)?, ipv4(b)?);
        if lo > hi {
            return Err(format!("{s}: the range ends before it starts"));
        }
        return Ok((lo, hi));
    }
    if let Some((a, len)) = s.split_once('/') {
        let lo = ipv4(a)?;
        let len: u32 = len
            .parse()
            .ok()
            .filter(|l| *l <= 32)
            .ok_or_else(|| format!("{s}: {len} is not a prefix length (0 to 32)"))?;
        let host = u32::MAX.checked_shr(len).unwrap_or(0);
        if lo & host != 0 {
            return Err(format!("{s}: the address has host bits set"));
        }
        return Ok((lo, lo | host));
    }
    let a = ipv4(s)?;
    Ok((a, a))
}

/// The bytes of one field (not padded).
fn value(ty: ElemType, s: &str) -> Result<Vec<u8>, String> {
    match ty {
        ElemType::Ifname => {
            let name = s
                .strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                .unwrap_or(s);
            if name.is_empty() || name.len() >= IFNAMSIZ || name.contains(['\0', '"']) {
                return Err(format!("{s} is not an interface name (1 to 15 bytes)"));
            }
            let mut b = name.as_bytes().to_vec();
            b.resize(IFNAMSIZ, 0);
            Ok(b)
        }
        ElemType::Ipv4 => s
            .parse::<Ipv4Addr>()
            .map(|a| a.octets().to_vec())
            .map_err(|_| format!("{s} is not an IPv4 address")),
        ElemType::Mac => {
            let parts: Vec<&str> = s.split(':').collect();
            let bytes: Option<Vec<u8>> = parts
                .iter()
                .map(|p| {
                    (p.len() == 2)
                        .then(|| u8::from_str_radix(p, 16).ok())
                        .flatten()
                })
                .collect();
            match bytes {
                Some(b) if b.len() == 6 => Ok(b),
                _ => Err(format!("{s} is not an Ethernet address")),
            }
        }
        ElemType::Mark => {
            let n = match s.strip_prefix("0x") {
                Some(hex) => u32::from_str_radix(hex, 16),
                None => s.parse::<u32>(),
            };
            n.map(|m| m.to_ne_bytes().to_vec())
                .map_err(|_| format!("{s} is not a mark (a 32-bit number)"))
        }
        ElemType::InetProto => match s {
            "tcp" => Ok(vec![IPPROTO_TCP]),
            "udp" => Ok(vec![IPPROTO_UDP]),
            _ => Err(format!("{s} is not a protocol cove uses (tcp or udp)")),
        },
        ElemType::Verdict => verdict(s).map(|_| Vec::new()),
        ElemType::InetService => port(s).map(|p| p.to_be_bytes().to_vec()),
        ElemType::CtZone => s
            .parse::<u16>()
            .map(|z| z.to_ne_bytes().to_vec())
            .map_err(|_| format!("{s} is not a conntrack zone (0 to 65535)")),
        ElemType::Ipv4Interval | ElemType::InetServiceInterval => {
            let (lo, hi) = field(ty, true, s)?;
            if lo == hi {
                Ok(lo)
            } else {
                Err(format!("{s} is a range, not one value"))
            }
        }
    }
}

/// `accept`, `drop`, `continue`, `return`, `jump CHAIN` or `goto CHAIN`.
fn verdict(s: &str) -> Result<Data, String> {
    let (word, chain) = match s.split_once(' ') {
        Some((w, c)) => (w, Some(c.trim())),
        None => (s, None),
    };
    let code = match (word, chain) {
        ("accept", None) => NF_ACCEPT,
        ("drop", None) => NF_DROP,
        ("continue", None) => NFT_CONTINUE,
        ("return", None) => NFT_RETURN,
        ("jump", Some(_)) => NFT_JUMP,
        ("goto", Some(_)) => NFT_GOTO,
        _ => return Err(format!("{s} is not a verdict")),
    };
    if let Some(c) = chain {
        let ok = !c.is_empty()
            && c.len() <= MAX_CHAIN
            && !c.contains(|ch: char| ch == '\0' || ch.is_whitespace());
        if !ok {
            return Err(format!("{c:?} is not a chain name"));
        }
    }
    Ok(Data::Verdict {
        code,
        chain: chain.map(str::to_owned),
    })
}

/// Writes `elem` as `NFTA_LIST_ELEM` attributes (two for an interval of a
/// one-field interval set); with `with_data` false a map element's value is left
/// out (a deletion needs the key only).
pub(crate) fn encode(buf: &mut MsgBuf, elem: &Elem, with_data: bool) -> io::Result<()> {
    let list_elem = buf.begin_nest(NFTA_LIST_ELEM);
    let key = buf.begin_nest(NFTA_SET_ELEM_KEY);
    buf.attr(NFTA_DATA_VALUE, &elem.key)?;
    buf.end_nest(key)?;
    match &elem.shape {
        Shape::Plain | Shape::Interval { end: Some(_) } => {}
        Shape::Ranges { key_end } => {
            let k = buf.begin_nest(NFTA_SET_ELEM_KEY_END);
            buf.attr(NFTA_DATA_VALUE, key_end)?;
            buf.end_nest(k)?;
        }
        Shape::Interval { end: None } => buf.attr(NFTA_SET_ELEM_USERDATA, &OPEN_INTERVAL_UDATA)?,
    }
    if let (true, Some(data)) = (with_data, &elem.data) {
        let d = buf.begin_nest(NFTA_SET_ELEM_DATA);
        match data {
            Data::Value(v) => buf.attr(NFTA_DATA_VALUE, v)?,
            Data::Verdict { code, chain } => {
                let v = buf.begin_nest(NFTA_DATA_VERDICT);
                buf.attr(NFTA_VERDICT_CODE, &code.to_be_bytes())?;
                if let Some(c) = chain {
                    buf.attr_strz(NFTA_VERDICT_CHAIN, c)?;
                }
                buf.end_nest(v)?;
            }
        }
        buf.end_nest(d)?;
    }
    buf.end_nest(list_elem)?;
    if let Shape::Interval { end: Some(end) } = &elem.shape {
        let list_elem = buf.begin_nest(NFTA_LIST_ELEM);
        let key = buf.begin_nest(NFTA_SET_ELEM_KEY);
        buf.attr(NFTA_DATA_VALUE, end)?;
        buf.end_nest(key)?;
        buf.attr(
            NFTA_SET_ELEM_FLAGS,
            &NFT_SET_ELEM_INTERVAL_END.to_be_bytes(),
        )?;
        buf.end_nest(list_elem)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use cove_plan::nft::set_schema;

    use super::*;

    fn key(set: &str, text: &str) -> Vec<u8> {
        let schema = set_schema(set).expect("schema");
        parse(&schema, text).expect("element").key
    }

    fn ifname(s: &str) -> Vec<u8> {
        let mut b = s.as_bytes().to_vec();
        b.resize(16, 0);
        b
    }

    /// Every field's encoding is as wide as cove-plan's description says (the
    /// decoder reads fields at those widths), in the byte order it says.
    #[test]
    fn every_type_encodes_to_its_described_width() {
        let samples = [
            (ElemType::Ifname, "\"e1\""),
            (ElemType::Ipv4, "10.0.0.1"),
            (ElemType::Mac, "02:aa:bb:cc:dd:01"),
            (ElemType::Mark, "258"),
            (ElemType::Ipv4Interval, "10.0.0.1"),
            (ElemType::InetProto, "tcp"),
            (ElemType::InetServiceInterval, "258"),
            (ElemType::InetService, "258"),
            (ElemType::CtZone, "258"),
        ];
        for (ty, text) in samples {
            let v = value(ty, text).expect("value");
            assert_eq!(v.len(), ty.width(), "{ty:?}");
            if text == "258" {
                let want = if ty.host_order() {
                    258u16.to_ne_bytes()
                } else {
                    258u16.to_be_bytes()
                };
                assert_eq!(v[..2], want[..], "{ty:?}");
            }
        }
        assert_eq!(ElemType::Verdict.width(), 0);
    }

    #[test]
    fn single_fields() {
        assert_eq!(key("src_links", "\"e1a2b3c4d\""), ifname("e1a2b3c4d"));
        assert_eq!(key("gwe_links", "\"w1a2b3c4d\""), ifname("w1a2b3c4d"));
        let mut want = 3u32.to_ne_bytes().to_vec();
        want.extend_from_slice(&[192, 168, 1, 254]);
        assert_eq!(key("members", "3 . 192.168.1.254"), want);
    }

    #[test]
    fn concatenated_fields_are_padded_to_4_bytes() {
        let mut want = ifname("e1a2b3c4d");
        want.extend_from_slice(&[0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01, 0, 0]);
        assert_eq!(key("link_mac", "\"e1a2b3c4d\" . 02:aa:bb:cc:dd:01"), want);
        assert_eq!(want.len(), 24);

        let mut want = ifname("e1a2b3c4d");
        want.extend_from_slice(&[10, 20, 1, 5]);
        assert_eq!(key("eni_src", "\"e1a2b3c4d\" . 10.20.1.5"), want);

        let mut want = ifname("e1a2b3c4d");
        want.extend_from_slice(&3u32.to_ne_bytes());
        assert_eq!(key("link_subnet_pair", "\"e1a2b3c4d\" . 3"), want);
        assert_eq!(want.len(), 20);

        let mut want = ifname("i1a2b3c4d");
        want.extend_from_slice(&[10, 20, 1, 5]);
        assert_eq!(key("igw_sources", "\"i1a2b3c4d\" . 10.20.1.5"), want);
    }

    #[test]
    fn conntrack_zones_are_two_bytes_in_host_order() {
        let s = set_schema("peer_zone").expect("schema");
        let e = parse(&s, "1048577 . 10.30.1.10 : 53381").expect("element");
        let mut want = 1_048_577u32.to_ne_bytes().to_vec();
        want.extend_from_slice(&[10, 30, 1, 10]);
        assert_eq!(e.key, want);
        assert_eq!(e.data, Some(Data::Value(53381u16.to_ne_bytes().to_vec())));
        let s = set_schema("link_zone").expect("schema");
        let e = parse(&s, "\"e1\" : 7").expect("element");
        assert_eq!(e.data, Some(Data::Value(7u16.to_ne_bytes().to_vec())));
        assert!(parse(&s, "\"e1\" : 70000").is_err());
    }

    /// A map from one IPv4 address to another (the shape of a NAT map).
    fn ipv4_map() -> SetSchema {
        SetSchema {
            key: vec![ElemType::Ipv4],
            data: Some(ElemType::Ipv4),
            interval: false,
        }
    }

    #[test]
    fn map_values() {
        let s = set_schema("link_subnet").expect("schema");
        let e = parse(&s, "\"e1\" : 3").expect("element");
        assert_eq!(e.key, ifname("e1"));
        assert_eq!(e.data, Some(Data::Value(3u32.to_ne_bytes().to_vec())));

        let s = ipv4_map();
        let e = parse(&s, "203.0.113.10 : 10.20.0.4").expect("element");
        assert_eq!(e.key, vec![203, 0, 113, 10]);
        assert_eq!(e.data, Some(Data::Value(vec![10, 20, 0, 4])));

        let e = parse(&vmap(), "\"e1a2b3c4d\" : jump nacl_out_0").expect("element");
        assert_eq!(
            e.data,
            Some(Data::Verdict {
                code: NFT_JUMP,
                chain: Some("nacl_out_0".to_owned())
            })
        );
    }

    #[test]
    fn malformed_elements_are_refused() {
        let bad = [
            ("eni_src", "\"e1\""),
            ("eni_src", "\"e1\" . 10.0.0.256"),
            ("src_links", "\"this-is-too-long-1\""),
            ("src_links", "\"\""),
            ("link_mac", "\"e1\" . 02:aa:bb:cc:dd"),
            ("link_mac", "\"e1\" . 02:aa:bb:cc:dd:zz"),
            ("link_subnet", "\"e1\""),
            ("link_subnet", "\"e1\" : -1"),
            ("src_links", "\"e1\" : 1"),
        ];
        for (set, text) in bad {
            let schema = set_schema(set).expect("schema");
            assert!(parse(&schema, text).is_err(), "{set}: {text} accepted");
        }
        for text in ["\"e1\" : jump", "\"e1\" : leap nacl_out_0"] {
            assert!(parse(&vmap(), text).is_err(), "{text} accepted");
        }
    }

    /// A verdict map keyed by interface (cove's router tables no longer have one:
    /// per-link jumps are marks, see `cove_plan::nft`; the encoding stays tested).
    fn vmap() -> SetSchema {
        SetSchema {
            key: vec![ElemType::Ifname],
            data: Some(ElemType::Verdict),
            interval: false,
        }
    }

    #[test]
    fn encodes_a_jump_map_element() {
        let e = parse(&vmap(), "\"e1\" : jump sgc_1_in").expect("element");
        let mut b = MsgBuf::default();
        encode(&mut b, &e, true).expect("encode");
        let mut want = Vec::new();
        let hdr = |w: &mut Vec<u8>, len: u16, ty: u16| {
            w.extend_from_slice(&len.to_ne_bytes());
            w.extend_from_slice(&ty.to_ne_bytes());
        };
        // LIST_ELEM { KEY { VALUE[16] }, DATA { VERDICT { CODE, CHAIN "sgc_1_in\0" } } }
        hdr(&mut want, 4 + 24 + 32, 0x8001);
        hdr(&mut want, 24, 0x8001);
        hdr(&mut want, 20, 1);
        want.extend_from_slice(&ifname("e1"));
        hdr(&mut want, 32, 0x8002);
        hdr(&mut want, 28, 0x8002);
        hdr(&mut want, 8, 1);
        want.extend_from_slice(&[0xff, 0xff, 0xff, 0xfd]);
        hdr(&mut want, 13, 2);
        want.extend_from_slice(b"sgc_1_in\0\0\0\0");
        assert_eq!(b.bytes(), want.as_slice());

        // A deletion carries the key only.
        let mut b = MsgBuf::default();
        encode(&mut b, &e, false).expect("encode");
        assert_eq!(&b.bytes()[..2], &28u16.to_ne_bytes());
        assert_eq!(&b.bytes()[2..], &want[2..28]);
    }

    #[test]
    fn encodes_a_value_map_element() {
        let s = ipv4_map();
        let e = parse(&s, "10.20.0.4 : 203.0.113.10").expect("element");
        let mut b = MsgBuf::default();
        encode(&mut b, &e, true).expect("encode");
        let mut want = Vec::new();
        for (len, ty) in [(28u16, 0x8001u16), (12, 0x8001), (8, 1)] {
            want.extend_from_slice(&len.to_ne_bytes());
            want.extend_from_slice(&ty.to_ne_bytes());
        }
        want.extend_from_slice(&[10, 20, 0, 4]);
        for (len, ty) in [(12u16, 0x8002u16), (8, 1)] {
            want.extend_from_slice(&len.to_ne_bytes());
            want.extend_from_slice(&ty.to_ne_bytes());
        }
        want.extend_from_slice(&[203, 0, 113, 10]);
        assert_eq!(b.bytes(), want.as_slice());
    }

    /// A one-field interval set (the kernel's rbtree set; no set of cove's router
    /// is one since the rule sets are keyed by the combination, but the path
    /// stays for any such schema).
    fn one_field() -> SetSchema {
        SetSchema {
            key: vec![ElemType::Ipv4Interval],
            data: None,
            interval: true,
        }
    }

    fn shape(set: &str, text: &str) -> (Vec<u8>, Shape) {
        let schema = set_schema(set).expect("schema");
        let e = parse(&schema, text).expect("element");
        (e.key, e.shape)
    }

    #[test]
    fn concatenated_interval_elements_carry_start_and_end_keys() {
        // The combination's number (a mark) first, in network order as `nft`
        // writes it in a concatenated interval set.
        let l4 = "sg_in_l4";
        let (key, s) = shape(l4, "7 . 10.0.0.0/16 . tcp . 5432");
        assert_eq!(
            key,
            vec![0, 0, 0, 7, 10, 0, 0, 0, 6, 0, 0, 0, 0x15, 0x38, 0, 0]
        );
        assert_eq!(
            s,
            Shape::Ranges {
                key_end: vec![0, 0, 0, 7, 10, 0, 255, 255, 6, 0, 0, 0, 0x15, 0x38, 0, 0]
            }
        );
        let (key, s) = shape(l4, "258 . 10.0.0.0-10.0.0.9 . udp . 1000-2000");
        assert_eq!(
            key,
            vec![0, 0, 1, 2, 10, 0, 0, 0, 17, 0, 0, 0, 0x03, 0xe8, 0, 0]
        );
        assert_eq!(
            s,
            Shape::Ranges {
                key_end: vec![0, 0, 1, 2, 10, 0, 0, 9, 17, 0, 0, 0, 0x07, 0xd0, 0, 0]
            }
        );
        let (key, s) = shape("sg_out_all", "1 . 0.0.0.0/0");
        assert_eq!(key, vec![0, 0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(
            s,
            Shape::Ranges {
                key_end: vec![0, 0, 0, 1, 255, 255, 255, 255]
            }
        );
    }

    #[test]
    fn one_field_intervals_end_one_past_their_last_address() {
        let shape = |_: (), text: &str| {
            let e = parse(&one_field(), text).expect("element");
            (e.key, e.shape)
        };
        let all = ();
        let end = |e: [u8; 4]| Shape::Interval {
            end: Some(e.to_vec()),
        };
        assert_eq!(
            shape(all, "10.0.0.5"),
            (vec![10, 0, 0, 5], end([10, 0, 0, 6]))
        );
        assert_eq!(
            shape(all, "192.168.0.0/16"),
            (vec![192, 168, 0, 0], end([192, 169, 0, 0]))
        );
        assert_eq!(
            shape(all, "172.16.0.0-172.16.0.255"),
            (vec![172, 16, 0, 0], end([172, 16, 1, 0]))
        );
        let open = Shape::Interval { end: None };
        assert_eq!(shape(all, "0.0.0.0/0"), (vec![0, 0, 0, 0], open.clone()));
        assert_eq!(
            shape(all, "255.255.255.255"),
            (vec![255, 255, 255, 255], open.clone())
        );
        assert_eq!(
            shape(all, "240.0.0.0-255.255.255.255"),
            (vec![240, 0, 0, 0], open)
        );
    }

    #[test]
    fn an_interval_is_a_start_and_an_end_element() {
        let s = one_field();
        let hdr = |w: &mut Vec<u8>, len: u16, ty: u16| {
            w.extend_from_slice(&len.to_ne_bytes());
            w.extend_from_slice(&ty.to_ne_bytes());
        };
        let e = parse(&s, "10.0.0.0/8").expect("element");
        let mut b = MsgBuf::default();
        encode(&mut b, &e, true).expect("encode");
        let mut want = Vec::new();
        // LIST_ELEM { KEY { VALUE 10.0.0.0 } }
        hdr(&mut want, 16, 0x8001);
        hdr(&mut want, 12, 0x8001);
        hdr(&mut want, 8, 1);
        want.extend_from_slice(&[10, 0, 0, 0]);
        // LIST_ELEM { KEY { VALUE 11.0.0.0 }, FLAGS INTERVAL_END }
        hdr(&mut want, 24, 0x8001);
        hdr(&mut want, 12, 0x8001);
        hdr(&mut want, 8, 1);
        want.extend_from_slice(&[11, 0, 0, 0]);
        hdr(&mut want, 8, 3);
        want.extend_from_slice(&1u32.to_be_bytes());
        assert_eq!(b.bytes(), want.as_slice());

        // Open-ended: the start only, marked open for `nft`.
        let e = parse(&s, "0.0.0.0/0").expect("element");
        let mut b = MsgBuf::default();
        encode(&mut b, &e, false).expect("encode");
        let mut want = Vec::new();
        hdr(&mut want, 28, 0x8001);
        hdr(&mut want, 12, 0x8001);
        hdr(&mut want, 8, 1);
        want.extend_from_slice(&[0, 0, 0, 0]);
        hdr(&mut want, 10, 6);
        want.extend_from_slice(&OPEN_INTERVAL_UDATA);
        want.extend_from_slice(&[0, 0]);
        assert_eq!(b.bytes(), want.as_slice());
    }

    #[test]
    fn a_concatenated_interval_is_one_element_with_an_end_key() {
        let s = set_schema("sg_in_l4").expect("schema");
        let e = parse(&s, "7 . 10.2.0.5 . tcp . 443").expect("element");
        let mut b = MsgBuf::default();
        encode(&mut b, &e, true).expect("encode");
        let mut want = Vec::new();
        let hdr = |w: &mut Vec<u8>, len: u16, ty: u16| {
            w.extend_from_slice(&len.to_ne_bytes());
            w.extend_from_slice(&ty.to_ne_bytes());
        };
        let k = [0, 0, 0, 7, 10, 2, 0, 5, 6, 0, 0, 0, 0x01, 0xbb, 0, 0];
        hdr(&mut want, 4 + 24 + 24, 0x8001);
        hdr(&mut want, 24, 0x8001);
        hdr(&mut want, 20, 1);
        want.extend_from_slice(&k);
        hdr(&mut want, 24, 0x800a);
        hdr(&mut want, 20, 1);
        want.extend_from_slice(&k);
        assert_eq!(b.bytes(), want.as_slice());
    }

    #[test]
    fn malformed_interval_elements_are_refused() {
        let bad = [
            ("sg_in_all", "1 . 10.0.0.1/16"),
            ("sg_in_all", "1 . 10.0.0.0/33"),
            ("sg_in_all", "1 . 10.0.0.9-10.0.0.0"),
            ("sg_in_all", "1 . 10.0.0.0-"),
            ("sg_in_all", "1 . 10.0.0.0 . tcp . 80"),
            ("sg_in_all", "10.0.0.0/8"),
            ("sg_in_all", "x . 10.0.0.0/8"),
            ("sg_in_l4", "1 . 10.0.0.0/8 . tcp"),
            ("sg_in_l4", "1 . 10.0.0.0/8 . icmp . 80"),
            ("sg_in_l4", "1 . 10.0.0.0/8 . tcp . 70000"),
            ("sg_in_l4", "1 . 10.0.0.0/8 . tcp . 2000-1000"),
            ("sg_in_l4", "1 . 10.0.0.0/8 . tcp . 80 : accept"),
        ];
        for (set, text) in bad {
            let schema = set_schema(set).expect("schema");
            assert!(parse(&schema, text).is_err(), "{set}: {text} accepted");
        }
        // Interval fields outside an interval set.
        let plain = SetSchema {
            key: vec![ElemType::Ipv4Interval],
            data: None,
            interval: false,
        };
        assert!(parse(&plain, "10.0.0.0/8").is_err());
    }
}
