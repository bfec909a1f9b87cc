//! Issue 15's object store with real packets and the real AWS CLI (prefix
//! `obj…`): `cove serve` serves the spec's buckets only through the VPCs' S3
//! endpoints — on the interface endpoint's ENI and behind each VPC's gateway
//! endpoint — and decides each request with the bucket's policy on where it came
//! from:
//!
//! * `aws s3 cp`, `aws s3 sync` and `aws s3 ls` from an ENI of `app` through its
//!   interface endpoint, with the tenant's key (`cove access-key`), work on a
//!   bucket whose policy denies everything not coming through that endpoint
//!   (`aws:SourceVpce`); the same requests through the VPC's gateway endpoint are
//!   refused with `AccessDenied`, and so is another tenant's key through the right
//!   endpoint;
//! * a bucket that requires the VPC (`aws:SourceVpc`) is reached from `app`
//!   through the gateway endpoint, and refused from the peer-less `other` VPC
//!   through its own gateway endpoint;
//! * the store is not on the host or the internet: an address of the S3 prefix
//!   list from the outside namespace reaches nothing;
//! * a function in `app` (its environment has the tenant's key) copies an object
//!   out and back with the AWS CLI, addressing S3 by its regional name, which the
//!   VPC's resolver answers with the interface endpoint.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`).

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use cove_plan::names::Names;
use serde_json::json;

use common::Deployment;
use common::functions::{deploy_python, runtimes_ready, serve};

const SPEC: &str = r#"
tenants:
  - name: corp
    account_id: "111111111111"
    prefix_lists:
      - { name: s3, cidrs: [52.216.0.0/15] }
    buckets:
      - name: spa-assets
        policy:
          Version: "2012-10-17"
          Statement:
            - Sid: OnlyThroughTheInterfaceEndpoint
              Effect: Deny
              Principal: "*"
              Action: "s3:*"
              Resource: ["arn:aws:s3:::spa-assets", "arn:aws:s3:::spa-assets/*"]
              Condition: { StringNotEquals: { "aws:SourceVpce": vpce-0a0a0a0a0a0a0a0a0 } }
      - name: data-lake
        policy:
          Version: "2012-10-17"
          Statement:
            - Sid: OnlyFromTheAppVpc
              Effect: Deny
              Principal: "*"
              Action: "s3:*"
              Resource: ["arn:aws:s3:::data-lake", "arn:aws:s3:::data-lake/*"]
              Condition: { StringNotEquals: { "aws:SourceVpc": vpc-0b0b0b0b0b0b0b0b0 } }
    vpcs:
      - name: app
        id: vpc-0b0b0b0b0b0b0b0b0
        cidr: 10.71.0.0/16
        subnets:
          - { name: s, cidr: 10.71.1.0/24, az: us-east-1a }
        route_tables:
          - { name: main, main: true }
        security_groups:
          - name: client
            egress:
              - { protocol: tcp, ports: 80, cidr: 0.0.0.0/0 }
          - name: endpoint
            ingress:
              - { protocol: tcp, ports: 80, cidr: 10.71.0.0/16 }
        enis:
          - { name: client, subnet: s, private_ip: 10.71.1.5, security_groups: [client] }
        endpoints:
          - name: s3i
            id: vpce-0a0a0a0a0a0a0a0a0
            type: interface
            service: com.amazonaws.us-east-1.s3
            subnets: [s]
            private_ips: [10.71.1.20]
            security_groups: [endpoint]
            private_dns_name: s3.us-east-1.amazonaws.com
          - { name: s3gw, type: gateway, service: com.amazonaws.us-east-1.s3, prefix_list: s3, route_tables: [main] }
      - name: other
        cidr: 10.72.0.0/16
        subnets:
          - { name: s, cidr: 10.72.1.0/24, az: us-east-1a }
        route_tables:
          - { name: main, main: true }
        security_groups:
          - name: client
            egress:
              - { protocol: tcp, ports: 80, cidr: 0.0.0.0/0 }
        enis:
          - { name: client, subnet: s, private_ip: 10.72.1.5, security_groups: [client] }
        endpoints:
          - { name: s3gw, type: gateway, service: com.amazonaws.us-east-1.s3, prefix_list: s3, route_tables: [main] }
  - name: rival
"#;

/// The interface endpoint, and an address of the S3 prefix list (the gateway).
const INTERFACE: &str = "http://10.71.1.20";
const GATEWAY: &str = "http://52.216.0.1";

/// A tenant's key, as `cove access-key --json` prints it.
fn key(d: &Deployment, tenant: &str) -> (String, String) {
    let out = d
        .cove()
        .args(["access-key", "--json", "--tenant", tenant])
        .output()
        .expect("access-key");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    (
        v["access_key_id"].as_str().expect("id").to_owned(),
        v["secret_access_key"].as_str().expect("secret").to_owned(),
    )
}

