//! Names no view answers go to the operator's upstream resolvers (pure part): the
//! question sent upstream, the check of what comes back, the cache (positive
//! answers for their smallest TTL, negative ones — NXDOMAIN and NODATA — for the
//! SOA's minimum, RFC 2308), and the response the client gets: the CNAMEs the view
//! followed first, then upstream's records. Time is passed in; no I/O.

use std::collections::HashMap;
use std::time::Instant;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::message::{MAX_UDP_PAYLOAD, NEGATIVE_TTL, Reply, records, response_to, send};
use crate::view::Answer;

/// The longest a forwarded answer is cached, whatever its TTL (a day).
pub const MAX_CACHE_TTL: u32 = 86_400;

/// The longest a negative answer is cached (RFC 2308 suggests at most hours;
/// cove keeps it short: a name created upstream is seen within minutes).
pub const MAX_NEGATIVE_TTL: u32 = 300;

/// The question for the upstream resolvers: `name` (canonical, with the final
/// dot) of type `kind`, recursion desired, with EDNS0; `None` if `name` is not a
/// valid name.
pub fn upstream_query(id: u16, name: &str, kind: RecordType) -> Option<Vec<u8>> {
    let name = Name::from_ascii(name).ok()?;
    let mut m = Message::query();
    m.metadata.id = id;
    m.metadata.op_code = OpCode::Query;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name, kind));
    let mut e = Edns::new();
    e.set_max_payload(MAX_UDP_PAYLOAD);
    m.edns = Some(e);
    m.to_vec().ok()
}

/// Upstream's response, if `bytes` is one to the question (`id`, `name`,
/// `kind`); anything else (a forged or late packet) is `None`.
pub fn upstream_response(bytes: &[u8], id: u16, name: &str, kind: RecordType) -> Option<Message> {
    let m = Message::from_vec(bytes).ok()?;
    if m.metadata.id != id || m.metadata.message_type != MessageType::Response {
        return None;
    }
    let [q] = m.queries.as_slice() else {
        return None;
    };
    let asked = Name::from_ascii(name).ok()?;
    // Names compare without case (upstream may echo 0x20-mixed case).
    (q.query_type() == kind && q.query_class() == DNSClass::IN && *q.name() == asked).then_some(m)
}

/// What upstream said about one question, as the cache keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Upstream {
    /// Its response code (NOERROR, NXDOMAIN, SERVFAIL…).
    pub code: ResponseCode,
    /// Its answer records.
    pub answers: Vec<Record>,
    /// Its authority records (the SOA of a negative answer).
    pub authorities: Vec<Record>,
}

impl Upstream {
    /// The parts of upstream's response the client gets.
    pub fn of(m: &Message) -> Upstream {
        Upstream {
            code: m.metadata.response_code,
            answers: m.answers.clone(),
            authorities: m.authorities.clone(),
        }
    }

    /// Seconds it may be cached; `None`: not at all (a failure).
    fn ttl(&self) -> Option<u32> {
        match self.code {
            ResponseCode::NoError if !self.answers.is_empty() => Some(
                self.answers
                    .iter()
                    .map(|r| r.ttl)
                    .min()
                    .unwrap_or(0)
                    .min(MAX_CACHE_TTL),
            ),
            ResponseCode::NoError | ResponseCode::NXDomain => {
                let soa = self.authorities.iter().find_map(|r| match &r.data {
                    RData::SOA(s) => Some(r.ttl.min(s.minimum)),
                    _ => None,
                });
                Some(soa.unwrap_or(NEGATIVE_TTL).min(MAX_NEGATIVE_TTL))
            }
            _ => None,
        }
    }

