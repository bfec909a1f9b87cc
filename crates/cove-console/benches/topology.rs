#![allow(missing_docs, clippy::unwrap_used, clippy::cast_possible_truncation)]
//! The topology picture of 1,000 ENIs (4 VPCs × 5 subnets × 50 ENIs, 40 functions,
//! 6 peerings): laying it out and writing its SVG, against the baseline of writing
//! the same topology as the API's JSON (`GET /v1/topology`'s answer) — the ratio
//! says what drawing costs over merely sending the data.
//!
//! `cargo bench -p cove-console --bench topology`

use std::time::Instant;

use cove_api::topology::{
    Topology, TopologyEni, TopologyFunction, TopologyPeering, TopologySubnet, TopologyVpc,
};
use cove_console::topology::{Highlight, layout::layout, svg::render};
use criterion::{Criterion, criterion_group, criterion_main};

fn topology(enis_per_subnet: usize) -> Topology {
    let mut t = Topology {
        tenant: "bench".into(),
        ..Topology::default()
    };
    for v in 0..4u8 {
        t.vpcs.push(TopologyVpc {
            name: format!("net-{v:017x}"),
            network: Some(format!("network-{v}")),
            vpc_id: Some(format!("vpc-{v:017x}")),
            cidrs: vec![format!("10.{v}.0.0/16")],
            internet_gateway: true,
            subnets: (0..5u8)
                .map(|s| TopologySubnet {
                    name: format!("private-{s}"),
                    cidr: format!("10.{v}.{s}.0/24"),
                    az: "us-east-1a".into(),
                    route_table: "main".into(),
                    network_acl: "default".into(),
                    public: s == 0,
                    enis: (0..enis_per_subnet)
                        .map(|i| TopologyEni {
                            name: format!("worker-{s}-{i}"),
                            id: Some(format!("eni-{v}{s}{i:015x}")),
                            ip: std::net::Ipv4Addr::new(10, v, s, (i % 250) as u8 + 4),
                            public_ip: None,
                            kind: "eni".into(),
                            security_groups: vec!["app".into()],
                        })
                        .collect(),
                })
                .collect(),
            functions: (0..10)
                .map(|f| TopologyFunction {
                    name: format!("fn-{f}"),
                    runtime: "python3.11".into(),
                    subnets: vec!["private-1".into(), "private-2".into()],
                })
                .collect(),
            ..TopologyVpc::default()
        });
    }
    for p in 0..6u8 {
        t.peerings.push(TopologyPeering {
            id: format!("pcx-{p:017x}"),
            status: "active".into(),
            local_vpc: format!("net-{:017x}", p % 4),
            peer_vpc: format!("vpc-peer{p}"),
            peer_is_local: false,
            peer_account: Some("222222222222".into()),
        });
    }
    t
}

fn median_us(mut f: impl FnMut() -> usize, runs: usize) -> (f64, usize) {
    let mut times = Vec::with_capacity(runs);
    let mut size = 0;
    for _ in 0..runs {
        let t = Instant::now();
        size = f();
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    (times[runs / 2], size)
}

fn bench(c: &mut Criterion) {
    let t = topology(50);
    let enis: usize = t
        .vpcs
        .iter()
        .flat_map(|v| &v.subnets)
        .map(|s| s.enis.len())
        .sum();
    assert_eq!(enis, 1000);
    let (svg_us, svg_bytes) = median_us(
        || render(&layout(&t), &Highlight::default(), "bench").len(),
        201,
    );
    let (json_us, json_bytes) = median_us(|| serde_json::to_string(&t).unwrap().len(), 201);
    println!(
        "topology of {enis} ENIs: layout + SVG {svg_us:.0} µs ({svg_bytes} bytes); JSON baseline {json_us:.0} µs ({json_bytes} bytes); ratio {:.2}",
        svg_us / json_us
    );
    c.bench_function("topology_1000_enis_layout_svg", |b| {
        b.iter(|| render(&layout(&t), &Highlight::default(), "bench").len());
    });
    c.bench_function("topology_1000_enis_json_baseline", |b| {
        b.iter(|| serde_json::to_string(&t).unwrap().len());
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
