//! A no-op reconcile in-process (issue 10: 1,000 ENIs in <= 100 ms, no process):
//! a persistent [`cove_host::Observer`] observes the host and the planner diffs
//! the observation against the desired state, on a generated network of
//! `RECONCILE_VPCS` x `RECONCILE_ENIS` ENIs (default 100 x 10 = 1,000, as
//! `scripts/bench-reconcile.sh`) and on a 3 x 3 = 9 ENI one, both on the host in
//! the same run (the small one is the baseline). Also times the one-shot
//! [`cove_host::Host::observe`] and the observer's first observation. Needs root.
//!
//! `cargo bench -p cove-host --bench reconcile`. Environment: `RECONCILE_VPCS`,
//! `RECONCILE_ENIS`, `RECONCILE_RUNS` (no-op rounds, default 30), `BENCH_PREFIX`
//! (default `rc<pid>`: the networks use `<prefix>l` and `<prefix>s`),
//! `RECONCILE_PHASE`: `all` (default), or `setup` (apply and keep), `measure`
//! (measure what `setup` left), `teardown` — so that the processes of the
//! measurement alone can be counted with `strace -f -e trace=execve` (the script
//! does; applying loads tables with `nft`).

use std::time::{Duration, Instant};

use cove_host::Host;
use cove_model::validate::validate;
use cove_plan::{HostState, desired, diff};
use cove_testgen::{LargeParams, large_network};

fn env(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A network applied under `prefix`, destroyed on drop.
struct Applied {
    host: Host,
    want: HostState,
    enis: usize,
    keep: bool,
}

impl Applied {
    fn new(prefix: &str, vpcs: usize, enis: usize, phase: &str) -> Applied {
        let params = LargeParams {
            vpcs,
            enis_per_vpc: enis,
            ..LargeParams::BENCH
        };
        let spec = large_network(params, 42);
        let start = Instant::now();
        let net = validate(&spec)
            .network
            .expect("a generated network is valid");
        let validated = start.elapsed();
        let want = desired(&net, prefix).expect("layout");
        eprintln!(
            "{prefix}: validate {:.1} ms, desired state {:.1} ms",
            ms(validated),
            ms(start.elapsed() - validated)
        );
        let host = Host::new(prefix).expect("prefix");
        let applied = |keep| Applied {
            host: host.clone(),
            want: want.clone(),
            enis: vpcs * enis,
            keep,
        };
        match phase {
            "measure" => return applied(true),
            "teardown" => return applied(false),
            _ => {}
        }
        let _ = host.destroy();
        let plan = diff(&host.observe().expect("observe"), &want);
        let start = Instant::now();
        host.apply(&plan).expect("apply");
        eprintln!(
            "{prefix}: applied {} ENIs ({} namespaces) in {:.1?}",
            vpcs * enis,
            want.namespaces.len(),
            start.elapsed()
        );
        applied(phase == "setup")
    }
}

impl Drop for Applied {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        if let Err(e) = self.host.destroy() {
            eprintln!("cleanup of {}: {e:?}", self.host.prefix());
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let prefix = std::env::var("BENCH_PREFIX")
        .unwrap_or_else(|_| format!("rc{}", std::process::id() % 100_000));
    let runs = env("RECONCILE_RUNS", 30).max(1);
    let phase = std::env::var("RECONCILE_PHASE").unwrap_or_else(|_| "all".into());
    let large = Applied::new(
        &format!("{prefix}l"),
        env("RECONCILE_VPCS", 100),
        env("RECONCILE_ENIS", 10),
        &phase,
    );
    let small = Applied::new(&format!("{prefix}s"), 3, 3, &phase);
    if phase == "setup" || phase == "teardown" {
        return;
    }
    println!(
        "| network | one-shot observe + diff | observer: first | observer: no-op observe + diff (median of {runs}) |"
    );
    println!("|---|---|---|---|");
    let mut noop = Vec::new();
    for a in [&large, &small] {
        let start = Instant::now();
        let plan = diff(&a.host.observe().expect("observe"), &a.want);
        let once = start.elapsed();
        assert!(plan.is_empty(), "not a no-op: {plan:?}");
        let mut observer = a.host.observer();
        let start = Instant::now();
        let first = observer.observe().expect("observe");
        let first_t = start.elapsed();
        assert!(diff(&first, &a.want).is_empty());
        let mut times = Vec::with_capacity(runs);
        let mut observe_times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            let seen = observer.observe().expect("observe");
            observe_times.push(start.elapsed());
            let plan = diff(&seen, &a.want);
            times.push(start.elapsed());
            assert!(plan.is_empty(), "not a no-op: {plan:?}");
            let r = observer.last_report();
            assert_eq!((r.opened, r.reread, r.dropped), (0, 0, 0), "{r:?}");
        }
        let m = median(times);
        noop.push(m);
        println!(
            "| {} ENIs | {:.1} ms | {:.1} ms | {:.2} ms (observe {:.2} ms) |",
            a.enis,
            ms(once),
            ms(first_t),
            ms(m),
            ms(median(observe_times))
        );
    }
    println!(
        "\nno-op reconcile with the observer: {:.2} ms for {} ENIs, {:.2} ms for {} ({:.1}x)",
        ms(noop[0]),
        large.enis,
        ms(noop[1]),
        small.enis,
        noop[0].as_secs_f64() / noop[1].as_secs_f64().max(1e-9)
    );
}
