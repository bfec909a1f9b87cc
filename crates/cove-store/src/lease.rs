//! Coordination between processes on one store: leader leases (on the database's clock)
//! and idempotency records.

use std::time::Duration;

use crate::change::tenant_col;
use crate::error::StoreError;
use crate::sql;
use crate::store::Store;
use crate::types::{DbTime, IdempotencyBegin, IdempotencyRecord, Lease, LeaseState};
use crate::validate;

impl Store {
    /// Takes the lease `name` for `holder` for `ttl`, or renews it if `holder` has it.
    ///
    /// One statement (an upsert that only takes over an expired lease), so any number of
    /// processes can race for it: at most one holds an unexpired lease at a time. Times
    /// come from the database's clock, never the caller's. The fencing token grows by one
    /// with every new tenure (another holder, or the same one after its lease lapsed).
    pub async fn acquire_or_renew(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<LeaseState, StoreError> {
        let ttl_ms = validate::lease(name, holder, ttl)?;
        let step = || format!("take lease {name:?} for {holder:?}");
        let won: Option<(String, i64, i64, i64)> = with_backend!(self, pool, dialect => {
            sqlx::query_as(dialect.lease_acquire)
                .bind(name)
                .bind(holder)
                .bind(ttl_ms)
                .fetch_optional(pool)
                .await
                .map_err(self.query_err(step()))?
        });
        if let Some((holder, token, acquired, expires)) = won {
            return Ok(LeaseState::Held(Lease {
                name: name.to_owned(),
                holder,
                token,
                acquired_at: DbTime(acquired),
                expires_at: DbTime(expires),
            }));
        }
        let current: (String, i64) = with_backend!(self, pool, _dialect => {
            sqlx::query_as(sql::LEASE_READ)
                .bind(name)
                .fetch_one(pool)
                .await
                .map_err(self.query_err(format!("read lease {name:?}")))?
        });
        Ok(LeaseState::NotLeader {
            holder: current.0,
            expires_at: DbTime(current.1),
        })
    }

    /// Gives up `lease` now, so another process need not wait for it to lapse. Returns
    /// whether it was still held.
    pub async fn release(&self, lease: &Lease) -> Result<bool, StoreError> {
        let done = with_backend!(self, pool, dialect => {
            sqlx::query(dialect.lease_release)
                .bind(lease.name.as_str())
                .bind(lease.holder.as_str())
                .bind(lease.token)
                .execute(pool)
                .await
                .map_err(self.query_err(format!("release lease {:?}", lease.name)))?
                .rows_affected()
        });
        Ok(done == 1)
    }

    /// Reserves `key` for a request whose method, path and body hash to `request_hash`,
    /// unless the key is known (insert-if-absent).
    ///
    /// The same key with the same hash gets the stored answer ([`IdempotencyBegin::Replay`])
    /// or [`IdempotencyBegin::InProgress`] while the first request runs; another hash gets
    /// [`IdempotencyBegin::Mismatch`] (the API answers 409 to both).
    pub async fn idempotency_begin(
        &self,
        tenant: Option<&str>,
        key: &str,
        request_hash: &str,
    ) -> Result<IdempotencyBegin, StoreError> {
        validate::idempotency(tenant, key, request_hash)?;
        let tenant_id = tenant;
        let tenant = tenant_col(tenant);
        let step = || format!("reserve idempotency key {key:?}");
        let inserted = with_backend!(self, pool, dialect => {
            sqlx::query(dialect.idempotency_insert)
                .bind(tenant)
                .bind(key)
                .bind(request_hash)
                .execute(pool)
                .await
                .map_err(self.query_err(step()))?
                .rows_affected()
        });
        if inserted == 1 {
            return Ok(IdempotencyBegin::Started);
        }
        let row: Option<(String, Option<i32>, Option<String>, i64)> = with_backend!(self, pool, _dialect => {
            sqlx::query_as(sql::IDEMPOTENCY_READ)
                .bind(tenant)
                .bind(key)
                .fetch_optional(pool)
                .await
                .map_err(self.query_err(format!("read idempotency key {key:?}")))?
        });
        Ok(match row {
            // Swept between the two statements: the key is free again.
            None => Box::pin(self.idempotency_begin(tenant_id, key, request_hash)).await?,
            Some((stored, _, _, _)) if stored != request_hash => IdempotencyBegin::Mismatch {
                stored_hash: stored,
            },
            Some((stored, Some(status), Some(response), created)) => {
                IdempotencyBegin::Replay(IdempotencyRecord {
                    request_hash: stored,
                    status: u16::try_from(status).unwrap_or(500),
                    response,
                    created_at: DbTime(created),
                })
            }
            Some(_) => IdempotencyBegin::InProgress,
        })
    }

    /// Stores the answer to a request whose key [`Store::idempotency_begin`] reserved.
    pub async fn idempotency_finish(
        &self,
        tenant: Option<&str>,
        key: &str,
        request_hash: &str,
        status: u16,
        response: &str,
    ) -> Result<(), StoreError> {
        validate::idempotency(tenant, key, request_hash)?;
        let done = with_backend!(self, pool, _dialect => {
            sqlx::query(sql::IDEMPOTENCY_FINISH)
                .bind(tenant_col(tenant))
                .bind(key)
                .bind(request_hash)
                .bind(i32::from(status))
                .bind(response)
                .execute(pool)
                .await
                .map_err(self.query_err(format!("store the answer for idempotency key {key:?}")))?
                .rows_affected()
        });
        if done == 1 {
            Ok(())
        } else {
            Err(StoreError::IdempotencyNotReserved {
                key: key.to_owned(),
            })
        }
    }

    /// Frees a reserved key whose request failed before it changed anything, so that a
    /// retry runs again.
    pub async fn idempotency_abandon(
        &self,
        tenant: Option<&str>,
        key: &str,
        request_hash: &str,
    ) -> Result<(), StoreError> {
        validate::idempotency(tenant, key, request_hash)?;
        with_backend!(self, pool, _dialect => {
            sqlx::query(sql::IDEMPOTENCY_ABANDON)
                .bind(tenant_col(tenant))
                .bind(key)
                .bind(request_hash)
                .execute(pool)
                .await
                .map_err(self.query_err(format!("free idempotency key {key:?}")))?;
        });
        Ok(())
    }

    /// Deletes idempotency records older than `max_age` (database clock); returns how
    /// many.
    pub async fn sweep_idempotency(&self, max_age: Duration) -> Result<u64, StoreError> {
        let age_ms = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX / 2);
        Ok(with_backend!(self, pool, dialect => {
            sqlx::query(dialect.idempotency_sweep)
                .bind(age_ms)
                .execute(pool)
                .await
                .map_err(self.query_err("sweep old idempotency records"))?
                .rows_affected()
        }))
    }
}