/// `aws --endpoint-url URL s3 ARGS…` inside namespace `ns` with `key`.
fn aws(ns: &str, config: &Path, url: &str, key: &(String, String), args: &[&str]) -> Output {
    Command::new("timeout")
        .args([
            "60",
            "ip",
            "netns",
            "exec",
            ns,
            "aws",
            "--endpoint-url",
            url,
            "s3",
        ])
        .args(args)
        .env("AWS_CONFIG_FILE", config)
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_ACCESS_KEY_ID", &key.0)
        .env("AWS_SECRET_ACCESS_KEY", &key.1)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .expect("aws")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "aws failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Refused by the bucket policy: `AccessDenied` (a HEAD, which has no body,
/// shows only its status: 403).
fn denied(o: &Output) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && (err.contains("AccessDenied") || err.contains("(403)")),
        "expected AccessDenied: {}{err}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn buckets_are_reached_only_through_endpoints_their_policies_allow() {
    if !cove_probe::privileged("objects") {
        return;
    }
    let d = Deployment::new("obj");
    let (dir, _spec, net) = d.apply_text(SPEC);
    let names = Names::new(&net, &d.prefix);
    let ns = |eni: &str| names.eni_ns(net.find_eni(eni).unwrap_or_else(|e| panic!("{eni}: {e:?}")));
    let (app, other) = (ns("corp/app/client"), ns("corp/other/client"));
    let functions = runtimes_ready();
    if functions {
        deploy_python(
            &d,
            "s3fn",
            &[
                "--subnets",
                "corp/app/s",
                "--security-groups",
                "client",
                "--concurrency",
                "1",
                "--timeout",
                "60",
            ],
        );
    }
    let config = dir.path().join("aws-config");
    std::fs::write(
        &config,
        "[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n",
    )
    .expect("config");
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("assets")).expect("site");
    std::fs::write(site.join("index.html"), "<h1>closed network</h1>\n").expect("index");
    std::fs::write(site.join("assets/app.js"), "console.log('hi');\n").expect("js");
    let (corp, rival) = (key(&d, "corp"), key(&d, "rival"));
    assert_ne!(corp, rival);

    let (_serve, _) = serve(&d, &[]);
    // The store listens once the reconciler's first tick ran.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let o = aws(&app, &config, INTERFACE, &corp, &["ls", "s3://spa-assets"]);
        if o.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the store never answered: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // Through the interface endpoint: cp, sync, ls.
    let index = site.join("index.html");
    ok(&aws(
        &app,
        &config,
        INTERFACE,
        &corp,
        &[
            "cp",
            index.to_str().expect("path"),
            "s3://spa-assets/index.html",
        ],
    ));
    ok(&aws(
        &app,
        &config,
        INTERFACE,
        &corp,
        &["sync", site.to_str().expect("path"), "s3://spa-assets/site"],
    ));
    let listed = ok(&aws(
        &app,
        &config,
        INTERFACE,
        &corp,
        &["ls", "--recursive", "s3://spa-assets"],
    ));
    for k in ["index.html", "site/index.html", "site/assets/app.js"] {
        assert!(listed.contains(k), "{k} not in {listed}");
    }
    let got = ok(&aws(
        &app,
        &config,
        INTERFACE,
        &corp,
        &["cp", "s3://spa-assets/site/assets/app.js", "-"],
    ));
    assert_eq!(got, "console.log('hi');\n");
    // The same bucket through the gateway endpoint: its policy refuses.
    denied(&aws(
        &app,
        &config,
        GATEWAY,
        &corp,
        &["cp", "s3://spa-assets/index.html", "-"],
    ));
    denied(&aws(
        &app,
        &config,
        GATEWAY,
        &corp,
        &["ls", "s3://spa-assets"],
    ));
    // Another tenant's key through the right endpoint: not the owner, no grant.
    denied(&aws(
        &app,
        &config,
        INTERFACE,
        &rival,
        &["cp", "s3://spa-assets/index.html", "-"],
    ));
    // Listing every bucket would tell tenants each other's names.
    denied(&aws(&app, &config, INTERFACE, &corp, &["ls"]));

    // A bucket that requires the VPC: the gateway of `app` works, `other`'s not.
    ok(&aws(
        &app,
        &config,
        GATEWAY,
        &corp,
        &[
            "cp",
            index.to_str().expect("path"),
            "s3://data-lake/in/index.html",
        ],
    ));
    let got = ok(&aws(
        &app,
        &config,
        INTERFACE,
        &corp,
        &["cp", "s3://data-lake/in/index.html", "-"],
    ));
    assert_eq!(got, "<h1>closed network</h1>\n");
    denied(&aws(
        &other,
        &config,
        GATEWAY,
        &corp,
        &["cp", "s3://data-lake/in/index.html", "-"],
    ));

    // Not on the internet: the outside namespace reaches no store at the prefix
    // list's address.
    let outside = names.outside_ns();
    let o = Command::new("timeout")
        .args([
            "5",
            "ip",
            "netns",
            "exec",
            &outside,
            "curl",
            "-s",
            "-m",
            "3",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            GATEWAY,
        ])
        .output()
        .expect("curl");
    assert_ne!(String::from_utf8_lossy(&o.stdout).trim(), "200");
    assert!(!o.status.success(), "the outside reached the store");

    // A function copies an object out and back by S3's regional name (the
    // VPC's resolver answers the interface endpoint); its credentials are its
    // tenant's, given by cove.
    if !functions {
        return;
    }
    let url = "http://s3.us-east-1.amazonaws.com";
    let (code, v) = common::invoke(
        &d,
        "s3fn",
        &json!({"op": "aws", "args": ["--endpoint-url", url, "s3", "cp", "s3://spa-assets/index.html", "-"]}),
    );
    assert_eq!((code, &v["code"]), (0, &json!(0)), "{v}");
    assert_eq!(v["stdout"], "<h1>closed network</h1>\n", "{v}");
    let (code, v) = common::invoke(
        &d,
        "s3fn",
        &json!({"op": "aws", "stdin": "from the function\n",
                "args": ["--endpoint-url", url, "s3", "cp", "-", "s3://spa-assets/from-fn.txt"]}),
    );
    assert_eq!((code, &v["code"]), (0, &json!(0)), "{v}");
    let got = ok(&aws(
        &app,
        &config,
        INTERFACE,
        &corp,
        &["cp", "s3://spa-assets/from-fn.txt", "-"],
    ));
    assert_eq!(got, "from the function\n");
}
