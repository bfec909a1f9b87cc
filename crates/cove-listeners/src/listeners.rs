//! A service's listeners: one per interface endpoint ENI (on its address, in its
//! namespace) and, for S3, one per VPC with gateway endpoints (in the VPC's
//! services namespace, on every address there), each accepting on the service's
//! own tokio runtime and handing every connection over with its origin
//! ([`Origin::context`]). Sockets are opened inside the namespace by a thread
//! that enters it once; no tokio thread ever changes namespace.
//!
//! [`Listeners::keep`] is called on every reconciler tick: it stops listeners no
//! longer wanted or whose namespace was replaced (a recreated namespace has
//! another inode: the old socket listens in the old one), and starts the missing
//! ones whose namespaces exist, retrying a failed one at most once a second.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::Path;
use std::time::{Duration, Instant};

use cove_model::bucket_policy::RequestContext;

use crate::origin::Origin;

/// A service that answers connections whose origin is known.
pub trait Serve: Clone + Send + Sync + 'static {
    /// Serves one accepted connection, every request of it coming from `origin`.
    fn serve(
        &self,
        stream: tokio::net::TcpStream,
        origin: RequestContext,
    ) -> impl std::future::Future<Output = ()> + Send;
}

/// One listener of a service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ListenerConfig {
    /// The namespace it listens in (empty: this process's own, the host side).
    pub ns: String,
    /// The address (`0.0.0.0` in a services namespace: every prefix-list
    /// address).
    pub address: Ipv4Addr,
    /// The port.
    pub port: u16,
    /// Where its connections come from.
    pub origin: Origin,
}

struct Running {
    task: tokio::task::JoinHandle<()>,
    inode: u64,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A service and its running listeners.
pub struct Listeners<S: Serve> {
    service: S,
    rt: tokio::runtime::Runtime,
    running: BTreeMap<ListenerConfig, Running>,
    tried: BTreeMap<ListenerConfig, Instant>,
}

impl<S: Serve> std::fmt::Debug for Listeners<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listeners")
            .field("running", &self.running.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn inode(ns: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt as _;
    if ns.is_empty() {
        // This process's own namespace (the host side): never replaced.
        return Some(0);
    }
    std::fs::metadata(Path::new(cove_host::NETNS_DIR).join(ns))
        .ok()
        .map(|m| m.ino())
}

fn listen(address: Ipv4Addr, port: u16) -> std::io::Result<std::net::TcpListener> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&SocketAddrV4::new(address, port).into())?;
    s.listen(1024)?;
    Ok(s.into())
}

impl<S: Serve> Listeners<S> {
    /// Serves `service` on a runtime of its own (two worker threads named
    /// `name`).
    pub fn new(service: S, name: &str) -> std::io::Result<Listeners<S>> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(name)
            .enable_all()
            .build()?;
        Ok(Listeners {
            service,
            rt,
            running: BTreeMap::new(),
            tried: BTreeMap::new(),
        })
    }

    /// The service served.
    pub fn service(&self) -> &S {
        &self.service
    }

    /// The listeners running now.
    pub fn running(&self) -> Vec<&ListenerConfig> {
        self.running.keys().collect()
    }

    /// Keeps exactly `want` running (see the module's documentation); returns
    /// what could not be started.
    pub fn keep(&mut self, want: &[ListenerConfig]) -> Vec<String> {
        self.running.retain(|k, r| {
            want.contains(k) && !r.task.is_finished() && inode(&k.ns) == Some(r.inode)
        });
        self.tried.retain(|k, _| want.contains(k));
        let mut problems = Vec::new();
        for w in want {
            if self.running.contains_key(w)
                || self
                    .tried
                    .get(w)
                    .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
            {
                continue;
            }
            self.tried.insert(w.clone(), Instant::now());
            let Some(ino) = inode(&w.ns) else { continue };
            match self.start(w) {
                Ok(task) => {
                    self.running.insert(w.clone(), Running { task, inode: ino });
                }
                Err(e) => problems.push(e),
            }
        }
        problems
    }

    fn start(&self, w: &ListenerConfig) -> Result<tokio::task::JoinHandle<()>, String> {
        let (address, port) = (w.address, w.port);
        let opened = if w.ns.is_empty() {
            listen(address, port)
        } else {
            cove_host::in_namespace(&w.ns, move || listen(address, port))
                .map_err(|e| format!("listener in {}: {e}", w.ns))?
        };
        let std_listener =
            opened.map_err(|e| format!("listener {address}:{port} in {:?}: {e}", w.ns))?;
        let _in_rt = self.rt.enter();
        let listener = tokio::net::TcpListener::from_std(std_listener)
            .map_err(|e| format!("listener in {}: {e}", w.ns))?;
        let (service, origin) = (self.service.clone(), w.origin.clone());
        Ok(self.rt.spawn(accept(listener, service, origin)))
    }
}

async fn accept<S: Serve>(listener: tokio::net::TcpListener, service: S, origin: Origin) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(a) => a,
            // Out of descriptors or a connection reset before accept: go on.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let local = stream.local_addr().ok();
        let (SocketAddr::V4(peer), Some(SocketAddr::V4(local))) = (peer, local) else {
            continue;
        };
        let Some(cx) = origin.context(*peer.ip(), *local.ip()) else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        tokio::spawn(async move { service.serve(stream, cx).await });
    }
}
