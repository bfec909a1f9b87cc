//! cove's DNS resolver (issue 12): **one** server for every VPC of a host, in the
//! host router's namespace, where each VPC's queries to its base + 2 and to
//! 169.254.169.253 are delivered (see `cove_plan::resolver`).
//!
//! * [`udp`]: a thread inside the router's namespace receives each query with the
//!   link it arrived on (`IP_PKTINFO`), which picks the VPC's view in the
//!   [`Catalog`]; the answer leaves from the address the query went to, on that
//!   link.
//! * [`tcp`]: the same over TCP (truncated answers), the view picked by the
//!   connection's routing mark and peer address.
//! * [`upstream`]: names no view answers go to the operator's upstream resolvers
//!   from a socket in the namespace the resolver was started in (the host's),
//!   through a cache with negative caching.
//!
//! No `setns` ever happens on a thread that does something else: the threads that
//! live in the router's namespace are started there ([`cove_host::spawn_in_namespace`])
//! and stay. The catalog is replaced as a whole when the desired network changes
//! ([`Resolver::set_catalog`]). Dropping the [`Resolver`] stops every thread.

mod memo;
mod outbox;
pub mod stats;
pub mod tcp;
pub mod udp;
pub mod upstream;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

pub use cove_dns::Catalog;

pub use crate::stats::{Stats, StatsSnapshot};

/// How long a blocking call waits before the thread checks whether to stop.
pub(crate) const TICK: Duration = Duration::from_millis(200);

/// What the resolver needs to start.
#[derive(Debug, Clone)]
pub struct ResolverConfig {
    /// The namespace it listens in (the host router's).
    pub ns: String,
    /// The operator's upstream resolvers, tried in order; none: forwarded names
    /// get SERVFAIL.
    pub upstreams: Vec<SocketAddr>,
    /// How long one upstream gets before the next is asked (each is asked twice at
    /// most before the client gets SERVFAIL).
    pub upstream_timeout: Duration,
    /// Forwarded answers the cache keeps.
    pub cache_entries: usize,
    /// TCP connections served at once (more wait in the kernel's backlog).
    pub max_tcp_connections: usize,
    /// The port it listens on (53; tests may choose another).
    pub port: u16,
    /// UDP threads, each with a socket of its own on the port (`SO_REUSEPORT`:
    /// the kernel spreads clients over them). One by default: on a 2-core host a
    /// second thread lost throughput (docs/benchmarks.md).
    pub udp_threads: usize,
    /// The counters it adds to: a resolver started again (a new router namespace)
    /// continues its predecessor's, so they never go back (metrics).
    pub stats: Arc<Stats>,
}

impl ResolverConfig {
    /// Defaults for namespace `ns` and `upstreams`.
    pub fn new(ns: &str, upstreams: Vec<SocketAddr>) -> ResolverConfig {
        ResolverConfig {
            ns: ns.to_owned(),
            upstreams,
            upstream_timeout: Duration::from_millis(1000),
            cache_entries: 100_000,
            max_tcp_connections: 128,
            port: 53,
            udp_threads: 1,
            stats: Arc::default(),
        }
    }
}

