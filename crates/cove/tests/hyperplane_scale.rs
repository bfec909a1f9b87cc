//! Issue 17's connection limit with real traffic (prefix `hps…`): `cove serve`
//! (its limit scaled down from Lambda's 65,000 to 20 connections per shared ENI)
//! counts the router's tracked connections per shared ENI; when an environment
//! holds 25 connections through the combination's only ENI, the reconciler
//! records a second ENI for the combination and applies it with no command. The
//! open connections keep working across the change; the function's other
//! environment now sends from the second ENI's address (the top of the subnet),
//! the first environment still from the first; `cove status` lists both.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`).

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use cove_model::FunctionId;
use cove_plan::names::Names;

use common::Deployment;
use common::tcp::{connect_from, db_server, echoes};

const SPEC: &str = r#"
tenants:
  - name: t
    vpcs:
      - name: v
        cidr: 10.80.0.0/16
        subnets:
          - { name: a, cidr: 10.80.1.0/24, az: us-east-1a }
        security_groups:
          - name: fn
          - name: db
            ingress:
              - { protocol: tcp, ports: 5432, security_group: fn }
        enis:
          - { name: db, subnet: a, private_ip: 10.80.1.10, security_groups: [db] }
        functions:
          - { name: f, runtime: python3.11, handler: app.handler, code: ./code, subnets: [a], security_groups: [fn], concurrency: 2 }
"#;

/// The hang guard of every wait.
const GUARD: Duration = Duration::from_secs(30);

#[test]
fn a_shared_eni_past_its_connection_limit_gets_a_second_one_with_no_command() {
    if !cove_probe::privileged("hyperplane_scale") {
        return;
    }
    let d = Deployment::new("hps");
    let (_dir, spec, net) = d.apply_text(SPEC);
    let names = Names::new(&net, &d.prefix);
    let first = net.enis[net.find_eni("fn:f").expect("fn:f").index()].private_ip;
    let second = Ipv4Addr::new(10, 80, 1, 254);
    let env0 = names.env_ns(FunctionId(0), 0);
    let env1 = names.env_ns(FunctionId(0), 1);
    let db_ip = Ipv4Addr::new(10, 80, 1, 10);
    let db = db_server(
        &names.eni_ns(net.find_eni("t/v/db").expect("db")),
        db_ip,
        5432,
    );

    let log = d.state.path().join("serve.log");
    let _serve = d.serve(&["--shared-eni-connections", "20"], &log);

    // 25 connections from environment 0, all through the only shared ENI.
    let mut held: Vec<_> = (0..25)
        .map(|i| connect_from(&env0, db_ip, 5432, 0).unwrap_or_else(|e| panic!("conn {i}: {e}")))
        .collect();
    let peers = db.wait_for(25, GUARD);
    assert!(
        peers.iter().all(|p| p.ip() == first),
        "all from the first ENI: {peers:?}"
    );

    // The reconciler records a second ENI for the combination and applies it.
    let started = Instant::now();
    let doc = loop {
        let doc = d.status_json(&spec);
        let enis = doc["shared_enis"].as_array().cloned().unwrap_or_default();
        if enis.len() == 2 && doc["in_sync"] == serde_json::Value::Bool(true) {
            break doc;
        }
        assert!(
            started.elapsed() < GUARD,
            "no second shared ENI after {GUARD:?}: {doc}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!(
        "second shared ENI applied {:?} after the connections were open",
        started.elapsed()
    );
    let enis = doc["shared_enis"].as_array().expect("list");
    assert_eq!(enis[1]["eni"], "t/v/hpl:a:fn:2", "{doc}");
    assert_eq!(enis[1]["address"], second.to_string(), "{doc}");
    assert_eq!(enis[0]["environments"], 1, "{doc}");
    assert_eq!(enis[1]["environments"], 1, "{doc}");

    // The open connections still carry data both ways.
    for (i, (s, byte)) in held.iter_mut().zip((b'a'..=b'z').cycle()).enumerate() {
        assert!(echoes(s, byte), "connection {i} broke");
    }
    // Environment 1 now sends from the second ENI, environment 0 still from the
    // first.
    let _c1 = connect_from(&env1, db_ip, 5432, 0).expect("env 1");
    let _c0 = connect_from(&env0, db_ip, 5432, 0).expect("env 0");
    let peers = db.wait_for(27, GUARD);
    assert_eq!(peers.len(), 27, "{peers:?}");
    let last: Vec<_> = peers[25..].iter().map(std::net::SocketAddr::ip).collect();
    assert!(
        last.contains(&std::net::IpAddr::V4(second)) && last.contains(&std::net::IpAddr::V4(first)),
        "env 1 from {second}, env 0 from {first}: {last:?}"
    );
    // The analyzer knows the second ENI as an ordinary one of the combination.
    let out = d
        .process()
        .args([
            "check",
            "--from",
            "t/v/hpl:a:fn:2",
            "--to",
            "t/v/db",
            "--proto",
            "tcp",
            "--port",
            "5432",
        ])
        .output()
        .expect("check");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
