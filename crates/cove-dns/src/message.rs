//! DNS messages in and out (pure): a query's bytes, answered from a [`View`], to
//! the bytes of the response — or to the query the upstream resolvers get. RFC
//! 1035 with EDNS0 (RFC 6891: the response carries an OPT record when the query
//! did, and a UDP response larger than the client can take is truncated, TC set).

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::view::{Answer, Data, Kind, Outcome, View};

/// The largest UDP response cove sends (RFC 9715's recommendation, the DNS flag
/// day's 1,232 bytes).
pub const MAX_UDP_PAYLOAD: u16 = 1232;

/// Seconds a negative answer may be cached (the SOA's minimum).
pub const NEGATIVE_TTL: u32 = 60;

/// What to do with a received packet.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Send these bytes back.
    Send(Vec<u8>),
    /// Ask the upstream resolvers `name` (the CNAMEs in `answers` led there);
    /// `query` is the client's message.
    Forward {
        /// The client's query.
        query: Box<Message>,
        /// CNAMEs followed inside the view.
        answers: Vec<Answer>,
        /// The name to resolve upstream (canonical).
        name: String,
    },
    /// Nothing (not a query, or not even a header).
    Drop,
}

/// Answers one packet from `view`; `udp`: it came over UDP (the response may be
/// truncated).
pub fn respond(view: &View, packet: &[u8], udp: bool) -> Reply {
    // A header: 12 bytes, the QR bit clear (never answer a response).
    if packet.len() < 12 || packet[2] & 0x80 != 0 {
        return Reply::Drop;
    }
    let id = u16::from_be_bytes([packet[0], packet[1]]);
    let Ok(query) = Message::from_vec(packet) else {
        return send(
            &Message::error_msg(id, OpCode::Query, ResponseCode::FormErr),
            None,
            udp,
        );
    };
    if query.metadata.message_type != MessageType::Query {
        return Reply::Drop;
    }
    let limit = query.edns.as_ref().map(Edns::max_payload);
    if query.metadata.op_code != OpCode::Query {
        return refuse(&query, ResponseCode::NotImp, udp);
    }
    let [q] = query.queries.as_slice() else {
        return refuse(&query, ResponseCode::FormErr, udp);
    };
    if q.query_class() != DNSClass::IN {
        return refuse(&query, ResponseCode::Refused, udp);
    }
    let name = q.name().to_lowercase().to_ascii();
    let name = if name.ends_with('.') {
        name
    } else {
        format!("{name}.")
    };
    let kind = kind_of(q.query_type());
    let outcome = match kind {
        Some(k) => view.answer(&name, k),
        // Another type: NODATA for a name the view has, else upstream.
        None => match view.answer(&name, Kind::A) {
            Outcome::Answer { zone, .. } => Outcome::Answer {
                answers: Vec::new(),
                zone,
            },
            other => other,
        },
    };
    let mut response = response_to(&query);
    match outcome {
        Outcome::Forward { answers, name } => {
            return Reply::Forward {
                query: Box::new(query),
                answers,
                name,
            };
        }
        Outcome::Answer { answers, zone } => {
            response.metadata.authoritative = true;
            if answers.is_empty() {
                response.authorities.push(soa(&zone));
            }
            response.answers = records(&answers);
        }
        Outcome::NoSuchName { answers, zone } => {
            response.metadata.authoritative = true;
            response.metadata.response_code = ResponseCode::NXDomain;
            response.answers = records(&answers);
            response.authorities.push(soa(&zone));
        }
    }
    send(&response, limit, udp)
}

/// REFUSED for a query no view may answer (it came from nowhere the resolver
/// serves); nothing for a packet that is not a query.
pub fn refused(packet: &[u8]) -> Reply {
    if packet.len() < 12 || packet[2] & 0x80 != 0 {
        return Reply::Drop;
    }
    let id = u16::from_be_bytes([packet[0], packet[1]]);
    match Message::from_vec(packet) {
        Ok(q) if q.metadata.message_type == MessageType::Query => {
            refuse(&q, ResponseCode::Refused, false)
        }
        Ok(_) => Reply::Drop,
        Err(_) => send(
            &Message::error_msg(id, OpCode::Query, ResponseCode::FormErr),
            None,
            false,
        ),
    }
}

/// The response skeleton for `query`: its id, question, RD; RA set; an OPT record
/// when the query had one.
pub fn response_to(query: &Message) -> Message {
    let mut r = Message::response(query.metadata.id, OpCode::Query);
    r.metadata.recursion_desired = query.metadata.recursion_desired;
    r.metadata.recursion_available = true;
    r.queries = query.queries.clone();
    if query.edns.is_some() {
        let mut e = Edns::new();
        e.set_max_payload(MAX_UDP_PAYLOAD);
        r.edns = Some(e);
    }
    r
}

fn refuse(query: &Message, code: ResponseCode, udp: bool) -> Reply {
    let mut r = response_to(query);
    r.metadata.response_code = code;
    send(&r, query.edns.as_ref().map(Edns::max_payload), udp)
}

/// The bytes of `m`, truncated (TC) when over UDP they exceed what the client
/// takes: 512 bytes without EDNS, its advertised size (at least 512, at most
/// [`MAX_UDP_PAYLOAD`]) with it.
pub(crate) fn send(m: &Message, client_limit: Option<u16>, udp: bool) -> Reply {
    let Ok(bytes) = m.to_vec() else {
        return Reply::Drop;
    };
    let limit = client_limit.map_or(512, |l| l.clamp(512, MAX_UDP_PAYLOAD));
    if !udp || bytes.len() <= usize::from(limit) {
        return Reply::Send(bytes);
    }
    match m.truncate().to_vec() {
        Ok(b) => Reply::Send(b),
        Err(_) => Reply::Drop,
    }
}

fn kind_of(t: RecordType) -> Option<Kind> {
    Some(match t {
        RecordType::A => Kind::A,
        RecordType::AAAA => Kind::Aaaa,
        RecordType::CNAME => Kind::Cname,
        RecordType::TXT => Kind::Txt,
        RecordType::SRV => Kind::Srv,
        RecordType::MX => Kind::Mx,
        RecordType::PTR => Kind::Ptr,
        _ => return None,
    })
}

fn name(n: &str) -> Name {
    Name::from_ascii(n).unwrap_or_else(|_| Name::root())
}

/// The records of `answers` as the wire carries them.
pub fn records(answers: &[Answer]) -> Vec<Record> {
    answers
        .iter()
        .map(|a| {
            let data = match &a.data {
                Data::A(ip) => RData::A(A(*ip)),
                Data::Aaaa(ip) => RData::AAAA(AAAA(*ip)),
                Data::Cname(t) => RData::CNAME(CNAME(name(t))),
                Data::Txt(v) => RData::TXT(TXT::new(v.clone())),
                Data::Srv(p, w, port, t) => RData::SRV(SRV::new(*p, *w, *port, name(t))),
                Data::Mx(p, h) => RData::MX(MX::new(*p, name(h))),
                Data::Ptr(t) => RData::PTR(PTR(name(t))),
            };
            Record::from_rdata(name(&a.name), a.ttl, data)
        })
        .collect()
}

/// The zone's SOA (for negative answers: its minimum is the negative TTL).
fn soa(zone: &str) -> Record {
    let z = name(zone);
    let host = name(&format!("hostmaster.{zone}"));
    Record::from_rdata(
        z.clone(),
        NEGATIVE_TTL,
        RData::SOA(SOA::new(z, host, 1, 7200, 900, 1_209_600, NEGATIVE_TTL)),
    )
}
