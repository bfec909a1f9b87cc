//! Privileged tests of cove-plan's typed set description against the kernel: every
//! described kind of set round-trips over netlink, and a set declared otherwise is
//! not decoded with the description's schema. Namespaces are named `hx<pid><tag>-…`.

mod common;

use cove_plan::nftsets::{SetDecl, SetKind};
use cove_plan::{ElemType, Op, Plan};

use common::nft::{Elements, apply, elements_op, fresh_host, observed, table_of};
use common::{Guard, privileged};

/// A guard for a fresh host with prefix `hx<pid><tag>`.
fn hx_guard(tag: char) -> Guard {
    fresh_host("hx", tag)
}

/// One set of every kind in cove-plan's description, and elements for it in the
/// planner's syntax. The match is exhaustive: a new kind needs elements here.
fn every_kind() -> Vec<(SetDecl, Vec<&'static str>)> {
    SetKind::ALL
        .iter()
        .map(|&kind| {
            let (scope, elems): (&str, &[&str]) = match kind {
                SetKind::SrcLinks | SetKind::MacLinks => ("", &["\"e1a2b3c4d\"", "\"e2\""]),
                SetKind::IgwLinks => ("", &["\"i1a2b3c4d\""]),
                SetKind::GweLinks => ("", &["\"w1a2b3c4d\""]),
                SetKind::EniSrc => ("", &["\"e1a2b3c4d\" . 10.20.1.5"]),
                SetKind::IgwSources => ("", &["\"i1\" . 10.20.1.5", "\"i1\" . 10.20.1.6"]),
                SetKind::LinkMac => ("", &["\"e1\" . 02:aa:bb:cc:dd:01"]),
                SetKind::LinkSubnet => ("", &["\"e1\" : 3", "\"e2\" : 4000000"]),
                SetKind::LinkTable => ("", &["\"e1\" : 2097153"]),
                SetKind::LinkSubnetPair => ("", &["\"e1\" . 7"]),
                SetKind::LinkSgc => ("", &["\"e1\" : 1"]),
                SetKind::LinkZone => ("", &["\"e1\" : 300", "\"i1\" : 65535"]),
                SetKind::PeerZone => ("", &["1048578 . 10.30.1.10 : 7"]),
                SetKind::PublicToPrivate => ("", &["\"i1\" . 203.0.113.10 : 10.20.1.5"]),
                SetKind::PrivateToPublic => ("", &["\"i1\" . 10.20.1.5 : 203.0.113.10"]),
                SetKind::Members => ("", &["1 . 192.168.1.254", "258 . 10.0.0.1"]),
                SetKind::DnsResolvers => {
                    ("", &["1048577 . 10.20.0.2", "1048577 . 169.254.169.253"])
                }
                SetKind::EnvLinks => ("", &["\"v1a2b3c4d\"", "\"v2\""]),
                SetKind::EnvShared => ("", &["\"v1a2b3c4d\" : 10.20.1.6", "\"v2\" : 10.20.2.6"]),
                SetKind::EnvAddr => ("", &["\"v1a2b3c4d\" : 169.254.93.202"]),
                SetKind::SgExact => (
                    "in",
                    &["1 . 10.0.0.5 . tcp . 5432", "258 . 10.0.0.5 . tcp . 5432"],
                ),
                SetKind::SgL4 => (
                    "in",
                    &[
                        "1 . 10.0.0.0/16 . tcp . 1000-2000",
                        "1 . 10.1.0.0-10.1.0.9 . udp . 53",
                        "258 . 0.0.0.0/0 . tcp . 443",
                    ],
                ),
                SetKind::SgAll => (
                    "in",
                    &[
                        "1 . 10.0.0.0/16",
                        "258 . 10.1.0.0-10.1.0.9",
                        "3 . 200.0.0.0-255.255.255.255",
                    ],
                ),
            };
            (SetDecl::new(kind, scope), elems.to_vec())
        })
        .collect()
}

/// An element as `nft` prints it: like the planner, but marks in hex.
fn as_nft_prints(kind: SetKind, element: &str) -> String {
    let schema = kind.schema();
    let (key, data) = match element.split_once(" : ") {
        Some((k, d)) => (k, Some(d)),
        None => (element, None),
    };
    let spell = |ty: ElemType, v: &str| match ty {
        ElemType::Mark => format!("{:#010x}", v.parse::<u32>().expect("mark")),
        _ => v.to_owned(),
    };
    let fields: Vec<String> = schema
        .key
        .iter()
        .zip(key.split(" . "))
        .map(|(t, v)| spell(*t, v))
        .collect();
    let mut out = fields.join(" . ");
    if let (Some(t), Some(d)) = (schema.data, data) {
        out = format!("{out} : {}", spell(t, d));
    }
    out
}

