//! The continuous reconciler of `cove serve`: on a dedicated OS thread (never a
//! tokio worker: the executor enters namespaces), it keeps the kernel in line with
//! the store without any command.
//!
//! Every tick (`poll`, 50 ms by default) a follower asks for the `reconciler` lease and a
//! leader renews it once a quarter of its TTL has passed
//! (`cove-store`, the database's clock): only the holder reconciles, the other
//! `cove serve` processes on the store only serve, and when the holder dies another
//! takes over once its lease lapses. The leader reconciles when the store's
//! generation is not the applied one (a change through the CLI or the API), and
//! every `drift_every` it observes the kernel and repairs whatever differs (a
//! deleted namespace, a flushed or edited ruleset, a removed route or link). The
//! applied generation is recorded fenced by the lease, and the control plane's
//! objects waiting for the kernel are completed (`cove_control::complete`,
//! `expire_peerings`) in one more change. Every `sweep_every` the leader also
//! sweeps the API's idempotency records older than their TTL (24 h by default, as
//! Stripe keeps them) and expires pending peering requests whose time is up, even
//! when nothing else changes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::control_service::{ControlService, Current, Decided};
use crate::error::DeployError;
use crate::kernel::Kernel;
use crate::reconcile::Deployment;
use crate::store::Generation;

/// The lease's name in the store.
pub const LEASE: &str = "reconciler";

/// How the reconciler runs.
#[derive(Debug, Clone)]
pub struct ReconcilerConfig {
    /// Who this process is in the lease (unique per process: host and pid).
    pub holder: String,
    /// How long the lease lasts unless renewed; another process takes over this long
    /// after the leader died.
    pub lease_ttl: Duration,
    /// How often the store's generation is looked at (and the lease renewed).
    pub poll: Duration,
    /// How often the kernel is observed for drift.
    pub drift_every: Duration,
    /// How long an `Idempotency-Key`'s record is kept (by the database's clock);
    /// older ones are swept by the leader.
    pub idempotency_ttl: Duration,
    /// How often the leader sweeps the idempotency records and expires pending
    /// peering requests.
    pub sweep_every: Duration,
    /// How often the leader counts the connections of shared function ENIs.
    pub scale_every: Duration,
    /// Connections one shared function ENI may carry before its combination gets
    /// another ([`crate::shared_scale::SHARED_ENI_CONNECTIONS`], Lambda's 65,000).
    pub shared_eni_connections: u64,
    /// How long a failed NAT gateway of a pair must be healthy again before it
    /// gets its addresses back from its partner ([`crate::failover::FAILBACK_AFTER`]).
    pub failback_after: Duration,
    /// The upstream resolvers the VPCs' DNS resolver forwards to (default: this
    /// host's `/etc/resolv.conf`).
    pub dns_upstreams: Vec<std::net::SocketAddr>,
    /// Whether the DNS resolver answers repeated queries in the kernel
    /// (`cove_resolver::fastpath`; on by default).
    pub dns_fast_path: bool,
    /// Where the object store also listens on this host, outside every VPC
    /// (the operator's side: no endpoint, policies see the caller's address);
    /// none: only behind endpoints.
    pub objects_listen: Option<std::net::SocketAddrV4>,
}

/// How long idempotency records are kept by default: 24 hours (as Stripe, and
/// as `cove_control`'s idempotency decisions count).
pub const IDEMPOTENCY_TTL: Duration =
    Duration::from_secs(cove_control::idempotency::RETENTION_SECS);

impl ReconcilerConfig {
    /// The defaults for this process: 50 ms polls, a drift check every 500 ms, a
    /// 5 s lease, idempotency records kept [`IDEMPOTENCY_TTL`] and swept every
    /// minute, shared ENIs' connections counted every 2 s against Lambda's
    /// 65,000.
    pub fn for_this_process() -> ReconcilerConfig {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "host".to_owned());
        ReconcilerConfig {
            holder: format!("{host}/{}", std::process::id()),
            lease_ttl: Duration::from_secs(5),
            poll: Duration::from_millis(50),
            drift_every: Duration::from_millis(500),
            idempotency_ttl: IDEMPOTENCY_TTL,
            sweep_every: Duration::from_secs(60),
            scale_every: Duration::from_secs(2),
            shared_eni_connections: crate::shared_scale::SHARED_ENI_CONNECTIONS,
            failback_after: crate::failover::FAILBACK_AFTER,
            dns_upstreams: crate::dns::host_upstreams(),
            dns_fast_path: true,
            objects_listen: None,
        }
    }
}

