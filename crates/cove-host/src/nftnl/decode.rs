//! Set elements read back over netlink (`NFT_MSG_GETSETELEM` dumps), written in
//! the planner's nft syntax with the set's [`SetSchema`]: the inverse of
//! `elem.rs`, so that observing cove's elements needs no `nft` process.
//!
//! Text is canonical as the planner writes it (and `nft` prints it): interface names
//! quoted, marks and zones in decimal, MACs in lowercase hex, an address interval as
//! one address, a prefix (`a/len`) when it is one, else `a-b`, a port interval as
//! `p` or `p-q`. A one-field interval set holds start elements and end elements
//! (flag `NFT_SET_ELEM_INTERVAL_END`, key one past the range); a start with no end
//! after it runs to the last key.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use cove_plan::nft::{ElemType, SetSchema};

use super::ruleset::attrs;
use super::wire::{
    NFT_SET_ELEM_INTERVAL_END, NFTA_DATA_VALUE, NFTA_DATA_VERDICT, NFTA_SET_ELEM_DATA,
    NFTA_SET_ELEM_FLAGS, NFTA_SET_ELEM_KEY, NFTA_SET_ELEM_KEY_END, NFTA_VERDICT_CHAIN,
    NFTA_VERDICT_CODE,
};

fn ipv4(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

fn port(b: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(..2)?.try_into().ok()?))
}

/// An address range as the planner writes it (`cove_plan::sgsets`).
fn addr_range(lo: u32, hi: u32) -> String {
    let a = Ipv4Addr::from(lo);
    if lo == hi {
        return a.to_string();
    }
    let size = u64::from(hi) - u64::from(lo) + 1;
    if size.is_power_of_two() && u64::from(lo).is_multiple_of(size) {
        return format!("{a}/{}", 32 - size.trailing_zeros());
    }
    format!("{a}-{}", Ipv4Addr::from(hi))
}

fn port_range(lo: u16, hi: u16) -> String {
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}-{hi}")
    }
}

/// One field's text from its first and last value's bytes.
fn field(ty: ElemType, lo: &[u8], hi: &[u8]) -> Option<String> {
    Some(match ty {
        ElemType::Ifname => {
            let b = lo.get(..16)?;
            let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
            format!("\"{}\"", std::str::from_utf8(&b[..end]).ok()?)
        }
        ElemType::Ipv4 => Ipv4Addr::from(ipv4(lo)?).to_string(),
        ElemType::Ipv4Interval => addr_range(ipv4(lo)?, ipv4(hi)?),
        ElemType::Mac => lo
            .get(..6)?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
        ElemType::Mark => u32::from_ne_bytes(lo.get(..4)?.try_into().ok()?).to_string(),
        ElemType::CtZone => u16::from_ne_bytes(lo.get(..2)?.try_into().ok()?).to_string(),
        ElemType::InetProto => match *lo.first()? {
            6 => "tcp".to_owned(),
            17 => "udp".to_owned(),
            other => other.to_string(),
        },
        ElemType::InetService => port(lo)?.to_string(),
        ElemType::InetServiceInterval => port_range(port(lo)?, port(hi)?),
        ElemType::Verdict => return None,
    })
}

/// A key's text (fields joined with ` . `), from its start and end bytes.
fn key(schema: &SetSchema, lo: &[u8], hi: &[u8]) -> Option<String> {
    let concat = schema.key.len() > 1;
    let mut at = 0;
    let mut parts = Vec::with_capacity(schema.key.len());
    for ty in &schema.key {
        let w = ty.width();
        let (l, h) = (lo.get(at..at + w)?, hi.get(at..at + w)?);
        if ty.host_order() && !schema.field_host_order(*ty) {
            // Network order in a concatenated interval set (see `elem.rs`).
            let (l, h) = (
                super::elem::network_order(l.to_vec()),
                super::elem::network_order(h.to_vec()),
            );
            parts.push(field(*ty, &l, &h)?);
        } else {
            parts.push(field(*ty, l, h)?);
        }
        at += if concat { super::wire::align(w) } else { w };
    }
    Some(parts.join(" . "))
}

/// The `NFTA_DATA_VALUE` inside a nested data attribute.
fn value(nest: &[u8]) -> Option<&[u8]> {
    attrs(nest)
        .into_iter()
        .find(|(t, _)| *t == NFTA_DATA_VALUE)
        .map(|(_, v)| v)
}

