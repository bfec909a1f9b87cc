//! Function benchmarks (root; the runtime clients installed; see
//! `scripts/bench-functions.sh`, which builds what this needs):
//!
//! 1. **Cold start**, VPC vs no network: the same trivial Python handler, started in
//!    a pre-attached environment namespace behind a shared ENI (its veth into the
//!    router, link-local address, routes and the router's elements; issue 17), in a
//!    dedicated ENI namespace of its own (an ENI with its own subnet address: how
//!    cove attached functions before shared ENIs) and in a namespace with nothing
//!    but loopback. Interleaved, one cold start of each per round; the ratios of
//!    medians and of p90s are the figures.
//! 2. **Warm invoke overhead**: sequential invocations of a handler that returns its
//!    event, through cove's Invoke API over HTTP (keep-alive, loopback), against a
//!    raw HTTP echo server on the same loopback with the same client, in one run;
//!    also straight through the scheduler (no HTTP), for Python and for a `provided`
//!    (Rust) runtime.
//!
//! `FN_COLD_N` cold starts per series (default 30), `FN_WARM_N` warm invocations per
//! series (default 2000), `FN_INIT` the init program (default `cove-env-init` beside
//! the bench). Every cold start is also printed on standard error as `SAMPLE <series>
//! <ns>`, which `scripts/bench-functions.sh` uses to compare two builds in one run.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cove_functions::config::{CodeRef, FunctionConfig};
use cove_host::Host;
use cove_plan::{Op, Plan};
use cove_scheduler::{InvokeRequest, Scheduler, SchedulerConfig};

fn env(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(mut v: Vec<Duration>, pm: usize) -> Duration {
    v.sort_unstable();
    v[(v.len() * pm).div_ceil(1000).max(1) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

const SPEC: &str = "
tenants:
  - name: bench
    vpcs:
      - name: v
        cidr: 10.77.0.0/16
        subnets:
          - { name: a, cidr: 10.77.1.0/24, az: az1 }
        security_groups:
          - name: fn
        enis:
          - { name: slot0, subnet: a, security_groups: [fn] }
          - { name: slot1, subnet: a, security_groups: [fn] }
        functions:
          - { name: vpc, runtime: python3.11, handler: app.handler, code: ., subnets: [a], security_groups: [fn], concurrency: 2, memory: 256 }
          - { name: vpc-rs, runtime: provided, handler: bootstrap, code: ., subnets: [a], security_groups: [fn], concurrency: 1, memory: 256 }
";

/// Namespaces of the bench, removed at the end (also on panic).
/// Namespaces and the environments' cgroup root of the bench, removed at the end
/// (also on panic).
struct Cleanup(Host, String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = self.0.destroy();
        if let Ok(root) = cove_sandbox::CgroupRoot::for_prefix(&self.1) {
            let _ = cove_sandbox::remove_all(&root, None);
        }
    }
}

fn target_release() -> PathBuf {
    let exe = std::env::current_exe().expect("exe");
    // target/release/deps/functions-… → target/release
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .expect("target dir")
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("functions: benchmark");
        return;
    }
    let prefix = format!("cvfb{}", std::process::id() % 10_000);
    let host = Host::new(&prefix).expect("prefix");
    let _cleanup = Cleanup(host.clone(), prefix.clone());
    let net = cove_model::validate::validate_text(SPEC)
        .network
        .expect("bench spec is valid");
    let desired = cove_plan::desired(&net, &prefix).expect("layout");
    let plan = cove_plan::diff(&host.observe().expect("observe"), &desired);
    host.apply(&plan).expect("apply");
    let bare: Vec<String> = (0..2).map(|i| format!("{prefix}-b-{i}")).collect();
    host.apply(&Plan {
        ops: bare
            .iter()
            .map(|ns| Op::CreateNamespace { ns: ns.clone() })
            .collect(),
    })
    .expect("bare namespaces");

    let work = std::env::temp_dir().join(format!("cove-fn-bench-{}", std::process::id()));
    let py = work.join("py");
    std::fs::create_dir_all(&py).expect("code dir");
    std::fs::write(
        py.join("app.py"),
        "def handler(event, context):\n    return event\n",
    )
    .expect("code");
    let rs = work.join("rs");
    std::fs::create_dir_all(&rs).expect("code dir");
    std::fs::copy(target_release().join("cove-fixture-provided"), rs.join("bootstrap"))
        .expect("cove-fixture-provided (cargo build --release -p cove-runtimes --bin cove-fixture-provided)");
    let store = work.join("store");
    let py_code = cove_functions::code::snapshot(&py, &store).expect("snapshot");
    let rs_code = cove_functions::code::snapshot(&rs, &store).expect("snapshot");
    let mut codes: BTreeMap<String, CodeRef> = BTreeMap::new();
    codes.insert("bench/v/vpc".into(), py_code.clone());
    codes.insert("bench/v/vpc-rs".into(), rs_code);
    let mut fns = cove_functions::config::functions(&net, &prefix, &codes).expect("configs");
    let mut bare_fn: FunctionConfig = fns[0].clone();
    bare_fn.name = "bare".into();
    bare_fn.slots = bare.clone();
    bare_fn.slot_ips = vec![std::net::Ipv4Addr::LOCALHOST; bare.len()];
    fns.push(bare_fn);
    let names = cove_plan::names::Names::new(&net, &prefix);
    let mut dedicated_fn: FunctionConfig = fns[0].clone();
    dedicated_fn.name = "dedicated".into();
    dedicated_fn.slots = ["bench/v/slot0", "bench/v/slot1"]
        .iter()
        .map(|q| names.eni_ns(net.find_eni(q).expect("slot ENI")))
        .collect();
    dedicated_fn.slot_ips = ["bench/v/slot0", "bench/v/slot1"]
        .iter()
        .map(|q| net.enis[net.find_eni(q).expect("slot ENI").index()].private_ip)
        .collect();
    fns.push(dedicated_fn);

    let init = std::env::var_os("FN_INIT")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_release().join("cove-env-init"));
    assert!(
        init.is_file(),
        "{} missing (cargo build --release -p cove-sandbox)",
        init.display()
    );
    let config = SchedulerConfig {
        prefix: prefix.clone(),
        runtime_dir: cove_runtimes::fs::runtime_dir(),
        lock_dir: cove_scheduler::SlotLocks::new(work.join("slots")),
        log_dir: None,
        cgroup_root: cove_sandbox::CgroupRoot::for_prefix(&prefix).expect("root"),
        init: cove_sandbox::InitProgram::binary(init),
        idle_timeout: Duration::from_secs(3600),
        region: "us-east-1".into(),
        prefix_lock: None,
        lock_wait: Duration::ZERO,
        credentials: None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let s = Scheduler::new(config, fns.clone()).expect("scheduler");
        cold_starts(&s, &fns).await;
        warm(&s).await;
        s.shutdown().await;
    });
    let _ = std::fs::remove_dir_all(&work);
}

