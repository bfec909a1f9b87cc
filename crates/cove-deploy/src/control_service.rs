//! The control plane over the store (async, for the API and the CLI's embedded
//! mode, which runs the API's router in-process): [`ControlService::run`] reads,
//! decides (pure), and commits with the expected generation (retried on a
//! conflict), audited.
//!
//! How cove-control's objects, the tenants' specs and uploads are stored as
//! documents is [`crate::store::control_docs`]'s (the reconciler reads and writes
//! through it too). Time and random bytes for [`Env`] come from here (the OS), never
//! from the core.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cove_control::{Change, ControlError, ControlState, Env, Outcome, TenantId, UnixTime};
use cove_model::spec::TenantSpec;
use cove_store::{ChangeMeta, DocOp, Generation, Snapshot, Store, StoreError};

use crate::store::control_docs::{self, ControlDocsError, Uploads, change_ops, spec_ops};
/// How many times [`ControlService::run`] decides again after a conflicting writer.
pub const ATTEMPTS: u32 = 16;

/// Every failed step of reading, deciding and writing.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The command refused (the caller's error: code, field, hint, status).
    #[error(transparent)]
    Refused(#[from] ControlError),
    /// Reading the store failed.
    #[error("cannot read the control state from the store")]
    Read {
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// The control plane's documents could not be read or written (a stored
    /// document that does not decode, a value that does not encode, a delete of an
    /// object that is not in the state decided on).
    #[error(transparent)]
    Docs(#[from] ControlDocsError),
    /// Committing the change failed.
    #[error("cannot commit `{summary}` to the store")]
    Commit {
        /// The change's summary.
        summary: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// Other writers changed the store every time this change was decided.
    #[error("`{summary}` conflicted with other writers {attempts} times")]
    Contended {
        /// The change's summary.
        summary: String,
        /// How many times it was decided.
        attempts: u32,
        /// The last conflict.
        #[source]
        source: StoreError,
    },
    /// The operating system's random generator failed.
    #[error("cannot draw random bytes from the operating system")]
    Random {
        /// Its error.
        #[source]
        source: getrandom::Error,
    },
    /// The system clock reads before 1970.
    #[error("the system clock reads before the Unix epoch")]
    Clock {
        /// Its error.
        #[source]
        source: std::time::SystemTimeError,
    },
}

/// The control state and the tenants' specs as of one generation.
#[derive(Debug, Clone, Default)]
pub struct Current {
    /// The generation they were read at.
    pub generation: Generation,
    /// The control plane's objects.
    pub state: ControlState,
    /// Each tenant's spec (`PUT /v1/spec`).
    pub specs: BTreeMap<TenantId, TenantSpec>,
    /// Each tenant's uploaded code packages, by snapshot digest (64 hex digits).
    pub uploads: Uploads,
    /// The NAT gateways whose partner carries their addresses (the reconciler's
    /// record, [`crate::failover`]).
    pub nat_takeovers: Vec<crate::failover::TakeoverRecord>,
    /// The validated desired network of this generation, computed once on first
    /// use ([`Current::desired_network`]): every API read that needs it (EC2's and
    /// Lambda's describes, topology, reachability) shares one validation.
    pub desired: std::sync::OnceLock<Option<Arc<cove_model::model::Network>>>,
    /// Function URL ids → (tenant, function), built on first use
    /// ([`Current::function_url`]): a URL request looks its function up once, not
    /// by hashing every tenant's function names.
    pub url_ids: std::sync::OnceLock<HashMap<String, (TenantId, String)>>,
}

impl Current {
    /// The function whose URL has id `url_id` (a function of a spec with a URL):
    /// its tenant and name.
    pub fn function_url(&self, url_id: &str) -> Option<(&TenantId, &str)> {
        let index = self.url_ids.get_or_init(|| {
            let mut index = HashMap::new();
            for (tenant, spec) in &self.specs {
                let Some(t) = self.state.tenants.get(tenant) else {
                    continue;
                };
                for f in spec.vpcs.iter().flat_map(|v| &v.functions) {
                    if f.url.is_some() {
                        let id = cove_model::ids::function_url_id(&t.name, &f.name);
                        index.insert(id, (tenant.clone(), f.name.clone()));
                    }
                }
            }
            index
        });
        index.get(url_id).map(|(t, n)| (t, n.as_str()))
    }

    /// Whether `tenant` uploaded the code `sha256` (64 hex digits).
    pub fn has_upload(&self, tenant: &TenantId, sha256: &str) -> bool {
        self.uploads
            .get(tenant)
            .is_some_and(|u| u.contains_key(sha256))
    }
}

impl Current {
    /// The platform's desired network at this generation (every tenant's networks
    /// and specs merged, validated), or `None` when it does not validate. Computed
    /// on first use and kept with this generation's state.
    pub fn desired_network(&self) -> Option<Arc<cove_model::model::Network>> {
        self.desired
            .get_or_init(|| {
                let desired = cove_control::desired_spec(&self.state, &self.specs);
                cove_model::validate::validate(&desired)
                    .network
                    .map(Arc::new)
            })
            .clone()
    }

    /// The tenant's spec (empty, named like the tenant, if it has none).
    pub fn spec_of(&self, tenant: &TenantId) -> TenantSpec {
        self.specs
            .get(tenant)
            .cloned()
            .unwrap_or_else(|| TenantSpec {
                name: self
                    .state
                    .tenants
                    .get(tenant)
                    .map(|t| t.name.clone())
                    .unwrap_or_default(),
                ..TenantSpec::default()
            })
    }
}

/// What a decision writes: a command's answer and changes, plus tenant specs to
/// store (`None`: remove).
#[derive(Debug, Clone)]
pub struct Decided<T> {
    /// The answer.
    pub value: T,
    /// Control-plane documents to write.
    pub changes: Vec<Change>,
    /// Tenant specs to write.
    pub specs: Vec<(TenantId, Option<TenantSpec>)>,
    /// Other documents to write (uploads).
    pub docs: Vec<DocOp>,
}

impl<T> From<Outcome<T>> for Decided<T> {
    fn from(o: Outcome<T>) -> Self {
        Decided {
            value: o.value,
            changes: o.changes,
            specs: Vec::new(),
            docs: Vec::new(),
        }
    }
}

/// The control state and the tenants' specs in a snapshot (other kinds skipped).
pub fn control_from_snapshot(
    snap: &Snapshot,
) -> Result<(ControlState, BTreeMap<TenantId, TenantSpec>), ServiceError> {
    Ok(control_docs::control_from_snapshot(snap)?)
}

/// Every tenant's uploads in a snapshot.
pub fn uploads_from_snapshot(snap: &Snapshot) -> Result<Uploads, ServiceError> {
    Ok(control_docs::uploads_from_snapshot(snap)?)
}

/// The time and 32 random bytes of one command, from the OS.
pub fn os_env() -> Result<Env, ServiceError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|source| ServiceError::Clock { source })?;
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|source| ServiceError::Random { source })?;
    Ok(Env {
        now: UnixTime(now.as_secs()),
        random,
    })
}