/// A map value's text.
fn data(ty: ElemType, nest: &[u8]) -> Option<String> {
    if ty != ElemType::Verdict {
        let v = value(nest)?;
        return field(ty, v, v);
    }
    let verdict = attrs(nest)
        .into_iter()
        .find(|(t, _)| *t == NFTA_DATA_VERDICT)?
        .1;
    let a = attrs(verdict);
    let code = a
        .iter()
        .find(|(t, _)| *t == NFTA_VERDICT_CODE)
        .and_then(|(_, v)| Some(i32::from_be_bytes(v.get(..4)?.try_into().ok()?)))?;
    let chain = a
        .iter()
        .find(|(t, _)| *t == NFTA_VERDICT_CHAIN)
        .map(|(_, v)| {
            let end = v.iter().position(|c| *c == 0).unwrap_or(v.len());
            String::from_utf8_lossy(&v[..end]).into_owned()
        });
    Some(match (code, chain) {
        (1, _) => "accept".to_owned(),
        (0, _) => "drop".to_owned(),
        (-1, _) => "continue".to_owned(),
        (-5, _) => "return".to_owned(),
        (-3, Some(c)) => format!("jump {c}"),
        (-4, Some(c)) => format!("goto {c}"),
        _ => return None,
    })
}

/// One dumped element: key, key end, value, flags.
struct Raw<'a> {
    key: &'a [u8],
    key_end: Option<&'a [u8]>,
    data: Option<&'a [u8]>,
    end: bool,
}

