//! From conntrack readings to rendered records, on a small network.

use std::net::SocketAddrV4;

use cove_model::Network;
use cove_model::validate::validate_text;

use crate::ct::{Counts, CtFlow, Deltas, tcp_state};
use crate::directory::Directory;
use crate::record::{Action, eni_id, render_json, render_text};
use crate::window::Aggregator;

/// VPC `v` (10.72.0.0/16) with `a` 10.72.1.10 and `b` 10.72.1.20, and the flow
/// logs `logs` (YAML list items).
fn net(logs: &str) -> Network {
    let v = validate_text(&format!(
        "tenants:
  - name: t
    account_id: '111122223333'
    vpcs:
      - name: v
        cidr: 10.72.0.0/16
        subnets:
          - {{ name: s, cidr: 10.72.1.0/24, az: us-east-1a }}
        security_groups:
          - {{ name: open, ingress: [ {{ protocol: all, cidr: 10.72.0.0/16 }} ] }}
        enis:
          - {{ name: a, subnet: s, private_ip: 10.72.1.10, security_groups: [open] }}
          - {{ name: b, subnet: s, private_ip: 10.72.1.20, security_groups: [open] }}
        flow_logs:
{logs}"
    ));
    v.network.unwrap_or_else(|| panic!("{:#?}", v.diagnostics))
}

fn sa(s: &str) -> SocketAddrV4 {
    s.parse().expect("address")
}

/// A TCP connection a:40000 → b:5432 in the VPC's zone.
fn connection(net: &Network, orig: (u64, u64), reply: (u64, u64), state: u8) -> CtFlow {
    let zone = cove_plan::zones::Zones::new(net).vpc(net.enis[0].vpc);
    CtFlow {
        id: 42,
        zone,
        proto: 6,
        orig: (sa("10.72.1.10:40000"), sa("10.72.1.20:5432")),
        reply: (sa("10.72.1.20:5432"), sa("10.72.1.10:40000")),
        orig_counts: Counts {
            packets: orig.0,
            bytes: orig.1,
        },
        reply_counts: Counts {
            packets: reply.0,
            bytes: reply.1,
        },
        start_ns: Some(1_000_000_000_100),
        tcp_state: Some(state),
    }
}

#[test]
fn a_connection_gives_four_records_per_window_in_aws_text() {
    let net = net("          - { name: all, max_aggregation_interval: 60 }\n");
    let dir = Directory::new(&net, "cvfl");
    let mut deltas = Deltas::default();
    let mut agg = Aggregator::default();
    // Two readings in the window 960–1020, the connection ending at the second.
    let first = deltas.read(
        vec![],
        vec![connection(
            &net,
            (5, 400),
            (4, 1000),
            tcp_state::ESTABLISHED,
        )],
    );
    for m in &first {
        for s in dir.seen(m) {
            agg.add(&net, 1000, &s, Action::Accept, &mut |_| None);
        }
    }
    let second = deltas.read(
        vec![connection(&net, (7, 520), (6, 1100), tcp_state::TIME_WAIT)],
        vec![],
    );
    for m in &second {
        for s in dir.seen(m) {
            agg.add(&net, 1010, &s, Action::Accept, &mut |_| None);
        }
    }
    assert!(
        agg.flush(&net, 1019, false).is_empty(),
        "the window is open"
    );
    let records = agg.flush(&net, 1020, false);
    let log = &net.flow_logs[0];
    let text: Vec<String> = records.iter().map(|r| render_text(&net, log, r)).collect();
    let (a, b) = (
        eni_id(&net, net.vpcs[0].enis[0]),
        eni_id(&net, net.vpcs[0].enis[1]),
    );
    let mut want = vec![
        format!("2 111122223333 {a} 10.72.1.10 10.72.1.20 40000 5432 6 7 520 1000 1010 ACCEPT OK"),
        format!("2 111122223333 {b} 10.72.1.10 10.72.1.20 40000 5432 6 7 520 1000 1010 ACCEPT OK"),
        format!("2 111122223333 {b} 10.72.1.20 10.72.1.10 5432 40000 6 6 1100 1000 1010 ACCEPT OK"),
        format!("2 111122223333 {a} 10.72.1.20 10.72.1.10 5432 40000 6 6 1100 1000 1010 ACCEPT OK"),
    ];
    let mut got = text.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    assert!(a.starts_with("eni-") && a.len() == 21, "{a}");
}

