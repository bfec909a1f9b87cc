//! Code snapshots: every function's code is copied into the prefix's
//! content-addressed store before the desired state records it, and checked
//! against its handler.

use std::collections::BTreeMap;
use std::path::Path;

use cove_functions::config::CodeRef;
use cove_model::{FunctionId, Network};

use crate::error::DeployError;

/// Every function of `net` with its `tenant/vpc/function` path.
fn functions(net: &Network) -> impl Iterator<Item = (String, &cove_model::Function)> {
    net.functions.iter().enumerate().map(|(i, f)| {
        let id = FunctionId(u32::try_from(i).unwrap_or(u32::MAX));
        (cove_functions::config::function_path(net, id), f)
    })
}

/// Snapshots the code of every function of `net` (a spec's) into `store`. Relative
/// code paths are relative to `base` (the spec file's directory); a path already in
/// the store is used as it is.
pub fn snapshot_spec(
    net: &Network,
    base: &Path,
    store: &Path,
) -> Result<BTreeMap<String, CodeRef>, DeployError> {
    let mut out = BTreeMap::new();
    for (path, f) in functions(net) {
        let code =
            cove_functions::code::snapshot(&base.join(&f.code), store).map_err(|source| {
                DeployError::Snapshot {
                    what: "function code",
                    code: format!("{path}: {}", f.code),
                    source: Box::new(source),
                }
            })?;
        out.insert(path, code);
    }
    Ok(out)
}

/// The snapshots of `net`'s functions when only the deployed functions changed: a
/// function whose code is an absolute path (a deployed one: its snapshot) is
/// snapshotted (a no-op for a path in the store), the others keep the snapshot
/// `previous` recorded. Each is checked against its handler; the warnings (a
/// runtime's client not installed here) are returned.
pub fn snapshot_deployed(
    net: &Network,
    previous: &BTreeMap<String, CodeRef>,
    store: &Path,
) -> Result<(BTreeMap<String, CodeRef>, Vec<String>), DeployError> {
    let mut out = BTreeMap::new();
    let mut warnings = Vec::new();
    for (path, f) in functions(net) {
        let snap = if Path::new(&f.code).is_absolute() {
            cove_functions::code::snapshot(Path::new(&f.code), store).map_err(|source| {
                DeployError::Snapshot {
                    what: "function code",
                    code: format!("{path}: {}", f.code),
                    source: Box::new(source),
                }
            })?
        } else {
            previous
                .get(&path)
                .cloned()
                .ok_or_else(|| DeployError::MissingSnapshot {
                    function: path.clone(),
                })?
        };
        warnings.extend(check(&path, f, &snap)?);
        out.insert(path, snap);
    }
    Ok((out, warnings))
}

/// Snapshots the code at `src` (a directory or a `.zip`, given as `--code`).
pub fn snapshot_given(src: &Path, store: &Path) -> Result<CodeRef, DeployError> {
    cove_functions::code::snapshot(src, store).map_err(|source| DeployError::Snapshot {
        what: "--code",
        code: src.display().to_string(),
        source: Box::new(source),
    })
}

/// Checks that the code holds what the handler needs; a runtime whose client is
/// not installed here is a warning (returned), not an error.
fn check(
    path: &str,
    f: &cove_model::Function,
    code: &CodeRef,
) -> Result<Option<String>, DeployError> {
    // The runtime parsed during validation.
    let Ok(runtime) = f.runtime.parse::<cove_runtimes::Runtime>() else {
        return Ok(None);
    };
    cove_runtimes::fs::check_code(runtime, &f.handler, &code.dir).map_err(|source| {
        DeployError::CodeCheck {
            function: path.to_owned(),
            handler: f.handler.clone(),
            source: Box::new(source),
        }
    })?;
    Ok(
        cove_runtimes::fs::check_installed(runtime, &cove_runtimes::fs::runtime_dir())
            .err()
            .map(|e| format!("function {path} cannot run on this host yet: {e}")),
    )
}
