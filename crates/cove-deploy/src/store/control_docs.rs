//! The one mapping between cove-control's objects and cove-store's documents (pure):
//! the API (`cove-api`), the embedded CLI and the reconciler all read and write the
//! control plane's documents through it, strictly (a document that does not decode,
//! a value that does not encode, a delete of an object that is not there: an error,
//! never a silent skip).
//!
//! * the control plane's objects: kind [`Kind::as_str`] (`tenant`, `token`, `network`,
//!   `peering`, `ip_pool`), tenant [`Object::tenant`] (none for operator-wide objects),
//!   key [`ObjectKey::key`], body [`Object::to_body`] (the object's JSON);
//! * a tenant's spec (`PUT /v1/spec`): kind [`SPEC_KIND`], key [`SPEC_KEY`], tenant =
//!   the tenant's id, body the [`TenantSpec`]'s JSON;
//! * a tenant's uploaded code package (`POST /v1/functions/code`): kind
//!   [`UPLOAD_KIND`], key the snapshot's SHA-256, tenant = the uploader, body an
//!   [`Upload`].
//!
//! Documents of other kinds (the operator's spec, deployed functions, …:
//! [`super::docs`]) are not the control plane's and are skipped when reading.

use std::collections::BTreeMap;

use cove_control::{Change, ControlState, Kind, Object, ObjectKey, TenantId, UnixTime};
use cove_model::spec::TenantSpec;
use cove_store::{DocId, DocOp, Document, Snapshot};
use serde::{Deserialize, Serialize};

/// The store kind of a tenant's spec document (key [`SPEC_KEY`], tenant = the tenant).
pub const SPEC_KIND: &str = "spec";
/// The key of a tenant's spec document.
pub const SPEC_KEY: &str = "spec";
/// The store kind of a tenant's uploaded code package (key: the snapshot's SHA-256,
/// tenant = the uploader). A tenant may use only the code it uploaded itself.
pub const UPLOAD_KIND: &str = "upload";

/// Why the control plane's documents could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ControlDocsError {
    /// A stored document did not decode as its kind.
    #[error("stored document {id} does not decode as a {kind}")]
    Decode {
        /// Which document.
        id: String,
        /// The kind expected.
        kind: &'static str,
        /// The decoder's error.
        #[source]
        source: serde_json::Error,
    },
    /// A value could not be encoded as a document.
    #[error("cannot encode {what} as JSON")]
    Encode {
        /// Which document.
        what: String,
        /// The encoder's error.
        #[source]
        source: serde_json::Error,
    },
    /// A deleted object was not in the state the change was decided on (so its
    /// document, and its owner, are unknown).
    #[error("cannot delete {kind} {key:?}: it is not in the state the change was decided on")]
    DeleteUnknown {
        /// Its kind.
        kind: &'static str,
        /// Its key.
        key: String,
    },
}

/// A code package a tenant uploaded (`POST /v1/functions/code`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// SHA-256 of the unpacked code (every file's path, kind, mode and contents), 64
    /// hex digits: the name of its snapshot in the code store.
    pub sha256: String,
    /// Bytes of the unpacked files.
    pub size: u64,
    /// Bytes of the zip as uploaded.
    pub zip_size: u64,
    /// SHA-256 of the zip as uploaded, base64 (Lambda's `CodeSha256`): the last zip
    /// that brought this code (absent in uploads recorded before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip_sha256: Option<String>,
    /// When it was first uploaded.
    pub uploaded_at: UnixTime,
}

/// Each tenant's uploads, by snapshot digest (64 hex digits).
pub type Uploads = BTreeMap<TenantId, BTreeMap<String, Upload>>;

fn decode_error(
    d: &Document,
    kind: &'static str,
) -> impl FnOnce(serde_json::Error) -> ControlDocsError {
    let id = d.id.to_string();
    move |source| ControlDocsError::Decode { id, kind, source }
}

