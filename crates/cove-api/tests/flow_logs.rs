//! Flow-log records and metering through the API (issue 14), against SQLite and
//! PostgreSQL: each tenant reads its own VPCs' records only — two tenants with a
//! VPC and a flow log of the same names never see each other's — filtered like
//! `cove flows`; bad filters name their parameter; metering is the caller's own.

mod common;

use serde_json::json;

use common::Server;
use cove_testdb::{TestDb, both};

both!(each_tenant_reads_its_own_flow_logs_and_metering);

fn spec() -> serde_json::Value {
    json!({
        "vpcs": [{
            "name": "data",
            "cidr": "10.66.0.0/16",
            "subnets": [{ "name": "s", "cidr": "10.66.1.0/24", "az": "us-east-1a" }],
            "enis": [{ "name": "db", "subnet": "s" }],
            "flow_logs": [{ "name": "all", "max_aggregation_interval": 60 }],
        }],
    })
}

async fn each_tenant_reads_its_own_flow_logs_and_metering(db: TestDb) {
    let srv = Server::start(db).await;
    let (_, a, _) = srv.tenant("acme", None).await;
    let (_, b, _) = srv.tenant("bolt", None).await;
    srv.ok(200, "PUT", "/v1/spec", &a, Some(spec())).await;
    srv.ok(200, "PUT", "/v1/spec", &b, Some(spec())).await;
    // The collector's files (as `cove serve` writes them).
    let flows = srv.state_dir().join("flow-logs");
    for (tenant, lines) in [
        (
            "acme",
            "2 111111111111 eni-aaa 10.66.1.4 10.66.1.9 40000 5432 6 10 840 1000 1010 ACCEPT OK\n\
             2 111111111111 eni-aaa 10.66.1.9 10.66.1.4 5432 40000 6 8 640 1000 1010 ACCEPT OK\n",
        ),
        (
            "bolt",
            "2 222222222222 eni-bbb 10.66.1.4 10.66.1.7 41000 443 6 3 180 2000 2001 ACCEPT OK\n",
        ),
    ] {
        let dir = flows.join(tenant).join("data");
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("all.log"), lines).expect("write");
    }

    let all = srv.ok(200, "GET", "/v1/flow-logs", &a, None).await;
    let records = all["records"].as_array().expect("records");
    assert_eq!(records.len(), 2, "{}", all);
    assert!(
        records
            .iter()
            .all(|r| r["flow_log"] == "data/all" && r["interface-id"] == "eni-aaa")
    );
    assert_eq!(records[0]["bytes"], 840);
    assert_eq!(all["truncated"], false);
    let one = srv
        .ok(
            200,
            "GET",
            "/v1/flow-logs?addr=10.66.1.9&eni=eni-aaa&since=1010&log=data/all",
            &a,
            None,
        )
        .await;
    assert_eq!(one["records"].as_array().map(Vec::len), Some(2));
    let none = srv
        .ok(200, "GET", "/v1/flow-logs?action=REJECT", &a, None)
        .await;
    assert_eq!(none["records"].as_array().map(Vec::len), Some(0));
    let limited = srv.ok(200, "GET", "/v1/flow-logs?limit=1", &a, None).await;
    assert_eq!(limited["records"].as_array().map(Vec::len), Some(1));
    assert_eq!(limited["truncated"], true);
    // The other tenant: its own record only, even naming the same flow log or the
    // first tenant's interface.
    let theirs = srv
        .ok(200, "GET", "/v1/flow-logs?log=data/all", &b, None)
        .await;
    let records = theirs["records"].as_array().expect("records");
    assert_eq!(records.len(), 1, "{}", theirs);
    assert_eq!(records[0]["interface-id"], "eni-bbb");
    let peek = srv
        .ok(200, "GET", "/v1/flow-logs?eni=eni-aaa", &b, None)
        .await;
    assert_eq!(peek["records"].as_array().map(Vec::len), Some(0));
    // Bad filters.
    let bad = srv
        .send("GET", "/v1/flow-logs?addr=nope", Some(&a), None, None)
        .await;
    assert_eq!((bad.status, bad.code()), (400, "InvalidParameterValue"));
    assert_eq!(bad.json["error"]["field"], "addr");
    let bad = srv
        .send("GET", "/v1/flow-logs?action=DROP", Some(&a), None, None)
        .await;
    assert_eq!(bad.json["error"]["field"], "action");
    let missing = srv
        .send("GET", "/v1/flow-logs?log=data/nope", Some(&a), None, None)
        .await;
    assert_eq!(
        (missing.status, missing.code()),
        (404, "InvalidFlowLogId.NotFound")
    );

    // Metering: the month's file holds both tenants; each reads its own.
    let month = cove_deploy::metering::Month::now();
    let totals: cove_deploy::metering::Totals = serde_json::from_value(json!({
        "tenants": {
            "acme": { "peering": { "bytes": 5000, "packets": 5 }, "intra-vpc": { "bytes": 70, "packets": 1 } },
            "bolt": { "endpoint": { "bytes": 9000, "packets": 9 } },
        },
        "functions": {
            "acme/orders": { "peering": { "bytes": 5000, "packets": 5 } },
            "bolt/pay": { "endpoint": { "bytes": 9000, "packets": 9 } },
        },
    }))
    .expect("totals");
    cove_deploy::metering::save(&srv.state_dir().join("metering"), &month, &totals).expect("save");
    let m = srv.ok(200, "GET", "/v1/metering", &a, None).await;
    assert_eq!(m["month"], month.text());
    assert_eq!(m["private_bytes"], 5000);
    assert_eq!(m["paths"]["peering"]["bytes"], 5000);
    assert!(m["functions"].get("bolt/pay").is_none(), "{}", m);
    assert_eq!(m["functions"]["acme/orders"]["peering"]["packets"], 5);
    let m = srv.ok(200, "GET", "/v1/metering", &b, None).await;
    assert_eq!(m["private_bytes"], 9000);
    assert!(m["paths"].get("peering").is_none());
    let bad = srv
        .send("GET", "/v1/metering?month=2026-13", Some(&a), None, None)
        .await;
    assert_eq!(bad.json["error"]["field"], "month");
    let old = srv
        .ok(200, "GET", "/v1/metering?month=1999-01", &a, None)
        .await;
    assert_eq!(old["private_bytes"], 0);
}
