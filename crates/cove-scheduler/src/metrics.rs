//! The scheduler's part of `cove serve`'s metrics: each invocation counted as it
//! ends, and environments by state read when the metrics are scraped.

use std::sync::Arc;

use cove_functions::pool::SlotState;
use cove_metrics::{EnvironmentCount, Metrics};

use crate::scheduler::FunctionRuntime;
use crate::{InvokeError, InvokeResult, Scheduler};

impl Scheduler {
    /// Counts invocations in `metrics` from now on, reports the environments by
    /// state at each scrape, and serves them at `GET /metrics` ([`crate::http`]).
    /// Once: a second call changes nothing.
    pub fn set_metrics(&self, metrics: Arc<Metrics>) {
        if self.shared.metrics.set(Arc::clone(&metrics)).is_err() {
            return;
        }
        // Weak: the metrics must not keep the scheduler alive (its reaper ends
        // when the scheduler is dropped).
        let weak = Arc::downgrade(&self.shared);
        let functions = metrics.functions.clone();
        metrics.add_sampler(move || {
            if let Some(shared) = weak.upgrade() {
                functions.set_environments(&Scheduler::from_shared(shared).environment_counts());
            }
        });
    }

    /// The metrics set with [`Scheduler::set_metrics`].
    pub fn metrics(&self) -> Option<Arc<Metrics>> {
        self.shared.metrics.get().cloned()
    }

    /// Every function's environments by state: `starting`, `busy`, `idle`,
    /// `ending` (a state with none is listed with 0).
    pub fn environment_counts(&self) -> Vec<EnvironmentCount> {
        let functions: Vec<(String, Arc<FunctionRuntime>)> = self
            .shared
            .functions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, f)| (k.clone(), Arc::clone(f)))
            .collect();
        let mut out = Vec::new();
        for (key, f) in functions {
            let mut counts = [0u64; 4];
            for s in f.lock().pool.slots() {
                let i = match s {
                    SlotState::Starting(_) => 0,
                    SlotState::Busy(_) => 1,
                    SlotState::Idle { .. } => 2,
                    SlotState::Ending(_) => 3,
                    SlotState::Free | SlotState::Foreign => continue,
                };
                counts[i] += 1;
            }
            for (state, count) in ["starting", "busy", "idle", "ending"]
                .into_iter()
                .zip(counts)
            {
                out.push(EnvironmentCount {
                    function: key.clone(),
                    state,
                    count,
                });
            }
        }
        out
    }

    /// Counts one placed invocation: one that ran (its duration, cold start and
    /// error type) or one throttled. Refusals before running (a bad payload, the
    /// service failing) are not invocations.
    pub(crate) fn count(&self, f: &FunctionRuntime, result: &Result<InvokeResult, InvokeError>) {
        let Some(m) = self.shared.metrics.get().map(|m| &m.functions) else {
            return;
        };
        let key = f.config.key();
        match result {
            Ok(r) => m.invoked(&cove_metrics::Invocation {
                function: &key,
                took: r.duration,
                memory_mb: f.config.memory_mb,
                cold_start: r.cold_start,
                error_type: r.error_type.as_deref(),
            }),
            Err(InvokeError::Throttled { .. }) => m.throttled(&key),
            Err(_) => {}
        }
    }
}
