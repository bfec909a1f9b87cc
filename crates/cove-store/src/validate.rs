//! Checks of every input before it reaches the database (pure): each refusal names the
//! field and says what is accepted.

use std::time::Duration;

use crate::error::StoreError;
use crate::types::{ChangeMeta, DocId, DocOp};

/// The largest document body, in bytes (as the largest spec cove reads).
pub const MAX_BODY_BYTES: usize = 64 << 20;
/// The most operations in one change.
pub const MAX_OPS: usize = 100_000;
/// The longest lease, so that a typo cannot lock the reconciler out for years.
pub const MAX_LEASE_TTL: Duration = Duration::from_secs(24 * 3600);

fn invalid(field: impl Into<String>, message: impl Into<String>) -> StoreError {
    StoreError::InvalidInput {
        field: field.into(),
        message: message.into(),
    }
}

/// Text for a column: at most `max` bytes, no control characters (PostgreSQL refuses NUL
/// in text; the others only hide things in logs).
fn text(field: &str, value: &str, max: usize, empty_ok: bool) -> Result<(), StoreError> {
    if value.is_empty() && !empty_ok {
        return Err(invalid(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(invalid(
            field,
            format!("is {} bytes long: at most {max} are allowed", value.len()),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(
            field,
            "contains a control character: remove it (only printable text is stored)",
        ));
    }
    Ok(())
}

/// A tenant id: `Some` must name one (1–128 bytes of printable text).
pub fn tenant(field: &str, tenant: Option<&str>) -> Result<(), StoreError> {
    match tenant {
        Some(t) => text(field, t, 128, false),
        None => Ok(()),
    }
}

/// A document kind: 1–64 of `a-z 0-9 _ - .`.
pub fn kind(field: &str, kind: &str) -> Result<(), StoreError> {
    if kind.is_empty() || kind.len() > 64 {
        return Err(invalid(field, "must be 1 to 64 characters long"));
    }
    if !kind
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(invalid(
            field,
            format!("{kind:?} may only hold lowercase ASCII letters, digits, `_`, `-` and `.`"),
        ));
    }
    Ok(())
}

/// A document id.
pub fn doc_id(field: &str, id: &DocId) -> Result<(), StoreError> {
    kind(&format!("{field}.kind"), &id.kind)?;
    tenant(&format!("{field}.tenant"), id.tenant.as_deref())?;
    text(&format!("{field}.key"), &id.key, 1024, false)
}

/// A change: its metadata and every operation.
pub fn change(meta: &ChangeMeta, ops: &[DocOp]) -> Result<(), StoreError> {
    tenant("meta.tenant", meta.tenant.as_deref())?;
    if let Some(t) = &meta.token_id {
        text("meta.token_id", t, 256, false)?;
    }
    if let Some(r) = &meta.request_id {
        text("meta.request_id", r, 256, false)?;
    }
    text("meta.summary", &meta.summary, 4096, true)?;
    if ops.is_empty() {
        return Err(invalid(
            "ops",
            "a change needs at least one operation (an empty change would only bump the generation)",
        ));
    }
    if ops.len() > MAX_OPS {
        return Err(invalid(
            "ops",
            format!(
                "has {} operations: at most {MAX_OPS}; split the change",
                ops.len()
            ),
        ));
    }
    for (i, op) in ops.iter().enumerate() {
        let field = format!("ops[{i}]");
        doc_id(&format!("{field}.id"), op.id())?;
        if let DocOp::Put { body, .. } | DocOp::Create { body, .. } = op {
            let len = body.get().len();
            if len > MAX_BODY_BYTES {
                return Err(invalid(
                    format!("{field}.body"),
                    format!("is {len} bytes: at most {MAX_BODY_BYTES} are stored"),
                ));
            }
        }
    }
    Ok(())
}

/// A lease request.
pub fn lease(name: &str, holder: &str, ttl: Duration) -> Result<i64, StoreError> {
    text("lease.name", name, 128, false)?;
    text("lease.holder", holder, 256, false)?;
    if ttl.is_zero() || ttl > MAX_LEASE_TTL {
        return Err(invalid(
            "lease.ttl",
            format!("is {ttl:?}: give between 1 ms and {MAX_LEASE_TTL:?}"),
        ));
    }
    i64::try_from(ttl.as_millis()).map_err(|_| invalid("lease.ttl", "is too long"))
}

/// An idempotency key and its request hash.
pub fn idempotency(tenant_id: Option<&str>, key: &str, hash: &str) -> Result<(), StoreError> {
    tenant("idempotency.tenant", tenant_id)?;
    text("Idempotency-Key", key, 256, false)?;
    text("idempotency.request_hash", hash, 256, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::to_raw_value;

    fn put(kind: &str, tenant: Option<&str>, key: &str) -> DocOp {
        DocOp::Put {
            id: DocId::new(kind, tenant, key),
            body: to_raw_value(&1).expect("json"),
        }
    }

    fn field_of(err: StoreError) -> String {
        match err {
            StoreError::InvalidInput { field, .. } => field,
            other => panic!("not an input error: {other}"),
        }
    }

    #[test]
    fn every_refusal_names_the_field() {
        let meta = ChangeMeta::default();
        let cases: Vec<(Vec<DocOp>, ChangeMeta, &str)> = vec![
            (vec![], meta.clone(), "ops"),
            (
                vec![put("fn", None, "a"), put("Fn", None, "b")],
                meta.clone(),
                "ops[1].id.kind",
            ),
            (vec![put("", None, "a")], meta.clone(), "ops[0].id.kind"),
            (
                vec![put("fn", Some(""), "a")],
                meta.clone(),
                "ops[0].id.tenant",
            ),
            (vec![put("fn", None, "")], meta.clone(), "ops[0].id.key"),
            (vec![put("fn", None, "a\0b")], meta.clone(), "ops[0].id.key"),
            (
                vec![put("fn", None, "a")],
                ChangeMeta {
                    tenant: Some(String::new()),
                    ..ChangeMeta::default()
                },
                "meta.tenant",
            ),
            (
                vec![put("fn", None, "a")],
                ChangeMeta {
                    request_id: Some("r\n1".into()),
                    ..ChangeMeta::default()
                },
                "meta.request_id",
            ),
        ];
        for (ops, meta, want) in cases {
            assert_eq!(field_of(change(&meta, &ops).expect_err(want)), want);
        }
        assert!(change(&meta, &[put("function", Some("acme"), "f-1")]).is_ok());
    }

    #[test]
    fn lease_ttl_must_be_positive_and_bounded() {
        assert_eq!(
            field_of(lease("r", "h", Duration::ZERO).expect_err("zero")),
            "lease.ttl"
        );
        assert_eq!(
            field_of(lease("r", "h", MAX_LEASE_TTL * 2).expect_err("long")),
            "lease.ttl"
        );
        assert_eq!(lease("r", "h", Duration::from_secs(2)).expect("ok"), 2000);
        assert_eq!(
            field_of(idempotency(None, "", "h").expect_err("empty key")),
            "Idempotency-Key"
        );
    }
}
