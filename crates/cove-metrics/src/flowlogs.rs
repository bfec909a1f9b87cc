//! The flow-log collector's metrics, brought up to its counters when scraped.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// The collector's counters at one moment (monotonic).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowLogCounts {
    /// Records written to files.
    pub written: u64,
    /// Records lost (a full window, a file that could not be written).
    pub dropped: u64,
    /// Conntrack destroy events the kernel could not deliver.
    pub lost_events: u64,
    /// Refused packets read from NFLOG.
    pub refused: u64,
    /// Times refused packets were lost (NFLOG's socket was full).
    pub lost_rejects: u64,
}

/// `written` or `dropped`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// The collector's families.
#[derive(Clone, Debug, Default)]
pub struct FlowLogMetrics {
    records: Family<OutcomeLabel, Counter>,
    lost_events: Counter,
    refused: Counter,
    lost_rejects: Counter,
}

impl FlowLogMetrics {
    pub(crate) fn register(&self, r: &mut Registry) {
        r.register(
            "flow_log_records",
            "Flow-log records written, and dropped (a full window, a file that could not be written)",
            self.records.clone(),
        );
        r.register(
            "flow_log_lost_events",
            "Conntrack destroy events the kernel could not deliver (those connections' last moves are not logged)",
            self.lost_events.clone(),
        );
        r.register(
            "flow_log_refused_packets",
            "Packets the router refused at a network ACL or security groups, read for REJECT records (at most 10,000 a second are logged)",
            self.refused.clone(),
        );
        r.register(
            "flow_log_lost_rejects",
            "Times refused packets were lost because the NFLOG socket was full",
            self.lost_rejects.clone(),
        );
    }

    /// Brings the counters up to `now`.
    pub fn observe(&self, now: FlowLogCounts) {
        let up = crate::raise_to;
        for (outcome, v) in [("written", now.written), ("dropped", now.dropped)] {
            up(&self.records.get_or_create(&OutcomeLabel { outcome }), v);
        }
        up(&self.lost_events, now.lost_events);
        up(&self.refused, now.refused);
        up(&self.lost_rejects, now.lost_rejects);
    }
}
