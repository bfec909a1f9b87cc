//! The description against the ruleset text it produces and against itself.

use std::collections::BTreeMap;

use super::*;
use crate::names::Names;

/// The router table of the shipped example.
fn example_router_table() -> crate::NftTable {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/secure-compute.yaml"
    ))
    .expect("example");
    let net = cove_model::validate::validate_text(&with_function(&text))
        .network
        .expect("valid");
    let state = crate::desired::desired(&net, "cove").expect("layout");
    let router = Names::new(&net, "cove").router_ns();
    state.namespaces[&router].nft.clone().expect("router table")
}

/// The example with a function in the platform VPC (so the environment sets and
/// rules are in the table).
pub(crate) fn with_function(example: &str) -> String {
    let anchor = "          - { name: fn-b, subnet: private-b, security_groups: [fn] }\n";
    assert!(example.contains(anchor));
    example.replace(
        anchor,
        &format!("{anchor}        functions:\n          - {{ name: api, runtime: python3.11, handler: app.handler, code: ./api, subnets: [private-a, private-b], security_groups: [fn], concurrency: 2 }}\n"),
    )
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
        for dir in ["in", "out"] {
            let name = kind.name(dir);
            assert_eq!(SetKind::of_name(&name), Some(kind), "{name}");
        }
        assert_eq!(
            kind.fixed_name().is_none(),
            SetKind::SG_RULE_SETS.contains(&kind),
            "{kind:?}"
        );
    }
    for name in [
        "sg_up_l4",
        "sg_in",
        "sg_in_l4x",
        "sg__l4",
        "sg_",
        "sg_inout_x",
        "sgc_0123abcd_in_l4",
        "members_",
        "members_0123abcd",
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
        let d = SetDecl::new(kind, "in").declaration();
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
        d(SetKind::SgL4, "out"),
        "set sg_out_l4 { type mark . ipv4_addr . inet_proto . inet_service; flags interval; }"
    );
    assert_eq!(
        d(SetKind::Members, ""),
        "set members { type mark . ipv4_addr; }"
    );
}

#[test]
fn security_group_rule_sets_are_keyed_by_the_combination() {
    use ElemType::*;
    for dir in ["in", "out"] {
        let x = set_schema(&format!("sg_{dir}_x")).expect("x schema");
        assert_eq!(x.key, vec![Mark, Ipv4, InetProto, InetService]);
        assert_eq!((x.data, x.interval), (None, false));
        let l4 = set_schema(&format!("sg_{dir}_l4")).expect("l4 schema");
        assert_eq!(
            l4.key,
            vec![Mark, Ipv4Interval, InetProto, InetServiceInterval]
        );
        assert_eq!((l4.data, l4.interval), (None, true));
        let all = set_schema(&format!("sg_{dir}_all")).expect("all schema");
        assert_eq!(all.key, vec![Mark, Ipv4Interval]);
        assert_eq!((all.data, all.interval), (None, true));
        // nft writes a mark in network order in a concatenated interval set only.
        assert!(x.field_host_order(Mark));
        assert!(!l4.field_host_order(Mark) && !all.field_host_order(Mark));
    }
    let members = set_schema("members").expect("schema");
    assert_eq!((members.key, members.interval), (vec![Mark, Ipv4], false));
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
    assert_eq!(len(SetKind::Members), (8, None));
    assert_eq!(len(SetKind::SgExact), (16, None));
    assert_eq!(len(SetKind::SgL4), (16, None));
    assert_eq!(len(SetKind::SgAll), (8, None));
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
