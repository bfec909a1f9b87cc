//! Unit tests of the ruleset reading: set shapes and counts, the digest, table comments.

use super::*;

fn attr(ty: u16, v: &[u8]) -> Vec<u8> {
    let mut b = MsgBuf::default();
    b.attr(ty, v).expect("attr");
    b.bytes().to_vec()
}

fn chain(name: &str, handle: u8, policy: u8) -> (u8, Vec<u8>) {
    let mut p = attr(NFTA_CHAIN_TABLE, b"cove\0");
    p.extend(attr(2, &[0, 0, 0, 0, 0, 0, 0, handle]));
    p.extend(attr(NFTA_CHAIN_NAME, format!("{name}\0").as_bytes()));
    p.extend(attr(5, &[0, 0, 0, policy]));
    (NFPROTO_INET, p)
}

fn rule(chain: &str, handle: u8, exprs: &[(&str, &[u8])]) -> (u8, Vec<u8>) {
    let mut p = attr(NFTA_RULE_TABLE, b"cove\0");
    p.extend(attr(NFTA_RULE_CHAIN, format!("{chain}\0").as_bytes()));
    p.extend(attr(3, &[0, 0, 0, 0, 0, 0, 0, handle]));
    let mut list = Vec::new();
    for (name, data) in exprs {
        let mut e = attr(NFTA_EXPR_NAME, format!("{name}\0").as_bytes());
        e.extend(attr(2, data));
        list.extend(attr(1, &e));
    }
    p.extend(attr(NFTA_RULE_EXPRESSIONS, &list));
    (NFPROTO_INET, p)
}

/// The kernel's record of a set decides whether the description's schema
/// may decode it.
#[test]
fn a_set_is_decoded_only_when_the_kernel_declares_the_descriptions_shape() {
    use cove_plan::SetKind;
    let d = |flags, key_len, data_len| Declared {
        flags,
        key_len,
        data_len,
        count: None,
    };
    let schema = |k: SetKind| k.schema();
    assert!(d(0, 16, None).fits(&schema(SetKind::SrcLinks)));
    assert!(d(0x80, 24, None).fits(&schema(SetKind::LinkMac)));
    assert!(d(NFT_SET_MAP, 16, Some(4)).fits(&schema(SetKind::LinkSubnet)));
    assert!(d(NFT_SET_MAP | 0x80, 8, Some(2)).fits(&schema(SetKind::PeerZone)));
    assert!(d(NFT_SET_INTERVAL | 0x80, 16, None).fits(&schema(SetKind::SgL4)));
    assert!(d(NFT_SET_INTERVAL | 0x80, 8, None).fits(&schema(SetKind::SgAll)));
    assert!(d(0x80, 8, None).fits(&schema(SetKind::Members)));
    // Another key, another value, a set for a map, a missing interval flag.
    assert!(!d(0, 16, None).fits(&schema(SetKind::Members)));
    assert!(!d(NFT_SET_INTERVAL, 4, None).fits(&schema(SetKind::SgAll)));
    assert!(!d(NFT_SET_MAP, 16, Some(2)).fits(&schema(SetKind::LinkSubnet)));
    assert!(!d(0, 16, None).fits(&schema(SetKind::LinkSubnet)));
    assert!(!d(NFT_SET_MAP, 16, Some(4)).fits(&schema(SetKind::SrcLinks)));
    assert!(!d(0, 8, None).fits(&schema(SetKind::SgAll)));
}

/// Only a count of zero says a set is empty, and not for an interval set; a
/// kernel that does not count has every set read.
#[test]
fn a_set_is_empty_only_when_the_kernel_counts_zero_elements() {
    let set = |count: Option<u32>| {
        let mut p = attr(NFTA_SET_TABLE, b"cove\0");
        p.extend(attr(NFTA_SET_NAME, b"members\0"));
        if let Some(c) = count {
            p.extend(attr(NFTA_SET_COUNT, &c.to_be_bytes()));
        }
        p
    };
    let declared = |count| Declared::of(&attrs(&set(count)));
    assert!(declared(Some(0)).empty());
    assert!(!declared(Some(1)).empty());
    assert!(!declared(None).empty());
    // An interval set holding only 0.0.0.0/0 counts zero.
    let mut interval = declared(Some(0));
    interval.flags |= NFT_SET_INTERVAL;
    assert!(!interval.empty());
}

