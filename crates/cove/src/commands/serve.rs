//! `cove serve`: the function service. Lambda's Invoke API and function URLs on an
//! HTTP address; the applied functions are reloaded when `cove apply` or `cove fn`
//! changes them.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;

use crate::Outcome;
use crate::deploy::{RunOptions, Target};

/// Arguments of `cove serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to listen (keep it on a private address: there is no authentication).
    /// Prometheus scrapes `GET /metrics` here too.
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// Which deployment.
    #[command(flatten)]
    pub target: Target,
    /// How environments run.
    #[command(flatten)]
    pub run: RunOptions,
    /// Seconds before the first retry of an asynchronous (`Event`) invocation that
    /// failed; the second retry waits twice as long. Lambda: 60. Tests scale it down.
    #[arg(long, env = "COVE_ASYNC_RETRY_DELAY", default_value_t = 60.0)]
    pub async_retry_delay: f64,
    /// Asynchronous events older than this many seconds are dropped without running
    /// (Lambda's `MaximumEventAgeInSeconds`; default 6 hours).
    #[arg(long, env = "COVE_MAX_EVENT_AGE", default_value_t = 21_600.0)]
    pub max_event_age: f64,
    /// Retries of an asynchronous invocation after a function error (Lambda's
    /// `MaximumRetryAttempts`, 0 to 2).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=2))]
    pub max_retry_attempts: u32,
    /// Seconds the reconciler's lease lasts unless renewed: with several `cove serve`
    /// processes on one store, another one takes over this long after the leader died.
    #[arg(long, env = "COVE_LEASE_TTL", default_value_t = 5.0)]
    pub lease_ttl: f64,
    /// Connections one shared function ENI carries before its (subnet,
    /// security-group set) combination gets another ENI (Lambda's 65,000). Tests
    /// scale it down.
    #[arg(long, env = "COVE_SHARED_ENI_CONNECTIONS", default_value_t = cove_deploy::shared_scale::SHARED_ENI_CONNECTIONS, value_parser = clap::value_parser!(u64).range(1..))]
    pub shared_eni_connections: u64,
    /// Seconds a failed NAT gateway of a pair must be healthy again before it gets
    /// its addresses back from its partner (so nothing flaps).
    #[arg(long, env = "COVE_NAT_FAILBACK_AFTER", default_value_t = 60.0)]
    pub nat_failback_after: f64,
    /// An upstream resolver the VPCs' DNS resolver forwards names it does not
    /// answer itself to (`ADDRESS[:PORT]`, IPv4; repeat for several, tried in
    /// order). Default: the `nameserver` lines of this host's /etc/resolv.conf.
    #[arg(long = "dns-upstream", env = "COVE_DNS_UPSTREAM", value_delimiter = ',', value_parser = parse_upstream)]
    pub dns_upstreams: Vec<SocketAddr>,
    /// Answer every DNS query in the resolver, without its kernel fast path
    /// (which answers repeated queries on the router's links; for comparison).
    #[arg(long, env = "COVE_NO_DNS_FAST_PATH")]
    pub no_dns_fast_path: bool,
    /// Also serve the object store on this host at `ADDRESS:PORT`, outside every
    /// VPC (the operator's side: requests come through no endpoint, so policies
    /// that require one refuse them). Default: only behind S3 endpoints.
    #[arg(long, env = "COVE_OBJECTS_LISTEN")]
    pub objects_listen: Option<std::net::SocketAddrV4>,
    /// Days a function's logs are kept (environment logs and asynchronous-events
    /// logs; a live environment's log is never deleted).
    #[arg(long, env = "COVE_LOG_RETENTION_DAYS", default_value_t = 7.0)]
    pub log_retention_days: f64,
    /// MiB of logs kept per function: past it, the oldest files are deleted first.
    #[arg(long, env = "COVE_LOG_MAX_MB", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..))]
    pub log_max_mb: u64,
    /// Do not run the reconciler in this process (only serve functions).
    #[arg(long)]
    pub no_reconcile: bool,
    /// Where the control-plane API listens (tenants, tokens, networks, peerings,
    /// specs, reachability; OpenAPI at `/openapi.json`). Every request needs a token.
    #[arg(long, env = "COVE_API_LISTEN", default_value = "127.0.0.1:9001")]
    pub api_listen: SocketAddr,
    /// Do not serve the control-plane API in this process.
    #[arg(long)]
    pub no_api: bool,
    /// Where the operator's admin token is written at the first start (once, mode
    /// 0600); default `<state dir>/<prefix>/admin-token`.
    #[arg(long, env = "COVE_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<std::path::PathBuf>,
}

