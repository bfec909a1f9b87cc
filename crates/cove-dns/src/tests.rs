#![allow(clippy::unwrap_used, clippy::expect_used)]

use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use proptest::prelude::*;

use super::*;

const SPEC: &str = "tenants:
  - name: t
    vpcs:
      - name: a
        cidr: 10.1.0.0/16
        dns_hostnames: true
        subnets:
          - { name: s, cidr: 10.1.1.0/24, az: eu-west-1a }
        enis:
          - { name: db, subnet: s, private_ip: 10.1.1.10 }
      - name: b
        cidr: 10.2.0.0/16
      - name: off
        cidr: 10.3.0.0/16
        dns_support: false
    hosted_zones:
      - name: db.internal
        vpcs: [a]
        records:
          - { name: pg.db.internal, type: A, values: [10.1.1.10, 10.1.1.11] }
          - { name: alias.db.internal, type: CNAME, values: [pg.db.internal] }
          - { name: out.db.internal, type: CNAME, values: [example.com] }
          - { name: loop1.db.internal, type: CNAME, values: [loop2.db.internal] }
          - { name: loop2.db.internal, type: CNAME, values: [loop1.db.internal] }
          - { name: _pg._tcp.db.internal, type: SRV, values: ['10 5 5432 pg.db.internal'] }
          - { name: '*.wild.db.internal', type: A, values: [10.1.1.99] }
          - { name: big.db.internal, type: TXT, values: [%BIG%] }
";

fn net() -> cove_model::Network {
    let big: Vec<String> = (b'a'..b'm')
        .map(|c| format!("'{}'", char::from(c).to_string().repeat(200)))
        .collect();
    let text = SPEC.replace("%BIG%", &big.join(", "));
    let v = cove_model::validate::validate_text(&text);
    let errors: Vec<_> = v.errors().collect();
    assert!(errors.is_empty(), "{errors:#?}");
    v.network.expect("valid")
}

fn view(vpc: &str) -> Option<View> {
    let n = net();
    let id = n.vpcs.iter().position(|v| v.name == vpc).expect("vpc");
    View::of(&n, cove_model::VpcId(u32::try_from(id).expect("small")))
}

fn ip(s: &str) -> std::net::Ipv4Addr {
    s.parse().expect("ip")
}

#[test]
fn a_view_answers_its_zones_hostnames_and_reverse_names() {
    let v = view("a").expect("resolver on");
    let Outcome::Answer { answers, zone } = v.answer("pg.db.internal.", Kind::A) else {
        panic!("answer");
    };
    assert_eq!(zone, "db.internal.");
    assert_eq!(
        answers.iter().map(|a| a.data.clone()).collect::<Vec<_>>(),
        [Data::A(ip("10.1.1.10")), Data::A(ip("10.1.1.11"))]
    );
    // ENI hostnames in eu-west-1, and their PTR.
    let host = "ip-10-1-1-10.eu-west-1.compute.internal.";
    assert!(matches!(v.answer(host, Kind::A),
        Outcome::Answer { answers, .. } if answers[0].data == Data::A(ip("10.1.1.10"))));
    assert!(matches!(v.answer("10.1.1.10.in-addr.arpa.", Kind::Ptr),
        Outcome::Answer { answers, .. } if answers[0].data == Data::Ptr(host.into())));
    // An address of the VPC without an ENI: NXDOMAIN (its reverse zone is here).
    assert!(matches!(
        v.answer("99.1.1.10.in-addr.arpa.", Kind::Ptr),
        Outcome::NoSuchName { .. }
    ));
    // Outside every zone: upstream.
    assert!(
        matches!(v.answer("example.com.", Kind::A), Outcome::Forward { name, .. } if name == "example.com.")
    );
}

#[test]
fn nodata_nxdomain_wildcards_and_empty_non_terminals() {
    let v = view("a").expect("on");
    // The name exists without AAAA: NODATA.
    assert!(
        matches!(v.answer("pg.db.internal.", Kind::Aaaa), Outcome::Answer { answers, .. } if answers.is_empty())
    );
    assert!(matches!(
        v.answer("nope.db.internal.", Kind::A),
        Outcome::NoSuchName { .. }
    ));
    // `_tcp.db.internal` exists only as the parent of the SRV record.
    assert!(
        matches!(v.answer("_tcp.db.internal.", Kind::A), Outcome::Answer { answers, .. } if answers.is_empty())
    );
    assert!(matches!(v.answer("_pg._tcp.db.internal.", Kind::Srv),
        Outcome::Answer { answers, .. } if answers[0].data == Data::Srv(10, 5, 5432, "pg.db.internal.".into())));
    // A wildcard answers a missing name under it, with the asked owner.
    let Outcome::Answer { answers, .. } = v.answer("x.y.wild.db.internal.", Kind::A) else {
        panic!("wildcard");
    };
    assert_eq!(answers[0].name, "x.y.wild.db.internal.");
    assert_eq!(answers[0].data, Data::A(ip("10.1.1.99")));
}

