//! Tracked connections, and what each moved between two readings.

use std::collections::HashMap;
use std::net::SocketAddrV4;

/// Packets and bytes (IP bytes: headers included, as AWS counts them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

impl Counts {
    /// What `self` has beyond `before` (a counter that went back counts from 0).
    pub fn since(self, before: Counts) -> Counts {
        if self.packets < before.packets || self.bytes < before.bytes {
            return self;
        }
        Counts {
            packets: self.packets - before.packets,
            bytes: self.bytes - before.bytes,
        }
    }

    /// Whether nothing moved.
    pub fn is_zero(self) -> bool {
        self.packets == 0
    }
}

/// TCP's conntrack states that say how a connection ended (`tcp_conntrack`).
pub mod tcp_state {
    /// `TCP_CONNTRACK_SYN_SENT`.
    pub const SYN_SENT: u8 = 1;
    /// `TCP_CONNTRACK_SYN_RECV`.
    pub const SYN_RECV: u8 = 2;
    /// `TCP_CONNTRACK_ESTABLISHED`.
    pub const ESTABLISHED: u8 = 3;
    /// `TCP_CONNTRACK_FIN_WAIT`.
    pub const FIN_WAIT: u8 = 4;
    /// `TCP_CONNTRACK_CLOSE_WAIT`.
    pub const CLOSE_WAIT: u8 = 5;
    /// `TCP_CONNTRACK_LAST_ACK`.
    pub const LAST_ACK: u8 = 6;
    /// `TCP_CONNTRACK_TIME_WAIT`.
    pub const TIME_WAIT: u8 = 7;
    /// `TCP_CONNTRACK_CLOSE` (after a reset).
    pub const CLOSE: u8 = 8;
}

/// One tracked connection as a dump or a destroy event reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtFlow {
    /// Conntrack's id of the entry.
    pub id: u32,
    /// Its zone (the router's: a VPC's or a peering's).
    pub zone: u16,
    /// IP protocol.
    pub proto: u8,
    /// The original direction: source and destination as the first packet had
    /// them (ports 0 for protocols without).
    pub orig: (SocketAddrV4, SocketAddrV4),
    /// The reply direction: source and destination replies carry (after any
    /// translation, the inverse of what the original packets became).
    pub reply: (SocketAddrV4, SocketAddrV4),
    /// Counted in the original direction.
    pub orig_counts: Counts,
    /// Counted in the reply direction.
    pub reply_counts: Counts,
    /// When the entry was created (Unix ns), with conntrack timestamps on.
    pub start_ns: Option<u64>,
    /// TCP's state, for TCP.
    pub tcp_state: Option<u8>,
}

impl CtFlow {
    /// What identifies the entry across readings (ids are reused after an entry
    /// ends).
    fn key(&self) -> EntryKey {
        (self.id, self.zone, self.proto, self.orig.0, self.orig.1)
    }
}

/// What a connection moved since the previous reading, in each direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    /// The connection (as read now).
    pub flow: CtFlow,
    /// Original direction, since the last reading.
    pub orig: Counts,
    /// Reply direction, since the last reading.
    pub reply: Counts,
    /// Whether this reading is the connection's first.
    pub new: bool,
    /// Whether it ended (a destroy event).
    pub ended: bool,
}

/// An entry's id, zone, protocol and original addresses.
type EntryKey = (u32, u16, u8, SocketAddrV4, SocketAddrV4);

/// The last counters read of each live connection.
#[derive(Debug, Default)]
pub struct Deltas {
    last: HashMap<EntryKey, (Counts, Counts)>,
}

impl Deltas {
    /// Connections being followed.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }

    /// One reading: `ended` (destroy events since the last reading, with their
    /// final counters) and `live` (a dump now). Returns what each moved; a live
    /// connection no longer listed and not ended is forgotten (its last moves are
    /// lost: its destroy event was).
    pub fn read(&mut self, ended: Vec<CtFlow>, live: Vec<CtFlow>) -> Vec<Moved> {
        let mut out = Vec::with_capacity(ended.len() + live.len());
        for flow in ended {
            let before = self.last.remove(&flow.key());
            out.push(moved(flow, before, true));
        }
        let mut seen = HashMap::with_capacity(live.len());
        for flow in live {
            let key = flow.key();
            let before = self.last.get(&key).copied();
            seen.insert(key, (flow.orig_counts, flow.reply_counts));
            out.push(moved(flow, before, false));
        }
        self.last = seen;
        out.retain(|m| !(m.orig.is_zero() && m.reply.is_zero()) || m.new);
        out
    }
}

fn moved(flow: CtFlow, before: Option<(Counts, Counts)>, ended: bool) -> Moved {
    let (o, r) = before.unwrap_or_default();
    Moved {
        orig: flow.orig_counts.since(o),
        reply: flow.reply_counts.since(r),
        new: before.is_none(),
        ended,
        flow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddrV4 {
        s.parse().expect("address")
    }

    fn flow(id: u32, orig: (u64, u64), reply: (u64, u64)) -> CtFlow {
        CtFlow {
            id,
            zone: 7,
            proto: 6,
            orig: (sa("10.0.0.1:40000"), sa("10.0.0.2:80")),
            reply: (sa("10.0.0.2:80"), sa("10.0.0.1:40000")),
            orig_counts: Counts {
                packets: orig.0,
                bytes: orig.1,
            },
            reply_counts: Counts {
                packets: reply.0,
                bytes: reply.1,
            },
            start_ns: None,
            tcp_state: Some(tcp_state::ESTABLISHED),
        }
    }

    #[test]
    fn readings_give_what_moved_since_the_last_and_ends_close_them() {
        let mut d = Deltas::default();
        let m = d.read(vec![], vec![flow(1, (3, 180), (2, 120))]);
        assert_eq!(m.len(), 1);
        assert!(m[0].new);
        assert_eq!(
            m[0].orig,
            Counts {
                packets: 3,
                bytes: 180
            }
        );
        // Nothing moved: nothing reported.
        assert!(d.read(vec![], vec![flow(1, (3, 180), (2, 120))]).is_empty());
        let m = d.read(vec![], vec![flow(1, (10, 1180), (5, 300))]);
        assert_eq!(
            m[0].orig,
            Counts {
                packets: 7,
                bytes: 1000
            }
        );
        assert_eq!(
            m[0].reply,
            Counts {
                packets: 3,
                bytes: 180
            }
        );
        assert!(!m[0].new);
        // It ends with its final counters: the rest, once.
        let m = d.read(vec![flow(1, (12, 1300), (6, 360))], vec![]);
        assert_eq!(
            m[0].orig,
            Counts {
                packets: 2,
                bytes: 120
            }
        );
        assert!(m[0].ended);
        assert!(d.is_empty());
    }

    #[test]
    fn a_connection_that_starts_and_ends_between_readings_counts_whole() {
        let mut d = Deltas::default();
        let m = d.read(vec![flow(9, (4, 400), (4, 300))], vec![]);
        assert_eq!(
            m[0].orig,
            Counts {
                packets: 4,
                bytes: 400
            }
        );
        assert!(m[0].new && m[0].ended);
    }

    #[test]
    fn a_reused_id_with_another_tuple_is_another_connection() {
        let mut d = Deltas::default();
        d.read(vec![], vec![flow(1, (5, 500), (5, 500))]);
        let mut other = flow(1, (1, 60), (0, 0));
        other.orig.0 = sa("10.0.0.3:40001");
        let m = d.read(vec![], vec![other]);
        assert!(m[0].new);
        assert_eq!(
            m[0].orig,
            Counts {
                packets: 1,
                bytes: 60
            }
        );
    }
}
