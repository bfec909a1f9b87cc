//! Set elements: read from the planner's nft syntax with the set's
//! [`SetSchema`], and written as `NFTA_LIST_ELEM` attributes.
//!
//! Wire encoding of each field: an interface name is 16 bytes, NUL-padded; an IPv4
//! address 4 bytes in network order; a mark 4 bytes in host order; an Ethernet
//! address 6 bytes. In a concatenated key every field is padded to a multiple of 4
//! bytes (`ifname . ether_addr` is 16 + 8 bytes).

use std::io;
use std::net::Ipv4Addr;

use cove_plan::nft::{ElemType, SetSchema};

use super::wire::{
    MsgBuf, NFTA_DATA_VALUE, NFTA_DATA_VERDICT, NFTA_LIST_ELEM, NFTA_SET_ELEM_DATA,
    NFTA_SET_ELEM_KEY, NFTA_VERDICT_CHAIN, NFTA_VERDICT_CODE, align,
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

/// One element, encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Elem {
    /// The key's bytes (fields padded when concatenated).
    pub(crate) key: Vec<u8>,
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
    for (i, (ty, f)) in schema.key.iter().zip(&fields).enumerate() {
        let bytes = match ty {
            ElemType::Verdict => Err("a verdict cannot be a key field".to_owned()),
            _ => value(*ty, f),
        }
        .map_err(|e| format!("key field {}: {e}", i + 1))?;
        key.extend_from_slice(&bytes);
        if concat {
            key.resize(key.len() + align(bytes.len()) - bytes.len(), 0);
        }
    }
    let data = match (schema.data, data_text) {
        (None, None) => None,
        (None, Some(_)) => return Err("a set element has no ` : ` value".to_owned()),
        (Some(_), None) => return Err("a map element needs a ` : ` value".to_owned()),
        (Some(ElemType::Verdict), Some(d)) => Some(verdict(d).map_err(|e| format!("value: {e}"))?),
        (Some(ty), Some(d)) => Some(Data::Value(
            value(ty, d).map_err(|e| format!("value: {e}"))?,
        )),
    };
    Ok(Elem { key, data })
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
        ElemType::Verdict => verdict(s).map(|_| Vec::new()),
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

/// Writes `elem` as one `NFTA_LIST_ELEM`; with `with_data` false a map element's
/// value is left out (a deletion needs the key only).
pub(crate) fn encode(buf: &mut MsgBuf, elem: &Elem, with_data: bool) -> io::Result<()> {
    let list_elem = buf.begin_nest(NFTA_LIST_ELEM);
    let key = buf.begin_nest(NFTA_SET_ELEM_KEY);
    buf.attr(NFTA_DATA_VALUE, &elem.key)?;
    buf.end_nest(key)?;
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
    buf.end_nest(list_elem)
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

    #[test]
    fn single_fields() {
        assert_eq!(key("src_links", "\"e1a2b3c4d\""), ifname("e1a2b3c4d"));
        assert_eq!(key("igw_sources", "10.0.0.5"), vec![10, 0, 0, 5]);
        assert_eq!(
            key("members_ab12cd34", "192.168.1.254"),
            vec![192, 168, 1, 254]
        );
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
    }

    #[test]
    fn map_values() {
        let s = set_schema("link_subnet").expect("schema");
        let e = parse(&s, "\"e1\" : 3").expect("element");
        assert_eq!(e.key, ifname("e1"));
        assert_eq!(e.data, Some(Data::Value(3u32.to_ne_bytes().to_vec())));

        let s = set_schema("public_to_private").expect("schema");
        let e = parse(&s, "203.0.113.10 : 10.20.0.4").expect("element");
        assert_eq!(e.key, vec![203, 0, 113, 10]);
        assert_eq!(e.data, Some(Data::Value(vec![10, 20, 0, 4])));

        let s = set_schema("nacl_out").expect("schema");
        let e = parse(&s, "\"e1a2b3c4d\" : jump nacl_out_0").expect("element");
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
            ("nacl_out", "\"e1\" : jump"),
            ("nacl_out", "\"e1\" : leap nacl_out_0"),
        ];
        for (set, text) in bad {
            let schema = set_schema(set).expect("schema");
            assert!(parse(&schema, text).is_err(), "{set}: {text} accepted");
        }
    }

    #[test]
    fn encodes_a_jump_map_element() {
        let s = set_schema("sg_in").expect("schema");
        let e = parse(&s, "\"e1\" : jump sgc_1_in").expect("element");
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
        let s = set_schema("private_to_public").expect("schema");
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
}
