//! Endpoint services (PrivateLink, issue 12) through the API, against SQLite and
//! PostgreSQL: a consumer's endpoint to a service it may not use is refused with
//! `InvalidServiceName`; the provider sees the consumer's endpoint pending, accepts
//! it, and a revocation by the provider is not blocked by the consumer's endpoint
//! (the endpoint is dropped with a warning; the consumer's next spec is refused).

mod common;

use serde_json::json;

use common::Server;
use cove_testdb::{TestDb, both};

both!(a_provider_lists_accepts_and_revokes_its_consumers_endpoints);

fn provider_spec(allowed: &[&str]) -> serde_json::Value {
    json!({
        "vpcs": [{
            "name": "data",
            "cidr": "10.64.0.0/16",
            "subnets": [{ "name": "s", "cidr": "10.64.1.0/24", "az": "us-east-1a" }],
            "enis": [{ "name": "db1", "subnet": "s" }],
        }],
        "endpoint_services": [{
            "name": "pg",
            "vpc": "data",
            "targets": ["db1"],
            "ports": [5432],
            "allowed_principals": allowed,
        }],
    })
}

fn consumer_spec(service: &str) -> serde_json::Value {
    json!({
        "vpcs": [{
            "name": "app",
            "cidr": "10.64.0.0/16",
            "subnets": [{ "name": "s", "cidr": "10.64.1.0/24", "az": "us-east-1a" }],
            "endpoints": [{ "name": "pg", "type": "interface", "service": service, "subnets": ["s"] }],
        }],
    })
}

async fn a_provider_lists_accepts_and_revokes_its_consumers_endpoints(db: TestDb) {
    let srv = Server::start(db).await;
    let (_, prov, _) = srv.tenant("prov", None).await;
    let (_, cons, _) = srv.tenant("cons", None).await;
    srv.ok(
        200,
        "PUT",
        "/v1/spec",
        &prov,
        Some(provider_spec(&["cons"])),
    )
    .await;

    // A service that does not exist, or that the consumer may not use: the same.
    for service in ["prov/nope", "nobody/pg"] {
        let a = srv
            .send(
                "PUT",
                "/v1/spec",
                Some(&cons),
                Some(&consumer_spec(service)),
                None,
            )
            .await;
        assert_eq!(
            (a.status, a.code()),
            (400, "InvalidServiceName"),
            "{}",
            a.text
        );
        assert_eq!(
            a.json["error"]["field"], "vpcs[app].endpoints[pg].service",
            "{}",
            a.text
        );
    }
    srv.ok(
        200,
        "PUT",
        "/v1/spec",
        &cons,
        Some(consumer_spec("prov/pg")),
    )
    .await;

    // The provider sees the endpoint pending, and accepts it.
    let list = srv
        .ok(200, "GET", "/v1/endpoint-services", &prov, None)
        .await;
    assert_eq!(list[0]["service_name"], "prov/pg", "{list}");
    assert_eq!(
        list[0]["connections"][0]["endpoint"], "cons/app/pg",
        "{list}"
    );
    assert_eq!(list[0]["connections"][0]["state"], "pending", "{list}");
    let accepted = srv
        .ok(
            200,
            "POST",
            "/v1/endpoint-services/pg/accept",
            &prov,
            Some(json!({ "endpoints": ["cons/app/pg"] })),
        )
        .await;
    assert_eq!(
        accepted["connections"][0]["state"], "available",
        "{accepted}"
    );
    let spec = srv.ok(200, "GET", "/v1/spec", &prov, None).await;
    assert_eq!(
        spec["endpoint_services"][0]["accepted"][0], "cons/app/pg",
        "{spec}"
    );
    // Nothing else to accept; the consumer has no service of that name.
    let unknown = srv
        .send(
            "POST",
            "/v1/endpoint-services/pg/accept",
            Some(&prov),
            Some(&json!({ "endpoints": ["cons/app/other"] })),
            None,
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "InvalidVpcEndpointId.NotFound")
    );
    assert_eq!(unknown.json["error"]["field"], "endpoints[0]");
    let theirs = srv
        .send(
            "POST",
            "/v1/endpoint-services/pg/accept",
            Some(&cons),
            Some(&json!({ "endpoints": ["cons/app/pg"] })),
            None,
        )
        .await;
    assert_eq!(
        (theirs.status, theirs.code()),
        (404, "InvalidVpcEndpointServiceId.NotFound"),
        "{}",
        theirs.text
    );
    let none = srv
        .ok(200, "GET", "/v1/endpoint-services", &cons, None)
        .await;
    assert_eq!(none, json!([]));

    // The provider revokes the consumer: not blocked by the consumer's endpoint.
    srv.ok(200, "PUT", "/v1/spec", &prov, Some(provider_spec(&[])))
        .await;
    let list = srv
        .ok(200, "GET", "/v1/endpoint-services", &prov, None)
        .await;
    assert_eq!(list[0]["connections"], json!([]), "{list}");
    // The consumer's next spec with that endpoint is refused, naming it.
    let again = srv
        .send(
            "PUT",
            "/v1/spec",
            Some(&cons),
            Some(&consumer_spec("prov/pg")),
            None,
        )
        .await;
    assert_eq!(
        (again.status, again.code()),
        (400, "InvalidServiceName"),
        "{}",
        again.text
    );
}

