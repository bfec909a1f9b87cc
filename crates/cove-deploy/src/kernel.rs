//! What the workflow needs from the host: observe and change the prefix's kernel
//! objects, and clean up execution environments. [`HostKernel`] is the real one; tests can put a model behind the trait.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use cove_plan::{HostState, Plan};
use cove_sandbox::CgroupRoot;

use crate::error::KernelError;

/// The kernel side of a deployment (everything the workflow does to the host).
pub trait Kernel {
    /// What the prefix's namespaces hold now.
    fn observe(&self) -> Result<HostState, KernelError>;
    /// Carries out `plan`'s operations in order.
    fn apply(&self, plan: &Plan) -> Result<(), KernelError>;
    /// Removes every namespace of the prefix; continues past errors and returns all
    /// of them, else the number of namespaces removed.
    fn destroy(&self) -> Result<usize, Vec<KernelError>>;
    /// Ends the execution environments whose network slot is gone (a deleted
    /// function, a smaller concurrency); returns how many.
    fn reap_orphan_environments(&self) -> Result<usize, KernelError>;
    /// Removes every execution environment of the prefix and their cgroup roots;
    /// returns how many environments were removed.
    fn remove_environments(&self) -> Result<usize, KernelError>;
    /// Names of what interrupted namespace creates or deletes left (files that hold
    /// no namespace; observations skip them). None by default.
    fn leftovers(&self) -> Result<Vec<String>, KernelError> {
        Ok(Vec::new())
    }
    /// Removes [`Kernel::leftovers`] (under the prefix lock); returns how many.
    fn remove_leftovers(&self) -> Result<usize, KernelError> {
        Ok(0)
    }
    /// The host router's links now (name → carrier up), which show the NAT
    /// gateways' health; `None` when they cannot be known (no router yet, or a
    /// kernel that does not say). `None` by default.
    fn router_links(&self) -> Result<Option<BTreeMap<String, bool>>, KernelError> {
        Ok(None)
    }
    /// Whether namespace `ns` is mounted (a deleted one may live on while a socket
    /// holds it, so its links are not yet gone). `true` by default.
    fn namespace_exists(&self, ns: &str) -> bool {
        let _ = ns;
        true
    }
    /// Keeps exactly the conntrack replications `want` running between paired NAT
    /// gateways (starting the missing ones whose namespaces exist, restarting
    /// stopped ones, stopping the others); returns what could not be started. Does
    /// nothing by default.
    fn replicate(&self, want: &[crate::failover::Replication]) -> Vec<String> {
        let _ = want;
        Vec::new()
    }
    /// Keeps the host's DNS resolver serving `catalog` (issue 12) in the router's
    /// namespace, asking `upstreams` for the names no view answers; stops it when
    /// there is no catalog. Returns what could not be done. Does nothing by
    /// default.
    fn resolve(
        &self,
        catalog: Option<&Arc<cove_dns::Catalog>>,
        upstreams: &[std::net::SocketAddr],
        fast_path: bool,
    ) -> Vec<String> {
        let _ = (catalog, upstreams, fast_path);
        Vec::new()
    }
    /// Keeps exactly the stand-in AWS services `want` running (issue 12), starting
    /// the missing ones whose namespaces exist; returns what could not be started.
    /// Does nothing by default.
    fn stand_in(&self, want: &[cove_standin::StandInConfig]) -> Vec<String> {
        let _ = want;
        Vec::new()
    }
    /// Keeps the flow-log collector working from `plan` (issue 14); stops it
    /// when there is none. Returns what could not be done. Does nothing by
    /// default.
    fn flow_logs(&self, plan: Option<&Arc<crate::flowlogs::FlowLogPlan>>) -> Vec<String> {
        let _ = plan;
        Vec::new()
    }
    /// Keeps the object store serving `plan` (issue 15): its buckets, keys and
    /// listeners; stops it when there is none. Returns what could not be done.
    /// Does nothing by default.
    fn objects(&self, plan: Option<&Arc<crate::objects::ObjectsPlan>>) -> Vec<String> {
        let _ = plan;
        Vec::new()
    }
    /// Keeps the private APIs serving `plan` (issue 15); stops the gateway when
    /// there is none. Returns what could not be done. Does nothing by default.
    fn apis(&self, plan: Option<&Arc<crate::apis::ApisPlan>>) -> Vec<String> {
        let _ = plan;
        Vec::new()
    }
    /// The execution environments' connections tracked now, per shared function
    /// ENI address they leave from. None by default.
    fn shared_eni_connections(&self) -> Result<BTreeMap<Ipv4Addr, u64>, KernelError> {
        Ok(BTreeMap::new())
    }
}

