//! The description against the ruleset text it produces and against itself.

use std::collections::BTreeMap;

use super::*;
use crate::names::Names;

/// The router table of the shipped example.
fn example_router_table() -> crate::NftTable {
    let net = crate::example_network();
    let state = crate::desired::desired(&net, "cove").expect("layout");
    let router = Names::new(&net, "cove").router_ns();
    state.namespaces[&router].nft.clone().expect("router table")
}

/// Every `set NAME { … }` / `map NAME { … }` line of a ruleset text, by name
/// (the whole declaration, trimmed).
fn declared(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        let Some(rest) = line
            .strip_prefix("set ")
            .or_else(|| line.strip_prefix("map "))
        else {
            continue;
        };
        let name = rest.split_whitespace().next().expect("name");
        assert!(rest[name.len()..].trim_start().starts_with('{'), "{line}");
        let dup = out.insert(name.to_owned(), line.to_owned());
        assert!(dup.is_none(), "{name} declared twice");
    }
    out
}

/// The text and the description agree both ways: every set or map the router
/// table declares is one of the description's kinds, declared exactly as the
/// description writes it; every kind of the description is declared; and every
/// set the planner puts elements into is declared.
#[test]
fn the_router_tables_declarations_are_the_descriptions() {
    let t = example_router_table();
    let decls = declared(&t.text);
    assert!(decls.len() > SetKind::LINK_SETS.len(), "{decls:?}");
    let mut kinds = std::collections::BTreeSet::new();
    for (name, line) in &decls {
        let kind = SetKind::of_name(name)
            .unwrap_or_else(|| panic!("{name} is declared but not in the description"));
        let want = SetDecl {
            name: name.clone(),
            kind,
        };
        assert_eq!(line, &want.declaration(), "{name}");
        kinds.insert(kind);
    }
    for kind in SetKind::ALL {
        assert!(
            kinds.contains(&kind),
            "{kind:?} is in the description but the example declares none"
        );
    }
    for set in t.elements.keys() {
        assert!(decls.contains_key(set), "elements for undeclared {set}");
    }
}

/// The per-ENI elements the planner writes fit their set's schema (fields and
/// value).
#[test]
fn router_elements_fit_their_schemas() {
    let t = example_router_table();
    for (set, elems) in &t.elements {
        let schema = set_schema(set).unwrap_or_else(|| panic!("no schema for {set}"));
        for e in elems {
            let (key, data) = match e.split_once(" : ") {
                Some((k, d)) => (k, Some(d)),
                None => (e.as_str(), None),
            };
            assert_eq!(key.split(" . ").count(), schema.key.len(), "{set}: {e}");
            assert_eq!(data.is_some(), schema.data.is_some(), "{set}: {e}");
        }
    }
}

/// A name is read back as the kind that made it, and nothing else is.
#[test]
fn names_round_trip_through_their_kind() {
    for kind in SetKind::ALL {
        let scope = match kind {
            SetKind::Members => "0123abCD",
            SetKind::SgExact | SetKind::SgL4 | SetKind::SgAll => "sgc_0123abcd_in",
            _ => "",
        };
        let name = kind.name(scope);
        assert_eq!(SetKind::of_name(&name), Some(kind), "{name}");
        if kind.fixed_name().is_none() {
            let out = kind.name("sgc_0123abcd_out");
            let want = (kind != SetKind::Members).then_some(kind);
            assert_eq!(SetKind::of_name(&out), want, "{out}");
        }
    }
    for name in [
        "sgc_0123abc_in_l4",
        "sgc_0123abcg_in_l4",
        "sgc_0123abcd_up_l4",
        "sgc_0123abcd_in",
        "sgc_0123abcd_in_l4x",
        "sgc_0123abcd__l4",
        "sgc_",
        "members_",
        "members_0123abc",
        "members_0123abcd_in_x",
        "link_subnets",
        "other",
    ] {
        assert!(SetKind::of_name(name).is_none(), "{name}");
    }
}