#[test]
fn scopes_traffic_types_and_custom_fields_select_and_shape_records() {
    let net = net(
        "          - { name: b-only, eni: b, max_aggregation_interval: 1, \
         log_format: '${interface-id} ${flow-direction} ${tcp-flags} ${traffic-path} ${pkt-srcaddr} ${cove-nat-srcaddr}', file_format: json }
          - { name: rejects, traffic_type: REJECT, max_aggregation_interval: 1 }\n",
    );
    let dir = Directory::new(&net, "cvfl");
    let mut deltas = Deltas::default();
    let mut agg = Aggregator::default();
    for m in deltas.read(
        vec![],
        vec![connection(&net, (3, 180), (2, 120), tcp_state::ESTABLISHED)],
    ) {
        for s in dir.seen(&m) {
            agg.add(&net, 500, &s, Action::Accept, &mut |_| None);
        }
    }
    let records = agg.flush(&net, 501, false);
    // Only b's two records, none for the REJECT-only log.
    assert_eq!(records.len(), 2, "{records:#?}");
    assert!(records.iter().all(|r| r.log == 0));
    let log = &net.flow_logs[0];
    let b = eni_id(&net, net.vpcs[0].enis[1]);
    let mut json: Vec<String> = records.iter().map(|r| render_json(&net, log, r)).collect();
    json.sort();
    assert_eq!(
        json,
        vec![
            format!(
                r#"{{"interface-id":"{b}","flow-direction":"egress","tcp-flags":18,"traffic-path":1,"pkt-srcaddr":"10.72.1.20","cove-nat-srcaddr":null}}"#
            ),
            format!(
                r#"{{"interface-id":"{b}","flow-direction":"ingress","tcp-flags":2,"traffic-path":null,"pkt-srcaddr":"10.72.1.10","cove-nat-srcaddr":null}}"#
            ),
        ]
    );
}

#[test]
fn an_address_outside_every_zone_is_nobody() {
    let net = net("          - { name: all }\n");
    let dir = Directory::new(&net, "cvfl");
    let mut flow = connection(&net, (1, 60), (0, 0), tcp_state::SYN_SENT);
    flow.zone = 0;
    let mut deltas = Deltas::default();
    let moved = deltas.read(vec![], vec![flow]);
    assert!(dir.seen(&moved[0]).is_empty());
}

#[test]
fn the_meter_counts_each_packet_once_where_it_left() {
    let net = net("          - { name: all }\n");
    let dir = Directory::new(&net, "cvfl");
    let mut deltas = Deltas::default();
    let mut meter = crate::Meter::default();
    for m in deltas.read(
        vec![],
        vec![connection(
            &net,
            (5, 400),
            (4, 1000),
            tcp_state::ESTABLISHED,
        )],
    ) {
        for s in dir.seen(&m) {
            assert_eq!(s.path, crate::PathKind::IntraVpc);
            meter.add(&net, &s);
        }
    }
    let sent = meter.tenants[&("t".to_owned(), crate::PathKind::IntraVpc)];
    assert_eq!(
        sent,
        Counts {
            packets: 9,
            bytes: 1400
        }
    );
    assert!(meter.functions.is_empty());
    // Within a VPC is not private data transfer.
    assert_eq!(meter.private_bytes().get("t"), None);
}

#[test]
fn accepted_records_name_the_rules_at_their_interface() {
    let net = net("          - { name: why, max_aggregation_interval: 1, \
         log_format: '${interface-id} ${flow-direction} ${cove-rule} ${cove-reason}', file_format: json }\n");
    let dir = Directory::new(&net, "cvfl");
    let an = cove_analyze::Analyzer::new(&net);
    let mut deltas = Deltas::default();
    let mut agg = Aggregator::default();
    let mut asked = 0;
    for m in deltas.read(
        vec![],
        vec![connection(&net, (3, 180), (2, 120), tcp_state::ESTABLISHED)],
    ) {
        for s in dir.seen(&m) {
            agg.add(&net, 700, &s, Action::Accept, &mut |s| {
                asked += 1;
                crate::explain::accepted_by(&an, s)
            });
        }
    }
    assert_eq!(asked, 4, "once per new record");
    let records = agg.flush(&net, 701, false);
    let log = &net.flow_logs[0];
    let rows: Vec<serde_json::Value> = records
        .iter()
        .map(|r| serde_json::from_str(&render_json(&net, log, r)).expect("json"))
        .collect();
    for r in &rows {
        let rule = r["cove-rule"].as_str().unwrap_or_default();
        let reply = r["cove-reason"]
            .as_str()
            .is_some_and(|s| s.starts_with("reply"));
        match r["flow-direction"].as_str() {
            // Replies within a subnet: nothing decides (security groups are
            // stateful; ACLs do not apply within a subnet).
            Some(_) if reply => assert!(r["cove-rule"].is_null(), "{r}"),
            // Arriving: the receiver's security group.
            Some("ingress") => {
                assert!(
                    rule.contains("security-group-ingress: t/v/open — inbound rule #0"),
                    "{r}"
                );
                assert!(!rule.contains("route-table"), "{r}");
            }
            // Leaving: the sender's security group, the route.
            Some("egress") => {
                assert!(rule.contains("route-table: route table t/v/main"), "{r}");
                assert!(rule.contains("security-group-egress: t/v/open"), "{r}");
            }
            other => panic!("{other:?}"),
        }
    }
    // In AWS's text format the words of a rule keep the record's shape.
    let text = render_text(&net, log, &records[0]);
    assert_eq!(text.split(' ').count(), log.fields.len(), "{text}");
    let back = crate::query::parse_line(
        &cove_model::flowlog::FlowLog {
            file_format: cove_model::flowlog::FileFormat::Text,
            ..log.clone()
        },
        &text,
    )
    .expect("parses");
    assert_eq!(
        back[2].1.as_deref(),
        rows.iter()
            .find(|r| r["interface-id"] == back[0].1.as_deref().unwrap_or_default())
            .and(records[0].rule.as_deref())
    );
    // The replies are said to be replies.
    assert_eq!(
        rows.iter()
            .filter(|r| r["cove-reason"]
                .as_str()
                .is_some_and(|s| s.starts_with("reply")))
            .count(),
        2
    );
}

