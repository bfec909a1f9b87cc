//! Reading: consistent snapshots, documents by kind and tenant, one document, the audit
//! log.

use serde_json::value::RawValue;

use crate::error::StoreError;
use crate::sql;
use crate::store::Store;
use crate::types::{AuditEntry, ChangeMeta, DbTime, DocId, Document, Filter, Generation, Snapshot};
use crate::validate;

/// A document row: kind, tenant, key, body, generation.
type DocRow = (String, String, String, String, i64);
/// An audit row: before, after, tenant, token id, request id, summary, time.
type AuditRow = (
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    i64,
);

fn document((kind, tenant, key, body, generation): DocRow) -> Result<Document, StoreError> {
    let id = DocId {
        kind,
        tenant: (!tenant.is_empty()).then_some(tenant),
        key,
    };
    match RawValue::from_string(body) {
        Ok(body) => Ok(Document {
            id,
            body,
            generation: Generation(generation),
        }),
        Err(source) => Err(StoreError::CorruptBody { id, source }),
    }
}

fn check_filter(filter: Filter<'_>) -> Result<(), StoreError> {
    match filter {
        Filter::All => Ok(()),
        Filter::Kind(kind) => validate::kind("filter.kind", kind),
        Filter::KindOfTenant(kind, tenant) => {
            validate::kind("filter.kind", kind)?;
            validate::tenant("filter.tenant", tenant)
        }
        Filter::Tenant(tenant) => validate::tenant("filter.tenant", Some(tenant)),
    }
}

impl Store {
    /// Every document, with the generation they belong to, read in one transaction.
    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        self.read(Filter::All).await
    }

    /// The documents `filter` selects, with the generation they belong to, read in one
    /// transaction (SQLite: one WAL snapshot; PostgreSQL: repeatable read). Ordered by
    /// kind, tenant and key (byte order, the same on both backends).
    pub async fn read(&self, filter: Filter<'_>) -> Result<Snapshot, StoreError> {
        check_filter(filter)?;
        let rows: Vec<DocRow>;
        let (generation, applied): (i64, i64);
        with_backend!(self, pool, dialect => {
            let mut tx = pool
                .begin_with(dialect.begin_read)
                .await
                .map_err(self.begin_err("a snapshot"))?;
            let result = async {
                let state: (i64, i64) = sqlx::query_as(sql::READ_STATE)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(self.query_err("read the generation"))?;
                let query = match filter {
                    Filter::All => sqlx::query_as(sql::DOCS_ALL),
                    Filter::Kind(kind) => sqlx::query_as(sql::DOCS_KIND).bind(kind),
                    Filter::KindOfTenant(kind, tenant) => sqlx::query_as(sql::DOCS_KIND_TENANT)
                        .bind(kind)
                        .bind(crate::change::tenant_col(tenant)),
                    Filter::Tenant(tenant) => sqlx::query_as(sql::DOCS_TENANT).bind(tenant),
                };
                let rows: Vec<DocRow> = query
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(self.query_err("read the documents"))?;
                Ok((state, rows))
            }
            .await;
            ((generation, applied), rows) = self.finish(tx, "a snapshot", result).await?;
        });
        let mut documents = rows
            .into_iter()
            .map(document)
            .collect::<Result<Vec<_>, _>>()?;
        documents.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Snapshot {
            generation: Generation(generation),
            applied: Generation(applied),
            documents,
        })
    }

    /// One document, if it exists.
    pub async fn get(&self, id: &DocId) -> Result<Option<Document>, StoreError> {
        validate::doc_id("id", id)?;
        let row: Option<DocRow> = with_backend!(self, pool, _dialect => {
            sqlx::query_as(sql::DOC_ONE)
                .bind(id.kind.as_str())
                .bind(crate::change::tenant_col(id.tenant.as_deref()))
                .bind(id.key.as_str())
                .fetch_optional(pool)
                .await
                .map_err(self.query_err(format!("read {id}")))?
        });
        row.map(document).transpose()
    }

    /// The store's generation and the applied generation.
    pub async fn generations(&self) -> Result<(Generation, Generation), StoreError> {
        let (generation, applied): (i64, i64) = with_backend!(self, pool, _dialect => {
            sqlx::query_as(sql::READ_STATE)
                .fetch_one(pool)
                .await
                .map_err(self.query_err("read the generation"))?
        });
        Ok((Generation(generation), Generation(applied)))
    }

    /// Audit rows of the changes after `after`, oldest first, at most `limit`.
    pub async fn audit(
        &self,
        after: Generation,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<AuditRow> = with_backend!(self, pool, _dialect => {
            sqlx::query_as(sql::AUDIT_SINCE)
                .bind(after.0)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(self.query_err("read the audit log"))?
        });
        Ok(rows
            .into_iter()
            .map(
                |(before, after, tenant, token_id, request_id, summary, at)| AuditEntry {
                    before: Generation(before),
                    after: Generation(after),
                    meta: ChangeMeta {
                        tenant,
                        token_id,
                        request_id,
                        summary,
                    },
                    at: DbTime(at),
                },
            )
            .collect())
    }
}
