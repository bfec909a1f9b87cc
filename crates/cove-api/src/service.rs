//! The one place that maps cove-control's documents to cove-store's: reading the
//! control state (and the tenants' specs) from a [`Snapshot`], writing a command's
//! [`Change`]s as [`DocOp`]s, and [`ControlService::run`]: read, decide (pure), commit
//! with the expected generation (retried on a conflict), audited.
//!
//! Depends on cove-store and cove-control only (it moves into cove-deploy later).
//! Time and random bytes for [`Env`] come from here (the OS), never from the core.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cove_control::{
    Change, ControlError, ControlState, Env, Kind, Object, Outcome, TenantId, UnixTime,
};
use cove_model::spec::TenantSpec;
use cove_store::{ChangeMeta, DocId, DocOp, Generation, Snapshot, Store, StoreError};

/// The store kind of a tenant's spec document (key [`SPEC_KEY`], tenant = the tenant).
pub const SPEC_KIND: &str = "spec";
/// The key of a tenant's spec document.
pub const SPEC_KEY: &str = "spec";
/// The store kind of a tenant's uploaded code package (key: the snapshot's SHA-256,
/// tenant = the uploader). A tenant may use only the code it uploaded itself.
pub const UPLOAD_KIND: &str = "upload";
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
    /// A stored document did not decode as its kind.
    #[error("stored document {id} does not decode as a {kind}")]
    Decode {
        /// Which document.
        id: String,
        /// The kind expected.
        kind: &'static str,
        /// The decoder's error.
        #[source]
        source: serde_json::Error,
    },
    /// A document could not be encoded as JSON.
    #[error("cannot encode {what} as JSON")]
    Encode {
        /// Which document.
        what: String,
        /// The encoder's error.
        #[source]
        source: serde_json::Error,
    },
    /// A deleted object was not in the state it was decided on (so its owner is
    /// unknown).
    #[error("cannot delete {kind} {key:?}: it is not in the state the change was decided on")]
    DeleteUnknown {
        /// Its kind.
        kind: &'static str,
        /// Its key.
        key: String,
    },
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
    pub uploads: BTreeMap<TenantId, BTreeMap<String, Upload>>,
}

/// A code package a tenant uploaded (`POST /v1/functions/code`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Upload {
    /// SHA-256 of the unpacked code (every file's path, kind, mode and contents), 64
    /// hex digits: the name of its snapshot in the code store.
    pub sha256: String,
    /// Bytes of the unpacked files.
    pub size: u64,
    /// Bytes of the zip as uploaded.
    pub zip_size: u64,
    /// When it was first uploaded.
    pub uploaded_at: UnixTime,
}

impl Current {
    /// Whether `tenant` uploaded the code `sha256` (64 hex digits).
    pub fn has_upload(&self, tenant: &TenantId, sha256: &str) -> bool {
        self.uploads
            .get(tenant)
            .is_some_and(|u| u.contains_key(sha256))
    }
}

/// Every tenant's uploads in a snapshot.
pub fn uploads_from_snapshot(
    snap: &Snapshot,
) -> Result<BTreeMap<TenantId, BTreeMap<String, Upload>>, ServiceError> {
    let mut out: BTreeMap<TenantId, BTreeMap<String, Upload>> = BTreeMap::new();
    for d in snap.documents.iter().filter(|d| d.id.kind == UPLOAD_KIND) {
        let Some(t) = &d.id.tenant else { continue };
        let u: Upload = d.decode().map_err(|source| ServiceError::Decode {
            id: d.id.to_string(),
            kind: UPLOAD_KIND,
            source,
        })?;
        out.entry(TenantId(t.clone()))
            .or_default()
            .insert(u.sha256.clone(), u);
    }
    Ok(out)
}

/// The store operation recording `tenant`'s upload.
pub fn upload_op(tenant: &TenantId, upload: &Upload) -> Result<DocOp, ServiceError> {
    DocOp::put(
        DocId::new(UPLOAD_KIND, Some(tenant.as_str()), upload.sha256.clone()),
        upload,
    )
    .map_err(|source| ServiceError::Encode {
        what: format!("upload {}", upload.sha256),
        source,
    })
}

impl Current {
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

/// The control state and the tenants' specs in a snapshot. Documents of other kinds
/// (functions, the deployment's records) are skipped.
pub fn control_from_snapshot(
    snap: &Snapshot,
) -> Result<(ControlState, BTreeMap<TenantId, TenantSpec>), ServiceError> {
    let mut objects = Vec::new();
    let mut specs = BTreeMap::new();
    for d in &snap.documents {
        let decode_err = |kind: &'static str| {
            move |source| ServiceError::Decode {
                id: d.id.to_string(),
                kind,
                source,
            }
        };
        if d.id.kind == SPEC_KIND {
            if let Some(t) = &d.id.tenant {
                let spec: TenantSpec = d.decode().map_err(decode_err(SPEC_KIND))?;
                specs.insert(TenantId(t.clone()), spec);
            }
            continue;
        }
        let Some(kind) = Kind::from_name(&d.id.kind) else {
            continue;
        };
        objects.push(Object::from_body(kind, d.body.get()).map_err(decode_err(kind.as_str()))?);
    }
    Ok((ControlState::from_objects(objects), specs))
}

