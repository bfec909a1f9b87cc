//! cove's kernel executor: carries out a [`cove_plan::Plan`] with netlink (network
//! namespaces, veth pairs, addresses, routes, policy rules), sysctls, nftables
//! set-element changes as one nf_tables netlink batch (no process) and whole-table
//! changes as one `nft` batch, and reads back what cove owns as a
//! [`cove_plan::HostState`].
//!
//! A [`Host`] owns every namespace named `<prefix>-…` under `/run/netns` and refuses
//! to touch any other. Namespace work runs on OS threads that enter the namespace
//! (one worker thread per namespace during [`Host::apply`], with a current-thread
//! tokio runtime and one rtnetlink connection); the caller's thread never changes
//! namespace. Set-element batches go over one nf_tables socket per namespace that
//! the `Host` keeps open (opened inside the namespace, used from the caller's
//! thread). Everything here needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN).

mod conntrack;
mod ctflows;
mod ctsync;
mod ctsync_msg;
mod ctsync_target;
mod error;
mod link;
mod link_monitor;
mod netns;
mod nflog;
mod nfsockets;
mod nft;
mod nftnl;
mod observe;
mod observer;
mod route;
mod scan;
mod sysctl;
mod worker;

use std::collections::HashMap;
use std::process::{Child, Command, ExitStatus};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cove_plan::{DevName, HostState, Op, Plan};

pub use crate::conntrack::{ConntrackStats, conntrack_stats};
pub use crate::ctflows::{FlowReader, NatSample, Reading, TableReader, nat_sample, parse_flow};
pub use crate::ctsync::{
    DEFAULT_EVENT_BUFFER, DEFAULT_IDLE_TIMEOUT_S, DEFAULT_REFRESH_EVERY, NatEntry,
    ReplicationStats, Replicator, ReplicatorConfig, delete_nat_entry, forget_nat_entries,
    nat_entries, write_nat_entry,
};
pub use crate::error::{HostError, error_chain};
pub use crate::link_monitor::{LinkMonitor, LinkStates};
pub use crate::netns::{NETNS_DIR, in_namespace, spawn_in_namespace};
pub use crate::nflog::{RejectReader, Rejects};
use crate::nfsockets::NfSockets;
pub use crate::nft::TABLE as NFT_TABLE;
use crate::observer::Observers;
pub use crate::observer::{MAX_THREADS as OBSERVE_THREADS, ObserveReport, Observer};
use crate::worker::Worker;

/// The longest prefix [`Host::new`] accepts.
pub const MAX_PREFIX: usize = 12;

/// What [`Host::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyReport {
    /// Number of operations carried out (all of the plan's).
    pub ops: usize,
    /// Wall-clock time the plan took.
    pub elapsed: Duration,
}

/// The executor for the namespaces of one prefix. Clones share its open nf_tables
/// sockets (one per namespace that had elements changed; each holds its
/// namespace until the namespace is deleted through this `Host`, observed as gone,
/// or replaced, and until the last clone is dropped). Keep one `Host` per prefix for
/// as long as the process runs: closing a socket can take an RCU grace period
/// (~10 ms), paid by whichever thread drops the last clone.
#[derive(Debug, Clone)]
pub struct Host {
    prefix: String,
    nf_sockets: Arc<NfSockets>,
    observers: Arc<Observers>,
}

impl Host {
    /// A host owning every namespace named `<prefix>-…`; `prefix` is 1–12 characters
    /// `[a-z0-9]`. Touches nothing.
    pub fn new(prefix: &str) -> Result<Host, HostError> {
        let ok = (1..=MAX_PREFIX).contains(&prefix.len())
            && prefix
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !ok {
            return Err(HostError::InvalidPrefix {
                prefix: prefix.to_owned(),
            });
        }
        Ok(Host {
            prefix: prefix.to_owned(),
            nf_sockets: Arc::default(),
            observers: Arc::default(),
        })
    }

