//! Latency of the AWS-compatible APIs against cove's own API, in one run (issue
//! 13's benchmark): p50 and p99 of each, and their ratio.
//!
//! `bench_aws_api describe` — in-process on a fresh SQLite store, a tenant with
//! 1,000 VPCs (each with a subnet and a security group `web` with two rules):
//! EC2's `DescribeVpcs` (all 1,000) and `DescribeSecurityGroups` (the 1,000 `web`
//! groups, by filter) against `GET /v1/spec` (the same VPCs and groups through
//! cove's API), in turns, over real HTTP on 127.0.0.1.
//!
//! `bench_aws_api invoke BASE TOKEN KEY SECRET FUNCTION` — against a running
//! `cove serve` (scripts/bench-aws-api.sh sets it up): Lambda's `Invoke` against
//! `POST /v1/functions/{name}/invocations`, in turns, warm.
//!
//! `BENCH_ROUNDS` (default 5) rounds of `BENCH_N` (default 200) requests per
//! operation; each request is signed (SigV4) or carries its bearer token, sent and
//! its whole answer read.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use serde_json::{Value, json};

/// One request to time.
#[derive(Clone)]
enum Op {
    /// Signed with SigV4 for `service`.
    Signed {
        service: &'static str,
        method: &'static str,
        path: String,
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// With a bearer token.
    Bearer {
        method: &'static str,
        path: String,
        body: Vec<u8>,
    },
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    key: String,
    secret: String,
}

impl Client {
    async fn send(&self, op: &Op) -> (u16, usize) {
        let resp = match op {
            Op::Signed {
                service,
                method,
                path,
                content_type,
                body,
            } => {
                let uri = format!("{}{path}", self.base);
                let host = self.base.trim_start_matches("http://").to_owned();
                let identity =
                    Credentials::new(&self.key, &self.secret, None, None, "bench").into();
                let params = aws_sigv4::sign::v4::SigningParams::builder()
                    .identity(&identity)
                    .region("us-east-1")
                    .name(service)
                    .time(SystemTime::now())
                    .settings(SigningSettings::default())
                    .build()
                    .unwrap()
                    .into();
                let headers = [("host", host.as_str()), ("content-type", *content_type)];
                let signable = SignableRequest::new(
                    method,
                    &uri,
                    headers.iter().copied(),
                    SignableBody::Bytes(body),
                )
                .unwrap();
                let (instructions, _) = sign(signable, &params).unwrap().into_parts();
                let mut req = self
                    .http
                    .request(method.parse().unwrap(), &uri)
                    .header("content-type", *content_type)
                    .body(body.clone());
                for (k, v) in instructions.headers() {
                    req = req.header(k, v);
                }
                req.send().await.unwrap()
            }
            Op::Bearer { method, path, body } => self
                .http
                .request(method.parse().unwrap(), format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap(),
        };
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        (status, bytes.len())
    }
}

/// The `per_mille`-th sample of `sorted`, in milliseconds (nearest rank).
fn percentile(sorted: &[Duration], per_mille: usize) -> f64 {
    let i = ((sorted.len() - 1) * per_mille + 500) / 1000;
    sorted[i].as_secs_f64() * 1e3
}

/// Times `pairs` (AWS op, cove op) in turns: every round runs each operation
/// `n` times; prints p50/p99 of each and the ratios.
async fn compare(client: &Client, pairs: &[(&str, Op, &str, Op)]) {
    let rounds: usize = env_or("BENCH_ROUNDS", 5);
    let n: usize = env_or("BENCH_N", 200);
    let mut samples: Vec<(Vec<Duration>, Vec<Duration>)> = vec![(vec![], vec![]); pairs.len()];
    let mut sizes = vec![(0usize, 0usize); pairs.len()];
    for (i, (label, aws, _, cove)) in pairs.iter().enumerate() {
        for op in [aws, cove] {
            let (status, size) = client.send(op).await;
            assert!(status < 300, "{label}: status {status}");
            if std::ptr::eq(op, aws) {
                sizes[i].0 = size;
            } else {
                sizes[i].1 = size;
            }
        }
        // Warm both paths.
        for _ in 0..20 {
            client.send(aws).await;
            client.send(cove).await;
        }
    }
    for _ in 0..rounds {
        for (i, (_, aws, _, cove)) in pairs.iter().enumerate() {
            for (op, out) in [(aws, 0), (cove, 1)] {
                for _ in 0..n {
                    let t = Instant::now();
                    let (status, _) = client.send(op).await;
                    let d = t.elapsed();
                    assert!(status < 300, "status {status}");
                    if out == 0 {
                        samples[i].0.push(d);
                    } else {
                        samples[i].1.push(d);
                    }
                }
            }
        }
    }
    println!(
        "{} rounds x {n} requests per operation, in turns ({} cores, load {})",
        rounds,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "{:<28} {:>9} {:>9} {:>9} | {:<40} {:>9} {:>9} {:>9} | {:>7} {:>7}",
        "AWS API",
        "bytes",
        "p50 ms",
        "p99 ms",
        "cove API",
        "bytes",
        "p50 ms",
        "p99 ms",
        "p50 x",
        "p99 x"
    );
    for (i, (label, _, cove_label, _)) in pairs.iter().enumerate() {
        let (a, c) = &mut samples[i];
        a.sort();
        c.sort();
        let (a50, a99, c50, c99) = (
            percentile(a, 500),
            percentile(a, 990),
            percentile(c, 500),
            percentile(c, 990),
        );
        println!(
            "{label:<28} {:>9} {a50:>9.3} {a99:>9.3} | {cove_label:<40} {:>9} {c50:>9.3} {c99:>9.3} | {:>7.2} {:>7.2}",
            sizes[i].0,
            sizes[i].1,
            a50 / c50,
            a99 / c99
        );
    }
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ec2(action: &str, extra: &str) -> Op {
    Op::Signed {
        service: "ec2",
        method: "POST",
        path: "/".to_owned(),
        content_type: "application/x-www-form-urlencoded; charset=utf-8",
        body: format!("Action={action}&Version=2016-11-15{extra}").into_bytes(),
    }
}

async fn call(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Value,
) -> Value {
    let resp = http
        .request(method.parse().unwrap(), format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{method} {path}: {status} {v}");
    v
}

/// The tenant's spec: `vpcs` VPCs, each with a subnet and a group `web`.
fn spec(vpcs: usize) -> Value {
    let list: Vec<Value> = (0..vpcs)
        .map(|i| {
            let (a, b) = (i / 256, i % 256);
            json!({
                "name": format!("v{i}"),
                "cidr": format!("10.{a}.{b}.0/24"),
                "subnets": [{ "name": "a", "cidr": format!("10.{a}.{b}.0/26"), "az": "us-east-1a" }],
                "security_groups": [{
                    "name": "web",
                    "description": "web servers",
                    "ingress": [
                        { "protocol": "tcp", "ports": 443, "cidr": "10.0.0.0/8" },
                        { "protocol": "tcp", "ports": 80, "security_group": "web" }
                    ]
                }]
            })
        })
        .collect();
    json!({ "vpcs": list })
}

async fn describe() {
    let db = cove_testdb::TestDb::sqlite();
    let store = db.open().await;
    let dir = std::env::temp_dir().join(format!("cove-bench-aws-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("admin-token");
    cove_api::bootstrap(&store, &token_file).await.unwrap();
    let admin = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();
    let state = cove_api::ApiState::new(store)
        .with_access_keys(cove_objects::KeySecret::from_bytes([7; 32]));
    let app =
        cove_awsapi::ec2::server::router(state.clone()).fallback_service(cove_api::router(state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::new();
    let vpcs = env_or("BENCH_VPCS", 1000);
    let quotas = json!({
        "networks": 10, "vpcs": vpcs + 10, "enis": 5000, "peerings_per_network": 50,
        "functions": 100, "concurrency": 1000, "static_ips": 20
    });
    let t = call(
        &http,
        &base,
        "POST",
        "/v1/tenants",
        &admin,
        json!({ "name": "bench", "quotas": quotas }),
    )
    .await;
    let id = t["id"].as_str().unwrap();
    let tok = call(
        &http,
        &base,
        "POST",
        &format!("/v1/tenants/{id}/tokens"),
        &admin,
        json!({}),
    )
    .await;
    let token = tok["secret"].as_str().unwrap().to_owned();
    let started = Instant::now();
    call(&http, &base, "PUT", "/v1/spec", &token, spec(vpcs)).await;
    println!(
        "{vpcs} VPCs stored in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let key = call(&http, &base, "GET", "/v1/access-key", &token, Value::Null).await;
    let client = Client {
        http,
        base,
        token,
        key: key["access_key_id"].as_str().unwrap().to_owned(),
        secret: key["secret_access_key"].as_str().unwrap().to_owned(),
    };
    let spec_get = Op::Bearer {
        method: "GET",
        path: "/v1/spec".to_owned(),
        body: Vec::new(),
    };
    compare(
        &client,
        &[
            (
                "EC2 DescribeVpcs",
                ec2("DescribeVpcs", ""),
                "GET /v1/spec",
                spec_get.clone(),
            ),
            (
                "EC2 DescribeSecurityGroups",
                ec2(
                    "DescribeSecurityGroups",
                    "&Filter.1.Name=group-name&Filter.1.Value.1=web",
                ),
                "GET /v1/spec",
                spec_get,
            ),
        ],
    )
    .await;
    server.abort();
    let _ = std::fs::remove_dir_all(&dir);
    drop(db);
}

async fn invoke(args: &[String]) {
    let [base, token, key, secret, function] = args else {
        panic!("usage: bench_aws_api invoke BASE TOKEN KEY SECRET FUNCTION");
    };
    let client = Client {
        http: reqwest::Client::new(),
        base: base.clone(),
        token: token.clone(),
        key: key.clone(),
        secret: secret.clone(),
    };
    let event = br#"{"n":1}"#.to_vec();
    compare(
        &client,
        &[(
            "Lambda Invoke",
            Op::Signed {
                service: "lambda",
                method: "POST",
                path: format!("/2015-03-31/functions/{function}/invocations"),
                content_type: "application/json",
                body: event.clone(),
            },
            "POST /v1/functions/{name}/invocations",
            Op::Bearer {
                method: "POST",
                path: format!("/v1/functions/{function}/invocations"),
                body: event,
            },
        )],
    )
    .await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("describe") | None => describe().await,
        Some("invoke") => invoke(&args[1..]).await,
        Some(other) => panic!("unknown mode {other}: describe or invoke"),
    }
}