    /// The same with every TTL `elapsed` seconds lower.
    fn aged(&self, elapsed: u32) -> Upstream {
        let age = |rs: &[Record]| {
            rs.iter()
                .map(|r| {
                    let mut r = r.clone();
                    r.ttl = r.ttl.saturating_sub(elapsed);
                    r
                })
                .collect()
        };
        Upstream {
            code: self.code,
            answers: age(&self.answers),
            authorities: age(&self.authorities),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    upstream: Upstream,
    stored: Instant,
    ttl: u32,
}

/// Forwarded answers by (name, type), until their TTL runs out. Bounded: when
/// full, expired entries go first, then the ones closest to expiring.
#[derive(Debug, Clone)]
pub struct Cache {
    entries: HashMap<(String, RecordType), Entry>,
    capacity: usize,
}

/// How a cache lookup went.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// Cached, TTLs lowered by the time it was kept.
    Hit(Upstream),
    /// Not cached, or expired.
    Miss,
}

impl Cache {
    /// An empty cache of at most `capacity` entries.
    pub fn new(capacity: usize) -> Cache {
        Cache {
            entries: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// Entries held (expired ones included until they are pushed out).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The cached answer to (`name`, `kind`) at `now`.
    pub fn get(&self, name: &str, kind: RecordType, now: Instant) -> Lookup {
        let Some(e) = self.entries.get(&(name.to_ascii_lowercase(), kind)) else {
            return Lookup::Miss;
        };
        let elapsed =
            u32::try_from(now.saturating_duration_since(e.stored).as_secs()).unwrap_or(u32::MAX);
        if elapsed >= e.ttl {
            return Lookup::Miss;
        }
        Lookup::Hit(e.upstream.aged(elapsed))
    }

    /// Keeps upstream's answer to (`name`, `kind`) if it may be cached.
    pub fn put(&mut self, name: &str, kind: RecordType, upstream: &Upstream, now: Instant) {
        let Some(ttl) = upstream.ttl().filter(|t| *t > 0) else {
            return;
        };
        let key = (name.to_ascii_lowercase(), kind);
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            self.make_room(now);
        }
        self.entries.insert(
            key,
            Entry {
                upstream: upstream.clone(),
                stored: now,
                ttl,
            },
        );
    }

    fn make_room(&mut self, now: Instant) {
        let left = |e: &Entry| {
            u64::from(e.ttl).saturating_sub(now.saturating_duration_since(e.stored).as_secs())
        };
        self.entries.retain(|_, e| left(e) > 0);
        if self.entries.len() < self.capacity {
            return;
        }
        // Full of live entries: drop the tenth closest to expiring.
        let mut by_left: Vec<(u64, (String, RecordType))> = self
            .entries
            .iter()
            .map(|(k, e)| (left(e), k.clone()))
            .collect();
        by_left.sort();
        let drop = (self.capacity / 10).max(1);
        for (_, k) in by_left.into_iter().take(drop) {
            self.entries.remove(&k);
        }
    }
}

/// The client's response to `query` from upstream's answer: the CNAMEs the view
/// followed (`chain`), then upstream's answer and authority records, with its
/// response code; truncated over UDP like any other response.
pub fn forwarded(query: &Message, chain: &[Answer], upstream: &Upstream, udp: bool) -> Reply {
    let mut r = response_to(query);
    r.metadata.response_code = upstream.code;
    r.answers = records(chain);
    r.answers.extend(upstream.answers.iter().cloned());
    r.authorities = upstream.authorities.clone();
    send(&r, query.edns.as_ref().map(Edns::max_payload), udp)
}

/// SERVFAIL for `query`: no upstream answered (or none is configured).
pub fn server_failure(query: &Message, udp: bool) -> Reply {
    let mut r = response_to(query);
    r.metadata.response_code = ResponseCode::ServFail;
    send(&r, query.edns.as_ref().map(Edns::max_payload), udp)
}

/// The type the client asked for.
pub fn query_type(query: &Message) -> RecordType {
    query
        .queries
        .first()
        .map_or(RecordType::A, Query::query_type)
}

#[cfg(test)]
#[path = "forward_tests.rs"]
mod tests;
