//! Forwarding to the operator's upstream resolvers: one UDP socket in the
//! namespace the resolver was started in (the host's, where the operator's
//! resolvers are reachable — never a VPC's), a random 16-bit id per question, the
//! cache of [`cove_dns::forward`], and one thread that receives upstream's answers,
//! retries the next upstream after the timeout and gives up with SERVFAIL. An
//! answer upstream truncated is asked again over TCP (and not cached).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cove_dns::forward::{
    Lookup, forwarded, query_type, server_failure, upstream_query, upstream_response,
};
use cove_dns::{Answer, Cache, Reply, Upstream};
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use crate::udp::{Sender, UdpClient};
use crate::{ResolverConfig, ResolverError, Shared, Stats};

/// Who gets the answer.
#[derive(Debug, Clone)]
pub(crate) enum Client {
    /// A UDP client (answered from the router's socket).
    Udp(UdpClient),
    /// A TCP connection's thread, waiting.
    Tcp(SyncSender<Vec<u8>>),
}

impl Client {
    fn udp(&self) -> bool {
        matches!(self, Client::Udp(_))
    }
}

/// A question sent upstream, waiting for the answer.
#[derive(Debug)]
struct Pending {
    client: Client,
    query: Box<Message>,
    chain: Vec<Answer>,
    name: String,
    kind: RecordType,
    sent: Instant,
    tries: usize,
}

/// The forwarder the UDP and TCP servers hand their questions to.
pub(crate) struct Forwarder {
    socket: UdpSocket,
    upstreams: Vec<SocketAddr>,
    timeout: Duration,
    pending: Mutex<HashMap<u16, Pending>>,
    cache: Mutex<Cache>,
    /// The router's UDP socket (answers to UDP clients leave from it).
    reply: Arc<Sender>,
    shared: Arc<Shared>,
    ids: Mutex<Vec<u16>>,
}

/// How often the receiving thread looks for questions that timed out.
const SWEEP: Duration = Duration::from_millis(50);

impl Forwarder {
    /// Opens the upstream socket (in the calling thread's namespace) and starts
    /// the thread that receives upstream's answers.
    pub(crate) fn start(
        config: &ResolverConfig,
        shared: Arc<Shared>,
        reply: Arc<Sender>,
    ) -> Result<(Arc<Forwarder>, JoinHandle<Option<()>>), ResolverError> {
        let socket = UdpSocket::bind("0.0.0.0:0").map_err(|source| ResolverError::Socket {
            what: "open the socket for the upstream resolvers",
            source,
        })?;
        socket
            .set_read_timeout(Some(SWEEP))
            .map_err(|source| ResolverError::Socket {
                what: "set the upstream socket's timeout",
                source,
            })?;
        let f = Arc::new(Forwarder {
            socket,
            upstreams: config.upstreams.clone(),
            timeout: config.upstream_timeout,
            pending: Mutex::new(HashMap::new()),
            cache: Mutex::new(Cache::new(config.cache_entries)),
            reply,
            shared,
            ids: Mutex::new(Vec::new()),
        });
        let g = Arc::clone(&f);
        let thread = std::thread::Builder::new()
            .name("dns-upstream".into())
            .spawn(move || {
                g.receive();
                Some(())
            })
            .map_err(|source| ResolverError::UpstreamThread { source })?;
        Ok((f, thread))
    }

    /// Answers `client`'s `query` about `name` (after the view's CNAMEs
    /// `chain`) at once from the cache (or with SERVFAIL when no upstream is
    /// configured), or asks upstream and delivers the answer later. An immediate
    /// answer is returned, not sent, with whether it came from the cache.
    pub(crate) fn forward(
        &self,
        client: Client,
        query: Box<Message>,
        chain: Vec<Answer>,
        name: String,
    ) -> Option<(Vec<u8>, bool)> {
        let kind = query_type(&query);
        let udp = client.udp();
        let now = Instant::now();
        let cached = lock(&self.cache).get(&name, kind, now);
        if let Lookup::Hit(up) = cached {
            Stats::add(&self.shared.stats.cache_hits);
            return bytes(forwarded(&query, &chain, &up, udp)).map(|b| (b, true));
        }
        let id = self.new_id();
        let (Some(first), Some(bytes_up)) =
            (self.upstreams.first(), upstream_query(id, &name, kind))
        else {
            Stats::add(&self.shared.stats.upstream_failures);
            return bytes(server_failure(&query, udp)).map(|b| (b, false));
        };
        Stats::add(&self.shared.stats.forwarded);
        lock(&self.pending).insert(
            id,
            Pending {
                client,
                query,
                chain,
                name,
                kind,
                sent: now,
                tries: 1,
            },
        );
        let _ = self.socket.send_to(&bytes_up, first);
        None
    }

    /// [`Forwarder::forward`] for a TCP connection: waits at most `wait` for the
    /// answer's bytes.
    pub(crate) fn forward_and_wait(
        &self,
        query: Box<Message>,
        chain: Vec<Answer>,
        name: String,
        wait: Duration,
    ) -> Option<Vec<u8>> {
        let (tx, rx) = sync_channel(1);
        if let Some((answer, _)) = self.forward(Client::Tcp(tx), query, chain, name) {
            return Some(answer);
        }
        rx.recv_timeout(wait).ok()
    }

