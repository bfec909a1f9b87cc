//! A function's flows carry its invocation id (issue 14; root, `CI=true`): each
//! invocation of a real Python function opens a connection to a database ENI,
//! and the flow-log records of that connection at the function's shared ENI
//! name the function (`cove-function`) and exactly the invocation that opened
//! it (`cove-invocation-id`, the `x-amzn-RequestId` the Invoke API answered).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::time::Duration;

use common::Deployment;
use common::flows::lines_of;
use common::functions::{deploy_python, runtimes_ready, serve};
use common::tcp::db_server;
use cove_plan::names::Names;

const SPEC: &str = "tenants:
  - name: t
    vpcs:
      - name: v
        cidr: 10.78.0.0/16
        subnets:
          - { name: s, cidr: 10.78.1.0/24, az: us-east-1a }
        security_groups:
          - name: fn
          - name: db
            ingress:
              - { protocol: tcp, ports: 5432, security_group: fn }
        enis:
          - { name: db, subnet: s, private_ip: 10.78.1.20, security_groups: [db] }
        flow_logs:
          - name: fn
            max_aggregation_interval: 1
            file_format: json
            log_format: '${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${action} ${flow-direction} ${cove-function} ${cove-invocation-id}'
";

const DB: Ipv4Addr = Ipv4Addr::new(10, 78, 1, 20);
const INVOCATIONS: usize = 4;

#[test]
fn a_functions_flows_carry_its_invocation_id() {
    if !cove_probe::privileged("flow_log_invocations") || !runtimes_ready() {
        return;
    }
    let d = Deployment::new("fi");
    let (_dir, _spec, net) = d.apply_text(SPEC);
    let names = Names::new(&net, &d.prefix);
    let _db = db_server(&names.eni_ns(net.find_eni("t/v/db").expect("db")), DB, 5432);
    deploy_python(
        &d,
        "caller",
        &[
            "--subnets",
            "t/v/s",
            "--security-groups",
            "fn",
            "--concurrency",
            "1",
            "--timeout",
            "10",
        ],
    );
    let (_serve, addr) = serve(&d, &[]);
    common::flows::wait_for_collector(&d);
    let mut request_ids = BTreeSet::new();
    let event = serde_json::json!({"op": "connect", "host": DB.to_string(), "port": 5432});
    for i in 0..INVOCATIONS {
        let (status, head, body) = common::functions::http(
            addr,
            "POST",
            "/2015-03-31/functions/caller/invocations",
            event.to_string().as_bytes(),
        );
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON answer");
        assert_eq!(v["result"], "ok", "invocation {i}: {v}");
        let id = head
            .lines()
            .find_map(|l| {
                l.strip_prefix("x-amzn-RequestId: ")
                    .or_else(|| l.strip_prefix("x-amzn-requestid: "))
            })
            .unwrap_or_else(|| panic!("no request id: {head}"));
        request_ids.insert(id.trim().to_owned());
        // Apart in time, so that each connection's start falls in its invocation.
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(request_ids.len(), INVOCATIONS);

    let shared_ip = common::functions::slot_ips(&d, "caller")[0].clone();
    let path = d.state.path().join(&d.prefix).join("flow-logs/t/v/fn.log");
    let to_db = |l: &str| l.contains("\"dstport\":5432") && l.contains("\"egress\"");
    lines_of(&path, INVOCATIONS, to_db);
    std::thread::sleep(Duration::from_secs(2));
    let lines = lines_of(&path, INVOCATIONS, |_| true);
    // The function's connections, at its shared ENI: source port → invocation.
    let mut by_port: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for l in &lines {
        let r: serde_json::Value = serde_json::from_str(l).expect("JSON record");
        if r["dstaddr"] != DB.to_string() || r["flow-direction"] != "egress" {
            continue;
        }
        // At the shared ENI, the address the VPC sees.
        assert_eq!(r["srcaddr"], shared_ip, "{r}");
        assert_eq!(r["cove-function"], "t/caller", "{r}");
        let id = r["cove-invocation-id"]
            .as_str()
            .unwrap_or_else(|| panic!("no invocation id: {r}"));
        assert!(request_ids.contains(id), "{id} is no invocation's: {r}");
        by_port
            .entry(r["srcport"].as_u64().expect("port"))
            .or_default()
            .insert(id.to_owned());
    }
    assert_eq!(
        by_port.len(),
        INVOCATIONS,
        "one connection each: {lines:#?}"
    );
    assert!(
        by_port.values().all(|ids| ids.len() == 1),
        "a connection's records name one invocation: {by_port:?}"
    );
    let named: BTreeSet<String> = by_port.into_values().flatten().collect();
    assert_eq!(named, request_ids, "every invocation's connection is named");
}