fn payload() -> InvokeRequest {
    InvokeRequest {
        payload: Bytes::from_static(br#"{"k":"v"}"#),
        ..Default::default()
    }
}

async fn cold_starts(s: &Scheduler, fns: &[FunctionConfig]) {
    let n = env("FN_COLD_N", 30);
    let mut series: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for round in 0..n {
        let all = ["vpc", "dedicated", "bare"];
        let order: Vec<&str> = (0..3).map(|i| all[(i + round) % 3]).collect();
        for which in order {
            // Retire the function's environments, let them end, then bring it back.
            s.set_functions(fns.iter().filter(|f| f.name != which).cloned().collect());
            tokio::time::sleep(Duration::from_millis(300)).await;
            s.set_functions(fns.to_vec());
            let t = Instant::now();
            let r = s.invoke(which, payload()).await.expect("invoke");
            let d = t.elapsed();
            assert!(r.cold_start && r.function_error.is_none(), "{which}: {r:?}");
            // One line per sample, for scripts that compare runs of two builds.
            eprintln!("SAMPLE {which} {}", d.as_nanos());
            series.entry(which).or_default().push(d);
        }
    }
    let (vpc, dedicated, bare) = (
        series["vpc"].clone(),
        series["dedicated"].clone(),
        series["bare"].clone(),
    );
    println!("\ncold start of a trivial Python handler ({n} each, interleaved)");
    println!("| series | p50 | p90 | max |");
    println!("|---|---|---|---|");
    for (name, v) in [
        ("VPC, shared ENI (pre-attached environment namespace)", &vpc),
        (
            "VPC, dedicated ENI (its own address, before issue 17)",
            &dedicated,
        ),
        ("no network (loopback only)", &bare),
    ] {
        println!(
            "| {name} | {} | {} | {} |",
            ms(pct(v.clone(), 500)),
            ms(pct(v.clone(), 900)),
            ms(pct(v.clone(), 1000))
        );
    }
    let ratio = |a: &Vec<Duration>, b: &Vec<Duration>, pm| {
        pct(a.clone(), pm).as_secs_f64() / pct(b.clone(), pm).as_secs_f64()
    };
    println!(
        "ratio VPC (shared ENI) / no network: p50 {:.3}, p90 {:.3}",
        ratio(&vpc, &bare, 500),
        ratio(&vpc, &bare, 900)
    );
    println!(
        "ratio shared ENI / dedicated ENI: p50 {:.3}, p90 {:.3}",
        ratio(&vpc, &dedicated, 500),
        ratio(&vpc, &dedicated, 900)
    );
}

async fn warm(s: &Scheduler) {
    let n = env("FN_WARM_N", 2000);
    let mut direct: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for name in ["vpc", "vpc-rs"] {
        let _ = s.invoke(name, payload()).await.expect("warm-up");
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            let r = s.invoke(name, payload()).await.expect("invoke");
            v.push(t.elapsed());
            assert!(!r.cold_start);
        }
        direct.insert(name, v);
    }
    // Over HTTP: cove's Invoke API vs a raw echo, same client, same loopback.
    let api = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let api_addr = api.local_addr().expect("addr");
    tokio::spawn(cove_scheduler::http::serve(api, s.clone()));
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let echo_addr = echo.local_addr().expect("addr");
    tokio::spawn(echo_server(echo));
    let (api_py, api_rs, raw) = tokio::task::spawn_blocking(move || {
        let api_py = http_series(api_addr, "/2015-03-31/functions/vpc/invocations", n);
        let api_rs = http_series(api_addr, "/2015-03-31/functions/vpc-rs/invocations", n);
        let raw = http_series(echo_addr, "/echo", n);
        (api_py, api_rs, raw)
    })
    .await
    .expect("client");
    println!("\nwarm invocations of a handler that returns its event ({n} each)");
    println!("| path | p50 | p99 |");
    println!("|---|---|---|");
    let rows: [(&str, &Vec<Duration>); 5] = [
        ("scheduler.invoke, Python (awslambdaric)", &direct["vpc"]),
        ("scheduler.invoke, provided (Rust)", &direct["vpc-rs"]),
        ("Invoke API over HTTP, Python", &api_py),
        ("Invoke API over HTTP, provided (Rust)", &api_rs),
        ("raw HTTP echo, same client and loopback", &raw),
    ];
    for (name, v) in rows {
        println!(
            "| {name} | {} | {} |",
            ms(pct(v.clone(), 500)),
            ms(pct(v.clone(), 990))
        );
    }
    let p50 = |v: &Vec<Duration>| pct(v.clone(), 500);
    println!(
        "overhead over a raw HTTP round trip, p50: Python {}, provided {}",
        ms(p50(&api_py).saturating_sub(p50(&raw))),
        ms(p50(&api_rs).saturating_sub(p50(&raw)))
    );
}

