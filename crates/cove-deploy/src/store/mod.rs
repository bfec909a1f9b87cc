//! The state of one deployment (prefix), and the only module that reads or writes
//! it. The state is documents in `cove-store` (SQLite `<state dir>/<prefix>/cove.db`,
//! 0600, WAL, by default; PostgreSQL with `--database postgres://…`):
//!
//! * the **desired** state ([`Desired`]): the operator's spec (the text `cove apply`
//!   was given), the functions deployed with `cove fn deploy` and the code registry,
//!   function → snapshot (documents laid out in [`docs`]); the code itself stays
//!   content-addressed directories in `<state dir>/<prefix>/code`;
//! * the **generations** ([`Generations`]): `desired` is the store's generation
//!   (every change, the operator's or the API's, is one transaction and one
//!   generation); `applied` is the store's applied generation
//!   (`cove_store::Store::record_applied`, fenced by the reconciler's lease in
//!   `cove serve`).
//!
//! The state files of an older cove (`applied.yaml`, `deployed.yaml`,
//! `functions.json`, `generation.yaml`) are imported once into an empty store
//! ([`legacy`]) and renamed `*.imported`; a damaged one is an error naming it, as
//! before.

pub mod control_docs;
pub mod docs;
mod files;
pub mod legacy;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cove_functions::config::CodeRef;
use cove_model::spec::DeployedFunction;
use serde::{Deserialize, Serialize};

pub use files::{Kind, MAX_FILE_BYTES, ReadError, StateError, WriteError, read_text};

use crate::lock::Locked;

/// The database file of a prefix in its state directory.
pub const DATABASE_FILE: &str = "cove.db";

/// A number that grows with every change of a deployment's desired state (the
/// store's generation).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Generation(pub u64);

impl Generation {
    /// The generation after this one.
    #[must_use]
    pub fn next(self) -> Generation {
        Generation(self.0.saturating_add(1))
    }

    /// The store's generation.
    pub fn of(g: cove_store::Generation) -> Generation {
        Generation(u64::try_from(g.0).unwrap_or(0))
    }

    /// As the store's generation.
    pub fn to_store(self) -> cove_store::Generation {
        cove_store::Generation(i64::try_from(self.0).unwrap_or(i64::MAX))
    }
}

impl std::fmt::Display for Generation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The desired generation and the last one a reconcile realized in the kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generations {
    /// Bumped by every change of the desired state.
    pub desired: Generation,
    /// The generation the last successful reconcile was planned for.
    pub applied: Generation,
}

/// What the deployment should be: the spec, the deployed functions and their code.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Desired {
    /// The spec's text (`None`: nothing applied yet).
    pub spec: Option<String>,
    /// The functions deployed with `cove fn deploy`, added to the spec's VPCs.
    pub deployed: Vec<DeployedFunction>,
    /// Every function's code snapshot, keyed by `tenant/vpc/function`.
    pub code: BTreeMap<String, CodeRef>,
}