/// Runs until interrupted (SIGINT or SIGTERM), then ends every environment.
pub fn run(args: &Args) -> anyhow::Result<Outcome> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(serve(args))?;
    Ok(Outcome::Ok)
}

async fn serve(args: &Args) -> anyhow::Result<()> {
    let deployment = args.target.deployment()?;
    let config = crate::deploy::scheduler_config(deployment.target(), &args.run)?;
    // Starting up reaps stale environments and prepares the cgroup root: a writer.
    let lock = deployment.lock("serve")?;
    let generations = deployment.generations()?;
    // Nothing desired yet (a new store): no functions until a change arrives.
    let functions = match deployment.functions() {
        Err(cove_deploy::DeployError::NothingApplied { .. }) => Vec::new(),
        other => other?,
    };
    let scheduler = cove_scheduler::Scheduler::new(config, functions)?;
    let seconds = |what: &str, v: f64| {
        Duration::try_from_secs_f64(v)
            .with_context(|| format!("--{what} {v}: give a number of seconds, 0 or more"))
    };
    scheduler.set_log_retention(cove_scheduler::retention::LogRetention {
        max_age: seconds("log-retention-days", args.log_retention_days * 86_400.0)?,
        max_bytes_per_function: args.log_max_mb << 20,
    });
    scheduler.set_async_config(cove_scheduler::AsyncConfig {
        retry_delay: seconds("async-retry-delay", args.async_retry_delay)?,
        max_retries: args.max_retry_attempts,
        max_event_age: seconds("max-event-age", args.max_event_age)?,
    });
    drop(lock);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener
        .local_addr()
        .context("reading the listening address")?;
    deployment.store().set_serve_addr(addr)?;
    // The host's health as the reconciler reports it (the operator's
    // `GET /v1/health` and the console's operator view).
    let health = std::sync::Arc::new(cove_api::health::HealthBoard::default());
    let api = if args.no_api {
        None
    } else {
        Some(
            start_api(
                args,
                &deployment,
                &scheduler,
                std::sync::Arc::clone(&health),
            )
            .await?,
        )
    };
    crate::output::outln!(
        "cove serve: {} function(s) of prefix {} on http://{addr} (POST /2015-03-31/functions/NAME/invocations, function URLs at /url/NAME/, metrics at /metrics)",
        scheduler.functions().len(),
        args.target.prefix
    );
    // Prometheus's `/metrics`, on the function listener: invocations (counted by
    // the scheduler), environments by state, the reconciler, DNS.
    let metrics = cove_metrics::Metrics::new();
    scheduler.set_metrics(std::sync::Arc::clone(&metrics));
    // The scheduler records which invocation runs in which environment; the
    // flow-log collector names them on function flows.
    let invocations = std::sync::Arc::new(cove_scheduler::InvocationLog::default());
    scheduler.set_invocation_log(std::sync::Arc::clone(&invocations));
    let server = tokio::spawn(cove_scheduler::http::serve(listener, scheduler.clone()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reconciler = if args.no_reconcile {
        None
    } else {
        let mut target = deployment.target().clone();
        // The reconciler skips a tick rather than wait long for a command.
        target.lock_wait = target.lock_wait.min(Duration::from_secs(1));
        let mut config = cove_deploy::ReconcilerConfig::for_this_process();
        config.lease_ttl = seconds("lease-ttl", args.lease_ttl)?;
        config.shared_eni_connections = args.shared_eni_connections;
        config.failback_after = seconds("nat-failback-after", args.nat_failback_after)?;
        config.objects_listen = args.objects_listen;
        if !args.dns_upstreams.is_empty() {
            config.dns_upstreams = args.dns_upstreams.clone();
        }
        config.dns_fast_path = !args.no_dns_fast_path;
        let stop = stop.clone();
        let metrics = metrics.clone();
        let invocations = std::sync::Arc::clone(&invocations);
        let scheduler = scheduler.clone();
        let health = std::sync::Arc::clone(&health);
        Some(
            std::thread::Builder::new()
                .name("cove-reconciler".into())
                .spawn(move || {
                    let observers = TickObservers {
                        metrics: &metrics,
                        health: &health,
                    };
                    reconcile_loop(target, config, &stop, &observers, invocations, scheduler);
                })
                .context("starting the reconciler's thread")?,
        )
    };
    let watcher = {
        let scheduler = scheduler.clone();
        let target = deployment.target().clone();
        tokio::spawn(async move { watch(target, generations, scheduler).await })
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    server.abort();
    if let Some(api) = api {
        api.abort();
    }
    watcher.abort();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(r) = reconciler {
        let _ = tokio::task::spawn_blocking(move || r.join()).await;
    }
    scheduler.shutdown().await;
    let _ = deployment.store().forget_serve_addr();
    crate::output::outln!("cove serve: stopped; every environment ended");
    Ok(())
}

/// Opens the store again in this runtime (a connection belongs to the runtime that
/// made it), makes the admin token at the first start, and serves the control-plane
/// API; what it records reaches the kernel through the reconciler.
async fn start_api(
    args: &Args,
    deployment: &cove_deploy::Deployment,
    scheduler: &cove_scheduler::Scheduler,
    health: std::sync::Arc<cove_api::health::HealthBoard>,
) -> anyhow::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    let url = deployment.store().database_url();
    let store = cove_store::Store::open_with(url, &cove_store::StoreOptions::default())
        .await
        .with_context(|| format!("opening {} for the API", url.redacted()))?;
    let token_file = args
        .admin_token_file
        .clone()
        .unwrap_or_else(|| deployment.store().dir().join("admin-token"));
    if cove_api::bootstrap(&store, &token_file).await? {
        crate::output::outln!(
            "cove serve: the operator's admin token was written to {} (once; keep it)",
            token_file.display()
        );
    }
    let listener = tokio::net::TcpListener::bind(args.api_listen)
        .await
        .with_context(|| format!("listening on {} (--api-listen)", args.api_listen))?;
    let addr = listener
        .local_addr()
        .context("reading the API's listening address")?;
    crate::output::outln!(
        "cove serve: control-plane API on http://{addr} (/openapi.json), web console at http://{addr}/console/"
    );
    // Tenants' functions run in this process's scheduler; their code goes into
    // the deployment's code store.
    let runner = super::serve_runner::ServeRunner {
        scheduler: scheduler.clone(),
        logs: deployment.target().logs(),
    };
    let state = cove_api::ApiState::new(store)
        .with_code_store(deployment.target().code_store())
        .with_flow_logs(
            deployment.target().flow_logs(),
            deployment.target().metering(),
        )
        .with_access_keys(
            deployment
                .target()
                .access_keys()
                .context("reading the tenants' access-key secret")?,
        )
        .with_runner(std::sync::Arc::new(runner))
        .with_health(health);
    // The web console shares the listener (`/console/…`, calling this API), and so
    // do the AWS-compatible APIs (`POST /`: EC2's Query API; Lambda's REST API;
    // SigV4 with the tenants' access keys).
    let aws = cove_awsapi::router(state.clone());
    let hosts = state.clone();
    Ok(tokio::spawn(cove_console::serve_wrapped(
        listener,
        state,
        aws,
        move |app| cove_awsapi::with_function_url_hosts(app, hosts),
    )))
}

/// Reloads the functions when a reconcile realized a new generation (`cove apply`,
/// `cove fn deploy`/`delete`, `cove destroy`).
async fn watch(
    target: cove_deploy::Target,
    mut last: cove_deploy::Generations,
    scheduler: cove_scheduler::Scheduler,
) {
    let deployment = match cove_deploy::Deployment::open(target) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cove serve: not watching for changes: {e}");
            return;
        }
    };
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = match deployment.generations() {
            Ok(g) => g,
            Err(e) => {
                eprintln!("cove serve: keeping the previous functions: {e}");
                continue;
            }
        };
        if now.applied == last.applied {
            continue;
        }
        last = now;
        let functions = match deployment.network() {
            // Destroyed: nothing is applied any more.
            Ok(None) => Ok(Vec::new()),
            Ok(Some(_)) => deployment.functions(),
            Err(e) => Err(e),
        };
        match functions {
            Ok(fns) => {
                eprintln!(
                    "cove serve: reloaded {} function(s) (generation {})",
                    fns.len(),
                    now.applied
                );
                scheduler.set_functions(fns);
            }
            Err(e) => eprintln!("cove serve: keeping the previous functions: {e}"),
        }
    }
}

