//! Capture windows: what the interfaces saw, summed per flow log, interface,
//! direction, 5-tuple and action over windows of the flow log's aggregation
//! interval (aligned to multiples of it), and handed out as records once a window
//! has passed.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddrV4;

use cove_model::flowlog::{Field, FlowLogScope, TrafficType};
use cove_model::{EniId, Network};

use crate::directory::{Direction, Seen};
use crate::explain::Explanation;
use crate::record::{Action, Record};

/// Distinct records one window keeps at most; what comes beyond is dropped and
/// counted ([`Aggregator::dropped`]).
pub const MAX_RECORDS_PER_WINDOW: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    eni: EniId,
    direction: Direction,
    proto: u8,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    action: Action,
}

/// The records of one flow log's windows in the making.
#[derive(Debug, Default)]
pub struct Aggregator {
    /// (flow log, window start) → records by key.
    windows: BTreeMap<(usize, u64), HashMap<Key, Record>>,
    dropped: u64,
}

/// Whether flow log `log` of `net` captures `action`ed traffic at `eni`.
fn captures(net: &Network, log: usize, eni: EniId, action: Action) -> bool {
    let l = &net.flow_logs[log];
    let e = &net.enis[eni.index()];
    let scope = match l.scope {
        FlowLogScope::Vpc => e.vpc == l.vpc,
        FlowLogScope::Subnet(s) => e.subnet == s,
        FlowLogScope::Eni(x) => x == eni,
    };
    let traffic = match l.traffic {
        TrafficType::All => true,
        TrafficType::Accept => action == Action::Accept,
        TrafficType::Reject => action == Action::Reject,
    };
    scope && traffic
}

impl Aggregator {
    /// Adds what an interface saw, read at `now_s`, to the current window of every
    /// flow log that captures it. `explain` gives the deciding rule and reason; it
    /// is asked only for a new record of a flow log whose format has them.
    pub fn add(
        &mut self,
        net: &Network,
        now_s: u64,
        seen: &Seen,
        action: Action,
        explain: &mut dyn FnMut(&Seen) -> Option<Explanation>,
    ) {
        for log in 0..net.flow_logs.len() {
            if !captures(net, log, seen.eni, action) {
                continue;
            }
            let interval = u64::from(net.flow_logs[log].interval_s.max(1));
            let start = now_s - now_s % interval;
            let window = self.windows.entry((log, start)).or_default();
            let key = Key {
                eni: seen.eni,
                direction: seen.direction,
                proto: seen.proto,
                src: seen.src,
                dst: seen.dst,
                action,
            };
            // The first packet: the connection's start when it falls in this
            // window, else the reading before this one (about a second ago).
            let first = seen
                .started_ms
                .map(|ms| ms / 1000)
                .filter(|s| *s >= start && *s <= now_s)
                .unwrap_or_else(|| now_s.saturating_sub(1).max(start));
            if let Some(r) = window.get_mut(&key) {
                r.counts.packets += seen.counts.packets;
                r.counts.bytes += seen.counts.bytes;
                r.start_s = r.start_s.min(first);
                r.end_s = r.end_s.max(now_s);
                r.tcp_flags |= seen.tcp_flags;
                continue;
            }
            if window.len() >= MAX_RECORDS_PER_WINDOW {
                self.dropped += 1;
                continue;
            }
            let fields = &net.flow_logs[log].fields;
            let rule = if fields.contains(&Field::CoveRule) || fields.contains(&Field::CoveReason) {
                explain(seen)
            } else {
                None
            };
            window.insert(
                key,
                Record {
                    log,
                    eni: seen.eni,
                    function: seen.function,
                    invocation: seen.invocation.clone(),
                    direction: seen.direction,
                    proto: seen.proto,
                    src: seen.src,
                    dst: seen.dst,
                    pkt_src: seen.pkt_src,
                    pkt_dst: seen.pkt_dst,
                    nat_src: seen.nat_src,
                    nat_dst: seen.nat_dst,
                    counts: seen.counts,
                    start_s: first,
                    end_s: now_s,
                    action,
                    tcp_flags: seen.tcp_flags,
                    traffic_path: (seen.direction == Direction::Egress)
                        .then_some(seen.traffic_path)
                        .flatten(),
                    reason: rule.as_ref().map(|r| r.reason.clone()),
                    rule: rule.and_then(|r| r.rule),
                },
            );
        }
    }

    /// The records of every window that ended by `now_s` (all windows with
    /// `all`), oldest first.
    pub fn flush(&mut self, net: &Network, now_s: u64, all: bool) -> Vec<Record> {
        let due: Vec<(usize, u64)> = self
            .windows
            .keys()
            .filter(|(log, start)| {
                let interval = net
                    .flow_logs
                    .get(*log)
                    .map_or(1, |l| u64::from(l.interval_s.max(1)));
                all || start + interval <= now_s
            })
            .copied()
            .collect();
        let mut out = Vec::new();
        for k in due {
            if let Some(w) = self.windows.remove(&k) {
                let mut records: Vec<Record> = w.into_values().collect();
                records.sort_by_key(|r| (r.start_s, r.eni, r.direction, r.src, r.dst));
                out.extend(records);
            }
        }
        out
    }

    /// Records dropped because a window was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Forgets every window (the flow logs changed: indexes no longer hold).
    pub fn clear(&mut self) {
        self.windows.clear();
    }
}