/// Why the state could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A legacy state file could not be read (before importing it).
    #[error("reading the state of {dir}")]
    Read {
        /// The prefix's state directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: StateError,
    },
    /// The async runtime that drives the database could not start.
    #[error("starting the database's runtime")]
    Runtime(#[source] std::io::Error),
    /// The database could not be opened (or migrated).
    #[error("opening the store {db}")]
    Open {
        /// The database (password redacted).
        db: String,
        /// Why.
        #[source]
        source: Box<cove_store::StoreError>,
    },
    /// A database operation failed.
    #[error("{step} in the store {db}")]
    Database {
        /// What was being done.
        step: &'static str,
        /// The database (password redacted).
        db: String,
        /// Why.
        #[source]
        source: Box<cove_store::StoreError>,
    },
    /// A stored document does not decode.
    #[error("reading the desired state from the store {db}")]
    Decode {
        /// The database (password redacted).
        db: String,
        /// Why.
        #[source]
        source: docs::DocError,
    },
    /// A control-plane document (the API's: tenants, tokens, networks, peerings, the
    /// pool, tenants' specs, uploads) does not decode.
    #[error("reading the control plane's documents from the store {db}")]
    ControlDecode {
        /// The database (password redacted).
        db: String,
        /// Which document, and why.
        #[source]
        source: control_docs::ControlDocsError,
    },
    /// A value could not be encoded as a document.
    #[error("encoding the desired state for the store {db}")]
    Encode {
        /// The database (password redacted).
        db: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A legacy state file was found beside a store that already holds state.
    #[error(
        "the state file {path} of an older cove is beside the store {db}, which already holds this deployment's state; the store is used now: move the file aside (`mv {p} {p}.old`)",
        p = path.display()
    )]
    LegacyBesideStore {
        /// The file.
        path: PathBuf,
        /// The database (password redacted).
        db: String,
    },
    /// A legacy state file could not be renamed after it was imported.
    #[error("renaming {path} after importing it")]
    Rename {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A state file could not be written.
    #[error("writing {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: WriteError,
    },
    /// A state file could not be removed.
    #[error("removing {path}")]
    Remove {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// The legacy file error inside, if that is what this is (its message names the
    /// file and what to do).
    pub fn state_error(&self) -> Option<&StateError> {
        match self {
            StoreError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The state of one prefix: its documents in the store, and `<state dir>/<prefix>`
/// for what stays files (the code snapshots, `serve.addr`).
#[derive(Debug, Clone)]
pub struct Store {
    db: cove_store::Store,
    url: cove_store::DatabaseUrl,
    rt: Arc<Rt>,
    dir: PathBuf,
}

/// The store's runtime; dropping it is allowed anywhere (inside an async runtime
/// too, where dropping a runtime panics): it shuts down in the background.
#[derive(Debug)]
struct Rt(Option<tokio::runtime::Runtime>);

impl Rt {
    fn get(&self) -> &tokio::runtime::Runtime {
        // Taken only in `drop`.
        self.0
            .as_ref()
            .unwrap_or_else(|| unreachable!("runtime taken before drop"))
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl Store {
    /// Opens the state kept in `dir` (`<state dir>/<prefix>`): the database at
    /// `database` (`postgres://…`, `sqlite:///…`), by default `dir/cove.db`; the
    /// state files of an older cove in `dir` are imported once.
    pub fn open(dir: PathBuf, database: Option<&str>) -> Result<Store, StoreError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StoreError::Runtime)?;
        let url = match database {
            Some(url) => cove_store::DatabaseUrl::parse(url),
            None => Ok(cove_store::DatabaseUrl::sqlite_file(
                std::path::absolute(dir.join(DATABASE_FILE))
                    .unwrap_or_else(|_| dir.join(DATABASE_FILE)),
            )),
        };
        let db_name = database.map_or_else(
            || dir.join(DATABASE_FILE).display().to_string(),
            cove_store::redact,
        );
        let open_err = |source| StoreError::Open {
            db: db_name.clone(),
            source: Box::new(source),
        };
        let url = url.map_err(open_err)?;
        let db = run(&rt, async {
            cove_store::Store::open_with(&url, &cove_store::StoreOptions::default()).await
        })
        .map_err(open_err)?;
        let store = Store {
            db,
            url,
            rt: Arc::new(Rt(Some(rt))),
            dir,
        };
        legacy::import(&store)?;
        Ok(store)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the database is, to open it again from another async runtime (a
    /// connection belongs to the runtime that made it): `cove serve`'s API.
    pub fn database_url(&self) -> &cove_store::DatabaseUrl {
        &self.url
    }

    /// The database (for the reconciler's lease and the control plane's documents).
    pub fn database(&self) -> &cove_store::Store {
        &self.db
    }

    /// Runs a database future to completion from synchronous code (on this thread,
    /// or, inside an async runtime, on a scoped thread).
    pub fn block_on<F>(&self, f: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        run(self.rt.get(), f)
    }

    fn db_err(&self, step: &'static str) -> impl FnOnce(cove_store::StoreError) -> StoreError {
        let db = self.db.url().to_owned();
        move |source| StoreError::Database {
            step,
            db,
            source: Box::new(source),
        }
    }

    /// Every document, with the generation they belong to (one consistent read).
    pub fn snapshot(&self) -> Result<cove_store::Snapshot, StoreError> {
        self.block_on(self.db.snapshot())
            .map_err(self.db_err("reading the documents"))
    }

    /// `serve.addr`: where a running `cove serve` listens.
    pub fn serve_addr_path(&self) -> PathBuf {
        self.dir.join("serve.addr")
    }

    /// The desired state in `snapshot`.
    pub fn desired_of(&self, snapshot: &cove_store::Snapshot) -> Result<Desired, StoreError> {
        docs::desired_of(snapshot).map_err(|source| StoreError::Decode {
            db: self.db.url().to_owned(),
            source,
        })
    }

    /// The desired spec's text; `None` if nothing is applied.
    pub fn spec(&self) -> Result<Option<String>, StoreError> {
        Ok(self.desired()?.spec)
    }

    /// The functions deployed with `cove fn deploy`.
    pub fn deployed(&self) -> Result<Vec<DeployedFunction>, StoreError> {
        Ok(self.desired()?.deployed)
    }

    /// The code registry.
    pub fn code(&self) -> Result<BTreeMap<String, CodeRef>, StoreError> {
        Ok(self.desired()?.code)
    }

    /// The generations.
    pub fn generations(&self) -> Result<Generations, StoreError> {
        let (desired, applied) = self
            .block_on(self.db.generations())
            .map_err(self.db_err("reading the generations"))?;
        Ok(Generations {
            desired: Generation::of(desired),
            applied: Generation::of(applied),
        })
    }

    /// The whole desired state.
    pub fn desired(&self) -> Result<Desired, StoreError> {
        self.desired_of(&self.snapshot()?)
    }

    /// Records `new` as the desired state: one store change (one generation) with
    /// the documents that differ; the same state again changes nothing. Returns the
    /// desired generation.
    pub fn set_desired(&self, _lock: &Locked, new: &Desired) -> Result<Generation, StoreError> {
        let snapshot = self.snapshot()?;
        let ops = docs::operator_ops(&snapshot, new).map_err(|source| StoreError::Encode {
            db: self.db.url().to_owned(),
            source,
        })?;
        if ops.is_empty() {
            return Ok(Generation::of(snapshot.generation));
        }
        self.commit(snapshot.generation, &ops, "the operator's desired state")
    }

    /// Records the extra shared function ENIs `extras` as one change, only while
    /// the store is still at `expected` (the snapshot they were decided on);
    /// returns the new generation, or `None` when `extras` are already recorded.
    /// The reconciler's write: no prefix lock (the kernel follows on its next
    /// tick), fenced by the generation.
    pub fn set_shared_eni_extras(
        &self,
        expected: Generation,
        extras: &[cove_model::spec::SharedEniExtra],
    ) -> Result<Option<Generation>, StoreError> {
        let snapshot = self.snapshot()?;
        let op = docs::shared_eni_extras_op(&snapshot, extras).map_err(self.encode_err())?;
        self.commit_platform(
            expected,
            op,
            "reconciler: shared function ENIs for connections",
        )
    }

    /// Records the NAT gateways' takeovers `takeovers`, as
    /// [`Store::set_shared_eni_extras`] records its document.
    pub fn set_nat_takeovers(
        &self,
        expected: Generation,
        takeovers: &[crate::failover::TakeoverRecord],
    ) -> Result<Option<Generation>, StoreError> {
        let snapshot = self.snapshot()?;
        let op = docs::nat_takeovers_op(&snapshot, takeovers).map_err(self.encode_err())?;
        self.commit_platform(expected, op, "reconciler: NAT gateway failover")
    }

    fn encode_err(&self) -> impl Fn(serde_json::Error) -> StoreError + '_ {
        |source| StoreError::Encode {
            db: self.db.url().to_owned(),
            source,
        }
    }

    fn commit_platform(
        &self,
        expected: Generation,
        op: Option<cove_store::DocOp>,
        summary: &str,
    ) -> Result<Option<Generation>, StoreError> {
        let Some(op) = op else { return Ok(None) };
        self.commit(expected.to_store(), &[op], summary).map(Some)
    }

    fn commit(
        &self,
        expected: cove_store::Generation,
        ops: &[cove_store::DocOp],
        summary: &str,
    ) -> Result<Generation, StoreError> {
        let meta = cove_store::ChangeMeta {
            summary: summary.to_owned(),
            ..cove_store::ChangeMeta::default()
        };
        let g = self
            .block_on(self.db.change(&meta, Some(expected), ops))
            .map_err(self.db_err("recording the desired state"))?;
        Ok(Generation::of(g))
    }

    /// Records that the kernel holds generation `applied`; with `fence`, only while
    /// that lease is held.
    pub fn set_applied(
        &self,
        _lock: &Locked,
        applied: Generation,
        fence: Option<&cove_store::Lease>,
    ) -> Result<(), StoreError> {
        self.block_on(self.db.record_applied(applied.to_store(), fence))
            .map_err(self.db_err("recording the applied generation"))
    }

    /// Forgets the operator's desired state (after `cove destroy`): the spec, the
    /// code registry and the deployed functions, in one change that is recorded as
    /// applied at once (nothing, in sync): a plan made before is refused.
    pub fn forget(&self, lock: &Locked) -> Result<Generation, StoreError> {
        let snapshot = self.snapshot()?;
        let mut ops = docs::operator_ops(&snapshot, &Desired::default()).map_err(|source| {
            StoreError::Encode {
                db: self.db.url().to_owned(),
                source,
            }
        })?;
        ops.extend(docs::shared_eni_extras_op(&snapshot, &[]).map_err(self.encode_err())?);
        ops.extend(docs::nat_takeovers_op(&snapshot, &[]).map_err(self.encode_err())?);
        let marker = serde_json::json!({ "after_generation": snapshot.generation.0 });
        ops.push(
            cove_store::DocOp::put(
                cove_store::DocId::new(docs::DEPLOYMENT, None, "destroyed"),
                &marker,
            )
            .map_err(|source| StoreError::Encode {
                db: self.db.url().to_owned(),
                source,
            })?,
        );
        let next = self.commit(snapshot.generation, &ops, "cove destroy")?;
        self.set_applied(lock, next, None)?;
        Ok(next)
    }

    /// Records where a running `cove serve` listens.
    pub fn set_serve_addr(&self, addr: std::net::SocketAddr) -> Result<(), StoreError> {
        write(&self.serve_addr_path(), &addr.to_string())
    }

    /// Where a running `cove serve` said it listens, if it did (and the file reads).
    pub fn serve_addr(&self) -> Option<std::net::SocketAddr> {
        read_text(&self.serve_addr_path())
            .ok()
            .flatten()
            .and_then(|a| a.trim().parse().ok())
    }

    /// Removes the record of a running `cove serve` (when it stops).
    pub fn forget_serve_addr(&self) -> Result<(), StoreError> {
        match std::fs::remove_file(self.serve_addr_path()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StoreError::Remove {
                path: self.serve_addr_path(),
                source,
            }),
        }
    }
}

/// Runs `f` on `rt`: on this thread, or on a scoped thread when this thread is
/// already inside an async runtime (where `block_on` may not be called).
fn run<F>(rt: &tokio::runtime::Runtime, f: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_err() {
        return rt.block_on(f);
    }
    std::thread::scope(|s| match s.spawn(|| rt.block_on(f)).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// Writes a state file atomically; the directory was made root's alone when the
/// command took the prefix lock.
fn write(path: &Path, text: &str) -> Result<(), StoreError> {
    files::write_atomically(path, text.as_bytes()).map_err(|source| StoreError::Write {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store, Locked) {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path().join("p"), None).unwrap();
        let lock = Locked::for_tests(&d.path().join("lock"));
        (d, store, lock)
    }

    #[test]
    fn a_change_bumps_the_generation_and_the_same_state_does_not() {
        let (_d, store, lock) = store();
        assert_eq!(store.generations().unwrap(), Generations::default());
        let a = Desired {
            spec: Some("tenants: []\n".into()),
            ..Desired::default()
        };
        assert_eq!(store.set_desired(&lock, &a).unwrap(), Generation(1));
        assert_eq!(store.desired().unwrap(), a);
        // The same state: no new generation.
        assert_eq!(store.set_desired(&lock, &a).unwrap(), Generation(1));
        let b = Desired {
            spec: Some("tenants: [] # b\n".into()),
            ..Desired::default()
        };
        assert_eq!(store.set_desired(&lock, &b).unwrap(), Generation(2));
        store.set_applied(&lock, Generation(2), None).unwrap();
        assert_eq!(
            store.generations().unwrap(),
            Generations {
                desired: Generation(2),
                applied: Generation(2)
            }
        );
        // Forgetting is a change too, realized at once.
        assert_eq!(store.forget(&lock).unwrap(), Generation(3));
        assert_eq!(store.desired().unwrap(), Desired::default());
        assert_eq!(store.generations().unwrap().applied, Generation(3));
    }

    #[test]
    fn the_database_is_root_s_alone() {
        use std::os::unix::fs::PermissionsExt;
        let (_d, store, _lock) = store();
        let mode = std::fs::metadata(store.dir().join(DATABASE_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn it_works_inside_an_async_runtime_too() {
        let (_d, store, lock) = store();
        let dropped = store.clone();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let g = rt.block_on(async {
            let a = Desired {
                spec: Some("tenants: []\n".into()),
                ..Desired::default()
            };
            let g = store.set_desired(&lock, &a).unwrap();
            // Dropped (the last handle) inside the runtime: no panic.
            drop(store);
            drop(dropped);
            g
        });
        assert_eq!(g, Generation(1));
    }
}
