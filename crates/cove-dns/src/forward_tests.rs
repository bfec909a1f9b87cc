use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;
use crate::view::Data;

fn name(n: &str) -> Name {
    Name::from_ascii(n).expect("name")
}

fn a(owner: &str, ttl: u32, ip: [u8; 4]) -> Record {
    Record::from_rdata(name(owner), ttl, RData::A(A(Ipv4Addr::from(ip))))
}

fn soa(zone: &str, ttl: u32, minimum: u32) -> Record {
    let z = name(zone);
    Record::from_rdata(
        z.clone(),
        ttl,
        RData::SOA(SOA::new(z.clone(), z, 1, 2, 3, 4, minimum)),
    )
}

fn answer(records: Vec<Record>) -> Upstream {
    Upstream {
        code: ResponseCode::NoError,
        answers: records,
        authorities: Vec::new(),
    }
}

#[test]
fn upstreams_answer_is_accepted_only_for_the_question_asked() {
    let q = upstream_query(77, "www.example.com.", RecordType::A).expect("query");
    let mut m = Message::from_vec(&q).expect("parse");
    assert!(m.edns.is_some(), "EDNS0 upstream");
    assert!(m.metadata.recursion_desired);
    m.metadata.message_type = MessageType::Response;
    m.answers.push(a("www.example.com.", 30, [192, 0, 2, 1]));
    let bytes = m.to_vec().expect("encode");
    assert!(upstream_response(&bytes, 77, "www.example.com.", RecordType::A).is_some());
    assert!(upstream_response(&bytes, 77, "WWW.Example.COM.", RecordType::A).is_some());
    assert!(upstream_response(&bytes, 78, "www.example.com.", RecordType::A).is_none());
    assert!(upstream_response(&bytes, 77, "evil.example.com.", RecordType::A).is_none());
    assert!(upstream_response(&bytes, 77, "www.example.com.", RecordType::AAAA).is_none());
    // A query is not an answer.
    assert!(upstream_response(&q, 77, "www.example.com.", RecordType::A).is_none());
    assert!(upstream_response(b"junk", 77, "www.example.com.", RecordType::A).is_none());
}

#[test]
fn a_positive_answer_is_cached_for_its_smallest_ttl_with_ttls_counting_down() {
    let mut c = Cache::new(10);
    let t0 = Instant::now();
    let up = answer(vec![
        a("x.example.", 30, [192, 0, 2, 1]),
        a("x.example.", 20, [192, 0, 2, 2]),
    ]);
    c.put("X.example.", RecordType::A, &up, t0);
    let Lookup::Hit(hit) = c.get("x.example.", RecordType::A, t0 + Duration::from_secs(5)) else {
        panic!("cached");
    };
    assert_eq!(
        hit.answers.iter().map(|r| r.ttl).collect::<Vec<_>>(),
        vec![25, 15]
    );
    assert_eq!(
        c.get("x.example.", RecordType::A, t0 + Duration::from_secs(20)),
        Lookup::Miss
    );
    assert_eq!(
        c.get("x.example.", RecordType::AAAA, t0),
        Lookup::Miss,
        "by type"
    );
}

#[test]
fn negative_answers_are_cached_for_the_soa_minimum_and_failures_not_at_all() {
    let mut c = Cache::new(10);
    let t0 = Instant::now();
    let nx = Upstream {
        code: ResponseCode::NXDomain,
        answers: Vec::new(),
        authorities: vec![soa("example.", 3600, 15)],
    };
    c.put("nope.example.", RecordType::A, &nx, t0);
    assert!(matches!(
        c.get("nope.example.", RecordType::A, t0 + Duration::from_secs(14)),
        Lookup::Hit(u) if u.code == ResponseCode::NXDomain
    ));
    assert_eq!(
        c.get("nope.example.", RecordType::A, t0 + Duration::from_secs(15)),
        Lookup::Miss
    );
    let fail = Upstream {
        code: ResponseCode::ServFail,
        answers: Vec::new(),
        authorities: Vec::new(),
    };
    c.put("broken.example.", RecordType::A, &fail, t0);
    assert_eq!(c.get("broken.example.", RecordType::A, t0), Lookup::Miss);
    // A zero TTL is not kept.
    c.put(
        "zero.example.",
        RecordType::A,
        &answer(vec![a("zero.example.", 0, [192, 0, 2, 9])]),
        t0,
    );
    assert_eq!(c.get("zero.example.", RecordType::A, t0), Lookup::Miss);
}

#[test]
fn a_full_cache_makes_room_expired_first_then_closest_to_expiring() {
    let mut c = Cache::new(10);
    let t0 = Instant::now();
    for i in 0..10u8 {
        let n = format!("n{i}.example.");
        c.put(
            &n,
            RecordType::A,
            &answer(vec![a(&n, 10 + u32::from(i), [192, 0, 2, i])]),
            t0,
        );
    }
    assert_eq!(c.len(), 10);
    c.put(
        "new.example.",
        RecordType::A,
        &answer(vec![a("new.example.", 100, [192, 0, 2, 200])]),
        t0,
    );
    assert_eq!(c.len(), 10, "bounded");
    assert_eq!(
        c.get("n0.example.", RecordType::A, t0),
        Lookup::Miss,
        "shortest went"
    );
    assert!(matches!(
        c.get("n9.example.", RecordType::A, t0),
        Lookup::Hit(_)
    ));
    assert!(matches!(
        c.get("new.example.", RecordType::A, t0),
        Lookup::Hit(_)
    ));
}

#[test]
fn a_forwarded_response_has_the_views_cnames_first_and_the_clients_question() {
    let q = upstream_query(9, "db.corp.internal.", RecordType::A).expect("query");
    let query = Message::from_vec(&q).expect("parse");
    let chain = vec![Answer {
        name: "db.corp.internal.".into(),
        ttl: 60,
        data: Data::Cname("db.example.com.".into()),
    }];
    let up = answer(vec![a("db.example.com.", 30, [192, 0, 2, 7])]);
    let Reply::Send(bytes) = forwarded(&query, &chain, &up, true) else {
        panic!("a response");
    };
    let r = Message::from_vec(&bytes).expect("parse");
    assert_eq!(r.metadata.id, 9);
    assert_eq!(r.queries, query.queries);
    assert_eq!(r.answers.len(), 2);
    assert_eq!(r.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(r.answers[1].data, RData::A(A(Ipv4Addr::new(192, 0, 2, 7))));
    let Reply::Send(bytes) = server_failure(&query, true) else {
        panic!("a response");
    };
    let r = Message::from_vec(&bytes).expect("parse");
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail);
}
