//! The analyzer on real AWS exports (`../shared/aws-snapshots`, imported with
//! `cove-import`): known answers for the peering snapshot, and on every snapshot the
//! all-pairs matrix agrees with the naive evaluator.

use std::path::{Path, PathBuf};

use cove_analyze::{Analyzer, Endpoint, Flow, NaiveAnalyzer, Step};
use cove_import::import_aws_dir;
use cove_model::validate::validate;
use cove_model::{EniId, Network};

fn snapshots() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/aws-snapshots");
    if dir.is_dir() {
        return Some(dir);
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "{} is missing",
        dir.display()
    );
    eprintln!("skipping: {} is missing", dir.display());
    None
}

fn load(dir: &Path) -> Network {
    let import = import_aws_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    validate(&import.spec)
        .network
        .unwrap_or_else(|| panic!("{}: imported spec is invalid", dir.display()))
}

fn tcp(an: &Analyzer<'_>, from: &str, to: &str, port: u16) -> cove_analyze::Verdict {
    let flow = Flow {
        src: an.resolve(from).expect("source resolves"),
        dst: an.resolve(to).expect("destination resolves"),
        protocol: 6,
        port,
        src_port: None,
        icmp: (8, 0),
    };
    an.check(&flow)
}

/// Batfish's `test-vpc-peering`: VPC A (10.10.0.0/16) peers with B and C, which both
/// use 192.168.0.0/16; A routes 192.168.1.0/24 to B's peering and 192.168.2.0/24 to
/// C's (AWS "peering with overlapping CIDR blocks: specific routes").
#[test]
fn peering_with_overlapping_peers_uses_the_specific_routes() {
    let Some(root) = snapshots() else { return };
    let net = load(&root.join("batfish/test-vpc-peering"));
    let an = Analyzer::new(&net);
    let to_b = tcp(&an, "10.10.10.157", "192.168.1.106", 22);
    assert!(to_b.reachable, "{to_b:#?}");
    assert!(
        to_b.forward
            .iter()
            .any(|h| h.step == Step::Peering && h.component.contains("pcx-0b89b559e3319d6cf")),
        "{to_b:#?}"
    );
    let to_c = tcp(&an, "10.10.10.157", "192.168.2.229", 22);
    assert!(to_c.reachable, "{to_c:#?}");
    assert!(
        to_c.forward
            .iter()
            .any(|h| h.step == Step::Peering && h.component.contains("pcx-0d5b836985ac8ca8c")),
        "{to_c:#?}"
    );
    // Only port 22 is open on the instances.
    let https = tcp(&an, "10.10.10.157", "192.168.2.229", 443);
    let blocked = https.blocked.expect("443 is blocked");
    assert_eq!(blocked.step, Step::SecurityGroupIngress, "{blocked:#?}");
    // B and C are not peered with each other: no transitive routing through A.
    let b_to_c = tcp(&an, "192.168.1.106", "192.168.2.229", 22);
    assert!(!b_to_c.reachable, "{b_to_c:#?}");
    // B's default route is a blackhole (its internet gateway is gone).
    let b_out = tcp(&an, "192.168.1.106", "internet", 443);
    let blocked = b_out.blocked.expect("blackhole");
    assert_eq!(blocked.step, Step::RouteTable);
    assert!(blocked.reason.contains("blackhole"), "{blocked:#?}");
}

/// Every folder that holds an export: the matrix over all ENIs (tcp/22, tcp/443,
/// icmp) and flows to the internet agree between the indexed and naive analyzers.
#[test]
fn every_snapshot_analyzes_and_agrees_with_the_naive_evaluator() {
    let Some(root) = snapshots() else { return };
    let leaves = cove_testgen::json_folders(&root);
    assert!(leaves.len() >= 12, "found only {} folders", leaves.len());
    let mut flows_checked = 0;
    for dir in leaves {
        let net = load(&dir);
        let an = Analyzer::new(&net);
        let naive = NaiveAnalyzer::new(&net);
        let mut ends: Vec<Endpoint> = (0..net.enis.len())
            .map(|i| Endpoint::Eni(EniId(u32::try_from(i).expect("small"))))
            .collect();
        ends.push(Endpoint::External(an.internet_address()));
        for s in &ends {
            for d in &ends {
                for (protocol, port) in [(6u8, 22u16), (6, 443), (1, 0)] {
                    let flow = Flow {
                        src: *s,
                        dst: *d,
                        protocol,
                        port,
                        src_port: None,
                        icmp: (8, 0),
                    };
                    let v = an.check(&flow);
                    assert_eq!(v, naive.check(&flow), "{}: {flow:?}", dir.display());
                    assert_eq!(v.blocked.is_none(), v.reachable);
                    flows_checked += 1;
                }
            }
        }
    }
    assert!(flows_checked > 100, "{flows_checked}");
}