/// What one tick did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tick {
    /// Another process holds the lease.
    Follower {
        /// The leader.
        leader: String,
    },
    /// Leader; the kernel matched (nothing applied).
    InSync,
    /// Leader; the kernel was changed to generation `generation` (`ops` operations:
    /// a change of the desired state, or repaired drift).
    Applied {
        /// The generation the kernel holds now.
        generation: Generation,
        /// Kernel operations carried out.
        ops: usize,
        /// Whether the desired state had not changed (drift was repaired).
        drift: bool,
        /// How long the tick took (observe, plan, apply, record).
        took: Duration,
    },
    /// Leader; nothing is desired (nothing applied and no tenant).
    Empty,
    /// Leader, but another command held the prefix: next tick.
    Busy,
}

/// Whether a tick reported by [`Reconciler::run`] repeats the previous one (in
/// sync, follower or empty again: worth counting, not printing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Different from the previous tick.
    New,
    /// The same quiet state as the previous tick.
    Same,
}

/// The reconciler of one deployment.
pub struct Reconciler<K: Kernel> {
    deployment: Deployment<K>,
    pub(crate) config: ReconcilerConfig,
    lease: Option<cove_store::Lease>,
    /// When this process last took or renewed the lease (its own clock).
    renewed_at: Option<Instant>,
    last_drift_check: Option<Instant>,
    last_sweep: Option<Instant>,
    last_scale: Option<Instant>,
    /// The NAT pairs being watched (see [`crate::nat_watch`]).
    pub(crate) nat: crate::nat_watch::NatWatch,
    /// The control plane's clock (Unix seconds): the system's, or a test's.
    clock: Clock,
    /// The control plane's documents, read and written as the API does.
    control: ControlService,
}