/// Declarations by `type` name every part; `typeof` ones only where a part has
/// no type name; the interval flag goes with interval fields, and only those.
#[test]
fn every_kind_is_declarable() {
    for kind in SetKind::ALL {
        let schema = kind.schema();
        assert!(!schema.key.is_empty(), "{kind:?}");
        match kind.key_decl() {
            KeyDecl::Type { key, data } => {
                for t in key.iter().chain(&data) {
                    assert!(t.nft_type().is_some(), "{kind:?}: {t:?} has no type name");
                }
            }
            KeyDecl::Typeof { .. } => assert!(
                schema
                    .key
                    .iter()
                    .chain(&schema.data)
                    .any(|t| t.nft_type().is_none()),
                "{kind:?} could be declared by type"
            ),
        }
        let interval_field = schema
            .key
            .iter()
            .any(|t| matches!(t, ElemType::Ipv4Interval | ElemType::InetServiceInterval));
        assert_eq!(schema.interval, interval_field, "{kind:?}");
        let d = SetDecl::new(kind, "sgc_0123abcd_in").declaration();
        assert!(!d.contains('?'), "{d}");
    }
}

#[test]
fn declarations_as_nft_writes_them() {
    let d = |k, scope| SetDecl::new(k, scope).declaration();
    assert_eq!(
        d(SetKind::PeerZone, ""),
        "map peer_zone { typeof meta mark . ip daddr : ct zone; }"
    );
    assert_eq!(
        d(SetKind::PublicToPrivate, ""),
        "map public_to_private { type ifname . ipv4_addr : ipv4_addr; }"
    );
    assert_eq!(
        d(SetKind::SgL4, "sgc_0123abcd_out"),
        "set sgc_0123abcd_out_l4 { type ipv4_addr . inet_proto . inet_service; flags interval; }"
    );
    assert_eq!(
        d(SetKind::Members, "0123abcd"),
        "set members_0123abcd { type ipv4_addr; }"
    );
}

#[test]
fn security_group_rule_sets_are_interval_sets() {
    use ElemType::*;
    for dir in ["in", "out"] {
        let l4 = set_schema(&format!("sgc_0123abcd_{dir}_l4")).expect("l4 schema");
        assert_eq!(l4.key, vec![Ipv4Interval, InetProto, InetServiceInterval]);
        assert_eq!((l4.data, l4.interval), (None, true));
        let all = set_schema(&format!("sgc_0123ABcd_{dir}_all")).expect("all schema");
        assert_eq!(all.key, vec![Ipv4Interval]);
        assert_eq!((all.data, all.interval), (None, true));
    }
    assert!(!set_schema("members_0123abcd").expect("schema").interval);
}

#[test]
fn key_and_value_lengths_as_the_kernel_records_them() {
    let len = |k: SetKind| {
        let s = k.schema();
        (s.key_len(), s.data_len())
    };
    assert_eq!(len(SetKind::SrcLinks), (16, None));
    assert_eq!(len(SetKind::LinkMac), (24, None));
    assert_eq!(len(SetKind::LinkSubnet), (16, Some(4)));
    assert_eq!(len(SetKind::LinkZone), (16, Some(2)));
    assert_eq!(len(SetKind::PeerZone), (8, Some(2)));
    assert_eq!(len(SetKind::PublicToPrivate), (20, Some(4)));
    assert_eq!(len(SetKind::Members), (4, None));
    assert_eq!(len(SetKind::SgExact), (12, None));
    assert_eq!(len(SetKind::SgL4), (12, None));
    assert_eq!(len(SetKind::SgAll), (4, None));
}

/// Rules name only declared sets (`@name`), and every declared set is used by a
/// rule.
#[test]
fn rules_reference_exactly_the_declared_sets() {
    let t = example_router_table();
    let decls = declared(&t.text);
    let mut used = std::collections::BTreeSet::new();
    for line in t.text.lines() {
        for part in line.split('@').skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(decls.contains_key(&name), "{line}: @{name} is not declared");
            used.insert(name);
        }
    }
    for name in decls.keys() {
        assert!(
            used.contains(name),
            "{name} is declared but no rule uses it"
        );
    }
}
