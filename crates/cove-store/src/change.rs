//! Writing: a change (one transaction, one new generation, one audit row) and the applied
//! generation.

use crate::error::StoreError;
use crate::sql;
use crate::store::Store;
use crate::types::{ChangeMeta, DocOp, Generation, Lease};
use crate::validate;

/// The tenant column's value: `''` for operator-wide documents.
pub(crate) fn tenant_col(tenant: Option<&str>) -> &str {
    tenant.unwrap_or("")
}

impl Store {
    /// Applies `ops` as one transaction and returns the generation it created.
    ///
    /// With `expected`, the change is refused with [`StoreError::Conflict`] unless the
    /// store is still at that generation (optimistic concurrency: read, decide, write).
    /// Any failure (a conflict, a `Create` of an existing document, a `Delete` of a
    /// missing one, a database error) leaves the store as it was: no document, no
    /// generation, no audit row.
    pub async fn change(
        &self,
        meta: &ChangeMeta,
        expected: Option<Generation>,
        ops: &[DocOp],
    ) -> Result<Generation, StoreError> {
        validate::change(meta, ops)?;
        with_backend!(self, pool, dialect => {
            let mut tx = pool
                .begin_with(dialect.begin_write)
                .await
                .map_err(self.begin_err("a change"))?;
            let result = async {
                let (current, _applied): (i64, i64) = sqlx::query_as(dialect.lock_state)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(self.query_err("lock the generation row"))?;
                let current = Generation(current);
                if let Some(expected) = expected {
                    if expected != current {
                        return Err(StoreError::Conflict { expected, current });
                    }
                }
                let next = current.next();
                sqlx::query(sql::BUMP)
                    .bind(next.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(self.query_err("bump the generation"))?;
                for op in ops {
                    let id = op.id();
                    let tenant = tenant_col(id.tenant.as_deref());
                    match op {
                        DocOp::Put { body, .. } | DocOp::Create { body, .. } => {
                            let (stmt, verb) = match op {
                                DocOp::Create { .. } => (sql::CREATE, "create"),
                                _ => (sql::PUT, "write"),
                            };
                            let done = sqlx::query(stmt)
                                .bind(id.kind.as_str())
                                .bind(tenant)
                                .bind(id.key.as_str())
                                .bind(body.get())
                                .bind(next.0)
                                .execute(&mut *tx)
                                .await
                                .map_err(self.query_err(format!("{verb} {id}")))?;
                            if done.rows_affected() == 0 {
                                return Err(StoreError::AlreadyExists { id: id.clone() });
                            }
                        }
                        DocOp::Delete { .. } => {
                            let done = sqlx::query(sql::DELETE)
                                .bind(id.kind.as_str())
                                .bind(tenant)
                                .bind(id.key.as_str())
                                .execute(&mut *tx)
                                .await
                                .map_err(self.query_err(format!("delete {id}")))?;
                            if done.rows_affected() == 0 {
                                return Err(StoreError::NotFound { id: id.clone() });
                            }
                        }
                    }
                }
                sqlx::query(dialect.audit_insert)
                    .bind(next.0)
                    .bind(current.0)
                    .bind(meta.tenant.as_deref())
                    .bind(meta.token_id.as_deref())
                    .bind(meta.request_id.as_deref())
                    .bind(meta.summary.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(self.query_err(format!("write the audit row of generation {next}")))?;
                Ok(next)
            }
            .await;
            self.finish(tx, "a change", result).await
        })
    }

    /// Records that the kernel now matches `generation`.
    ///
    /// Refused with [`StoreError::StaleApplied`] if a newer generation was recorded (the
    /// plan was made for an older desired state), with [`StoreError::FutureApplied`] if
    /// the store has not reached it, and with [`StoreError::LeaseLost`] if `fence` is
    /// given and no longer held (a deposed leader cannot record). Recording the same
    /// generation again is accepted.
    pub async fn record_applied(
        &self,
        generation: Generation,
        fence: Option<&Lease>,
    ) -> Result<(), StoreError> {
        with_backend!(self, pool, dialect => {
            let mut tx = pool
                .begin_with(dialect.begin_write)
                .await
                .map_err(self.begin_err("recording the applied generation"))?;
            let result = async {
                let (current, applied): (i64, i64) = sqlx::query_as(dialect.lock_state)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(self.query_err("lock the generation row"))?;
                let (current, applied) = (Generation(current), Generation(applied));
                if generation < applied {
                    return Err(StoreError::StaleApplied { generation, applied });
                }
                if generation > current {
                    return Err(StoreError::FutureApplied { generation, current });
                }
                if let Some(lease) = fence {
                    let held: Option<(i64,)> = sqlx::query_as(dialect.fence)
                        .bind(lease.name.as_str())
                        .bind(lease.holder.as_str())
                        .bind(lease.token)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(self.query_err(format!("check lease {:?}", lease.name)))?;
                    if held.is_none() {
                        return Err(StoreError::LeaseLost {
                            name: lease.name.clone(),
                            holder: lease.holder.clone(),
                            token: lease.token,
                        });
                    }
                }
                sqlx::query(sql::SET_APPLIED)
                    .bind(generation.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(self.query_err("record the applied generation"))?;
                Ok(())
            }
            .await;
            self.finish(tx, "the applied generation", result).await
        })
    }
}
