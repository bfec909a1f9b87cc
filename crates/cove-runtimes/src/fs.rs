//! The only module that touches the filesystem: is a runtime installed in a runtime
//! directory, and does a function's code hold what its handler needs? The decisions
//! (which files, which candidates) come from the pure modules; this module only
//! looks.
//!
//! The sandbox runs functions as an unprivileged user that owns nothing, so files
//! count only when *others* may read them (sources) or execute them (executables).

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::handler::{CodeNeed, HandlerError, validate_handler};
use crate::launch::{Launch, Layout, NODE, PYTHON, RUBY};
use crate::runtime::Runtime;

/// Where `scripts/install-runtimes.sh` installs the runtime clients by default.
pub const DEFAULT_RUNTIME_DIR: &str = "/var/lib/cove/runtimes";

/// The runtime directory: `COVE_RUNTIME_DIR`, else [`DEFAULT_RUNTIME_DIR`].
pub fn runtime_dir() -> PathBuf {
    std::env::var_os("COVE_RUNTIME_DIR")
        .map_or_else(|| PathBuf::from(DEFAULT_RUNTIME_DIR), PathBuf::from)
}

/// Files of `runtime`'s client, relative to the runtime directory (empty when the
/// runtime needs none: `go` and `provided` bring their own).
pub fn client_files(runtime: Runtime) -> &'static [&'static str] {
    match runtime {
        Runtime::Python311 => &["python/awslambdaric/__main__.py"],
        Runtime::Nodejs20 => &[
            "node/node_modules/aws-lambda-ric/bin/index.mjs",
            "node/node_modules/aws-lambda-ric/dist/rapid-client.node",
        ],
        Runtime::Ruby31 => &["ruby/bootstrap.rb"],
        Runtime::Go | Runtime::Provided => &[],
    }
}

/// The interpreter `runtime` runs on, if any.
pub fn interpreter(runtime: Runtime) -> Option<&'static str> {
    match runtime {
        Runtime::Python311 => Some(PYTHON),
        Runtime::Nodejs20 => Some(NODE),
        Runtime::Ruby31 => Some(RUBY),
        Runtime::Go | Runtime::Provided => None,
    }
}

/// A runtime is not (fully) installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// A file of the runtime's client is missing from the runtime directory.
    #[error(
        "runtime {runtime} is not installed in {}: {} is missing; run scripts/install-runtimes.sh {}",
        dir.display(), missing.display(), dir.display()
    )]
    MissingClient {
        /// The runtime.
        runtime: Runtime,
        /// The runtime directory.
        dir: PathBuf,
        /// The missing file.
        missing: PathBuf,
    },
    /// The interpreter is missing.
    #[error(
        "runtime {runtime} needs {}, which is missing; run scripts/install-runtimes.sh (it installs the Debian package)",
        path.display()
    )]
    MissingInterpreter {
        /// The runtime.
        runtime: Runtime,
        /// The interpreter's path.
        path: PathBuf,
    },
    /// A file exists but the sandbox's user could not read it.
    #[error(
        "runtime {runtime}: {} is not readable by other users, so functions (which run unprivileged) cannot load it; run scripts/install-runtimes.sh again or chmod -R a+rX the runtime directory",
        path.display()
    )]
    NotReadable {
        /// The runtime.
        runtime: Runtime,
        /// The unreadable file.
        path: PathBuf,
    },
    /// A path could not be inspected.
    #[error("cannot inspect {}", path.display())]
    Inspect {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// Checks that `runtime` is installed in `runtime_dir` (a host path) and its
/// interpreter exists.
pub fn check_installed(runtime: Runtime, runtime_dir: &Path) -> Result<(), InstallError> {
    if let Some(interp) = interpreter(runtime) {
        if !exists(Path::new(interp)).map_err(|source| InstallError::Inspect {
            path: interp.into(),
            source,
        })? {
            return Err(InstallError::MissingInterpreter {
                runtime,
                path: interp.into(),
            });
        }
    }
    for file in client_files(runtime) {
        let path = runtime_dir.join(file);
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(InstallError::MissingClient {
                    runtime,
                    dir: runtime_dir.into(),
                    missing: path,
                });
            }
            Err(source) => return Err(InstallError::Inspect { path, source }),
        };
        if meta.permissions().mode() & 0o004 == 0 {
            return Err(InstallError::NotReadable { runtime, path });
        }
    }
    Ok(())
}

