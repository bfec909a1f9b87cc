//! One query answered from a view (the resolver's per-query work, without
//! sockets): `respond` on an A query for a private-zone name with EDNS0, against
//! the baseline of only parsing and re-encoding the same query with hickory-proto
//! (the ratio says how much of the work is the view and the answer).
//!
//!   cargo bench -p cove-dns --bench respond

use criterion::{Criterion, criterion_group, criterion_main};
use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RecordType};

fn view() -> cove_dns::View {
    let mut records = String::new();
    for i in 0..100 {
        records.push_str(&format!(
            "          - {{ name: h{i}.bench.internal, type: A, values: [10.73.2.{}] }}\n",
            i + 1
        ));
    }
    let spec = format!(
        "tenants:
  - name: t
    vpcs:
      - name: v
        cidr: 10.73.0.0/16
        subnets:
          - {{ name: a, cidr: 10.73.1.0/24, az: us-east-1a }}
        enis:
          - {{ name: client, subnet: a, private_ip: 10.73.1.5 }}
    hosted_zones:
      - name: bench.internal
        vpcs: [v]
        records:
{records}"
    );
    let net = cove_model::validate::validate_text(&spec)
        .network
        .expect("valid");
    cove_dns::View::of(&net, cove_model::VpcId(0)).expect("resolver on")
}

fn query() -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = 4242;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(
        Name::from_ascii("h42.bench.internal.").expect("name"),
        RecordType::A,
    ));
    m.edns = Some(Edns::new());
    m.to_vec().expect("encode")
}

fn bench(c: &mut Criterion) {
    let view = view();
    let q = query();
    let mut g = c.benchmark_group("respond");
    g.bench_function("parse_and_encode_only", |b| {
        b.iter(|| Message::from_vec(std::hint::black_box(&q)).map(|m| m.to_vec()))
    });
    g.bench_function("private_a_record", |b| {
        b.iter(|| cove_dns::respond(&view, std::hint::black_box(&q), true))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
