//! Privileged tests of the netlink element path (`Op::NftElements` for the router's
//! per-ENI sets and maps) against the real kernel, in namespaces named
//! `tn<pid><tag>-…`. As root they run; otherwise they are skipped, except under
//! `CI=true` where not being root fails them.

mod common;

use std::process::Command;

use cove_host::{Host, HostError};
use cove_plan::nftsets::{SetDecl, SetKind};
use cove_plan::{NftTable, Op, Plan, VethEnd, VethPair};

use common::nft::{Elements, apply, elements_op, fresh_host, observed, table_of};
use common::{Guard, chain, eventually, ok, privileged};

/// A guard for a fresh host with prefix `tn<pid><tag>`.
fn guard(tag: char) -> Guard {
    fresh_host("tn", tag)
}

/// The router's per-ENI sets and maps (every one of the description's
/// [`SetKind::LINK_SETS`]) and one member set.
fn router_table() -> NftTable {
    let mut decls: Vec<SetDecl> = SetKind::LINK_SETS
        .iter()
        .map(|k| SetDecl::new(*k, ""))
        .collect();
    decls.push(SetDecl::new(SetKind::Members, ""));
    table_of(&decls, Elements::new())
}

/// Every element one ENI puts in the router's sets and maps (`link`: its router
/// link, `n`: 1–250, which picks its addresses).
fn eni(link: &str, n: u32, subnet: u32) -> Elements {
    let l = format!("\"{link}\"");
    let ip = format!("10.20.{subnet}.{n}");
    let public = format!("203.0.113.{n}");
    let sets: [(&str, String); 13] = [
        ("src_links", l.clone()),
        ("eni_src", format!("{l} . {ip}")),
        ("mac_links", l.clone()),
        (
            "link_mac",
            format!("{l} . 02:aa:bb:cc:{subnet:02x}:{n:02x}"),
        ),
        ("link_subnet", format!("{l} : {}", subnet + 1)),
        ("link_subnet_pair", format!("{l} . {}", subnet + 1)),
        ("igw_sources", format!("\"i0\" . {ip}")),
        ("public_to_private", format!("\"i0\" . {public} : {ip}")),
        ("private_to_public", format!("\"i0\" . {ip} : {public}")),
        ("members", format!("1 . {ip}")),
        ("link_sgc", format!("{l} : {}", subnet + 7)),
        ("link_zone", format!("{l} : {}", subnet + 100)),
        (
            "peer_zone",
            format!("{} . {ip} : 300", 0x0010_0001 + subnet),
        ),
    ];
    let mut out = Elements::new();
    for (set, e) in sets {
        out.entry(set.to_owned()).or_default().insert(e);
    }
    out
}

fn union(a: &Elements, b: &Elements) -> Elements {
    let mut out = a.clone();
    for (set, es) in b {
        out.entry(set.clone())
            .or_default()
            .extend(es.iter().cloned());
    }
    out
}

fn minus(a: &Elements, b: &Elements) -> Elements {
    let mut out = a.clone();
    for (set, es) in b {
        if let Some(v) = out.get_mut(set) {
            v.retain(|e| !es.contains(e));
        }
    }
    out.retain(|_, v| !v.is_empty());
    out
}

/// Creates namespace `<prefix>-r` with the router table; returns its name.
fn router(host: &Host) -> String {
    let ns = format!("{}-r", host.prefix());
    let plan = Plan {
        ops: vec![
            Op::CreateNamespace { ns: ns.clone() },
            Op::ReplaceNft {
                ns: ns.clone(),
                table: router_table(),
                why: cove_plan::NftWhy::Missing,
            },
        ],
    };
    host.apply(&plan)
        .unwrap_or_else(|e| panic!("create the router: {}", chain(&e)));
    ns
}