/// The function's code does not hold what its handler needs.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// The handler itself is invalid.
    #[error(transparent)]
    Handler(#[from] HandlerError),
    /// The code directory cannot be read.
    #[error("cannot read the code directory {}", dir.display())]
    CodeDir {
        /// The code directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The code directory is a file, not a directory.
    #[error("the code directory {} is not a directory: unpack the function's code into a directory", dir.display())]
    NotADirectory {
        /// The path given as the code directory.
        dir: PathBuf,
    },
    /// None of the files the handler can use exists.
    #[error(
        "handler '{handler}' (runtime {runtime}) needs {} in the code directory {}, and none exists: add it to the code or change `handler`",
        candidates.join(" or "), dir.display()
    )]
    Missing {
        /// The runtime.
        runtime: Runtime,
        /// The handler.
        handler: String,
        /// The code directory.
        dir: PathBuf,
        /// What was looked for, relative to the code directory.
        candidates: Vec<String>,
    },
    /// The file the handler names exists but the sandbox user cannot use it.
    #[error(
        "handler '{handler}' (runtime {runtime}): {} is not {what} by other users, and functions run unprivileged: {fix}",
        path.display()
    )]
    Permission {
        /// The runtime.
        runtime: Runtime,
        /// The handler.
        handler: String,
        /// The file.
        path: PathBuf,
        /// "readable" or "executable".
        what: &'static str,
        /// The fix.
        fix: &'static str,
    },
    /// A path could not be inspected.
    #[error("cannot inspect {}", path.display())]
    Inspect {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// Checks that `code_dir` (a host path, mounted at `/var/task`) holds what `handler`
/// needs and returns the launch command for the sandbox layout (for `go`, with the
/// executable that exists: the handler's, else `bootstrap`).
pub fn check_code(runtime: Runtime, handler: &str, code_dir: &Path) -> Result<Launch, CodeError> {
    check_code_in(runtime, handler, code_dir, &Layout::sandbox())
}

/// [`check_code`] returning the launch command for `layout`.
pub fn check_code_in(
    runtime: Runtime,
    handler: &str,
    code_dir: &Path,
    layout: &Layout,
) -> Result<Launch, CodeError> {
    let entry = validate_handler(runtime, handler)?;
    match std::fs::metadata(code_dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(CodeError::NotADirectory {
                dir: code_dir.into(),
            });
        }
        Err(source) => {
            return Err(CodeError::CodeDir {
                dir: code_dir.into(),
                source,
            });
        }
    }
    let executable = matches!(entry.needs, CodeNeed::Executable(_));
    for candidate in entry.needs.candidates() {
        let path = code_dir.join(candidate);
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(CodeError::Inspect { path, source }),
        };
        if executable && !meta.is_file() {
            continue;
        }
        let mode = meta.permissions().mode();
        let permission = |what, fix| CodeError::Permission {
            runtime,
            handler: handler.to_owned(),
            path: path.clone(),
            what,
            fix,
        };
        if executable && mode & 0o001 == 0 {
            return Err(permission(
                "executable",
                "make it executable for everyone (chmod 755) before packaging",
            ));
        }
        if !executable && meta.is_file() && mode & 0o004 == 0 {
            return Err(permission(
                "readable",
                "make it readable for everyone (chmod 644) before packaging",
            ));
        }
        return Ok(entry.launch(layout, Some(candidate)));
    }
    Err(CodeError::Missing {
        runtime,
        handler: handler.to_owned(),
        dir: code_dir.into(),
        candidates: entry.needs.candidates().to_vec(),
    })
}

fn exists(path: &Path) -> io::Result<bool> {
    match std::fs::metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests;