    /// A random id no pending question has (ids come from the kernel's random
    /// source, 256 at a time).
    fn new_id(&self) -> u16 {
        let mut ids = lock(&self.ids);
        let pending = lock(&self.pending);
        loop {
            if ids.is_empty() {
                let mut bytes = [0u8; 512];
                if getrandom::fill(&mut bytes).is_err() {
                    // No kernel randomness (never on Linux): ids stay unique, only
                    // predictable.
                    bytes.iter_mut().enumerate().for_each(|(i, b)| {
                        *b = u8::try_from(i % 256).unwrap_or(0);
                    });
                }
                ids.extend(bytes.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])));
            }
            let id = ids.pop().unwrap_or_default();
            if !pending.contains_key(&id) {
                return id;
            }
        }
    }

    fn deliver(&self, client: &Client, reply: Reply) {
        deliver(&self.reply, &self.shared, client, reply);
    }

    /// Receives upstream's answers until the resolver stops.
    fn receive(&self) {
        let mut buf = vec![0u8; 65_535];
        let mut last_sweep = Instant::now();
        while !self.shared.stopping() {
            if let Ok((n, from)) = self.socket.recv_from(&mut buf) {
                self.answered(&buf[..n], from);
            }
            if last_sweep.elapsed() >= SWEEP {
                last_sweep = Instant::now();
                self.sweep(last_sweep);
            }
        }
    }

    fn answered(&self, bytes: &[u8], from: SocketAddr) {
        if bytes.len() < 12 || !self.upstreams.contains(&from) {
            return;
        }
        let id = u16::from_be_bytes([bytes[0], bytes[1]]);
        let mut pending = lock(&self.pending);
        let Some(p) = pending.get(&id) else {
            return;
        };
        // Only the answer to the question asked (else: keep waiting).
        let Some(m) = upstream_response(bytes, id, &p.name, p.kind) else {
            return;
        };
        let Some(p) = pending.remove(&id) else {
            return;
        };
        drop(pending);
        if m.metadata.truncation {
            // Ask again over TCP, off this thread.
            let upstream = from;
            let (timeout, shared) = (self.timeout, Arc::clone(&self.shared));
            let reply = Arc::clone(&self.reply);
            let _ = std::thread::Builder::new()
                .name("dns-upstream-tcp".into())
                .spawn(move || {
                    let answer = ask_over_tcp(upstream, &p.name, p.kind, timeout);
                    let udp = p.client.udp();
                    let r = match &answer {
                        Some(up) => forwarded(&p.query, &p.chain, up, udp),
                        None => {
                            Stats::add(&shared.stats.upstream_failures);
                            server_failure(&p.query, udp)
                        }
                    };
                    deliver(&reply, &shared, &p.client, r);
                });
            return;
        }
        let up = Upstream::of(&m);
        lock(&self.cache).put(&p.name, p.kind, &up, Instant::now());
        self.deliver(
            &p.client,
            forwarded(&p.query, &p.chain, &up, p.client.udp()),
        );
    }

    /// Questions whose upstream did not answer in time go to the next upstream;
    /// after two rounds the client gets SERVFAIL.
    fn sweep(&self, now: Instant) {
        let mut failed = Vec::new();
        let mut resend = Vec::new();
        {
            let mut pending = lock(&self.pending);
            let rounds = 2 * self.upstreams.len().max(1);
            pending.retain(|id, p| {
                if now.saturating_duration_since(p.sent) < self.timeout {
                    return true;
                }
                if p.tries >= rounds {
                    failed.push((p.client.clone(), p.query.clone()));
                    return false;
                }
                let to = self.upstreams[p.tries % self.upstreams.len()];
                p.tries += 1;
                p.sent = now;
                if let Some(bytes) = upstream_query(*id, &p.name, p.kind) {
                    resend.push((bytes, to));
                }
                true
            });
        }
        for (bytes, to) in resend {
            let _ = self.socket.send_to(&bytes, to);
        }
        for (client, query) in failed {
            Stats::add(&self.shared.stats.upstream_failures);
            self.deliver(&client, server_failure(&query, client.udp()));
        }
    }
}

/// Sends `reply` to `client`: over the router's UDP socket, or to the waiting TCP
/// connection's thread.
fn deliver(sender: &Sender, shared: &Shared, client: &Client, reply: Reply) {
    let Reply::Send(bytes) = reply else {
        return;
    };
    match client {
        Client::Udp(c) => {
            if sender.send(c, &bytes).is_err() {
                Stats::add(&shared.stats.send_errors);
            }
        }
        Client::Tcp(tx) => {
            let _ = tx.try_send(bytes);
        }
    }
}

/// Asks `upstream` over TCP (after a truncated answer over UDP).
fn ask_over_tcp(
    upstream: SocketAddr,
    name: &str,
    kind: RecordType,
    timeout: Duration,
) -> Option<Upstream> {
    let id = 0x5eed;
    let query = upstream_query(id, name, kind)?;
    let run = || -> io::Result<Vec<u8>> {
        let mut s = TcpStream::connect_timeout(&upstream, timeout)?;
        s.set_read_timeout(Some(timeout))?;
        let n = u16::try_from(query.len()).map_err(io::Error::other)?;
        let mut out = n.to_be_bytes().to_vec();
        out.extend_from_slice(&query);
        s.write_all(&out)?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len)?;
        let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut answer)?;
        Ok(answer)
    };
    let bytes = run().ok()?;
    upstream_response(&bytes, id, name, kind).map(|m| Upstream::of(&m))
}

fn bytes(reply: Reply) -> Option<Vec<u8>> {
    match reply {
        Reply::Send(b) => Some(b),
        _ => None,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