both!(a_zone_owner_revokes_an_authorization_without_being_blocked);

fn owner_spec(authorized: &[&str]) -> serde_json::Value {
    json!({
        "vpcs": [{
            "name": "corp",
            "cidr": "10.70.0.0/16",
            "subnets": [{ "name": "s", "cidr": "10.70.1.0/24", "az": "us-east-1a" }],
        }],
        "hosted_zones": [{
            "name": "corp.internal",
            "vpcs": ["corp"],
            "records": [{ "name": "db.corp.internal", "type": "A", "values": ["10.70.1.10"] }],
            "authorizations": authorized,
        }],
    })
}

fn associating_spec() -> serde_json::Value {
    json!({
        "vpcs": [{
            "name": "app",
            "cidr": "10.71.0.0/16",
            "subnets": [{ "name": "s", "cidr": "10.71.1.0/24", "az": "us-east-1a" }],
            "associate_zones": ["owner/corp.internal"],
        }],
    })
}

/// Route 53's cross-account association: the owner's revocation used to make its
/// own `PUT /v1/spec` a 409 while the other tenant associated the zone.
async fn a_zone_owner_revokes_an_authorization_without_being_blocked(db: TestDb) {
    let srv = Server::start(db).await;
    let (_, owner, _) = srv.tenant("owner", None).await;
    let (_, other, _) = srv.tenant("other", None).await;
    // Not authorized yet: refused, naming the field.
    srv.ok(200, "PUT", "/v1/spec", &owner, Some(owner_spec(&[])))
        .await;
    let a = srv
        .send(
            "PUT",
            "/v1/spec",
            Some(&other),
            Some(&associating_spec()),
            None,
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (400, "NotAuthorizedException"),
        "{}",
        a.text
    );
    assert_eq!(
        a.json["error"]["field"], "vpcs[app].associate_zones[0]",
        "{}",
        a.text
    );
    srv.ok(
        200,
        "PUT",
        "/v1/spec",
        &owner,
        Some(owner_spec(&["other/app"])),
    )
    .await;
    srv.ok(200, "PUT", "/v1/spec", &other, Some(associating_spec()))
        .await;
    // The owner revokes: accepted; the association is dropped.
    srv.ok(200, "PUT", "/v1/spec", &owner, Some(owner_spec(&[])))
        .await;
    let a = srv
        .send(
            "PUT",
            "/v1/spec",
            Some(&other),
            Some(&associating_spec()),
            None,
        )
        .await;
    assert_eq!(
        (a.status, a.code()),
        (400, "NotAuthorizedException"),
        "{}",
        a.text
    );
}
