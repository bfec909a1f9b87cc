//! Observing every namespace of a prefix without a process, and without a thread
//! or an async runtime per namespace.
//!
//! **Once** ([`crate::Host::observe`]): a few threads (one per core, at most
//! [`MAX_THREADS`]) take the namespaces in turn; for each, the thread enters it
//! (`setns`), opens a route and an nf_tables netlink socket there, dumps over
//! them with plain blocking calls, and closes them.
//!
//! **Persistently** ([`Observer`], for a process that reconciles again and again):
//! each namespace's two sockets are opened once, subscribed to the namespace's
//! notifications, and kept, with the namespace's last reading. An observation
//! lists `/run/netns` (one `stat` per namespace), polls every socket once, and
//! reads again only what notifications say changed: a namespace's links,
//! addresses, routes and rules (any rtnetlink notification), its nf_tables
//! ruleset (any nf_tables notification other than an element change), or the
//! elements of the sets named by element notifications. A lost notification
//! (`ENOBUFS`) means the whole namespace is read again. A namespace deleted, or
//! replaced by another under the same name (another nsfs inode), loses its
//! sockets at once — an open socket would keep the deleted namespace, and the
//! veth ends inside it, alive — and a new one is read whole.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::thread;

use cove_plan::{HostState, NsState};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::Host;
use crate::error::HostError;
use crate::netns;
use crate::nftnl::{self, ruleset};
use crate::scan::{self, NfDirty, NsId, NsSockets};

/// The most threads an observation uses.
pub const MAX_THREADS: usize = 4;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How many threads for `items` namespaces.
fn threads(items: usize) -> usize {
    let cores = thread::available_parallelism().map_or(1, std::num::NonZero::get);
    items.min(cores).min(MAX_THREADS)
}