/// A command's changes as store operations. `before` is the state the command
/// decided on: a deleted object's owner (the document's tenant) is read from it.
pub fn change_ops(before: &ControlState, changes: &[Change]) -> Result<Vec<DocOp>, ServiceError> {
    let mut ops = Vec::with_capacity(changes.len());
    for c in changes {
        match c {
            Change::Put(o) => {
                let k = o.key();
                let body = o.to_body().map_err(|source| ServiceError::Encode {
                    what: format!("{} {}", k.kind.as_str(), k.key),
                    source,
                })?;
                let tenant = o.tenant().map(TenantId::as_str);
                ops.push(DocOp::Put {
                    id: DocId::new(k.kind.as_str(), tenant, k.key),
                    body,
                });
            }
            Change::Delete(k) => {
                let owner = before
                    .objects()
                    .into_iter()
                    .find(|o| &o.key() == k)
                    .ok_or_else(|| ServiceError::DeleteUnknown {
                        kind: k.kind.as_str(),
                        key: k.key.clone(),
                    })?;
                let tenant = owner.tenant().map(TenantId::as_str);
                ops.push(DocOp::Delete {
                    id: DocId::new(k.kind.as_str(), tenant, k.key.clone()),
                });
            }
        }
    }
    Ok(ops)
}

/// Store operations writing (or removing) tenants' specs.
pub fn spec_ops(specs: &[(TenantId, Option<TenantSpec>)]) -> Result<Vec<DocOp>, ServiceError> {
    specs
        .iter()
        .map(|(t, s)| {
            let id = DocId::new(SPEC_KIND, Some(t.as_str()), SPEC_KEY);
            match s {
                Some(s) => DocOp::put(id, s).map_err(|source| ServiceError::Encode {
                    what: format!("the spec of tenant {t}"),
                    source,
                }),
                None => Ok(DocOp::Delete { id }),
            }
        })
        .collect()
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
        let fresh = Arc::new(Current {
            generation: snap.generation,
            state,
            specs,
            uploads,
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
    use cove_control::{Actor, CreateTenant, TokenId};
    use cove_store::Document;

    use super::*;

    fn env(n: u8) -> Env {
        Env {
            now: UnixTime(1_000 + u64::from(n)),
            random: [n; 32],
        }
    }

    fn documents(ops: &[DocOp]) -> Vec<Document> {
        ops.iter()
            .filter_map(|op| match op {
                DocOp::Put { id, body } | DocOp::Create { id, body } => Some(Document {
                    id: id.clone(),
                    body: body.clone(),
                    generation: Generation(1),
                }),
                DocOp::Delete { .. } => None,
            })
            .collect()
    }

    #[test]
    fn changes_round_trip_through_documents_and_other_kinds_are_skipped() {
        let admin = Actor::Admin {
            token: TokenId("tok-admin".into()),
        };
        let mut state = ControlState::default();
        let boot = cove_control::bootstrap_admin(&state, &env(1)).expect("boot");
        state.apply(&boot.changes);
        let t = cove_control::create_tenant(
            &state,
            &admin,
            &env(2),
            CreateTenant {
                name: Some("acme".into()),
                quotas: None,
            },
        )
        .expect("tenant");
        state.apply(&t.changes);
        let mut all = boot.changes.clone();
        all.extend(t.changes.clone());
        let mut ops = change_ops(&ControlState::default(), &all).expect("ops");
        let spec = TenantSpec {
            name: "acme".into(),
            ..TenantSpec::default()
        };
        ops.extend(spec_ops(&[(t.value.id.clone(), Some(spec.clone()))]).expect("spec"));
        let tenant_doc = ops
            .iter()
            .find(|o| o.id().kind == "tenant")
            .expect("tenant doc");
        assert_eq!(tenant_doc.id().tenant.as_deref(), Some(t.value.id.as_str()));
        let mut docs = documents(&ops);
        docs.push(Document {
            id: DocId::new("function", Some("ten-x"), "f"),
            body: serde_json::value::to_raw_value(&serde_json::json!({"x": 1})).expect("json"),
            generation: Generation(1),
        });
        let snap = Snapshot {
            generation: Generation(1),
            applied: Generation::ZERO,
            documents: docs,
        };
        let (back, specs) = control_from_snapshot(&snap).expect("decode");
        assert_eq!(back, state);
        assert_eq!(specs.get(&t.value.id), Some(&spec));
    }

    #[test]
    fn a_corrupt_document_is_named_and_a_delete_needs_its_owner() {
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
            matches!(&e, ServiceError::Decode { id, kind: "network", .. } if id.contains("net-1")),
            "{e:?}"
        );
        let del = Change::Delete(cove_control::ObjectKey {
            kind: Kind::Network,
            key: "net-1".into(),
        });
        let e = change_ops(&ControlState::default(), &[del]).expect_err("unknown");
        assert!(matches!(e, ServiceError::DeleteUnknown { .. }), "{e:?}");
    }
}