    /// The prefix of the namespaces this host owns.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether namespace `ns` belongs to this host (`<prefix>-…`).
    pub fn owns(&self, ns: &str) -> bool {
        ns.strip_prefix(&self.prefix)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|rest| !rest.is_empty())
    }

    /// Reads what cove owns: every namespace under `/run/netns` whose name starts
    /// with `<prefix>-`, with its veth links, IPv4 addresses (not `127.0.0.0/8` on
    /// `lo`), routes (all tables but `local`, no protocol-`kernel` routes), rules
    /// (not the default ones), `ip_forward`, each veth's MAC and MTU, every
    /// nftables table that is not cove's, and cove's table (generation, the digest
    /// of its chains and rules and the one recorded when it was loaded, and its set
    /// elements), all over netlink, with no process (`nft` only for a set in
    /// cove's table that cove does not declare). `veths` is left empty: a pair
    /// exists when both of its ends do.
    ///
    /// A few threads (one per core, at most [`OBSERVE_THREADS`]) each enter the
    /// namespaces in turn and dump them over blocking netlink sockets opened
    /// there; nothing is kept. A process that observes again and again keeps an
    /// [`Observer`] instead, which reads again only what changed.
    pub fn observe(&self) -> Result<HostState, HostError> {
        let state = observer::observe_once(&self.prefix)?;
        // Sockets of namespaces deleted behind this host's back must not keep them.
        self.nf_sockets
            .retain(|ns| state.namespaces.contains_key(ns));
        Ok(state)
    }

    /// The files under `/run/netns` named for this prefix that hold no namespace:
    /// what a create or a delete interrupted half-way (a process killed between
    /// creating the file and mounting on it, or between unmounting and removing it)
    /// left. Observations skip them, so a plan never removes them: the caller
    /// removes them with [`Host::remove_leftovers`], holding the prefix lock (a
    /// create in progress looks the same for a moment).
    pub fn leftovers(&self) -> Result<Vec<String>, HostError> {
        netns::list_leftovers(&self.prefix)
    }

    /// Removes the [`Host::leftovers`]; returns their names. Call it only while no
    /// other process changes this prefix (under the prefix lock).
    pub fn remove_leftovers(&self) -> Result<Vec<String>, HostError> {
        let mut removed = Vec::new();
        for ns in netns::list_leftovers(&self.prefix)? {
            if netns::delete(&ns)? {
                removed.push(ns);
            }
        }
        Ok(removed)
    }

    /// A persistent [`Observer`] of this host's namespaces.
    pub fn observer(&self) -> Observer {
        Observer::new(self)
    }

    /// Executes the plan's operations in order and stops at the first failure, with
    /// an error ([`HostError::Step`]) naming the operation and its namespace.
    ///
    /// Before touching anything, refuses the whole plan if an operation names a
    /// namespace that does not start with `<prefix>-` (for a veth: either end) or a
    /// name the kernel or `nft` would misread. Removals of things already gone
    /// succeed (deleting one end of a veth removes the other).
    pub fn apply(&self, plan: &Plan) -> Result<ApplyReport, HostError> {
        for op in &plan.ops {
            self.check(op)?;
        }
        let start = Instant::now();
        let mut workers: HashMap<String, Worker> = HashMap::new();
        for (index, op) in plan.ops.iter().enumerate() {
            let ns = op.namespace();
            self.apply_one(&mut workers, op)
                .map_err(|source| HostError::Step {
                    index,
                    op: op.to_string(),
                    ns: ns.to_owned(),
                    source: Box::new(source),
                })?;
        }
        drop(workers);
        Ok(ApplyReport {
            ops: plan.ops.len(),
            elapsed: start.elapsed(),
        })
    }

    fn apply_one(&self, workers: &mut HashMap<String, Worker>, op: &Op) -> Result<(), HostError> {
        let ns = op.namespace();
        match op {
            Op::CreateNamespace { .. } => netns::create(ns)?,
            Op::DeleteNamespace { .. } => {
                // The worker's thread and the nf_tables socket are inside the
                // namespace: stop and close them first.
                workers.remove(ns);
                self.nf_sockets.forget(ns);
                self.observers.forget(ns);
                netns::delete(ns)?;
                return Ok(());
            }
            Op::NftElements {
                table, add, delete, ..
            } if nftnl::handles(add, delete) => {
                // No worker: the namespace's socket is used from this thread.
                return self.nf_sockets.update_elements(ns, table, add, delete);
            }
            _ => {}
        }
        worker(workers, ns)?.apply(op)?;
        if let Op::CreateVeth { pair } = op {
            worker(workers, &pair.b.ns)?.link_up(&pair.b.name)?;
        }
        Ok(())
    }

    /// Refuses an operation on a namespace this host does not own, or with a name
    /// that cannot be used as given.
    fn check(&self, op: &Op) -> Result<(), HostError> {
        let invalid = |what, name: &str, rule| HostError::InvalidName {
            op: op.to_string(),
            what,
            name: name.to_owned(),
            rule,
        };
        let mut namespaces = vec![op.namespace()];
        if let Op::CreateVeth { pair } = op {
            namespaces.push(&pair.b.ns);
            for end in [&pair.a, &pair.b] {
                if DevName::new(&end.name).is_none() {
                    return Err(invalid("interface", &end.name, IFNAME_RULE));
                }
            }
        }
        for ns in namespaces {
            if !self.owns(ns) {
                return Err(HostError::ForeignNamespace {
                    op: op.to_string(),
                    ns: ns.to_owned(),
                    prefix: self.prefix.clone(),
                });
            }
            if !valid_ns_name(ns) {
                return Err(invalid("namespace", ns, NS_RULE));
            }
        }
        match op {
            Op::DeleteLink { name, .. } | Op::SetLink { name, .. }
                if DevName::new(name).is_none() =>
            {
                Err(invalid("interface", name, IFNAME_RULE))
            }
            Op::ReplaceNft { table, .. } if !valid_nft_name(&table.name) => {
                Err(invalid("nftables table", &table.name, NFT_RULE))
            }
            Op::DeleteNft { name, .. } if !valid_nft_name(name) => {
                Err(invalid("nftables table", name, NFT_RULE))
            }
            Op::NftElements {
                table, add, delete, ..
            } => {
                if !valid_nft_name(table) {
                    return Err(invalid("nftables table", table, NFT_RULE));
                }
                match add.keys().chain(delete.keys()).find(|s| !valid_nft_name(s)) {
                    Some(set) => Err(invalid("nftables set", set, NFT_RULE)),
                    None => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// Kills the processes inside each owned namespace and deletes every owned
    /// namespace. Continues past errors and returns all of them; a namespace that
    /// disappears meanwhile is not an error. Returns how many were removed.
    pub fn destroy(&self) -> Result<usize, Vec<HostError>> {
        let names = netns::list(&self.prefix).map_err(|e| vec![e])?;
        let mut removed = 0;
        let mut errors = Vec::new();
        for ns in &names {
            self.nf_sockets.forget(ns);
            self.observers.forget(ns);
            match netns::delete(ns) {
                Ok(true) => removed += 1,
                Ok(false) => {}
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(removed)
        } else {
            Err(errors)
        }
    }

    /// How many connections of execution environments the host router tracks now,
    /// per shared function ENI address they were translated to (one dump of the
    /// router's conntrack table, on a thread of its own inside the router's
    /// namespace). Empty when the router does not exist.
    pub fn environment_connections(
        &self,
    ) -> Result<std::collections::BTreeMap<std::net::Ipv4Addr, u64>, HostError> {
        let ns = cove_plan::names::router_ns(&self.prefix);
        if !netns::is_mounted(&ns) {
            return Ok(std::collections::BTreeMap::new());
        }
        let name = ns.clone();
        netns::run_in(&ns, move || {
            conntrack::count_translated(&name, cove_plan::environments::ENV_RANGE)
        })
    }

    /// Runs `argv` inside namespace `ns` (which this host must own) with inherited
    /// stdio and waits for it.
    pub fn exec(&self, ns: &str, argv: &[String]) -> Result<ExitStatus, HostError> {
        let Some((program, args)) = argv.split_first() else {
            return Err(HostError::EmptyCommand { ns: ns.to_owned() });
        };
        let mut cmd = Command::new(program);
        cmd.args(args);
        let mut child = self.spawn(ns, cmd)?;
        child.wait().map_err(|source| HostError::Wait {
            ns: ns.to_owned(),
            program: program.clone(),
            source,
        })
    }

    /// Starts `cmd` inside namespace `ns` (which this host must own) and returns the
    /// running child; stdio and environment are as configured on `cmd`. The child
    /// is killed by [`Host::destroy`] if still running then.
    pub fn spawn(&self, ns: &str, cmd: Command) -> Result<Child, HostError> {
        if !self.owns(ns) {
            return Err(HostError::ForeignNamespace {
                op: format!("run {}", cmd.get_program().to_string_lossy()),
                ns: ns.to_owned(),
                prefix: self.prefix.clone(),
            });
        }
        netns::spawn_in(ns, cmd)
    }

    /// Opens a TCP listener bound to `addr` inside namespace `ns` (which this host
    /// must own). The socket stays in that namespace wherever it is used from, so a
    /// listener on `127.0.0.1` is reachable only from inside `ns`. The socket is
    /// non-blocking, ready for `tokio::net::TcpListener::from_std`.
    pub fn bind_tcp(
        &self,
        ns: &str,
        addr: std::net::SocketAddr,
    ) -> Result<std::net::TcpListener, HostError> {
        if !self.owns(ns) {
            return Err(HostError::ForeignNamespace {
                op: format!("listen on {addr}"),
                ns: ns.to_owned(),
                prefix: self.prefix.clone(),
            });
        }
        let name = ns.to_owned();
        netns::run_in(ns, move || {
            let listen = |source| HostError::Listen {
                ns: name.clone(),
                addr,
                source,
            };
            let listener = std::net::TcpListener::bind(addr).map_err(listen)?;
            listener.set_nonblocking(true).map_err(listen)?;
            Ok(listener)
        })
    }
}

/// The worker for namespace `ns`, started on first use.
fn worker<'w>(workers: &'w mut HashMap<String, Worker>, ns: &str) -> Result<&'w Worker, HostError> {
    if !workers.contains_key(ns) {
        workers.insert(ns.to_owned(), Worker::start(ns)?);
    }
    workers
        .get(ns)
        .ok_or_else(|| HostError::WorkerGone { ns: ns.to_owned() })
}

const NS_RULE: &str = "at most 200 characters: letters, digits, '-', '_', '.'";
const IFNAME_RULE: &str = "1 to 15 bytes, no '/', whitespace or NUL";
const NFT_RULE: &str = "a letter, then up to 63 letters, digits or '_'";

fn valid_ns_name(ns: &str) -> bool {
    ns.len() <= 200
        && !ns.starts_with('.')
        && ns
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn valid_nft_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= 64
        && bytes.next().is_some_and(|c| c.is_ascii_alphabetic())
        && bytes.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

#[cfg(test)]
mod tests {
    use cove_plan::{NftTable, VethEnd, VethPair};

    use super::*;

    #[test]
    fn prefixes() {
        assert!(Host::new("cove").is_ok());
        assert!(Host::new("a1b2c3d4e5f6").is_ok());
        for bad in ["", "Cove", "a-b", "a1b2c3d4e5f6x", "th/1"] {
            assert!(Host::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_host_can_be_shared_between_threads() {
        fn shared<T: Send + Sync + Clone + 'static>(_: &T) {}
        shared(&Host::new("t1").expect("prefix"));
    }

    #[test]
    fn ownership() {
        let h = Host::new("t1").expect("prefix");
        assert!(h.owns("t1-a"));
        assert!(!h.owns("t1-"));
        assert!(!h.owns("t10-a"));
        assert!(!h.owns("t1"));
        assert!(!h.owns("x-t1-a"));
    }

    #[test]
    fn check_refuses_foreign_and_odd_names() {
        let h = Host::new("t1").expect("prefix");
        let end = |ns: &str, name: &str| VethEnd {
            ns: ns.to_owned(),
            name: name.to_owned(),
            mac: None,
        };
        let veth = |b_ns: &str, b_name: &str| Op::CreateVeth {
            pair: VethPair {
                a: end("t1-a", "v0"),
                b: end(b_ns, b_name),
            },
        };
        assert!(h.check(&veth("t1-b", "v1")).is_ok());
        assert!(matches!(
            h.check(&veth("other-b", "v1")),
            Err(HostError::ForeignNamespace { .. })
        ));
        assert!(matches!(
            h.check(&veth("t1-b", "this-name-is-too-long")),
            Err(HostError::InvalidName { .. })
        ));
        assert!(matches!(
            h.check(&Op::CreateNamespace {
                ns: "t1-../x".into()
            }),
            Err(HostError::InvalidName { .. })
        ));
        let nft = |name: &str| Op::ReplaceNft {
            ns: "t1-a".into(),
            table: NftTable {
                name: name.into(),
                generation: "g".into(),
                text: String::new(),
                elements: Default::default(),
                rules_digest: None,
                loaded_digest: None,
            },
            why: cove_plan::NftWhy::Missing,
        };
        assert!(h.check(&nft("cove")).is_ok());
        assert!(h.check(&nft("cove; flush ruleset")).is_err());
    }
}
