//! The indexed analyzer against the naive one (linear scans) on random networks: same
//! verdicts, same explanations; plus the invariants every verdict keeps.

use cove_analyze::{Analyzer, Endpoint, Flow, NaiveAnalyzer, Outcome, Verdict};
use cove_model::validate::validate;
use cove_model::{EniId, Network};
use cove_testgen::{
    RANDOM_PORTS, SplitMix64, add_functions, random_network, random_network_overlapping,
};

fn flows(net: &Network, an: &Analyzer<'_>, rng: &mut SplitMix64) -> Vec<Flow> {
    let mut endpoints: Vec<Endpoint> = (0..net.enis.len())
        .map(|i| Endpoint::Eni(EniId(u32::try_from(i).expect("small"))))
        .collect();
    endpoints.push(Endpoint::External(an.internet_address()));
    let mut out = Vec::new();
    for s in &endpoints {
        for d in &endpoints {
            let (protocol, port, icmp) = match rng.below(4) {
                0 => (1, 0, (8, 0)),
                1 => (17, RANDOM_PORTS[rng.index(RANDOM_PORTS.len())], (0, 0)),
                _ => (6, RANDOM_PORTS[rng.index(RANDOM_PORTS.len())], (0, 0)),
            };
            let src_port = rng
                .chance(20)
                .then(|| 1024 + u16::try_from(rng.below(60000)).expect("small"));
            out.push(Flow {
                src: *s,
                dst: *d,
                protocol,
                port,
                src_port,
                icmp,
            });
        }
    }
    out
}

fn assert_consistent(v: &Verdict, flow: &Flow) {
    assert_eq!(v.blocked.is_some(), !v.reachable, "{flow:?}: {v:#?}");
    let denies = v
        .forward
        .iter()
        .chain(&v.ret)
        .filter(|h| h.outcome == Outcome::Deny)
        .count();
    assert_eq!(denies, usize::from(!v.reachable), "{flow:?}: {v:#?}");
    if v.reachable {
        assert!(!v.forward.is_empty(), "{flow:?}");
    }
}

#[test]
fn indexed_and_naive_agree_on_random_networks() {
    let mut rng = SplitMix64::new(0xC0FE);
    let (mut total, mut reachable) = (0usize, 0usize);
    for seed in 0..150 {
        // Every fourth network has two VPCs with the same block.
        let mut spec = if seed % 4 == 3 {
            random_network_overlapping(seed)
        } else {
            random_network(seed)
        };
        // Functions behind shared ENIs in half of them.
        if seed % 2 == 0 {
            add_functions(&mut spec, seed);
        }
        let net = validate(&spec).network.expect("generated specs are valid");
        let an = Analyzer::new(&net);
        let naive = NaiveAnalyzer::new(&net);
        for flow in flows(&net, &an, &mut rng) {
            let v = an.check(&flow);
            assert_eq!(v, naive.check(&flow), "seed {seed}, {flow:?}");
            assert_eq!(an.reachable(&flow), v.reachable, "seed {seed}, {flow:?}");
            assert_eq!(naive.reachable(&flow), v.reachable, "seed {seed}, {flow:?}");
            assert_consistent(&v, &flow);
            total += 1;
            reachable += usize::from(v.reachable);
        }
    }
    // The generator must produce both outcomes in bulk, or the comparison is weak.
    assert!(total > 5_000, "{total} flows");
    assert!(reachable * 20 > total, "{reachable} of {total} reachable");
    assert!(
        reachable * 20 < total * 19,
        "{reachable} of {total} reachable"
    );
}
