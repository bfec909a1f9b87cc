//! Idempotency keys (`Idempotency-Key`), decided purely: the same key with the same
//! request replays the first answer; the same key with another request is
//! `IdempotentParameterMismatch` (409); an unknown or expired key is a new request.
//! The store keeps the records per tenant; this module only decides.

use serde::{Deserialize, Serialize};

use crate::error::{ControlError, ErrorCode, Result};
use crate::ids::{UnixTime, sha256_hex};

/// How long a key is remembered (24 hours, as most APIs with idempotency keys).
pub const RETENTION_SECS: u64 = 24 * 3600;

/// Longest key.
pub const MAX_KEY_LEN: usize = 255;

/// A stored answer to a keyed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// [`request_hash`] of the first request.
    pub request_hash: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The body answered.
    pub response: String,
    /// When the first request was answered.
    pub created_at: UnixTime,
}

/// What to do with a keyed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'a> {
    /// Run it (and store its answer under the key).
    New,
    /// Answer this stored response again; run nothing.
    Replay(&'a IdempotencyRecord),
}

/// Checks a key: 1–255 visible ASCII characters.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ControlError::field(
            ErrorCode::InvalidParameterValue,
            "Idempotency-Key",
            "the idempotency key must be 1 to 255 visible ASCII characters",
            "send a fresh random value (e.g. a UUID) per logical request",
        ));
    }
    Ok(())
}

/// The hash that tells two requests apart: method, path and body bytes.
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    let mut text = Vec::with_capacity(method.len() + path.len() + body.len() + 2);
    text.extend_from_slice(method.as_bytes());
    text.push(b'\n');
    text.extend_from_slice(path.as_bytes());
    text.push(b'\n');
    text.extend_from_slice(body);
    sha256_hex(&text)
}

/// Decides a keyed request given the record stored under its key (if any) at
/// `now`.
pub fn decide<'a>(
    stored: Option<&'a IdempotencyRecord>,
    request_hash: &str,
    now: UnixTime,
) -> Result<Decision<'a>> {
    let Some(r) = stored else {
        return Ok(Decision::New);
    };
    if now >= r.created_at.plus(RETENTION_SECS) {
        return Ok(Decision::New);
    }
    if r.request_hash != request_hash {
        return Err(ControlError::field(
            ErrorCode::IdempotentParameterMismatch,
            "Idempotency-Key",
            "this idempotency key was used for a different request",
            "use a new key for a new request; resend the same request to get its first answer",
        ));
    }
    Ok(Decision::Replay(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(hash: &str, at: u64) -> IdempotencyRecord {
        IdempotencyRecord {
            request_hash: hash.to_owned(),
            status: 201,
            response: "{\"id\":\"net-1\"}".to_owned(),
            created_at: UnixTime(at),
        }
    }

    #[test]
    fn same_request_replays_other_request_conflicts_unknown_or_old_is_new() {
        let h = request_hash("POST", "/v1/connect/networks", b"{\"name\":\"a\"}");
        let other = request_hash("POST", "/v1/connect/networks", b"{\"name\":\"b\"}");
        assert_ne!(h, other);
        assert_ne!(h, request_hash("POST", "/v1/peerings", b"{\"name\":\"a\"}"));
        let r = record(&h, 1000);
        assert_eq!(decide(None, &h, UnixTime(1000)), Ok(Decision::New));
        assert_eq!(
            decide(Some(&r), &h, UnixTime(1001)),
            Ok(Decision::Replay(&r))
        );
        let e = decide(Some(&r), &other, UnixTime(1001)).expect_err("refused");
        assert_eq!(
            (e.code, e.status),
            (ErrorCode::IdempotentParameterMismatch, 409)
        );
        assert_eq!(e.field.as_deref(), Some("Idempotency-Key"));
        let later = UnixTime(1000 + RETENTION_SECS);
        assert_eq!(decide(Some(&r), &other, later), Ok(Decision::New));
        assert_eq!(
            decide(Some(&r), &h, UnixTime(999 + RETENTION_SECS)),
            Ok(Decision::Replay(&r))
        );
    }

    #[test]
    fn keys_are_checked() {
        assert!(check_key("3f1c2a9e-0b1d-4c3a-9f7e-2a1b3c4d5e6f").is_ok());
        for bad in ["", "has space", "tab\t", &"k".repeat(256), "ünicode"] {
            let e = check_key(bad).expect_err("refused");
            assert_eq!(e.code, ErrorCode::InvalidParameterValue, "{bad:?}");
            assert_eq!(e.field.as_deref(), Some("Idempotency-Key"));
        }
    }
}