/// The elements of one set in the payloads of its `GETSETELEM` dump (each the
/// attributes after the `nfgenmsg`), in the planner's syntax. `None` if one of them
/// cannot be written with the schema (the caller then reads them another way).
pub(crate) fn elements(schema: &SetSchema, payloads: &[&[u8]]) -> Option<BTreeSet<String>> {
    const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
    let mut raw = Vec::new();
    for p in payloads {
        for (ty, list) in attrs(p) {
            if ty != NFTA_SET_ELEM_LIST_ELEMENTS {
                continue;
            }
            for (_, e) in attrs(list) {
                let a = attrs(e);
                let get = |t: u16| a.iter().find(|(x, _)| *x == t).map(|(_, v)| *v);
                let flags = get(NFTA_SET_ELEM_FLAGS)
                    .and_then(|v| Some(u32::from_be_bytes(v.get(..4)?.try_into().ok()?)))
                    .unwrap_or(0);
                raw.push(Raw {
                    key: value(get(NFTA_SET_ELEM_KEY)?)?,
                    key_end: get(NFTA_SET_ELEM_KEY_END).and_then(value),
                    data: get(NFTA_SET_ELEM_DATA),
                    end: flags & NFT_SET_ELEM_INTERVAL_END != 0,
                });
            }
        }
    }
    let mut out = BTreeSet::new();
    let with_data = |k: String, r: &Raw<'_>| -> Option<String> {
        match schema.data {
            None => Some(k),
            Some(ty) => Some(format!("{k} : {}", data(ty, r.data?)?)),
        }
    };
    if schema.interval && schema.key.len() == 1 {
        // Starts and ends, in key order (the kernel dumps them in its own); at one
        // key the end of a range comes before the start of the next one.
        raw.sort_by(|a, b| a.key.cmp(b.key).then(b.end.cmp(&a.end)));
        let mut i = 0;
        while i < raw.len() {
            let start = &raw[i];
            i += 1;
            if start.end {
                // An end with no start before it (nft may add one at the lowest key).
                continue;
            }
            let lo = ipv4(start.key)?;
            let hi = match raw.get(i) {
                Some(next) if next.end => {
                    i += 1;
                    ipv4(next.key)?.checked_sub(1)?
                }
                _ => u32::MAX,
            };
            let k = key(schema, &lo.to_be_bytes(), &hi.to_be_bytes())?;
            out.insert(with_data(k, start)?);
        }
        return Some(out);
    }
    for r in &raw {
        let k = key(schema, r.key, r.key_end.unwrap_or(r.key))?;
        out.insert(with_data(k, r)?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use cove_plan::nft::set_schema;

    use super::super::elem;
    use super::super::wire::MsgBuf;
    use super::*;

    /// Encodes `texts` as the element batch would, wraps them like a dump answer,
    /// and reads them back.
    fn round_trip(set: &str, texts: &[&str]) -> Option<BTreeSet<String>> {
        let schema = schema_of(set);
        let mut b = MsgBuf::default();
        let nest = b.begin_nest(3);
        for t in texts {
            let e = elem::parse(&schema, t).expect("element");
            elem::encode(&mut b, &e, true).expect("encode");
        }
        b.end_nest(nest).expect("nest");
        elements(&schema, &[b.bytes()])
    }

    /// A one-field IPv4 interval set (the kernel's rbtree set; cove's router has
    /// none since the rule sets are keyed by the combination, but the path stays).
    const ONE_FIELD: &str = "(one-field interval set)";

    fn schema_of(set: &str) -> SetSchema {
        if set == ONE_FIELD {
            return SetSchema {
                key: vec![ElemType::Ipv4Interval],
                data: None,
                interval: true,
            };
        }
        set_schema(set).expect("schema")
    }

    #[test]
    fn every_schema_reads_back_as_written() {
        let cases: &[(&str, &[&str])] = &[
            ("src_links", &["\"e1a2b3c4d\"", "\"e2\""]),
            ("eni_src", &["\"e1\" . 10.0.0.5"]),
            ("link_mac", &["\"e1\" . 02:aa:bb:cc:dd:01"]),
            ("link_subnet", &["\"e1\" : 3", "\"e2\" : 4000000"]),
            ("link_table", &["\"e1\" : 2097153"]),
            ("link_subnet_pair", &["\"e1\" . 7"]),
            ("link_zone", &["\"e1\" : 300"]),
            ("peer_zone", &["1048578 . 10.30.1.10 : 7"]),
            ("public_to_private", &["\"i1\" . 203.0.113.10 : 10.0.0.5"]),
            ("members", &["1 . 192.168.1.254", "258 . 10.0.0.1"]),
            (
                "sg_in_x",
                &["1 . 10.0.0.5 . tcp . 5432", "258 . 10.0.0.6 . udp . 53"],
            ),
            (
                "sg_out_l4",
                &[
                    "1 . 10.0.0.0/8 . tcp . 1024-65535",
                    "2 . 10.1.0.0-10.1.0.9 . udp . 53",
                    "258 . 0.0.0.0/0 . tcp . 443",
                    "4000000 . 10.2.0.7 . tcp . 0-65535",
                ],
            ),
            (
                "sg_in_all",
                &[
                    "1 . 10.0.0.0/16",
                    "1 . 10.1.0.0-10.1.0.9",
                    "258 . 10.1.0.10",
                    "3 . 0.0.0.0/0",
                ],
            ),
            (
                ONE_FIELD,
                &[
                    "10.0.0.0/16",
                    "10.1.0.0-10.1.0.9",
                    "10.1.0.10",
                    "192.168.0.1",
                    "200.0.0.0-255.255.255.255",
                ],
            ),
            (ONE_FIELD, &["0.0.0.0/0"]),
        ];
        for (set, texts) in cases {
            let want: BTreeSet<String> = texts.iter().map(|t| (*t).to_owned()).collect();
            assert_eq!(round_trip(set, texts), Some(want), "{set}");
        }
    }

    #[test]
    fn a_lone_interval_end_at_the_lowest_key_is_skipped() {
        let schema = schema_of(ONE_FIELD);
        let mut b = MsgBuf::default();
        let nest = b.begin_nest(3);
        let le = b.begin_nest(1);
        let k = b.begin_nest(NFTA_SET_ELEM_KEY);
        b.attr(NFTA_DATA_VALUE, &[0, 0, 0, 0]).expect("attr");
        b.end_nest(k).expect("nest");
        b.attr(
            NFTA_SET_ELEM_FLAGS,
            &NFT_SET_ELEM_INTERVAL_END.to_be_bytes(),
        )
        .expect("attr");
        b.end_nest(le).expect("nest");
        let e = elem::parse(&schema, "10.0.0.0/8").expect("element");
        elem::encode(&mut b, &e, true).expect("encode");
        b.end_nest(nest).expect("nest");
        let got = elements(&schema, &[b.bytes()]).expect("elements");
        assert_eq!(got.into_iter().collect::<Vec<_>>(), vec!["10.0.0.0/8"]);
    }
}
