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

pub mod fastpath;
mod memo;
mod outbox;
pub mod stats;
pub mod tcp;
pub mod udp;
pub mod upstream;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

pub use cove_dns::Catalog;

pub use crate::fastpath::{FastPath, FastPathError};
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
    /// Whether repeated UDP queries are answered by the kernel's fast path
    /// ([`fastpath`]); on by default (off: the resolver answers every query).
    pub fast_path: bool,
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
            fast_path: true,
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

/// Numbers every catalog a resolver of this process is given (never 0), so an
/// answer is only ever reused under the catalog it came from.
static GENERATIONS: AtomicU32 = AtomicU32::new(1);

/// What the resolver's threads share.
pub(crate) struct Shared {
    /// The catalog and its generation.
    pub(crate) catalog: RwLock<(u32, Arc<Catalog>)>,
    pub(crate) stop: AtomicBool,
    pub(crate) stats: Arc<Stats>,
    /// The kernel's fast path, when it loaded.
    pub(crate) fast: Option<FastPath>,
}

impl Shared {
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        self.generation_and_catalog().1
    }

    /// The catalog with its generation.
    pub(crate) fn generation_and_catalog(&self) -> (u32, Arc<Catalog>) {
        let c = self.catalog.read().unwrap_or_else(|e| e.into_inner());
        (c.0, Arc::clone(&c.1))
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
    fast_path_error: Option<String>,
}

impl Resolver {
    /// Opens the sockets in `config.ns` and starts serving an empty catalog
    /// (every query is ignored until [`Resolver::set_catalog`]).
    /// The kernel's fast path is loaded too (if `config.fast_path`); when it
    /// cannot be, the resolver answers every query itself and
    /// [`Resolver::fast_path_error`] says why.
    pub fn start(config: ResolverConfig) -> Result<Resolver, ResolverError> {
        let (fast, fast_path_error) = if config.fast_path {
            match FastPath::load(config.port) {
                Ok(f) => (Some(f), None),
                Err(e) => (None, Some(cove_host::error_chain(&e))),
            }
        } else {
            (None, None)
        };
        let shared = Arc::new(Shared {
            catalog: RwLock::new((0, Arc::new(Catalog::default()))),
            stop: AtomicBool::new(false),
            stats: Arc::clone(&config.stats),
            fast,
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
            fast_path_error,
        })
    }

    /// Replaces the views (a new generation of the desired network). Once it
    /// returns, no answer of an older catalog is given again — but for a query
    /// being answered at that moment: the fast path's entries of older
    /// generations are unreachable, and the UDP thread's memo starts again with
    /// its next batch.
    pub fn set_catalog(&self, catalog: Arc<Catalog>) {
        let mut current = self
            .shared
            .catalog
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let generation = GENERATIONS.fetch_add(1, Ordering::Relaxed).max(1);
        if let Some(f) = &self.shared.fast {
            if f.set_generation(generation).is_err() {
                // The program's generation cannot move: it must answer nothing.
                f.disable();
            }
        }
        *current = (generation, catalog);
    }

    /// Counters since the start (the fast path's answers included).
    pub fn stats(&self) -> StatsSnapshot {
        if let Some(f) = &self.shared.fast {
            f.collect(&self.shared.stats);
        }
        self.shared.stats.snapshot()
    }

    /// Why the kernel's fast path is not in use, or not on some link (`None`: it
    /// is, or it was not asked for).
    pub fn fast_path_error(&self) -> Option<String> {
        self.fast_path_error
            .clone()
            .or_else(|| self.shared.fast.as_ref().and_then(FastPath::attach_error))
    }

    /// Whether the kernel's fast path answers on router link `ifindex` (it goes
    /// on a link with the first query from it).
    pub fn fast_path_on(&self, ifindex: u32) -> bool {
        self.shared
            .fast
            .as_ref()
            .is_some_and(|f| f.attached(ifindex))
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
        // The fast path's last answers, before it goes (with the last `Arc`).
        if let Some(f) = &self.shared.fast {
            f.collect(&self.shared.stats);
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
