//! cove's Prometheus metrics (issue 14): the families `cove serve` exposes at
//! `/metrics`, kept with `prometheus-client` and rendered in the text exposition
//! format.
//!
//! * [`FunctionMetrics`]: invocations, errors by type, throttles, cold starts,
//!   duration histograms, environments by state — recorded by the scheduler.
//! * [`ReconcileMetrics`]: reconcile duration, outcomes, kernel operations, drift
//!   repairs — recorded from the reconciler's ticks.
//! * [`DnsMetrics`]: the resolver's queries and answers — read from its counters
//!   when scraped.
//! * [`FlowLogMetrics`]: flow-log records written and dropped.
//! * [`NatMetrics`]: NAT gateways' port-allocation errors and connections per
//!   public IP.
//! * [`TransferMetrics`]: metering — bytes and packets sent per tenant and
//!   function, by path.
//!
//! Values that live elsewhere (environments by state, the resolver's counters)
//! are read at scrape time by *samplers* ([`Metrics::add_sampler`]). Labels take
//! only bounded values (function keys, fixed kinds): nothing a function sends
//! becomes a label.

mod dns;
mod flowlogs;
mod functions;
mod nat;
mod reconcile;
mod transfer;

use std::sync::{Arc, Mutex};

use prometheus_client::registry::Registry;

pub use crate::dns::{DnsCounts, DnsMetrics};
pub use crate::flowlogs::{FlowLogCounts, FlowLogMetrics};
pub use crate::functions::{
    EnvironmentCount, FunctionMetrics, FunctionSummary, Invocation, error_kind,
};
pub use crate::nat::{NatGatewaySample, NatMetrics};
pub use crate::reconcile::{ReconcileMetrics, TickOutcome};
pub use crate::transfer::{SentOnPath, TransferMetrics};

/// A closure run before each rendering, to bring sampled values up to date.
type Sampler = Box<dyn Fn() + Send + Sync>;

/// Every metric of one `cove serve` process.
pub struct Metrics {
    registry: Registry,
    /// The functions' metrics (the scheduler records them).
    pub functions: FunctionMetrics,
    /// The reconciler's metrics.
    pub reconcile: ReconcileMetrics,
    /// The DNS resolver's metrics.
    pub dns: DnsMetrics,
    /// The flow-log collector's metrics.
    pub flow_logs: FlowLogMetrics,
    /// Metering: bytes and packets sent per tenant and function, by path.
    pub transfer: TransferMetrics,
    /// NAT gateways: port-allocation errors, connections per public IP.
    pub nat: NatMetrics,
    samplers: Mutex<Vec<Sampler>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Every family, registered under the `cove_` prefix.
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("cove");
        let functions = FunctionMetrics::default();
        functions.register(&mut registry);
        let reconcile = ReconcileMetrics::default();
        reconcile.register(&mut registry);
        let dns = DnsMetrics::default();
        dns.register(&mut registry);
        let flow_logs = FlowLogMetrics::default();
        flow_logs.register(&mut registry);
        let transfer = TransferMetrics::default();
        transfer.register(&mut registry);
        let nat = NatMetrics::default();
        nat.register(&mut registry);
        Arc::new(Metrics {
            registry,
            functions,
            reconcile,
            dns,
            flow_logs,
            transfer,
            nat,
            samplers: Mutex::new(Vec::new()),
        })
    }

    /// Runs `sample` before every rendering (it sets gauges or brings counters
    /// up to values kept elsewhere).
    pub fn add_sampler(&self, sample: impl Fn() + Send + Sync + 'static) {
        self.samplers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(sample));
    }

    /// The metrics in Prometheus's text exposition format (OpenMetrics text, which
    /// Prometheus scrapes), after running the samplers.
    pub fn render(&self) -> String {
        for s in self
            .samplers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            s();
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Raises counter `c` to `v`, a monotonic value kept elsewhere (one lower than
/// the counter shows changes nothing: a counter never goes back).
pub(crate) fn raise_to(c: &prometheus_client::metrics::counter::Counter, v: u64) {
    let shown = c.get();
    if v > shown {
        c.inc_by(v - shown);
    }
}

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests;
