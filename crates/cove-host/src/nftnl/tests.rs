//! The batch's layout, without a kernel: message order and flags, element offsets,
//! long sets split over messages, and which element an error names.

use super::wire::{NLMSG_HDRLEN, align};
use super::*;

fn elements(sets: &[(&str, &[&str])]) -> Elements {
    sets.iter()
        .map(|(s, es)| {
            (
                (*s).to_owned(),
                es.iter().map(|e| (*e).to_owned()).collect(),
            )
        })
        .collect()
}

/// (type, flags, seq, length, offset) of every message in the batch.
fn headers(bytes: &[u8]) -> Vec<(u16, u16, u32, usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let u32_at = |o: usize| u32::from_ne_bytes(bytes[o..o + 4].try_into().expect("4"));
        let u16_at = |o: usize| u16::from_ne_bytes(bytes[o..o + 2].try_into().expect("2"));
        let len = usize::try_from(u32_at(at)).expect("len");
        out.push((u16_at(at + 4), u16_at(at + 6), u32_at(at + 8), len, at));
        at += align(len);
    }
    assert_eq!(at, bytes.len());
    out
}

#[test]
fn only_sets_with_a_schema_take_the_netlink_path() {
    let a = elements(&[("eni_src", &["\"e1\" . 10.0.0.5"])]);
    let d = elements(&[("members", &["1 . 10.0.0.5"])]);
    assert!(handles(&a, &d));
    assert!(handles(&Elements::new(), &Elements::new()));
    let other = elements(&[("some_set", &["1"])]);
    assert!(!handles(&a, &other));
    assert!(!handles(&other, &d));
}

#[test]
fn deletions_then_additions_between_begin_and_end() {
    let add = elements(&[
        ("eni_src", &["\"e2\" . 10.0.0.6"]),
        ("link_sgc", &["\"e2\" : 1"]),
    ]);
    let delete = elements(&[("eni_src", &["\"e1\" . 10.0.0.5", "\"e3\" . 10.0.0.7"])]);
    let b = Batch::build("ns", "cove", &add, &delete).expect("batch");
    let h = headers(b.buf.bytes());
    let types: Vec<u16> = h.iter().map(|m| m.0).collect();
    assert_eq!(types, vec![0x10, 0x0a0e, 0x0a0c, 0x0a0c, 0x11]);
    let seqs: Vec<u32> = h.iter().map(|m| m.2).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
    // Begin and end: request only. Delete: ack. Add: ack, create, exclusive.
    let flags: Vec<u16> = h.iter().map(|m| m.1).collect();
    assert_eq!(flags, vec![0x1, 0x5, 0x605, 0x605, 0x1]);
    // nfgenmsg: AF_UNSPEC + res_id NFTABLES for the batch, inet for the elements.
    let bytes = b.buf.bytes();
    assert_eq!(&bytes[16..20], &[0, 0, 0, 10]);
    assert_eq!(&bytes[h[1].4 + 16..h[1].4 + 20], &[1, 0, 0, 0]);
    assert_eq!(b.msgs.len(), 3);
    assert_eq!(
        (b.msgs[0].verb, b.msgs[0].set.as_str()),
        (Verb::Delete, "eni_src")
    );
    assert_eq!(b.msgs[0].elems.len(), 2);
    // Each recorded range is an NFTA_LIST_ELEM of its message.
    for (m, hdr) in b.msgs.iter().zip(&h[1..]) {
        for (r, _) in &m.elems {
            let at = hdr.4 + r.start;
            let len = usize::from(u16::from_ne_bytes(bytes[at..at + 2].try_into().expect("2")));
            assert_eq!(len, r.len());
            assert_eq!(
                u16::from_ne_bytes(bytes[at + 2..at + 4].try_into().expect("2")),
                0x8001
            );
        }
    }
    // The first attributes of an element message: table and set, NUL-terminated.
    let t = h[1].4 + NLMSG_HDRLEN + 4;
    assert_eq!(&bytes[t + 4..t + 9], b"cove\0");
    assert_eq!(&bytes[t + 12 + 4..t + 12 + 12], b"eni_src\0");
}

#[test]
fn nothing_to_do_is_no_message() {
    let b = Batch::build("ns", "cove", &Elements::new(), &Elements::new()).expect("batch");
    assert!(b.msgs.is_empty());
}

#[test]
fn a_long_set_continues_in_more_messages() {
    let texts: Vec<String> = (0..5000u32)
        .map(|i| format!("\"e{i}\" . 10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255))
        .collect();
    let add: Elements = [("eni_src".to_owned(), texts.iter().cloned().collect())].into();
    let b = Batch::build("ns", "cove", &add, &Elements::new()).expect("batch");
    assert!(b.msgs.len() >= 3, "{} messages", b.msgs.len());
    let total: usize = b.msgs.iter().map(|m| m.elems.len()).sum();
    assert_eq!(total, 5000);
    for (_, _, _, len, _) in headers(b.buf.bytes()) {
        assert!(len < 65_536);
    }
}

#[test]
fn malformed_elements_are_refused_before_sending() {
    let add = elements(&[("eni_src", &["\"e1\" . 10.0.0"])]);
    let e = Batch::build("ns", "cove", &add, &Elements::new()).expect_err("malformed");
    assert!(matches!(e, HostError::NftElementSyntax { ref set, .. } if set == "eni_src"));
    let add = elements(&[("no_schema", &["1"])]);
    assert!(Batch::build("ns", "cove", &add, &Elements::new()).is_err());
}

#[test]
fn a_refusal_names_the_element_the_kernel_points_at() {
    let add = elements(&[("members", &["1 . 10.0.0.1", "1 . 10.0.0.2", "1 . 10.0.0.3"])]);
    let b = Batch::build("ns", "cove", &add, &Elements::new()).expect("batch");
    let m = &b.msgs[0];
    let offset = u32::try_from(m.elems[1].0.start).expect("offset");
    let named = |ack| match b.refusal("ns", "cove", ack) {
        HostError::NftElement {
            set,
            verb,
            element,
            source,
            ..
        } => (set, verb, element, source.raw_os_error()),
        other => panic!("{other:?}"),
    };
    let (set, verb, element, errno) = named(wire::Ack {
        seq: m.seq,
        error: -17,
        offset: Some(offset),
    });
    assert_eq!(
        (set.as_str(), verb, element.as_str(), errno),
        ("members", "add", "1 . 10.0.0.2", Some(17))
    );
    let (_, _, element, _) = named(wire::Ack {
        seq: m.seq,
        error: -17,
        offset: None,
    });
    assert_eq!(element, "(one of 1 . 10.0.0.1, 1 . 10.0.0.2, 1 . 10.0.0.3)");
    // Not an element message: the batch as a whole.
    assert!(matches!(
        b.refusal(
            "ns",
            "cove",
            wire::Ack {
                seq: 1,
                error: -12,
                offset: None
            }
        ),
        HostError::NftNetlink {
            what: "commit the element batch",
            ..
        }
    ));
}
