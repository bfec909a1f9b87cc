//! `cove serve`: the function service. Lambda's Invoke API and function URLs on an
//! HTTP address; the applied functions are reloaded when `cove apply` or `cove fn`
//! changes them.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use anyhow::Context;

use crate::Outcome;
use crate::deploy::{RunOptions, Target};

/// Arguments of `cove serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to listen (keep it on a private address: there is no authentication).
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
    let config = args.target.scheduler_config(&args.run)?;
    // Starting up reaps stale environments and prepares the cgroup root: a writer.
    let lock = args.target.lock("serve")?;
    let functions = args.target.applied_functions()?;
    let scheduler = cove_scheduler::Scheduler::new(config, functions)?;
    let seconds = |what: &str, v: f64| {
        Duration::try_from_secs_f64(v)
            .with_context(|| format!("--{what} {v}: give a number of seconds, 0 or more"))
    };
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
    let addr_file = args.target.serve_addr_path();
    crate::deploy::write_atomically(&addr_file, &addr.to_string())?;
    crate::output::outln!(
        "cove serve: {} function(s) of prefix {} on http://{addr} (POST /2015-03-31/functions/NAME/invocations, function URLs at /url/NAME/)",
        scheduler.functions().len(),
        args.target.prefix
    );
    let server = tokio::spawn(cove_scheduler::http::serve(listener, scheduler.clone()));
    let watcher = {
        let (target, scheduler) = (args.target.clone(), scheduler.clone());
        tokio::spawn(async move { watch(target, scheduler).await })
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    server.abort();
    watcher.abort();
    scheduler.shutdown().await;
    let _ = std::fs::remove_file(&addr_file);
    crate::output::outln!("cove serve: stopped; every environment ended");
    Ok(())
}

/// Reloads the functions when the applied state changes.
async fn watch(target: Target, scheduler: cove_scheduler::Scheduler) {
    let stamp = |t: &Target| -> Vec<Option<SystemTime>> {
        [t.applied_path(), t.deployed_path(), t.registry_path()]
            .iter()
            .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .collect()
    };
    let mut last = stamp(&target);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = stamp(&target);
        if now == last {
            continue;
        }
        last = now;
        match target.applied_functions() {
            Ok(fns) => {
                eprintln!("cove serve: reloaded {} function(s)", fns.len());
                scheduler.set_functions(fns);
            }
            Err(e) => eprintln!("cove serve: keeping the previous functions: {e:#}"),
        }
    }
}