/// A clock of Unix seconds.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system's clock in Unix seconds.
fn system_clock() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl<K: Kernel> Reconciler<K> {
    /// The reconciler of `deployment`.
    pub fn new(deployment: Deployment<K>, config: ReconcilerConfig) -> Self {
        let control = ControlService::new(deployment.store().database().clone());
        Reconciler {
            control,
            deployment,
            config,
            lease: None,
            renewed_at: None,
            last_drift_check: None,
            last_sweep: None,
            last_scale: None,
            nat: crate::nat_watch::NatWatch::default(),
            clock: Arc::new(system_clock),
        }
    }

    /// The same reconciler deciding the control plane's times (a pending peering
    /// request's expiry, when a network became ready) by `clock` instead of the
    /// system's: for tests.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The control plane's clock now (Unix seconds).
    pub(crate) fn unix_now(&self) -> u64 {
        (self.clock)()
    }

    /// The control plane's `Env` now (no random bytes: the reconciler creates no
    /// ids).
    fn env(&self) -> cove_control::Env {
        cove_control::Env {
            now: cove_control::UnixTime((self.clock)()),
            random: [0; 32],
        }
    }

    /// The deployment.
    pub fn deployment(&self) -> &Deployment<K> {
        &self.deployment
    }

    fn take_lease(&mut self) -> Result<Option<String>, DeployError> {
        let store = self.deployment.store();
        let state = store
            .block_on(store.database().acquire_or_renew(
                LEASE,
                &self.config.holder,
                self.config.lease_ttl,
            ))
            .map_err(|source| crate::store::StoreError::Database {
                step: "taking the reconciler's lease",
                db: store.database().url().to_owned(),
                source: Box::new(source),
            })?;
        match state {
            cove_store::LeaseState::Held(lease) => {
                self.lease = Some(lease);
                self.renewed_at = Some(Instant::now());
                Ok(None)
            }
            cove_store::LeaseState::NotLeader { holder, .. } => {
                if self.lease.take().is_some() {
                    // Lost it: look at the kernel afresh when it comes back.
                    self.last_drift_check = None;
                }
                Ok(Some(holder))
            }
        }
    }

    /// The lease renewed (a kernel change may take longer than its TTL); refused
    /// as [`cove_store::StoreError::LeaseLost`] by the store if another process
    /// took it meanwhile.
    fn renewed_lease(&self) -> Result<Option<cove_store::Lease>, DeployError> {
        let store = self.deployment.store();
        let state = store
            .block_on(store.database().acquire_or_renew(
                LEASE,
                &self.config.holder,
                self.config.lease_ttl,
            ))
            .map_err(|source| crate::store::StoreError::Database {
                step: "renewing the reconciler's lease",
                db: store.database().url().to_owned(),
                source: Box::new(source),
            })?;
        Ok(match state {
            cove_store::LeaseState::Held(lease) => Some(lease),
            // Fenced by the old lease: the store refuses it, naming the lease.
            cove_store::LeaseState::NotLeader { .. } => self.lease.clone(),
        })
    }

    /// One tick: the lease, then (as leader) a reconcile if the store moved or a
    /// drift check is due and finds a difference.
    pub fn tick(&mut self) -> Result<Tick, DeployError> {
        let started = Instant::now();
        // A leader renews once a quarter of the lease has passed, not on every tick:
        // ticks are frequent (a change should reach the kernel soon) and a renewal
        // is a write. A follower asks every tick (taking over is a read until the
        // lease lapses).
        let fresh = self.lease.is_some()
            && self
                .renewed_at
                .is_some_and(|t| t.elapsed() < self.config.lease_ttl / 4);
        if !fresh {
            if let Some(leader) = self.take_lease()? {
                return Ok(Tick::Follower { leader });
            }
        }
        self.housekeeping_if_due()?;
        let mut generations = self.deployment.generations()?;
        // Either may record a change of the desired state (then read it again).
        if self.watch_nat_pairs(generations.desired)?
            || self.scale_shared_enis_if_due(generations.desired)?
        {
            generations = self.deployment.generations()?;
        }
        let changed = generations.desired != generations.applied;
        let drift_due = self
            .last_drift_check
            .is_none_or(|t| t.elapsed() >= self.config.drift_every);
        if !changed && !drift_due {
            return Ok(Tick::InSync);
        }
        self.last_drift_check = Some(Instant::now());
        // Without the prefix lock first: a drift check that finds nothing to do
        // takes no lock and changes nothing.
        let plan = match self.deployment.plan() {
            Ok(p) => p,
            Err(DeployError::NothingApplied { .. }) => return Ok(Tick::Empty),
            Err(e) => return Err(e),
        };
        if plan.changes.is_empty() && !changed && self.no_leftovers()? {
            self.nat.settled = true;
            return Ok(Tick::InSync);
        }
        self.nat.settled = false;
        // Drift in a paired NAT gateway: its partner takes over first (then the
        // plan below, under the lock, repairs it and moves its addresses at once).
        if !changed {
            self.nat_drift(&plan.changes)?;
        }
        let lock = match self.deployment.lock("serve (reconciler)") {
            Ok(l) => l,
            Err(e) if e.is_busy() => return Ok(Tick::Busy),
            Err(e) => return Err(e),
        };
        // Under the lock, against what is there now.
        let plan = self.deployment.plan()?;
        let crate::reconcile::Stamp::Generation(planned) = plan.stamp else {
            return Ok(Tick::InSync);
        };
        let applied = self
            .deployment
            .apply_fenced(&lock, &plan, &mut || self.renewed_lease())?;
        drop(lock);
        self.complete_control(planned)?;
        Ok(Tick::Applied {
            generation: planned,
            ops: applied.changes,
            drift: !changed,
            took: started.elapsed(),
        })
    }

    /// Whether nothing an interrupted namespace create or delete left is there (a
    /// plan does not see it; the apply under the prefix lock removes it).
    fn no_leftovers(&self) -> Result<bool, DeployError> {
        let leftovers =
            self.deployment
                .kernel()
                .leftovers()
                .map_err(|source| DeployError::Observe {
                    prefix: self.deployment.target().prefix().as_str().to_owned(),
                    source,
                })?;
        Ok(leftovers.is_empty())
    }

    /// As leader, once `sweep_every` has passed since the last time (tried or not:
    /// a failing database is not asked again every tick): deletes the idempotency
    /// records older than [`ReconcilerConfig::idempotency_ttl`], and expires the
    /// pending peering requests whose time is up (and removes ended ones AWS no
    /// longer shows) — also while nothing else changes, when no reconcile would
    /// record it. Returns how many idempotency records were deleted (`None` when
    /// nothing was due).
    fn housekeeping_if_due(&mut self) -> Result<Option<u64>, DeployError> {
        if self
            .last_sweep
            .is_some_and(|t| t.elapsed() < self.config.sweep_every)
        {
            return Ok(None);
        }
        self.last_sweep = Some(Instant::now());
        let store = self.deployment.store();
        let swept = store
            .block_on(
                store
                    .database()
                    .sweep_idempotency(self.config.idempotency_ttl),
            )
            .map_err(|source| crate::store::StoreError::Database {
                step: "sweeping expired idempotency records",
                db: store.database().url().to_owned(),
                source: Box::new(source),
            })?;
        self.expire_control()?;
        Ok(Some(swept))
    }

    /// As leader, once `scale_every` has passed: counts the connections of the
    /// shared function ENIs and records another ENI for a combination whose ENIs
    /// carry more than `shared_eni_connections` each on average (and drops the records of
    /// combinations no function uses): a change of the desired state, which this
    /// or the next tick applies. Decided by [`crate::shared_scale::extras_wanted`]
    /// on the desired state validated once per generation; written only while the
    /// store is still at it. Returns whether a change was recorded.
    fn scale_shared_enis_if_due(&mut self, generation: Generation) -> Result<bool, DeployError> {
        if self
            .last_scale
            .is_some_and(|t| t.elapsed() < self.config.scale_every)
        {
            return Ok(false);
        }
        self.last_scale = Some(Instant::now());
        let Some(read_at) = self.read_desired(generation)? else {
            return Ok(false);
        };
        let Some(net) = self.nat.network.clone() else {
            return Ok(false);
        };
        let current = &self.nat.extras;
        if current.is_empty()
            && !net
                .enis
                .iter()
                .any(|e| e.owner == cove_model::EniOwner::Shared)
        {
            return Ok(false);
        }
        let connections = self
            .deployment
            .kernel()
            .shared_eni_connections()
            .map_err(|source| DeployError::Observe {
                prefix: self.deployment.target().prefix().as_str().to_owned(),
                source,
            })?;
        let Some(want) = crate::shared_scale::extras_wanted(
            &net,
            current,
            &connections,
            self.config.shared_eni_connections,
        ) else {
            return Ok(false);
        };
        let wrote = self
            .deployment
            .store()
            .set_shared_eni_extras(read_at, &want)?
            .is_some();
        Ok(wrote)
    }

    /// Commits what `decide` makes of the control state as one change through the
    /// [`ControlService`] the API uses (read, decide, commit with the expected
    /// generation; another writer in between: read and decide again). All or
    /// nothing: an error writes nothing of the change (the tick reports it and the
    /// loop goes on).
    fn control_change(
        &self,
        step: &'static str,
        decide: impl Fn(&Current) -> Vec<cove_control::Change> + Send + Sync,
    ) -> Result<(), DeployError> {
        let meta = cove_store::ChangeMeta {
            summary: format!("reconciler: {step}"),
            ..cove_store::ChangeMeta::default()
        };
        let run = self.control.run(&meta, |cur, _env| {
            Ok(Decided::from(cove_control::Outcome {
                value: (),
                changes: decide(cur),
            }))
        });
        self.deployment
            .store()
            .block_on(run)
            .map(|((), _)| ())
            .map_err(|source| DeployError::Control {
                step,
                source: Box::new(source),
            })
    }

    /// Expires pending peering requests whose time is up (one change, if any).
    fn expire_control(&self) -> Result<(), DeployError> {
        let env = self.env();
        self.control_change("pending peering requests expired", |cur| {
            cove_control::expire_peerings(&cur.state, &env).changes
        })
    }

    /// Records what the control plane waited for (networks `ready`, peerings
    /// `active`, networks being deleted gone) and expires pending peerings: one
    /// change, made only if there is something to record — and only while the store
    /// is still at `applied`, the generation the kernel now has: a network created
    /// after that plan is not in the kernel yet, so it must not be called `ready`
    /// (the next tick plans for it, applies it and records it then).
    fn complete_control(&self, applied: crate::store::Generation) -> Result<(), DeployError> {
        let env = self.env();
        let applied = applied.to_store();
        self.control_change("the kernel caught up", |cur| {
            if cur.generation != applied {
                return Vec::new();
            }
            let waiting = cove_control::Applied::of(&cur.state);
            let mut changes = cove_control::complete(&cur.state, &env, &waiting).changes;
            changes.extend(cove_control::expire_peerings(&cur.state, &env).changes);
            changes
        })
    }

    /// Runs ticks every `poll` until `stop` is set; `report` hears every tick, and
    /// whether it repeats the previous quiet one (the loop goes on after an error).
    pub fn run(
        &mut self,
        stop: &Arc<AtomicBool>,
        mut report: impl FnMut(&Result<Tick, DeployError>, Repeat),
    ) {
        let mut last: Option<Tick> = None;
        while !stop.load(Ordering::Relaxed) {
            let started = Instant::now();
            let tick = self.tick();
            let quiet = matches!(&tick, Ok(t) if Some(t) == last.as_ref()
                && matches!(t, Tick::InSync | Tick::Follower { .. } | Tick::Empty));
            report(&tick, if quiet { Repeat::Same } else { Repeat::New });
            last = tick.ok();
            if let Some(rest) = self.config.poll.checked_sub(started.elapsed()) {
                std::thread::sleep(rest);
            }
        }
        self.release();
    }

    /// Gives up the lease now (if held), so another process need not wait for it
    /// to lapse.
    pub fn release(&mut self) {
        if let Some(lease) = self.lease.take() {
            let store = self.deployment.store();
            let _ = store.block_on(store.database().release(&lease));
        }
    }
}

#[cfg(test)]
#[path = "reconciler_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "reconciler_platform_tests.rs"]
mod platform_tests;
