//! `cove serve`'s Prometheus metrics (issue 14): known invocations — cold and
//! warm, a function error, a crash, a throttle — DNS queries from an ENI and the
//! reconciler's ticks show up exactly in `/metrics`, which Prometheus's own
//! Python client (its OpenMetrics parser, strict about the format) parses.
//!
//! Privileged: runs as root (CI runs as root and must not skip: `CI=true`).

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Deployment;
use common::functions::{deploy_python, http, runtimes_ready};
use serde_json::json;

/// One sample: its name (with the `_total`, `_count`… suffix) and labels.
type Series = (String, BTreeMap<String, String>);

/// `GET /metrics`, parsed by `prometheus_client.openmetrics.parser`.
fn scrape(addr: SocketAddr) -> BTreeMap<Series, f64> {
    let (status, head, body) = http(addr, "GET", "/metrics", b"");
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    let parser = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append([s.name, s.labels, s.value])
print(json.dumps(out))
"#;
    let mut child = Command::new("python3")
        .args(["-c", parser])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (prometheus-client is installed by scripts/test.sh)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&body)
        .expect("write");
    let out = child.wait_with_output().expect("parser");
    assert!(
        out.status.success(),
        "the OpenMetrics parser refused /metrics: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&body)
    );
    let samples: Vec<(String, BTreeMap<String, String>, f64)> =
        serde_json::from_slice(&out.stdout).expect("parser's JSON");
    samples
        .into_iter()
        .map(|(name, labels, value)| ((name, labels), value))
        .collect()
}

/// The value of `name{labels}` (0 when absent).
fn value(samples: &BTreeMap<Series, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    samples
        .get(&(name.to_owned(), labels))
        .copied()
        .unwrap_or(0.0)
}