/// This host's kernel for one prefix: its executor and its environments' cgroup
/// root.
#[derive(Debug, Clone)]
pub struct HostKernel {
    /// The executor of the prefix's namespaces.
    pub host: cove_host::Host,
    /// `cove-<prefix>`.
    pub cgroup_root: CgroupRoot,
    /// A persistent observer (`cove serve`'s reconciler), which reads again only
    /// what changed; `None`: every observation reads everything (one-shot commands).
    pub observer: Option<Arc<Mutex<cove_host::Observer>>>,
    /// The router's links, watched from the first [`Kernel::router_links`] on.
    pub links: Arc<Mutex<Option<cove_host::LinkMonitor>>>,
    /// The running conntrack replications between paired NAT gateways, and when
    /// each missing one was last tried.
    pub replicators: Arc<Mutex<Replicators>>,
    /// The DNS resolver, once started.
    pub resolver: Arc<Mutex<Option<RunningResolver>>>,
    /// The resolver's counters, kept across its restarts (`cove serve`'s metrics
    /// read them).
    pub dns_stats: Arc<cove_resolver::Stats>,
    /// The flow-log collector, while any VPC has a flow log.
    pub flow_collector: Arc<Mutex<Option<crate::flowlogs::FlowCollector>>>,
    /// The collector's counters, kept across its restarts.
    pub flow_stats: Arc<crate::flowlogs::FlowLogStats>,
    /// Which invocation ran in which environment when (the scheduler of
    /// `cove serve` records them; flow logs name them). Set before the first
    /// reconcile; unset, invocations are not named.
    pub invocations: std::sync::OnceLock<Arc<cove_scheduler::InvocationLog>>,
    /// The running stand-in AWS services, with the inode of the namespace each
    /// listens in, and when each missing one was last tried.
    pub stand_ins: Arc<Mutex<StandIns>>,
    /// The object store and its listeners, while the network has buckets or S3
    /// endpoints.
    pub objects: Arc<Mutex<Option<Served<cove_objects::ObjectStore, crate::objects::ObjectsPlan>>>>,
    /// The scheduler private APIs invoke on (`cove serve`'s; set before the
    /// first reconcile). Unset, no gateway runs.
    pub scheduler: Arc<std::sync::OnceLock<cove_scheduler::Scheduler>>,
    /// The private APIs' gateway and its listeners, while the network has APIs
    /// or execute-api endpoints.
    pub gateway: Arc<Mutex<Option<Served<cove_apigw::Gateway, crate::apis::ApisPlan>>>>,
}

/// A service behind endpoints (the object store, the private APIs) with its
/// listeners, and the plan its contents (buckets, keys, APIs) were last set
/// from: a tick with the same plan only keeps the listeners.
pub struct Served<S: cove_listeners::Serve, P> {
    listeners: cove_listeners::Listeners<S>,
    plan: Option<Arc<P>>,
}

impl<S: cove_listeners::Serve, P> Served<S, P> {
    fn new(listeners: cove_listeners::Listeners<S>) -> Self {
        Served {
            listeners,
            plan: None,
        }
    }

    /// Whether `plan` is not the one the service was last set from.
    fn changed(&self, plan: &Arc<P>) -> bool {
        !self.plan.as_ref().is_some_and(|p| Arc::ptr_eq(p, plan))
    }
}

impl<S: cove_listeners::Serve, P> std::fmt::Debug for Served<S, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served")
            .field("listeners", &self.listeners)
            .finish_non_exhaustive()
    }
}

/// The stand-in services of a [`HostKernel`].
#[derive(Default)]
pub struct StandIns {
    running: BTreeMap<cove_standin::StandInConfig, (cove_standin::StandIn, u64)>,
    tried: BTreeMap<cove_standin::StandInConfig, std::time::Instant>,
}

impl std::fmt::Debug for StandIns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandIns")
            .field("running", &self.running.len())
            .finish_non_exhaustive()
    }
}