#[test]
fn an_environments_connection_is_its_functions_at_its_shared_eni() {
    let v = validate_text(
        "tenants:
  - name: t
    vpcs:
      - name: v
        cidr: 10.73.0.0/16
        subnets:
          - { name: s, cidr: 10.73.1.0/24, az: us-east-1a }
        security_groups:
          - { name: open, ingress: [ { protocol: all, cidr: 10.73.0.0/16 } ] }
        enis:
          - { name: db, subnet: s, private_ip: 10.73.1.20, security_groups: [open] }
        functions:
          - { name: f, runtime: python3.11, handler: app.handler, code: ./c, subnets: [s], security_groups: [open], concurrency: 1 }
        flow_logs:
          - { name: all, max_aggregation_interval: 1, log_format: '${interface-id} ${srcaddr} ${flow-direction} ${cove-function}' }
",
    );
    let net = v.network.unwrap_or_else(|| panic!("{:#?}", v.diagnostics));
    let names = cove_plan::names::Names::new(&net, "cvfl");
    let env = cove_plan::environments::environments(&net, &names).expect("environments")[0].clone();
    let zone = cove_plan::zones::Zones::new(&net).vpc(net.enis[0].vpc);
    // The environment's link-local address opens the connection; the router
    // translates it to the shared ENI's address (the reply goes there).
    let shared_ip = net.enis[env.shared_eni.index()].private_ip;
    let flow = CtFlow {
        id: 7,
        zone,
        proto: 6,
        orig: (SocketAddrV4::new(env.address, 40000), sa("10.73.1.20:5432")),
        reply: (sa("10.73.1.20:5432"), SocketAddrV4::new(shared_ip, 40000)),
        orig_counts: Counts {
            packets: 4,
            bytes: 300,
        },
        reply_counts: Counts {
            packets: 3,
            bytes: 200,
        },
        start_ns: None,
        tcp_state: Some(tcp_state::ESTABLISHED),
    };
    let dir = Directory::new(&net, "cvfl");
    let mut deltas = Deltas::default();
    let mut meter = crate::Meter::default();
    let mut agg = Aggregator::default();
    for m in deltas.read(vec![], vec![flow]) {
        for s in dir.seen(&m) {
            meter.add(&net, &s);
            agg.add(&net, 900, &s, Action::Accept, &mut |_| None);
        }
    }
    let log = &net.flow_logs[0];
    let lines: Vec<String> = agg
        .flush(&net, 901, false)
        .iter()
        .map(|r| render_text(&net, log, r))
        .collect();
    let at_shared = eni_id(&net, env.shared_eni);
    // Leaving the environment: at its shared ENI, as the function's, from the
    // address the VPC sees (not the environment's link-local one).
    assert!(
        lines.contains(&format!("{at_shared} {shared_ip} egress t/f")),
        "{lines:#?}"
    );
    // Arriving at the database: from the shared ENI's address (translated), which
    // is no function's own view.
    let db = eni_id(&net, net.vpcs[0].enis[0]);
    assert!(
        lines.contains(&format!("{db} {shared_ip} ingress -")),
        "{lines:#?}"
    );
    // Metering: the function sent the 300 bytes.
    assert_eq!(
        meter.functions[&("t/f".to_owned(), crate::PathKind::IntraVpc)],
        Counts {
            packets: 4,
            bytes: 300
        }
    );
}