#[test]
fn elements_added_and_deleted_over_netlink_are_observed_as_written() {
    if !privileged("elements_added_and_deleted_over_netlink_are_observed_as_written") {
        return;
    }
    let g = guard('a');
    let ns = router(&g.0);
    assert_eq!(observed(&g.0, &ns), Elements::new());

    let (e1, e2, e3) = (
        eni("e1a2b3c4d", 5, 0),
        eni("e5f6a7b8c", 6, 0),
        eni("e0f1e2d3c", 7, 1),
    );
    let all = union(&union(&e1, &e2), &e3);
    apply(&g.0, &elements_op(&ns, all.clone(), Elements::new()));
    assert_eq!(observed(&g.0, &ns), all, "observed after adding");

    // Detach e2; move e1 to subnet 1 (map values replaced: delete, then add).
    let e1_moved = eni("e1a2b3c4d", 5, 1);
    let delete = union(&e2, &minus(&e1, &e1_moved));
    let add = minus(&e1_moved, &e1);
    assert!(add.contains_key("link_subnet") && add.contains_key("link_sgc"));
    apply(&g.0, &elements_op(&ns, add, delete));
    let want = union(&e1_moved, &e3);
    assert_eq!(observed(&g.0, &ns), want, "observed after deleting");

    // Everything out.
    apply(&g.0, &elements_op(&ns, Elements::new(), want));
    assert_eq!(observed(&g.0, &ns), Elements::new());
}

/// A veth from `router` (`r0`) to a fresh namespace `<prefix>-e` (`eth0`).
fn link_to_eni(host: &Host, router: &str) -> String {
    let eni = format!("{}-e", host.prefix());
    let end = |ns: &str, name: &str| VethEnd {
        ns: ns.to_owned(),
        name: name.to_owned(),
        mac: None,
    };
    apply(
        host,
        &Plan {
            ops: vec![
                Op::CreateNamespace { ns: eni.clone() },
                Op::CreateVeth {
                    pair: VethPair {
                        a: end(router, "r0"),
                        b: end(&eni, "eth0"),
                    },
                },
            ],
        },
    );
    eni
}

/// Whether the router's namespace is gone from the kernel (not only from
/// `/run/netns`): the ENI's end of their veth disappears with it.
fn router_released(host: &Host, eni: &str) -> bool {
    eventually(10, || !ok(host, eni, &["ip", "link", "show", "eth0"]))
}

/// The host keeps one nf_tables socket per namespace; the socket must follow the
/// namespace the name stands for, and must not keep a deleted one alive.
#[test]
fn the_kept_socket_follows_a_replaced_namespace_and_releases_a_deleted_one() {
    if !privileged("the_kept_socket_follows_a_replaced_namespace_and_releases_a_deleted_one") {
        return;
    }
    let g = guard('f');
    let ns = router(&g.0);
    let (e1, e2) = (eni("e1a2b3c4d", 5, 0), eni("e5f6a7b8c", 6, 0));
    let mut leaf = link_to_eni(&g.0, &ns);
    apply(&g.0, &elements_op(&ns, e1.clone(), Elements::new()));

    // Another host (another process, say) deletes the router and creates a new one
    // under the same name: the next batch goes to the new namespace.
    let other = Host::new(g.0.prefix()).expect("prefix");
    apply(
        &other,
        &Plan {
            ops: vec![Op::DeleteNamespace { ns: ns.clone() }],
        },
    );
    router(&other);
    apply(&g.0, &elements_op(&ns, e2.clone(), Elements::new()));
    assert_eq!(observed(&g.0, &ns), e2, "the batch reached the new router");
    // ... and the socket of the old one was closed, so the old one is gone.
    assert!(
        router_released(&g.0, &leaf),
        "the old router is still alive"
    );

    // Deleted by this host: its socket is closed first.
    apply(
        &g.0,
        &Plan {
            ops: vec![Op::DeleteNamespace { ns: leaf.clone() }],
        },
    );
    leaf = link_to_eni(&g.0, &ns);
    apply(&g.0, &elements_op(&ns, e1.clone(), Elements::new()));
    apply(
        &g.0,
        &Plan {
            ops: vec![Op::DeleteNamespace { ns: ns.clone() }],
        },
    );
    assert!(
        router_released(&g.0, &leaf),
        "a deleted router is still alive"
    );

    // Deleted behind this host's back: observing closes its socket.
    router(&g.0);
    apply(
        &g.0,
        &Plan {
            ops: vec![Op::DeleteNamespace { ns: leaf.clone() }],
        },
    );
    leaf = link_to_eni(&g.0, &ns);
    apply(&g.0, &elements_op(&ns, e1, Elements::new()));
    apply(
        &other,
        &Plan {
            ops: vec![Op::DeleteNamespace { ns: ns.clone() }],
        },
    );
    g.0.observe()
        .unwrap_or_else(|e| panic!("observe failed: {}", chain(&e)));
    assert!(
        router_released(&g.0, &leaf),
        "a router deleted elsewhere is kept alive after observe"
    );
}