/// Runs `f` on every item on fresh threads (which may enter namespaces: they end
/// with this call), and returns the first error.
fn parallel<T: Send>(
    items: &mut [T],
    f: impl Fn(&mut T) -> Result<(), HostError> + Sync,
) -> Result<(), HostError> {
    let n = threads(items.len());
    let queue = Mutex::new(items.iter_mut());
    let failed: Mutex<Option<HostError>> = Mutex::new(None);
    thread::scope(|s| {
        for i in 0..n {
            let work = || {
                loop {
                    if lock(&failed).is_some() {
                        return;
                    }
                    let Some(item) = lock(&queue).next() else {
                        return;
                    };
                    if let Err(e) = f(item) {
                        lock(&failed).get_or_insert(e);
                        return;
                    }
                }
            };
            let started = thread::Builder::new()
                .name(format!("cove-observe-{i}"))
                .spawn_scoped(s, work);
            if let Err(source) = started {
                lock(&failed).get_or_insert(HostError::Thread {
                    ns: "(observer)".to_owned(),
                    source,
                });
            }
        }
    });
    match failed.into_inner().unwrap_or_else(PoisonError::into_inner) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Whether `e` says the namespace disappeared (deleted since it was listed).
fn vanished(e: &HostError) -> bool {
    matches!(e, HostError::OpenNamespace { source, .. } if source.kind() == io::ErrorKind::NotFound)
}

/// Enters `ns` on the calling thread (one of [`parallel`]'s) and opens its
/// sockets; `None` if it is gone.
fn open(ns: &str, subscribe: bool) -> Result<Option<NsSockets>, HostError> {
    let id = match netns::enter_with_id(ns) {
        Ok(id) => id,
        Err(e) if vanished(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    NsSockets::open_here(ns, id, subscribe).map(Some)
}

/// Named sets of a table above which a one-shot observation reads their
/// elements on every thread at once (the kernel looks each set up by name in a
/// list, so a table with thousands of sets was the most of an observation; cove's
/// router now has about two dozen, with tens of thousands of elements between
/// them, still worth reading in parallel).
const SPLIT_SETS_OVER: usize = 8;

/// A one-shot observation of the mounted namespaces of `prefix`.
pub(crate) fn observe_once(prefix: &str) -> Result<HostState, HostError> {
    type Read = (String, Option<NsState>, Option<ruleset::Deferred>);
    let mut jobs: Vec<Read> = netns::list_mounted(prefix)?
        .into_iter()
        .map(|(ns, _)| (ns, None, None))
        .collect();
    let split = (threads(usize::MAX) > 1).then_some(SPLIT_SETS_OVER);
    parallel(&mut jobs, |(ns, state, deferred)| {
        if let Some(mut socks) = open(ns, false)? {
            let (s, d) = scan::read_all_deferring(&mut socks, ns, split)?;
            *state = Some(s);
            *deferred = d;
        }
        Ok(())
    })?;
    // The elements of large tables: each thread reads a share of the sets on a
    // socket of its own, at the generation the rest was read at.
    let mut parts: Vec<(usize, Vec<String>, u32, Option<nftnl::Elements>)> = Vec::new();
    for (i, (_, _, deferred)) in jobs.iter_mut().enumerate() {
        if let Some(d) = deferred.take() {
            // Dealt out in turn, not cut in halves: a set's lookup costs its
            // place in the kernel's list, so the last ones cost the most.
            let n = threads(d.sets.len()).max(1);
            let mut shares = vec![Vec::new(); n];
            for (k, set) in d.sets.into_iter().enumerate() {
                shares[k % n].push(set);
            }
            for share in shares {
                parts.push((i, share, d.generation, None));
            }
        }
    }
    parallel(&mut parts, |(i, sets, generation, out)| {
        let ns = &jobs[*i].0;
        match netns::enter_with_id(ns) {
            Ok(_) => {}
            Err(e) if vanished(&e) => return Ok(()),
            Err(e) => return Err(e),
        }
        *out = scan::read_sets_here(ns, sets, *generation)?;
        Ok(())
    })?;
    let mut whole = Vec::new();
    let mut merged: HashMap<usize, bool> = HashMap::new();
    for (i, _, _, out) in parts {
        let ok = merged.entry(i).or_insert(true);
        match (out, jobs[i].1.as_mut().and_then(|s| s.nft.as_mut())) {
            (Some(e), Some(t)) if *ok => t.elements.extend(e),
            _ => *ok = false,
        }
    }
    for (i, ok) in merged {
        if !ok {
            whole.push(i);
        }
    }
    // The ruleset changed meanwhile: read those namespaces' tables again whole.
    let mut again: Vec<(String, Option<NsState>)> = whole
        .iter()
        .map(|i| (jobs[*i].0.clone(), jobs[*i].1.take()))
        .collect();
    parallel(&mut again, |(ns, state)| {
        match (open(ns, false)?, state.as_mut()) {
            (Some(mut socks), Some(s)) => socks.read_nft(ns, s)?,
            // Deleted meanwhile: not observed.
            (None, _) => *state = None,
            (Some(_), None) => {}
        }
        Ok(())
    })?;
    for (i, (_, state)) in whole.into_iter().zip(again) {
        jobs[i].1 = state;
    }
    Ok(HostState {
        namespaces: jobs
            .into_iter()
            .filter_map(|(ns, s, _)| Some((ns, s?)))
            .collect(),
        ..HostState::default()
    })
}

/// One watched namespace.
struct Watch {
    socks: NsSockets,
    state: NsState,
    /// Links, addresses, routes or rules may have changed since `state`.
    route_dirty: bool,
    /// What of nf_tables may have changed since `state`.
    nf_dirty: NfDirty,
}

/// The watched namespaces of one [`Observer`] (shared with its [`Host`], which
/// drops a namespace's sockets before it deletes the namespace).
#[derive(Default)]
pub(crate) struct Watched {
    by_ns: HashMap<String, Watch>,
}

/// The observers of a [`Host`] (and its clones).
#[derive(Default)]
pub(crate) struct Observers {
    list: Mutex<Vec<Weak<Mutex<Watched>>>>,
}

impl fmt::Debug for Observers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observers")
            .field("count", &lock(&self.list).len())
            .finish()
    }
}

impl Observers {
    fn register(&self, w: &Arc<Mutex<Watched>>) {
        let mut list = lock(&self.list);
        list.retain(|o| o.strong_count() > 0);
        list.push(Arc::downgrade(w));
    }

    /// Closes every observer's sockets of namespace `ns` (it is about to be
    /// deleted: they must not keep it alive).
    pub(crate) fn forget(&self, ns: &str) {
        let live: Vec<Arc<Mutex<Watched>>> =
            lock(&self.list).iter().filter_map(Weak::upgrade).collect();
        for w in live {
            let old = lock(&w).by_ns.remove(ns);
            drop(old);
        }
    }
}

/// What the last [`Observer::observe`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObserveReport {
    /// Namespaces observed.
    pub namespaces: usize,
    /// Namespaces seen for the first time (entered, sockets opened, read whole).
    pub opened: usize,
    /// Known namespaces read again (in part or whole) because they changed.
    pub reread: usize,
    /// Namespaces whose sockets were closed (deleted, or replaced under their
    /// name).
    pub dropped: usize,
    /// Whole nf_tables rulesets read (of namespaces opened or changed).
    pub rulesets_read: usize,
    /// Readings of only the sets whose elements changed.
    pub set_reads: usize,
}