#[test]
fn the_digest_ignores_handles_and_counters_but_sees_rules_and_policies() {
    let chains = vec![chain("filter_forward", 1, 0), chain("nacl", 2, 1)];
    let rules = vec![
        rule(
            "filter_forward",
            3,
            &[("counter", &[0, 0, 0, 9]), ("immediate", &[1])],
        ),
        rule("nacl", 4, &[("cmp", &[5])]),
    ];
    let (d, recorded, _) = digest("cove", &chains, &rules, &[]);
    assert_eq!(recorded, None);

    // Other handles and counter values, and a recording chain: same digest.
    let mut chains2 = vec![chain("filter_forward", 7, 0), chain("nacl", 8, 1)];
    chains2.push(chain(&format!("{DIGEST_CHAIN}{d}"), 9, 1));
    let rules2 = vec![
        rule(
            "filter_forward",
            10,
            &[("counter", &[0, 0, 7, 7]), ("immediate", &[1])],
        ),
        rule("nacl", 11, &[("cmp", &[5])]),
    ];
    let (d2, recorded2, _) = digest("cove", &chains2, &rules2, &[]);
    assert_eq!(d2, d);
    assert_eq!(recorded2.as_deref(), Some(d.as_str()));

    // A flushed chain, an inserted rule, a changed policy, a deleted chain.
    let flushed = digest("cove", &chains, &rules[..1], &[]).0;
    let mut inserted = rules.clone();
    inserted.insert(0, rule("filter_forward", 12, &[("immediate", &[1])]));
    let inserted = digest("cove", &chains, &inserted, &[]).0;
    let policy = digest(
        "cove",
        &[chain("filter_forward", 1, 1), chain("nacl", 2, 1)],
        &rules,
        &[],
    )
    .0;
    let deleted = digest("cove", &chains[..1], &rules[..1], &[]).0;
    for other in [&flushed, &inserted, &policy, &deleted] {
        assert_ne!(other, &d);
    }
    // A set's element count changes with its elements, not its declaration.
    let set = |count: u8| {
        let mut p = attr(NFTA_SET_TABLE, b"cove\0");
        p.extend(attr(NFTA_SET_NAME, b"link_subnet\0"));
        p.extend(attr(3, &[0, 0, 0, 8]));
        p.extend(attr(20, &[0, 0, 0, count]));
        (NFPROTO_INET, p)
    };
    let (with_set, _, named) = digest("cove", &chains, &rules, &[set(9)]);
    assert!(named);
    assert_eq!(digest("cove", &chains, &rules, &[set(10)]).0, with_set);
    assert_ne!(with_set, d);
    // Another table's chains do not count.
    let mut foreign = chains.clone();
    let mut c = attr(NFTA_CHAIN_TABLE, b"other\0");
    c.extend(attr(NFTA_CHAIN_NAME, b"x\0"));
    foreign.push((NFPROTO_INET, c));
    assert_eq!(digest("cove", &foreign, &rules, &[]).0, d);
}

#[test]
fn table_comments_and_families() {
    let mut udata = vec![UDATA_TABLE_COMMENT, 8];
    udata.extend_from_slice(b"gen:abc\0");
    assert_eq!(table_comment(&udata).as_deref(), Some("gen:abc"));
    assert_eq!(table_comment(&[1, 2, 0, 0]), None);
    for f in [1, 2, 3, 5, 7, 10, 42] {
        assert_eq!(family_number(&family_name(f)), Some(f));
    }
}
