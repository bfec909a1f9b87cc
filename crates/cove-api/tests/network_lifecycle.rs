//! A network through the API until the reconciler's record makes it `ready`: its
//! NAT pair's failover state, `GET /v1/whoami`, `GET /v1/topology`, rename, delete.

mod common;

use serde_json::{Value, json};

use common::Server;
use cove_testdb::{TestDb, both};

both!(network_lifecycle_through_the_reconciler_record);

async fn network_lifecycle_through_the_reconciler_record(db: TestDb) {
    let srv = Server::start(db).await;
    srv.pool(&["203.0.113.8/30"]).await;
    let (_, ta, _) = srv.tenant("alpha", None).await;
    let n = srv
        .ok(
            201,
            "POST",
            "/v1/connect/networks",
            &ta,
            Some(json!({ "name": "n", "region": "us-east-1" })),
        )
        .await;
    let id = n["id"].as_str().expect("id").to_owned();
    common::reconcile_record(&srv).await;
    let ready = srv
        .ok(200, "GET", &format!("/v1/connect/networks/{id}"), &ta, None)
        .await;
    assert_eq!(ready["status"], "ready");
    // The static IP pair fails over as a pair; each gateway carries its own IP.
    assert_eq!(ready["nat_failover"], "pair", "{ready}");
    let f = &ready["failover"];
    assert_eq!(f["mode"], "pair", "{ready}");
    let gws = f["gateways"].as_array().expect("gateways");
    assert_eq!(gws.len(), 2, "{ready}");
    for g in gws {
        assert_eq!(g["carried_by"], g["name"], "{ready}");
        assert!(
            g["partner"].is_string() && g["partner"] != g["name"],
            "{ready}"
        );
        assert!(g["since"].is_null(), "{ready}");
    }
    // Who the token is, and the network's picture: its VPC, public and private
    // subnets, and the NAT pair with the static IPs.
    let me = srv.ok(200, "GET", "/v1/whoami", &ta, None).await;
    assert_eq!(
        (me["kind"].as_str(), me["tenant_name"].as_str()),
        (Some("tenant"), Some("alpha")),
        "{me}"
    );
    let admin = srv.ok(200, "GET", "/v1/whoami", &srv.admin, None).await;
    assert_eq!(admin["kind"], "admin", "{admin}");
    assert!(admin["tenant_id"].is_null(), "{admin}");
    let topo = srv.ok(200, "GET", "/v1/topology", &ta, None).await;
    let vpcs = topo["vpcs"].as_array().expect("vpcs");
    assert_eq!(vpcs.len(), 1, "{topo}");
    assert_eq!(vpcs[0]["name"], id.as_str(), "{topo}");
    assert_eq!(vpcs[0]["network"], "n", "{topo}");
    assert_eq!(vpcs[0]["vpc_id"], ready["vpc_id"], "{topo}");
    let publics: Vec<bool> = vpcs[0]["subnets"]
        .as_array()
        .expect("subnets")
        .iter()
        .map(|s| s["public"].as_bool().expect("public"))
        .collect();
    assert_eq!(publics, [true, true, false, false], "{topo}");
    let mut nat_ips: Vec<String> = vpcs[0]["nat_gateways"]
        .as_array()
        .expect("nats")
        .iter()
        .flat_map(|n| n["public_ips"].as_array().expect("ips").clone())
        .map(|ip| ip.as_str().expect("ip").to_owned())
        .collect();
    nat_ips.sort();
    let mut static_ips: Vec<String> = ready["static_ips"]
        .as_array()
        .expect("static ips")
        .iter()
        .map(|ip| ip.as_str().expect("ip").to_owned())
        .collect();
    static_ips.sort();
    assert_eq!(nat_ips, static_ips, "{topo}");
    let renamed = srv
        .ok(
            200,
            "PATCH",
            &format!("/v1/connect/networks/{id}"),
            &ta,
            Some(json!({ "name": "m" })),
        )
        .await;
    assert_eq!(
        (renamed["name"].as_str(), renamed["static_ips"].clone()),
        (Some("m"), n["static_ips"].clone())
    );
    // The pool of 4 holds two pairs: a second network takes the other two.
    let full = srv
        .send(
            "POST",
            "/v1/connect/networks",
            Some(&ta),
            Some(&json!({ "name": "o", "region": "us-east-1", "cidr": "10.9.0.0/16" })),
            None,
        )
        .await;
    assert_eq!(full.status, 201, "{}", full.text);
    let none = srv
        .send(
            "POST",
            "/v1/connect/networks",
            Some(&ta),
            Some(&json!({ "name": "p", "region": "us-east-1", "cidr": "10.8.0.0/16" })),
            None,
        )
        .await;
    assert_eq!(
        (none.status, none.code()),
        (503, "InsufficientAddressCapacity"),
        "{}",
        none.text
    );
    let del = srv
        .ok(
            202,
            "DELETE",
            &format!("/v1/connect/networks/{id}"),
            &ta,
            None,
        )
        .await;
    assert_eq!(del["status"], "deleting");
    // The reconciler's record removes the document (a Delete of the tenant's
    // network) and releases its IPs: a new network gets them.
    common::reconcile_record(&srv).await;
    let gone = srv
        .send(
            "GET",
            &format!("/v1/connect/networks/{id}"),
            Some(&ta),
            None,
            None,
        )
        .await;
    assert_eq!(gone.status, 404);
    let again = srv
        .ok(
            201,
            "POST",
            "/v1/connect/networks",
            &ta,
            Some(json!({ "name": "p", "region": "us-east-1", "cidr": "10.8.0.0/16" })),
        )
        .await;
    let mut got: Vec<Value> = again["static_ips"].as_array().expect("ips").clone();
    let mut old: Vec<Value> = n["static_ips"].as_array().expect("ips").clone();
    got.sort_by_key(|v| v.to_string());
    old.sort_by_key(|v| v.to_string());
    assert_eq!(got, old, "released IPs are reused");
}
