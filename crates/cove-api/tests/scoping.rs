//! Two tenants through the API alone (real HTTP, SQLite and PostgreSQL): A creates a
//! network and reads its static IP pair, B requests a peering to it and A accepts;
//! then B tries every route of the API on A's objects: 404 (403 for the operator's
//! routes), and nothing in B's answers names A's objects.

mod common;

use std::collections::BTreeSet;

use serde_json::{Value, json};

use common::Server;
use cove_testdb::{TestDb, both};

both!(two_tenants_peer_and_see_nothing_of_each_other);

async fn two_tenants_peer_and_see_nothing_of_each_other(db: TestDb) {
    let srv = Server::start(db).await;
    srv.pool(&["203.0.113.0/29"]).await;
    let (a, ta, a_tok) = srv.tenant("alpha", None).await;
    let (b, tb, _) = srv.tenant("bravo", None).await;
    // A creates a network and reads its static IP pair.
    let na = srv
        .ok(
            201,
            "POST",
            "/v1/connect/networks",
            &ta,
            Some(json!({ "name": "alpha-secret-net", "region": "us-east-1" })),
        )
        .await;
    assert_eq!(na["status"], "creating");
    let ips = na["static_ips"].as_array().expect("ips");
    assert_eq!(ips.len(), 2, "a pair: {na}");
    for ip in ips {
        assert!(ip.as_str().expect("ip").starts_with("203.0.113."), "{ip}");
    }
    let na_id = na["id"].as_str().expect("id").to_owned();
    let got = srv
        .ok(
            200,
            "GET",
            &format!("/v1/connect/networks/{na_id}"),
            &ta,
            None,
        )
        .await;
    assert_eq!(got["static_ips"], na["static_ips"]);
    // A second network of A (for an A-only peering), and B's network.
    let na2 = srv
        .ok(
            201,
            "POST",
            "/v1/connect/networks",
            &ta,
            Some(
                json!({ "name": "alpha-hidden-2", "region": "us-east-1", "cidr": "10.77.0.0/16" }),
            ),
        )
        .await;
    let nb = srv
        .ok(
            201,
            "POST",
            "/v1/connect/networks",
            &tb,
            Some(json!({ "name": "bravo-net", "region": "us-east-1", "cidr": "10.50.0.0/16" })),
        )
        .await;
    assert!(
        nb["static_ips"]
            .as_array()
            .expect("ips")
            .iter()
            .all(|ip| !ips.contains(ip)),
        "static IPs are unique across tenants"
    );
    // B requests a peering to A's network VPC; A accepts.
    let p = srv
        .ok(
            201,
            "POST",
            "/v1/peerings",
            &tb,
            Some(json!({
                "vpc_id": nb["vpc_id"], "peer_vpc_id": na["vpc_id"],
                "peer_owner_id": a["account_id"],
            })),
        )
        .await;
    assert_eq!(p["status"], "pending-acceptance", "{p}");
    let pid = p["id"].as_str().expect("pcx").to_owned();
    let seen = srv.ok(200, "GET", "/v1/peerings", &ta, None).await;
    assert_eq!(seen[0]["id"], pid);
    assert_eq!(seen[0]["role"], "accepter");
    // The requester cannot accept its own request.
    let own = srv
        .send(
            "POST",
            &format!("/v1/peerings/{pid}/accept"),
            Some(&tb),
            None,
            None,
        )
        .await;
    assert_eq!((own.status, own.code()), (403, "OperationNotPermitted"));
    let acc = srv
        .ok(
            200,
            "POST",
            &format!("/v1/peerings/{pid}/accept"),
            &ta,
            None,
        )
        .await;
    assert_eq!(acc["status"], "provisioning");
    common::reconcile_record(&srv).await;
    let active = srv
        .ok(200, "GET", &format!("/v1/peerings/{pid}"), &tb, None)
        .await;
    assert_eq!(active["status"], "active");
    // A's own objects: a peering between its two networks, and a spec.
    let pa = srv
        .ok(
            201,
            "POST",
            "/v1/peerings",
            &ta,
            Some(json!({ "vpc_id": na["vpc_id"], "peer_vpc_id": na2["vpc_id"] })),
        )
        .await;
    let pa_id = pa["id"].as_str().expect("pcx").to_owned();
    let eip = srv
        .ok(201, "POST", "/v1/connect/addresses", &ta, None)
        .await;
    let eip_id = eip["id"].as_str().expect("eipalloc").to_owned();
    let eip_ip = eip["public_ip"].as_str().expect("address").to_owned();
    let private_a = na["subnets"]
        .as_array()
        .expect("subnets")
        .iter()
        .find(|s| s["name"] == "private-a")
        .expect("private-a")["cidr"]
        .as_str()
        .expect("cidr")
        .to_owned();
    let net: std::net::Ipv4Addr = private_a
        .split('/')
        .next()
        .expect("ip")
        .parse()
        .expect("ip");
    let db_ip = std::net::Ipv4Addr::from(u32::from(net) + 10).to_string();
    let hidden_ip = private_ip(&na2, 10);
    let spec = json!({ "vpcs": [{
        "name": "alpha-secret-net",
        "security_groups": [{ "name": "alpha-secret-sg", "ingress": [
            { "protocol": "tcp", "ports": 5432, "cidr": "10.50.0.0/16" }] }],
        "enis": [{ "name": "alpha-secret-db", "subnet": "private-a", "private_ip": db_ip,
                   "security_groups": ["alpha-secret-sg"] }],
    }, {
        "name": "alpha-hidden-2",
        "security_groups": [{ "name": "alpha-secret-sg2" }],
        "enis": [{ "name": "alpha-secret-db2", "subnet": "private-a", "private_ip": hidden_ip,
                   "security_groups": ["alpha-secret-sg2"] }],
    }], "endpoint_services": [{
        "name": "alpha-secret-svc", "vpc": "alpha-hidden-2", "targets": ["alpha-secret-db2"],
        "ports": [5432],
    }]});
    srv.ok(200, "PUT", "/v1/spec", &ta, Some(spec)).await;
    let b_ip = private_ip(&nb, 20);
    let b_spec = json!({ "vpcs": [{
        "name": "bravo-net",
        "security_groups": [{ "name": "app", "egress": [{ "protocol": "all", "cidr": "0.0.0.0/0" }] }],
        "enis": [{ "name": "app-1", "subnet": "private-a", "private_ip": b_ip, "security_groups": ["app"] }],
    }]});
    srv.ok(200, "PUT", "/v1/spec", &tb, Some(b_spec)).await;
    // Across the active peering B may ask about A's ENI by address: the answer shows
    // B's hops, and of A's side only steps and outcomes.
    let across = srv
        .ok(
            200,
            "GET",
            &format!("/v1/reachability?from=bravo-net/app-1&to={db_ip}&protocol=tcp&port=5432"),
            &tb,
            None,
        )
        .await;
    let text = across.to_string();
    assert!(text.contains("bravo/"), "B sees its own hops: {text}");
    assert!(text.contains("(the peer's side)"), "{text}");
    for s in ["alpha/", "alpha-secret", "alpha-hidden"] {
        assert!(
            !text.contains(s),
            "B's reachability names A's `{s}`: {text}"
        );
    }
    let r = srv
        .ok(
            200,
            "GET",
            &format!(
                "/v1/reachability?from={na_id}/alpha-secret-db&to=1.1.1.1&protocol=tcp&port=443"
            ),
            &ta,
            None,
        )
        .await;
    assert_eq!(r["reachable"], true, "{r}");
    assert!(
        r["verdict"]["forward"][0]["component"]
            .as_str()
            .is_some_and(|c| c.starts_with("alpha/")),
        "the tenant sees its own hops: {r}"
    );
    let a_id = a["id"].as_str().expect("id").to_owned();
    let na2_id = na2["id"].as_str().expect("id").to_owned();

    // B tries every endpoint on A's objects: 404 (or 403 for the operator's).
    let hidden = json!({ "name": "x" });
    let tries: Vec<(&str, String, Option<Value>, u16)> = vec![
        ("GET", format!("/v1/connect/networks/{na_id}"), None, 404),
        (
            "GET",
            "/v1/connect/networks/alpha-secret-net".into(),
            None,
            404,
        ),
        (
            "PATCH",
            format!("/v1/connect/networks/{na_id}"),
            Some(hidden.clone()),
            404,
        ),
        ("DELETE", format!("/v1/connect/networks/{na_id}"), None, 404),
        (
            "DELETE",
            format!("/v1/connect/addresses/{eip_id}"),
            None,
            404,
        ),
        ("GET", format!("/v1/peerings/{pa_id}"), None, 404),
        ("POST", format!("/v1/peerings/{pa_id}/accept"), None, 404),
        ("POST", format!("/v1/peerings/{pa_id}/reject"), None, 404),
        ("DELETE", format!("/v1/peerings/{pa_id}"), None, 404),
        (
            "POST",
            "/v1/peerings".into(),
            Some(json!({ "vpc_id": na2["vpc_id"], "peer_vpc_id": nb["vpc_id"] })),
            404,
        ),
        (
            "POST",
            format!("/v1/tenants/{a_id}/tokens"),
            Some(json!({})),
            404,
        ),
        ("DELETE", format!("/v1/tokens/{a_tok}"), None, 404),
        (
            "GET",
            format!(
                "/v1/reachability?from={na_id}/alpha-secret-db&to=1.1.1.1&protocol=tcp&port=443"
            ),
            None,
            404,
        ),
        (
            "GET",
            format!("/v1/reachability?from=alpha/{na_id}/alpha-secret-db&to=1.1.1.1&port=443"),
            None,
            404,
        ),
        (
            "GET",
            format!("/v1/reachability?from={db_ip}&to=1.1.1.1&port=443"),
            None,
            404,
        ),
        (
            "GET",
            format!(
                "/v1/reachability?from=bravo-net/app-1&to=alpha/{na_id}/alpha-secret-db&port=5432"
            ),
            None,
            404,
        ),
        (
            "GET",
            format!("/v1/reachability?from=bravo-net/app-1&to={hidden_ip}&port=5432"),
            None,
            404,
        ),
        ("POST", "/v1/plan".into(), Some(json!({ "vpcs": [] })), 200),
        // Functions: a name A might use, and A's network (this server runs none and
        // has no code store: an upload is refused as unavailable).
        ("GET", "/v1/functions/alpha-secret-fn".into(), None, 404),
        (
            "PATCH",
            "/v1/functions/alpha-secret-fn".into(),
            Some(json!({ "memory": 256 })),
            404,
        ),
        ("DELETE", "/v1/functions/alpha-secret-fn".into(), None, 404),
        (
            "POST",
            "/v1/functions/alpha-secret-fn/invocations".into(),
            Some(json!({})),
            404,
        ),
        (
            "GET",
            "/v1/functions/alpha-secret-fn/logs".into(),
            None,
            404,
        ),
        (
            "GET",
            "/v1/functions/alpha-secret-fn/metrics".into(),
            None,
            404,
        ),
        (
            "POST",
            "/v1/functions/alpha-secret-fn/url".into(),
            Some(json!({ "auth_type": "NONE" })),
            404,
        ),
        ("GET", "/v1/functions/alpha-secret-fn/url".into(), None, 404),
        (
            "PATCH",
            "/v1/functions/alpha-secret-fn/url".into(),
            Some(json!({ "auth_type": "AWS_IAM" })),
            404,
        ),
        (
            "DELETE",
            "/v1/functions/alpha-secret-fn/url".into(),
            None,
            404,
        ),
        (
            "POST",
            "/v1/functions".into(),
            Some(
                json!({ "name": "f", "network": na_id, "runtime": "python3.11",
                "handler": "app.handler", "code": format!("sha256:{}", "0".repeat(64)) }),
            ),
            404,
        ),
        ("POST", "/v1/functions/code".into(), Some(json!({})), 503),
        ("GET", "/v1/tenants".into(), None, 403),
        (
            "POST",
            "/v1/tenants".into(),
            Some(json!({ "name": "evil" })),
            403,
        ),
        (
            "PUT",
            "/v1/ip-pool".into(),
            Some(json!({ "blocks": ["198.51.100.1"] })),
            403,
        ),
        ("GET", "/v1/ip-pool".into(), None, 403),
        // A's endpoint service is not B's to accept or reject (404, as for a name
        // nobody uses).
        (
            "POST",
            "/v1/endpoint-services/alpha-secret-svc/accept".into(),
            Some(json!({ "endpoints": ["bravo/bravo-net/x"] })),
            404,
        ),
        (
            "POST",
            "/v1/endpoint-services/alpha-secret-svc/reject".into(),
            Some(json!({ "endpoints": ["bravo/bravo-net/x"] })),
            404,
        ),
        (
            "PATCH",
            "/v1/ip-pool".into(),
            Some(json!({ "add": ["198.51.100.1"] })),
            403,
        ),
        // The host's health is the operator's.
        ("GET", "/v1/health".into(), None, 403),
    ];
    // A's access key (what A's functions sign S3 requests with).
    let a_key = srv.ok(200, "GET", "/v1/access-key", &ta, None).await;
    let a_key_id = a_key["access_key_id"].as_str().expect("key id").to_owned();
    let a_key_secret = a_key["secret_access_key"]
        .as_str()
        .expect("secret")
        .to_owned();
    let secrets = [
        eip_id.as_str(),
        eip_ip.as_str(),
        a_key_id.as_str(),
        a_key_secret.as_str(),
        na_id.as_str(),
        na2_id.as_str(),
        a_id.as_str(),
        a_tok.as_str(),
        "alpha-secret",
        "alpha-hidden",
        "alpha/",
        na2["vpc_id"].as_str().expect("vpc"),
        pa_id.as_str(),
    ];
    let mut tried = BTreeSet::new();
    for (m, path, body, want) in &tries {
        let ans = srv.send(m, path, Some(&tb), body.as_ref(), None).await;
        assert_eq!(ans.status, *want, "B: {m} {path}: {}", ans.text);
        assert!(!ans.request_id.is_empty());
        if ans.status >= 400 {
            assert_eq!(ans.json["error"]["request_id"], ans.request_id.as_str());
        }
        tried.insert((m.to_string(), template(path)));
    }
    // B's own views: none of A's ids or names.
    for (m, path) in [
        ("GET", "/v1/connect/networks"),
        ("GET", "/v1/connect/addresses"),
        ("GET", "/v1/peerings"),
        ("GET", "/v1/spec"),
        ("GET", "/v1/tokens"),
        ("GET", "/v1/functions"),
        ("GET", "/v1/endpoint-services"),
        ("GET", "/v1/endpoint-connections"),
        ("GET", "/v1/flow-logs"),
        ("GET", "/v1/metering"),
        ("GET", "/v1/access-key"),
        ("GET", "/v1/whoami"),
        ("GET", "/v1/topology"),
    ] {
        let ans = srv.send(m, path, Some(&tb), None, None).await;
        assert_eq!(ans.status, 200, "{path}: {}", ans.text);
        tried.insert((m.to_string(), path.to_string()));
    }
    tried.insert(("POST".into(), "/v1/connect/networks".into()));
    tried.insert(("POST".into(), "/v1/connect/addresses".into()));
    tried.insert(("PUT".into(), "/v1/spec".into()));
    // (An answer may repeat what B itself sent, nothing else of A's.)
    let mut b_texts = Vec::new();
    for (m, path, body, _) in &tries {
        let sent = format!(
            "{path} {}",
            body.as_ref().map(Value::to_string).unwrap_or_default()
        );
        b_texts.push((
            sent,
            srv.send(m, path, Some(&tb), body.as_ref(), None).await.text,
        ));
    }
    for path in [
        "/v1/connect/networks",
        "/v1/connect/addresses",
        "/v1/peerings",
        "/v1/spec",
        "/v1/tokens",
        "/v1/endpoint-services",
        "/v1/endpoint-connections",
        "/v1/flow-logs",
        "/v1/metering",
        "/v1/access-key",
        "/v1/whoami",
        "/v1/topology",
    ] {
        b_texts.push((
            String::new(),
            srv.send("GET", path, Some(&tb), None, None).await.text,
        ));
    }
    for (sent, text) in &b_texts {
        for s in secrets.iter().filter(|s| !sent.contains(**s)) {
            assert!(!text.contains(s), "B's answer names A's `{s}`: {text}");
        }
    }
    // Every route of the API was tried with B's token.
    let doc = srv
        .send("GET", "/openapi.json", None, None, None)
        .await
        .json;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in item.as_object().expect("item").keys() {
            let m = m.to_uppercase();
            assert!(
                tried.contains(&(m.clone(), path.clone())),
                "{m} {path} was not tried with the wrong tenant's token"
            );
        }
    }
    // A still has everything, unchanged.
    let still = srv
        .ok(
            200,
            "GET",
            &format!("/v1/connect/networks/{na_id}"),
            &ta,
            None,
        )
        .await;
    assert_eq!(still["name"], "alpha-secret-net");
    let _ = b;
}

/// The address `n` after the start of a network's `private-a` subnet.
fn private_ip(network: &Value, n: u32) -> String {
    let cidr = network["subnets"]
        .as_array()
        .expect("subnets")
        .iter()
        .find(|s| s["name"] == "private-a")
        .expect("private-a")["cidr"]
        .as_str()
        .expect("cidr")
        .to_owned();
    let net: std::net::Ipv4Addr = cidr.split('/').next().expect("ip").parse().expect("ip");
    std::net::Ipv4Addr::from(u32::from(net) + n).to_string()
}

/// `/v1/peerings/pcx-1/accept` → `/v1/peerings/{id}/accept`.
fn template(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    path.split('/')
        .enumerate()
        .map(|(i, seg)| {
            let is_id = i == 3 && !matches!(seg, "networks" | "addresses")
                || (i == 4 && path.starts_with("/v1/connect/"));
            if (path.starts_with("/v1/functions/") && seg != "code"
                || path.starts_with("/v1/endpoint-services/"))
                && i == 3
            {
                "{name}"
            } else if path.starts_with("/v1/functions/") && i == 3 {
                seg
            } else if is_id && !seg.is_empty() {
                "{id}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}
