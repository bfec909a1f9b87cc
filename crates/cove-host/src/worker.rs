//! A worker: one OS thread inside one namespace, with a current-thread tokio
//! runtime and one rtnetlink connection opened there. The caller sends it jobs and
//! waits for each answer, so operations run in plan order.
//!
//! Sysctl writes, `nft` processes and nf_tables netlink sockets also run on this
//! thread, because all of them follow the namespace of the calling thread.

use std::sync::mpsc;
use std::thread::{self, JoinHandle};

use cove_plan::Op;
use rtnetlink::Handle;
use tokio::runtime::Runtime;

use crate::error::HostError;
use crate::{link, netns, nft, nftnl, route, sysctl};

/// Work for a worker, with where to send the answer.
enum Job {
    /// Carry out one operation of a plan.
    Apply(Op, mpsc::Sender<Result<(), HostError>>),
    /// Set the second end of a new veth pair up (IPv6 addresses off first).
    LinkUp(String, mpsc::Sender<Result<(), HostError>>),
}

/// A thread inside one namespace; stopped (and joined) on drop.
pub(crate) struct Worker {
    ns: String,
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts a worker in namespace `ns` and waits until it is inside, with its
    /// netlink connection open.
    pub(crate) fn start(ns: &str) -> Result<Worker, HostError> {
        let (jobs_tx, jobs_rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let name = ns.to_owned();
        let thread = thread::Builder::new()
            .name(format!("netns-{ns}"))
            .spawn(move || run(&name, &ready_tx, &jobs_rx))
            .map_err(|source| HostError::Thread {
                ns: ns.to_owned(),
                source,
            })?;
        let worker = Worker {
            ns: ns.to_owned(),
            jobs: Some(jobs_tx),
            thread: Some(thread),
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(worker),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(worker.gone()),
        }
    }

    /// The error to report when the thread stopped without answering.
    pub(crate) fn gone(&self) -> HostError {
        HostError::WorkerGone {
            ns: self.ns.clone(),
        }
    }

    fn send(&self, job: Job) -> Result<(), HostError> {
        self.jobs
            .as_ref()
            .and_then(|j| j.send(job).ok())
            .ok_or_else(|| self.gone())
    }

    /// Carries out `op` inside the namespace and waits for it.
    ///
    /// `CreateNamespace` here means "bring `lo` up" (the namespace is created by the
    /// caller); `DeleteNamespace` is the caller's and does nothing here.
    pub(crate) fn apply(&self, op: &Op) -> Result<(), HostError> {
        let (tx, rx) = mpsc::channel();
        self.send(Job::Apply(op.clone(), tx))?;
        rx.recv().map_err(|_| self.gone())?
    }

    /// Sets `dev`, the second end of a veth pair just created, up (with its IPv6
    /// addresses off) and waits for it.
    pub(crate) fn link_up(&self, dev: &str) -> Result<(), HostError> {
        let (tx, rx) = mpsc::channel();
        self.send(Job::LinkUp(dev.to_owned(), tx))?;
        rx.recv().map_err(|_| self.gone())?
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop.
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The worker thread: enter, connect, report ready, then serve jobs until the
/// channel closes.
fn run(ns: &str, ready: &mpsc::Sender<Result<(), HostError>>, jobs: &mpsc::Receiver<Job>) {
    let (rt, handle) = match setup(ns) {
        Ok(v) => v,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    if ready.send(Ok(())).is_err() {
        return;
    }
    while let Ok(job) = jobs.recv() {
        match job {
            Job::Apply(op, reply) => {
                let _ = reply.send(apply(&rt, &handle, ns, &op));
            }
            Job::LinkUp(dev, reply) => {
                let _ = reply.send(rt.block_on(link::set_peer_up(&handle, ns, &dev)));
            }
        }
    }
}

fn setup(ns: &str) -> Result<(Runtime, Handle), HostError> {
    netns::enter(ns)?;
    connect_here(ns)
}

/// A current-thread runtime and an rtnetlink connection in the namespace the calling
/// thread is in.
pub(crate) fn connect_here(ns: &str) -> Result<(Runtime, Handle), HostError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| HostError::Runtime {
            ns: ns.to_owned(),
            source,
        })?;
    // The socket is created here, inside the namespace, and stays bound to it.
    let handle = {
        let _enter = rt.enter();
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|source| HostError::Connection {
                ns: ns.to_owned(),
                source,
            })?;
        rt.spawn(conn);
        handle
    };
    Ok((rt, handle))
}

fn apply(rt: &Runtime, h: &Handle, ns: &str, op: &Op) -> Result<(), HostError> {
    match op {
        Op::CreateNamespace { .. } => rt.block_on(link::set_up(h, ns, "lo")),
        Op::DeleteNamespace { .. } => Ok(()),
        Op::SetForwarding { enabled, .. } => sysctl::set_forwarding(ns, *enabled),
        Op::SetLocalRuleLast { last, .. } => rt.block_on(route::set_local_rule_last(h, ns, *last)),
        Op::CreateVeth { pair } => rt.block_on(link::create_veth(h, ns, pair)),
        Op::DeleteLink { name, .. } => rt.block_on(link::delete(h, ns, name)),
        Op::AddAddress { address, .. } => rt.block_on(link::add_address(h, ns, address)),
        Op::DeleteAddress { address, .. } => rt.block_on(link::delete_address(h, ns, address)),
        Op::AddRoute { route, .. } => rt.block_on(route::add_route(h, ns, route)),
        Op::DeleteRoute { route, .. } => rt.block_on(route::delete_route(h, ns, route)),
        Op::AddRule { rule, .. } => rt.block_on(route::add_rule(h, ns, rule)),
        Op::DeleteRule { rule, .. } => rt.block_on(route::delete_rule(h, ns, rule)),
        Op::ReplaceNft { table, .. } => {
            nft::replace(ns, table)?;
            // Read back at once: the digest of what the kernel made of the text is
            // what later observations compare with.
            nftnl::Session::open_here(ns, &table.name)?.record_digest(ns, &table.name)
        }
        Op::DeleteForeignNft { table, .. } => {
            nftnl::Session::open_here(ns, nft::TABLE)?.delete_table(ns, &table.family, &table.name)
        }
        Op::SetLink { name, settings, .. } => {
            rt.block_on(link::set_settings(h, ns, name, settings))
        }
        Op::NftElements {
            table, add, delete, ..
        } => {
            if nftnl::handles(add, delete) {
                nftnl::update_elements(ns, table, add, delete)
            } else {
                nft::update_elements(ns, table, add, delete)
            }
        }
        Op::DeleteNft { name, .. } => nft::delete(ns, name),
        Op::ForgetNatFlows { bindings, .. } => crate::conntrack::forget_nat_flows(ns, bindings),
    }
}