/// Who hears of every reconciler tick.
struct TickObservers<'a> {
    /// Prometheus's metrics (also the DNS resolver's and flow logs' counters).
    metrics: &'a std::sync::Arc<cove_metrics::Metrics>,
    /// The host's health (`GET /v1/health`).
    health: &'a cove_api::health::HealthBoard,
}

/// The reconciler's thread (never a tokio worker: the executor enters namespaces).
/// Its ticks and the DNS resolver's counters go to the metrics, its ticks to the
/// health board.
fn reconcile_loop(
    target: cove_deploy::Target,
    config: cove_deploy::ReconcilerConfig,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
    observers: &TickObservers<'_>,
    invocations: std::sync::Arc<cove_scheduler::InvocationLog>,
    scheduler: cove_scheduler::Scheduler,
) {
    let metrics = observers.metrics;
    let deployment = match cove_deploy::Deployment::open_observing(target) {
        Ok(d) => d,
        Err(e) => {
            eprintln!(
                "cove serve: not reconciling: {}",
                crate::deploy::DisplayChain(&e)
            );
            return;
        }
    };
    let mut reconciler = cove_deploy::Reconciler::new(deployment, config);
    {
        let kernel = reconciler.deployment().kernel();
        let _ = kernel.invocations.set(invocations);
        // Private APIs invoke this process's functions.
        let _ = kernel.scheduler.set(scheduler);
        let stats = std::sync::Arc::clone(&kernel.dns_stats);
        let dns = metrics.dns.clone();
        metrics.add_sampler(move || dns.observe(dns_counts(stats.snapshot())));
        let flows = std::sync::Arc::clone(&kernel.flow_stats);
        let flow_metrics = metrics.flow_logs.clone();
        let transfer = metrics.transfer.clone();
        let nat_metrics = metrics.nat.clone();
        metrics.add_sampler(move || {
            use std::sync::atomic::Ordering::Relaxed;
            flow_metrics.observe(cove_metrics::FlowLogCounts {
                written: flows.written.load(Relaxed),
                dropped: flows.dropped.load(Relaxed),
                lost_events: flows.lost_events.load(Relaxed),
                refused: flows.refused.load(Relaxed),
                lost_rejects: flows.lost_rejects.load(Relaxed),
            });
            let meter = flows.meter.lock().unwrap_or_else(|e| e.into_inner());
            let rows = |m: &std::collections::BTreeMap<
                (String, cove_flowlog::PathKind),
                cove_flowlog::Counts,
            >| {
                m.iter()
                    .map(|((who, path), c)| cove_metrics::SentOnPath {
                        who: who.clone(),
                        path: path.as_str(),
                        bytes: c.bytes,
                        packets: c.packets,
                    })
                    .collect::<Vec<_>>()
            };
            transfer.observe(&rows(&meter.tenants), &rows(&meter.functions));
            drop(meter);
            let nat: Vec<cove_metrics::NatGatewaySample> = flows
                .nat
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|(gateway, s)| cove_metrics::NatGatewaySample {
                    gateway: gateway.clone(),
                    connections: s
                        .connections
                        .iter()
                        .map(|(ip, n)| (ip.to_string(), *n))
                        .collect(),
                    port_allocation_errors: s.port_allocation_errors,
                })
                .collect();
            nat_metrics.observe(&nat);
        });
    }
    reconciler.run(stop, |tick, repeat| {
        record_tick(&metrics.reconcile, tick);
        observers.health.record(health_report(tick));
        if repeat == cove_deploy::Repeat::New {
            print_tick(tick);
        }
    });
}