#[test]
fn cnames_are_followed_inside_the_view_and_out_of_it_and_loops_are_cut() {
    let v = view("a").expect("on");
    let Outcome::Answer { answers, .. } = v.answer("alias.db.internal.", Kind::A) else {
        panic!("chain");
    };
    assert_eq!(answers[0].data, Data::Cname("pg.db.internal.".into()));
    assert_eq!(answers.len(), 3);
    let Outcome::Forward { answers, name } = v.answer("out.db.internal.", Kind::A) else {
        panic!("out");
    };
    assert_eq!((answers.len(), name.as_str()), (1, "example.com."));
    let Outcome::Answer { answers, .. } = v.answer("loop1.db.internal.", Kind::A) else {
        panic!("loop");
    };
    assert_eq!(answers.len(), 8);
    // Asking for the CNAME itself does not follow it.
    assert!(
        matches!(v.answer("alias.db.internal.", Kind::Cname), Outcome::Answer { answers, .. } if answers.len() == 1)
    );
}

#[test]
fn another_vpc_sees_neither_the_zone_nor_hostnames_and_an_off_resolver_nothing() {
    let b = view("b").expect("on");
    assert!(matches!(
        b.answer("pg.db.internal.", Kind::A),
        Outcome::Forward { .. }
    ));
    assert!(matches!(
        b.answer("ip-10-1-1-10.eu-west-1.compute.internal.", Kind::A),
        Outcome::Forward { .. }
    ));
    assert!(view("off").is_none());
}

fn query(name: &str, t: RecordType, edns: Option<u16>) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = 4242;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).expect("name"), t));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.edns = Some(e);
    }
    m.to_vec().expect("bytes")
}