/// The control state and the tenants' specs in a snapshot. Documents of other kinds
/// (uploads, functions, the deployment's records) are skipped.
pub fn control_from_snapshot(
    snap: &Snapshot,
) -> Result<(ControlState, BTreeMap<TenantId, TenantSpec>), ControlDocsError> {
    let mut objects = Vec::new();
    let mut specs = BTreeMap::new();
    for d in &snap.documents {
        if d.id.kind == SPEC_KIND {
            if let Some(t) = &d.id.tenant {
                let spec: TenantSpec = d.decode().map_err(decode_error(d, SPEC_KIND))?;
                specs.insert(TenantId(t.clone()), spec);
            }
            continue;
        }
        let Some(kind) = Kind::from_name(&d.id.kind) else {
            continue;
        };
        objects
            .push(Object::from_body(kind, d.body.get()).map_err(decode_error(d, kind.as_str()))?);
    }
    Ok((ControlState::from_objects(objects), specs))
}

/// Every tenant's uploads in a snapshot (an upload document without a tenant is
/// nobody's, and skipped).
pub fn uploads_from_snapshot(snap: &Snapshot) -> Result<Uploads, ControlDocsError> {
    let mut out = Uploads::new();
    for d in snap.documents.iter().filter(|d| d.id.kind == UPLOAD_KIND) {
        let Some(t) = &d.id.tenant else { continue };
        let u: Upload = d.decode().map_err(decode_error(d, UPLOAD_KIND))?;
        out.entry(TenantId(t.clone()))
            .or_default()
            .insert(u.sha256.clone(), u);
    }
    Ok(out)
}

/// The store operation recording `tenant`'s upload.
pub fn upload_op(tenant: &TenantId, upload: &Upload) -> Result<DocOp, ControlDocsError> {
    DocOp::put(
        DocId::new(UPLOAD_KIND, Some(tenant.as_str()), upload.sha256.clone()),
        upload,
    )
    .map_err(|source| ControlDocsError::Encode {
        what: format!("upload {}", upload.sha256),
        source,
    })
}

/// The id of the document that holds `object`.
pub fn object_doc_id(object: &Object) -> DocId {
    let k = object.key();
    DocId::new(
        k.kind.as_str(),
        object.tenant().map(TenantId::as_str),
        k.key,
    )
}

/// A command's changes as store operations, all or none. `before` is the state the
/// command decided on: a deleted object's owner (the document's tenant) is read
/// from it, and a delete of an object that is not in it is an error.
pub fn change_ops(
    before: &ControlState,
    changes: &[Change],
) -> Result<Vec<DocOp>, ControlDocsError> {
    let mut ops = Vec::with_capacity(changes.len());
    for c in changes {
        match c {
            Change::Put(o) => {
                let id = object_doc_id(o);
                let body = o.to_body().map_err(|source| ControlDocsError::Encode {
                    what: format!("{} {}", id.kind, id.key),
                    source,
                })?;
                ops.push(DocOp::Put { id, body });
            }
            Change::Delete(k) => ops.push(DocOp::Delete {
                id: deleted_doc_id(before, k)?,
            }),
        }
    }
    Ok(ops)
}

fn deleted_doc_id(before: &ControlState, k: &ObjectKey) -> Result<DocId, ControlDocsError> {
    before
        .objects()
        .into_iter()
        .find(|o| &o.key() == k)
        .map(|o| object_doc_id(&o))
        .ok_or_else(|| ControlDocsError::DeleteUnknown {
            kind: k.kind.as_str(),
            key: k.key.clone(),
        })
}

/// Store operations writing (`Some`) or removing (`None`) tenants' specs.
pub fn spec_ops(specs: &[(TenantId, Option<TenantSpec>)]) -> Result<Vec<DocOp>, ControlDocsError> {
    specs
        .iter()
        .map(|(t, s)| {
            let id = DocId::new(SPEC_KIND, Some(t.as_str()), SPEC_KEY);
            match s {
                Some(s) => DocOp::put(id, s).map_err(|source| ControlDocsError::Encode {
                    what: format!("the spec of tenant {t}"),
                    source,
                }),
                None => Ok(DocOp::Delete { id }),
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "control_docs_tests.rs"]
mod tests;
