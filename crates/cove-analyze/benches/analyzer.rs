//! Analyzer benchmark on a generated network of 1,000 VPCs, 10,000 ENIs and 100,000
//! security-group and network-ACL rules: one `check` (median and p99 over individual
//! queries) and all-pairs `matrix`, each against the naive evaluator (linear scans) in
//! the same run.
//!
//! `cargo bench -p cove-analyze --bench analyzer` (or `bash scripts/bench-analyzer.sh`).
//! The first part prints per-query percentiles (criterion reports means of batches,
//! not the tail of single queries); criterion then measures the same operations.

use std::hint::black_box;
use std::time::{Duration, Instant};

use cove_analyze::{Analyzer, Endpoint, Flow, NaiveAnalyzer, matrix};
use cove_model::validate::validate;
use cove_model::{EniId, Network};
use cove_testgen::{LargeParams, SplitMix64, large_network};
use criterion::{Criterion, criterion_group, criterion_main};

const PORTS: [u16; 8] = [22, 80, 443, 3306, 5432, 6379, 8080, 9000];

fn network() -> Network {
    let p = LargeParams::BENCH;
    let started = Instant::now();
    let v = validate(&large_network(p, 42));
    let net = v.network.expect("the generated network is valid");
    let sg_rules: usize = net
        .security_groups
        .iter()
        .map(|g| g.ingress.len() + g.egress.len())
        .sum();
    let acl_entries: usize = net
        .network_acls
        .iter()
        .map(|a| a.ingress.len() + a.egress.len())
        .sum();
    eprintln!(
        "network: {} VPCs, {} ENIs, {} SG rules + {} NACL entries = {} rules (validated in {:?})",
        net.vpcs.len(),
        net.enis.len(),
        sg_rules,
        acl_entries,
        sg_rules + acl_entries,
        started.elapsed()
    );
    net
}

fn eni(i: usize) -> Endpoint {
    Endpoint::Eni(EniId(u32::try_from(i).expect("fits")))
}

/// Random ENI-to-ENI TCP flows: 40% inside one VPC, 40% to the next (peered) VPC,
/// 20% to any VPC.
fn flows(net: &Network, n: usize, seed: u64) -> Vec<Flow> {
    let mut rng = SplitMix64::new(seed);
    let per_vpc = net.enis.len() / net.vpcs.len();
    (0..n)
        .map(|_| {
            let s = rng.index(net.enis.len());
            let sv = s / per_vpc;
            let dv = match rng.below(5) {
                0 | 1 => sv,
                2 | 3 => (sv + 1) % net.vpcs.len(),
                _ => rng.index(net.vpcs.len()),
            };
            let d = dv * per_vpc + rng.index(per_vpc);
            Flow {
                src: eni(s),
                dst: eni(d),
                protocol: 6,
                port: PORTS[rng.index(PORTS.len())],
                src_port: None,
                icmp: (8, 0),
            }
        })
        .collect()
}

fn percentiles(mut t: Vec<Duration>) -> (Duration, Duration, Duration) {
    t.sort_unstable();
    // Nearest-rank percentile: index ceil(q * n) - 1, in integers.
    let at = |per_mille: usize| t[(t.len() * per_mille).div_ceil(1000).max(1) - 1];
    (at(500), at(990), at(1000))
}

fn time_each(flows: &[Flow], f: &dyn Fn(&Flow) -> bool) -> (Vec<Duration>, usize) {
    let mut times = Vec::with_capacity(flows.len());
    let mut reachable = 0;
    for flow in flows {
        let t = Instant::now();
        reachable += usize::from(black_box(f(black_box(flow))));
        times.push(t.elapsed());
    }
    (times, reachable)
}

