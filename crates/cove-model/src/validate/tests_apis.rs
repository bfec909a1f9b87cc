//! Validation tests for private HTTP APIs (issue 15): what API Gateway refuses is
//! refused with its code, at the field.

use super::tests::expect_one;
use super::*;
use crate::diag::ErrorCode::*;

const POLICY: &str = "
        policy:
          Statement:
            - Effect: Allow
              Principal: '*'
              Action: execute-api:Invoke
              Resource: execute-api:/*
              Condition: { StringEquals: { 'aws:SourceVpce': vpce-0aaa } }";

/// Tenant `t` with a function `items` and `apis` (YAML list items).
fn spec(apis: &str) -> Validated {
    validate_text(&format!(
        "tenants:
  - name: t
    account_id: '123456789012'
    vpcs:
      - name: v
        cidr: 10.0.0.0/16
        subnets:
          - {{ name: s, cidr: 10.0.1.0/24, az: us-east-1a }}
        functions:
          - {{ name: items, runtime: python3.11, handler: app.handler, code: ./code, subnets: [s] }}
    apis:
{apis}
  - name: u
    vpcs:
      - name: w
        cidr: 10.1.0.0/16
        subnets:
          - {{ name: s, cidr: 10.1.1.0/24, az: us-east-1a }}
        functions:
          - {{ name: other, runtime: python3.11, handler: app.handler, code: ./code, subnets: [s] }}
    apis:
      - name: taken
        id: abcdefghij
        routes: [{{ route: $default, function: other }}]{POLICY}
"
    ))
}

#[test]
fn an_api_with_routes_cors_and_a_policy() {
    let v = spec(&format!(
        "      - name: orders
        id: a1b2c3d4e5
        routes:
          - {{ route: 'GET /items/{{id}}', function: items }}
          - {{ route: 'ANY /{{proxy+}}', function: items }}
        cors: {{ allow_origins: ['http://spa.example'], allow_methods: [get, POST], allow_headers: [Content-Type], max_age: 300 }}{POLICY}"
    ));
    let net = v.network.unwrap_or_else(|| panic!("{:#?}", v.diagnostics));
    let ids: Vec<&str> = net.apis.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["a1b2c3d4e5", "abcdefghij"]);
    let orders = &net.apis[0];
    assert_eq!(
        net.functions[orders.routes[0].function.index()].name,
        "items"
    );
    assert_eq!(orders.routes[1].key.to_string(), "ANY /{proxy+}");
    let cors = orders.cors.as_ref().expect("cors");
    assert_eq!(cors.allow_methods, ["GET", "POST"]);
    assert_eq!(cors.allow_headers, ["content-type"]);
    assert_eq!(cors.max_age, Some(300));
    // `execute-api:/*` is the API's own ARN.
    assert_eq!(
        orders.policy.statements[0].resources,
        ["arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/*"]
    );
    // Without an id: one derived from the tenant and the name.
    let v = spec(&format!(
        "      - name: orders
        routes:
          - {{ route: 'GET /items/{{id}}', function: items }}{POLICY}"
    ));
    let net = v.network.unwrap_or_else(|| panic!("{:#?}", v.diagnostics));
    assert_eq!(
        net.apis[0].id,
        crate::http_api::api_id(
            "t",
            &crate::spec::ApiSpec {
                name: "orders".into(),
                ..Default::default()
            }
        )
    );
    assert_eq!(net.apis[0].id.len(), 10);
    // A function of another tenant is not an integration.
    expect_one(
        &spec(&format!(
            "      - name: a\n        routes: [{{ route: 'GET /x', function: other }}]{POLICY}"
        )),
        BadRequestException,
        "tenants[t].apis[a].routes[0].function",
    );
}

#[test]
fn bad_apis_are_refused_at_the_field() {
    let cases = [
        (
            format!(
                "      - name: a\n        routes: [{{ route: 'FETCH /x', function: items }}]{POLICY}"
            ),
            BadRequestException,
            "tenants[t].apis[a].routes[0].route",
        ),
        (
            format!(
                "      - name: a\n        routes: [{{ route: 'GET /x', function: items }}, {{ route: 'GET /x', function: items }}]{POLICY}"
            ),
            ConflictException,
            "tenants[t].apis[a].routes[1].route",
        ),
        (
            format!(
                "      - name: a\n        id: abcdefghij\n        routes: [{{ route: 'GET /x', function: items }}]{POLICY}"
            ),
            ConflictException,
            "tenants[u].apis[taken].id",
        ),
        (
            format!(
                "      - name: a\n        id: ABC\n        routes: [{{ route: 'GET /x', function: items }}]{POLICY}"
            ),
            BadRequestException,
            "tenants[t].apis[a].id",
        ),
        (
            format!(
                "      - name: a\n        endpoint_type: REGIONAL\n        routes: [{{ route: 'GET /x', function: items }}]{POLICY}"
            ),
            BadRequestException,
            "tenants[t].apis[a].endpoint_type",
        ),
        (
            "      - name: a\n        routes: [{ route: 'GET /x', function: items }]".to_owned(),
            BadRequestException,
            "tenants[t].apis[a].policy",
        ),
        (
            format!(
                "      - name: a\n        routes: [{{ route: 'GET /x', function: items }}]{}",
                POLICY.replace("execute-api:Invoke", "s3:GetObject")
            ),
            BadRequestException,
            "tenants[t].apis[a].policy.Statement[0].Action",
        ),
        (
            format!(
                "      - name: a\n        routes: [{{ route: 'GET /x', function: items }}]{}",
                POLICY.replace(
                    "execute-api:/*",
                    "arn:aws:execute-api:us-east-1:123456789012:zzzzzzzzzz/*"
                )
            ),
            BadRequestException,
            "tenants[t].apis[a].policy.Statement[0].Resource",
        ),
        (
            format!(
                "      - name: a\n        routes: [{{ route: 'GET /x', function: items }}]\n        cors: {{ allow_origins: ['*'], allow_credentials: true }}{POLICY}"
            ),
            BadRequestException,
            "tenants[t].apis[a].cors.allow_credentials",
        ),
        (
            format!(
                "      - name: a\n        routes: [{{ route: 'GET /x', function: items }}]\n        cors: {{ allow_origins: ['http://spa.example/index.html'] }}{POLICY}"
            ),
            BadRequestException,
            "tenants[t].apis[a].cors.allow_origins[0]",
        ),
    ];
    for (apis, code, path) in cases {
        let v = spec(&apis);
        assert!(v.network.is_none(), "{apis}");
        assert!(
            v.diagnostics
                .iter()
                .any(|d| d.code == code && d.path == path),
            "{apis}\nwant {code:?} at {path}: {:#?}",
            v.diagnostics
        );
    }
}
