//! Flows addressed by name, for the differential test (issue 12): names are asked
//! of the real resolver from a source's namespace (its VPC's base + 2, over UDP)
//! and the answer must be what `cove check --to NAME` resolves in the source
//! VPC's view — the address, NXDOMAIN, no address, forwarded (SERVFAIL here: the
//! resolver has no upstream), or silence where the VPC's resolver is off.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use cove_dns::Unresolved;
use cove_dns::forward::{upstream_query, upstream_response};
use cove_model::{Network, VpcId};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

/// What a resolver said to one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    /// NOERROR with these addresses (none: the name has no A record).
    Addresses(Vec<Ipv4Addr>),
    /// NXDOMAIN.
    NoSuchName,
    /// SERVFAIL: the name was forwarded, and there is no upstream.
    Forwarded,
    /// Another response code.
    Other(String),
    /// Nothing within the deadline.
    Silence,
}

/// What the analyzer's name resolution says the resolver of `vpc` answers to `name`.
pub fn expected(net: &Network, vpc: VpcId, name: &str) -> Said {
    match cove_dns::resolve(net, vpc, name) {
        Ok((ip, _)) => Said::Addresses(vec![ip]),
        Err(Unresolved::NoResolver { .. }) => Said::Silence,
        Err(Unresolved::NoSuchName { .. }) => Said::NoSuchName,
        Err(Unresolved::NoAddress { .. }) => Said::Addresses(Vec::new()),
        Err(
            Unresolved::NotAssociated { .. }
            | Unresolved::Public { .. }
            | Unresolved::PrivateDnsOff { .. },
        ) => Said::Forwarded,
    }
}

/// One question: from namespace `ns` to `resolver`, `name` (type A).
#[derive(Debug, Clone)]
pub struct Question {
    /// The namespace asking.
    pub ns: String,
    /// The address asked (the VPC's base + 2).
    pub resolver: Ipv4Addr,
    /// The name.
    pub name: String,
}

/// Asks every question, each namespace's at once (ids = their positions), waiting
/// at most `wait` for answers; asks the unanswered again once halfway.
pub fn ask(questions: &[Question], wait: Duration) -> Vec<Said> {
    let mut by_ns: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, q) in questions.iter().enumerate() {
        by_ns.entry(q.ns.as_str()).or_default().push(i);
    }
    let mut said = vec![Said::Silence; questions.len()];
    std::thread::scope(|s| {
        let handles: Vec<_> = by_ns
            .values()
            .map(|idx| {
                let ns = questions[idx[0]].ns.clone();
                s.spawn(move || {
                    cove_probe::in_namespace(&ns, || ask_here(questions, idx, wait))
                        .expect("enter the source's namespace")
                })
            })
            .collect();
        for h in handles {
            for (i, a) in h.join().expect("asking thread") {
                said[i] = a;
            }
        }
    });
    said
}

/// Asks `idx` of `questions` from this thread's namespace.
fn ask_here(questions: &[Question], idx: &[usize], wait: Duration) -> Vec<(usize, Said)> {
    let socket = UdpSocket::bind("0.0.0.0:0").expect("bind a UDP socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .expect("timeout");
    let send = |i: usize| {
        let q = &questions[i];
        let bytes = upstream_query(id(i), &q.name, RecordType::A).expect("a valid name");
        // A refusal (no route: the resolver's address is not there) is silence too.
        let _ = socket.send_to(&bytes, SocketAddrV4::new(q.resolver, 53));
    };
    for &i in idx {
        send(i);
    }
    let started = Instant::now();
    let mut resent = false;
    let mut got: BTreeMap<usize, Said> = BTreeMap::new();
    let mut buf = [0u8; 4096];
    while got.len() < idx.len() && started.elapsed() < wait {
        if !resent && started.elapsed() > wait / 2 {
            for &i in idx.iter().filter(|i| !got.contains_key(i)) {
                send(i);
            }
            resent = true;
        }
        let Ok((n, _)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let Some(&i) = idx
            .iter()
            .find(|&&i| id(i) == u16::from_be_bytes([buf[0], buf[1]]))
        else {
            continue;
        };
        let q = &questions[i];
        let Some(m) = upstream_response(&buf[..n], id(i), &canonical(&q.name), RecordType::A)
        else {
            continue;
        };
        let a = match m.metadata.response_code {
            ResponseCode::NoError => Said::Addresses(
                m.answers
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::A(a) => Some(a.0),
                        _ => None,
                    })
                    .collect(),
            ),
            ResponseCode::NXDomain => Said::NoSuchName,
            ResponseCode::ServFail => Said::Forwarded,
            other => Said::Other(format!("{other:?}")),
        };
        got.insert(i, a);
    }
    idx.iter()
        .map(|&i| (i, got.remove(&i).unwrap_or(Said::Silence)))
        .collect()
}

/// The id of question `i` (distinct within a namespace's batch).
fn id(i: usize) -> u16 {
    u16::try_from(i % 65_536).expect("in range")
}

fn canonical(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with('.') {
        lower
    } else {
        format!("{lower}.")
    }
}