/// The resolver's counters as the metrics take them.
fn dns_counts(s: cove_resolver::StatsSnapshot) -> cove_metrics::DnsCounts {
    cove_metrics::DnsCounts {
        udp_queries: s.udp_queries,
        tcp_queries: s.tcp_queries,
        local_answers: s.local_answers,
        forwarded: s.forwarded,
        cache_hits: s.cache_hits,
        upstream_failures: s.upstream_failures,
        no_view: s.no_view,
        send_errors: s.send_errors,
        fast_path_answers: s.fast_path_answers,
    }
}

/// Counts a reconciler tick.
fn record_tick(
    m: &cove_metrics::ReconcileMetrics,
    tick: &Result<cove_deploy::Tick, cove_deploy::DeployError>,
) {
    use cove_metrics::TickOutcome;
    match tick {
        Ok(cove_deploy::Tick::Applied {
            ops, drift, took, ..
        }) => m.applied(*took, *ops, *drift),
        Ok(cove_deploy::Tick::InSync) => m.tick(TickOutcome::InSync),
        Ok(cove_deploy::Tick::Follower { .. }) => m.tick(TickOutcome::Follower),
        Ok(cove_deploy::Tick::Empty) => m.tick(TickOutcome::Empty),
        Ok(cove_deploy::Tick::Busy) => m.tick(TickOutcome::Busy),
        Err(_) => m.tick(TickOutcome::Failed),
    }
}

