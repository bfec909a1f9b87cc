use std::time::Duration;

use super::*;

/// The value of the sample `name{labels}` in `text` (labels exactly as rendered).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn invocations_errors_throttles_and_durations_render_per_function() {
    let m = Metrics::new();
    let run = |ms: u64, cold: bool, error: Option<&'static str>| Invocation {
        function: "t/a",
        took: Duration::from_micros(ms * 1000 - 300),
        memory_mb: 512,
        cold_start: cold,
        error_type: error,
    };
    m.functions.invoked(&run(3, true, None));
    m.functions
        .invoked(&run(40, false, Some("Sandbox.Timedout")));
    m.functions.invoked(&run(1, false, Some("MyOwnError")));
    m.functions.throttled("t/b");
    let text = m.render();
    assert_eq!(
        sample(&text, r#"cove_function_invocations_total{function="t/a"}"#),
        Some(3.0)
    );
    assert_eq!(
        sample(&text, r#"cove_function_cold_starts_total{function="t/a"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"cove_function_errors_total{function="t/a",error_type="Sandbox.Timedout"}"#
        ),
        Some(1.0)
    );
    // The function's own error type is not a label.
    assert_eq!(
        sample(
            &text,
            r#"cove_function_errors_total{function="t/a",error_type="Function"}"#
        ),
        Some(1.0)
    );
    assert!(!text.contains("MyOwnError"));
    assert_eq!(
        sample(&text, r#"cove_function_throttles_total{function="t/b"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"cove_function_duration_seconds_count{function="t/a"}"#
        ),
        Some(3.0)
    );
    // 1 ms and 3 ms fall at or under 4 ms; 40 ms does not.
    assert_eq!(
        sample(
            &text,
            r#"cove_function_duration_seconds_bucket{le="0.004",function="t/a"}"#
        ),
        Some(2.0)
    );
    // (3 + 40 + 1) billed ms × 0.5 GB.
    let gbs = sample(&text, r#"cove_function_gb_seconds_total{function="t/a"}"#).expect("gb-s");
    assert!((gbs - 0.022).abs() < 1e-9, "{gbs}");
    assert!(text.ends_with("# EOF\n"), "{text}");
    // The same totals, per function, for the API.
    let a = m.functions.summary("t/a").expect("t/a ran");
    assert_eq!(
        (a.invocations, a.errors, a.cold_starts, a.throttles),
        (3, 2, 1, 0)
    );
    assert!((a.max_ms - 39.7).abs() < 1e-6, "{a:?}");
    assert!((a.total_ms - 43.1).abs() < 1e-6, "{a:?}");
    assert!((a.gb_seconds - 0.022).abs() < 1e-9, "{a:?}");
    let b = m.functions.summary("t/b").expect("t/b was throttled");
    assert_eq!((b.invocations, b.throttles), (0, 1));
    assert!(m.functions.summary("t/c").is_none());
}

#[test]
fn error_types_are_bounded() {
    assert_eq!(
        error_kind("Runtime.ExitError: exit status 3"),
        "Runtime.ExitError"
    );
    assert_eq!(error_kind("Runtime.OutOfMemory"), "Runtime.OutOfMemory");
    assert_eq!(error_kind("Runtime.Made.Up"), "Function");
    assert_eq!(error_kind("Function.MyOwnError"), "Function");
    assert_eq!(error_kind("Function.Unknown"), "Function.Unknown");
    assert_eq!(error_kind("ValueError"), "Function");
    assert_eq!(error_kind(""), "Function");
}

#[test]
fn environments_are_sampled_at_each_rendering_and_gone_states_disappear() {
    let m = Metrics::new();
    let counts = std::sync::Arc::new(Mutex::new(vec![EnvironmentCount {
        function: "t/a".into(),
        state: "idle",
        count: 2,
    }]));
    let c = counts.clone();
    let fm = m.functions.clone();
    m.add_sampler(move || fm.set_environments(&c.lock().expect("lock")));
    let text = m.render();
    assert_eq!(
        sample(
            &text,
            r#"cove_function_environments{function="t/a",state="idle"}"#
        ),
        Some(2.0)
    );
    *counts.lock().expect("lock") = vec![EnvironmentCount {
        function: "t/a".into(),
        state: "busy",
        count: 1,
    }];
    let text = m.render();
    assert_eq!(
        sample(
            &text,
            r#"cove_function_environments{function="t/a",state="busy"}"#
        ),
        Some(1.0)
    );
    assert!(!text.contains(r#"state="idle""#), "{text}");
}

#[test]
fn reconcile_ticks_and_drift_repairs_count() {
    let m = Metrics::new();
    m.reconcile.applied(Duration::from_millis(12), 7, false);
    m.reconcile.applied(Duration::from_millis(3), 2, true);
    m.reconcile.tick(TickOutcome::InSync);
    m.reconcile.tick(TickOutcome::Failed);
    let text = m.render();
    assert_eq!(
        sample(&text, r#"cove_reconcile_ticks_total{outcome="applied"}"#),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, r#"cove_reconcile_ticks_total{outcome="in_sync"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, r#"cove_reconcile_ticks_total{outcome="failed"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "cove_reconcile_kernel_operations_total"),
        Some(9.0)
    );
    assert_eq!(
        sample(&text, "cove_reconcile_drift_repairs_total"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "cove_reconcile_duration_seconds_count"),
        Some(2.0)
    );
    let sum = sample(&text, "cove_reconcile_duration_seconds_sum").expect("sum");
    assert!((sum - 0.015).abs() < 1e-9, "{sum}");
}

#[test]
fn dns_counters_follow_the_resolver_and_never_go_back() {
    let m = Metrics::new();
    m.dns.observe(DnsCounts {
        udp_queries: 10,
        tcp_queries: 2,
        local_answers: 7,
        forwarded: 3,
        cache_hits: 1,
        upstream_failures: 1,
        no_view: 4,
        send_errors: 0,
        fast_path_answers: 6,
    });
    // A lower reading (cannot happen with one process's counters) changes nothing.
    m.dns.observe(DnsCounts {
        udp_queries: 5,
        ..DnsCounts::default()
    });
    let text = m.render();
    assert_eq!(
        sample(&text, r#"cove_dns_queries_total{transport="udp"}"#),
        Some(10.0)
    );
    assert_eq!(
        sample(&text, r#"cove_dns_queries_total{transport="tcp"}"#),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, r#"cove_dns_answers_total{source="view"}"#),
        Some(7.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"cove_dns_answers_total{source="upstream_failure"}"#
        ),
        Some(1.0)
    );
    assert_eq!(sample(&text, "cove_dns_ignored_queries_total"), Some(4.0));
    assert_eq!(sample(&text, "cove_dns_fast_path_answers_total"), Some(6.0));
}

#[test]
fn nat_gateways_show_errors_and_connections_per_ip() {
    let m = Metrics::new();
    m.nat.observe(&[NatGatewaySample {
        gateway: "t/v/nat-a".into(),
        connections: vec![("203.0.113.5".into(), 12)],
        port_allocation_errors: 3,
    }]);
    m.nat.observe(&[NatGatewaySample {
        gateway: "t/v/nat-a".into(),
        connections: vec![("203.0.113.5".into(), 4)],
        port_allocation_errors: 5,
    }]);
    let text = m.render();
    assert_eq!(
        sample(
            &text,
            r#"cove_nat_port_allocation_errors_total{gateway="t/v/nat-a"}"#
        ),
        Some(5.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"cove_nat_active_connections{gateway="t/v/nat-a",ip="203.0.113.5"}"#
        ),
        Some(4.0)
    );
}
