//! The control plane over the store, for the API's handlers: the read → decide →
//! commit loop ([`ControlService`]) and the documents' format
//! ([`cove_deploy::store::control_docs`]) are cove-deploy's, re-exported here so
//! that the handlers, the embedded mode ([`crate::local`]) and the tests name them
//! in one place.

pub use cove_deploy::control_service::{
    ATTEMPTS, ControlService, Current, Decided, ServiceError, control_from_snapshot, os_env,
    uploads_from_snapshot,
};
pub use cove_deploy::store::control_docs::{
    ControlDocsError, SPEC_KEY, SPEC_KIND, UPLOAD_KIND, Upload, Uploads, upload_op,
};
