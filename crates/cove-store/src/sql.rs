//! Every statement the store runs. Most are the same text for both backends (`$1`
//! parameters, `ON CONFLICT`, `RETURNING`); [`Dialect`] holds the few that differ: how a
//! writer takes the write lock, how a reader gets a consistent view and the database's
//! clock.

/// The statements that differ between SQLite and PostgreSQL.
pub(crate) struct Dialect {
    /// Starts a writing transaction that serializes writers: SQLite takes the write lock
    /// at `BEGIN IMMEDIATE`; PostgreSQL locks the state row in [`Dialect::lock_state`].
    pub begin_write: &'static str,
    /// Starts a reading transaction that sees one committed state throughout.
    pub begin_read: &'static str,
    /// Reads `(generation, applied)` in a writing transaction, locking the row.
    pub lock_state: &'static str,
    /// Whether the fencing lease is still held, locking its row: `$1` name, `$2`
    /// holder, `$3` token.
    pub fence: &'static str,
    /// Appends the audit row: `$1` after, `$2` before, `$3` tenant, `$4` token id, `$5`
    /// request id, `$6` summary.
    pub audit_insert: &'static str,
    /// Takes or renews a lease: `$1` name, `$2` holder, `$3` ttl in ms. Returns
    /// `(holder, token, acquired_ms, expires_ms)` when the caller holds it.
    pub lease_acquire: &'static str,
    /// Ends a lease early: `$1` name, `$2` holder, `$3` token.
    pub lease_release: &'static str,
    /// Reserves an idempotency key: `$1` tenant, `$2` key, `$3` request hash.
    pub idempotency_insert: &'static str,
    /// Deletes idempotency records older than `$1` ms.
    pub idempotency_sweep: &'static str,
}

/// The database clock in milliseconds since the epoch: SQLite's `julianday('now')` (ms
/// resolution, fixed for one statement).
macro_rules! sqlite_now {
    () => {
        "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS BIGINT)"
    };
}

/// The database clock in milliseconds since the epoch: PostgreSQL's
/// `clock_timestamp()` (the time now, not the transaction's start).
macro_rules! pg_now {
    () => {
        "CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) AS BIGINT)"
    };
}

macro_rules! lease_acquire {
    ($now:expr) => {
        concat!(
            "INSERT INTO cove_leases (name, holder, token, acquired_ms, expires_ms) \
             VALUES ($1, $2, 1, ",
            $now,
            ", ",
            $now,
            " + $3) \
             ON CONFLICT (name) DO UPDATE SET \
               token = CASE WHEN cove_leases.holder = excluded.holder \
                              AND cove_leases.expires_ms > excluded.acquired_ms \
                            THEN cove_leases.token ELSE cove_leases.token + 1 END, \
               acquired_ms = CASE WHEN cove_leases.holder = excluded.holder \
                              AND cove_leases.expires_ms > excluded.acquired_ms \
                            THEN cove_leases.acquired_ms ELSE excluded.acquired_ms END, \
               holder = excluded.holder, \
               expires_ms = excluded.expires_ms \
             WHERE cove_leases.holder = excluded.holder \
                OR cove_leases.expires_ms <= excluded.acquired_ms \
             RETURNING holder, token, acquired_ms, expires_ms"
        )
    };
}

macro_rules! dialect {
    ($now:expr, begin_write: $bw:expr, begin_read: $br:expr, for_update: $fu:expr) => {
        Dialect {
            begin_write: $bw,
            begin_read: $br,
            lock_state: concat!(
                "SELECT generation, applied FROM cove_state WHERE id = 1",
                $fu
            ),
            fence: concat!(
                "SELECT token FROM cove_leases WHERE name = $1 AND holder = $2 AND token = $3 \
                 AND expires_ms > ",
                $now,
                $fu
            ),
            audit_insert: concat!(
                "INSERT INTO cove_audit (generation_after, generation_before, tenant, token_id, \
                 request_id, summary, at_ms) VALUES ($1, $2, $3, $4, $5, $6, ",
                $now,
                ")"
            ),
            lease_acquire: lease_acquire!($now),
            lease_release: concat!(
                "UPDATE cove_leases SET expires_ms = ",
                $now,
                " WHERE name = $1 AND holder = $2 AND token = $3 AND expires_ms > ",
                $now
            ),
            idempotency_insert: concat!(
                "INSERT INTO cove_idempotency (tenant, key, request_hash, status, response, \
                 created_ms) VALUES ($1, $2, $3, NULL, NULL, ",
                $now,
                ") ON CONFLICT (tenant, key) DO NOTHING"
            ),
            idempotency_sweep: concat!(
                "DELETE FROM cove_idempotency WHERE created_ms < ",
                $now,
                " - $1"
            ),
        }
    };
}

