//! Turns AWS `describe-*` JSON exports into a cove [`Spec`].
//!
//! [`import_aws_dir`] walks a folder (recursively; every folder holding `.json` files
//! is one account/region), recognises each file by its top-level key (`{"Vpcs": …}`),
//! and converts what cove models into spec objects named by their resource ids.
//! Everything else — transit gateways, VPNs, load balancers, IPv6 rules, objects whose
//! references are missing, … — is listed in the [`Import::report`] with its id and the
//! reason. Nothing is dropped silently, and the spec passes cove's validation: an
//! object that would break it is left out and reported.

mod aws;
mod convert;
mod files;
mod net;
mod report;
mod unmodeled;

use std::path::{Path, PathBuf};

use cove_model::spec::Spec;

pub use report::ReportItem;

/// The result of an import: the spec and what was not imported.
#[derive(Debug, Clone)]
pub struct Import {
    /// The imported network, one tenant per account.
    pub spec: Spec,
    /// Everything that was not turned into spec objects, and why.
    pub report: Vec<ReportItem>,
}

/// Why an import failed (unreadable input; unsupported content is reported instead).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The path is not a directory.
    #[error("{path} is not a directory")]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// A directory could not be listed.
    #[error("cannot list directory {path}")]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be read.
    #[error("cannot read {path}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not valid JSON.
    #[error("{path} is not valid JSON")]
    ParseJson {
        /// The file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

/// Imports every AWS export under `dir`.
pub fn import_aws_dir(dir: &Path) -> Result<Import, ImportError> {
    let mut report = report::Report::default();
    let snapshot = files::load(dir, &mut report)?;
    let (spec, report) = convert::build(snapshot, report);
    Ok(Import {
        spec,
        report: report.finish(),
    })
}
