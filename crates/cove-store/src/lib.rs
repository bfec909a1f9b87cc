//! cove's store: the desired state as JSON documents, one generation counter, the audit
//! log, the applied generation, leader leases and idempotency records, in an embedded
//! SQLite file (default) or PostgreSQL, through `sqlx`.
//!
//! * Every [`Store::change`] is one transaction: it checks the expected generation, bumps
//!   the generation by one, applies its operations and writes the audit row. Writers are
//!   serialized (SQLite `BEGIN IMMEDIATE`, PostgreSQL `SELECT … FOR UPDATE` on the state
//!   row), so generations are gapless and no update is lost.
//! * Reads ([`Store::snapshot`], [`Store::read`]) see one committed generation.
//! * [`Store::record_applied`] refuses a generation older than the recorded one.
//! * [`Store::acquire_or_renew`] is a leader lease on the database's clock.
//! * [`Store::idempotency_begin`] / [`Store::idempotency_finish`] keep the first answer to
//!   an `Idempotency-Key`.
//!
//! Inputs are checked by the pure [`validate`] module before any I/O; SQL text is in
//! `sql.rs`, the same for both backends except the few statements of its `Dialect`.

/// Runs `$body` with `$pool` bound to the backend's pool and `$sql` to its dialect. The
/// body is compiled once per backend, so it can use each driver's concrete types.
macro_rules! with_backend {
    ($store:expr, $pool:ident, $sql:ident => $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite($pool) => {
                let $sql: &$crate::sql::Dialect = &$crate::sql::SQLITE;
                $body
            }
            $crate::store::Backend::Postgres($pool) => {
                let $sql: &$crate::sql::Dialect = &$crate::sql::POSTGRES;
                $body
            }
        }
    };
}

mod change;
mod error;
mod lease;
mod read;
mod sql;
mod store;
mod types;
mod url;
pub mod validate;

pub use error::StoreError;
pub use store::{Store, StoreOptions};
pub use types::{
    AuditEntry, ChangeMeta, DbTime, DocId, DocOp, Document, Filter, Generation, IdempotencyBegin,
    IdempotencyRecord, Lease, LeaseState, Snapshot,
};
pub use url::{ACCEPTED_FORMS, DatabaseUrl, redact};
pub use validate::MAX_BODY_BYTES;

/// The store's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