/// The resolver of a [`HostKernel`], and what it was started with.
pub struct RunningResolver {
    /// The resolver.
    pub resolver: cove_resolver::Resolver,
    /// The catalog it serves.
    catalog: Arc<cove_dns::Catalog>,
    /// The router namespace's inode it listens in (a new namespace needs new
    /// sockets).
    ns_inode: u64,
    /// The upstreams it asks.
    upstreams: Vec<std::net::SocketAddr>,
    /// The last reason its fast path was off that was reported.
    fast_path_said: Option<String>,
}

impl std::fmt::Debug for RunningResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningResolver")
            .field("ns", &self.resolver.namespace())
            .field("ns_inode", &self.ns_inode)
            .field("upstreams", &self.upstreams)
            .finish_non_exhaustive()
    }
}

/// The running conntrack replications of a [`HostKernel`].
#[derive(Debug, Default)]
pub struct Replicators {
    running: BTreeMap<crate::failover::Replication, cove_host::Replicator>,
    tried: BTreeMap<crate::failover::Replication, std::time::Instant>,
}

impl HostKernel {
    /// The kernel of `host`, observed one-shot.
    pub fn new(host: cove_host::Host, cgroup_root: CgroupRoot) -> HostKernel {
        HostKernel {
            host,
            cgroup_root,
            observer: None,
            links: Arc::default(),
            replicators: Arc::default(),
            resolver: Arc::default(),
            dns_stats: Arc::default(),
            flow_collector: Arc::default(),
            flow_stats: Arc::default(),
            invocations: std::sync::OnceLock::new(),
            stand_ins: Arc::default(),
            objects: Arc::default(),
            scheduler: Arc::default(),
            gateway: Arc::default(),
        }
    }

    /// The same kernel observed by a persistent [`cove_host::Observer`].
    #[must_use]
    pub fn observing(mut self) -> HostKernel {
        self.observer = Some(Arc::new(Mutex::new(self.host.observer())));
        self
    }
}

impl Kernel for HostKernel {
    fn observe(&self) -> Result<HostState, KernelError> {
        match &self.observer {
            Some(o) => Ok(o.lock().unwrap_or_else(|e| e.into_inner()).observe()?),
            None => Ok(self.host.observe()?),
        }
    }

    fn apply(&self, plan: &Plan) -> Result<(), KernelError> {
        self.host.apply(plan)?;
        Ok(())
    }

    fn destroy(&self) -> Result<usize, Vec<KernelError>> {
        self.host
            .destroy()
            .map_err(|errors| errors.into_iter().map(|e| Box::new(e) as _).collect())
    }

    fn reap_orphan_environments(&self) -> Result<usize, KernelError> {
        let slot_prefix = cove_plan::names::env_ns_prefix(self.host.prefix());
        let report = cove_sandbox::reap_stale(&self.cgroup_root, |id| {
            id.slot().is_some_and(|ns| {
                ns.starts_with(&slot_prefix) && Path::new(cove_host::NETNS_DIR).join(ns).exists()
            })
        })?;
        Ok(report.reaped.len())
    }

    fn leftovers(&self) -> Result<Vec<String>, KernelError> {
        Ok(self.host.leftovers()?)
    }

    fn remove_leftovers(&self) -> Result<usize, KernelError> {
        Ok(self.host.remove_leftovers()?.len())
    }

    fn shared_eni_connections(&self) -> Result<BTreeMap<Ipv4Addr, u64>, KernelError> {
        Ok(self.host.environment_connections()?)
    }

