//! The resolver's counters (read by `cove status` and, later, the metrics).

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters, updated with relaxed atomics by the serving threads.
#[derive(Debug, Default)]
pub struct Stats {
    pub(crate) udp_queries: AtomicU64,
    pub(crate) tcp_queries: AtomicU64,
    pub(crate) local_answers: AtomicU64,
    pub(crate) forwarded: AtomicU64,
    pub(crate) cache_hits: AtomicU64,
    pub(crate) upstream_failures: AtomicU64,
    pub(crate) no_view: AtomicU64,
    pub(crate) send_errors: AtomicU64,
    pub(crate) fast_path_answers: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Queries received over UDP.
    pub udp_queries: u64,
    /// Queries received over TCP.
    pub tcp_queries: u64,
    /// Answered from a VPC's view (authoritative, or an error for a bad query).
    pub local_answers: u64,
    /// Sent to an upstream resolver.
    pub forwarded: u64,
    /// Answered from the cache of forwarded answers.
    pub cache_hits: u64,
    /// Forwarded queries no upstream answered in time (the client got SERVFAIL).
    pub upstream_failures: u64,
    /// Queries from a link or connection no view matches (ignored or refused).
    pub no_view: u64,
    /// Answers the kernel refused to send.
    pub send_errors: u64,
    /// Of the UDP queries, those the kernel's fast path answered (from answers
    /// the resolver gave before; counted in `local_answers` or `cache_hits` too).
    pub fast_path_answers: u64,
}

impl Stats {
    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n` to `counter`.
    pub(crate) fn add_n(counter: &AtomicU64, n: usize) {
        if n > 0 {
            counter.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// Adds the fast path's answers since the last time: `local` authoritative
    /// and `cached` forwarded ones.
    pub(crate) fn fast_path(&self, local: u64, cached: u64) {
        let add = |c: &AtomicU64, n: u64| {
            if n > 0 {
                c.fetch_add(n, Ordering::Relaxed);
            }
        };
        add(&self.udp_queries, local + cached);
        add(&self.local_answers, local);
        add(&self.cache_hits, cached);
        add(&self.fast_path_answers, local + cached);
    }

    /// A snapshot.
    pub fn snapshot(&self) -> StatsSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            udp_queries: g(&self.udp_queries),
            tcp_queries: g(&self.tcp_queries),
            local_answers: g(&self.local_answers),
            forwarded: g(&self.forwarded),
            cache_hits: g(&self.cache_hits),
            upstream_failures: g(&self.upstream_failures),
            no_view: g(&self.no_view),
            send_errors: g(&self.send_errors),
            fast_path_answers: g(&self.fast_path_answers),
        }
    }
}