/// A persistent observer of a [`Host`]'s namespaces, for a long-running process
/// (see the module comment). [`Observer::observe`] returns what
/// [`Host::observe`] would; between two calls it keeps two subscribed netlink
/// sockets per namespace (raise `ulimit -n` above twice the namespaces), which
/// the `Host` closes before it deletes a namespace.
pub struct Observer {
    host: Host,
    watched: Arc<Mutex<Watched>>,
    last: ObserveReport,
}

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observer")
            .field("prefix", &self.host.prefix())
            .field("watched", &lock(&self.watched).by_ns.len())
            .field("last", &self.last)
            .finish()
    }
}

/// A job of one observation.
enum Job<'w> {
    /// A namespace not watched yet: enter, open, read whole.
    Open { ns: String, out: Option<Box<Watch>> },
    /// A watched namespace that changed.
    Refresh { ns: String, watch: &'w mut Watch },
}

impl Observer {
    /// An observer of `host`'s namespaces; opens nothing until the first
    /// [`Observer::observe`]. Raises this process's open-file limit to its hard
    /// limit (the observer keeps two sockets per namespace).
    pub fn new(host: &Host) -> Observer {
        use nix::sys::resource::{Resource, getrlimit, setrlimit};
        if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
            if soft < hard {
                // Best effort: opening a socket past the limit fails with a
                // clear error (`HostError::Dump` / `NftNetlink`, EMFILE).
                let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
            }
        }
        let watched = Arc::new(Mutex::new(Watched::default()));
        host.observers.register(&watched);
        Observer {
            host: host.clone(),
            watched,
            last: ObserveReport::default(),
        }
    }

    /// What the last [`Observer::observe`] did.
    pub fn last_report(&self) -> ObserveReport {
        self.last
    }

    /// Reads what the host's namespaces hold (the same as [`Host::observe`]),
    /// reading again only what changed since the last call. On an error, the
    /// namespace that failed is read whole next time.
    pub fn observe(&mut self) -> Result<HostState, HostError> {
        let listed = netns::list_mounted(self.host.prefix())?;
        self.host
            .nf_sockets
            .retain(|ns| listed.binary_search_by(|(n, _)| n.as_str().cmp(ns)).is_ok());
        let mut report = ObserveReport {
            namespaces: listed.len(),
            ..ObserveReport::default()
        };
        let mut watched = lock(&self.watched);
        let ids: HashMap<&str, NsId> = listed.iter().map(|(n, id)| (n.as_str(), *id)).collect();
        let gone: Vec<String> = watched
            .by_ns
            .iter()
            .filter(|(ns, w)| ids.get(ns.as_str()) != Some(&w.socks.id))
            .map(|(ns, _)| ns.clone())
            .collect();
        report.dropped = gone.len();
        for ns in gone {
            // Closed now: the socket must not keep a deleted namespace alive.
            drop(watched.by_ns.remove(&ns));
        }
        let changed = pending(&watched.by_ns)?;
        let mut jobs: Vec<Job<'_>> = Vec::new();
        let mut fresh = Vec::new();
        for (ns, _) in &listed {
            if !watched.by_ns.contains_key(ns) {
                fresh.push(Job::Open {
                    ns: ns.clone(),
                    out: None,
                });
            }
        }
        for (ns, watch) in &mut watched.by_ns {
            if changed.contains(ns) || watch.route_dirty || watch.nf_dirty != NfDirty::Clean {
                jobs.push(Job::Refresh {
                    ns: ns.clone(),
                    watch,
                });
            }
        }
        report.opened = fresh.len();
        report.reread = jobs.len();
        let counts = |w: &Watch| (w.socks.rulesets_read, w.socks.set_reads);
        let before = jobs.iter().fold((0, 0), |acc, j| match j {
            Job::Refresh { watch, .. } => add(acc, counts(watch)),
            Job::Open { .. } => acc,
        });
        jobs.extend(fresh);
        let result = parallel(&mut jobs, run);
        let after = jobs.iter().fold((0, 0), |acc, j| match j {
            Job::Refresh { watch, .. } => add(acc, counts(watch)),
            Job::Open { out: Some(w), .. } => add(acc, counts(w)),
            Job::Open { .. } => acc,
        });
        report.rulesets_read = after.0 - before.0;
        report.set_reads = after.1 - before.1;
        // Whatever happened, keep what was opened and drop what failed.
        let mut failed = Vec::new();
        let mut opened = Vec::new();
        for job in jobs {
            match job {
                Job::Open {
                    ns, out: Some(w), ..
                } => opened.push((ns, *w)),
                Job::Open { .. } => {}
                Job::Refresh { ns, watch } => {
                    if result.is_err() && (watch.route_dirty || watch.nf_dirty == NfDirty::All) {
                        failed.push(ns);
                    }
                }
            }
        }
        for ns in failed {
            drop(watched.by_ns.remove(&ns));
        }
        watched.by_ns.extend(opened);
        result?;
        let namespaces: BTreeMap<String, NsState> = listed
            .iter()
            .filter_map(|(ns, _)| Some((ns.clone(), watched.by_ns.get(ns)?.state.clone())))
            .collect();
        self.last = report;
        Ok(HostState {
            namespaces,
            ..HostState::default()
        })
    }
}