/// `n` sequential POSTs on one keep-alive connection.
fn http_series(addr: SocketAddr, path: &str, n: usize) -> Vec<Duration> {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut w = stream.try_clone().expect("clone");
    let mut r = BufReader::new(stream);
    let body = br#"{"k":"v"}"#;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut one = || {
        w.write_all(req.as_bytes()).expect("write");
        w.write_all(body).expect("write");
        let mut len = 0usize;
        let mut status = String::new();
        r.read_line(&mut status).expect("status");
        assert!(status.contains(" 200 "), "{status}");
        loop {
            let mut line = String::new();
            r.read_line(&mut line).expect("header");
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().expect("length");
                }
            }
        }
        let mut buf = vec![0; len];
        r.read_exact(&mut buf).expect("body");
    };
    for _ in 0..20 {
        one();
    }
    (0..n)
        .map(|_| {
            let t = Instant::now();
            one();
            t.elapsed()
        })
        .collect()
}

/// A minimal HTTP/1.1 echo server (hyper, keep-alive) — the baseline.
async fn echo_server(listener: tokio::net::TcpListener) {
    use http_body_util::{BodyExt, Full};
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(
                |req: hyper::Request<hyper::body::Incoming>| async move {
                    let body = req
                        .into_body()
                        .collect()
                        .await
                        .map(|c| c.to_bytes())
                        .unwrap_or_default();
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(body)))
                },
            );
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .await;
        });
    }
}
