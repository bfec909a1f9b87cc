//! Validation tests for endpoint services and the interface endpoints linked to
//! them (PrivateLink, issue 12): EC2's codes, every error naming its field.

use super::tests::expect_one;
use super::*;
use crate::EniOwner;
use crate::diag::ErrorCode::*;
use crate::privatelink::LinkState;

/// Provider `p` (VPC `v`, ENIs `db1`, `db2`) with the service `service` (YAML
/// flow mapping body), and consumer `c` whose endpoint names `target`.
fn spec(service: &str, target: &str) -> Validated {
    validate_text(&format!(
        "tenants:
  - name: p
    vpcs:
      - name: v
        cidr: 10.61.0.0/16
        subnets:
          - {{ name: s, cidr: 10.61.1.0/24, az: us-east-1a }}
        enis:
          - {{ name: db1, subnet: s, private_ip: 10.61.1.10 }}
          - {{ name: db2, subnet: s, private_ip: 10.61.1.11 }}
    endpoint_services:
      - {{ {service} }}
  - name: c
    vpcs:
      - name: app
        cidr: 10.61.0.0/16
        subnets:
          - {{ name: s, cidr: 10.61.1.0/24, az: us-east-1a }}
        endpoints:
          - {{ name: pg, type: interface, service: {target}, subnets: [s] }}
"
    ))
}

const OK: &str = "name: pg, vpc: v, targets: [db1, db2], ports: [5432], allowed_principals: [c]";

#[test]
fn a_linked_endpoint_gets_a_front_per_eni_and_waits_for_acceptance() {
    let v = spec(OK, "p/pg");
    let errors: Vec<_> = v.errors().collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let net = v.network.expect("network");
    let svc = &net.endpoint_services[0];
    assert_eq!(svc.targets.len(), 2);
    assert!(svc.acceptance_required, "AWS's default");
    let link = &net.service_links[0];
    assert_eq!(link.state, LinkState::Pending);
    assert_eq!(link.fronts.len(), 1);
    let front = &net.enis[link.fronts[0].index()];
    assert_eq!(front.vpc, svc.vpc, "in the provider's VPC");
    assert_eq!(front.private_ip.to_string(), "10.61.1.254", "from the top");
    assert_eq!(front.owner, EniOwner::Front(link.endpoint));
    assert!(front.security_groups.is_empty());

    let accepted = spec(&format!("{OK}, accepted: [c/app/pg]"), "p/pg");
    let net = accepted.network.expect("network");
    assert_eq!(net.service_links[0].state, LinkState::Available);
    let open = spec(&format!("{OK}, acceptance_required: false"), "p/pg");
    let net = open.network.expect("network");
    assert_eq!(net.service_links[0].state, LinkState::Available);
}

#[test]
fn a_service_the_consumer_may_not_use_looks_like_one_that_does_not_exist() {
    let path = "tenants[c].vpcs[app].endpoints[pg].service";
    expect_one(&spec(OK, "p/nope"), InvalidServiceName, path);
    expect_one(&spec(OK, "q/pg"), InvalidServiceName, path);
    let private = "name: pg, vpc: v, targets: [db1], ports: [5432]";
    expect_one(&spec(private, "p/pg"), InvalidServiceName, path);
    let everyone = "name: pg, vpc: v, targets: [db1], ports: [5432], allowed_principals: ['*']";
    assert!(spec(everyone, "p/pg").network.is_some());
}

#[test]
fn bad_services_are_refused_naming_the_field() {
    let at = "tenants[p].endpoint_services[pg]";
    expect_one(
        &spec(
            "name: pg, vpc: w, targets: [db1], ports: [5432], allowed_principals: [c]",
            "p/pg",
        ),
        InvalidVpcIdNotFound,
        &format!("{at}.vpc"),
    );
    expect_one(
        &spec(
            "name: pg, vpc: v, targets: [db9], ports: [5432], allowed_principals: [c]",
            "p/pg",
        ),
        InvalidNetworkInterfaceIdNotFound,
        &format!("{at}.targets[0]"),
    );
    expect_one(
        &spec(
            "name: pg, vpc: v, targets: [db1], ports: [], allowed_principals: [c]",
            "p/pg",
        ),
        MissingParameter,
        &format!("{at}.ports"),
    );
    expect_one(
        &spec(
            "name: pg, vpc: v, targets: [db1], ports: [0], allowed_principals: [c]",
            "p/pg",
        ),
        InvalidParameterValue,
        &format!("{at}.ports[0]"),
    );
    expect_one(
        &spec(
            "name: pg, vpc: v, targets: [db1], ports: [5432], allowed_principals: [c, zz]",
            "p/pg",
        ),
        InvalidParameterValue,
        &format!("{at}.allowed_principals[1]"),
    );
}
