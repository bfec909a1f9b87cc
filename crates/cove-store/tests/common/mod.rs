//! The store's test helpers: the throwaway databases come from `cove-testdb` (every
//! test runs on a fresh SQLite file and a fresh PostgreSQL database; with `CI=true`
//! and no `COVE_TEST_POSTGRES_URL` a PostgreSQL test fails, never skips).

#![allow(dead_code)]

#[allow(unused_imports)]
pub use cove_testdb::{TestDb, both, chain};

/// A change's metadata for tests.
pub fn meta(request: &str) -> cove_store::ChangeMeta {
    cove_store::ChangeMeta {
        tenant: Some("acme".into()),
        token_id: Some("tok-1".into()),
        request_id: Some(request.into()),
        summary: format!("test {request}"),
    }
}

/// A `Put` of a JSON value.
pub fn put(
    kind: &str,
    tenant: Option<&str>,
    key: &str,
    value: serde_json::Value,
) -> cove_store::DocOp {
    cove_store::DocOp::put(cove_store::DocId::new(kind, tenant, key), &value).expect("json")
}