/// Scrapes until `ok` holds (at most 30 s).
fn scrape_until(
    addr: SocketAddr,
    what: &str,
    ok: impl Fn(&BTreeMap<Series, f64>) -> bool,
) -> BTreeMap<Series, f64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = scrape(addr);
        if ok(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "never {what}: {s:#?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn invocations_throttles_dns_and_reconciles_are_counted_exactly() {
    if !cove_probe::privileged("metrics") || !runtimes_ready() {
        return;
    }
    let d = Deployment::new("mx");
    d.apply_example();
    deploy_python(
        &d,
        "meter",
        &[
            "--subnets",
            "functions/private-a",
            "--security-groups",
            "fn",
            "--concurrency",
            "1",
            "--timeout",
            "30",
        ],
    );
    let (_serve, addr) = common::functions::serve(&d, &[]);
    let metrics = addr;
    let path = "/2015-03-31/functions/meter/invocations";
    let invoke = |event: serde_json::Value| http(addr, "POST", path, event.to_string().as_bytes());

    // Cold, then warm; a function error; a crash (the environment ends, so the
    // next invocation starts a new one).
    for event in [
        json!({"op": "echo"}),
        json!({"op": "echo"}),
        json!({"op": "error"}),
        json!({"op": "exit", "code": 3}),
    ] {
        let (status, head, _) = invoke(event.clone());
        assert_eq!(status, 200, "{event}: {head}");
    }
    // One invocation keeps the only environment busy; the next one is throttled.
    let sleeper = std::thread::spawn(move || {
        http(
            addr,
            "POST",
            path,
            json!({"op": "sleep", "ms": 8000}).to_string().as_bytes(),
        )
    });
    // Busy: seen in the raw text (no parser in the loop: the invocation sleeps
    // 8 s, and the throttled call must come within them).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, _, body) = http(metrics, "GET", "/metrics", b"");
        let text = String::from_utf8_lossy(&body).into_owned();
        if text.lines().any(|l| {
            l.starts_with("cove_function_environments{")
                && l.contains("state=\"busy\"")
                && l.ends_with(" 1")
        }) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the environment never became busy"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, head, _) = invoke(json!({"op": "echo"}));
    assert_eq!(status, 429, "{head}");
    let (status, head, _) = sleeper.join().expect("sleeper");
    assert_eq!(status, 200, "{head}");

    // DNS queries from an ENI of the example's network to its resolver.
    let eni_ns = d
        .namespaces()
        .into_iter()
        .find(|n| n.starts_with(&format!("{}-e-", d.prefix)))
        .expect("an ENI namespace");
    let asked = |s: &BTreeMap<Series, f64>| {
        value(s, "cove_dns_queries_total", &[("transport", "udp")]) >= 3.0
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !asked(&scrape(metrics)) {
        assert!(Instant::now() < deadline, "the resolver counted no query");
        let _ = Command::new("timeout")
            .args([
                "5", "ip", "netns", "exec", &eni_ns, "dig", "+time=1", "+tries=1",
            ])
            .args(["@169.254.169.253", "nothing.example.internal"])
            .output();
    }

    let s = scrape_until(metrics, "the environment idle again", |s| {
        s.iter().any(|((n, l), v)| {
            n == "cove_function_environments"
                && l.get("state").map(String::as_str) == Some("idle")
                && *v == 1.0
        })
    });
    // The function's key (`tenant/function`), as the labels carry it.
    let key = s
        .keys()
        .find(|(n, _)| n == "cove_function_invocations_total")
        .and_then(|(_, l)| l.get("function").cloned())
        .expect("the function's invocations");
    assert!(key.ends_with("/meter"), "{key}");
    let f = [("function", key.as_str())];
    assert_eq!(value(&s, "cove_function_invocations_total", &f), 5.0);
    assert_eq!(value(&s, "cove_function_cold_starts_total", &f), 2.0);
    assert_eq!(value(&s, "cove_function_throttles_total", &f), 1.0);
    assert_eq!(value(&s, "cove_function_duration_seconds_count", &f), 5.0);
    // The 8-second invocation is in the sum.
    assert!(value(&s, "cove_function_duration_seconds_sum", &f) >= 8.0);
    // Billed like Lambda: at least the 8 s at the function's memory (128 MB or
    // more): 1 GB-s or more.
    assert!(value(&s, "cove_function_gb_seconds_total", &f) >= 1.0);
    let errors = |t: &str| {
        value(
            &s,
            "cove_function_errors_total",
            &[("function", key.as_str()), ("error_type", t)],
        )
    };
    let error_series: Vec<_> = s
        .iter()
        .filter(|((n, _), _)| n == "cove_function_errors_total")
        .collect();
    // The handler's exception: Lambda's `Runtime.Unknown` (the Python runtime
    // names no type Lambda accepts).
    assert_eq!(errors("Runtime.Unknown"), 1.0, "{error_series:?}");
    assert_eq!(errors("Runtime.ExitError"), 1.0);
    assert_eq!(
        value(
            &s,
            "cove_function_environments",
            &[("function", key.as_str()), ("state", "busy")]
        ),
        0.0
    );
    // The reconciler has ticked (the kernel was in sync, or changed and timed).
    let ticks: f64 = ["applied", "in_sync"]
        .iter()
        .map(|o| value(&s, "cove_reconcile_ticks_total", &[("outcome", o)]))
        .sum();
    assert!(ticks >= 1.0, "no reconcile tick counted");
    assert_eq!(
        value(&s, "cove_reconcile_duration_seconds_count", &[]),
        value(&s, "cove_reconcile_ticks_total", &[("outcome", "applied")])
    );
    // Each query was answered from a view, sent upstream (a name in none of the
    // VPC's zones), answered from the cache, or failed upstream.
    let answered: f64 = ["view", "forwarded", "cache", "upstream_failure"]
        .iter()
        .map(|src| value(&s, "cove_dns_answers_total", &[("source", src)]))
        .sum();
    assert!(answered >= 1.0, "no DNS answer counted");
}