/// A tick as the health board takes it.
fn health_report(
    tick: &Result<cove_deploy::Tick, cove_deploy::DeployError>,
) -> cove_api::health::TickReport {
    use cove_api::health::TickReport;
    match tick {
        Ok(cove_deploy::Tick::Applied {
            generation,
            ops,
            drift,
            ..
        }) => TickReport::Applied {
            generation: generation.0,
            ops: *ops,
            drift: *drift,
        },
        Ok(cove_deploy::Tick::InSync) => TickReport::InSync,
        Ok(cove_deploy::Tick::Follower { leader }) => TickReport::Follower {
            leader: leader.to_string(),
        },
        Ok(cove_deploy::Tick::Empty | cove_deploy::Tick::Busy) => TickReport::Idle,
        Err(e) => TickReport::Failed {
            error: crate::deploy::DisplayChain(e).to_string(),
        },
    }
}

/// Prints a reconciler tick.
fn print_tick(tick: &Result<cove_deploy::Tick, cove_deploy::DeployError>) {
    match tick {
        Ok(cove_deploy::Tick::Applied {
            generation,
            ops,
            drift,
            took,
        }) => eprintln!(
            "cove serve: reconciled generation {generation}: {ops} kernel operation(s) in {:.1} ms{}",
            took.as_secs_f64() * 1000.0,
            if *drift { " (drift repaired)" } else { "" }
        ),
        Ok(cove_deploy::Tick::Follower { leader }) => {
            eprintln!("cove serve: {leader} reconciles; serving only")
        }
        Ok(cove_deploy::Tick::InSync) => eprintln!("cove serve: reconciler: leader, in sync"),
        Ok(cove_deploy::Tick::Empty | cove_deploy::Tick::Busy) => {}
        Err(e) => eprintln!(
            "cove serve: reconcile failed (retrying): {}",
            crate::deploy::DisplayChain(e)
        ),
    }
}

/// `--dns-upstream`: an IPv4 address, with an optional port (53 by default).
fn parse_upstream(text: &str) -> Result<SocketAddr, String> {
    if let Ok(ip) = text.parse::<std::net::Ipv4Addr>() {
        return Ok(SocketAddr::from((ip, 53)));
    }
    match text.parse::<SocketAddr>() {
        Ok(a) if a.is_ipv4() => Ok(a),
        _ => Err(format!(
            "{text:?} is not an IPv4 address with an optional port: write 192.0.2.53 or 192.0.2.53:5353"
        )),
    }
}
