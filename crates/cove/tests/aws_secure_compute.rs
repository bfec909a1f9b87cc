//! The Secure Compute picture built with the AWS clients only (issue 13): two
//! tenants, each a network (cove's API: the platform's part); with EC2's API a
//! cross-account peering requested with one tenant's key and accepted with the
//! other's, a route table, a network ACL and the database's security group; with
//! `aws lambda create-function` a function in the app network's private subnets.
//! Its packets reach the database in the peered network only once the database's
//! group lets them in. Then a VPC made with EC2 alone (internet gateway, a NAT
//! gateway with an Elastic IP, route tables) whose function reaches the database's
//! Elastic IP from the NAT gateway's (`tests/aws_secure_compute.py`). Prefixes
//! `cvhfs…`.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use serde_json::json;

use common::api_serve::{GUARD, Serve, deployment};
use common::flows::ns_with;
use common::functions::runtimes_ready;

/// The database's stand-in: on `ip:5432` in `ns`, answers each connection with
/// `cove-db <client address>` and closes it.
fn database(ns: &str, ip: Ipv4Addr) {
    let listener: TcpListener =
        cove_probe::in_namespace(ns, move || TcpListener::bind(SocketAddr::from((ip, 5432))))
            .expect("namespace")
            .expect("listen");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { break };
            let peer = c
                .peer_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default();
            let _ = c.write_all(format!("cove-db {peer}\n").as_bytes());
            let mut rest = [0u8; 64];
            let _ = c.read(&mut rest);
        }
    });
}

#[test]
fn the_aws_clients_build_secure_compute_and_a_function_reaches_the_peered_database() {
    if !cove_probe::privileged("aws secure compute") || !runtimes_ready() {
        return;
    }
    let d = deployment("s");
    let s = Serve::start(&d);
    s.ok(
        200,
        "PUT",
        "/v1/ip-pool",
        &s.admin,
        Some(json!({ "blocks": ["198.51.100.0/28"] })),
    );
    let (app_tenant, app, _) = s.tenant("app");
    let (db_tenant, db, _) = s.tenant("data");
    let mut nets = Vec::new();
    for (token, name, cidr) in [(&app, "web", "10.73.0.0/16"), (&db, "db", "10.74.0.0/16")] {
        let n = s.ok(
            201,
            "POST",
            "/v1/connect/networks",
            token,
            Some(json!({ "name": name, "region": "us-east-1", "cidr": cidr })),
        );
        nets.push(n);
    }
    let db_ip = Ipv4Addr::new(10, 74, 128, 5);
    // The database's interface in its network's public subnet (public-a), given
    // an Elastic IP with EC2's API.
    let edge_db_ip = Ipv4Addr::new(10, 74, 0, 10);
    s.ok(
        200,
        "PUT",
        "/v1/spec",
        &db,
        Some(json!({ "vpcs": [{ "name": "db", "enis": [
            { "name": "postgres", "subnet": "private-a", "private_ip": db_ip.to_string() },
            { "name": "edge", "subnet": "public-a", "private_ip": edge_db_ip.to_string() }
        ] }] })),
    );
    for (token, n) in [(&app, &nets[0]), (&db, &nets[1])] {
        let id = n["id"].as_str().expect("id");
        s.wait_for(
            &format!("/v1/connect/networks/{id}"),
            token,
            "status",
            "ready",
        );
    }
    let started = Instant::now();
    let ns = loop {
        let found = d
            .namespaces()
            .into_iter()
            .any(|n| n.starts_with(&format!("{}-e-", d.prefix)));
        let both = || (ns_with(&d, db_ip), ns_with(&d, edge_db_ip));
        if found && std::panic::catch_unwind(both).is_ok() {
            break both();
        }
        assert!(
            started.elapsed() < GUARD,
            "the database ENI never appeared:\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    database(&ns.0, db_ip);
    database(&ns.1, edge_db_ip);
    let app_key = s.ok(200, "GET", "/v1/access-key", &app, None);
    let db_key = s.ok(200, "GET", "/v1/access-key", &db, None);
    let cfg = d.state.path().join("aws.json");
    std::fs::write(
        &cfg,
        json!({
            "endpoint": s.base,
            "app_account": app_tenant["account_id"],
            "db_account": db_tenant["account_id"],
            "web_vpc": nets[0]["vpc_id"],
            "db_vpc": nets[1]["vpc_id"],
            "db_ip": db_ip.to_string(),
            "edge_db_ip": edge_db_ip.to_string(),
            "static_ips": nets[0]["static_ips"],
            "app_key": app_key["access_key_id"],
            "app_secret": app_key["secret_access_key"],
            "db_key": db_key["access_key_id"],
            "db_secret": db_key["secret_access_key"],
        })
        .to_string(),
    )
    .expect("config");
    let steps = s.run_checks(
        "aws_secure_compute.py",
        &cfg,
        &[
            "peered",
            "tables",
            "acl",
            "endpoint",
            "addresses",
            "created",
            "blocked",
            "allowed",
            "edge built",
            "through the nat",
            "over the vpc's peering",
            "isolated",
        ],
    );
    eprintln!("{steps}");
}