/// The control plane over a store: reads (cached per generation) and commands.
#[derive(Debug, Clone)]
pub struct ControlService {
    /// The store.
    pub store: Store,
    cache: Arc<Mutex<Arc<Current>>>,
    /// How old a read may be (0: every read asks the store for its generation).
    max_staleness: Duration,
    /// When the cached generation was last confirmed by the store.
    confirmed: Arc<Mutex<Option<Instant>>>,
    /// This process's writers take turns (read, decide, commit), so that they never
    /// conflict with each other; a conflict then only comes from another process on
    /// the same store, and is retried after a short pause.
    writer: Arc<tokio::sync::Mutex<()>>,
}

impl ControlService {
    /// A service over `store` whose every read sees the latest committed generation.
    pub fn new(store: Store) -> ControlService {
        ControlService {
            store,
            cache: Arc::new(Mutex::new(Arc::new(Current {
                generation: Generation(-1),
                ..Current::default()
            }))),
            max_staleness: Duration::ZERO,
            confirmed: Arc::new(Mutex::new(None)),
            writer: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Lets reads (not commands, which always decide on the latest generation) use a
    /// state confirmed at most `max` ago, saving the generation query. Another
    /// process's change (a revoked token too) is then seen up to `max` late; this
    /// process's own changes are seen at once.
    pub fn with_max_staleness(mut self, max: Duration) -> ControlService {
        self.max_staleness = max;
        self
    }

    /// The state last read, without asking the store (it may be older than the
    /// latest generation; never older than this process's last read). Only for
    /// checks that are repeated against the latest state — the Lambda API's
    /// signature check before its in-process call, which authenticates again.
    pub fn last_read(&self) -> Arc<Current> {
        self.cached()
    }

    fn cached(&self) -> Arc<Current> {
        match self.cache.lock() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    fn set_confirmed(&self, at: Option<Instant>) {
        if let Ok(mut c) = self.confirmed.lock() {
            *c = at;
        }
    }

    /// The current state: one cheap generation query (none within the staleness
    /// allowed), and a full read only when the store changed since the last read.
    pub async fn current(&self) -> Result<Arc<Current>, ServiceError> {
        if !self.max_staleness.is_zero() {
            let fresh_enough = self
                .confirmed
                .lock()
                .ok()
                .and_then(|c| *c)
                .is_some_and(|at| at.elapsed() < self.max_staleness);
            if fresh_enough {
                return Ok(self.cached());
            }
        }
        self.latest().await
    }

    /// The state at the store's latest generation.
    pub async fn latest(&self) -> Result<Arc<Current>, ServiceError> {
        let asked = Instant::now();
        let (generation, _) = self
            .store
            .generations()
            .await
            .map_err(|source| ServiceError::Read { source })?;
        let cached = self.cached();
        if cached.generation == generation {
            self.set_confirmed(Some(asked));
            return Ok(cached);
        }
        let fresh = self.reload().await?;
        self.set_confirmed(Some(asked));
        Ok(fresh)
    }

    async fn reload(&self) -> Result<Arc<Current>, ServiceError> {
        let snap = self
            .store
            .snapshot()
            .await
            .map_err(|source| ServiceError::Read { source })?;
        let (state, specs) = control_from_snapshot(&snap)?;
        let uploads = uploads_from_snapshot(&snap)?;
        // A record that does not decode shows as no takeover (the reconciler,
        // which reads it strictly, reports it).
        let nat_takeovers = crate::store::docs::nat_takeovers_of(&snap).unwrap_or_default();
        let fresh = Arc::new(Current {
            generation: snap.generation,
            state,
            specs,
            uploads,
            nat_takeovers,
            desired: std::sync::OnceLock::new(),
            url_ids: std::sync::OnceLock::new(),
        });
        if let Ok(mut g) = self.cache.lock() {
            if g.generation < fresh.generation {
                *g = Arc::clone(&fresh);
            }
        }
        Ok(fresh)
    }

    /// Reads the state, decides with `f` (pure), and commits its changes as one
    /// change expecting the generation read, with `meta` in the audit log. A conflict
    /// (another writer in between) reads and decides again, up to [`ATTEMPTS`] times.
    /// A decision with no changes commits nothing and answers the generation read.
    pub async fn run<T, D>(
        &self,
        meta: &ChangeMeta,
        f: impl Fn(&Current, &Env) -> Result<D, ControlError>,
    ) -> Result<(T, Generation), ServiceError>
    where
        D: Into<Decided<T>>,
    {
        let _turn = self.writer.lock().await;
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                // Another process wrote meanwhile: let it finish its burst.
                tokio::time::sleep(Duration::from_millis(u64::from(attempt) * 2)).await;
            }
            let cur = self.latest().await?;
            let env = os_env()?;
            let d: Decided<T> = f(&cur, &env)?.into();
            if d.changes.is_empty() && d.specs.is_empty() && d.docs.is_empty() {
                return Ok((d.value, cur.generation));
            }
            let mut ops = change_ops(&cur.state, &d.changes)?;
            ops.extend(spec_ops(&d.specs)?);
            ops.extend(d.docs);
            match self.store.change(meta, Some(cur.generation), &ops).await {
                Ok(g) => {
                    // The next read sees this change.
                    self.set_confirmed(None);
                    return Ok((d.value, g));
                }
                Err(e) if e.is_conflict() => last = Some(e),
                Err(source) => {
                    return Err(ServiceError::Commit {
                        summary: meta.summary.clone(),
                        source,
                    });
                }
            }
        }
        Err(ServiceError::Contended {
            summary: meta.summary.clone(),
            attempts: ATTEMPTS,
            source: last.unwrap_or(StoreError::Conflict {
                expected: Generation::ZERO,
                current: Generation::ZERO,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use cove_store::{DocId, Document};

    use super::*;

    #[test]
    fn a_corrupt_control_document_is_the_services_error_naming_it() {
        let snap = Snapshot {
            generation: Generation(1),
            applied: Generation::ZERO,
            documents: vec![Document {
                id: DocId::new("network", Some("ten-a"), "net-1"),
                body: serde_json::value::to_raw_value(&serde_json::json!({"id": 3})).expect("json"),
                generation: Generation(1),
            }],
        };
        let e = control_from_snapshot(&snap).expect_err("corrupt");
        assert!(
            matches!(&e, ServiceError::Docs(ControlDocsError::Decode { id, kind: "network", .. }) if id.contains("net-1")),
            "{e:?}"
        );
        assert!(e.to_string().contains("net-1"), "{e}");
    }
}