fn add(a: (usize, usize), b: (usize, usize)) -> (usize, usize) {
    (a.0 + b.0, a.1 + b.1)
}

/// The namespaces whose sockets have something to read (notifications, or an
/// overrun), found with one `poll` over all of them.
fn pending(by_ns: &HashMap<String, Watch>) -> Result<HashSet<String>, HostError> {
    let order: Vec<(&String, &Watch)> = by_ns.iter().collect();
    let mut fds: Vec<PollFd<'_>> = order
        .iter()
        .flat_map(|(_, w)| w.socks.fds())
        .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
        .collect();
    if fds.is_empty() {
        return Ok(HashSet::new());
    }
    poll(&mut fds, PollTimeout::ZERO).map_err(|e| HostError::Dump {
        ns: "(observer)".to_owned(),
        what: "notifications (poll)",
        source: e.into(),
    })?;
    let mut out = HashSet::new();
    for (i, fd) in fds.iter().enumerate() {
        if fd.revents().is_some_and(|r| !r.is_empty()) {
            out.insert(order[i / 2].0.clone());
        }
    }
    Ok(out)
}

/// Carries out one job (on one of [`parallel`]'s threads).
fn run(job: &mut Job<'_>) -> Result<(), HostError> {
    match job {
        Job::Open { ns, out } => {
            let Some(mut socks) = open(ns, true)? else {
                return Ok(());
            };
            // Notifications queued from here on are about changes after (or
            // during) this reading: they mark it dirty again.
            let state = scan::read_all(&mut socks, ns)?;
            *out = Some(Box::new(Watch {
                socks,
                state,
                route_dirty: false,
                nf_dirty: NfDirty::Clean,
            }));
            Ok(())
        }
        Job::Refresh { ns, watch } => refresh(ns, watch),
    }
}

/// Reads again what changed in a watched namespace.
fn refresh(ns: &str, w: &mut Watch) -> Result<(), HostError> {
    w.route_dirty |= w.socks.take_route_events(ns)?;
    w.socks.take_nf_events(ns, &mut w.nf_dirty)?;
    if w.route_dirty {
        let (mut state, clean) = w.socks.read_netlink(ns)?;
        state.nft = w.state.nft.take();
        state.foreign_tables = std::mem::take(&mut w.state.foreign_tables);
        w.state = state;
        w.route_dirty = !clean;
    }
    for _ in 0..scan::TRIES {
        let dirty = std::mem::take(&mut w.nf_dirty);
        if dirty == NfDirty::Clean {
            break;
        }
        // On an error the namespace is read whole next time.
        w.nf_dirty = NfDirty::All;
        w.nf_dirty = w.socks.refresh_nft(ns, &mut w.state, dirty)?;
    }
    Ok(())
}
