//! Warm invoke round trip through the endpoint vs a raw HTTP echo on loopback.
//!
//! `cargo bench -p cove-runtime-api --bench invoke` prints p50/p99/mean for:
//!
//! * `invoke`: `RuntimeApi::invoke` with a minimal raw-HTTP runtime loop on its own OS
//!   thread (blocking `next` → `POST response` → `next` …), timed on the scheduler's
//!   side from the call to its outcome;
//! * `echo`: one `POST` and its echoed reply against a bare hyper echo server on the
//!   same runtime, over one keep-alive loopback connection (one HTTP round trip);
//!
//! and the ratio of the two medians. A warm invoke costs two HTTP exchanges on the
//! runtime's connection (the long-polled `next` answer and the `POST` with its `202`),
//! so the floor of the ratio is about 2.
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, missing_docs)]

use std::convert::Infallible;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cove_runtime_api::{FunctionInfo, Invocation, InvokeOutcome, RuntimeApi};
use http_body_util::{BodyExt, Full};

const WARMUP: usize = 2_000;
const SAMPLES: usize = 20_000;
const PAYLOAD: &[u8] = br#"{"key":"value","n":12345}"#;

/// Reads one response (status, headers we need, body) off a blocking stream.
fn read_response(
    reader: &mut BufReader<TcpStream>,
    line: &mut String,
    body: &mut Vec<u8>,
) -> (u16, Option<String>) {
    line.clear();
    reader.read_line(line).unwrap();
    let status = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut length = 0usize;
    let mut request_id = None;
    loop {
        line.clear();
        reader.read_line(line).unwrap();
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().unwrap();
        } else if name.eq_ignore_ascii_case("lambda-runtime-aws-request-id") {
            request_id = Some(value.trim().to_owned());
        }
    }
    body.resize(length, 0);
    reader.read_exact(body).unwrap();
    (status, request_id)
}

/// A minimal runtime: `next`, then post the event back as the response, forever
/// (until the endpoint closes the connection).
fn runtime_loop(addr: SocketAddr) {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let (mut line, mut body) = (String::new(), Vec::new());
    let mut request = Vec::with_capacity(256);
    loop {
        if writer
            .write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: rt\r\n\r\n")
            .is_err()
        {
            return;
        }
        if reader.fill_buf().map(|b| b.is_empty()).unwrap_or(true) {
            return;
        }
        let (status, id) = read_response(&mut reader, &mut line, &mut body);
        assert_eq!(status, 200);
        let id = id.unwrap();
        request.clear();
        write!(
            request,
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: rt\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        request.extend_from_slice(&body);
        writer.write_all(&request).unwrap();
        let (status, _) = read_response(&mut reader, &mut line, &mut body);
        assert_eq!(status, 202);
    }
}

struct Stats {
    p50: Duration,
    p99: Duration,
    mean: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort_unstable();
    let total: Duration = samples.iter().sum();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    Stats {
        p50: at(0.50),
        p99: at(0.99),
        mean: total / u32::try_from(samples.len()).unwrap(),
    }
}

fn print(name: &str, s: &Stats) {
    println!(
        "{name:>8}: p50 {:>7.1} µs  p99 {:>7.1} µs  mean {:>7.1} µs",
        us(s.p50),
        us(s.p99),
        us(s.mean)
    );
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

async fn bench_invoke() -> Stats {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let info = FunctionInfo {
        function_name: "bench".to_owned(),
        function_arn: "arn:aws:lambda:us-east-1:123456789012:function:bench".to_owned(),
        version: "$LATEST".to_owned(),
    };
    let api = RuntimeApi::serve(listener, info).unwrap();
    let addr = api.local_addr();
    let runtime = std::thread::spawn(move || runtime_loop(addr));
    api.ready().await.unwrap();
    let payload = Bytes::from_static(PAYLOAD);
    let mut samples = Vec::with_capacity(SAMPLES);
    for i in 0..WARMUP + SAMPLES {
        let invocation = Invocation {
            request_id: format!("00000000-0000-4000-8000-{i:012}"),
            payload: payload.clone(),
            deadline_ms: 4_000_000_000_000,
            invoked_function_arn: String::new(),
            trace_id: Some(
                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
                    .to_owned(),
            ),
            client_context: None,
            cognito_identity: None,
        };
        let started = Instant::now();
        let outcome = api.invoke(invocation).await.unwrap();
        let took = started.elapsed();
        assert!(matches!(&outcome, InvokeOutcome::Response { body, .. } if body[..] == *PAYLOAD));
        if i >= WARMUP {
            samples.push(took);
        }
    }
    api.shutdown();
    runtime.join().unwrap();
    stats(samples)
}

async fn bench_echo() -> Stats {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        stream.set_nodelay(true).unwrap();
        let service = hyper::service::service_fn(
            |request: hyper::Request<hyper::body::Incoming>| async move {
                let body = request.into_body().collect().await.unwrap().to_bytes();
                Ok::<_, Infallible>(hyper::Response::new(Full::new(body)))
            },
        );
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
            .await;
    });
    let samples = tokio::task::spawn_blocking(move || {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let (mut line, mut body) = (String::new(), Vec::new());
        let mut request = Vec::new();
        write!(
            request,
            "POST /echo HTTP/1.1\r\nHost: e\r\nContent-Length: {}\r\n\r\n",
            PAYLOAD.len()
        )
        .unwrap();
        request.extend_from_slice(PAYLOAD);
        let mut samples = Vec::with_capacity(SAMPLES);
        for i in 0..WARMUP + SAMPLES {
            let started = Instant::now();
            writer.write_all(&request).unwrap();
            let (status, _) = read_response(&mut reader, &mut line, &mut body);
            let took = started.elapsed();
            assert_eq!((status, &body[..]), (200, PAYLOAD));
            if i >= WARMUP {
                samples.push(took);
            }
        }
        samples
    })
    .await
    .unwrap();
    server.abort();
    stats(samples)
}

fn main() {
    // `cargo test --benches` runs benches with `--bench`-less args; only measure when asked.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let echo = bench_echo().await;
        let invoke = bench_invoke().await;
        println!("warm invoke round trip vs raw HTTP echo, loopback, {SAMPLES} samples each");
        print("echo", &echo);
        print("invoke", &invoke);
        println!(
            "   ratio: p50 {:.2}x  p99 {:.2}x",
            us(invoke.p50) / us(echo.p50),
            us(invoke.p99) / us(echo.p99)
        );
    });
}
