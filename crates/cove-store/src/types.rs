//! The store's values: generations, documents, changes, audit entries, leases and
//! idempotency records (pure).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

/// The store's version: 0 for an empty store, then one more for every committed change
/// (gapless, strictly increasing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Generation(pub i64);

impl Generation {
    /// The generation of an empty store.
    pub const ZERO: Generation = Generation(0);

    /// The generation after this one.
    pub fn next(self) -> Generation {
        Generation(self.0 + 1)
    }
}

impl std::fmt::Display for Generation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A time read from the database's clock: milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DbTime(pub i64);

impl DbTime {
    /// As a `SystemTime` (times before the epoch clamp to it).
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(u64::try_from(self.0).unwrap_or(0))
    }
}

/// Which document: its kind (`function`, `network`, `tenant`, `token`, …), the tenant
/// that owns it (`None`: operator-wide, e.g. a tenant or a token by its hash) and its
/// key within that kind and tenant.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocId {
    /// Lowercase ASCII letters, digits, `_`, `-`, `.`; 1–64 characters.
    pub kind: String,
    /// The owning tenant; `None` for operator-wide documents. Never empty.
    pub tenant: Option<String>,
    /// 1–1024 bytes, no control characters.
    pub key: String,
}

impl DocId {
    /// A document id (validated when used in a change).
    pub fn new(kind: impl Into<String>, tenant: Option<&str>, key: impl Into<String>) -> DocId {
        DocId {
            kind: kind.into(),
            tenant: tenant.map(str::to_owned),
            key: key.into(),
        }
    }
}

impl std::fmt::Display for DocId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.tenant {
            Some(t) => write!(f, "{} {:?} of tenant {:?}", self.kind, self.key, t),
            None => write!(f, "{} {:?}", self.kind, self.key),
        }
    }
}

/// One operation of a change.
#[derive(Clone, Debug)]
pub enum DocOp {
    /// Create or replace the document.
    Put {
        /// Which document.
        id: DocId,
        /// Its JSON body (at most [`crate::MAX_BODY_BYTES`]).
        body: Box<RawValue>,
    },
    /// Create the document; the change fails with [`crate::StoreError::AlreadyExists`] if
    /// it exists.
    Create {
        /// Which document.
        id: DocId,
        /// Its JSON body (at most [`crate::MAX_BODY_BYTES`]).
        body: Box<RawValue>,
    },
    /// Delete the document; the change fails with [`crate::StoreError::NotFound`] if it
    /// does not exist.
    Delete {
        /// Which document.
        id: DocId,
    },
}

impl DocOp {
    /// A `Put` of `value` serialized as JSON.
    pub fn put<T: serde::Serialize>(id: DocId, value: &T) -> Result<DocOp, serde_json::Error> {
        Ok(DocOp::Put {
            id,
            body: serde_json::value::to_raw_value(value)?,
        })
    }

    /// A `Create` of `value` serialized as JSON.
    pub fn create<T: serde::Serialize>(id: DocId, value: &T) -> Result<DocOp, serde_json::Error> {
        Ok(DocOp::Create {
            id,
            body: serde_json::value::to_raw_value(value)?,
        })
    }

    /// The document the operation touches.
    pub fn id(&self) -> &DocId {
        match self {
            DocOp::Put { id, .. } | DocOp::Create { id, .. } | DocOp::Delete { id } => id,
        }
    }
}

/// Who made a change and why: written to the audit log with the change.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeMeta {
    /// The tenant the request was scoped to (`None`: the operator).
    pub tenant: Option<String>,
    /// The id of the API token used (never the token itself).
    pub token_id: Option<String>,
    /// The request id the API answered with.
    pub request_id: Option<String>,
    /// What changed, for people (e.g. `PUT /v1/spec`).
    pub summary: String,
}

/// A stored document.
#[derive(Clone, Debug)]
pub struct Document {
    /// Which document.
    pub id: DocId,
    /// Its JSON body.
    pub body: Box<RawValue>,
    /// The generation of the change that last wrote it.
    pub generation: Generation,
}

impl Document {
    /// The body decoded as `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.body.get())
    }
}

/// Documents read in one consistent view, with the generation they belong to.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The store's generation when read.
    pub generation: Generation,
    /// The generation last recorded as applied to the kernel.
    pub applied: Generation,
    /// The documents, ordered by kind, tenant and key.
    pub documents: Vec<Document>,
}

/// Which documents a read returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter<'a> {
    /// All of them.
    All,
    /// One kind, every tenant.
    Kind(&'a str),
    /// One kind of one tenant (`None`: the operator-wide ones).
    KindOfTenant(&'a str, Option<&'a str>),
    /// Everything one tenant owns.
    Tenant(&'a str),
}

/// One audit log row: one per committed change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// The generation before the change.
    pub before: Generation,
    /// The generation the change created.
    pub after: Generation,
    /// The change's metadata.
    pub meta: ChangeMeta,
    /// When it committed (database clock).
    pub at: DbTime,
}

/// A held leader lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The lease's name (e.g. `reconciler`).
    pub name: String,
    /// Who holds it.
    pub holder: String,
    /// The fencing token: one more every time the lease changes hands or is taken
    /// again after it lapsed.
    pub token: i64,
    /// When this tenure began (database clock).
    pub acquired_at: DbTime,
    /// When it lapses unless renewed (database clock).
    pub expires_at: DbTime,
}

/// The outcome of [`crate::Store::acquire_or_renew`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseState {
    /// The caller is the leader until `expires_at`.
    Held(Lease),
    /// Another holder has an unexpired lease.
    NotLeader {
        /// The current holder.
        holder: String,
        /// When its lease lapses unless renewed (database clock).
        expires_at: DbTime,
    },
}

/// A stored answer to an idempotent request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// The hash of the first request's method, path and body (computed by the caller).
    pub request_hash: String,
    /// The HTTP status of the first answer.
    pub status: u16,
    /// The body of the first answer.
    pub response: String,
    /// When the key was first seen (database clock).
    pub created_at: DbTime,
}

/// The outcome of [`crate::Store::idempotency_begin`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// The key is new and now reserved: handle the request, then call
    /// [`crate::Store::idempotency_finish`] (or `idempotency_abandon` if it failed
    /// before changing anything).
    Started,
    /// The same key with the same request was answered before: send this answer again.
    Replay(IdempotencyRecord),
    /// The same key with the same request is being handled right now (409).
    InProgress,
    /// The key was used with another request (409).
    Mismatch {
        /// The hash stored with the key.
        stored_hash: String,
    },
}