/// A step of starting the resolver that failed.
#[derive(Debug, thiserror::Error)]
pub enum ResolverError {
    /// Opening its sockets inside the router's namespace.
    #[error("cannot open the DNS sockets in namespace {ns}")]
    Sockets {
        /// The namespace.
        ns: String,
        /// Why.
        #[source]
        source: Box<cove_host::HostError>,
    },
    /// A socket call.
    #[error("DNS socket: cannot {what}")]
    Socket {
        /// What was being done.
        what: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Starting one of its threads in the router's namespace.
    #[error("cannot start the resolver's {thread} thread")]
    Thread {
        /// Which.
        thread: &'static str,
        /// Why.
        #[source]
        source: Box<cove_host::HostError>,
    },
    /// Starting the upstream thread (in the resolver's own namespace).
    #[error("cannot start the resolver's upstream thread")]
    UpstreamThread {
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// What the resolver's threads share.
pub(crate) struct Shared {
    pub(crate) catalog: RwLock<Arc<Catalog>>,
    pub(crate) stop: AtomicBool,
    pub(crate) stats: Arc<Stats>,
}

impl Shared {
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        Arc::clone(&self.catalog.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// A running resolver; dropping it stops it.
pub struct Resolver {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<Option<()>>>,
    ns: String,
}

impl Resolver {
    /// Opens the sockets in `config.ns` and starts serving an empty catalog
    /// (every query is ignored until [`Resolver::set_catalog`]).
    pub fn start(config: ResolverConfig) -> Result<Resolver, ResolverError> {
        let shared = Arc::new(Shared {
            catalog: RwLock::new(Arc::new(Catalog::default())),
            stop: AtomicBool::new(false),
            stats: Arc::clone(&config.stats),
        });
        let port = config.port;
        let (udp_sockets, tcp_listener) =
            open_sockets(&config.ns, port, config.udp_threads.max(1))?;
        let mut senders = Vec::new();
        for u in udp_sockets {
            senders.push(Arc::new(udp::Sender::new(u.map_err(|source| {
                ResolverError::Socket {
                    what: "bind UDP port 53 in the router's namespace",
                    source,
                }
            })?)));
        }
        let tcp_listener = tcp_listener.map_err(|source| ResolverError::Socket {
            what: "listen on TCP port 53 in the router's namespace",
            source,
        })?;
        // Forwarded answers leave from the first socket (any of them sends from
        // port 53).
        let (forwarder, forwarder_thread) =
            upstream::Forwarder::start(&config, Arc::clone(&shared), Arc::clone(&senders[0]))?;
        let mut threads = vec![forwarder_thread];
        for u in senders {
            let (s, f) = (Arc::clone(&shared), Arc::clone(&forwarder));
            threads.push(spawn(&config.ns, "dns-udp", move || {
                udp::serve(&s, &u, &f)
            })?);
        }
        let (s, f) = (Arc::clone(&shared), Arc::clone(&forwarder));
        let max = config.max_tcp_connections;
        threads.push(spawn(&config.ns, "dns-tcp", move || {
            tcp::serve(&s, &tcp_listener, &f, max);
        })?);
        Ok(Resolver {
            shared,
            threads,
            ns: config.ns,
        })
    }

    /// Replaces the views (a new generation of the desired network).
    pub fn set_catalog(&self, catalog: Arc<Catalog>) {
        *self
            .shared
            .catalog
            .write()
            .unwrap_or_else(|e| e.into_inner()) = catalog;
    }

    /// Counters since the start.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot()
    }

    /// The namespace it serves in.
    pub fn namespace(&self) -> &str {
        &self.ns
    }

    /// Whether every thread still runs.
    pub fn running(&self) -> bool {
        self.threads.iter().all(|t| !t.is_finished())
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn spawn(
    ns: &str,
    name: &'static str,
    f: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<Option<()>>, ResolverError> {
    cove_host::spawn_in_namespace(ns, name, f).map_err(|source| ResolverError::Thread {
        thread: name,
        source: Box::new(source),
    })
}

/// `udp` UDP sockets (one reuse-port group) and the TCP listener, opened inside
/// namespace `ns`.
#[allow(clippy::type_complexity)]
fn open_sockets(
    ns: &str,
    port: u16,
    udp: usize,
) -> Result<
    (
        Vec<std::io::Result<std::net::UdpSocket>>,
        std::io::Result<std::net::TcpListener>,
    ),
    ResolverError,
> {
    cove_host::in_namespace(ns, move || {
        ((0..udp).map(|_| udp::open(port)).collect(), tcp::open(port))
    })
    .map_err(|source| ResolverError::Sockets {
        ns: ns.to_owned(),
        source,
    })
}