/// Set by the parent of [`an_attach_batch_runs_no_process`] in the environment of
/// the copy of this test binary it starts: the namespace to apply in.
const CHILD_NS: &str = "COVE_NFTNL_CHILD_NS";

#[test]
fn an_attach_batch_runs_no_process() {
    if let Ok(ns) = std::env::var(CHILD_NS) {
        // The child: PATH is an empty directory, so no `nft` can be started.
        let host = Host::new(ns.split('-').next().expect("prefix")).expect("prefix");
        apply(
            &host,
            &elements_op(&ns, eni("e1a2b3c4d", 5, 0), Elements::new()),
        );
        // The check itself works: the `nft` path fails here.
        let refused = host.apply(&Plan {
            ops: vec![Op::DeleteNft {
                ns: ns.clone(),
                name: "other".to_owned(),
            }],
        });
        let e = refused.expect_err("nft cannot run without PATH");
        assert!(chain(&e).contains("could not run `nft`"), "{}", chain(&e));
        return;
    }
    if !privileged("an_attach_batch_runs_no_process") {
        return;
    }
    let g = guard('b');
    let ns = router(&g.0);
    let empty = std::env::temp_dir().join(format!("cove-empty-path-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("empty dir");
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args(["an_attach_batch_runs_no_process", "--exact", "--nocapture"])
        .env(CHILD_NS, &ns)
        .env("PATH", &empty)
        .output()
        .expect("run the child");
    let _ = std::fs::remove_dir(&empty);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "child failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(observed(&g.0, &ns), eni("e1a2b3c4d", 5, 0));
}

/// The refusal inside the `Step` error of a failed apply.
fn refusal(e: HostError) -> HostError {
    match e {
        HostError::Step { source, .. } => *source,
        other => panic!("not a step error: {}", chain(&other)),
    }
}

#[test]
fn a_batch_with_one_bad_element_changes_nothing_and_names_it() {
    if !privileged("a_batch_with_one_bad_element_changes_nothing_and_names_it") {
        return;
    }
    let g = guard('c');
    let ns = router(&g.0);
    let e1 = eni("e1a2b3c4d", 5, 0);
    apply(&g.0, &elements_op(&ns, e1.clone(), Elements::new()));

    // Attach e2, but one of e1's elements is added again.
    let mut add = eni("e5f6a7b8c", 6, 0);
    let dup = "\"e1a2b3c4d\" . 10.20.0.5".to_owned();
    add.get_mut("eni_src").expect("eni_src").insert(dup.clone());
    let e = refusal(
        g.0.apply(&elements_op(&ns, add, Elements::new()))
            .expect_err("duplicate"),
    );
    let text = chain(&e);
    eprintln!("refused as expected: {text}");
    match &e {
        HostError::NftElement {
            set,
            verb,
            element,
            source,
            ..
        } => {
            assert_eq!(
                (set.as_str(), *verb, element.as_str()),
                ("eni_src", "add", dup.as_str()),
                "{text}"
            );
            assert_eq!(source.raw_os_error(), Some(17), "{text}");
        }
        _ => panic!("unexpected error: {text}"),
    }
    assert!(
        text.contains("rolled back") && text.contains("exists"),
        "{text}"
    );
    assert_eq!(observed(&g.0, &ns), e1, "a failed batch changed the sets");

    // Detach e1, but delete an element that is not there.
    let mut delete = e1.clone();
    let missing = "\"i0\" . 203.0.113.99 : 10.20.0.99".to_owned();
    delete
        .get_mut("public_to_private")
        .expect("map")
        .insert(missing.clone());
    let e = refusal(
        g.0.apply(&elements_op(&ns, Elements::new(), delete))
            .expect_err("missing"),
    );
    let text = chain(&e);
    eprintln!("refused as expected: {text}");
    match &e {
        HostError::NftElement {
            set,
            verb,
            element,
            source,
            ..
        } => {
            assert_eq!(
                (set.as_str(), *verb, element.as_str()),
                ("public_to_private", "delete", missing.as_str()),
                "{text}"
            );
            assert_eq!(source.raw_os_error(), Some(2), "{text}");
        }
        _ => panic!("unexpected error: {text}"),
    }
    assert_eq!(observed(&g.0, &ns), e1, "a failed batch changed the sets");

    // A malformed element is refused before anything is sent.
    let bad: Elements = [("eni_src".to_owned(), ["\"e9\" . 10.0.0".to_owned()].into())].into();
    let e = refusal(
        g.0.apply(&elements_op(&ns, bad, Elements::new()))
            .expect_err("malformed"),
    );
    assert!(
        matches!(e, HostError::NftElementSyntax { .. }),
        "{}",
        chain(&e)
    );
    assert_eq!(observed(&g.0, &ns), e1);
}

#[test]
fn sets_without_a_schema_still_go_through_nft() {
    if !privileged("sets_without_a_schema_still_go_through_nft") {
        return;
    }
    let g = guard('d');
    let ns = format!("{}-r", g.0.prefix());
    let mut table = router_table();
    table.text = table.text.replace(
        "\tset igw_sources",
        "\tset other { type ipv4_addr; }\n\tset igw_sources",
    );
    apply(
        &g.0,
        &Plan {
            ops: vec![
                Op::CreateNamespace { ns: ns.clone() },
                Op::ReplaceNft {
                    ns: ns.clone(),
                    table,
                    why: cove_plan::NftWhy::Missing,
                },
            ],
        },
    );
    let add: Elements = [
        ("other".to_owned(), ["10.1.2.3".to_owned()].into()),
        ("members".to_owned(), ["1 . 10.1.2.4".to_owned()].into()),
    ]
    .into();
    apply(&g.0, &elements_op(&ns, add.clone(), Elements::new()));
    assert_eq!(observed(&g.0, &ns), add);
}

/// A table with the security groups' rule sets of both directions (as
/// `cove_plan::nft::router_table` declares them), with `elements` written by `nft`.
fn sg_table(elements: Elements) -> NftTable {
    let decls: Vec<SetDecl> = ["in", "out"]
        .iter()
        .flat_map(|dir| SetKind::SG_RULE_SETS.map(|k| SetDecl::new(k, dir)))
        .collect();
    table_of(&decls, elements)
}

/// The security-group combination number the elements of these tests carry.
const SG_COMBO: u32 = 258;

/// A mark as `nft get element` (nftables 1.0.6) must be given it to find it in a
/// concatenated interval set: such a set holds marks in network order (`nft`
/// writes them so, and its rules convert the packet's mark), but `get` sends the
/// number in host order when every field of the key is one value (the probes').
fn nft_get_mark(mark: u32) -> String {
    format!("{:#010x}", u32::from_ne_bytes(mark.to_be_bytes()))
}

/// Elements of `sg_<set>`, each keyed by [`SG_COMBO`].
fn sg_elements(sets: &[(&str, &[&str])]) -> Elements {
    sets.iter()
        .map(|(set, es)| {
            (
                format!("sg_{set}"),
                es.iter().map(|e| format!("{SG_COMBO} . {e}")).collect(),
            )
        })
        .collect()
}

/// The steps of [`security_group_interval_sets_round_trip_over_netlink`]: what is
/// written by `nft` with the table, then `(add, delete)` per step, each applied by a
/// child with no `nft` to run. Elements are written the way `nft` prints them
/// (`cove_plan::sgsets`), without overlaps.
fn sg_initial() -> Elements {
    sg_elements(&[
        ("in_l4", &["10.9.0.0/16 . tcp . 22"]),
        ("in_all", &["192.168.0.0/16", "10.0.0.5"]),
    ])
}

fn sg_step(step: u32) -> (Elements, Elements) {
    match step {
        // Add a mix; delete an element `nft` wrote.
        1 => (
            sg_elements(&[
                (
                    "in_l4",
                    &[
                        "10.0.0.0/16 . tcp . 5432",
                        "10.0.0.0-10.0.0.9 . udp . 1000-2000",
                        "10.2.0.5 . tcp . 0-65535",
                        "0.0.0.0/0 . udp . 53",
                        "10.3.0.0/24 . tcp . 80-81",
                        "255.255.255.255 . tcp . 65535",
                    ],
                ),
                ("out_l4", &["172.16.0.0-172.16.0.9 . tcp . 443"]),
                (
                    "in_all",
                    &[
                        "172.16.0.0-172.16.0.9",
                        "200.0.0.0-255.255.255.255",
                        "10.0.0.7",
                    ],
                ),
                ("out_all", &["0.0.0.0/0"]),
            ]),
            sg_elements(&[("in_all", &["10.0.0.5"])]),
        ),
        // Change rules: replace elements in one batch, including open-ended ones
        // and one written by `nft`; add one that starts at 0.0.0.0.
        2 => (
            sg_elements(&[
                ("in_l4", &["10.0.0.0/15 . tcp . 5432"]),
                ("in_all", &["0.0.0.0/8", "192.168.0.0-192.168.0.200"]),
                ("out_all", &["10.0.0.0/8"]),
            ]),
            sg_elements(&[
                (
                    "in_l4",
                    &["10.0.0.0/16 . tcp . 5432", "10.9.0.0/16 . tcp . 22"],
                ),
                ("in_all", &["200.0.0.0-255.255.255.255", "192.168.0.0/16"]),
                ("out_all", &["0.0.0.0/0"]),
            ]),
        ),
        _ => panic!("no step {step}"),
    }
}

/// Lookups after a step of [`sg_step`]: set, key, whether it matches.
fn sg_probes(step: u32) -> Vec<(&'static str, &'static str, bool)> {
    match step {
        1 => vec![
            ("in_all", "10.0.0.5", false),
            ("in_all", "10.0.0.6", false),
            ("in_all", "10.0.0.7", true),
            ("in_all", "10.0.0.8", false),
            ("in_all", "172.16.0.9", true),
            ("in_all", "172.16.0.10", false),
            ("in_all", "192.168.255.255", true),
            ("in_all", "192.169.0.0", false),
            ("in_all", "199.255.255.255", false),
            ("in_all", "255.255.255.255", true),
            ("out_all", "1.2.3.4", true),
            ("in_l4", "10.0.0.9 . udp . 2000", true),
            ("in_l4", "10.0.0.10 . udp . 2000", false),
            ("in_l4", "10.0.0.9 . udp . 2001", false),
            ("in_l4", "10.0.255.255 . tcp . 5432", true),
            ("in_l4", "10.1.0.0 . tcp . 5432", false),
            ("in_l4", "9.9.9.9 . udp . 53", true),
            ("in_l4", "9.9.9.9 . tcp . 53", false),
            ("in_l4", "255.255.255.255 . tcp . 65535", true),
            ("out_l4", "172.16.0.9 . tcp . 443", true),
        ],
        2 => vec![
            ("in_all", "0.255.255.255", true),
            ("in_all", "1.0.0.0", false),
            ("in_all", "192.168.0.200", true),
            ("in_all", "192.168.0.201", false),
            ("in_all", "200.0.0.1", false),
            ("in_l4", "10.1.255.255 . tcp . 5432", true),
            ("in_l4", "10.9.0.1 . tcp . 22", false),
            ("out_all", "10.255.255.255", true),
            ("out_all", "11.0.0.0", false),
            ("out_all", "1.2.3.4", false),
        ],
        _ => Vec::new(),
    }
}

/// Set by the parent of [`security_group_interval_sets_round_trip_over_netlink`]
/// for the copies of this test binary it starts: `<namespace>:<step>`.
const SG_CHILD: &str = "COVE_NFTNL_SG_CHILD";

#[test]
fn security_group_interval_sets_round_trip_over_netlink() {
    const TEST: &str = "security_group_interval_sets_round_trip_over_netlink";
    if let Ok(arg) = std::env::var(SG_CHILD) {
        // The child: PATH is an empty directory, so no `nft` can be started.
        let (ns, step) = arg.rsplit_once(':').expect("ns:step");
        let host = Host::new(ns.split('-').next().expect("prefix")).expect("prefix");
        let (add, delete) = sg_step(step.parse().expect("step"));
        apply(&host, &elements_op(ns, add, delete));
        return;
    }
    if !privileged(TEST) {
        return;
    }
    let g = guard('e');
    let ns = format!("{}-r", g.0.prefix());
    apply(
        &g.0,
        &Plan {
            ops: vec![
                Op::CreateNamespace { ns: ns.clone() },
                Op::ReplaceNft {
                    ns: ns.clone(),
                    table: sg_table(sg_initial()),
                    why: cove_plan::NftWhy::Missing,
                },
            ],
        },
    );
    let mut want = sg_initial();
    assert_eq!(observed(&g.0, &ns), want, "observed as written by nft");

    let empty = std::env::temp_dir().join(format!("cove-empty-path-sg-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("empty dir");
    let child = |step: &str| {
        let out = Command::new(std::env::current_exe().expect("test binary"))
            .args([TEST, "--exact", "--nocapture"])
            .env(SG_CHILD, format!("{ns}:{step}"))
            .env("PATH", &empty)
            .output()
            .expect("run the child");
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "step {step} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    for step in [1, 2] {
        child(&step.to_string());
        let (add, delete) = sg_step(step);
        want = union(&minus(&want, &delete), &add);
        assert_eq!(observed(&g.0, &ns), want, "observed after step {step}");
        // And the kernel matches what it lists (lookups with `nft get element`).
        for (set, key, hit) in sg_probes(step) {
            let set = format!("sg_{set}");
            let k = format!("{{ {} . {key} }}", nft_get_mark(SG_COMBO));
            let found = ok(
                &g.0,
                &ns,
                &["nft", "get", "element", "inet", "cove", &set, &k],
            );
            assert_eq!(found, hit, "step {step}: {key} in {set}");
            // Another combination's number finds nothing.
            let k = format!("{{ {} . {key} }}", nft_get_mark(SG_COMBO + 1));
            let found = ok(
                &g.0,
                &ns,
                &["nft", "get", "element", "inet", "cove", &set, &k],
            );
            assert!(!found, "step {step}: {k} in {set}");
        }
    }
    let _ = std::fs::remove_dir(&empty);

    // Everything out (in this process: the same netlink path).
    apply(&g.0, &elements_op(&ns, Elements::new(), want));
    assert_eq!(
        observed(&g.0, &ns),
        Elements::new(),
        "observed after emptying"
    );
}
