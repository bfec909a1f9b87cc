//! The store's errors: one variant per failed step, with the database (password
//! redacted), the document or the lease in context.

use std::path::PathBuf;

use crate::types::{DocId, Generation};
use crate::url::ACCEPTED_FORMS;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The `--database` value is not one of the accepted forms.
    #[error("--database {url:?}: {reason}; accepted forms: {ACCEPTED_FORMS}")]
    BadUrl {
        /// The value given, password redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An input was refused before reaching the database.
    #[error("{field} {message}")]
    InvalidInput {
        /// The field, as a path (e.g. `ops[2].id.key`).
        field: String,
        /// What is wrong and what is accepted.
        message: String,
    },
    /// The SQLite file or its directory could not be created.
    #[error("cannot create the SQLite database {path}")]
    CreateFile {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The SQLite file (or its -wal/-shm) could not be made 0600.
    #[error("cannot make {path} private (mode 0600)")]
    SetMode {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The lock that serializes migrations of a SQLite file could not be taken.
    #[error("cannot lock {path} to migrate it")]
    MigrationLock {
        /// The database file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The PostgreSQL URL was refused by the driver.
    #[error("cannot parse the PostgreSQL URL {db}")]
    ParseUrl {
        /// The database, password redacted.
        db: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Connecting to the database failed.
    #[error("cannot connect to {db}")]
    Connect {
        /// The database, password redacted.
        db: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Running the migrations failed.
    #[error("cannot migrate {db} to cove's schema")]
    Migrate {
        /// The database, password redacted.
        db: String,
        /// The migrator's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A transaction could not be started.
    #[error("cannot begin a transaction ({what}) on {db}")]
    Begin {
        /// What the transaction was for.
        what: &'static str,
        /// The database, password redacted.
        db: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A statement failed.
    #[error("cannot {step} on {db}")]
    Query {
        /// The step (e.g. `lock the generation row`, `write function "f"`).
        step: String,
        /// The database, password redacted.
        db: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A transaction could not be committed (nothing of it was stored).
    #[error("cannot commit {what} on {db}")]
    Commit {
        /// What the transaction was for.
        what: &'static str,
        /// The database, password redacted.
        db: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A stored body is not JSON (written by something other than cove).
    #[error("the stored body of {id} is not JSON")]
    CorruptBody {
        /// The document.
        id: DocId,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The change expected another generation: somebody else changed the store first.
    /// Nothing was written; read again and retry.
    #[error(
        "the store is at generation {current}, not {expected}: it changed since it was read; read it again and retry"
    )]
    Conflict {
        /// The generation the caller read.
        expected: Generation,
        /// The store's generation.
        current: Generation,
    },
    /// A `Create` named a document that exists. Nothing was written.
    #[error("{id} already exists")]
    AlreadyExists {
        /// The document.
        id: DocId,
    },
    /// A `Delete` named a document that does not exist. Nothing was written.
    #[error("{id} does not exist")]
    NotFound {
        /// The document.
        id: DocId,
    },
    /// `record_applied` was given a generation older than the one recorded: the plan was
    /// made for an older desired state.
    #[error(
        "generation {generation} is older than the applied generation {applied}: the plan is stale; plan again"
    )]
    StaleApplied {
        /// The generation given.
        generation: Generation,
        /// The generation recorded.
        applied: Generation,
    },
    /// `record_applied` was given a generation the store has not reached.
    #[error("generation {generation} does not exist yet (the store is at {current})")]
    FutureApplied {
        /// The generation given.
        generation: Generation,
        /// The store's generation.
        current: Generation,
    },
    /// The lease given as a fence is no longer held by its holder.
    #[error(
        "lease {name:?} (token {token}) is no longer held by {holder:?}: another process leads now"
    )]
    LeaseLost {
        /// The lease.
        name: String,
        /// Its holder.
        holder: String,
        /// The fencing token the caller held.
        token: i64,
    },
    /// `idempotency_finish` named a key that is not reserved for this request.
    #[error(
        "idempotency key {key:?} is not reserved for this request: call idempotency_begin first"
    )]
    IdempotencyNotReserved {
        /// The key.
        key: String,
    },
}

impl StoreError {
    /// Whether the error is a [`StoreError::Conflict`] (retry after reading again).
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }
}
