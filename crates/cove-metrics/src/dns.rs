//! The DNS resolver's metrics, brought up to its own counters when scraped.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// The resolver's counters at one moment (monotonic over the process's life).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DnsCounts {
    /// Queries over UDP.
    pub udp_queries: u64,
    /// Queries over TCP.
    pub tcp_queries: u64,
    /// Answered from a VPC's view.
    pub local_answers: u64,
    /// Sent to an upstream resolver.
    pub forwarded: u64,
    /// Answered from the cache of forwarded answers.
    pub cache_hits: u64,
    /// Forwarded queries that got SERVFAIL (no upstream answered).
    pub upstream_failures: u64,
    /// Queries from a link no VPC's view matches.
    pub no_view: u64,
    /// Answers the kernel refused to send.
    pub send_errors: u64,
    /// Of the UDP queries, those the kernel's fast path answered.
    pub fast_path_answers: u64,
}

/// `udp` or `tcp`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportLabel {
    transport: &'static str,
}

/// `view`, `forwarded`, `cache` or `upstream_failure`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: &'static str,
}

/// The resolver's families.
#[derive(Clone, Debug, Default)]
pub struct DnsMetrics {
    queries: Family<TransportLabel, Counter>,
    answers: Family<SourceLabel, Counter>,
    ignored: Counter,
    send_errors: Counter,
    fast_path: Counter,
}

impl DnsMetrics {
    pub(crate) fn register(&self, r: &mut Registry) {
        r.register(
            "dns_queries",
            "Queries the VPCs' resolver received",
            self.queries.clone(),
        );
        r.register(
            "dns_answers",
            "How queries were answered: from a VPC's view, forwarded upstream, from the cache, or SERVFAIL",
            self.answers.clone(),
        );
        r.register(
            "dns_ignored_queries",
            "Queries from a link no VPC's view matches",
            self.ignored.clone(),
        );
        r.register(
            "dns_send_errors",
            "Answers the kernel refused to send",
            self.send_errors.clone(),
        );
        r.register(
            "dns_fast_path_answers",
            "Of the UDP queries, those the kernel's fast path answered (a repeated query, from the resolver's earlier answer)",
            self.fast_path.clone(),
        );
    }

    /// Brings the counters up to `now` (a counter never goes back: a lower value
    /// than the one shown changes nothing).
    pub fn observe(&self, now: DnsCounts) {
        let up = crate::raise_to;
        for (transport, v) in [("udp", now.udp_queries), ("tcp", now.tcp_queries)] {
            up(
                &self.queries.get_or_create(&TransportLabel { transport }),
                v,
            );
        }
        for (source, v) in [
            ("view", now.local_answers),
            ("forwarded", now.forwarded),
            ("cache", now.cache_hits),
            ("upstream_failure", now.upstream_failures),
        ] {
            up(&self.answers.get_or_create(&SourceLabel { source }), v);
        }
        up(&self.ignored, now.no_view);
        up(&self.send_errors, now.send_errors);
        up(&self.fast_path, now.fast_path_answers);
    }
}