/// Every kind of set in the description, declared from it, written over netlink
/// (encoded with its schema), reads back the same over netlink (decoded with it)
/// and, for `nft` (which reads the kernel with the declared types), is the
/// element written.
#[test]
fn every_described_set_round_trips_through_the_kernel() {
    const TEST: &str = "every_described_set_round_trips_through_the_kernel";
    if !privileged(TEST) {
        return;
    }
    let g = hx_guard('k');
    let ns = format!("{}-r", g.0.prefix());
    let sets = every_kind();
    let decls: Vec<SetDecl> = sets.iter().map(|(d, _)| d.clone()).collect();
    apply(
        &g.0,
        &Plan {
            ops: vec![
                Op::CreateNamespace { ns: ns.clone() },
                Op::ReplaceNft {
                    ns: ns.clone(),
                    table: table_of(&decls, Elements::new()),
                    why: cove_plan::NftWhy::Missing,
                },
            ],
        },
    );
    let want: Elements = sets
        .iter()
        .map(|(d, es)| (d.name.clone(), es.iter().map(|e| (*e).to_owned()).collect()))
        .collect();
    apply(&g.0, &elements_op(&ns, want.clone(), Elements::new()));
    assert_eq!(observed(&g.0, &ns), want, "read back over netlink");
    for (decl, elems) in &sets {
        for e in elems {
            let key = e.split_once(" : ").map_or(*e, |(k, _)| k);
            let schema = decl.kind.schema();
            let point = !key.contains(['/', '-']);
            let key = if schema.interval && schema.key.len() > 1 && point {
                // A mark in a concatenated interval set is held in network order,
                // but `nft get element` (nftables 1.0.6) sends it in host order
                // when every field of the key is one value (and converts it when
                // one is a range or prefix).
                schema
                    .key
                    .iter()
                    .zip(key.split(" . "))
                    .map(|(t, v)| match t {
                        ElemType::Mark => {
                            let m: u32 = v.parse().expect("mark");
                            format!("{:#010x}", u32::from_ne_bytes(m.to_be_bytes()))
                        }
                        _ => v.to_owned(),
                    })
                    .collect::<Vec<_>>()
                    .join(" . ")
            } else {
                key.to_owned()
            };
            let out = std::process::Command::new("ip")
                .args([
                    "netns", "exec", &ns, "nft", "get", "element", "inet", "cove",
                ])
                .arg(&decl.name)
                .arg(format!("{{ {key} }}"))
                .output()
                .expect("run nft");
            let text = String::from_utf8_lossy(&out.stdout);
            let printed = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("elements = { "))
                .and_then(|l| l.strip_suffix(" }"));
            assert_eq!(
                printed,
                Some(as_nft_prints(decl.kind, e).as_str()),
                "{}: {e}: {text}{}",
                decl.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    apply(&g.0, &elements_op(&ns, Elements::new(), want));
    assert_eq!(observed(&g.0, &ns), Elements::new());
}

/// A set with one of cove's names but declared with other types is not decoded
/// with the description's schema (its elements are read through `nft` instead).
#[test]
fn a_set_declared_unlike_the_description_is_not_decoded_with_its_schema() {
    const TEST: &str = "a_set_declared_unlike_the_description_is_not_decoded_with_its_schema";
    if !privileged(TEST) {
        return;
    }
    let g = hx_guard('m');
    let ns = format!("{}-r", g.0.prefix());
    let mut table = table_of(&[SetDecl::new(SetKind::SrcLinks, "")], Elements::new());
    table.text = table.text.replace(
        "\tset src_links",
        "\tset members { type ifname; }\n\tset src_links",
    );
    table.elements = [("members".to_owned(), ["\"e1\"".to_owned()].into())].into();
    apply(
        &g.0,
        &Plan {
            ops: vec![
                Op::CreateNamespace { ns: ns.clone() },
                Op::ReplaceNft {
                    ns: ns.clone(),
                    table: table.clone(),
                    why: cove_plan::NftWhy::Missing,
                },
            ],
        },
    );
    assert_eq!(observed(&g.0, &ns), table.elements);
}

/// A whole table loaded by `nft -f` with thousands of elements in the
/// combination-keyed interval sets reads back as written: `nft` 1.0.6 stored the
/// first element of each continuation message of one `add element` statement with
/// its mark byte-swapped, so the planner writes at most
/// `cove_plan::state::ELEMENTS_PER_STATEMENT` elements per statement.
#[test]
fn a_large_table_load_keeps_every_mark_in_network_order() {
    const TEST: &str = "a_large_table_load_keeps_every_mark_in_network_order";
    if !privileged(TEST) {
        return;
    }
    let g = fresh_host("cvhp", 'l');
    let ns = format!("{}-r", g.0.prefix());
    let decls: Vec<SetDecl> = SetKind::SG_RULE_SETS
        .iter()
        .map(|k| SetDecl::new(*k, "in"))
        .collect();
    let mut want = Elements::new();
    for k in 1..=3000u32 {
        let net = format!("10.{}.{}.0/24", k / 250, k % 250);
        for (set, e) in [
            (
                "sg_in_x",
                format!("{k} . 10.{}.{}.1 . tcp . 22", k / 250, k % 250),
            ),
            ("sg_in_l4", format!("{k} . {net} . tcp . 22")),
            ("sg_in_all", format!("{k} . {net}")),
        ] {
            want.entry(set.to_owned()).or_default().insert(e);
        }
    }
    apply(
        &g.0,
        &Plan {
            ops: vec![
                Op::CreateNamespace { ns: ns.clone() },
                Op::ReplaceNft {
                    ns: ns.clone(),
                    table: table_of(&decls, want.clone()),
                    why: cove_plan::NftWhy::Missing,
                },
            ],
        },
    );
    assert_eq!(observed(&g.0, &ns), want);
}
