//! Which deployment: a prefix on this host and the directory of its state.

use std::path::PathBuf;
use std::time::Duration;

use crate::store::Store;

/// A deployment's prefix: 1 to 12 characters `[a-z0-9]`. Every namespace cove
/// creates for it is `<prefix>-…`, its state is `<state dir>/<prefix>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    name: String,
    cgroup_root: cove_sandbox::CgroupRoot,
}

/// A prefix that is not 1 to 12 characters `[a-z0-9]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid --prefix `{prefix}`: use 1 to {max} characters, lowercase letters and digits",
    max = cove_host::MAX_PREFIX
)]
pub struct InvalidPrefix {
    /// What was given.
    pub prefix: String,
}

impl Prefix {
    /// Checks `prefix`.
    pub fn new(prefix: &str) -> Result<Prefix, InvalidPrefix> {
        let invalid = || InvalidPrefix {
            prefix: prefix.to_owned(),
        };
        if !cove_plan::names::valid_prefix(prefix) {
            return Err(invalid());
        }
        Ok(Prefix {
            name: prefix.to_owned(),
            cgroup_root: cove_sandbox::CgroupRoot::for_prefix(prefix).map_err(|_| invalid())?,
        })
    }

    /// The prefix.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The cgroup directory of the prefix's execution environments in every
    /// hierarchy: `cove-<prefix>`.
    pub fn cgroup_root(&self) -> &cove_sandbox::CgroupRoot {
        &self.cgroup_root
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// Which deployment on this host, and how long its writers wait for each other.
#[derive(Debug, Clone)]
pub struct Target {
    prefix: Prefix,
    /// The state directory (`/var/lib/cove`); the deployment's state is in
    /// `<state_dir>/<prefix>`.
    pub state_dir: PathBuf,
    /// How long a writer waits for the prefix lock before failing as busy.
    pub lock_wait: Duration,
    /// The store (`postgres://…`, `sqlite:///…`); `None`: SQLite
    /// `<state_dir>/<prefix>/cove.db`.
    pub database: Option<String>,
}

impl Target {
    /// The deployment `prefix` with its state under `state_dir`.
    pub fn new(prefix: Prefix, state_dir: PathBuf, lock_wait: Duration) -> Target {
        Target {
            prefix,
            state_dir,
            lock_wait,
            database: None,
        }
    }

    /// The same target with its state in `database` (`None`: the SQLite default).
    #[must_use]
    pub fn with_database(mut self, database: Option<String>) -> Target {
        self.database = database;
        self
    }

    /// The prefix.
    pub fn prefix(&self) -> &Prefix {
        &self.prefix
    }

    /// `<state_dir>/<prefix>`.
    pub fn dir(&self) -> PathBuf {
        self.state_dir.join(self.prefix.as_str())
    }

    /// Opens the deployment's state (importing an older cove's state files once).
    pub fn store(&self) -> Result<Store, crate::store::StoreError> {
        Store::open(self.dir(), self.database.as_deref())
    }

    /// `<state_dir>/<prefix>/code`: the content-addressed code store.
    pub fn code_store(&self) -> PathBuf {
        self.dir().join("code")
    }

    /// `<state_dir>/<prefix>/slots`: the network slots' lease files.
    pub fn slot_locks(&self) -> cove_scheduler::SlotLocks {
        cove_scheduler::SlotLocks::new(self.dir().join("slots"))
    }

    /// `<state_dir>/<prefix>/flow-logs`: one file per flow log
    /// (`<tenant>/<vpc>/<name>.log`).
    pub fn flow_logs(&self) -> PathBuf {
        self.dir().join("flow-logs")
    }

    /// `<state_dir>/<prefix>/metering`: one file per month (`YYYY-MM.json`).
    pub fn metering(&self) -> PathBuf {
        self.dir().join("metering")
    }

    /// `<state_dir>/<prefix>/objects`: the object store's buckets.
    pub fn objects(&self) -> PathBuf {
        self.dir().join("objects")
    }

    /// `<state_dir>/<prefix>/access-keys.secret`: the secret every tenant's
    /// access key is derived from (`0600`).
    pub fn access_key_secret(&self) -> PathBuf {
        self.dir().join("access-keys.secret")
    }

    /// The deployment's access-key secret, created on first use.
    pub fn access_keys(&self) -> Result<cove_objects::KeySecret, cove_objects::ObjectsError> {
        cove_objects::KeySecret::load_or_create(&self.access_key_secret())
    }

    /// `<state_dir>/<prefix>/logs`: one directory of environment logs per function.
    pub fn logs(&self) -> cove_scheduler::LogDir {
        cove_scheduler::LogDir::new(self.dir().join("logs"))
    }
}