    fn replicate(&self, want: &[crate::failover::Replication]) -> Vec<String> {
        // Only a long-running process (`cove serve`, observing persistently)
        // replicates: a one-shot command's replicators would end with it.
        if self.observer.is_none() {
            return Vec::new();
        }
        let mut r = self.replicators.lock().unwrap_or_else(|e| e.into_inner());
        // Dropping a replicator stops it (and closes its sockets).
        r.running
            .retain(|k, rep| want.contains(k) && rep.stats().stopped.is_none());
        r.tried.retain(|k, _| want.contains(k));
        let mut problems = Vec::new();
        for w in want {
            if r.running.contains_key(w) {
                continue;
            }
            // A namespace that is not there (yet) is tried again a second later.
            if r.tried
                .get(w)
                .is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(1))
            {
                continue;
            }
            r.tried.insert(w.clone(), std::time::Instant::now());
            let exists = |ns: &str| Path::new(cove_host::NETNS_DIR).join(ns).exists();
            if !exists(&w.from_ns) || !exists(&w.to_ns) {
                continue;
            }
            let config =
                cove_host::ReplicatorConfig::new(&w.from_ns, &w.to_ns, w.translated.clone());
            let started = match cove_host::forget_nat_entries(&w.to_ns, &w.stale) {
                Ok(_) => cove_host::Replicator::start(config),
                Err(e) => Err(e),
            };
            match started {
                Ok(rep) => {
                    r.running.insert(w.clone(), rep);
                }
                Err(e) => problems.push(format!(
                    "replicating {} into {}: {}",
                    w.from_ns,
                    w.to_ns,
                    crate::error::chain_text(&e)
                )),
            }
        }
        problems
    }

    fn namespace_exists(&self, ns: &str) -> bool {
        Path::new(cove_host::NETNS_DIR).join(ns).exists()
    }

    fn stand_in(&self, want: &[cove_standin::StandInConfig]) -> Vec<String> {
        use std::os::unix::fs::MetadataExt as _;
        // Only a long-running process keeps stand-ins (they would end with a
        // one-shot command).
        if self.observer.is_none() {
            return Vec::new();
        }
        let inode = |ns: &str| {
            std::fs::metadata(Path::new(cove_host::NETNS_DIR).join(ns))
                .ok()
                .map(|m| m.ino())
        };
        let mut s = self.stand_ins.lock().unwrap_or_else(|e| e.into_inner());
        // Dropping a stand-in stops it; one whose namespace was replaced listens
        // in the old one.
        s.running.retain(|k, (run, ino)| {
            want.contains(k) && run.running() && inode(&k.ns) == Some(*ino)
        });
        s.tried.retain(|k, _| want.contains(k));
        let mut problems = Vec::new();
        for w in want {
            if s.running.contains_key(w) {
                continue;
            }
            if s.tried
                .get(w)
                .is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(1))
            {
                continue;
            }
            s.tried.insert(w.clone(), std::time::Instant::now());
            let Some(ino) = inode(&w.ns) else { continue };
            match cove_standin::StandIn::start(w.clone()) {
                Ok(run) => {
                    s.running.insert(w.clone(), (run, ino));
                }
                Err(e) => problems.push(format!(
                    "stand-in {} for {}: {}",
                    w.service,
                    w.endpoint,
                    crate::error::chain_text(&e)
                )),
            }
        }
        problems
    }

    fn resolve(
        &self,
        catalog: Option<&Arc<cove_dns::Catalog>>,
        upstreams: &[std::net::SocketAddr],
        fast_path: bool,
    ) -> Vec<String> {
        use std::os::unix::fs::MetadataExt as _;
        // Only a long-running process serves DNS (a one-shot command's resolver
        // would end with it).
        if self.observer.is_none() {
            return Vec::new();
        }
        let mut running = self.resolver.lock().unwrap_or_else(|e| e.into_inner());
        let router = cove_plan::names::router_ns(self.host.prefix());
        let inode = std::fs::metadata(Path::new(cove_host::NETNS_DIR).join(&router))
            .ok()
            .map(|m| m.ino());
        let (Some(catalog), Some(inode)) = (catalog.filter(|c| !c.is_empty()), inode) else {
            *running = None;
            return Vec::new();
        };
        if running.as_ref().is_some_and(|r| {
            r.ns_inode != inode || r.upstreams != upstreams || !r.resolver.running()
        }) {
            *running = None;
        }
        if running.is_none() {
            let mut config = cove_resolver::ResolverConfig::new(&router, upstreams.to_vec());
            config.stats = Arc::clone(&self.dns_stats);
            config.fast_path = fast_path;
            match cove_resolver::Resolver::start(config) {
                Ok(resolver) => {
                    resolver.set_catalog(Arc::clone(catalog));
                    *running = Some(RunningResolver {
                        resolver,
                        catalog: Arc::clone(catalog),
                        ns_inode: inode,
                        upstreams: upstreams.to_vec(),
                        fast_path_said: None,
                    });
                }
                Err(e) => return vec![format!("DNS resolver: {}", crate::error::chain_text(&e))],
            }
        }
        if let Some(r) = running.as_mut() {
            if !Arc::ptr_eq(&r.catalog, catalog) {
                r.resolver.set_catalog(Arc::clone(catalog));
                r.catalog = Arc::clone(catalog);
            }
            // Said once per reason: the resolver answers those queries itself.
            let off = r.resolver.fast_path_error();
            if off.is_some() && off != r.fast_path_said {
                r.fast_path_said.clone_from(&off);
                return off
                    .map(|e| format!("DNS resolver: answering without the kernel fast path: {e}"))
                    .into_iter()
                    .collect();
            }
        }
        Vec::new()
    }

    fn objects(&self, plan: Option<&Arc<crate::objects::ObjectsPlan>>) -> Vec<String> {
        // Only a long-running process serves (a one-shot command would end
        // with its listeners).
        if self.observer.is_none() {
            return Vec::new();
        }
        let mut running = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        let Some(plan) = plan else {
            *running = None;
            return Vec::new();
        };
        if running.is_none() {
            let started = cove_objects::ObjectStore::open(&plan.root)
                .map_err(|e| crate::error::chain_text(&e))
                .and_then(|store| {
                    cove_listeners::Listeners::new(store, "cove-objects")
                        .map_err(|e| format!("cannot start its runtime: {e}"))
                });
            match started {
                Ok(l) => *running = Some(Served::new(l)),
                Err(e) => return vec![format!("object store: {e}")],
            }
        }
        let Some(s) = running.as_mut() else {
            return Vec::new();
        };
        let mut problems = Vec::new();
        if s.changed(plan) {
            s.listeners.service().set_keys(plan.keys.clone());
            match s.listeners.service().set_buckets(plan.buckets.clone()) {
                Ok(()) => s.plan = Some(Arc::clone(plan)),
                // Tried again on the next tick.
                Err(e) => problems.push(format!("object store: {}", crate::error::chain_text(&e))),
            }
        }
        problems.extend(s.listeners.keep(&plan.listeners));
        problems
    }

    fn apis(&self, plan: Option<&Arc<crate::apis::ApisPlan>>) -> Vec<String> {
        // Only `cove serve` runs functions, so only it serves APIs.
        let Some(scheduler) = self.scheduler.get() else {
            return Vec::new();
        };
        let mut running = self.gateway.lock().unwrap_or_else(|e| e.into_inner());
        let Some(plan) = plan else {
            *running = None;
            return Vec::new();
        };
        if running.is_none() {
            let gateway = cove_apigw::Gateway::new(scheduler.clone());
            match cove_listeners::Listeners::new(gateway, "cove-apigw") {
                Ok(l) => *running = Some(Served::new(l)),
                Err(e) => return vec![format!("private APIs: cannot start their runtime: {e}")],
            }
        }
        let Some(s) = running.as_mut() else {
            return Vec::new();
        };
        if s.changed(plan) {
            s.listeners.service().set_apis(plan.apis.clone());
            s.plan = Some(Arc::clone(plan));
        }
        s.listeners.keep(&plan.listeners)
    }

    fn flow_logs(&self, plan: Option<&Arc<crate::flowlogs::FlowLogPlan>>) -> Vec<String> {
        // Only a long-running process collects (a one-shot command would end
        // with its collector).
        if self.observer.is_none() {
            return Vec::new();
        }
        let mut running = self
            .flow_collector
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let Some(plan) = plan else {
            *running = None;
            return Vec::new();
        };
        match running.as_ref() {
            Some(c) => {
                if !Arc::ptr_eq(&c.plan(), plan) {
                    c.set_plan(Arc::clone(plan));
                }
                c.problem()
                    .map(|p| vec![format!("flow logs: {p}")])
                    .unwrap_or_default()
            }
            None => match crate::flowlogs::FlowCollector::start(
                Arc::clone(plan),
                Arc::clone(&self.flow_stats),
                self.invocations.get().cloned().unwrap_or_default(),
            ) {
                Ok(c) => {
                    *running = Some(c);
                    Vec::new()
                }
                Err(e) => vec![format!("flow logs: cannot start the collector: {e}")],
            },
        }
    }

    fn router_links(&self) -> Result<Option<BTreeMap<String, bool>>, KernelError> {
        let ns = cove_plan::names::router_ns(self.host.prefix());
        if !Path::new(cove_host::NETNS_DIR).join(&ns).exists() {
            return Ok(None);
        }
        let mut guard = self.links.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(cove_host::LinkMonitor::open(&ns)?);
        }
        match guard.as_mut() {
            Some(m) => Ok(Some(m.poll()?)),
            None => Ok(None),
        }
    }

    fn remove_environments(&self) -> Result<usize, KernelError> {
        // Their processes died with their namespaces; their cgroups go too
        // (whoever launched them).
        let report = cove_sandbox::remove_all(&self.cgroup_root, None)?;
        Ok(report.reaped.len())
    }
}
