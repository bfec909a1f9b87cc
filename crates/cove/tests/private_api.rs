//! Issue 15's private HTTP APIs with real packets (prefix `pap…`): `cove serve`
//! serves the spec's API only behind `execute-api` interface endpoints, decides
//! each request with the API's resource policy on the endpoint it came through,
//! answers CORS preflights itself, and invokes the route's function with a
//! payload-2.0 event:
//!
//! * from an ENI of `app` through its endpoint, `GET /items/42` reaches the
//!   function (its answer is the event: route key, path parameter, the caller's
//!   address), the API named by `Host` or by `x-apigw-api-id`; a path with no
//!   route is 404; a preflight from the allowed origin gets the CORS headers, one
//!   from another origin none; an answer carries `access-control-allow-origin`;
//! * through the endpoint of `other` (same tenant, not in the policy) it is 403
//!   with API Gateway's message, and an unknown API id is 403 `Forbidden`;
//! * the outside namespace ("the internet") reaches no API at all.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use cove_plan::names::Names;

use common::Deployment;
use common::functions::{runtimes_ready, serve};

const SPEC: &str = r#"
tenants:
  - name: corp
    account_id: "111111111111"
    vpcs:
      - name: app
        cidr: 10.81.0.0/16
        subnets:
          - { name: s, cidr: 10.81.1.0/24, az: us-east-1a }
        security_groups:
          - name: client
            egress:
              - { protocol: tcp, ports: 80, cidr: 10.81.0.0/16 }
          - name: endpoint
            ingress:
              - { protocol: tcp, ports: 80, cidr: 10.81.0.0/16 }
          - name: fn
        enis:
          - { name: client, subnet: s, private_ip: 10.81.1.5, security_groups: [client] }
        endpoints:
          - name: api
            id: vpce-0c0c0c0c0c0c0c0c0
            type: interface
            service: com.amazonaws.us-east-1.execute-api
            subnets: [s]
            private_ips: [10.81.1.30]
            security_groups: [endpoint]
            private_dns_name: execute-api.us-east-1.amazonaws.com
        functions:
          - { name: items, runtime: python3.11, handler: app.handler, code: ./code, subnets: [s], security_groups: [fn], concurrency: 2 }
      - name: other
        cidr: 10.82.0.0/16
        subnets:
          - { name: s, cidr: 10.82.1.0/24, az: us-east-1a }
        security_groups:
          - name: client
            egress:
              - { protocol: tcp, ports: 80, cidr: 10.82.0.0/16 }
          - name: endpoint
            ingress:
              - { protocol: tcp, ports: 80, cidr: 10.82.0.0/16 }
        enis:
          - { name: client, subnet: s, private_ip: 10.82.1.5, security_groups: [client] }
        endpoints:
          - { name: api, type: interface, service: com.amazonaws.us-east-1.execute-api, subnets: [s], private_ips: [10.82.1.30], security_groups: [endpoint] }
    apis:
      - name: orders
        id: a1b2c3d4e5
        routes:
          - { route: "GET /items/{id}", function: items }
          - { route: "POST /items", function: items }
        cors:
          allow_origins: ["http://spa.example"]
          allow_methods: [GET, POST]
          allow_headers: [content-type]
          max_age: 300
        policy:
          Statement:
            - Effect: Allow
              Principal: "*"
              Action: execute-api:Invoke
              Resource: execute-api:/*
              Condition: { StringEquals: { "aws:SourceVpce": vpce-0c0c0c0c0c0c0c0c0 } }
"#;

const HOST: &str = "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com";

/// `curl` inside `ns` → (status, headers, body).
fn curl(ns: &str, args: &[&str]) -> (u16, String, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let headers = dir.path().join("h");
    let out = Command::new("timeout")
        .args([
            "20", "ip", "netns", "exec", ns, "curl", "-s", "-m", "10", "-D",
        ])
        .arg(&headers)
        .args(["-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (
        code.trim().parse().unwrap_or(0),
        std::fs::read_to_string(&headers)
            .unwrap_or_default()
            .to_ascii_lowercase(),
        body.to_owned(),
    )
}

#[test]
fn a_private_api_answers_only_through_the_endpoints_its_policy_allows() {
    if !cove_probe::privileged("private_api") || !runtimes_ready() {
        return;
    }
    let d = Deployment::new("pap");
    let (_dir, _spec, net) = d.apply_text(SPEC);
    let names = Names::new(&net, &d.prefix);
    let ns = |eni: &str| names.eni_ns(net.find_eni(eni).unwrap_or_else(|e| panic!("{eni}: {e:?}")));
    let (app, other) = (ns("corp/app/client"), ns("corp/other/client"));
    let host = format!("Host: {HOST}");
    let (_serve, _) = serve(&d, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let (status, headers, body) = loop {
        let got = curl(&app, &["-H", &host, "http://10.81.1.30/items/42?full=1"]);
        if got.0 == 200 || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(status, 200, "{headers}{body}");
    assert!(headers.contains("apigw-requestid:"), "{headers}");
    let event: serde_json::Value = serde_json::from_str(&body).expect("the event, as JSON");
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "GET /items/{id}");
    assert_eq!(event["pathParameters"]["id"], "42");
    assert_eq!(event["queryStringParameters"]["full"], "1");
    assert_eq!(event["requestContext"]["apiId"], "a1b2c3d4e5");
    assert_eq!(event["requestContext"]["accountId"], "111111111111");
    assert_eq!(event["requestContext"]["http"]["sourceIp"], "10.81.1.5");
    // The API named by header; a POST with a body.
    let (status, _, body) = curl(
        &app,
        &[
            "-H",
            "x-apigw-api-id: a1b2c3d4e5",
            "-H",
            "content-type: application/json",
            "-d",
            r#"{"sku":"x-1"}"#,
            "http://10.81.1.30/items",
        ],
    );
    assert_eq!(status, 200, "{body}");
    let event: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        (event["routeKey"].as_str(), event["body"].as_str()),
        (Some("POST /items"), Some(r#"{"sku":"x-1"}"#))
    );
    // No route: 404. An unknown API: 403.
    let (status, _, body) = curl(&app, &["-H", &host, "http://10.81.1.30/nothing"]);
    assert_eq!((status, body.as_str()), (404, r#"{"message":"Not Found"}"#));
    let (status, _, body) = curl(
        &app,
        &[
            "-H",
            "Host: zzzzzzzzzz.execute-api.us-east-1.amazonaws.com",
            "http://10.81.1.30/items/1",
        ],
    );
    assert_eq!((status, body.as_str()), (403, r#"{"message":"Forbidden"}"#));
    // CORS: the preflight from the SPA's origin, from another, and the answer's header.
    let pre = |origin: &str| {
        curl(
            &app,
            &[
                "-X",
                "OPTIONS",
                "-H",
                &host,
                "-H",
                &format!("Origin: {origin}"),
                "-H",
                "Access-Control-Request-Method: POST",
                "-H",
                "Access-Control-Request-Headers: content-type",
                "http://10.81.1.30/items",
            ],
        )
    };
    let (status, headers, _) = pre("http://spa.example");
    assert_eq!(status, 204);
    assert!(
        headers.contains("access-control-allow-origin: http://spa.example"),
        "{headers}"
    );
    assert!(headers.contains("access-control-max-age: 300"), "{headers}");
    let (status, headers, _) = pre("http://evil.example");
    assert_eq!(status, 204);
    assert!(
        !headers.contains("access-control-allow-origin"),
        "{headers}"
    );
    let (_, headers, _) = curl(
        &app,
        &[
            "-H",
            &host,
            "-H",
            "Origin: http://spa.example",
            "http://10.81.1.30/items/1",
        ],
    );
    assert!(
        headers.contains("access-control-allow-origin: http://spa.example"),
        "{headers}"
    );

    // Through another VPC's endpoint, not in the policy: refused, nothing invoked.
    let (status, _, body) = curl(&other, &["-H", &host, "http://10.82.1.30/items/42"]);
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("User: anonymous is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:111111111111:a1b2c3d4e5/$default/GET/items/42"),
        "{body}"
    );
    // The internet reaches no API.
    let outside = names.outside_ns();
    let (status, _, _) = curl(
        &outside,
        &["-m", "3", "-H", &host, "http://10.81.1.30/items/42"],
    );
    assert_eq!(status, 0, "the outside reached the API");
}
