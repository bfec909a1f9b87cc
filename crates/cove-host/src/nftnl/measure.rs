//! Measurement (ignored; needs root): one attach-shaped element change (8 elements
//! across the router's per-ENI sets) in a table that already holds 1,000 ENIs'
//! elements, over netlink and with an `nft -f` process, both from a thread inside
//! the namespace (a socket opened and closed per batch), plus the whole
//! `Host::apply` of the netlink path (on the socket the host keeps).
//!
//! `cargo test -p cove-host --lib -- --ignored --nocapture nftnl::measure`
//! (`NFTNL_RUNS`, default 200).

use std::time::{Duration, Instant};

use cove_plan::{NftTable, Op, Plan};

use super::Elements;
use crate::{Host, netns, nft};

/// The router's per-link sets and maps and one member set, declared as
/// cove-plan's description writes them.
fn decls() -> String {
    use cove_plan::nftsets::{SetDecl, SetKind, declarations};
    let mut d: Vec<SetDecl> = SetKind::LINK_SETS
        .iter()
        .map(|k| SetDecl::new(*k, ""))
        .collect();
    d.push(SetDecl::new(SetKind::Members, "ab12cd34"));
    declarations(&d)
}

/// The 8 elements of ENI `i` (no public IP) into `out`.
fn eni(out: &mut Elements, i: u32) {
    let l = format!("\"e{i:08x}\"");
    let ip = format!("10.20.{}.{}", i / 250, i % 250 + 1);
    let mac = format!("02:aa:bb:cc:{:02x}:{:02x}", i >> 8, i & 255);
    for (set, e) in [
        ("src_links", l.clone()),
        ("eni_src", format!("{l} . {ip}")),
        ("mac_links", l.clone()),
        ("link_mac", format!("{l} . {mac}")),
        ("link_subnet", format!("{l} : 1")),
        ("link_subnet_pair", format!("{l} . 1")),
        ("members", format!("1 . {ip}")),
        ("link_sgc", format!("{l} : 1")),
    ] {
        out.entry(set.to_owned()).or_default().insert(e);
    }
}

fn pct(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort_unstable();
    let at = |pm: usize| v[(v.len() * pm).div_ceil(1000).max(1) - 1];
    (at(500), at(990))
}

#[test]
#[ignore = "needs root; a measurement, run by hand"]
fn measure_attach_netlink_vs_nft_process() {
    let runs: usize = std::env::var("NFTNL_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let host = Host::new(&format!("tm{}", std::process::id())).expect("prefix");
    let _ = host.destroy();
    let ns = format!("{}-r", host.prefix());
    let table = NftTable {
        name: "cove".to_owned(),
        generation: "m".to_owned(),
        text: format!("table inet cove {{\n\tcomment \"gen:m\"\n{}}}\n", decls()),
        elements: Elements::new(),
        rules_digest: None,
        loaded_digest: None,
    };
    let mut background = Elements::new();
    for i in 0..1000 {
        eni(&mut background, i);
    }
    let mut attach = Elements::new();
    eni(&mut attach, 5000);
    let none = Elements::new();
    let setup = Plan {
        ops: vec![
            Op::CreateNamespace { ns: ns.clone() },
            Op::ReplaceNft {
                ns: ns.clone(),
                table,
                why: cove_plan::NftWhy::Missing,
            },
            // 8,000 elements in one netlink batch.
            Op::NftElements {
                ns: ns.clone(),
                table: "cove".to_owned(),
                add: background,
                delete: Elements::new(),
            },
        ],
    };
    let result = (|| {
        host.apply(&setup)?;
        let (a, n) = (attach.clone(), none.clone());
        let (netlink, process) = netns::run_in(&ns, move || {
            let (mut netlink, mut process) = (Vec::new(), Vec::new());
            for _ in 0..runs {
                let t = Instant::now();
                super::update_elements("m", "cove", &a, &n)?;
                netlink.push(t.elapsed());
                super::update_elements("m", "cove", &n, &a)?;
                let t = Instant::now();
                nft::update_elements("m", "cove", &a, &n)?;
                process.push(t.elapsed());
                super::update_elements("m", "cove", &n, &a)?;
            }
            Ok((netlink, process))
        })?;
        let op = |add: &Elements, delete: &Elements| Plan {
            ops: vec![Op::NftElements {
                ns: ns.clone(),
                table: "cove".to_owned(),
                add: add.clone(),
                delete: delete.clone(),
            }],
        };
        let mut apply = Vec::new();
        for _ in 0..runs {
            apply.push(host.apply(&op(&attach, &none))?.elapsed);
            host.apply(&op(&none, &attach))?;
        }
        Ok::<_, crate::HostError>((netlink, process, apply))
    })();
    let _ = host.destroy();
    let (netlink, process, apply) = result.expect("measurement");
    let (n50, n99) = pct(netlink);
    let (p50, p99) = pct(process);
    let (a50, a99) = pct(apply);
    println!("attach-shaped NftElements (8 elements), table with 1,000 ENIs, {runs} runs:");
    println!("  netlink batch (on the namespace thread): p50 {n50:.2?}  p99 {n99:.2?}");
    println!("  nft -f process (on the namespace thread): p50 {p50:.2?}  p99 {p99:.2?}");
    println!("  Host::apply, netlink path (the host's kept socket): p50 {a50:.2?}  p99 {a99:.2?}");
    println!(
        "  process / netlink at p50: {:.1}x",
        p50.as_secs_f64() / n50.as_secs_f64()
    );
}