/// SQLite: `BEGIN IMMEDIATE` takes the database's write lock up front (waiting up to the
/// busy timeout), so two writers never both read the generation; a deferred `BEGIN`
/// gives a reader one WAL snapshot.
pub(crate) const SQLITE: Dialect = dialect!(sqlite_now!(),
    begin_write: "BEGIN IMMEDIATE",
    begin_read: "BEGIN",
    for_update: "");

/// PostgreSQL: writers queue on the state row's lock (`FOR UPDATE`); readers use a
/// read-only repeatable-read transaction (one snapshot for all their statements).
pub(crate) const POSTGRES: Dialect = dialect!(pg_now!(),
    begin_write: "BEGIN",
    begin_read: "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
    for_update: " FOR UPDATE");

/// Sets the new generation.
pub(crate) const BUMP: &str = "UPDATE cove_state SET generation = $1 WHERE id = 1";
/// Sets the applied generation.
pub(crate) const SET_APPLIED: &str = "UPDATE cove_state SET applied = $1 WHERE id = 1";
/// Reads `(generation, applied)` outside a writing transaction.
pub(crate) const READ_STATE: &str = "SELECT generation, applied FROM cove_state WHERE id = 1";
/// Creates or replaces a document.
pub(crate) const PUT: &str = "INSERT INTO cove_documents (kind, tenant, key, body, generation) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, tenant, key) \
     DO UPDATE SET body = excluded.body, generation = excluded.generation";
/// Creates a document unless it exists (0 rows: it exists).
pub(crate) const CREATE: &str = "INSERT INTO cove_documents (kind, tenant, key, body, generation) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, tenant, key) DO NOTHING";
/// Deletes a document (0 rows: it did not exist).
pub(crate) const DELETE: &str =
    "DELETE FROM cove_documents WHERE kind = $1 AND tenant = $2 AND key = $3";

#[cfg(test)]
const DOC_COLUMNS: &str = "SELECT kind, tenant, key, body, generation FROM cove_documents";
/// Every document.
pub(crate) const DOCS_ALL: &str = "SELECT kind, tenant, key, body, generation FROM cove_documents";
/// Documents of one kind (`$1`).
pub(crate) const DOCS_KIND: &str =
    "SELECT kind, tenant, key, body, generation FROM cove_documents WHERE kind = $1";
/// Documents of one kind (`$1`) and tenant (`$2`).
pub(crate) const DOCS_KIND_TENANT: &str = "SELECT kind, tenant, key, body, generation \
     FROM cove_documents WHERE kind = $1 AND tenant = $2";
/// Documents of one tenant (`$1`).
pub(crate) const DOCS_TENANT: &str =
    "SELECT kind, tenant, key, body, generation FROM cove_documents WHERE tenant = $1";
/// One document.
pub(crate) const DOC_ONE: &str = "SELECT kind, tenant, key, body, generation \
     FROM cove_documents WHERE kind = $1 AND tenant = $2 AND key = $3";

/// Audit rows after a generation (`$1`), oldest first, at most `$2`.
pub(crate) const AUDIT_SINCE: &str = "SELECT generation_before, generation_after, tenant, \
     token_id, request_id, summary, at_ms FROM cove_audit WHERE generation_after > $1 \
     ORDER BY generation_after LIMIT $2";

/// The current holder of a lease.
pub(crate) const LEASE_READ: &str = "SELECT holder, expires_ms FROM cove_leases WHERE name = $1";

/// An idempotency record.
pub(crate) const IDEMPOTENCY_READ: &str = "SELECT request_hash, status, response, created_ms \
     FROM cove_idempotency WHERE tenant = $1 AND key = $2";
/// Stores the answer of a reserved key.
pub(crate) const IDEMPOTENCY_FINISH: &str = "UPDATE cove_idempotency SET status = $4, \
     response = $5 WHERE tenant = $1 AND key = $2 AND request_hash = $3 AND status IS NULL";
/// Frees a reserved key whose request failed before changing anything.
pub(crate) const IDEMPOTENCY_ABANDON: &str = "DELETE FROM cove_idempotency WHERE tenant = $1 \
     AND key = $2 AND request_hash = $3 AND status IS NULL";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_queries_share_their_columns() {
        for q in [DOCS_ALL, DOCS_KIND, DOCS_KIND_TENANT, DOCS_TENANT, DOC_ONE] {
            assert!(q.starts_with(DOC_COLUMNS), "{q}");
        }
    }

    #[test]
    fn only_postgres_locks_rows_and_only_sqlite_begins_immediate() {
        assert!(POSTGRES.lock_state.ends_with("FOR UPDATE"));
        assert!(POSTGRES.fence.ends_with("FOR UPDATE"));
        assert!(!SQLITE.lock_state.contains("FOR UPDATE"));
        assert_eq!(SQLITE.begin_write, "BEGIN IMMEDIATE");
        assert!(SQLITE.lease_acquire.contains("julianday"));
        assert!(POSTGRES.lease_acquire.contains("clock_timestamp"));
    }
}
