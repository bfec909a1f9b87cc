//! Times the reconciler's no-op tick as `cove serve` runs it (lease renewed, the
//! store's generation read, the kernel observed and diffed, nothing to do) on an
//! applied deployment: `reconcile_tick PREFIX STATE_DIR [RUNS]` (`COVE_DATABASE`
//! for PostgreSQL). Prints every tick's time, then the median and the maximum.
//! Used by `scripts/bench-drift.sh`.

use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(prefix), Some(state)) = (args.get(1), args.get(2)) else {
        return Err("usage: reconcile_tick PREFIX STATE_DIR [RUNS]".into());
    };
    let runs: usize = args.get(3).map_or(Ok(20), |r| r.parse())?;
    let target = cove_deploy::Target::new(
        cove_deploy::Prefix::new(prefix)?,
        state.into(),
        Duration::from_secs(1),
    )
    .with_database(std::env::var("COVE_DATABASE").ok());
    let deployment = cove_deploy::Deployment::open_observing(target)?;
    let mut config = cove_deploy::ReconcilerConfig::for_this_process();
    // Every tick observes the kernel (in `cove serve`: every 500 ms).
    config.drift_every = Duration::ZERO;
    let mut reconciler = cove_deploy::Reconciler::new(deployment, config);
    // The first tick takes the lease and may apply; then every tick is a no-op.
    println!("first tick: {:?}", reconciler.tick()?);
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let tick = reconciler.tick()?;
        let took = started.elapsed();
        if tick != cove_deploy::Tick::InSync {
            return Err(format!("not a no-op tick: {tick:?}").into());
        }
        times.push(took);
    }
    reconciler.release();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "no-op tick over {runs} runs: median {:.1} ms, max {:.1} ms",
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    );
    Ok(())
}
