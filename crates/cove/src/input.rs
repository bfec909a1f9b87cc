//! Loading a spec file into a validated network.

use std::path::{Path, PathBuf};

use cove_model::Network;
use cove_model::validate::{Validated, validate_text};

/// A problem with what the user gave (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The spec file could not be read (missing, unreadable, too large, not text).
    #[error("cannot read spec file {path}; check the path given with -f")]
    ReadSpec {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: cove_deploy::store::ReadError,
    },
    /// The spec has errors (printed at the edge, or put into the JSON answer).
    #[error(
        "the spec {path} is invalid ({count} error(s) above); run `cove validate -f {path}` and fix them"
    )]
    InvalidSpec {
        /// The file.
        path: PathBuf,
        /// Number of errors.
        count: usize,
        /// Every diagnostic of the spec.
        diagnostics: Vec<cove_model::Diagnostic>,
    },
    /// A flow endpoint or ENI did not resolve.
    #[error("{what} `{text}` is not usable: {reason}")]
    Endpoint {
        /// Which argument.
        what: &'static str,
        /// What was typed.
        text: String,
        /// Why it failed.
        reason: String,
    },
    /// An AWS export could not be read.
    #[error(
        "cannot import the AWS export in {dir}; check that it is a folder of describe-* JSON files"
    )]
    Import {
        /// The folder.
        dir: PathBuf,
        /// Why.
        #[source]
        source: cove_import::ImportError,
    },
    /// The prefix is not usable.
    #[error(transparent)]
    Prefix(#[from] cove_deploy::InvalidPrefix),
    /// An argument is malformed.
    #[error("invalid {what} `{text}`: {hint}")]
    Argument {
        /// Which argument.
        what: &'static str,
        /// What was typed.
        text: String,
        /// How to fix it.
        hint: String,
    },
}

/// Reads a spec file: UTF-8 text of at most [`cove_deploy::store::MAX_FILE_BYTES`].
pub fn read_spec(path: &Path) -> Result<String, InputError> {
    let err = |source| InputError::ReadSpec {
        path: path.to_owned(),
        source,
    };
    cove_deploy::store::read_text(path)
        .map_err(err)?
        .ok_or_else(|| {
            err(cove_deploy::store::ReadError::Io {
                path: path.to_owned(),
                source: std::io::ErrorKind::NotFound.into(),
            })
        })
}

/// Reads and validates a spec file.
pub fn read_and_validate(path: &Path) -> Result<Validated, InputError> {
    Ok(validate_text(&read_spec(path)?))
}

/// Reads a spec that must be valid; its diagnostics are in the error if not.
pub fn load_network(path: &Path) -> Result<Network, InputError> {
    network_of(path, read_and_validate(path)?)
}

fn network_of(path: &Path, v: Validated) -> Result<Network, InputError> {
    match v.network {
        Some(n) => Ok(n),
        None => Err(InputError::InvalidSpec {
            path: path.to_owned(),
            count: v.errors().count(),
            diagnostics: v.diagnostics,
        }),
    }
}