fn answer(bytes: &[u8], udp: bool) -> Message {
    let v = view("a").expect("on");
    match respond(&v, bytes, udp) {
        Reply::Send(b) => Message::from_vec(&b).expect("a valid response"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn responses_on_the_wire_carry_id_question_flags_and_soa() {
    let r = answer(&query("PG.db.internal.", RecordType::A, None), true);
    assert_eq!(r.metadata.id, 4242);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    assert!(
        r.metadata.authoritative && r.metadata.recursion_desired && r.metadata.recursion_available
    );
    assert_eq!(r.queries.len(), 1);
    let ips: Vec<_> = r.answers.iter().map(|a| a.data.clone()).collect();
    assert!(
        matches!(&ips[0], RData::A(a) if a.0 == ip("10.1.1.10")),
        "{ips:?}"
    );
    assert!(r.edns.is_none());
    let nx = answer(&query("nope.db.internal.", RecordType::A, Some(1232)), true);
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert!(matches!(nx.authorities[0].data, RData::SOA(_)));
    assert_eq!(nx.edns.as_ref().map(Edns::max_payload), Some(1232));
    // A type the view does not hold at an existing name: NODATA with the SOA.
    let nodata = answer(&query("pg.db.internal.", RecordType::NS, None), true);
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert!(nodata.answers.is_empty() && !nodata.authorities.is_empty());
    // Outside the view: forwarded, the client's query kept.
    let v = view("a").expect("on");
    assert!(
        matches!(respond(&v, &query("example.com.", RecordType::A, None), true),
        Reply::Forward { name, .. } if name == "example.com.")
    );
}

#[test]
fn a_large_answer_is_truncated_over_udp_unless_edns_or_tcp_allows_it() {
    let q = query("big.db.internal.", RecordType::TXT, None);
    let udp = answer(&q, true);
    assert!(udp.metadata.truncation && udp.answers.is_empty());
    let tcp = answer(&q, false);
    assert!(!tcp.metadata.truncation && tcp.answers.len() == 1);
    // 12 × 200 bytes: more than 1,232 even with EDNS.
    let edns = answer(
        &query("big.db.internal.", RecordType::TXT, Some(4096)),
        true,
    );
    assert!(edns.metadata.truncation);
    let small = answer(&query("pg.db.internal.", RecordType::A, Some(4096)), true);
    assert!(!small.metadata.truncation);
}

#[test]
fn malformed_and_unsupported_queries_get_their_error_or_nothing() {
    let v = view("a").expect("on");
    assert_eq!(respond(&v, &[0, 1, 2], true), Reply::Drop);
    // A response is never answered.
    let mut resp = query("pg.db.internal.", RecordType::A, None);
    resp[2] |= 0x80;
    assert_eq!(respond(&v, &resp, true), Reply::Drop);
    // Garbage after a query header: FORMERR with the id.
    let mut bad = query("pg.db.internal.", RecordType::A, None);
    bad.truncate(14);
    let Reply::Send(b) = respond(&v, &bad, true) else {
        panic!("formerr")
    };
    assert_eq!(&b[..2], &4242u16.to_be_bytes());
    assert_eq!(b[3] & 0x0f, 1, "FORMERR");
    // Two questions: FORMERR; another opcode: NOTIMP.
    let mut two = Message::query();
    two.add_query(Query::query(
        Name::from_ascii("a.db.internal.").expect("n"),
        RecordType::A,
    ));
    two.add_query(Query::query(
        Name::from_ascii("b.db.internal.").expect("n"),
        RecordType::A,
    ));
    let Reply::Send(b) = respond(&v, &two.to_vec().expect("bytes"), true) else {
        panic!("two")
    };
    assert_eq!(
        Message::from_vec(&b).expect("msg").metadata.response_code,
        ResponseCode::FormErr
    );
    let mut notify = Message::query();
    notify.metadata.op_code = hickory_proto::op::OpCode::Notify;
    notify.add_query(Query::query(
        Name::from_ascii("a.db.internal.").expect("n"),
        RecordType::A,
    ));
    let Reply::Send(b) = respond(&v, &notify.to_vec().expect("bytes"), true) else {
        panic!("notify")
    };
    assert_eq!(
        Message::from_vec(&b).expect("msg").metadata.response_code,
        ResponseCode::NotImp
    );
}

#[test]
fn the_analyzer_resolves_in_the_sources_view_and_says_why_not() {
    let n = net();
    let vpc = |name: &str| {
        cove_model::VpcId(
            u32::try_from(n.vpcs.iter().position(|v| v.name == name).expect("vpc")).expect("small"),
        )
    };
    let (ip, chain) = resolve(&n, vpc("a"), "Alias.db.internal").expect("resolves");
    assert_eq!(ip, self::ip("10.1.1.10"));
    assert_eq!(chain[0], "alias.db.internal. CNAME pg.db.internal.");
    assert!(
        matches!(resolve(&n, vpc("a"), "nope.db.internal"), Err(Unresolved::NoSuchName { zone, .. }) if zone == "db.internal.")
    );
    assert!(matches!(
        resolve(&n, vpc("a"), "_pg._tcp.db.internal"),
        Err(Unresolved::NoAddress { .. })
    ));
    let e = resolve(&n, vpc("b"), "pg.db.internal").expect_err("not associated");
    assert!(
        matches!(&e, Unresolved::NotAssociated { vpcs, .. } if vpcs == &["t/a".to_owned()]),
        "{e:?}"
    );
    assert!(e.to_string().contains("associated only with t/a"), "{e}");
    assert!(matches!(
        resolve(&n, vpc("off"), "pg.db.internal"),
        Err(Unresolved::NoResolver { .. })
    ));
    assert!(matches!(
        resolve(&n, vpc("a"), "example.com"),
        Err(Unresolved::Public { .. })
    ));
    assert!(
        looks_like_name("pg.db.internal")
            && !looks_like_name("10.1.1.10")
            && !looks_like_name("t/a/db")
    );
}

#[test]
fn interface_endpoint_names_resolve_to_their_enis_or_say_private_dns_is_off() {
    let spec = |dns: &str| {
        format!(
            "tenants:
  - name: t
    vpcs:
      - name: a
        cidr: 10.1.0.0/16
        subnets:
          - {{ name: s1, cidr: 10.1.1.0/24, az: us-east-1a }}
          - {{ name: s2, cidr: 10.1.2.0/24, az: us-east-1b }}
        enis:
          - {{ name: fn, subnet: s1, private_ip: 10.1.1.5 }}
        endpoints:
          - {{ name: secrets, type: interface, service: com.amazonaws.us-east-1.secretsmanager, subnets: [s1, s2]{dns} }}
"
        )
    };
    let on = cove_model::validate::validate_text(&spec(
        ", private_dns_name: secretsmanager.us-east-1.amazonaws.com",
    ))
    .network
    .expect("valid");
    let v = View::of(&on, cove_model::VpcId(0)).expect("on");
    let Outcome::Answer { answers, .. } =
        v.answer("secretsmanager.us-east-1.amazonaws.com.", Kind::A)
    else {
        panic!("endpoint name");
    };
    let ips: Vec<_> = answers.iter().map(|a| a.data.clone()).collect();
    let eni_ips: Vec<Data> = match &on.endpoints[0].kind {
        cove_model::EndpointKind::Interface { enis, .. } => enis
            .iter()
            .map(|e| Data::A(on.enis[e.index()].private_ip))
            .collect(),
        cove_model::EndpointKind::Gateway { .. } => panic!("interface"),
    };
    assert_eq!(ips, eni_ips);
    assert_eq!(ips.len(), 2);
    let off = cove_model::validate::validate_text(&spec(""))
        .network
        .expect("valid");
    let e = resolve(
        &off,
        cove_model::VpcId(0),
        "secretsmanager.us-east-1.amazonaws.com",
    )
    .expect_err("private DNS off");
    assert!(
        matches!(&e, Unresolved::PrivateDnsOff { endpoint, .. } if endpoint == "t/a/secrets"),
        "{e:?}"
    );
    assert!(e.to_string().contains("private DNS is off"), "{e}");
    assert_eq!(
        names::service_dns_name("com.amazonaws.eu-west-1.s3").as_deref(),
        Some("s3.eu-west-1.amazonaws.com.")
    );
}

#[test]
fn s3_names_resolve_to_the_gateway_endpoint_or_the_interface_endpoint() {
    let spec = |interface: &str| {
        format!(
            "tenants:
  - name: t
    prefix_lists:
      - {{ name: s3, cidrs: [52.216.0.0/15, 3.5.0.0/19] }}
    vpcs:
      - name: a
        cidr: 10.1.0.0/16
        subnets:
          - {{ name: s1, cidr: 10.1.1.0/24, az: us-east-1a }}
        route_tables:
          - {{ name: main, main: true }}
        endpoints:
          - {{ name: s3gw, type: gateway, service: com.amazonaws.us-east-1.s3, prefix_list: s3, route_tables: [main] }}
{interface}"
        )
    };
    let a = |net: &cove_model::Network, name: &str| -> Vec<Data> {
        let v = View::of(net, cove_model::VpcId(0)).expect("on");
        match v.answer(name, Kind::A) {
            Outcome::Answer { answers, .. } => answers.into_iter().map(|a| a.data).collect(),
            other => panic!("{name}: {other:?}"),
        }
    };
    let gw = cove_model::validate::validate_text(&spec(""))
        .network
        .expect("valid");
    let first = vec![Data::A(ip("52.216.0.1"))];
    assert_eq!(a(&gw, "s3.us-east-1.amazonaws.com."), first);
    assert_eq!(a(&gw, "spa-assets.s3.us-east-1.amazonaws.com."), first);
    // Another region's S3 is not this endpoint's: forwarded.
    let v = View::of(&gw, cove_model::VpcId(0)).expect("on");
    assert!(matches!(
        v.answer("s3.eu-west-1.amazonaws.com.", Kind::A),
        Outcome::Forward { .. }
    ));
    // An interface endpoint with private DNS takes the name, buckets included.
    let both = cove_model::validate::validate_text(&spec(
        "          - { name: s3i, type: interface, service: com.amazonaws.us-east-1.s3, subnets: [s1], private_ips: [10.1.1.20], private_dns_name: s3.us-east-1.amazonaws.com }\n",
    ))
    .network
    .expect("valid");
    let eni = vec![Data::A(ip("10.1.1.20"))];
    assert_eq!(a(&both, "s3.us-east-1.amazonaws.com."), eni);
    assert_eq!(a(&both, "spa-assets.s3.us-east-1.amazonaws.com."), eni);
    // execute-api's private DNS answers every API's name.
    let api = cove_model::validate::validate_text(&spec(
        "          - { name: api, type: interface, service: com.amazonaws.us-east-1.execute-api, subnets: [s1], private_ips: [10.1.1.30], private_dns_name: execute-api.us-east-1.amazonaws.com }\n",
    ))
    .network
    .expect("valid");
    assert_eq!(
        a(&api, "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com."),
        vec![Data::A(ip("10.1.1.30"))]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Any bytes: no panic, and whatever is sent back parses as a response.
    #[test]
    fn any_bytes_are_answered_safely(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let v = view("a").expect("on");
        if let Reply::Send(b) = respond(&v, &bytes, true) {
            prop_assert!(b.len() <= 1232);
            let m = Message::from_vec(&b);
            prop_assert!(m.is_ok());
        }
    }

    /// A valid query with some bytes changed: no panic.
    #[test]
    fn mutated_queries_are_answered_safely(
        flips in proptest::collection::vec((0usize..64, any::<u8>()), 1..8),
    ) {
        let v = view("a").expect("on");
        let mut q = query("alias.db.internal.", RecordType::A, Some(1232));
        for (i, b) in flips {
            let n = q.len();
            q[i % n] = b;
        }
        let _ = respond(&v, &q, true);
    }
}
