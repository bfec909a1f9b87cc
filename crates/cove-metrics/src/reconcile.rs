//! The reconciler's metrics: how long reconciling takes, how ticks end, kernel
//! operations carried out and drift repaired.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// How a reconciler tick ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum TickOutcome {
    /// The kernel was changed.
    Applied,
    /// The kernel matched the store.
    InSync,
    /// Another process reconciles.
    Follower,
    /// Nothing is desired.
    Empty,
    /// Another command held the deployment.
    Busy,
    /// The tick failed (retried at the next).
    Failed,
}

impl TickOutcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            TickOutcome::Applied => "applied",
            TickOutcome::InSync => "in_sync",
            TickOutcome::Follower => "follower",
            TickOutcome::Empty => "empty",
            TickOutcome::Busy => "busy",
            TickOutcome::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// The reconciler's families.
#[derive(Clone, Debug)]
pub struct ReconcileMetrics {
    duration: Histogram,
    ticks: Family<OutcomeLabel, Counter>,
    operations: Counter,
    drift_repairs: Counter,
}

impl Default for ReconcileMetrics {
    fn default() -> Self {
        ReconcileMetrics {
            // 100 µs to about 6.5 s, doubling.
            duration: Histogram::new(exponential_buckets(0.0001, 2.0, 17)),
            ticks: Family::default(),
            operations: Counter::default(),
            drift_repairs: Counter::default(),
        }
    }
}

impl ReconcileMetrics {
    pub(crate) fn register(&self, r: &mut Registry) {
        r.register(
            "reconcile_duration_seconds",
            "Reconciles that changed the kernel: observe, plan, apply and record",
            self.duration.clone(),
        );
        r.register(
            "reconcile_ticks",
            "Reconciler ticks by outcome",
            self.ticks.clone(),
        );
        r.register(
            "reconcile_kernel_operations",
            "Kernel operations the reconciler carried out",
            self.operations.clone(),
        );
        r.register(
            "reconcile_drift_repairs",
            "Reconciles that repaired drift (the kernel changed behind cove's back)",
            self.drift_repairs.clone(),
        );
    }

    /// A tick that ended `outcome`.
    pub fn tick(&self, outcome: TickOutcome) {
        self.ticks
            .get_or_create(&OutcomeLabel {
                outcome: outcome.as_str(),
            })
            .inc();
    }

    /// A tick that changed the kernel: `ops` operations in `took`, repairing drift
    /// or not.
    pub fn applied(&self, took: Duration, ops: usize, drift: bool) {
        self.tick(TickOutcome::Applied);
        self.duration.observe(took.as_secs_f64());
        self.operations
            .inc_by(u64::try_from(ops).unwrap_or(u64::MAX));
        if drift {
            self.drift_repairs.inc();
        }
    }
}