fn report(net: &Network) {
    let t = Instant::now();
    let an = Analyzer::new(net);
    eprintln!("Analyzer::new (indexes): {:?}", t.elapsed());
    let naive = NaiveAnalyzer::new(net);
    let qs = flows(net, 100_000, 7);
    // Warm up caches and branch predictors.
    let _ = time_each(&qs[..10_000], &|f| an.check(f).reachable);
    let (t_check, reach) = time_each(&qs, &|f| an.check(f).reachable);
    let (t_reach, reach2) = time_each(&qs, &|f| an.reachable(f));
    assert_eq!(reach, reach2, "check and reachable agree");
    // The same flows through both evaluators, each in its own warm pass (a first
    // untimed pass, then the timed one), so that neither pays for the other's cache
    // footprint.
    let nq = &qs[..1_000];
    let warm_timed = |f: &dyn Fn(&Flow) -> bool| {
        let _ = time_each(nq, f);
        time_each(nq, f)
    };
    let (t_naive, reach_naive) = warm_timed(&|f| naive.check(f).reachable);
    let (t_check_same, reach_same) = warm_timed(&|f| an.check(f).reachable);
    assert_eq!(reach_naive, reach_same, "naive and indexed agree");
    let (t_naive_r, _) = warm_timed(&|f| naive.reachable(f));
    let (t_reach_same, _) = warm_timed(&|f| an.reachable(f));
    let (m1, p1, x1) = percentiles(t_check);
    let (m2, p2, x2) = percentiles(t_reach);
    let (m3, p3, x3) = percentiles(t_naive);
    let (m4, p4, _) = percentiles(t_check_same);
    let (m5, p5, _) = percentiles(t_naive_r);
    let (m6, p6, _) = percentiles(t_reach_same);
    eprintln!("\n| query (single flow) | queries | median | p99 | max |");
    eprintln!("|---|---|---|---|---|");
    eprintln!(
        "| check (explained), indexed | {} | {m1:?} | {p1:?} | {x1:?} |",
        qs.len()
    );
    eprintln!(
        "| reachable (no trace), indexed | {} | {m2:?} | {p2:?} | {x2:?} |",
        qs.len()
    );
    eprintln!(
        "| check, naive (linear scans) | {} | {m3:?} | {p3:?} | {x3:?} |",
        nq.len()
    );
    eprintln!(
        "| check, indexed, same {} flows | {} | {m4:?} | {p4:?} | |",
        nq.len(),
        nq.len()
    );
    eprintln!(
        "| reachable, naive (linear scans) | {} | {m5:?} | {p5:?} | |",
        nq.len()
    );
    eprintln!(
        "| reachable, indexed, same {} flows | {} | {m6:?} | {p6:?} | |",
        nq.len(),
        nq.len()
    );
    eprintln!(
        "ratio naive/indexed on the same flows: check median {:.0}x, p99 {:.0}x; reachable median {:.0}x, p99 {:.0}x; {reach} of {} flows reachable",
        m3.as_secs_f64() / m4.as_secs_f64(),
        p3.as_secs_f64() / p4.as_secs_f64(),
        m5.as_secs_f64() / m6.as_secs_f64(),
        p5.as_secs_f64() / p6.as_secs_f64(),
        qs.len()
    );

    let probes = [(6u8, 5432u16)];
    let enis: Vec<EniId> = (0..1000u32).map(EniId).collect();
    let mut runs = Vec::new();
    let mut m = None;
    for _ in 0..3 {
        let t = Instant::now();
        m = Some(matrix(&an, &enis, &probes));
        runs.push(t.elapsed());
    }
    runs.sort_unstable();
    let m = m.expect("ran");
    eprintln!(
        "\nmatrix 1,000 ENIs x 1 port (1,000,000 ordered pairs): median of 3 runs {:?}; {} pairs reachable",
        runs[1],
        m.count_reachable()
    );
    let small: Vec<EniId> = (0..100u32).map(|i| EniId(i * 100)).collect();
    let t = Instant::now();
    let mi = matrix(&an, &small, &probes);
    let ti = t.elapsed();
    let t = Instant::now();
    let mut naive_count = 0;
    for s in &small {
        for d in &small {
            naive_count += usize::from(naive.reachable(&Flow {
                src: Endpoint::Eni(*s),
                dst: Endpoint::Eni(*d),
                protocol: 6,
                port: 5432,
                src_port: None,
                icmp: (8, 0),
            }));
        }
    }
    let tn = t.elapsed();
    assert_eq!(
        naive_count,
        mi.count_reachable(),
        "naive and indexed matrices agree"
    );
    eprintln!(
        "matrix 100 ENIs (spread over the network): indexed {ti:?}, naive {tn:?}, ratio {:.0}x\n",
        tn.as_secs_f64() / ti.as_secs_f64()
    );
}

fn benches(c: &mut Criterion) {
    let net = network();
    report(&net);
    let an = Analyzer::new(&net);
    let naive = NaiveAnalyzer::new(&net);
    let qs = flows(&net, 4_096, 11);
    let mut g = c.benchmark_group("check");
    let mut i = 0;
    g.bench_function("indexed", |b| {
        b.iter(|| {
            i = (i + 1) % qs.len();
            an.check(black_box(&qs[i]))
        })
    });
    g.bench_function("indexed-reachable-only", |b| {
        b.iter(|| {
            i = (i + 1) % qs.len();
            an.reachable(black_box(&qs[i]))
        })
    });
    g.sample_size(10);
    g.bench_function("naive", |b| {
        b.iter(|| {
            i = (i + 1) % qs.len();
            naive.check(black_box(&qs[i]))
        })
    });
    g.finish();
    let mut g = c.benchmark_group("matrix");
    g.sample_size(10);
    let enis: Vec<EniId> = (0..1000u32).map(EniId).collect();
    g.bench_function("indexed-1000-enis", |b| {
        b.iter(|| matrix(&an, black_box(&enis), &[(6, 5432)]))
    });
    g.finish();
}

criterion_group!(analyzer, benches);
criterion_main!(analyzer);
